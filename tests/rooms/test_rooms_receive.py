"""``Session.receive``: every frame after the handshake, through the pipeline to its command.

Pure: no event loop, no socket. The shell only decodes and carries out what
these return, so what a member meets is decided here.
"""

from __future__ import annotations

from typing import Any

import pytest

from rooms.commands import COMMANDS, GOODBYES
from rooms.errors import Code, SafespaceError
from rooms.events import Deliver, Disconnect, SessionOver
from rooms.group import Group
from rooms.lifecycle import State
from rooms.session import Session
from rooms.wire import FACILITATOR_ONLY, INBOUND, Audience, Close, Inbound

T0 = 1_700_000_000.0
RULES = ("Be kind.",)


def frame(kind: str, /, **fields: Any) -> Inbound:
    return Inbound(kind, fields, None)


def room(**settings: Any) -> tuple[Session, str, str]:
    """A live, locked session with a facilitator and one member."""
    s = Session(Group(id="g1", title="T", ground_rules=RULES, facilitators=("fran",), **settings))
    f, _ = s.join_facilitator("fran", "Fran", b"fk")
    s.receive(f.pid, frame("open"), T0)
    ann, _ = s.join_member("seat-ann", "Ann", b"ak", s.group.rules_digest())
    s.receive(f.pid, frame("start"), T0)
    return s, f.pid, ann.pid


def refused(s: Session, pid: str, msg: Inbound, now: float = T0 + 1) -> Code:
    with pytest.raises(SafespaceError) as caught:
        s.receive(pid, msg, now)
    return caught.value.code


def test_every_inbound_frame_but_the_handshake_has_a_command() -> None:
    assert set(COMMANDS) == set(INBOUND) - {"hello", "accept"}
    assert set(COMMANDS) >= GOODBYES


def test_chat_gets_the_next_id_and_goes_to_the_room_as_it_came() -> None:
    s, f, ann = room()
    out = s.receive(ann, frame("chat", payload=b"\x01sealed"), T0 + 1)
    sent = {"t": "msg", "id": 1, "from": ann, "payload": b"\x01sealed", "ts": T0 + 1}
    assert out == [Deliver(Audience.ROOM, sent)]
    again = s.receive(f, frame("chat", payload=b"x"), T0 + 2)
    assert isinstance(again[0], Deliver) and again[0].frame["id"] == 2
    assert s.last_msg_id == 2


def test_the_pipeline_runs_first_and_a_refusal_changes_nothing() -> None:
    s, f, ann = room(slow_mode_seconds=30.0)
    assert refused(s, ann, frame("mute", pid=f)) is Code.FORBIDDEN
    s.receive(ann, frame("chat", payload=b"a"), T0 + 1)
    assert refused(s, ann, frame("chat", payload=b"b"), T0 + 2) is Code.SLOW_MODE
    assert s.last_msg_id == 1
    s.receive(f, frame("mute", pid=ann), T0 + 3)
    assert refused(s, ann, frame("chat", payload=b"c"), T0 + 60) is Code.MUTED
    # A muted member can still ask the facilitators for help.
    alert, told = s.receive(ann, frame("alert", kind="support"), T0 + 61)
    assert isinstance(alert, Deliver) and alert.to == Audience.FACILITATORS
    assert isinstance(told, Deliver) and told.to == ann and told.frame["status"] == "sent"


def test_slow_mode_follows_the_seat_across_reconnects() -> None:
    s, f, ann = room(slow_mode_seconds=30.0)
    s.receive(ann, frame("chat", payload=b"a"), T0 + 1)
    s.disconnected(ann, T0 + 2)
    back, _ = s.join_member("seat-ann", "Ann", b"ak2", s.group.rules_digest())
    assert back.pid == ann
    assert refused(s, ann, frame("chat", payload=b"b"), T0 + 3) is Code.SLOW_MODE


def test_a_goodbye_is_carried_out_then_closes_the_senders_connection() -> None:
    s, f, ann = room()
    out = s.receive(ann, frame("step_out"), T0 + 1)  # a break, not a goodbye
    assert not any(isinstance(o, Disconnect) for o in out)
    assert not s.participants[ann].present and s.participants[ann].connected
    # Away, a member cannot talk to the room, but can still reach the facilitators.
    assert refused(s, ann, frame("chat", payload=b"hi")) is Code.STEPPED_OUT
    assert refused(s, ann, frame("hand", up=True)) is Code.STEPPED_OUT
    s.receive(ann, frame("private", payload=b"ct"), T0 + 2)
    s.receive(ann, frame("alert", kind="support"), T0 + 3)
    out = s.receive(ann, frame("back"), T0 + 4)
    assert s.participants[ann].present
    assert refused(s, ann, frame("back")) is Code.ILLEGAL_TRANSITION
    out = s.receive(f, frame("leave"), T0 + 2)
    assert out[-1] == Disconnect(f, Close.NORMAL) and f not in s.participants


def test_a_knocker_may_only_say_goodbye() -> None:
    s, f, ann = room()
    bo, _ = s.join_member("seat-bo", "Bo", b"bk", s.group.rules_digest())
    assert bo.pid in s.knocks
    assert refused(s, bo.pid, frame("chat", payload=b"hi")) is Code.NOT_IN_ROOM
    assert refused(s, bo.pid, frame("hand", up=True)) is Code.NOT_IN_ROOM
    out = s.receive(bo.pid, frame("leave"), T0 + 1)
    assert out == [
        Deliver(Audience.FACILITATORS, {"t": "knock_gone", "pid": bo.pid}),
        Disconnect(bo.pid, Close.NORMAL),
    ]
    assert bo.pid not in s.knocks


def test_the_handshake_again_once_in_is_refused() -> None:
    s, f, ann = room()
    assert refused(s, ann, frame("accept", rules="x")) is Code.ILLEGAL_TRANSITION
    assert refused(s, ann, frame("hello", v=1, role="member")) is Code.ILLEGAL_TRANSITION


def test_facilitator_commands_reach_the_session() -> None:
    s, f, ann = room()
    for kind in sorted(FACILITATOR_ONLY - {"vouch"}):
        assert refused(s, ann, frame(kind)) is Code.FORBIDDEN
    s.receive(f, frame("timeout", pid=ann, seconds=60), T0 + 1)
    assert s.participants[ann].muted_until == T0 + 61
    assert s.next_deadline() == T0 + 61
    s.receive(f, frame("unlock"), T0 + 2)
    assert s.state is State.LIVE_UNLOCKED


def test_a_session_nobody_is_in_is_dropped_after_the_idle_time() -> None:
    s = Session(Group(id="g1", title="T", facilitators=("fran",)), idle_drop_seconds=600.0)
    f, _ = s.join_facilitator("fran", "Fran", b"fk")
    assert s.next_deadline() is None
    s.disconnected(f.pid, T0)
    assert s.next_deadline() == T0 + 600.0
    assert s.tick(T0 + 599.0) == []
    # Back in time: the drop is off.
    s.join_facilitator("fran", "Fran", b"fk")
    assert s.next_deadline() is None and s.tick(T0 + 700.0) == []
    s.disconnected(f.pid, T0 + 800.0)
    assert s.next_deadline() == T0 + 1400.0
    assert s.tick(T0 + 1400.0) == [SessionOver()]
    assert s.state is State.ENDED
