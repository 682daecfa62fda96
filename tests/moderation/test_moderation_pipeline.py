"""The server-side moderation pipeline of DESIGN.md section 4.1.

Each stage refuses with its own code, in the documented order:
authenticated -> in the roster -> role -> session state -> muted / timed out
-> rate (slow mode, flood, frame budget) -> size.
"""

from __future__ import annotations

from typing import Any

import pytest

from moderation.pipeline import PAYLOAD_FRAMES, WHILE_KNOCKING, Frame, check
from moderation.rate import FRAME_BUDGET, FRAME_WINDOW_SECONDS, KEY_BUDGET, SenderRate
from rooms.errors import Code, Rejected
from rooms.group import Group
from rooms.roster import Participant
from rooms.session import Session
from rooms.wire import FACILITATOR_ONLY, INBOUND

T0 = 1_700_000_000.0
LIMIT = 16 * 1024


class Room:
    """A live session with one facilitator and one member, each with a rate."""

    def __init__(self, **settings: Any) -> None:
        group = Group(
            id="g1", title="Tuesday", ground_rules=("Be kind.",), facilitators=("fran",), **settings
        )
        self.session = Session(group)
        self.fac, _ = self.session.join_facilitator("fran", "Fran", b"")
        self.session.open(self.fac.pid)
        self.member, _ = self.session.join_member("seat-ann", "Ann", b"", group.rules_digest())
        self.session.start(self.fac.pid, T0)
        self.rates = {self.fac.pid: SenderRate(), self.member.pid: SenderRate()}

    def rate(self, who: Participant) -> SenderRate:
        return self.rates[who.pid]

    def send(self, who: Participant | None, kind: str, now: float, size: int = 0) -> None:
        rate = self.rates[who.pid] if who is not None else SenderRate()
        check(
            Frame(kind, size),
            authenticated=True,
            sender=who,
            session=self.session,
            rate=rate,
            now=now,
        )

    def refused(self, who: Participant, kind: str, now: float, size: int = 0) -> Rejected:
        """The frame is refused, and nothing is counted for it."""
        rate = self.rates[who.pid]
        frames, chats, last = len(rate.recent_frames), len(rate.recent_chats), rate.last_chat
        with pytest.raises(Rejected) as info:
            self.send(who, kind, now, size)
        assert len(rate.recent_frames) <= frames
        assert len(rate.recent_chats) <= chats
        assert rate.last_chat == last
        return info.value

    def code(self, who: Participant, kind: str, now: float, size: int = 0) -> Code:
        return self.refused(who, kind, now, size).code


# ---- stage 1: authenticated ---------------------------------------------------------


def test_unauthenticated() -> None:
    room = Room()
    rate = SenderRate()
    for sender in (room.member, room.fac, None):
        with pytest.raises(Rejected) as info:
            check(
                Frame("chat", 10),
                authenticated=False,
                sender=sender,
                session=room.session,
                rate=rate,
                now=T0,
            )
        assert info.value.code is Code.UNAUTHENTICATED


def test_no_session_is_unauthenticated() -> None:
    room = Room()
    with pytest.raises(Rejected) as info:
        check(
            Frame("leave"),
            authenticated=True,
            sender=None,
            session=None,
            rate=SenderRate(),
            now=T0,
        )
    assert info.value.code is Code.UNAUTHENTICATED
    with pytest.raises(Rejected) as info:
        check(
            Frame("chat"),
            authenticated=True,
            sender=room.member,
            session=None,
            rate=SenderRate(),
            now=T0,
        )
    assert info.value.code is Code.UNAUTHENTICATED


# ---- stage 2: in the roster -------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(set(INBOUND) - WHILE_KNOCKING))
def test_not_in_room(kind: str) -> None:
    room = Room()
    with pytest.raises(Rejected) as info:
        room.send(None, kind, T0)
    assert info.value.code is Code.NOT_IN_ROOM


@pytest.mark.parametrize("kind", sorted(WHILE_KNOCKING))
def test_knockers_may_leave_or_step_out(kind: str) -> None:
    assert {"leave", "step_out"} == WHILE_KNOCKING
    room = Room()
    rate = SenderRate()
    for i in range(FRAME_BUDGET * 2):
        check(
            Frame(kind),
            authenticated=True,
            sender=None,
            session=room.session,
            rate=rate,
            now=T0 + i * 0.01,
        )


# ---- stage 3: role -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(FACILITATOR_ONLY))
def test_facilitator_frames_from_a_member_are_forbidden(kind: str) -> None:
    room = Room()
    assert room.code(room.member, kind, T0) is Code.FORBIDDEN


@pytest.mark.parametrize("kind", sorted(FACILITATOR_ONLY))
def test_facilitator_frames_from_a_facilitator_pass(kind: str) -> None:
    room = Room()
    room.send(room.fac, kind, T0)


@pytest.mark.parametrize("kind", sorted(set(INBOUND) - FACILITATOR_ONLY - {"hello"}))
def test_member_frames_pass(kind: str) -> None:
    room = Room()
    room.send(room.member, kind, T0, 10)


# ---- stage 4: session state ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["chat", "private", "hand", "leave", "direct"])
def test_session_ended(kind: str) -> None:
    room = Room()
    room.session.end(room.fac.pid)
    assert room.code(room.member, kind, T0) is Code.SESSION_ENDED
    assert room.code(room.fac, kind, T0) is Code.SESSION_ENDED
    assert room.code(room.fac, "end", T0) is Code.SESSION_ENDED


def test_session_paused_holds_member_chat_only() -> None:
    room = Room()
    room.session.pause(room.fac.pid)
    assert room.code(room.member, "chat", T0, 10) is Code.SESSION_PAUSED
    room.send(room.fac, "chat", T0, 10)
    for kind in ("private", "report", "direct", "hand", "alert", "step_out"):
        room.send(room.member, kind, T0, 10)
    room.session.resume(room.fac.pid)
    room.send(room.member, "chat", T0, 10)


# ---- stage 5: muted or timed out -------------------------------------------------------------


def test_muted() -> None:
    room = Room()
    room.session.mute(room.fac.pid, room.member.pid)
    err = room.refused(room.member, "chat", T0 + 10**6, 10)
    assert err.code is Code.MUTED
    assert err.detail == {}
    # A muted member may still ask for help and hand out keys.
    for kind in ("private", "report", "direct", "hand"):
        room.send(room.member, kind, T0, 10)
    room.session.unmute(room.fac.pid, room.member.pid)
    room.send(room.member, "chat", T0, 10)


def test_timed_out_and_passes_after_the_time_out() -> None:
    room = Room()
    room.session.time_out(room.fac.pid, room.member.pid, 60, T0)
    err = room.refused(room.member, "chat", T0 + 59.9, 10)
    assert err.code is Code.TIMED_OUT
    assert err.detail == {"until": T0 + 60}
    room.send(room.member, "private", T0 + 30, 10)
    # Over without waiting for the session's tick.
    room.send(room.member, "chat", T0 + 60, 10)


# ---- stage 6: rate ----------------------------------------------------------------------------


def test_slow_mode() -> None:
    room = Room()
    room.session.set_slow_mode(room.fac.pid, 5)
    room.send(room.member, "chat", T0, 10)
    err = room.refused(room.member, "chat", T0 + 2, 10)
    assert err.code is Code.SLOW_MODE
    assert err.detail == {"retry_after": 3.0}
    assert room.code(room.member, "chat", T0 + 4.9, 10) is Code.SLOW_MODE
    room.send(room.member, "chat", T0 + 5, 10)
    assert room.code(room.member, "chat", T0 + 6, 10) is Code.SLOW_MODE


def test_slow_mode_holds_member_chat_only() -> None:
    room = Room()
    room.session.set_slow_mode(room.fac.pid, 30)
    room.send(room.member, "chat", T0, 10)
    for i, kind in enumerate(("private", "report", "direct", "hand")):
        room.send(room.member, kind, T0 + 0.1 * i, 10)
    room.send(room.fac, "chat", T0, 10)
    room.send(room.fac, "chat", T0 + 0.1, 10)


def test_slow_mode_from_the_group_settings() -> None:
    room = Room(slow_mode_seconds=2.0)
    room.send(room.member, "chat", T0, 10)
    assert room.code(room.member, "chat", T0 + 1, 10) is Code.SLOW_MODE
    room.send(room.member, "chat", T0 + 2, 10)


@pytest.mark.parametrize("attempt", [2.66, 4.96])
def test_waiting_retry_after_always_gets_through(attempt: float) -> None:
    room = Room()
    room.session.set_slow_mode(room.fac.pid, 5)
    room.send(room.member, "chat", T0, 10)
    err = room.refused(room.member, "chat", T0 + attempt, 10)
    assert err.code is Code.SLOW_MODE
    retry_after = err.detail["retry_after"]
    assert isinstance(retry_after, float)
    assert retry_after > 0
    room.send(room.member, "chat", T0 + attempt + retry_after, 10)


def test_flood_after_flood_messages_within_the_window() -> None:
    room = Room()  # 5 messages per 10 s by default
    g = room.session.group
    assert (g.flood_messages, g.flood_window_seconds) == (5, 10.0)
    for i in range(5):
        room.send(room.member, "chat", T0 + i, 10)
    assert room.code(room.member, "chat", T0 + 5, 10) is Code.FLOOD
    assert room.code(room.member, "chat", T0 + 9.99, 10) is Code.FLOOD
    # Other frames are not held back by flood control.
    room.send(room.member, "private", T0 + 9.99, 10)
    # The first message has left the window.
    room.send(room.member, "chat", T0 + 10, 10)
    assert room.code(room.member, "chat", T0 + 10.5, 10) is Code.FLOOD


def test_flood_settings_from_the_group() -> None:
    room = Room(flood_messages=2, flood_window_seconds=30.0)
    room.send(room.member, "chat", T0, 10)
    room.send(room.member, "chat", T0 + 1, 10)
    assert room.code(room.member, "chat", T0 + 29, 10) is Code.FLOOD
    room.send(room.member, "chat", T0 + 30, 10)


def test_facilitator_chat_has_no_rate_limit() -> None:
    # rate.py: chat has its own limits, "none for facilitators, who hold the room".
    room = Room(slow_mode_seconds=60.0)
    for i in range(FRAME_BUDGET * 3):
        room.send(room.fac, "chat", T0 + i * 0.01, 10)
    assert list(room.rate(room.fac).recent_frames) == []
    assert list(room.rate(room.fac).recent_chats) == []


@pytest.mark.parametrize("who", ["member", "fac"])
def test_frame_budget(who: str) -> None:
    room = Room()
    sender = room.member if who == "member" else room.fac
    for i in range(FRAME_BUDGET):
        room.send(sender, "hand", T0 + i * 0.01)
    assert len(room.rate(sender).recent_frames) == 60
    assert room.code(sender, "hand", T0 + 1, 0) is Code.FLOOD
    assert room.code(sender, "private", T0 + 9.9, 10) is Code.FLOOD
    # The window moves on: the first frame (at T0) is forgotten at T0 + 10.
    room.send(sender, "hand", T0 + FRAME_WINDOW_SECONDS)


def test_chat_has_its_own_limits_not_the_frame_budget() -> None:
    room = Room(flood_messages=100)
    for i in range(FRAME_BUDGET):
        room.send(room.member, "hand", T0 + i * 0.01)
    assert room.code(room.member, "hand", T0 + 1) is Code.FLOOD
    # The budget is spent, yet chat still goes (slow mode and flood allowing) ...
    for i in range(10):
        room.send(room.member, "chat", T0 + 1 + i * 0.01, 10)
    # ... and chats never fill the budget.
    assert len(room.rate(room.member).recent_frames) == FRAME_BUDGET
    assert len(room.rate(room.member).recent_chats) == 10


def test_passing_frames_are_counted() -> None:
    room = Room()
    room.send(room.member, "chat", T0, 10)
    room.send(room.member, "private", T0 + 1, 10)
    room.send(room.fac, "chat", T0 + 2, 10)
    room.send(room.fac, "mute", T0 + 3)
    member, fac = room.rate(room.member), room.rate(room.fac)
    assert list(member.recent_chats) == [T0]
    assert member.last_chat == T0
    assert list(member.recent_frames) == [T0 + 1]
    assert list(fac.recent_chats) == []
    assert list(fac.recent_frames) == [T0 + 3]


# ---- stage 7: size ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(PAYLOAD_FRAMES))
@pytest.mark.parametrize("who", ["member", "fac"])
def test_too_large(kind: str, who: str) -> None:
    room = Room()
    sender = room.member if who == "member" else room.fac
    assert room.session.group.max_payload_bytes == LIMIT
    err = room.refused(sender, kind, T0, LIMIT + 1)
    assert err.code is Code.TOO_LARGE
    assert err.detail == {"limit": LIMIT}
    room.send(sender, kind, T0, LIMIT)


def test_too_large_follows_the_group_limit() -> None:
    room = Room(max_payload_bytes=100)
    assert room.refused(room.member, "chat", T0, 101).detail == {"limit": 100}
    room.send(room.member, "chat", T0, 100)


def test_size_is_only_checked_for_payload_frames() -> None:
    room = Room()
    room.send(room.member, "hand", T0, LIMIT * 10)


# ---- the order --------------------------------------------------------------------------------


def test_unauthenticated_wins_over_not_in_room() -> None:
    room = Room()
    with pytest.raises(Rejected) as info:
        check(
            Frame("chat"),
            authenticated=False,
            sender=None,
            session=room.session,
            rate=SenderRate(),
            now=T0,
        )
    assert info.value.code is Code.UNAUTHENTICATED


def test_forbidden_wins_over_session_state() -> None:
    room = Room()
    room.session.pause(room.fac.pid)
    assert room.code(room.member, "resume", T0) is Code.FORBIDDEN
    room.session.end(room.fac.pid)
    assert room.code(room.member, "end", T0) is Code.FORBIDDEN


def test_ended_wins_over_muted_and_size() -> None:
    room = Room()
    room.session.mute(room.fac.pid, room.member.pid)
    member = room.member
    room.session.end(room.fac.pid)
    assert room.code(member, "chat", T0, LIMIT + 1) is Code.SESSION_ENDED


def test_paused_wins_over_muted_and_size() -> None:
    room = Room()
    room.session.mute(room.fac.pid, room.member.pid)
    room.session.pause(room.fac.pid)
    assert room.code(room.member, "chat", T0, LIMIT + 1) is Code.SESSION_PAUSED


def test_muted_wins_over_flood() -> None:
    room = Room()
    for i in range(5):
        room.send(room.member, "chat", T0 + i * 0.1, 10)
    assert room.code(room.member, "chat", T0 + 1, 10) is Code.FLOOD
    room.session.mute(room.fac.pid, room.member.pid)
    assert room.code(room.member, "chat", T0 + 1, 10) is Code.MUTED


def test_timed_out_wins_over_slow_mode() -> None:
    room = Room()
    room.session.set_slow_mode(room.fac.pid, 60)
    room.send(room.member, "chat", T0, 10)
    room.session.time_out(room.fac.pid, room.member.pid, 30, T0)
    assert room.code(room.member, "chat", T0 + 1, 10) is Code.TIMED_OUT


def test_slow_mode_wins_over_flood_and_size() -> None:
    room = Room(flood_messages=1)
    room.session.set_slow_mode(room.fac.pid, 5)
    room.send(room.member, "chat", T0, 10)
    assert room.code(room.member, "chat", T0 + 1, LIMIT + 1) is Code.SLOW_MODE


def test_keys_have_a_budget_of_their_own() -> None:
    # A room that reconnects at once makes every client hand its keys to
    # everyone again: that must not spend the budget of hands and commands.
    room = Room()
    for i in range(FRAME_BUDGET):
        room.send(room.member, "hand", T0 + i * 0.01)
    assert room.code(room.member, "hand", T0 + 1) is Code.FLOOD
    for i in range(KEY_BUDGET):
        room.send(room.member, "direct", T0 + 1 + i * 0.001, 100)
    assert room.code(room.member, "direct", T0 + 2, 100) is Code.FLOOD
    room.send(room.fac, "direct", T0 + 2, 100)  # budgets are per sender
    assert len(room.rate(room.member).recent_keys) == KEY_BUDGET
    assert len(room.rate(room.member).recent_frames) == FRAME_BUDGET


def test_flood_and_budget_win_over_size() -> None:
    room = Room()
    for i in range(5):
        room.send(room.member, "chat", T0 + i * 0.1, 10)
    assert room.code(room.member, "chat", T0 + 1, LIMIT + 1) is Code.FLOOD
    for i in range(FRAME_BUDGET):
        room.send(room.fac, "private", T0 + i * 0.01, 10)
    assert room.code(room.fac, "private", T0 + 1, LIMIT + 1) is Code.FLOOD


# ---- a refused attempt is not counted ------------------------------------------------------


def test_refused_chats_do_not_count_against_flood() -> None:
    room = Room()
    for _ in range(50):
        room.refused(room.member, "chat", T0, LIMIT + 1)
    room.session.pause(room.fac.pid)
    for _ in range(50):
        room.refused(room.member, "chat", T0, 10)
    room.session.resume(room.fac.pid)
    room.session.mute(room.fac.pid, room.member.pid)
    for _ in range(50):
        room.refused(room.member, "chat", T0, 10)
    room.session.unmute(room.fac.pid, room.member.pid)
    assert list(room.rate(room.member).recent_chats) == []
    assert list(room.rate(room.member).recent_frames) == []
    for i in range(5):
        room.send(room.member, "chat", T0 + i * 0.1, 10)


def test_refused_chats_do_not_push_back_slow_mode() -> None:
    room = Room()
    room.session.set_slow_mode(room.fac.pid, 5)
    room.send(room.member, "chat", T0, 10)
    for t in (1, 2, 3, 4):
        assert room.code(room.member, "chat", T0 + t, 10) is Code.SLOW_MODE
    room.send(room.member, "chat", T0 + 5, 10)


def test_refused_frames_do_not_count_against_the_budget() -> None:
    room = Room()
    for _ in range(FRAME_BUDGET * 2):
        room.refused(room.member, "mute", T0)
    for _ in range(FRAME_BUDGET * 2):
        room.refused(room.member, "chat", T0, LIMIT + 1)
    for i in range(FRAME_BUDGET):
        room.send(room.member, "hand", T0 + i * 0.01)


def test_a_flood_refusal_is_not_counted_either() -> None:
    room = Room()
    for i in range(5):
        room.send(room.member, "chat", T0 + i, 10)
    for _ in range(20):
        room.refused(room.member, "chat", T0 + 9, 10)
    # Only the five that passed are in the window; the first leaves at T0 + 10.
    room.send(room.member, "chat", T0 + 10, 10)
