"""Support requests and private replies through the real server, with the real clients.

A member asks for support while no facilitator is in the room and is told so;
the facilitator who comes back finds the request, its client says it is shown,
the member is told, and marking it handled closes it for every facilitator.
A facilitator answers one member privately, end to end encrypted: only that
member (and the facilitators) can read it, and the server never holds it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from conftest import Env
from test_e2ee_live import MARKER, Wire, verified_room

from clients.client import ChatClient
from clients.terminal import Terminal
from clients.terminal_lines import SUPPORT_WORDS


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    yield Wire(monkeypatch)


async def statuses(member: ChatClient, *expected: str) -> None:
    for status in expected:
        event = await member.next("alert_status")
        assert (event["kind"], event["status"]) == ("support", status)


async def test_a_request_made_while_no_facilitator_is_in_waits_and_reaches_the_next(
    env: Env,
) -> None:
    gid, fac, (ann, ben), _ = await verified_room(env, ["Ann", "Ben"])
    await fac.close()  # went to the groups page to make a link, say
    await ann.next("presence")
    await ann.alert("support")
    await statuses(ann, "waiting")
    assert [a["status"] for a in ann.alerts.values()] == ["waiting"]
    # The facilitator comes back: the request is in the welcome, the member is told.
    back = await env.host(gid, e2ee=True, open_room=False)
    assert [(a["from"], a["kind"]) for a in back.alerts.values()] == [(ann.pid, "support")]
    await statuses(ann, "sent")
    (alert_id,) = back.alerts
    await back.alert_seen(alert_id)
    await statuses(ann, "seen")
    await back.handled(alert_id)
    assert (await back.next("handled"))["id"] == alert_id
    await statuses(ann, "handled")
    assert back.alerts == {} and ann.alerts == {}
    await ben.nothing("alert_status")  # nobody else hears of it


async def test_the_terminal_tells_the_member_each_status_in_words(env: Env) -> None:
    gid, fac, (ann,), _ = await verified_room(env, ["Ann"])
    out = io.StringIO()
    term = Terminal(ann, out)
    await fac.close()
    await ann.next("presence")
    await ann.alert("support")
    term.show(await ann.next("alert_status"))
    assert f"* {SUPPORT_WORDS['waiting']}" in out.getvalue()
    assert "If you need help now:" in out.getvalue()  # the crisis resources, at once
    back = await env.host(gid, e2ee=True, open_room=False)
    facilitator_out = io.StringIO()
    fac_term = Terminal(back, facilitator_out)
    welcome = back.welcome
    assert welcome is not None
    await fac_term.acknowledge(welcome)  # the terminal shows the open request, and says so
    assert "/handled" in facilitator_out.getvalue()
    for status in ("sent", "seen"):
        event = await ann.next("alert_status")
        assert event["status"] == status
        term.show(event)
    assert f"* {SUPPORT_WORDS['seen']}" in out.getvalue()
    assert "will reach out" not in out.getvalue()


async def test_a_facilitator_replies_privately_to_one_member(env: Env, wire: Wire) -> None:
    gid, fac, (ann, ben), _ = await verified_room(env, ["Ann", "Ben"])
    await ann.private(f"I am struggling {MARKER}")
    asked = await fac.next("private")
    assert (asked.text, asked["thread"]) == (f"I am struggling {MARKER}", ann.pid)
    await fac.private(f"I am here for you {MARKER}", to=ann.pid)
    reply = await ann.next("private")
    assert reply.text == f"I am here for you {MARKER}"
    assert (reply["from"], reply["thread"]) == (fac.pid, ann.pid)
    mine = await fac.next("private")  # the facilitators see the reply in Ann's thread
    assert (mine.text, mine["thread"]) == (f"I am here for you {MARKER}", ann.pid)
    await ben.nothing("private")
    assert not wire.holds(MARKER.encode())
