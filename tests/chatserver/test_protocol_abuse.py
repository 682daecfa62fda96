"""Hostile and broken input over real websockets, against the real server.

Each case sends something a correct client never would (raw ``websockets`` and
``msgpack``, or raw frames through a joined client's socket) and asserts two
things: the exact error frame and/or close code of ``rooms.wire.Close``, and
that everyone else in the room is still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from typing import Any

import msgpack
import pytest
from conftest import PASSWORD, Env
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin, Subprotocol

from chatserver.auth import hash_password
from clients.client import ChatClient, Event
from rooms.wire import FACILITATOR_ONLY, MAX_FRAME_BYTES, SUBPROTOCOL, VERSION, Close

PROTOCOLS = [Subprotocol(SUBPROTOCOL)]
# The fixture runs every server twice, once per websocket outlet. An upgrade
# refused for its Origin never reaches either, so those tests run once.
before_the_outlet = pytest.mark.parametrize("env", ["fast"], indirect=True)

# argon2id costs a third of a second a go: hash the test password once.
_HASH: list[str] = []


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


def ws_url(env: Env) -> str:
    return env.url.replace("http://", "ws://", 1) + "/ws"


async def room(
    env: Env, members: int = 2, facilitator: str = "alex", **settings: Any
) -> tuple[str, ChatClient, list[ChatClient]]:
    """Like ``env.room``: an open room, its facilitator and members in the lobby."""
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    if await env.store.password_hash(facilitator) is None:
        await env.store.add_facilitator(facilitator, _HASH[0])
    gid = await env.group(facilitator, **settings)
    fac = await env.host(gid, facilitator)
    people = []
    for i in range(members):
        link = await env.link(gid, facilitator)
        people.append(await env.member(link, f"{facilitator}-member{i + 1}"))
        await fac.next("joined")
    return gid, fac, people


async def until_closed(ws: ClientConnection, timeout: float = 5.0) -> tuple[list[Any], int | None]:
    """Every frame the server sends until it closes, and its close code."""
    frames: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                data = await ws.recv()
                frames.append(msgpack.unpackb(data, raw=False) if isinstance(data, bytes) else data)
    except ConnectionClosed:
        pass
    return frames, ws.close_code


async def still_serving(fac: ChatClient, sender: ChatClient, receiver: ChatClient) -> None:
    """A member's chat still reaches the other member and the facilitator."""
    text = f"still here {time.monotonic_ns()}"
    await sender.send(text)
    for who in (receiver, fac):
        got = await who.next("msg")
        while got.text != text:  # earlier messages still in the inbox (its own, say)
            got = await who.next("msg")
        assert got["from"] == sender.pid


async def connections_settle(env: Env, expected: int) -> None:
    """The server's count of open websockets comes down to ``expected``."""
    async with asyncio.timeout(3):
        while env.metrics.connections != expected:
            await asyncio.sleep(0.02)


async def raw_member(env: Env, gid: str, name: str = "mallory") -> ClientConnection:
    """A member joined by hand: hello, the rules, accept, welcome."""
    link = await env.link(gid)
    ws = await connect(ws_url(env), subprotocols=PROTOCOLS)
    await ws.send(pack({"t": "hello", "v": VERSION, "role": "member", "link": link, "name": name}))
    rules = msgpack.unpackb(await ws.recv(), raw=False)
    assert rules["t"] == "rules"
    await ws.send(pack({"t": "accept", "rules": rules["digest"]}))
    welcome = msgpack.unpackb(await ws.recv(), raw=False)
    assert welcome["t"] == "welcome"
    return ws


# ---- the first frame -------------------------------------------------------------

_BIG_HELLO = pack({"t": "hello", "v": 1, "role": "member", "link": "x", "keys": b"k" * 80_000})

FIRST_FRAMES: list[tuple[str, bytes | str | list[bytes], str | None, int]] = [
    ("malformed msgpack", b"\xc1\xc1\xc1", "bad_frame", Close.PROTOCOL),
    ("nested 60000 deep", b"\x91" * 60_000 + b"\xc0", "bad_frame", Close.PROTOCOL),
    ("an array header of 4 billion", b"\xdd\xff\xff\xff\xff", "bad_frame", Close.PROTOCOL),
    ("a bin header of 4 GiB", b"\x81\xa1t\xc6\xff\xff\xff\xff", "bad_frame", Close.PROTOCOL),
    ("truncated msgpack", pack({"t": "hello", "v": 1})[:-2], "bad_frame", Close.PROTOCOL),
    ("trailing bytes", pack({"t": "hello"}) + b"\x00", "bad_frame", Close.PROTOCOL),
    ("a list, not a map", pack(["hello", 1]), "bad_frame", Close.PROTOCOL),
    ("a bare string", pack("hello"), "bad_frame", Close.PROTOCOL),
    ("integer map keys", pack({1: "hello"}), "bad_frame", Close.PROTOCOL),
    ("an ext type", msgpack.packb(msgpack.ExtType(5, b"boom")), "bad_frame", Close.PROTOCOL),
    ("a text frame", "hello", "bad_frame", Close.UNSUPPORTED),
    ("chat before hello", pack({"t": "chat", "payload": b"hi"}), "hello_first", Close.PROTOCOL),
    ("accept before hello", pack({"t": "accept", "rules": "x"}), "hello_first", Close.PROTOCOL),
    ("leave before hello", pack({"t": "leave"}), "hello_first", Close.PROTOCOL),
    ("another version", pack({"t": "hello", "v": 2, "role": "member"}), "bad_field", 4400),
    ("an unknown role", pack({"t": "hello", "v": 1, "role": "admin"}), "bad_field", 4400),
    (
        "a member hello without a link",
        pack({"t": "hello", "v": 1, "role": "member", "name": "x"}),
        "bad_field",
        Close.PROTOCOL,
    ),
    (
        "a facilitator hello without a group",
        pack({"t": "hello", "v": 1, "role": "facilitator", "user": "alex", "password": PASSWORD}),
        "bad_field",
        Close.PROTOCOL,
    ),
    (
        "a facilitator hello without credentials",
        pack({"t": "hello", "v": 1, "role": "facilitator", "group": "g_x"}),
        "unauthenticated",
        Close.AUTH,
    ),
    ("over 64 KiB", b"\x00" * (MAX_FRAME_BYTES + 1), None, Close.TOO_BIG),
    (
        "over 64 KiB in small fragments",
        [_BIG_HELLO[i : i + 8000] for i in range(0, len(_BIG_HELLO), 8000)],
        None,
        Close.TOO_BIG,
    ),
    (
        "a hello over 64 KiB",
        pack({"t": "hello", "v": 1, "role": "member", "link": "x", "name": "x" * MAX_FRAME_BYTES}),
        None,
        Close.TOO_BIG,
    ),
]


# What a first frame that is not the protocol looks like: unknown type, no type,
# a missing or mistyped field. All close with 4400, never 4401 ("hello refused").
FIRST_FRAMES += [
    ("an unknown type", pack({"t": "bogus", "v": 1}), "unknown_type", Close.PROTOCOL),
    ("no type at all", pack({"v": 1, "role": "member"}), "unknown_type", Close.PROTOCOL),
    (
        "a hello with v as text",
        pack({"t": "hello", "v": "1", "role": "member"}),
        "bad_field",
        Close.PROTOCOL,
    ),
    (
        "a hello with v as a bool",
        pack({"t": "hello", "v": True, "role": "member"}),
        "bad_field",
        Close.PROTOCOL,
    ),
    ("a hello without a role", pack({"t": "hello", "v": 1}), "bad_field", Close.PROTOCOL),
    (
        "a hello with a link as bytes",
        pack({"t": "hello", "v": 1, "role": "member", "link": b"x", "name": "x"}),
        "bad_field",
        Close.PROTOCOL,
    ),
]


async def test_a_bad_first_frame_is_refused_and_the_room_goes_on(env: Env) -> None:
    # A generous flood limit: the same two members prove the room still works each time.
    gid, fac, (a, b) = await room(env, flood_messages=100)
    for case, data, code, close in FIRST_FRAMES:
        async with connect(ws_url(env), subprotocols=PROTOCOLS) as ws:
            assert ws.subprotocol == SUBPROTOCOL
            with contextlib.suppress(ConnectionClosed):  # closed before the last fragment
                await ws.send(data)
            frames, close_code = await until_closed(ws)
        assert close_code == close, case
        if code is None:
            assert frames == [], case
        else:
            assert [f["t"] for f in frames] == ["error"], case
            assert frames[0]["code"] == code, case
            assert isinstance(frames[0]["message"], str) and frames[0]["message"]
        # Nobody else heard of it, and the room goes on.
        await fac.nothing("joined", "knock", "presence", "error", within=0.05)
        await still_serving(fac, a, b)
        await connections_settle(env, 3)
    assert len(env.hub.rooms[gid].session.participants) == 3


RULES_ANSWERS: list[tuple[str, bytes, str, int]] = [
    ("chat instead of accept", pack({"t": "chat", "payload": b"hi"}), "rules_not_accepted", 4401),
    ("accept of other rules", pack({"t": "accept", "rules": "0" * 16}), "rules_not_accepted", 4401),
    ("accept without rules", pack({"t": "accept"}), "bad_field", Close.PROTOCOL),
    ("accept of rules as bytes", pack({"t": "accept", "rules": b"x"}), "bad_field", 4400),
    ("an unknown type", pack({"t": "bogus"}), "unknown_type", Close.PROTOCOL),
    ("malformed msgpack", b"\xc1", "bad_frame", Close.PROTOCOL),
    ("a list", pack([1]), "bad_frame", Close.PROTOCOL),
]


async def test_a_bad_answer_to_the_ground_rules_keeps_the_member_out(env: Env) -> None:
    gid, fac, (a, b) = await room(env, flood_messages=100)
    link = await env.link(gid)
    for case, answer, code, close in RULES_ANSWERS:
        async with connect(ws_url(env), subprotocols=PROTOCOLS) as ws:
            hello = {"t": "hello", "v": 1, "role": "member", "link": link, "name": "Kim"}
            await ws.send(pack(hello))
            assert msgpack.unpackb(await ws.recv(), raw=False)["t"] == "rules"
            await ws.send(answer)
            frames, close_code = await until_closed(ws)
        assert [f["code"] for f in frames] == [code], case
        assert close_code == close, case
        await fac.nothing("joined", "knock", within=0.05)
        assert len(env.hub.rooms[gid].session.participants) == 3
        await still_serving(fac, a, b)
    # The link was not used up: its holder can still come in properly.
    assert (await env.member(link, "Kim")).admitted


async def test_no_hello_in_time_closes_with_4408(env: Env) -> None:
    gid, fac, (a, b) = await room(env)
    joined = await raw_member(env, gid)  # said hello in time
    try:
        async with connect(ws_url(env), subprotocols=PROTOCOLS) as ws:
            started = time.monotonic()
            # The room goes on while this socket stays silent.
            await still_serving(fac, a, b)
            frames, close_code = await until_closed(ws, timeout=6)
            waited = time.monotonic() - started
        assert close_code == Close.HELLO_TIMEOUT
        assert 1.5 <= waited < 5  # the fixture's hello timeout is 2 s
        assert [f["code"] for f in frames] == ["hello_first"]
        await still_serving(fac, b, a)
        # Whoever said hello in time is not cut off by the timeout later.
        await joined.send(pack({"t": "chat", "payload": b"after the timeout"}))
        got = await b.next("msg")
        while got.text != "after the timeout":
            got = await b.next("msg")
        assert joined.close_code is None
    finally:
        await joined.close()


async def test_no_subprotocol_is_refused(env: Env) -> None:
    gid, fac, (a, b) = await room(env)
    link = await env.link(gid)
    for offered in (None, ["safespace.v2"], ["chat", "safespace"]):
        protocols = None if offered is None else [Subprotocol(p) for p in offered]
        async with connect(ws_url(env), subprotocols=protocols) as ws:
            assert ws.subprotocol is None
            hello = {"t": "hello", "v": VERSION, "role": "member", "link": link, "name": "Robin"}
            with contextlib.suppress(ConnectionClosed):  # the server need not wait for it
                await ws.send(pack(hello))
            frames, close_code = await until_closed(ws)
        assert close_code == Close.PROTOCOL, offered
        assert [f["t"] for f in frames] == ["error"], offered
        assert frames[0]["code"] == "bad_frame"
        assert SUBPROTOCOL in frames[0]["message"]
        await fac.nothing("joined", within=0.05)
        await still_serving(fac, a, b)
    assert len(env.hub.rooms[gid].session.participants) == 3


@before_the_outlet
async def test_a_websocket_from_another_origin_is_refused(env: Env) -> None:
    gid, fac, (a, b) = await room(env)
    others = ["http://evil.example", "https://evil.example", "null", "http://127.0.0.1:1"]
    others.append("http://localhost")
    for n, origin in enumerate(others, start=1):
        with pytest.raises(InvalidStatus) as caught:
            await connect(ws_url(env), subprotocols=PROTOCOLS, origin=Origin(origin))
        assert caught.value.response.status_code == 403, origin
        assert env.metrics.closes[Close.ORIGIN] == n
        await still_serving(fac, a, b)
    await connections_settle(env, 3)


async def test_the_servers_own_origin_and_no_origin_are_allowed(env: Env) -> None:
    gid, fac, (a, b) = await room(env)
    for origin in (env.url, env.url + "/", None):
        extra = {} if origin is None else {"origin": Origin(origin)}
        async with connect(ws_url(env), subprotocols=PROTOCOLS, **extra) as ws:
            assert ws.subprotocol == SUBPROTOCOL
            await ws.send(pack({"t": "leave"}))
            frames, close_code = await until_closed(ws)
        # Accepted, then refused only for not saying hello: the Origin passed.
        assert close_code == Close.PROTOCOL
        assert frames[0]["code"] == "hello_first"
    assert env.metrics.closes[Close.ORIGIN] == 0
    await still_serving(fac, a, b)


@before_the_outlet
async def test_a_rebound_name_is_refused_though_host_and_origin_agree(env: Env) -> None:
    """DNS rebinding: a foreign page's name resolves to this server, so the upgrade's
    Host and Origin are both that name. Only PUBLIC_URL (or a literal address) is own."""
    gid, fac, (a, b) = await room(env)
    port = int(env.url.rsplit(":", 1)[1])
    rebound = f"ws://evil.example:{port}/ws"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sock = writer.get_extra_info("socket").dup()
    writer.close()
    with pytest.raises(InvalidStatus) as caught:
        await connect(rebound, sock=sock, subprotocols=PROTOCOLS,
                      origin=Origin(f"http://evil.example:{port}"))  # fmt: skip
    assert caught.value.response.status_code == 403
    assert env.metrics.closes[Close.ORIGIN] == 1
    await still_serving(fac, a, b)


@before_the_outlet
async def test_an_allowed_origin_from_the_config_is_accepted(env: Env) -> None:
    services = env.app.state.services
    services.config = replace(services.config, allowed_origins=("https://chat.example.org",))
    gid, fac, (a, b) = await room(env)
    async with connect(
        ws_url(env), subprotocols=PROTOCOLS, origin=Origin("https://chat.example.org")
    ) as ws:
        assert ws.subprotocol == SUBPROTOCOL
    with pytest.raises(InvalidStatus) as caught:
        await connect(ws_url(env), subprotocols=PROTOCOLS, origin=Origin("https://example.org"))
    assert caught.value.response.status_code == 403
    await still_serving(fac, a, b)


# ---- after joining ---------------------------------------------------------------


async def joined_abuser(
    env: Env, gid: str, fac: ChatClient, others: list[ChatClient]
) -> ChatClient:
    """A third member who joined with the real client; the others have seen it arrive."""
    m = await env.member(await env.link(gid), "mallory")
    for who in (fac, *others):
        await saw_join(who, m.pid)
    return m


async def saw_join(who: ChatClient, pid: str) -> None:
    """``who`` is told that ``pid`` joined (earlier arrivals are skipped)."""
    while (await who.next("joined"))["p"]["pid"] != pid:
        pass


async def error_for(client: ChatClient, frame: dict[str, Any]) -> Event:
    await client.ws.send(pack(frame))
    return await client.next("error")


async def test_an_unknown_frame_type_gets_an_error_and_the_connection_stays(env: Env) -> None:
    gid, fac, (a, b) = await room(env)
    m = await joined_abuser(env, gid, fac, [a, b])
    err = await error_for(m, {"t": "teleport", "ref": 41, "to": "moon"})
    assert err["code"] == "unknown_type"
    assert err["ref"] == 41
    err = await error_for(m, {"ref": 42, "payload": b"no type"})
    assert err["code"] == "unknown_type"
    assert err["ref"] == 42
    err = await error_for(m, {"t": 7, "ref": 43})
    assert err["code"] == "unknown_type"
    assert err["ref"] == 43
    # Still connected and still heard.
    await still_serving(fac, m, a)
    await still_serving(fac, a, b)
    assert m.close_code is None


BAD_FIELDS: list[dict[str, Any]] = [
    {"t": "chat", "payload": "text, not bytes"},
    {"t": "chat"},
    {"t": "chat", "payload": None},
    {"t": "chat", "payload": 12},
    {"t": "hand", "up": "yes"},
    {"t": "hand", "up": 1},
    {"t": "report", "msg": True, "payload": b"x"},
    {"t": "report", "msg": "1", "payload": b"x"},
    {"t": "direct", "to": 3, "payload": b"x"},
    {"t": "alert", "kind": 1},
    {"t": "private", "payload": ["x"]},
]


async def test_a_wrong_field_type_gets_bad_field_and_the_connection_stays(env: Env) -> None:
    gid, fac, (a, b) = await room(env)
    m = await joined_abuser(env, gid, fac, [a, b])
    for ref, frame in enumerate(BAD_FIELDS, start=10):
        err = await error_for(m, {**frame, "ref": ref})
        assert err["code"] == "bad_field", frame
        assert err["ref"] == ref
    await asyncio.sleep(0.1)
    for who in (fac, a, b):
        await who.nothing(within=0.1)  # not a message, a hand, a report: nothing
    await still_serving(fac, m, b)
    await still_serving(fac, a, b)
    assert m.close_code is None


async def test_a_chat_payload_over_the_group_limit_is_too_large(env: Env) -> None:
    gid, fac, (a, b) = await room(env)
    m = await joined_abuser(env, gid, fac, [a, b])
    limit = 16 * 1024
    for kind, extra in (
        ("chat", {}),
        ("private", {}),
        ("direct", {"to": a.pid}),
    ):
        frame = {"t": kind, "ref": 5, "payload": b"\x01" * (limit + 1), **extra}
        err = await error_for(m, frame)
        assert err["code"] == "too_large", kind
        assert err["ref"] == 5
        assert err["detail"]["limit"] == limit
    big = b"\x02" * (40 * 1024)  # well under the 64 KiB frame cap
    err = await error_for(m, {"t": "chat", "ref": 6, "payload": big})
    assert err["code"] == "too_large"
    for who in (fac, a, b):
        await who.nothing("msg", "private", "direct", within=0.1)
    # Exactly at the limit is fine, and reaches everyone.
    await m.ws.send(pack({"t": "chat", "payload": b"y" * limit}))
    for who in (fac, a, b):
        got = await who.next("msg")
        assert got["payload"] == b"y" * limit
    await still_serving(fac, a, b)
    assert m.close_code is None


def _forbidden_frame(kind: str, target: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "admit": {"pid": target},
        "refuse": {"pid": target},
        "mute": {"pid": target},
        "unmute": {"pid": target},
        "timeout": {"pid": target, "seconds": 600},
        "remove": {"pid": target, "for_good": True},
        "delete": {"msg": 1},
        "slow": {"seconds": 600},
        "vouch": {"pid": target, "by": b"i" * 32, "anchor": b"a" * 16, "sig": b"s" * 64},
        "alert_seen": {"id": 1},
        "handled": {"id": 1},
    }.get(kind, {})
    return {"t": kind, **fields}


FACILITATOR_FRAMES = [
    "open",
    "start",
    "lock",
    "unlock",
    "pause",
    "resume",
    "end",
    "admit",
    "refuse",
    "mute",
    "unmute",
    "timeout",
    "remove",
    "delete",
    "slow",
    "vouch",
    "alert_seen",
    "handled",
]


async def test_a_member_gets_forbidden_for_every_facilitator_frame(env: Env) -> None:
    assert frozenset(FACILITATOR_FRAMES) == FACILITATOR_ONLY
    gid, fac, (a, b) = await room(env)
    m = await joined_abuser(env, gid, fac, [a, b])
    await a.send("message one")
    for who in (fac, a, b, m):
        await who.next("msg")
    session = env.hub.rooms[gid].session
    before = (session.state, session.paused, session.slow_mode_seconds)
    for ref, kind in enumerate(FACILITATOR_FRAMES, start=100):
        frame = {**_forbidden_frame(kind, b.pid), "ref": ref}
        err = await error_for(m, frame)
        assert err["code"] == "forbidden", kind
        assert err["ref"] == ref
    # Only a facilitator lowers someone else's hand.
    await b.hand(True)
    for who in (fac, a, b, m):
        assert (await who.next("hand"))["up"] is True
    err = await error_for(m, {"t": "hand", "up": False, "pid": b.pid, "ref": 99})
    assert err["code"] == "forbidden"
    assert err["ref"] == 99
    # The same for a target that is the abuser itself or the facilitator.
    for target in (m.pid, fac.pid):
        for kind in ("mute", "remove", "timeout"):
            assert (await error_for(m, _forbidden_frame(kind, target)))["code"] == "forbidden"
    # Nothing happened for anyone: no state change, no mute, no removal, no deletion.
    for who in (fac, a, b):
        await who.nothing(within=0.2)
    assert (session.state, session.paused, session.slow_mode_seconds) == before
    assert str(session.state) == "lobby"
    assert all(p.muted_until is None and p.present for p in session.participants.values())
    assert session.participants[b.pid].hand is True
    for who in (fac, a, b):
        assert who.state == "lobby" and not who.paused
        assert set(who.roster) == {fac.pid, a.pid, b.pid, m.pid}
        assert not any(p["muted"] for p in who.roster.values())
    assert set(session.participants) == {fac.pid, a.pid, b.pid, m.pid}
    await still_serving(fac, b, a)
    await still_serving(fac, a, b)
    await still_serving(fac, m, a)


async def test_hello_or_accept_again_after_joining_is_refused_and_the_connection_stays(
    env: Env,
) -> None:
    gid, fac, (a, b) = await room(env)
    m = await joined_abuser(env, gid, fac, [a, b])
    hello = {"t": "hello", "v": 1, "role": "facilitator", "user": "alex", "password": PASSWORD}
    err = await error_for(m, {**hello, "group": gid, "ref": 3})
    assert err["code"] == "illegal_transition"
    assert err["ref"] == 3
    err = await error_for(m, {"t": "accept", "rules": "x", "ref": 4})
    assert err["code"] == "illegal_transition"
    assert env.hub.rooms[gid].session.participants[m.pid].role == "member"
    await fac.nothing("joined", "presence", within=0.2)
    await still_serving(fac, m, a)


BAD_FRAMES_AFTER_JOINING: list[tuple[str, bytes | str, int]] = [
    ("malformed msgpack", b"\xc1", Close.PROTOCOL),
    ("a list, not a map", pack([{"t": "chat"}]), Close.PROTOCOL),
    ("a text frame", "hi", Close.UNSUPPORTED),
    ("over 64 KiB", pack({"t": "chat", "payload": b"z" * MAX_FRAME_BYTES}), Close.TOO_BIG),
]


async def test_a_broken_frame_after_joining_closes_only_that_connection(env: Env) -> None:
    gid, fac, (a, b) = await room(env, flood_messages=100)
    for n, (case, data, close) in enumerate(BAD_FRAMES_AFTER_JOINING):
        ws = await raw_member(env, gid, f"mallory{n}")
        joined = await fac.next("joined")
        for who in (a, b):
            await saw_join(who, joined["p"]["pid"])
        await ws.send(data)
        frames, close_code = await until_closed(ws)
        assert close_code == close, case
        if close != Close.TOO_BIG:
            assert [f["t"] for f in frames if isinstance(f, dict)][-1:] == ["error"], case
        # The others see the abuser step out, and nothing else.
        for who in (fac, a, b):
            gone = await who.next("presence", "left", "removed")
            assert gone["pid"] == joined["p"]["pid"], case
            assert gone.get("present") is False
        await still_serving(fac, a, b)
        await connections_settle(env, 3)


async def _big_key_members(env: Env, gid: str, sockets: list[ClientConnection]) -> None:
    """Two members whose hellos carry 40 KiB of 'keys' each (taken, or refused)."""
    for i in range(2):
        link = await env.link(gid)
        hello = {"t": "hello", "v": 1, "role": "member", "link": link, "name": f"keys{i}"}
        hello["keys"] = b"k" * (40 * 1024)
        assert len(pack(hello)) < MAX_FRAME_BYTES  # frames the server must read
        ws = await connect(ws_url(env), subprotocols=PROTOCOLS, max_size=None)
        sockets.append(ws)
        await ws.send(pack(hello))
        first = msgpack.unpackb(await ws.recv(), raw=False)
        if first["t"] == "rules":  # the server took the keys: finish joining
            await ws.send(pack({"t": "accept", "rules": first["digest"]}))
            assert msgpack.unpackb(await ws.recv(), raw=False)["t"] == "welcome"
        else:  # or it refused them with a clear error, which is fine too
            assert first["t"] == "error"
            assert first["code"] == "bad_field"


async def test_members_key_bundles_cannot_lock_everyone_else_out(env: Env) -> None:
    gid, fac, (a, b) = await room(env)
    sockets: list[ClientConnection] = []
    try:
        await _big_key_members(env, gid, sockets)
        # Taken or refused, the next member still gets in and is heard...
        newcomer = await env.member(await env.link(gid), "newcomer")
        assert newcomer.admitted
        await still_serving(fac, newcomer, a)
        # ...and so does the facilitator, coming back after a dropped connection.
        await fac.close()
        again = await env.host(gid, open_room=False)
        assert again.admitted
        await still_serving(again, a, b)
    finally:
        for ws in sockets:
            await ws.close()


# ---- rooms are sealed from each other ----------------------------------------------


async def test_a_member_of_one_room_never_receives_a_frame_of_another(env: Env) -> None:
    gid_a, fac_a, (a1, a2) = await room(env, title="Room A")
    gid_b, fac_b, (b1, b2) = await room(env, facilitator="sam", title="Room B")
    room_a = (fac_a, a1, a2)
    room_b = (fac_b, b1, b2)

    # Lots of traffic in B.
    b_texts = [f"B-secret-{i}" for i in range(4)]
    for i, text in enumerate(b_texts):
        await (b1 if i % 2 == 0 else b2).send(text)
    seen: set[str | None] = set()
    while not seen >= set(b_texts):  # all relayed before anyone refers to them
        seen.add((await fac_b.next("msg")).text)
    await b1.private("B-private-to-facilitators")
    await b1.hand(True)
    await b2.alert("support")
    await b1.report(1, "B-report-note")
    await b2.direct(b1.pid, b"B-direct-payload")
    await fac_b.mute(b2.pid)
    await b2.send("B-muted-attempt")
    await fac_b.unmute(b2.pid)
    await fac_b.time_out(b1.pid, 60)
    await fac_b.unmute(b1.pid)
    await fac_b.slow_mode(0)
    await fac_b.delete(1)
    await fac_b.start()  # locks B: a late arrival knocks
    late = await env.member(await env.link(gid_b, "sam"), "B-latecomer")
    assert not late.admitted
    await late.send("B-knocker-chat")
    assert (await late.next("error"))["code"] == "not_in_room"
    knock = await fac_b.next("knock")
    await fac_b.admit(knock["p"]["pid"])
    await late.next("welcome")
    await fac_b.pause()
    await fac_b.resume()
    await fac_b.remove(b2.pid)
    await b2.closed()
    await b1.send("B-last-word")
    # B is done when its facilitator has the last word.
    while (await fac_b.next("msg")).text != "B-last-word":
        pass

    # A little traffic in A, so there is something to compare with.
    await a1.send("A-hello")
    await a2.send("A-reply")
    for who in room_a:
        assert (await who.next("msg")).text == "A-hello"
        assert (await who.next("msg")).text == "A-reply"
    await asyncio.sleep(0.2)

    b_names = {"sam-member1", "sam-member2", "B-latecomer", "Room B", gid_b}
    b_words = [*b_texts, "B-private", "B-report", "B-direct", "B-muted", "B-knocker", "B-last"]
    for who in room_a:
        kinds = [e.type for e in who.history]
        assert [e.text for e in who.history if e.type == "msg"] == ["A-hello", "A-reply"]
        for kind in ("muted", "unmuted", "hand", "knock", "deleted", "removed", "private"):
            assert kind not in kinds, (who.role, kind)
        for kind in ("report", "alert", "direct", "left", "presence", "error", "closed"):
            assert kind not in kinds, (who.role, kind)
        assert kinds.count("state") == (1 if who is fac_a else 0)
        assert who.state == "lobby"
        assert not who.paused
        dump = repr([e.fields for e in who.history])
        for word in (*b_names, *b_words):
            assert word not in dump, (who.role, word)
        assert set(who.roster) == {fac_a.pid, a1.pid, a2.pid}
        assert {p["name"] for p in who.roster.values()} == {"alex", "alex-member1", "alex-member2"}

    # B's own people did get B's traffic.
    b1_kinds = [e.type for e in b1.history]
    for kind in ("msg", "muted", "unmuted", "hand", "deleted", "removed", "state", "direct"):
        assert kind in b1_kinds, kind
    assert "B-secret-0" in [e.text for e in b1.history if e.type == "msg"]
    fac_b_kinds = [e.type for e in fac_b.history]
    for kind in ("private", "report", "alert", "knock", "knock_gone"):
        assert kind in fac_b_kinds, kind
    assert all(e.text is None or not e.text.startswith("A-") for e in b1.history)
    assert {e.type for e in room_b[1].history} >= {"welcome", "msg"}


async def test_one_address_cannot_hold_more_than_its_share_of_waiting_connections(
    env: Env,
) -> None:
    """Connections at hello and on the rules screen are bounded per address and per link."""
    gid, fac, (a, b) = await room(env)
    limit = env.app.state.services.config.waiting_per_address
    away = {"X-Forwarded-For": "198.51.100.20"}
    idle = [
        await connect(ws_url(env), subprotocols=PROTOCOLS, additional_headers=away)
        for _ in range(limit)
    ]
    try:
        one_more = await connect(ws_url(env), subprotocols=PROTOCOLS, additional_headers=away)
        frames, code = await until_closed(one_more)
        assert (frames[0]["code"], code) == ("rate_limited", Close.AUTH)
        # Another address is not held up by it, and neither is the room.
        other = await connect(
            ws_url(env), subprotocols=PROTOCOLS,
            additional_headers={"X-Forwarded-For": "198.51.100.21"},
        )  # fmt: skip
        await other.send(pack({"t": "nonsense"}))
        frames, code = await until_closed(other)
        assert code == Close.PROTOCOL  # let in, then closed for its own frame
        await still_serving(fac, a, b)
    finally:
        for ws in idle:
            await ws.close()
    # One link on the rules screen: at most RULES_PER_LINK (a second tab), then refused.
    link = await env.link(gid)
    token = link.split("seat=", 1)[1].split("&", 1)[0]
    readers = []
    for n in range(env.app.state.services.config.rules_per_link + 1):
        ws = await connect(ws_url(env), subprotocols=PROTOCOLS)
        await ws.send(pack({"t": "hello", "v": VERSION, "role": "member", "link": token,
                            "name": f"Tab {n}"}))  # fmt: skip
        readers.append(ws)
    got = [msgpack.unpackb(await ws.recv(), raw=False) for ws in readers]
    assert [f["t"] for f in got[:-1]] == ["rules"] * (len(readers) - 1)
    assert got[-1]["code"] == "rate_limited"
    for ws in readers:
        await ws.close()
    await still_serving(fac, a, b)
