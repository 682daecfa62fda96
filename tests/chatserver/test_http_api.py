"""The HTTP API and the websocket's door, over real sockets against the real server.

Every assertion is what a facilitator's console, an operator's monitoring or a
member's client actually sees: status codes, JSON error codes, headers, and
the error code a refused websocket join reports.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import PASSWORD, Env

from chatserver.auth import hash_password
from clients.client import ChatClient, ClientError
from clients.payload import PlainCodec
from rooms.wire import Close

# ---- helpers -------------------------------------------------------------------

# The fixture runs every server twice, once per websocket outlet; tests that
# never open a websocket need only one of them.
http_only = pytest.mark.parametrize("env", ["fast"], indirect=True)
# Slow tests of the door's attempt limits: refusals leave by the same path on both.
one_outlet = pytest.mark.parametrize("env", ["asgi"], indirect=True)

# argon2id is slow on purpose (a third of a second here): hash the test password
# once and verify it over HTTP only where the login itself is under test.
_HASH: list[str] = []


async def facilitator(env: Env, name: str = "alex") -> str:
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    if await env.store.password_hash(name) is None:
        await env.store.add_facilitator(name, _HASH[0])
    return name


async def api_token(env: Env, name: str = "alex") -> str:
    """A bearer token as a login issues it, without paying for argon2 again."""
    await facilitator(env, name)
    token, _ = await env.app.state.services.auth.issue_token(name, time.time())
    return str(token)


async def host(env: Env, gid: str, *, open_room: bool = True) -> ChatClient:
    """The group's facilitator in its room (by API token), the room opened unless told not to."""
    fac = await ChatClient.facilitate(env.url, gid, token=await api_token(env))
    env.clients.append(fac)
    if open_room:
        await fac.open()
        assert (await fac.next("state"))["state"] == "lobby"
    return fac


async def make_group(env: Env, name: str = "alex", **settings: Any) -> str:
    await facilitator(env, name)
    return await env.group(name, **settings)


async def login(http: httpx.AsyncClient, name: str = "alex", password: str = PASSWORD) -> str:
    r = await http.post("/api/login", json={"name": name, "password": password})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert isinstance(token, str) and len(token) >= 32
    return token


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(r: httpx.Response) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert isinstance(err.get("message"), str) and err["message"]
    return err


def token_of(url: str) -> str:
    fragment = urlsplit(url).fragment
    assert fragment.startswith("seat="), url
    return fragment.removeprefix("seat=")


async def new_group(http: httpx.AsyncClient, token: str, **settings: Any) -> dict[str, Any]:
    settings.setdefault("title", "Thursday group")
    r = await http.post("/api/groups", json=settings, headers=bearer(token))
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


# ---- health and metrics ---------------------------------------------------------


@http_only
async def test_healthz_says_ok(env: Env) -> None:
    async with env.http() as http:
        r = await http.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@http_only
async def test_metrics_is_prometheus_text(env: Env) -> None:
    async with env.http() as http:
        r = await http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    for name, kind in (
        ("safespace_connections", "gauge"),
        ("safespace_rooms", "gauge"),
        ("safespace_frames_received_total", "counter"),
        ("safespace_frames_relayed_total", "counter"),
        ("safespace_messages_total", "counter"),
    ):
        assert f"# TYPE {name} {kind}" in text
        assert f"# HELP {name} " in text
    assert "\nsafespace_connections 0\n" in text
    assert "\nsafespace_rooms 0\n" in text
    assert text.endswith("\n")


async def test_metrics_count_a_live_room_but_never_name_anything(env: Env) -> None:
    gid, fac, (a, b) = await env.room(2, title="Grief circle of Tuesday")
    await a.send("my words are mine")
    await b.next("msg")
    await a.send("x" * 20_000)  # too large for the group: one rejection
    assert (await a.next("error"))["code"] == "too_large"
    async with env.http() as http:
        text = (await http.get("/metrics")).text
    assert "\nsafespace_connections 3\n" in text
    assert "\nsafespace_rooms 1\n" in text
    assert "\nsafespace_messages_total 1\n" in text
    assert 'safespace_rejections_total{code="too_large"} 1' in text
    for secret in ("Grief circle", "member1", "member2", "alex", gid, "my words"):
        assert secret not in text


# ---- login, tokens, logout ---------------------------------------------------------


@http_only
async def test_login_with_the_right_password_returns_a_token(env: Env) -> None:
    await facilitator(env, "alex")
    async with env.http() as http:
        before = time.time()
        r = await http.post("/api/login", json={"name": "alex", "password": PASSWORD})
        assert r.status_code == 200
        body = r.json()
        assert body["facilitator"] == "alex"
        assert body["expires_at"] > before + 3600
        groups = await http.get("/api/groups", headers=bearer(body["token"]))
    assert groups.status_code == 200
    assert groups.json() == {"groups": []}


@http_only
async def test_login_with_a_wrong_password_or_name_is_401(env: Env) -> None:
    await facilitator(env, "alex")
    async with env.http() as http:
        for name, password in [("alex", "wrong password entirely"), ("nobody", PASSWORD)]:
            r = await http.post("/api/login", json={"name": name, "password": password})
            assert r.status_code == 401, name
            assert error_of(r)["code"] == "login_failed"
            assert "token" not in r.text


@http_only
async def test_login_with_a_malformed_body_is_400(env: Env) -> None:
    async with env.http() as http:
        for body in (b"not json", b"[1, 2]", b'{"name": "alex"}', b'{"name": 1, "password": 2}'):
            r = await http.post("/api/login", content=body)
            assert r.status_code == 400, body
            assert error_of(r)["code"] == "invalid"


@http_only
async def test_ten_failed_logins_from_one_client_are_rate_limited(env: Env) -> None:
    await facilitator(env, "alex")
    async with env.http() as http:
        # Successful logins do not count: a facilitator who types it right is never held up.
        for _ in range(2):
            await login(http)
        for _ in range(10):
            r = await http.post("/api/login", json={"name": "alex", "password": "guess-guess"})
            assert r.status_code == 401
            assert error_of(r)["code"] == "login_failed"
        r = await http.post("/api/login", json={"name": "alex", "password": "guess-again"})
        assert r.status_code == 429
        err = error_of(r)
        assert err["code"] == "rate_limited"
        retry = int(r.headers["retry-after"])
        assert 1 <= retry <= 60
        assert 0 < err["retry_after"] <= retry
        # Even the right password waits now: otherwise the limit tells a guesser
        # which guess was right.
        r = await http.post("/api/login", json={"name": "alex", "password": PASSWORD})
        assert r.status_code == 429
        assert "token" not in r.json()


async def test_a_foreign_page_cannot_post_logins_from_a_visitors_browser(env: Env) -> None:
    await facilitator(env, "alex")
    port = env.url.rsplit(":", 1)[1]
    body = {"name": "alex", "password": "guess-guess"}
    async with env.http() as http:
        for headers in (
            {"Origin": "https://evil.example"},
            # DNS rebinding: the foreign name resolves here; Host and Origin agree.
            {"Origin": f"http://evil.example:{port}", "Host": f"evil.example:{port}"},
        ):
            r = await http.post("/api/login", json=body, headers=headers)
            assert r.status_code == 403
            assert error_of(r)["code"] == "foreign_origin"
        # The form a page may post without asking first: refused, whatever its origin.
        r = await http.post(
            "/api/login", content=b'{"name":"alex","password":"x"}',
            headers={"Content-Type": "text/plain"},
        )  # fmt: skip
        assert r.status_code == 400
        assert error_of(r)["message"] == "The request body must be sent as application/json."
        # None of it was a login attempt: the limit is untouched.
        assert env.app.state.services.auth.limiter.failures("ip:127.0.0.1", time.time()) == 0
        # The server's own pages (and clients with no Origin at all) log in.
        r = await http.post(
            "/api/login", json={"name": "alex", "password": PASSWORD}, headers={"Origin": env.url}
        )
        assert r.status_code == 200
        assert "token" in r.json()


@http_only
async def test_login_limits_count_per_client_and_per_name(env: Env) -> None:
    """A guesser is stopped by address, and a name under attack is guarded from any
    address that has guessed wrong, while a clean address with the right password
    still gets in (so nobody who knows a facilitator's name can lock them out).

    The server trusts X-Forwarded-For from its own host (a local proxy), which is
    how these requests come from different addresses.
    """
    await facilitator(env, "alex")
    await facilitator(env, "sam")
    # Three failures instead of ten (argon2 is slow); which keys count is what is tested.
    env.app.state.services.auth.limiter.limit = 3
    one = {"X-Forwarded-For": "203.0.113.1"}
    two = {"X-Forwarded-For": "203.0.113.2"}
    three = {"X-Forwarded-For": "203.0.113.3"}
    async with env.http() as http:
        for _ in range(3):
            r = await http.post(
                "/api/login", json={"name": "alex", "password": "guess-guess"}, headers=one
            )
            assert r.status_code == 401
        r = await http.post(
            "/api/login", json={"name": "alex", "password": "other-guess"}, headers=three
        )
        assert r.status_code == 401
        cases = [
            (one, "alex", 429),  # the client and the name are both spent
            (three, "alex", 429),  # a second guessing address meets the name's limit
            (one, "sam", 429),  # the client is stopped whatever name it tries
            (two, "sam", 200),  # someone else logging in to another account is not
            (two, "alex", 200),  # nor the real alex from a clean address
        ]
        for headers, name, status in cases:
            r = await http.post(
                "/api/login", json={"name": name, "password": PASSWORD}, headers=headers
            )
            assert r.status_code == status, (headers, name, r.text)


BAD_AUTH = [
    {},
    {"Authorization": "Bearer not-a-real-token"},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic YWxleDpwYXNzd29yZA=="},
    {"Authorization": "not-even-a-scheme"},
]


@http_only
async def test_the_api_requires_a_valid_bearer_token(env: Env) -> None:
    gid = await make_group(env)
    responses = []
    async with env.http() as http:
        for headers in BAD_AUTH:
            responses += [
                await http.get("/api/groups", headers=headers),
                await http.post("/api/groups", json={"title": "x"}, headers=headers),
                await http.get(f"/api/groups/{gid}", headers=headers),
                await http.patch(f"/api/groups/{gid}", json={"title": "x"}, headers=headers),
                await http.get(f"/api/groups/{gid}/links", headers=headers),
                await http.post(f"/api/groups/{gid}/links", json={}, headers=headers),
                await http.delete(f"/api/groups/{gid}/links/s_000000000000", headers=headers),
                await http.post("/api/logout", headers=headers),
            ]
    assert len(responses) == 8 * len(BAD_AUTH)
    for r in responses:
        assert r.status_code == 401, (r.request.method, r.request.url, r.request.headers)
        assert error_of(r)["code"] == "unauthenticated"
    # Nothing was created or changed by the refused calls.
    assert [g.title for g in await env.store.groups()] == ["Tuesday evening group"]
    assert await env.store.seats(gid) == []


@http_only
async def test_logout_revokes_the_token(env: Env) -> None:
    await facilitator(env, "alex")
    async with env.http() as http:
        token = await login(http)
        other = await api_token(env)
        assert (await http.get("/api/groups", headers=bearer(token))).status_code == 200
        r = await http.post("/api/logout", headers=bearer(token))
        assert r.status_code == 204
        r = await http.get("/api/groups", headers=bearer(token))
        assert r.status_code == 401
        assert error_of(r)["code"] == "unauthenticated"
        # Logging out one session leaves the facilitator's other logins alone.
        assert (await http.get("/api/groups", headers=bearer(other))).status_code == 200


@http_only
async def test_an_expired_token_is_refused(env: Env) -> None:
    await facilitator(env, "alex")
    env.app.state.services.auth.token_seconds = 1.0  # a short login, to watch it run out
    async with env.http() as http:
        token = await api_token(env)
        assert (await http.get("/api/groups", headers=bearer(token))).status_code == 200
        await asyncio.sleep(1.2)
        r = await http.get("/api/groups", headers=bearer(token))
    assert r.status_code == 401
    assert error_of(r)["code"] == "unauthenticated"


# ---- groups -------------------------------------------------------------------


@http_only
async def test_create_a_group_with_the_defaults(env: Env) -> None:
    await facilitator(env, "alex")
    async with env.http() as http:
        token = await login(http)
        r = await http.post(
            "/api/groups",
            json={"title": "  Monday group  ", "ground_rules": ["Be kind", "Stay"]},
            headers=bearer(token),
        )
        assert r.status_code == 201
        group = r.json()
        assert group["title"] == "Monday group"
        assert group["capacity"] == 8
        assert group["duration_minutes"] == 70
        assert group["ground_rules"] == ["Be kind", "Stay"]
        assert group["facilitators"] == ["alex"]
        assert group["id"].startswith("g_")
        listed = (await http.get("/api/groups", headers=bearer(token))).json()["groups"]
    assert [g["id"] for g in listed] == [group["id"]]
    assert (await env.store.group(group["id"])).title == "Monday group"


@http_only
async def test_create_a_group_with_settings_and_a_co_facilitator(env: Env) -> None:
    await facilitator(env, "alex")
    await facilitator(env, "sam")
    async with env.http() as http:
        token = await api_token(env)
        group = await new_group(
            http,
            token,
            capacity=5,
            duration_minutes=90,
            slow_mode_seconds=2,
            crisis_resources="Call 116 123\n\nText SHOUT to 85258",
            facilitators=["sam"],
        )
        assert group["capacity"] == 5
        assert group["duration_minutes"] == 90
        assert group["slow_mode_seconds"] == 2.0
        assert group["crisis_resources"] == ["Call 116 123", "Text SHOUT to 85258"]
        assert group["facilitators"] == ["alex", "sam"]
        sam = await api_token(env, "sam")
        r = await http.get(f"/api/groups/{group['id']}", headers=bearer(sam))
    assert r.status_code == 200
    assert r.json()["title"] == "Thursday group"


INVALID_GROUPS: list[tuple[dict[str, Any], str]] = [
    ({}, "title"),
    ({"title": "   "}, "title"),
    ({"title": 42}, "title"),
    ({"title": "x" * 121}, "title"),
    ({"title": "T", "capacity": 0}, "capacity"),
    ({"title": "T", "capacity": 33}, "capacity"),
    ({"title": "T", "capacity": 2.5}, "capacity"),
    ({"title": "T", "capacity": True}, "capacity"),
    ({"title": "T", "capacity": "8"}, "capacity"),
    ({"title": "T", "duration_minutes": 4}, "duration_minutes"),
    ({"title": "T", "duration_minutes": 601}, "duration_minutes"),
    ({"title": "T", "slow_mode_seconds": -1}, "slow_mode_seconds"),
    ({"title": "T", "ground_rules": [""]}, "ground_rules"),
    ({"title": "T", "ground_rules": ["ok"] * 31}, "ground_rules"),
    ({"title": "T", "ground_rules": {"a": 1}}, "ground_rules"),
    ({"title": "T", "crisis_resources": [1]}, "crisis_resources"),
    ({"title": "T", "max_payload_bytes": 10_000_000}, "max_payload_bytes"),
    ({"title": "T", "id": "g_mine"}, "id"),
    ({"title": "T", "facilitators": ["nobody"]}, "facilitators"),
    ({"title": "T", "facilitators": []}, "facilitators"),
    ({"title": "T", "facilitators": "alex"}, "facilitators"),
]


@http_only
async def test_create_a_group_refuses_invalid_settings(env: Env) -> None:
    token = await api_token(env)
    async with env.http() as http:
        for settings, field in INVALID_GROUPS:
            r = await http.post("/api/groups", json=settings, headers=bearer(token))
            assert r.status_code == 400, settings
            err = error_of(r)
            assert err["code"] == "invalid"
            assert err["field"] == field, settings
        for body in (b"{not json", b'["title"]', b'"title"'):
            r = await http.post("/api/groups", content=body, headers=bearer(token))
            assert r.status_code == 400, body
            assert error_of(r)["code"] == "invalid"
        groups = (await http.get("/api/groups", headers=bearer(token))).json()["groups"]
    assert groups == []
    assert await env.store.groups() == []


@http_only
async def test_a_request_body_over_64_kib_is_refused(env: Env) -> None:
    await facilitator(env, "alex")
    async with env.http() as http:
        token = await api_token(env)
        r = await http.post(
            "/api/groups",
            json={"title": "T", "ground_rules": ["x" * 1000] * 70},
            headers=bearer(token),
        )
    assert r.status_code == 400
    assert error_of(r)["code"] == "invalid"
    assert await env.store.groups() == []


@http_only
async def test_get_and_patch_a_group(env: Env) -> None:
    await facilitator(env, "alex")
    async with env.http() as http:
        token = await api_token(env)
        group = await new_group(http, token)
        gid = group["id"]
        r = await http.get(f"/api/groups/{gid}", headers=bearer(token))
        assert r.status_code == 200
        assert r.json() == group
        r = await http.patch(
            f"/api/groups/{gid}",
            json={"title": "Thursday late group", "capacity": 6, "ground_rules": ["Listen"]},
            headers=bearer(token),
        )
        assert r.status_code == 200
        patched = r.json()
        assert patched["title"] == "Thursday late group"
        assert patched["capacity"] == 6
        assert patched["ground_rules"] == ["Listen"]
        assert patched["duration_minutes"] == group["duration_minutes"]
        assert patched["id"] == gid
        again = (await http.get(f"/api/groups/{gid}", headers=bearer(token))).json()
    assert again == patched
    assert (await env.store.group(gid)).capacity == 6


@http_only
async def test_patch_refuses_invalid_changes_and_keeps_the_group(env: Env) -> None:
    token = await api_token(env)
    async with env.http() as http:
        group = await new_group(http, token)
        for changes, field in [
            ({"capacity": 0}, "capacity"),
            ({"title": ""}, "title"),
            ({"id": "g_other"}, "id"),
            ({"facilitators": ["ghost"]}, "facilitators"),
            ({"max_payload_bytes": 1}, "max_payload_bytes"),
            # One bad field spoils the whole patch: the good one is not applied either.
            ({"title": "New title", "capacity": 99}, "capacity"),
        ]:
            r = await http.patch(f"/api/groups/{group['id']}", json=changes, headers=bearer(token))
            assert r.status_code == 400, changes
            err = error_of(r)
            assert err["code"] == "invalid"
            assert err["field"] == field, changes
        after = (await http.get(f"/api/groups/{group['id']}", headers=bearer(token))).json()
    assert after == group


async def test_a_patch_reaches_the_open_room(env: Env) -> None:
    gid, fac, (a,) = await env.room(1)
    async with env.http() as http:
        token = await api_token(env)
        r = await http.patch(f"/api/groups/{gid}", json={"capacity": 1}, headers=bearer(token))
        assert r.status_code == 200
    # The room is now full with one member: the next link holder is turned away.
    with pytest.raises(ClientError) as caught:
        await ChatClient.join(await env.link(gid), "late")
    assert caught.value.code == "room_full"


@http_only
async def test_another_facilitator_cannot_see_or_touch_a_group(env: Env) -> None:
    gid = await make_group(env, "alex")
    sam_gid = await make_group(env, "sam", title="Sam's group")
    seat, _ = await env.admin.create_link("alex", gid)
    async with env.http() as http:
        sam = await api_token(env, "sam")
        h = bearer(sam)
        responses = [
            await http.get(f"/api/groups/{gid}", headers=h),
            await http.patch(f"/api/groups/{gid}", json={"title": "Mine now"}, headers=h),
            await http.patch(f"/api/groups/{gid}", json={"facilitators": ["sam"]}, headers=h),
            await http.get(f"/api/groups/{gid}/links", headers=h),
            await http.post(f"/api/groups/{gid}/links", json={}, headers=h),
            await http.delete(f"/api/groups/{gid}/links/{seat.id}", headers=h),
            # Sam's own group id with alex's seat link: still not found.
            await http.delete(f"/api/groups/{sam_gid}/links/{seat.id}", headers=h),
            await http.get("/api/groups/g_doesnotexist", headers=h),
        ]
        listed = (await http.get("/api/groups", headers=h)).json()["groups"]
    for r in responses:
        assert r.status_code == 404, (r.request.method, r.request.url, r.text)
        assert error_of(r)["code"] == "not_found"
        assert "Tuesday evening group" not in r.text
    # The 404 for someone else's group reads exactly like the one for no group at all.
    assert responses[0].json() == responses[-1].json()
    assert [g["id"] for g in listed] == [sam_gid]
    group = await env.store.group(gid)
    assert group.title == "Tuesday evening group"
    assert group.facilitators == ("alex",)
    assert [s.public(time.time())["status"] for s in await env.store.seats(gid)] == ["active"]


# ---- seat links -----------------------------------------------------------------


async def test_create_a_seat_link(env: Env) -> None:
    gid = await make_group(env)
    async with env.http() as http:
        token = await api_token(env)
        before = time.time()
        r = await http.post(
            f"/api/groups/{gid}/links", json={"label": " Seat 1 "}, headers=bearer(token)
        )
    assert r.status_code == 201
    link = r.json()
    assert link["url"].startswith(f"{env.url}/join#seat=")
    assert "/join#seat=" in link["url"]
    assert link["group_id"] == gid
    assert link["label"] == "Seat 1"
    assert link["status"] == "active"
    assert link["revoked_at"] is None
    # Default expiry: about three months, a weekly group's term.
    assert link["expires_at"] - before > 80 * 24 * 3600
    token_ = token_of(link["url"])
    assert len(token_) >= 22  # at least 128 bits, base64url
    assert "token_hash" not in link
    # The link works: the room is opened and its holder gets in.
    fac = await host(env, gid)
    member = await env.member(link["url"], "Robin")
    assert member.admitted
    assert (await fac.next("joined"))["p"]["name"] == "Robin"


@http_only
async def test_content_rules_are_checked_by_the_engine_and_reach_the_room(env: Env) -> None:
    gid = await make_group(env)
    key, sig = b64u(bytes(32)), b64u(bytes(64))
    tuning = (
        '{"format": "safespace-content-tuning/1", "categories": {"insults": {"action": "block"}}}'
    )
    fac = await env.host(gid)
    async with env.http() as http:
        token = await api_token(env)
        rules = {"tuning": tuning, "by": key, "sig": sig}
        r = await http.patch(
            f"/api/groups/{gid}", headers=bearer(token), json={"content_rules": rules}
        )
        assert r.status_code == 200, r.text
        assert r.json()["content_rules"] == rules
        # Present clients hear of it at once; newcomers find it in welcome.
        assert (await fac.next("content_rules"))["rules"] == rules
        member = await env.member(await env.link(gid), "Robin")
        assert member.welcome is not None
        assert member.welcome["group"]["content_rules"] == rules
        for bad in (
            '{"format": "nope"}',
            '{"format": "safespace-content-tuning/1", "categories": {"<script>x": {}}}',
            "not json",
        ):
            r = await http.patch(
                f"/api/groups/{gid}",
                headers=bearer(token),
                json={"content_rules": {"tuning": bad, "by": key, "sig": sig}},
            )
            assert r.status_code == 400, bad
            assert r.json()["error"]["field"] == "content_rules"
            assert "<script>" not in r.text
        r = await http.get("/content-rules.json")
        assert r.status_code == 200 and r.json()["format"] == "safespace-content-rules/1"


@http_only
async def test_registered_identity_keys_ride_in_every_new_link(env: Env) -> None:
    gid = await make_group(env)
    key = b64u(bytes(range(32)))
    async with env.http() as http:
        token = await api_token(env)
        before = await http.post(f"/api/groups/{gid}/links", headers=bearer(token), json={})
        assert "&f=" not in before.json()["url"]
        assert (await http.get(f"/api/groups/{gid}", headers=bearer(token))).json()[
            "facilitator_keys"
        ] == {}
        r = await http.put("/api/me/identity", headers=bearer(token), json={"key": key})
        assert r.status_code == 204
        after = await http.post(f"/api/groups/{gid}/links", headers=bearer(token), json={})
        assert after.json()["url"].endswith(f"&f={key}")
        group = (await http.get(f"/api/groups/{gid}", headers=bearer(token))).json()
        assert group["facilitator_keys"] == {"alex": key}
        for bad in ("short", key + "=", b64u(b"x" * 33), 42, None, "é" * 43):
            r = await http.put("/api/me/identity", headers=bearer(token), json={"key": bad})
            assert r.status_code == 400, bad
            assert r.json()["error"]["code"] == "invalid"
            assert r.json()["error"]["field"] == "key"
        r = await http.put("/api/me/identity", json={"key": key})
        assert r.status_code == 401


async def test_a_facilitators_client_registers_its_identity_on_entering(env: Env) -> None:
    from clients.e2ee import IdentityKey

    gid = await make_group(env)
    fac = await env.host(gid, e2ee=True, identity=IdentityKey.generate())
    assert fac.identity is not None
    assert await env.store.identities(["alex"]) == {"alex": fac.identity.public}
    assert (await env.link(gid)).endswith(f"&{fac.identity.fragment}")


async def test_an_identity_of_the_wrong_size_closes_the_hello(env: Env) -> None:
    import msgpack
    from websockets.asyncio.client import connect

    gid = await make_group(env)
    async with connect(env.url.replace("http", "ws") + "/ws", subprotocols=["safespace.v1"]) as ws:  # type: ignore[list-item]
        hello = {"t": "hello", "v": 1, "role": "facilitator", "group": gid}
        hello |= {"user": "alex", "password": PASSWORD, "identity": b"x" * 31}
        await ws.send(msgpack.packb(hello))
        frame = msgpack.unpackb(await ws.recv())
        assert frame["code"] == "bad_field" and "32 bytes" in frame["message"]
        await ws.wait_closed()
        assert ws.close_code == Close.PROTOCOL
    assert await env.store.identities(["alex"]) == {}


@http_only
async def test_every_seat_link_is_different(env: Env) -> None:
    gid = await make_group(env)
    async with env.http() as http:
        token = await api_token(env)
        urls = [
            (await http.post(f"/api/groups/{gid}/links", json={}, headers=bearer(token))).json()[
                "url"
            ]
            for _ in range(5)
        ]
    assert len({token_of(u) for u in urls}) == 5


@http_only
async def test_the_link_listing_never_shows_the_token_or_its_hash(env: Env) -> None:
    gid = await make_group(env)
    async with env.http() as http:
        token = await api_token(env)
        created = []
        for label in ("Seat 1", "Seat 2"):
            r = await http.post(
                f"/api/groups/{gid}/links", json={"label": label}, headers=bearer(token)
            )
            created.append(r.json())
        r = await http.get(f"/api/groups/{gid}/links", headers=bearer(token))
    assert r.status_code == 200
    links = r.json()["links"]
    assert [link["id"] for link in links] == [c["id"] for c in created]
    assert [link["label"] for link in links] == ["Seat 1", "Seat 2"]
    assert all(link["status"] == "active" for link in links)
    for c in created:
        seat_token = token_of(c["url"])
        assert seat_token not in r.text
        assert hashlib.sha256(seat_token.encode()).hexdigest() not in r.text
    assert "url" not in r.text
    assert "hash" not in r.text


async def test_revoke_a_link(env: Env) -> None:
    gid = await make_group(env)
    async with env.http() as http:
        token = await api_token(env)
        made = (await http.post(f"/api/groups/{gid}/links", json={}, headers=bearer(token))).json()
        keep = (await http.post(f"/api/groups/{gid}/links", json={}, headers=bearer(token))).json()
        r = await http.delete(f"/api/groups/{gid}/links/{made['id']}", headers=bearer(token))
        assert r.status_code == 200
        revoked = r.json()
        assert revoked["id"] == made["id"]
        assert revoked["status"] == "revoked"
        assert revoked["revoked_at"] is not None
        # Revoking again changes nothing.
        again = await http.delete(f"/api/groups/{gid}/links/{made['id']}", headers=bearer(token))
        assert again.status_code == 200
        assert again.json()["revoked_at"] == revoked["revoked_at"]
        listed = (await http.get(f"/api/groups/{gid}/links", headers=bearer(token))).json()
        missing = await http.delete(
            f"/api/groups/{gid}/links/s_000000000000", headers=bearer(token)
        )
    status = {link["id"]: link["status"] for link in listed["links"]}
    assert status == {made["id"]: "revoked", keep["id"]: "active"}
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    # The revoked link no longer opens the door; the other one does.
    await host(env, gid)
    with pytest.raises(ClientError) as caught:
        await ChatClient.join(made["url"], "Robin")
    assert caught.value.code == "link_revoked"
    assert (await env.member(keep["url"], "Kim")).admitted


@http_only
async def test_links_with_an_expiry_in_hours(env: Env) -> None:
    gid = await make_group(env)
    async with env.http() as http:
        token = await api_token(env)
        r = await http.post(
            f"/api/groups/{gid}/links", json={"expires_in_hours": 2}, headers=bearer(token)
        )
        assert r.status_code == 201
        link = r.json()
        assert link["expires_at"] - link["created_at"] == pytest.approx(7200, abs=1)
        assert link["status"] == "active"
        short = await http.post(
            f"/api/groups/{gid}/links", json={"expires_in_hours": 0.0002}, headers=bearer(token)
        )
        assert short.status_code == 201
        await asyncio.sleep(1.0)
        listed = (await http.get(f"/api/groups/{gid}/links", headers=bearer(token))).json()
    status = {link["id"]: link["status"] for link in listed["links"]}
    assert status == {link["id"]: "active", short.json()["id"]: "expired"}


@http_only
async def test_create_a_link_refuses_invalid_fields(env: Env) -> None:
    gid = await make_group(env)
    token = await api_token(env)
    async with env.http() as http:
        for body, field in [
            ({"expires_in_hours": 0}, "expires_in_hours"),
            ({"expires_in_hours": -3}, "expires_in_hours"),
            ({"expires_in_hours": "24"}, "expires_in_hours"),
            ({"expires_in_hours": True}, "expires_in_hours"),
            ({"expires_in_hours": 24 * 367}, "expires_in_hours"),
            ({"label": "x" * 81}, "label"),
            ({"label": 7}, "label"),
        ]:
            r = await http.post(f"/api/groups/{gid}/links", json=body, headers=bearer(token))
            assert r.status_code == 400, body
            err = error_of(r)
            assert err["code"] == "invalid"
            assert err["field"] == field, body
    assert await env.store.seats(gid) == []


# ---- security headers ------------------------------------------------------------


@http_only
async def test_security_headers_on_every_response(env: Env) -> None:
    gid = await make_group(env)
    async with env.http() as http:
        token = await api_token(env)
        responses = [
            await http.get("/healthz"),
            await http.get("/metrics"),
            await http.get("/join"),
            await http.get(f"/api/groups/{gid}", headers=bearer(token)),
            await http.get("/api/groups"),  # 401
            await http.post("/api/login", json={"name": "alex", "password": "nope-nope"}),
            await http.get("/no/such/page"),  # 404 from the router
        ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 401, 401, 404]
    for r in responses:
        csp = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp, r.request.url
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers.get("x-content-type-options") == "nosniff"
        assert r.headers.get("cache-control") == "no-store"
        assert r.headers.get("referrer-policy") == "no-referrer"


@http_only
async def test_the_join_page_never_contains_the_seat_token(env: Env) -> None:
    gid = await make_group(env)
    url = await env.link(gid)
    async with env.http() as http:
        r = await http.get(url)  # httpx drops the fragment, as browsers do
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert token_of(url) not in r.text


@http_only
async def test_unknown_api_routes_and_methods_get_json_errors(env: Env) -> None:
    token = await api_token(env)
    async with env.http() as http:
        missing = await http.get("/api/nothing-here", headers=bearer(token))
        wrong = await http.put("/api/groups", json={"title": "T"}, headers=bearer(token))
    assert missing.status_code == 404
    assert wrong.status_code == 405
    assert error_of(missing)["code"] == "not_found"
    assert isinstance(error_of(wrong)["code"], str)


# ---- the websocket door -------------------------------------------------------------


async def join_error(link: str, name: str = "Robin") -> ClientError:
    with pytest.raises(ClientError) as caught:
        await ChatClient.join(link, name)
    return caught.value


async def test_an_unknown_link_is_refused(env: Env) -> None:
    gid = await make_group(env)
    await host(env, gid)
    err = await join_error(f"{env.url}/join#seat=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert err.code == "link_unknown"
    assert err.close_code == Close.AUTH
    err = await join_error(f"{env.url}/join")  # no token at all
    assert err.code == "link_unknown"


async def test_an_expired_link_is_refused(env: Env) -> None:
    gid = await make_group(env)
    await host(env, gid)
    _, url = await env.admin.create_link("alex", gid, None, 0.0001)  # 0.36 s
    await asyncio.sleep(0.6)
    err = await join_error(url)
    assert err.code == "link_expired"
    assert err.close_code == Close.AUTH


async def test_a_revoked_link_is_refused(env: Env) -> None:
    gid = await make_group(env)
    fac = await host(env, gid)
    seat, url = await env.admin.create_link("alex", gid)
    await env.admin.revoke_link("alex", gid, seat.id)
    err = await join_error(url)
    assert err.code == "link_revoked"
    assert err.close_code == Close.AUTH
    await fac.nothing("joined", "knock")


async def test_a_link_before_the_room_is_opened_is_refused(env: Env) -> None:
    gid = await make_group(env)
    url = await env.link(gid)
    # Nobody is there yet.
    err = await join_error(url)
    assert err.code == "room_not_open"
    assert err.close_code == Close.AUTH
    # A facilitator is there but has not opened the room.
    fac = await host(env, gid, open_room=False)
    err = await join_error(url)
    assert err.code == "room_not_open"
    await fac.open()
    await fac.next("state")
    assert (await env.member(url, "Robin")).admitted


async def test_a_member_who_does_not_accept_the_rules_does_not_get_in(env: Env) -> None:
    gid = await make_group(env)
    fac = await host(env, gid)
    url = await env.link(gid)
    with pytest.raises(ClientError) as caught:
        await ChatClient.join(url, "Robin", accept_rules=False)
    assert caught.value.code == "rules_not_accepted"
    await fac.nothing("joined")
    assert (await env.member(url, "Robin")).admitted


@one_outlet
async def test_unknown_links_are_rate_limited(env: Env) -> None:
    gid = await make_group(env)
    await host(env, gid)
    good = await env.link(gid)
    for i in range(30):
        err = await join_error(f"{env.url}/join#seat=guess{i:04d}")
        assert err.code == "link_unknown"
    err = await join_error(f"{env.url}/join#seat=guess-more")
    assert err.code == "rate_limited"
    # The same client's valid link waits too: the limit is on the client.
    err = await join_error(good)
    assert err.code == "rate_limited"


async def test_a_facilitator_with_a_wrong_password_is_refused(env: Env) -> None:
    gid = await make_group(env)
    with pytest.raises(ClientError) as caught:
        await ChatClient.facilitate(env.url, gid, user="alex", password="not the password")
    assert caught.value.code == "login_failed"
    assert caught.value.close_code == Close.AUTH
    assert gid not in env.hub.rooms


async def test_a_facilitator_of_another_group_is_refused(env: Env) -> None:
    gid = await make_group(env, "alex")
    await facilitator(env, "sam")
    with pytest.raises(ClientError) as caught:
        await ChatClient.facilitate(env.url, gid, user="sam", password=PASSWORD)
    assert caught.value.code == "not_facilitator"
    assert caught.value.close_code == Close.AUTH
    assert gid not in env.hub.rooms


async def test_a_facilitator_of_an_unknown_group_is_refused(env: Env) -> None:
    await facilitator(env, "alex")
    with pytest.raises(ClientError) as caught:
        await ChatClient.facilitate(env.url, "g_nosuchgroup", user="alex", password=PASSWORD)
    assert caught.value.code == "group_unknown"
    assert caught.value.close_code == Close.AUTH


async def test_a_facilitator_joins_the_websocket_with_an_api_token(env: Env) -> None:
    gid = await make_group(env)
    async with env.http() as http:
        token = await login(http)
        fac = await ChatClient.facilitate(
            env.url, gid, token=token, name="Alex (host)", codec=PlainCodec()
        )
        env.clients.append(fac)
        assert fac.role == "facilitator"
        assert fac.roster[fac.pid]["name"] == "Alex (host)"
        await fac.open()
        assert (await fac.next("state"))["state"] == "lobby"
        member = await env.member(await env.link(gid), "Robin")
        await member.send("hi")
        assert (await fac.next("msg")).text == "hi"
        # After logout the same token no longer opens the room.
        assert (await http.post("/api/logout", headers=bearer(token))).status_code == 204
    with pytest.raises(ClientError) as caught:
        await ChatClient.facilitate(env.url, gid, token=token)
    assert caught.value.code == "unauthenticated"
    with pytest.raises(ClientError) as caught:
        await ChatClient.facilitate(env.url, gid, token="made-up-token")
    assert caught.value.code == "unauthenticated"


@one_outlet
async def test_failed_websocket_logins_share_the_rate_limit_with_http(env: Env) -> None:
    gid = await make_group(env)
    env.app.state.services.auth.limiter.limit = 3  # the count itself is tested over HTTP
    for _ in range(3):
        with pytest.raises(ClientError) as caught:
            await ChatClient.facilitate(env.url, gid, user="alex", password="wrong-password")
        assert caught.value.code == "login_failed"
    async with env.http() as http:
        r = await http.post("/api/login", json={"name": "alex", "password": PASSWORD})
    assert r.status_code == 429
    assert error_of(r)["code"] == "rate_limited"


async def test_readyz_answers_200_when_the_store_answers(env: Env) -> None:
    async with env.http() as http:
        r = await http.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}
