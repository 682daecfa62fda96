"""One live session: the door, the lifecycle and facilitator actions.

Every refusal is checked twice: the code it raises, and that the session is
exactly as it was before (state, roster, knocks, seats, bars, reminders).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pytest

from rooms.errors import REASONS, AuthError, Code, DomainError, SafespaceError
from rooms.events import Admitted, Deliver, Disconnect, Outcome, RevokeSeat, SessionOver
from rooms.group import Group
from rooms.lifecycle import State
from rooms.roster import Participant, Role
from rooms.session import REMINDERS, Session
from rooms.wire import Audience, Close

T0 = 1_700_000_000.0
STARTED = T0 + 60.0
RULES = ("Be kind.", "What is said here stays here.")
ROOM = Audience.ROOM
FACS = Audience.FACILITATORS


# ---- helpers -------------------------------------------------------------------


def make_group(**settings: Any) -> Group:
    return Group(
        id="g1", title="Tuesday group", ground_rules=RULES, facilitators=("fran",), **settings
    )


def scheduled(**settings: Any) -> tuple[Session, str]:
    s = Session(make_group(**settings))
    f, _ = s.join_facilitator("fran", "Fran", b"fran-keys")
    return s, f.pid


def lobby(**settings: Any) -> tuple[Session, str]:
    s, f = scheduled(**settings)
    s.open(f)
    return s, f


def seat_of(name: str) -> str:
    return f"seat-{name.lower()}"


def join(s: Session, name: str, seat: str | None = None) -> Participant:
    p, _ = s.join_member(seat or seat_of(name), name, name.encode(), s.group.rules_digest())
    return p


def live(
    names: tuple[str, ...] = ("Ann", "Ben"), **settings: Any
) -> tuple[Session, str, list[str]]:
    s, f = lobby(**settings)
    pids = [join(s, n).pid for n in names]
    s.start(f, STARTED)
    return s, f, pids


def knock(s: Session, name: str) -> str:
    p = join(s, name)
    assert p.pid in s.knocks
    return p.pid


def snapshot(s: Session) -> dict[str, Any]:
    return {
        "state": s.state,
        "paused": s.paused,
        "started_at": s.started_at,
        "slow": s.slow_mode_seconds,
        "last_msg_id": s.last_msg_id,
        "participants": [(pid, asdict(p)) for pid, p in s.participants.items()],
        "knocks": [(pid, asdict(p)) for pid, p in s.knocks.items()],
        "seats": dict(s._pid_of_seat),
        "barred": dict(s._barred),
        "reminders": list(s._reminders),
        "counter": s._pids_issued,
    }


def refused(
    s: Session,
    code: Code,
    call: Callable[[], object],
    exc_type: type[SafespaceError] = SafespaceError,
) -> SafespaceError:
    """``call`` raises ``code`` (as ``exc_type``) and leaves ``s`` exactly as it was."""
    before = snapshot(s)
    with pytest.raises(exc_type) as info:
        call()
    assert info.value.code is code
    assert snapshot(s) == before
    return info.value


def state_frame(state: str, **over: Any) -> dict[str, Any]:
    frame = {
        "t": "state",
        "state": state,
        "paused": False,
        "started_at": None,
        "slow_mode_seconds": 0.0,
    }
    frame.update(over)
    return frame


def error_frame(code: Code, **detail: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"t": "error", "code": str(code), "message": REASONS[code]}
    if detail:
        out["detail"] = detail
    return out


def delivered(outcomes: list[Outcome]) -> list[tuple[str, str]]:
    return [(o.to, o.frame["t"]) for o in outcomes if isinstance(o, Deliver)]


# ---- facilitators, opening and joining -------------------------------------------


def test_facilitator_joins_while_scheduled() -> None:
    s = Session(make_group())
    f, out = s.join_facilitator("fran", "Fran", b"fk")
    assert f.role is Role.FACILITATOR
    assert s.state is State.SCHEDULED
    assert s.participants == {f.pid: f}
    assert s.members() == []
    assert len(out) == 2
    welcome, joined = out
    assert isinstance(welcome, Deliver) and welcome.to == f.pid
    w = welcome.frame
    assert w["t"] == "welcome"
    assert w["you"] == f.pid
    assert w["role"] == "facilitator"
    assert w["state"] == "scheduled"
    assert w["paused"] is False
    assert w["started_at"] is None
    assert w["last_msg"] == 0
    # The session's id is bound into every signature and key of the
    # encryption layer: random, and never the same for two sessions.
    assert w["session"] == s.id and len(s.id) == 32
    assert Session(s.group).id != s.id
    assert w["knocks"] == []
    assert w["roster"] == [f.public()]
    assert w["group"] == {
        "id": "g1",
        "title": "Tuesday group",
        "capacity": 8,
        "duration_minutes": 70,
        "crisis_resources": [],
        "content_rules": None,
    }
    assert joined == Deliver(ROOM, {"t": "joined", "p": f.public()})


def test_facilitator_rejoins_with_the_same_pid() -> None:
    s, f = lobby()
    s.step_out(f)
    p, out = s.join_facilitator("fran", "Fran", b"new")
    assert p.pid == f and p.present and p.keys == b"new"
    assert out[1] == Deliver(
        ROOM,
        {
            "t": "presence",
            "pid": f,
            "present": True,
            "connected": True,
            "name": "Fran",
            "keys": b"new",
        },
    )
    assert len(s.participants) == 1


def test_second_facilitator_name_must_differ() -> None:
    s, _ = lobby()
    refused(s, Code.NAME_TAKEN, lambda: s.join_facilitator("gil", "fran", b""), DomainError)


@pytest.mark.parametrize("call", ["join", "check_door"])
def test_member_before_open_gets_room_not_open(call: str) -> None:
    s, _ = scheduled()
    if call == "join":
        refused(
            s,
            Code.ROOM_NOT_OPEN,
            lambda: s.join_member("seat-ann", "Ann", b"", s.group.rules_digest()),
            AuthError,
        )
    else:
        refused(s, Code.ROOM_NOT_OPEN, lambda: s.check_door("seat-ann"), AuthError)


def test_open_moves_to_lobby() -> None:
    s, f = scheduled()
    out = s.open(f)
    assert s.state is State.LOBBY
    assert out == [Deliver(ROOM, state_frame("lobby"))]


def test_open_twice_is_illegal() -> None:
    s, f = lobby()
    refused(s, Code.ILLEGAL_TRANSITION, lambda: s.open(f), DomainError)


def test_rules_frame_carries_the_digest() -> None:
    s, _ = lobby(crisis_resources=("Call 116 123",))
    assert s.rules_frame() == {
        "t": "rules",
        "group": {"id": "g1", "title": "Tuesday group"},
        "rules": list(RULES),
        "digest": s.group.rules_digest(),
        "crisis_resources": ["Call 116 123"],
    }


def test_member_joins_lobby_with_the_rules_digest() -> None:
    s, f = lobby()
    p, out = s.join_member("seat-ann", "Ann", b"ann-keys", s.group.rules_digest())
    assert p.role is Role.MEMBER
    assert (p.name, p.seat, p.keys, p.present, p.hand, p.muted_until) == (
        "Ann",
        "seat-ann",
        b"ann-keys",
        True,
        False,
        None,
    )
    assert p.pid != f
    assert s.participants[p.pid] is p
    assert s.participants.get(p.pid) is p
    assert s.members() == [p]
    assert s.knocks == {}
    welcome, joined = out
    assert isinstance(welcome, Deliver) and welcome.to == p.pid
    assert welcome.frame["t"] == "welcome"
    assert welcome.frame["you"] == p.pid
    assert welcome.frame["role"] == "member"
    assert welcome.frame["state"] == "lobby"
    assert "knocks" not in welcome.frame
    assert [r["pid"] for r in welcome.frame["roster"]] == [f, p.pid]
    assert joined == Deliver(ROOM, {"t": "joined", "p": p.public()})


@pytest.mark.parametrize(
    "digest",
    [None, "", "0" * 16, Group(id="g1", title="t", ground_rules=("Other",)).rules_digest()],
)
def test_wrong_or_missing_digest(digest: str | None) -> None:
    s, _ = lobby()
    refused(
        s,
        Code.RULES_NOT_ACCEPTED,
        lambda: s.join_member("seat-ann", "Ann", b"", digest),
        AuthError,
    )


def test_digest_of_the_empty_rules_must_still_be_echoed() -> None:
    s = Session(Group(id="g", title="t", facilitators=("fran",)))
    f, _ = s.join_facilitator("fran", "Fran", b"")
    s.open(f.pid)
    refused(s, Code.RULES_NOT_ACCEPTED, lambda: s.join_member("s1", "Ann", b"", None))
    p, _ = s.join_member("s1", "Ann", b"", s.group.rules_digest())
    assert p.pid in s.participants


@pytest.mark.parametrize("name", ["", "   ", "x" * 41, "\x00\x01\x02", "\n\t", "\u200b"])
def test_bad_names(name: str) -> None:
    s, _ = lobby()
    refused(
        s,
        Code.NAME_INVALID,
        lambda: s.join_member("seat-ann", name, b"", s.group.rules_digest()),
        DomainError,
    )


def test_names_are_cleaned() -> None:
    s, _ = lobby()
    assert join(s, "  Ann\x07  ", "seat-1").name == "Ann"
    assert join(s, "x" * 40, "seat-2").name == "x" * 40


@pytest.mark.parametrize("taken", ["ann", "ANN", " Ann ", "fran", "FRAN"])
def test_duplicate_names_case_insensitive(taken: str) -> None:
    s, _ = lobby()
    join(s, "Ann")
    refused(
        s,
        Code.NAME_TAKEN,
        lambda: s.join_member("seat-other", taken, b"", s.group.rules_digest()),
        DomainError,
    )


def test_duplicate_name_after_normalisation() -> None:
    s, _ = lobby()
    join(s, "Zo\u00e9")
    refused(s, Code.NAME_TAKEN, lambda: join(s, "zoe\u0301", "seat-2"), DomainError)


def test_casefold_names_collide() -> None:
    s, _ = lobby()
    join(s, "Stra\u00dfe", "seat-1")
    refused(s, Code.NAME_TAKEN, lambda: join(s, "STRASSE", "seat-2"), DomainError)


def test_lookalike_name_with_invisible_prefix_is_taken() -> None:
    s, _ = lobby()
    join(s, "Ann")
    with pytest.raises(DomainError) as info:
        join(s, "\u200b Ann", "seat-2")
    assert info.value.code is Code.NAME_TAKEN


def test_knockers_names_are_reserved_too() -> None:
    s, _, _ = live()
    knock(s, "Lee")
    refused(s, Code.NAME_TAKEN, lambda: join(s, "lee", "seat-other"), DomainError)


def test_a_returning_seat_may_keep_its_name_and_a_left_name_is_free() -> None:
    s, _ = lobby()
    ann = join(s, "Ann")
    again, _ = s.join_member("seat-ann", "ANN", b"", s.group.rules_digest())
    assert again.pid == ann.pid and again.name == "ANN"
    s.leave(ann.pid)
    assert join(s, "Ann", "seat-new").pid != ann.pid


# ---- capacity --------------------------------------------------------------------


def test_ninth_member_finds_the_room_full() -> None:
    s, _ = lobby()
    assert s.group.capacity == 8
    for i in range(8):
        join(s, f"M{i}")
    assert len(s.members()) == 8
    refused(s, Code.ROOM_FULL, lambda: join(s, "Ninth"), AuthError)
    refused(s, Code.ROOM_FULL, lambda: s.check_door("seat-ninth"), AuthError)


def test_facilitators_do_not_take_seats() -> None:
    s, _ = lobby()
    s.join_facilitator("gil", "Gil", b"")
    s.join_facilitator("hana", "Hana", b"")
    for i in range(8):
        join(s, f"M{i}")
    assert len(s.participants) == 11
    assert len(s.members()) == 8
    # Still room for facilitators, none for members.
    s.join_facilitator("ivo", "Ivo", b"")
    refused(s, Code.ROOM_FULL, lambda: join(s, "Ninth"), AuthError)


def test_smaller_capacity() -> None:
    s, _ = lobby(capacity=2)
    join(s, "Ann")
    join(s, "Ben")
    refused(s, Code.ROOM_FULL, lambda: join(s, "Cy"), AuthError)


def test_a_stepped_out_member_keeps_the_seat_and_may_return_when_full() -> None:
    s, _ = lobby(capacity=2)
    ann = join(s, "Ann")
    join(s, "Ben")
    s.step_out(ann.pid)
    refused(s, Code.ROOM_FULL, lambda: join(s, "Cy"), AuthError)
    assert join(s, "Ann").pid == ann.pid


def test_a_full_room_after_the_lock_is_full_not_a_knock() -> None:
    s, _, _ = live(("Ann", "Ben"), capacity=2)
    refused(s, Code.ROOM_FULL, lambda: join(s, "Lee"), AuthError)


# ---- start, knocks, admit, refuse ------------------------------------------------


def test_start_locks() -> None:
    s, f = lobby()
    out = s.start(f, STARTED)
    assert s.state is State.LIVE_LOCKED
    assert s.started_at == STARTED
    assert out == [Deliver(ROOM, state_frame("live_locked", started_at=STARTED))]


def test_start_before_open_or_twice_is_illegal() -> None:
    s, f = scheduled()
    refused(s, Code.ILLEGAL_TRANSITION, lambda: s.start(f, STARTED), DomainError)
    assert s.started_at is None
    s.open(f)
    s.start(f, STARTED)
    refused(s, Code.ILLEGAL_TRANSITION, lambda: s.start(f, STARTED + 99), DomainError)
    assert s.started_at == STARTED


@pytest.mark.parametrize(
    ("setup", "command"),
    [
        ("lobby", "lock"),
        ("lobby", "unlock"),
        ("live_locked", "lock"),
        ("live_locked", "open"),
        ("live_unlocked", "unlock"),
        ("live_unlocked", "start"),
        ("scheduled", "lock"),
        ("scheduled", "unlock"),
    ],
)
def test_illegal_lifecycle_commands_change_nothing(setup: str, command: str) -> None:
    s, f = scheduled()
    if setup != "scheduled":
        s.open(f)
    if setup.startswith("live"):
        join(s, "Ann")
        s.start(f, STARTED)
    if setup == "live_unlocked":
        s.unlock(f)
    calls: dict[str, Callable[[], object]] = {
        "open": lambda: s.open(f),
        "start": lambda: s.start(f, STARTED + 5),
        "lock": lambda: s.lock(f),
        "unlock": lambda: s.unlock(f),
    }
    refused(s, Code.ILLEGAL_TRANSITION, calls[command], DomainError)


def test_new_seat_after_the_lock_knocks() -> None:
    s, f, members = live()
    k, out = s.join_member("seat-lee", "Lee", b"lee-keys", s.group.rules_digest())
    assert out == [
        Deliver(k.pid, {"t": "knocking"}),
        Deliver(FACS, {"t": "knock", "p": k.public()}),
    ]
    assert s.knocks == {k.pid: k}
    assert k.pid not in s.participants
    assert s.participants.get(k.pid) is None
    assert s.members() == [s.participants[m] for m in members]
    assert s.welcome(s.participants[f])["knocks"] == [k.public()]
    assert "knocks" not in s.welcome(s.participants[members[0]])
    assert k.pid not in [r["pid"] for r in s.roster()]


def test_knocking_still_needs_the_rules_and_a_free_name() -> None:
    s, _, _ = live()
    refused(s, Code.RULES_NOT_ACCEPTED, lambda: s.join_member("seat-lee", "Lee", b"", "x"))
    refused(s, Code.NAME_TAKEN, lambda: join(s, "ann", "seat-lee"))


def test_knocker_reconnecting_knocks_once_with_the_same_pid() -> None:
    s, _, _ = live()
    first = knock(s, "Lee")
    p, out = s.join_member("seat-lee", "Leo", b"k2", s.group.rules_digest())
    assert p.pid == first
    # The facilitators' knock queue shows the knocker as they are now.
    assert out == [
        Deliver(first, {"t": "knocking"}),
        Deliver(FACS, {"t": "knock", "p": p.public()}),
    ]
    assert list(s.knocks) == [first]
    assert s.knocks[first].name == "Leo" and s.knocks[first].keys == b"k2"


def test_admit() -> None:
    s, f, _ = live()
    k = knock(s, "Lee")
    out = s.admit(f, k)
    assert len(out) == 4
    assert out[0] == Deliver(FACS, {"t": "knock_gone", "pid": k})
    assert isinstance(out[1], Deliver) and out[1].to == k
    assert out[1].frame["t"] == "welcome" and out[1].frame["state"] == "live_locked"
    assert out[2] == Deliver(ROOM, {"t": "joined", "p": s.participants[k].public()})
    assert out[3] == Admitted(k)  # the knocker's connection moves into the room
    assert s.knocks == {}
    assert s.participants.get(k) is not None
    assert s.state is State.LIVE_LOCKED


@pytest.mark.parametrize("command", ["admit", "refuse"])
def test_admit_or_refuse_of_no_knock(command: str) -> None:
    s, f, (ann, _) = live()
    knock(s, "Lee")
    call = s.admit if command == "admit" else s.refuse
    refused(s, Code.NO_SUCH_KNOCK, lambda: call(f, "p999"), DomainError)
    refused(s, Code.NO_SUCH_KNOCK, lambda: call(f, ann), DomainError)


def test_refuse_bars_the_seat() -> None:
    s, f, _ = live()
    k = knock(s, "Lee")
    out = s.refuse(f, k)
    assert out == [
        Deliver(FACS, {"t": "knock_gone", "pid": k}),
        Disconnect(k, Close.REFUSED, error_frame(Code.REFUSED)),
    ]
    assert s.knocks == {}
    assert k not in s.participants
    refused(s, Code.REFUSED, lambda: join(s, "Lee"), AuthError)
    refused(s, Code.REFUSED, lambda: s.check_door("seat-lee"), AuthError)
    # Still barred once the door is open again.
    s.unlock(f)
    refused(s, Code.REFUSED, lambda: join(s, "Lee"), AuthError)


def test_admit_when_full() -> None:
    s, f, _ = live(("Ann",), capacity=2)
    k1 = knock(s, "Lee")
    k2 = knock(s, "Max")
    s.admit(f, k1)
    refused(s, Code.ROOM_FULL, lambda: s.admit(f, k2), DomainError)
    assert k2 in s.knocks


# ---- stepping out and leaving ----------------------------------------------------


def test_step_out_then_rejoin_after_the_lock_needs_no_knock() -> None:
    s, _, (ann, _) = live()
    out = s.step_out(ann)
    assert out == [
        Deliver(ROOM, {"t": "presence", "pid": ann, "present": False, "connected": True})
    ]
    assert s.participants[ann].present is False
    assert ann in [m.pid for m in s.members()]
    # A new page during the break: the seat, no knock, and still on the break.
    p, out = s.join_member("seat-ann", "Annie", b"fresh", s.group.rules_digest())
    assert p.pid == ann
    assert p.present is False and p.name == "Annie" and p.keys == b"fresh"
    assert s.knocks == {}
    assert len(out) == 2
    assert isinstance(out[0], Deliver) and out[0].to == ann
    assert out[0].frame["t"] == "welcome"
    out = s.back(ann)
    assert out[0] == Deliver(
        ROOM,
        {
            "t": "presence",
            "pid": ann,
            "present": True,
            "connected": True,
            "name": "Annie",
            "keys": b"fresh",
        },
    )


def test_step_out_lowers_the_hand_and_is_idempotent() -> None:
    s, _, (ann, _) = live()
    s.hand(ann, True)
    s.step_out(ann)
    assert s.participants[ann].hand is False
    assert s.step_out(ann) == []
    assert s.step_out("p999") == []


def test_leave_then_rejoin_after_the_lock_knocks() -> None:
    s, _, (ann, ben) = live()
    out = s.leave(ann)
    assert out == [Deliver(ROOM, {"t": "left", "pid": ann})]
    assert ann not in s.participants
    assert [m.pid for m in s.members()] == [ben]
    p, out = s.join_member("seat-ann", "Ann", b"", s.group.rules_digest())
    assert p.pid != ann
    assert p.pid in s.knocks
    assert out[0] == Deliver(p.pid, {"t": "knocking"})
    assert delivered(out) == [(p.pid, "knocking"), (FACS, "knock")]


def test_leave_in_the_lobby_then_rejoin_comes_straight_in() -> None:
    s, _ = lobby()
    ann = join(s, "Ann")
    s.leave(ann.pid)
    again = join(s, "Ann")
    assert again.pid != ann.pid
    assert again.pid in s.participants


def test_leave_of_nobody() -> None:
    s, _ = lobby()
    assert s.leave("p999") == []


@pytest.mark.parametrize("how", ["step_out", "leave"])
def test_a_knocker_who_disconnects_is_gone(how: str) -> None:
    s, _, _ = live()
    k = knock(s, "Lee")
    out = getattr(s, how)(k)
    assert out == [Deliver(FACS, {"t": "knock_gone", "pid": k})]
    assert s.knocks == {}
    again = knock(s, "Lee")
    assert again != k


# ---- unlock and lock --------------------------------------------------------------


def test_unlock_admits_waiting_knockers() -> None:
    s, f, _ = live()
    k1 = knock(s, "Lee")
    k2 = knock(s, "Max")
    out = s.unlock(f)
    assert s.state is State.LIVE_UNLOCKED
    assert out[0] == Deliver(ROOM, state_frame("live_unlocked", started_at=STARTED))
    assert delivered(out[1:]) == [
        (FACS, "knock_gone"),
        (k1, "welcome"),
        (ROOM, "joined"),
        (FACS, "knock_gone"),
        (k2, "welcome"),
        (ROOM, "joined"),
    ]
    assert s.knocks == {}
    assert {k1, k2} <= set(s.participants)


def test_unlock_admits_only_as_many_as_there_are_seats() -> None:
    s, f, _ = live(("Ann", "Ben"), capacity=3)
    k1 = knock(s, "Lee")
    k2 = knock(s, "Max")
    s.unlock(f)
    assert k1 in s.participants
    assert list(s.knocks) == [k2]
    assert len(s.members()) == 3


def test_unlocked_room_lets_newcomers_straight_in() -> None:
    s, f, _ = live()
    s.unlock(f)
    p, out = s.join_member("seat-lee", "Lee", b"", s.group.rules_digest())
    assert p.pid in s.participants
    assert delivered(out) == [(p.pid, "welcome"), (ROOM, "joined")]


def test_lock_again() -> None:
    s, f, _ = live()
    s.unlock(f)
    out = s.lock(f)
    assert s.state is State.LIVE_LOCKED
    assert out == [Deliver(ROOM, state_frame("live_locked", started_at=STARTED))]
    knock(s, "Lee")


# ---- mute, time-out, unmute ----------------------------------------------------------


def test_mute() -> None:
    s, f, (ann, _) = live()
    out = s.mute(f, ann)
    assert out == [Deliver(ROOM, {"t": "muted", "pid": ann, "until": None})]
    assert s.participants[ann].muted_until == math.inf
    assert s.participants[ann].public()["muted"] is True


def test_time_out() -> None:
    s, f, (ann, _) = live()
    out = s.time_out(f, ann, 300, T0 + 100)
    assert out == [Deliver(ROOM, {"t": "muted", "pid": ann, "until": T0 + 400})]
    assert s.participants[ann].muted_until == T0 + 400


@pytest.mark.parametrize("seconds", [0, -5, 24 * 3600 + 1])
def test_time_out_length_is_bounded(seconds: int) -> None:
    s, f, (ann, _) = live()
    refused(s, Code.BAD_FIELD, lambda: s.time_out(f, ann, seconds, T0), DomainError)


@pytest.mark.parametrize("seconds", [1, 24 * 3600])
def test_time_out_bounds_are_accepted(seconds: int) -> None:
    s, f, (ann, _) = live()
    s.time_out(f, ann, seconds, T0)
    assert s.participants[ann].muted_until == T0 + seconds


@pytest.mark.parametrize("first", ["mute", "time_out"])
def test_unmute(first: str) -> None:
    s, f, (ann, _) = live()
    if first == "mute":
        s.mute(f, ann)
    else:
        s.time_out(f, ann, 60, T0)
    out = s.unmute(f, ann)
    assert out == [Deliver(ROOM, {"t": "unmuted", "pid": ann})]
    assert s.participants[ann].muted_until is None


def test_unmute_of_an_unmuted_member_is_refused() -> None:
    s, f, (ann, _) = live()
    refused(s, Code.ILLEGAL_TRANSITION, lambda: s.unmute(f, ann), DomainError)


MEMBER_COMMANDS: dict[str, Callable[[Session, str, str], object]] = {
    "mute": lambda s, f, pid: s.mute(f, pid),
    "time_out": lambda s, f, pid: s.time_out(f, pid, 60, T0),
    "unmute": lambda s, f, pid: s.unmute(f, pid),
    "remove": lambda s, f, pid: s.remove(f, pid, False),
    "remove_for_good": lambda s, f, pid: s.remove(f, pid, True),
}


@pytest.mark.parametrize("command", sorted(MEMBER_COMMANDS))
def test_member_commands_on_a_facilitator(command: str) -> None:
    s, f, _ = live()
    g, _ = s.join_facilitator("gil", "Gil", b"")
    call = MEMBER_COMMANDS[command]
    refused(s, Code.NOT_A_MEMBER, lambda: call(s, f, g.pid), DomainError)
    refused(s, Code.NOT_A_MEMBER, lambda: call(s, f, f), DomainError)


@pytest.mark.parametrize("command", sorted(MEMBER_COMMANDS))
def test_member_commands_on_an_unknown_pid(command: str) -> None:
    s, f, _ = live()
    call = MEMBER_COMMANDS[command]
    refused(s, Code.NO_SUCH_PARTICIPANT, lambda: call(s, f, "p999"), DomainError)


@pytest.mark.parametrize("command", ["mute", "time_out", "unmute"])
def test_a_knocker_cannot_be_muted(command: str) -> None:
    s, f, _ = live()
    k = knock(s, "Lee")
    call = MEMBER_COMMANDS[command]
    refused(s, Code.NO_SUCH_PARTICIPANT, lambda: call(s, f, k), DomainError)


# ---- time: time-outs and reminders -----------------------------------------------------


def test_time_out_ends_by_itself() -> None:
    s, f = lobby()
    ann = join(s, "Ann").pid
    s.time_out(f, ann, 120, T0 + 10)
    assert s.next_deadline() == T0 + 130
    assert s.tick(T0 + 129.9) == []
    assert s.participants[ann].muted_until == T0 + 130
    assert s.tick(T0 + 130) == [Deliver(ROOM, {"t": "unmuted", "pid": ann})]
    assert s.participants[ann].muted_until is None
    assert s.tick(T0 + 131) == []
    assert s.next_deadline() is None


def test_a_mute_has_no_deadline_and_does_not_end_by_itself() -> None:
    s, f = lobby()
    ann = join(s, "Ann").pid
    s.mute(f, ann)
    assert s.next_deadline() is None
    assert s.tick(T0 + 10**7) == []
    assert s.participants[ann].muted_until == math.inf


def test_next_deadline_is_the_earliest_of_time_outs_and_reminders() -> None:
    s, f, (ann, ben) = live()
    assert s.next_deadline() == STARTED + 60 * 60
    s.time_out(f, ann, 600, STARTED)
    s.time_out(f, ben, 300, STARTED)
    assert s.next_deadline() == STARTED + 300
    s.time_out(f, ben, 4000, STARTED)
    assert s.next_deadline() == STARTED + 600
    s.unmute(f, ann)
    assert s.next_deadline() == STARTED + 3600


def test_reminders_at_10_5_and_0_minutes_to_facilitators_only() -> None:
    assert REMINDERS == (10, 5, 0)
    s, _, _ = live()
    expected = [(60, 10), (65, 5), (70, 0)]
    for minute, left in expected:
        due = STARTED + minute * 60
        assert s.next_deadline() == due
        assert s.tick(due - 1) == []
        assert s.tick(due) == [Deliver(FACS, {"t": "reminder", "minutes_left": left})]
        assert s.tick(due) == []
    assert s.next_deadline() is None
    assert s.tick(STARTED + 10**6) == []


def test_late_tick_delivers_overdue_reminders_in_order() -> None:
    s, _, _ = live()
    out = s.tick(STARTED + 80 * 60)
    assert out == [
        Deliver(FACS, {"t": "reminder", "minutes_left": 10}),
        Deliver(FACS, {"t": "reminder", "minutes_left": 5}),
        Deliver(FACS, {"t": "reminder", "minutes_left": 0}),
    ]


def test_reminders_follow_the_planned_duration() -> None:
    s, _, _ = live(duration_minutes=30)
    assert s.next_deadline() == STARTED + 20 * 60


def test_no_reminders_before_the_start() -> None:
    s, _ = lobby()
    join(s, "Ann")
    assert s.next_deadline() is None
    assert s.tick(T0 + 10**6) == []
    assert s.next_deadline() is None  # still nothing due


def test_reminders_continue_while_unlocked() -> None:
    s, f, _ = live()
    s.unlock(f)
    assert s.tick(STARTED + 3600) == [Deliver(FACS, {"t": "reminder", "minutes_left": 10})]


def test_no_reminder_claims_more_time_than_is_left() -> None:
    s, _, _ = live(duration_minutes=5)
    out = s.tick(STARTED)
    lefts = [o.frame["minutes_left"] for o in out if isinstance(o, Deliver)]
    assert all(left <= 5 for left in lefts), lefts


# ---- removal -----------------------------------------------------------------------------


def test_remove_for_this_session() -> None:
    s, f, (ann, ben) = live()
    out = s.remove(f, ann, for_good=False)
    assert out == [
        Deliver(ROOM, {"t": "removed", "pid": ann, "for_good": False}),
        Disconnect(ann, Close.REMOVED, error_frame(Code.REMOVED, for_good=False)),
    ]
    assert not any(isinstance(o, RevokeSeat) for o in out)
    assert ann not in s.participants
    assert [m.pid for m in s.members()] == [ben]
    refused(s, Code.REMOVED, lambda: join(s, "Ann"), AuthError)
    refused(s, Code.REMOVED, lambda: s.check_door("seat-ann"), AuthError)
    s.unlock(f)
    refused(s, Code.REMOVED, lambda: join(s, "Ann"), AuthError)


def test_remove_for_good_revokes_the_seat() -> None:
    s, f, (ann, _) = live()
    out = s.remove(f, ann, for_good=True)
    assert out == [
        Deliver(ROOM, {"t": "removed", "pid": ann, "for_good": True}),
        Disconnect(ann, Close.REMOVED, error_frame(Code.REMOVED, for_good=True)),
        RevokeSeat("seat-ann"),
    ]
    refused(s, Code.REMOVED, lambda: join(s, "Ann"), AuthError)


def test_remove_in_the_lobby_bars_the_seat_there_too() -> None:
    s, f = lobby()
    ann = join(s, "Ann").pid
    s.remove(f, ann, for_good=False)
    refused(s, Code.REMOVED, lambda: join(s, "Ann"), AuthError)


def test_remove_a_stepped_out_member() -> None:
    s, f, (ann, _) = live()
    s.step_out(ann)
    s.remove(f, ann, for_good=False)
    assert ann not in s.participants
    refused(s, Code.REMOVED, lambda: join(s, "Ann"), AuthError)


@pytest.mark.parametrize("for_good", [False, True])
def test_remove_a_knocker(for_good: bool) -> None:
    s, f, _ = live()
    k = knock(s, "Lee")
    out = s.remove(f, k, for_good=for_good)
    expected: list[Outcome] = [
        Deliver(FACS, {"t": "knock_gone", "pid": k}),
        Disconnect(k, Close.REMOVED, error_frame(Code.REMOVED, for_good=for_good)),
    ]
    if for_good:
        expected.append(RevokeSeat("seat-lee"))
    assert out == expected
    assert s.knocks == {}
    refused(s, Code.REMOVED, lambda: join(s, "Lee"), AuthError)


# ---- pause, messages, hands, slow mode ---------------------------------------------------


def test_pause_and_resume() -> None:
    s, f, _ = live()
    out = s.pause(f)
    assert s.paused is True
    assert out == [Deliver(ROOM, state_frame("live_locked", started_at=STARTED, paused=True))]
    refused(s, Code.ILLEGAL_TRANSITION, lambda: s.pause(f), DomainError)
    out = s.resume(f)
    assert s.paused is False
    assert out == [Deliver(ROOM, state_frame("live_locked", started_at=STARTED))]
    refused(s, Code.ILLEGAL_TRANSITION, lambda: s.resume(f), DomainError)


def test_pause_in_the_lobby_but_not_before_opening() -> None:
    s, f = scheduled()
    refused(s, Code.ILLEGAL_TRANSITION, lambda: s.pause(f), DomainError)
    s.open(f)
    s.pause(f)
    assert s.paused


def test_delete_message() -> None:
    s, f, _ = live()
    refused(s, Code.NO_SUCH_MESSAGE, lambda: s.delete_message(f, 1), DomainError)
    assert s.next_message_id() == 1
    assert s.next_message_id() == 2
    assert s.last_msg_id == 2
    assert s.delete_message(f, 2) == [Deliver(ROOM, {"t": "deleted", "id": 2, "by": f})]
    assert s.delete_message(f, 1) == [Deliver(ROOM, {"t": "deleted", "id": 1, "by": f})]
    for bad in (0, -1, 3, 10**9):
        refused(s, Code.NO_SUCH_MESSAGE, lambda bad=bad: s.delete_message(f, bad), DomainError)


def test_welcome_tells_the_last_message_id() -> None:
    s, _, (ann, _) = live()
    s.next_message_id()
    assert s.welcome(s.participants[ann])["last_msg"] == 1


def test_hand_up_and_down() -> None:
    s, f, (ann, _) = live()
    assert s.hand(ann, True) == [Deliver(ROOM, {"t": "hand", "pid": ann, "up": True})]
    assert s.participants[ann].hand is True
    assert s.hand(ann, True) == []
    assert s.hand(ann, False, pid=ann) == [Deliver(ROOM, {"t": "hand", "pid": ann, "up": False})]
    assert s.hand(ann, False) == []


def test_facilitator_lowers_a_members_hand() -> None:
    s, f, (ann, _) = live()
    s.hand(ann, True)
    assert s.hand(f, False, pid=ann) == [Deliver(ROOM, {"t": "hand", "pid": ann, "up": False})]
    assert s.participants[ann].hand is False


def test_member_cannot_lower_or_raise_anothers_hand() -> None:
    s, _, (ann, ben) = live()
    s.hand(ben, True)
    refused(s, Code.FORBIDDEN, lambda: s.hand(ann, False, pid=ben), DomainError)
    refused(s, Code.FORBIDDEN, lambda: s.hand(ann, True, pid=ben), DomainError)
    assert s.participants[ben].hand is True


def test_facilitator_cannot_raise_a_members_hand() -> None:
    s, f, (ann, _) = live()
    refused(s, Code.FORBIDDEN, lambda: s.hand(f, True, pid=ann), DomainError)


def test_hand_with_unknown_people() -> None:
    s, f, _ = live()
    refused(s, Code.NO_SUCH_PARTICIPANT, lambda: s.hand(f, False, pid="p999"), DomainError)
    refused(s, Code.NO_SUCH_PARTICIPANT, lambda: s.hand("p999", True), DomainError)


def test_set_slow_mode() -> None:
    s, f, _ = live()
    out = s.set_slow_mode(f, 5)
    assert s.slow_mode_seconds == 5.0
    assert out == [
        Deliver(ROOM, state_frame("live_locked", started_at=STARTED, slow_mode_seconds=5.0))
    ]
    s.set_slow_mode(f, 0)
    assert s.slow_mode_seconds == 0.0
    s.set_slow_mode(f, 600)
    for bad in (-1, 600.5, math.nan, math.inf):
        refused(s, Code.BAD_FIELD, lambda bad=bad: s.set_slow_mode(f, bad), DomainError)
    assert s.slow_mode_seconds == 600.0


def test_slow_mode_starts_from_the_group() -> None:
    s, _ = lobby(slow_mode_seconds=3.0)
    assert s.slow_mode_seconds == 3.0
    assert s.state_frame()["slow_mode_seconds"] == 3.0


# ---- who may give facilitator commands -----------------------------------------------------

FACILITATOR_COMMANDS: dict[str, Callable[[Session, str, str, str], object]] = {
    "open": lambda s, actor, member, knocker: s.open(actor),
    "start": lambda s, actor, member, knocker: s.start(actor, T0),
    "lock": lambda s, actor, member, knocker: s.lock(actor),
    "unlock": lambda s, actor, member, knocker: s.unlock(actor),
    "end": lambda s, actor, member, knocker: s.end(actor),
    "pause": lambda s, actor, member, knocker: s.pause(actor),
    "resume": lambda s, actor, member, knocker: s.resume(actor),
    "admit": lambda s, actor, member, knocker: s.admit(actor, knocker),
    "refuse": lambda s, actor, member, knocker: s.refuse(actor, knocker),
    "mute": lambda s, actor, member, knocker: s.mute(actor, member),
    "unmute": lambda s, actor, member, knocker: s.unmute(actor, member),
    "time_out": lambda s, actor, member, knocker: s.time_out(actor, member, 60, T0),
    "remove": lambda s, actor, member, knocker: s.remove(actor, member, False),
    "remove_for_good": lambda s, actor, member, knocker: s.remove(actor, member, True),
    "remove_knocker": lambda s, actor, member, knocker: s.remove(actor, knocker, False),
    "delete_message": lambda s, actor, member, knocker: s.delete_message(actor, 1),
    "set_slow_mode": lambda s, actor, member, knocker: s.set_slow_mode(actor, 5),
}


def busy_session() -> tuple[Session, str, str, str, str]:
    """Live, locked, one message sent, Ben muted, Lee knocking."""
    s, f, (ann, ben) = live()
    s.next_message_id()
    s.mute(f, ben)
    k = knock(s, "Lee")
    return s, f, ann, ben, k


@pytest.mark.parametrize("command", sorted(FACILITATOR_COMMANDS))
def test_facilitator_commands_from_a_member_are_forbidden(command: str) -> None:
    s, _, ann, ben, k = busy_session()
    call = FACILITATOR_COMMANDS[command]
    refused(s, Code.FORBIDDEN, lambda: call(s, ann, ben, k), DomainError)


@pytest.mark.parametrize("command", sorted(FACILITATOR_COMMANDS))
@pytest.mark.parametrize("who", ["unknown", "knocker"])
def test_facilitator_commands_from_outside_the_room(command: str, who: str) -> None:
    s, _, _, ben, k = busy_session()
    actor = "p999" if who == "unknown" else k
    call = FACILITATOR_COMMANDS[command]
    refused(s, Code.NOT_IN_ROOM, lambda: call(s, actor, ben, k), DomainError)


@pytest.mark.parametrize("command", sorted(FACILITATOR_COMMANDS))
def test_the_busy_session_lets_a_facilitator_do_the_same(command: str) -> None:
    # The refusals above are about the actor, not the command: a facilitator
    # gets through (lifecycle commands that do not fit live_locked aside).
    s, f, _, ben, k = busy_session()
    call = FACILITATOR_COMMANDS[command]
    if command in ("open", "start", "lock", "resume"):
        refused(s, Code.ILLEGAL_TRANSITION, lambda: call(s, f, ben, k), DomainError)
    else:
        assert call(s, f, ben, k)


# ---- the end ------------------------------------------------------------------------------


def test_end_disconnects_everyone_and_wipes_the_session() -> None:
    s, f, (ann, ben, cy) = live(("Ann", "Ben", "Cy"))
    g, _ = s.join_facilitator("gil", "Gil", b"")
    s.step_out(cy)  # on a break, still connected: told too
    s.disconnected(ben, STARTED)  # gone: nothing to close
    k = knock(s, "Lee")
    s.time_out(f, ann, 60, STARTED)
    out = s.end(f)
    ended = {"t": "ended", "reason": "ended_by_facilitator"}
    disconnects = [o for o in out if isinstance(o, Disconnect)]
    assert sorted(d.pid for d in disconnects) == sorted([f, g.pid, ann, cy, k])
    assert all(d.close_code == Close.SESSION_ENDED == 4000 for d in disconnects)
    assert all(d.frame == ended for d in disconnects)
    assert out[-1] == SessionOver()
    assert len(out) == len(disconnects) + 1
    assert s.state is State.ENDED
    assert s.participants == {}
    assert s.knocks == {}
    assert s.members() == []
    assert s.roster() == []
    assert s.tick(STARTED + 10**6) == []
    assert s.next_deadline() is None


def test_nobody_gets_in_after_the_end() -> None:
    s, f, _ = live()
    s.end(f)
    refused(s, Code.SESSION_ENDED, lambda: join(s, "Ann"), AuthError)
    refused(s, Code.SESSION_ENDED, lambda: join(s, "Zed"), AuthError)
    refused(s, Code.SESSION_ENDED, lambda: s.check_door("seat-zed"), AuthError)
    refused(s, Code.SESSION_ENDED, lambda: s.join_facilitator("fran", "Fran", b""), AuthError)
    refused(s, Code.NOT_IN_ROOM, lambda: s.end(f), DomainError)


@pytest.mark.parametrize("setup", ["scheduled", "lobby", "live_unlocked"])
def test_end_from_any_state(setup: str) -> None:
    s, f = scheduled()
    if setup != "scheduled":
        s.open(f)
        join(s, "Ann")
    if setup == "live_unlocked":
        s.start(f, STARTED)
        s.unlock(f)
    out = s.end(f)
    assert s.state is State.ENDED
    assert isinstance(out[-1], SessionOver)
    assert all(o.close_code == Close.SESSION_ENDED for o in out[:-1] if isinstance(o, Disconnect))
    assert len(out) == (2 if setup == "scheduled" else 3)


def test_a_seat_that_keeps_coming_back_waits_alone() -> None:
    from rooms.arrivals import ENTRIES_PER_MINUTE, ENTRY_WINDOW_SECONDS

    s, f, (ann, ben) = live()
    digest = s.group.rules_digest()
    t = STARTED + 1
    for n in range(ENTRIES_PER_MINUTE):
        s.disconnected(ann, t + n)
        s.join_member(seat_of("Ann"), "Ann", b"Ann", digest, t + n)
    s.disconnected(ann, t + 20)
    err = refused(s, Code.RATE_LIMITED, lambda: s.check_door(seat_of("Ann"), t + 20))
    assert 1 <= err.detail["retry_after"] <= ENTRY_WINDOW_SECONDS
    with pytest.raises(AuthError):
        s.join_member(seat_of("Ann"), "Ann", b"Ann", digest, t + 20)
    # Everyone else comes and goes as before.
    s.disconnected(ben, t + 21)
    s.join_member(seat_of("Ben"), "Ben", b"Ben", digest, t + 21)
    # A minute after the first of them, the seat may come in again.
    s.join_member(seat_of("Ann"), "Ann", b"Ann", digest, t + ENTRY_WINDOW_SECONDS + 1)


def test_a_break_lasts_through_a_dropped_connection_until_back() -> None:
    """A page that reconnects during a break stays on it: never shown back for a moment."""
    s, _, (ann, _) = live()
    s.step_out(ann)
    s.disconnected(ann, STARTED + 1)
    p, out = s.join_member("seat-ann", "Ann", b"new page", s.group.rules_digest())
    assert p.pid == ann and not p.present and p.connected
    assert out[1] == Deliver(
        ROOM,
        {"t": "presence", "pid": ann, "present": False, "connected": True, "keys": b"new page"},
    )
    assert out[0].frame["roster"][1]["present"] is False  # type: ignore[union-attr]
    out = s.back(ann)
    assert out[0].frame["present"] is True  # type: ignore[union-attr]
    # A drop while in the room is no break: the member comes back in.
    s.disconnected(ann, STARTED + 2)
    p, _ = s.join_member("seat-ann", "Ann", b"third page", s.group.rules_digest())
    assert p.present
