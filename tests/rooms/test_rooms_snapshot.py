"""A live session as data and back (rooms/snapshot.py): a takeover keeps what was decided.

The node that takes a room over restores it from the last snapshot: the lock,
mutes and time-outs, bars, knocks, open support requests and the roster with
keys and vouches hold there, message ids keep rising, and no pid is issued
twice. The snapshot travels as msgpack through Redis, so every test goes
through the project's own codec.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_rooms_session import STARTED, join, knock, live, refused

from rooms.codec import decode, encode
from rooms.errors import AuthError, Code, Invalid
from rooms.lifecycle import State
from rooms.session import Session
from rooms.snapshot import restore, snapshot
from rooms.wire import Inbound

MARKER = b"SNAPSHOT-MARKER-7f3a"


def through_the_wire(s: Session, id_gap: int = 0) -> Session:
    return restore(s.group, decode(encode(snapshot(s))), id_gap=id_gap)


def busy_room() -> tuple[Session, str, list[str], str]:
    s, f, (ann, ben, cat) = live(("Ann", "Ben", "Cat"))
    s.vouch(f, ann, b"i" * 32, b"a" * 16, b"s" * 64)
    s.chat(ann, MARKER, STARTED + 1)  # ciphertext passes through, never kept
    s.mute(f, ben)
    s.time_out(f, cat, 300, STARTED + 2)
    s.alert(ann, "support", None, STARTED + 3)
    s.step_out(ann)
    s.remove(f, s.participants[cat].pid, False)
    lee = knock(s, "Lee")
    return s, f, [ann, ben], lee


def test_the_snapshot_round_trips_through_msgpack_and_holds_no_message() -> None:
    s, *_ = busy_room()
    raw = encode(snapshot(s))
    assert MARKER not in raw
    again = through_the_wire(s)
    assert snapshot(again) == snapshot(s)


def test_a_restored_session_keeps_the_lock_mutes_bars_knocks_and_alerts() -> None:
    s, f, (ann, ben), lee = busy_room()
    r = through_the_wire(s)
    assert r.state is State.LIVE_LOCKED and r.id == s.id
    assert [a["kind"] for a in r.alerts.all()] == ["support"]
    assert list(r.knocks) == [lee]
    assert not any(p.connected for p in r.participants.values())  # until re-attached
    r.participants[ben].connected = True
    chat = Inbound("chat", {"payload": b"x"}, None)
    refused(r, Code.MUTED, lambda: r.receive(ben, chat, STARTED + 10))
    with pytest.raises(AuthError) as caught:  # the removed seat stays out
        r.check_door("seat-cat", None)
    assert caught.value.code is Code.REMOVED
    late = join(r, "Zoe")  # the door is still locked: a newcomer knocks
    assert late.pid in r.knocks and late.pid not in (ann, ben, lee)
    assert r.participants[ann].vouches == s.participants[ann].vouches
    assert not r.participants[ann].present  # still on a break


def test_message_ids_keep_rising_past_what_the_old_owner_may_have_issued() -> None:
    s, f, (ann, ben), _ = busy_room()
    last = s.last_msg_id
    r = through_the_wire(s, id_gap=65536)
    r.participants[f].connected = True
    out = r.chat(f, b"after the takeover", STARTED + 20)
    ids = [o.frame["id"] for o in out if getattr(o, "frame", {}).get("t") == "msg"]
    assert ids == [last + 65536 + 1]


def test_a_snapshot_of_another_group_or_a_damaged_one_is_refused() -> None:
    s, *_ = busy_room()
    data = snapshot(s)
    with pytest.raises(Invalid):
        restore(replace(s.group, id="g_other"), data)
    with pytest.raises(Invalid):
        restore(s.group, {**data, "participants": [{"pid": "p1"}]})
    with pytest.raises(Invalid):
        restore(s.group, {**data, "format": 99})
