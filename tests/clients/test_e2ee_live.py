"""End-to-end encryption through the real server, with the real client library.

The pure tests (test_e2ee_room.py) prove each property against an in-memory
relay; these prove that the same holds over real websockets, with the server's
own frames, ids and ordering, and that the server never holds a readable byte.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import Env

import chatserver.connection
import chatserver.hub
import chatserver.ws
from clients.client import ChatClient, Event
from clients.e2ee import CannotSeal, IdentityKey, Why
from clients.e2ee.admission import identities_from_link
from rooms.events import Deliver
from rooms.wire import Audience

MARKER = "E2EE-MARKER-51c0de"


async def verified_room(
    env: Env, members: list[str]
) -> tuple[str, ChatClient, list[ChatClient], Callable[[], Any]]:
    """A facilitator (encrypting) and members joined through links that carry its key."""
    gid = await env.group()
    fac = await env.host(gid, e2ee=True, identity=IdentityKey.generate())
    assert fac.identity is not None

    async def link() -> str:
        # The facilitator's client registered the identity key it was given
        # on entering, so every link made for the group from now on carries it.
        made = await env.link(gid)
        assert identities_from_link(made) == [fac.identity.public]  # type: ignore[union-attr]
        return made

    people = []
    for name in members:
        people.append(await env.member(await link(), name, e2ee=True))
        await fac.next("joined")
    await ready(fac, *people)
    return gid, fac, people, link


async def ready(*clients: ChatClient) -> None:
    for c in clients:
        await c.keys_ready()


async def read(client: ChatClient, kind: str = "msg", sender: str | None = None) -> Event:
    """The next ``kind`` event (from ``sender`` only, if given: skips one's own echoes)."""
    while True:
        event = await client.next(kind)
        if sender is None or event["from"] == sender:
            return event


class Wire:
    """Every frame the server decoded from a client or encoded for one, as bytes."""

    def __init__(self, patch: pytest.MonkeyPatch) -> None:
        self.inbound: list[bytes] = []
        self.outbound: list[bytes] = []
        decode, hub_encode, conn_encode = (
            chatserver.ws.decode,
            chatserver.hub.encode,
            chatserver.connection.encode,
        )

        def recording_decode(data: bytes) -> object:
            self.inbound.append(bytes(data))
            return decode(data)

        def recording(encode: Callable[[dict[str, Any]], bytes]) -> Callable[..., bytes]:
            def inner(frame: dict[str, Any]) -> bytes:
                data = encode(frame)
                self.outbound.append(data)
                return data

            return inner

        patch.setattr(chatserver.ws, "decode", recording_decode)
        patch.setattr(chatserver.hub, "encode", recording(hub_encode))
        patch.setattr(chatserver.connection, "encode", recording(conn_encode))

    def holds(self, needle: bytes) -> bool:
        return any(needle in data for data in self.inbound + self.outbound)


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    yield Wire(monkeypatch)


async def test_a_facilitator_without_a_kept_identity_registers_none(env: Env) -> None:
    """A key made for one session only must never reach a link: its private
    half is gone with the process, and it would overwrite the kept one."""
    gid = await env.group()
    kept = IdentityKey.generate()
    first = await env.host(gid, e2ee=True, identity=kept)
    assert await env.store.identities(["alex"]) == {"alex": kept.public}
    await first.close()
    again = await env.host(gid, e2ee=True, open_room=False)
    assert again.identity is not None and again.identity != kept  # for this session only
    assert await env.store.identities(["alex"]) == {"alex": kept.public}
    assert identities_from_link(await env.link(gid)) == [kept.public]
    other = await env.group(facilitator="sam")
    await env.host(other, "sam", e2ee=True)
    assert await env.store.identities(["sam"]) == {}
    assert identities_from_link(await env.link(other, "sam")) == []


async def test_members_read_each_other_and_the_server_relays_only_ciphertext(
    env: Env, wire: Wire
) -> None:
    gid, fac, (ann, ben, cat), _ = await verified_room(env, ["Ann", "Ben", "Cat"])
    await ann.send(f"hello {MARKER}")
    for c in (fac, ann, ben, cat):
        got = await read(c)
        assert got.text == f"hello {MARKER}"
        assert got["from"] == ann.pid
    await fac.send("welcome, all")
    assert {(await read(c)).text for c in (ann, ben, cat)} == {"welcome, all"}
    # Everyone is verified in everyone's view, and nobody was warned.
    for c in (fac, ann, ben, cat):
        assert all(entry["verified"] for entry in c.roster.values()), c.roster
        assert c.warnings() == []
    # The server carried the payloads, and none of them as text.
    assert any(b"chat" in data for data in wire.inbound)
    assert not wire.holds(MARKER.encode())


async def test_a_late_joiner_cannot_read_what_came_before(env: Env) -> None:
    gid, fac, (ann, ben), link = await verified_room(env, ["Ann", "Ben"])
    await ann.send("said before Lee came")
    before = await read(ben)
    assert before.text == "said before Lee came"
    lee = await env.member(await link(), "Lee", e2ee=True)
    await ready(fac, ann, ben, lee)
    # Even handed the earlier ciphertext, Lee's client cannot open it.
    with pytest.raises(ValueError):
        lee.codec.open(before.fields)
    await ann.send("said after Lee came")
    assert (await read(lee)).text == "said after Lee came"


async def test_a_removed_member_cannot_read_what_follows(env: Env) -> None:
    gid, fac, (ann, ben, cat), _ = await verified_room(env, ["Ann", "Ben", "Cat"])
    await ann.send("while Cat is here")
    assert (await read(cat)).text == "while Cat is here"
    await fac.remove(cat.pid)
    await cat.closed()
    for c in (fac, ann, ben):
        await c.next("removed")
    await ready(fac, ann, ben)
    later = []
    for sender, text in ((ann, "after Cat left"), (ben, "and more"), (fac, "from the host")):
        await sender.send(text)
        got = await read(ben if sender is not ben else ann, sender=sender.pid)
        assert got.text == text
        later.append(got)
    # Every later ciphertext, handed to Cat's client (which still holds every
    # key it ever had), stays unreadable.
    for got in later:
        with pytest.raises(ValueError):
            cat.codec.open(got.fields)


async def test_a_removed_member_the_server_puts_back_is_trusted_by_nobody(env: Env) -> None:
    """A hostile server replays the removed member's old roster entry (keys, vouches).

    The server is real; the test has it send the room the ``joined`` frame it
    kept from before the removal, and lets the removed client listen again.
    The facilitator's device signed the removal and moved its anchor, so no
    member's client trusts those keys again or hands them a chain.
    """
    gid, fac, (ann, ben, cat), _ = await verified_room(env, ["Ann", "Ben", "Cat"])
    room = env.hub.rooms[gid]
    old_entry = room.session.participants[cat.pid].public()
    await fac.remove(cat.pid)
    await cat.closed()
    for c in (fac, ann, ben):
        removed = await c.next("removed")
        assert removed["by"] == fac.identity.public  # type: ignore[union-attr]
    await ready(fac, ann, ben)
    await env.hub.carry_out(room, [Deliver(Audience.ROOM, {"t": "joined", "p": old_entry})])
    for c in (ann, ben):
        await c.next("joined")
        assert c.roster[cat.pid]["verified"] is False
        assert not c.codec.trusted(cat.pid)
    await ann.send("the group, after Cat")
    got = await read(ben, sender=ann.pid)
    assert got.text == "the group, after Cat"
    with pytest.raises(ValueError):
        cat.codec.open(got.fields)


async def test_private_messages_and_reports_reach_only_the_facilitators_and_verify(
    env: Env, wire: Wire
) -> None:
    gid, fac, (ann, ben), _ = await verified_room(env, ["Ann", "Ben"])
    await ann.send(f"something hurtful {MARKER}")
    reported = await read(ben)
    await read(fac)
    await ben.private(f"I am not OK {MARKER}")
    private = await fac.next("private")
    assert private.text == f"I am not OK {MARKER}"
    await ann.nothing("private")
    await ben.report(reported["id"], f"please look {MARKER}")
    report = await fac.next("report")
    assert report.verified is True
    assert report.reported is not None
    assert report.reported.sender == ann.pid
    assert report.reported.text == f"something hurtful {MARKER}"
    assert report.text == f"please look {MARKER}"
    assert not wire.holds(MARKER.encode())


async def test_a_content_warning_travels_encrypted_and_a_long_one_is_not_sent(
    env: Env, wire: Wire
) -> None:
    gid, fac, (ann, ben), _ = await verified_room(env, ["Ann", "Ben"])
    await ann.send(f"hard words {MARKER}", cw=f" loss {MARKER} ")
    for c in (fac, ann, ben):  # ann: its own echo
        got = await read(c)
        assert (got.text, got.cw) == (f"hard words {MARKER}", f"loss {MARKER}")
        assert MARKER not in repr(got)
    await ben.report(got["id"], "please look")
    report = await fac.next("report")
    assert report.verified is True and report.reported is not None
    assert report.reported.cw == f"loss {MARKER}"
    with pytest.raises(CannotSeal) as caught:
        await ann.send("too much", cw="w" * 81)
    assert caught.value.why is Why.CW_TOO_LONG
    await ben.nothing("msg")
    await ann.send("plain")
    assert (await read(ben)).cw is None
    assert not wire.holds(MARKER.encode())


async def test_a_participant_the_server_slips_in_gets_nothing_it_can_read(env: Env) -> None:
    """A hostile server adds a listener and hides it from the facilitators.

    The server here is real; only the session is patched to do what a hostile
    operator could: show the newcomer's arrival to the members but not to the
    facilitators, so no facilitator's client ever sees it to vouch for it.
    """
    gid, fac, (ann, ben), link = await verified_room(env, ["Ann", "Ben"])
    session = env.hub.rooms[gid].session
    honest_join = session.join_member

    def hidden_join(*args: Any, **kw: Any) -> Any:
        p, outcomes = honest_join(*args, **kw)
        facilitators = {q.pid for q in session.participants.values() if q.is_facilitator}
        others = [q for q in session.participants.values() if q.pid not in facilitators]
        hidden = []
        for o in outcomes:
            if isinstance(o, Deliver) and o.to == Audience.ROOM and o.frame["t"] == "joined":
                hidden.extend(Deliver(q.pid, o.frame) for q in others)
            else:
                hidden.append(o)
        return p, hidden

    session.join_member = hidden_join
    spy = await env.member(await link(), "Spy", e2ee=True)
    await ann.next("joined")
    await ben.next("joined")
    await fac.nothing("joined")
    assert spy.pid not in fac.roster

    await ann.send("only for the group")
    assert (await read(ben)).text == "only for the group"
    got = await read(spy)
    assert got.text is None  # the ciphertext reached it; no key did
    # The members were told, and show the newcomer as not verified.
    warning = await ann.next("warning")
    assert warning["code"] == "untrusted" and warning["pid"] == spy.pid
    assert ann.roster[spy.pid]["verified"] is False
    assert not any(e.type == "direct" and e["from"] != spy.pid for e in spy.history), (
        "no member handed the spy a key"
    )


async def test_the_marker_reaches_no_log_row_metric_or_error(
    env: Env, wire: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    """DESIGN section 5 and issue 4's audit: a whole session with encryption on."""
    caplog.set_level(logging.DEBUG)
    gid, fac, (ann, ben), link = await verified_room(env, ["Ann", "Ben"])
    await ann.send(f"chat {MARKER}")
    msg = await read(ben)
    await ben.private(f"private {MARKER}")
    await fac.next("private")
    await ben.report(msg["id"], f"report {MARKER}")
    assert (await fac.next("report")).verified is True
    await fac.mute(ann.pid)
    await ann.next("muted")
    await ann.send(f"muted {MARKER}")  # refused: the error must not echo it
    errors = [await ann.next("error")]
    await fac.end()
    await fac.closed()

    assert [e["code"] for e in errors] == ["muted"]
    await env.assert_no_trace(MARKER, caplog.text, errors)
    assert not wire.holds(MARKER.encode())
    # ...while the people in the room did read it: the marker really went through.
    assert msg.text == f"chat {MARKER}"
