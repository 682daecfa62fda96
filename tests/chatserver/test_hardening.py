"""Holes found in review, each closed and kept closed."""

from __future__ import annotations

import io
import time

import msgpack
import pytest
from conftest import Env

from clients.client import ChatClient, ClientError, Event
from clients.terminal import Terminal
from rooms.wire import Close

http_only = pytest.mark.parametrize("env", ["fast"], indirect=True)


async def test_reconnecting_does_not_reset_slow_mode(env: Env) -> None:
    gid = await env.group(slow_mode_seconds=60)
    fac = await env.host(gid)
    link = await env.link(gid)
    m = await env.member(link, "robin")
    await m.send("first")
    await fac.next("msg")
    await m.send("second")
    assert (await m.next("error"))["code"] == "slow_mode"
    again = await env.member(link, "robin")  # the same seat, a new connection
    assert await m.closed() == Close.REPLACED
    await again.send("third")
    assert (await again.next("error"))["code"] == "slow_mode"
    await fac.nothing("msg")


async def test_a_link_revoked_while_reading_the_rules_does_not_get_in(env: Env) -> None:
    gid = await env.group()
    fac = await env.host(gid)
    seat, url = await env.admin.create_link("alex", gid)

    async def revoke_then_accept(rules: Event) -> bool:
        await env.admin.revoke_link("alex", gid, seat.id)
        return True

    with pytest.raises(ClientError) as refused:
        await env.member(url, "robin", accept_rules=revoke_then_accept)
    assert refused.value.code == "link_revoked"
    await fac.nothing("joined")


async def test_a_client_that_keeps_sending_refused_frames_is_closed(env: Env) -> None:
    gid, fac, (a, b) = await env.room(2)
    await fac.mute(a.pid)
    await a.next("muted")
    for _ in range(70):
        await a.ws.send(msgpack.packb({"t": "chat", "payload": b"x"}))
    assert await a.closed() == Close.FLOODING
    await b.send("the room goes on")
    assert (await fac.next("msg")).text == "the room goes on"


async def test_a_facilitator_taken_off_the_group_leaves_the_room(env: Env) -> None:
    gid = await env.group()
    await env.facilitator("sam")
    await env.admin.edit_group("alex", gid, {"facilitators": ["alex", "sam"]})
    sam = await env.host(gid, "sam")
    m = await env.member(await env.link(gid), "robin")
    await sam.next("joined")
    await env.admin.edit_group("alex", gid, {"facilitators": ["alex"]})
    assert (await sam.next("error"))["code"] == "not_facilitator"
    assert await sam.closed() == Close.REMOVED
    assert (await m.next("left"))["pid"] == sam.pid


@http_only
async def test_metrics_can_be_kept_for_the_scraper(env: Env) -> None:
    env.app.state.services.config.__dict__["metrics_token"] = "scrape-secret"
    async with env.http() as http:
        assert (await http.get("/metrics")).status_code == 401
        ok = await http.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert ok.status_code == 200 and "safespace_connections" in ok.text


@http_only
async def test_json_that_is_not_utf8_is_refused_cleanly(env: Env) -> None:
    token, _ = await env.app.state.services.auth.issue_token(await env.facilitator(), time.time())
    async with env.http() as http:
        r = await http.post(
            "/api/groups",
            content=b'{"title": "\\ud800"}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid"


@http_only
async def test_a_link_that_is_not_a_url_is_refused_with_its_code(env: Env) -> None:
    gid = await env.group()
    await env.host(gid)
    with pytest.raises(ClientError) as refused:
        await ChatClient.join("http://[::1/join#seat=x", "robin", server=env.url)
    assert refused.value.code == "link_unknown"


def test_the_terminal_shows_control_characters_without_obeying_them() -> None:
    out = io.StringIO()
    term = Terminal.__new__(Terminal)
    term.out = out
    term.say("robin: \x1b[2J\x1b]52;c;ZXZpbA==\x07hello\n* Alex is muted")
    shown = out.getvalue()
    assert "\x1b" not in shown and "\x07" not in shown
    assert "hello" in shown
    assert "\n* Alex" not in shown  # a second line cannot pass for the client's own
