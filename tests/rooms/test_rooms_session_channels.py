"""Frames to one person or to the facilitators, mutes that stick, group edits mid-session."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_rooms_session import FACS, ROOM, STARTED, join, knock, live, lobby, refused

from rooms.errors import Code
from rooms.events import Deliver, Disconnect
from rooms.wire import Close


def test_direct_goes_to_one_admitted_participant() -> None:
    s, f, (ann, ben) = live()
    assert s.direct(ann, ben, b"chain") == [
        Deliver(ben, {"t": "direct", "from": ann, "payload": b"chain"})
    ]
    refused(s, Code.NO_SUCH_PARTICIPANT, lambda: s.direct(ann, "p99", b"x"))
    late = knock(s, "Lee")
    refused(s, Code.NO_SUCH_PARTICIPANT, lambda: s.direct(ann, late, b"x"))


BY, ANCHOR, SIG = b"i" * 32, b"a" * 16, b"s" * 64


def test_a_vouch_is_kept_on_the_participant_and_relayed_to_the_room() -> None:
    s, f, (ann, _) = live()
    assert s.vouch(f, ann, BY, ANCHOR, SIG) == [
        Deliver(ROOM, {"t": "vouch", "pid": ann, "by": BY, "anchor": ANCHOR, "sig": SIG})
    ]
    assert s.participants[ann].public()["vouches"] == [{"by": BY, "anchor": ANCHOR, "sig": SIG}]
    assert s.vouch(f, ann, BY, ANCHOR, SIG) == []  # the same again: nothing new to tell
    # A new anchor (the facilitator's client renewed it) replaces the old vouch.
    s.vouch(f, ann, BY, b"b" * 16, b"t" * 64)
    assert s.participants[ann].public()["vouches"] == [
        {"by": BY, "anchor": b"b" * 16, "sig": b"t" * 64}
    ]
    assert s.vouch(f, f, b"j" * 32, ANCHOR, SIG)  # a facilitator vouches for itself too


def test_vouches_come_from_facilitators_for_admitted_participants_only() -> None:
    s, f, (ann, ben) = live()
    refused(s, Code.FORBIDDEN, lambda: s.vouch(ann, ben, BY, ANCHOR, SIG))
    late = knock(s, "Lee")
    refused(s, Code.NO_SUCH_PARTICIPANT, lambda: s.vouch(f, late, BY, ANCHOR, SIG))
    refused(s, Code.NO_SUCH_PARTICIPANT, lambda: s.vouch(f, "p99", BY, ANCHOR, SIG))
    refused(s, Code.BAD_FIELD, lambda: s.vouch(f, ann, b"short", ANCHOR, SIG))
    refused(s, Code.BAD_FIELD, lambda: s.vouch(f, ann, BY, b"short", SIG))
    refused(s, Code.BAD_FIELD, lambda: s.vouch(f, ann, BY, ANCHOR, SIG + b"x"))
    for i in range(4):
        s.vouch(f, ann, bytes([i]) * 32, ANCHOR, SIG)
    refused(s, Code.BAD_FIELD, lambda: s.vouch(f, ann, b"z" * 32, ANCHOR, SIG))


def test_a_signed_removal_is_relayed_to_the_room_and_an_unsigned_one_still_removes() -> None:
    s, f, (ann, ben) = live()
    out = s.remove(f, ann, True, (BY, SIG))
    assert (
        Deliver(ROOM, {"t": "removed", "pid": ann, "for_good": True, "by": BY, "proof": SIG}) in out
    )
    assert Deliver(ROOM, {"t": "removed", "pid": ben, "for_good": False}) in s.remove(f, ben, False)
    s2, f2, (cat, _) = live()
    refused(s2, Code.BAD_FIELD, lambda: s2.remove(f2, cat, False, (BY, b"short")))
    assert cat in s2.participants  # a malformed proof removes nobody


def test_coming_back_with_new_keys_drops_the_vouches() -> None:
    s, f, (ann, _) = live()
    s.vouch(f, ann, BY, ANCHOR, SIG)
    s.disconnected(ann, 5.0)  # the connection dropped (not a break)
    p, out = s.join_member("seat-ann", "Ann", b"new keys", s.group.rules_digest())
    assert p.pid == ann and p.vouches == {}
    assert out[-1] == Deliver(
        ROOM,
        {
            "t": "presence",
            "pid": ann,
            "present": True,
            "connected": True,
            "name": "Ann",
            "keys": b"new keys",
        },
    )


def test_private_and_report_go_to_the_facilitators_only() -> None:
    s, f, (ann, _) = live()
    assert s.private(ann, b"help", 5.0) == [
        Deliver(FACS, {"t": "private", "from": ann, "thread": ann, "payload": b"help", "ts": 5.0})
    ]
    refused(s, Code.NO_SUCH_MESSAGE, lambda: s.report(ann, 1, b"note", 5.0))
    s.next_message_id()
    assert s.report(ann, 1, b"note", 6.0) == [
        Deliver(FACS, {"t": "report", "from": ann, "msg": 1, "payload": b"note", "ts": 6.0})
    ]


def test_a_facilitator_replies_into_one_members_private_thread() -> None:
    s, f, (ann, ben) = live()
    reply = {"t": "private", "from": f, "thread": ann, "payload": b"ct", "ts": 5.0}
    # Ann and the facilitators (co-facilitators see the reply), nobody else.
    assert s.private(f, b"ct", 5.0, to=ann) == [Deliver(ann, reply), Deliver(FACS, reply)]
    # Without a member: among the facilitators only.
    assert s.private(f, b"ct", 6.0) == [
        Deliver(FACS, {"t": "private", "from": f, "thread": None, "payload": b"ct", "ts": 6.0})
    ]


def test_private_replies_are_refused_where_they_cannot_arrive() -> None:
    s, f, (ann, ben) = live()
    refused(s, Code.FORBIDDEN, lambda: s.private(ben, b"ct", 5.0, to=ann))  # member to member
    refused(s, Code.NO_SUCH_PARTICIPANT, lambda: s.private(f, b"ct", 5.0, to="p99"))
    refused(s, Code.NOT_A_MEMBER, lambda: s.private(f, b"ct", 5.0, to=f))
    s.step_out(ann)  # on a break: the private thread still reaches her
    assert s.private(f, b"ct", 5.0, to=ann)[0] == Deliver(
        ann, {"t": "private", "from": f, "thread": ann, "payload": b"ct", "ts": 5.0}
    )
    s.disconnected(ann, 6.0)  # the tab is closed: nothing can reach her now
    refused(s, Code.NOT_CONNECTED, lambda: s.private(f, b"ct", 7.0, to=ann))


@pytest.mark.parametrize(
    ("category", "shown"),
    [(None, None), ("self_harm", "self_harm"), ("\x1b[2Jviolence", "2Jviolence")],
)
def test_alerts_carry_a_clean_category_only(category: str | None, shown: str | None) -> None:
    s, f, (ann, _) = live()
    out, told = s.alert(ann, "content", category, 7.0)
    assert out == Deliver(
        FACS,
        {
            "t": "alert",
            "id": 1,
            "from": ann,
            "kind": "content",
            "category": shown,
            "ts": 7.0,
            "count": 1,
            "status": "sent",
        },
    )
    assert told == Deliver(ann, {"t": "alert_status", "id": 1, "kind": "content", "status": "sent"})


@pytest.mark.parametrize(
    ("kind", "category"), [("gossip", None), ("support", "x" * 41), ("support", "\x1b\x07")]
)
def test_bad_alerts_are_refused(kind: str, category: str | None) -> None:
    s, f, (ann, _) = live()
    refused(s, Code.BAD_FIELD, lambda: s.alert(ann, kind, category, 7.0))


def test_a_mute_sticks_to_the_seat_through_leaving_and_knocking() -> None:
    s, f, (ann, _) = live()
    s.mute(f, ann)
    s.leave(ann)
    again = knock(s, "Ann")
    assert s.knocks[again].muted_until is not None
    s.step_out(again)  # drops the knock...
    back = knock(s, "Ann")  # ...and knocks again
    assert s.knocks[back].muted_until is not None
    s.admit(f, back)
    assert s.participants[back].muted_until is not None
    s.unmute(f, back)
    s.leave(back)
    s.unlock(f)
    assert join(s, "Ann").muted_until is None


def test_a_time_out_that_ran_out_while_away_ends_on_return() -> None:
    s, f, (ann, _) = live()
    s.time_out(f, ann, 10, STARTED)
    s.leave(ann)
    s.unlock(f)
    p = join(s, "Ann")
    assert p.muted_until == STARTED + 10
    assert s.tick(STARTED + 11)[0] == Deliver(ROOM, {"t": "unmuted", "pid": p.pid})


def test_a_facilitator_taken_off_the_group_leaves_the_room_at_once() -> None:
    s, f = lobby()
    ann = join(s, "Ann").pid
    out = s.update_group(replace(s.group, facilitators=("sam",)))
    assert out[0] == Deliver(ROOM, {"t": "left", "pid": f})
    assert isinstance(out[1], Disconnect) and out[1].pid == f
    assert out[1].close_code == Close.REMOVED
    assert out[1].frame is not None and out[1].frame["code"] == "not_facilitator"
    refused(s, Code.NOT_IN_ROOM, lambda: s.mute(f, ann))
    refused(s, Code.NOT_IN_ROOM, lambda: s.start(f, STARTED))


def test_a_slow_mode_edit_reaches_the_live_session() -> None:
    s, f = lobby()
    assert s.update_group(replace(s.group, title="New title")) == []
    (out,) = s.update_group(replace(s.group, slow_mode_seconds=30.0))
    assert out == Deliver(ROOM, s.state_frame())
    assert s.slow_mode_seconds == 30.0
