"""Support requests and content alerts as a tracked state (rooms/alerts.py).

What the member is told must be true at each moment: ``waiting`` while no
facilitator is in the room, ``sent`` once facilitators are, ``seen`` once a
facilitator's client shows it, ``handled`` once a facilitator says so.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_rooms_session import FACS, STARTED, live, refused

from rooms.alerts import MAX_OPEN_PER_SENDER
from rooms.errors import Code, Rejected
from rooms.events import Deliver, Outcome
from rooms.session import Session
from rooms.wire import Inbound


def told(outcomes: list[Outcome], pid: str) -> list[str]:
    """The statuses ``pid`` was sent, in order."""
    return [
        o.frame["status"]
        for o in outcomes
        if isinstance(o, Deliver) and o.to == pid and o.frame["t"] == "alert_status"
    ]


def to_facilitators(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    return [o.frame for o in outcomes if isinstance(o, Deliver) and o.to == FACS]


def nobody_facilitating() -> tuple[Session, str, str]:
    """A live room whose only facilitator stepped out (to make a link, say)."""
    s, f, (ann, _) = live()
    s.step_out(f)
    return s, f, ann


def test_with_no_facilitator_in_the_room_a_request_waits_and_the_member_is_told() -> None:
    s, f, ann = nobody_facilitating()
    out = s.alert(ann, "support", None, STARTED + 1)
    assert told(out, ann) == ["waiting"]
    assert [a["status"] for a in s.alerts.all()] == ["waiting"]


def test_the_first_facilitator_back_gets_it_and_the_member_is_told_it_was_sent() -> None:
    s, f, ann = nobody_facilitating()
    s.alert(ann, "support", None, STARTED + 1)
    back, out = s.join_facilitator("fran", "Fran", b"fran-keys")
    (welcome,) = [o.frame for o in out if isinstance(o, Deliver) and o.to == back.pid]
    assert welcome["t"] == "welcome"
    assert [(a["from"], a["kind"], a["status"]) for a in welcome["alerts"]] == [
        (ann, "support", "sent")
    ]
    assert told(out, ann) == ["sent"]


def test_seen_when_a_facilitators_client_shows_it_then_handled_for_everyone() -> None:
    s, f, (ann, _) = live()
    (alert,) = to_facilitators(s.alert(ann, "support", None, STARTED + 1))
    assert told(s.alert_seen(f, alert["id"]), ann) == ["seen"]
    assert s.alert_seen(f, alert["id"]) == []  # seen once is enough
    out = s.alert_handled(f, alert["id"])
    assert to_facilitators(out) == [{"t": "handled", "id": alert["id"], "by": f}]
    assert told(out, ann) == ["handled"]
    assert s.alerts.all() == []
    # Another facilitator (or a second click) finds it closed.
    refused(s, Code.NO_SUCH_ALERT, lambda: s.alert_handled(f, alert["id"]))
    assert s.alert_seen(f, alert["id"]) == []  # a late acknowledgement is harmless


def test_sent_but_unseen_waits_again_when_the_last_facilitator_goes() -> None:
    s, f, (ann, ben) = live()
    s.alert(ann, "support", None, STARTED + 1)
    (seen,) = to_facilitators(s.alert(ben, "support", None, STARTED + 2))
    s.alert_seen(f, seen["id"])
    out = s.step_out(f)
    assert told(out, ann) == ["waiting"]  # nobody saw it: it waits for the next one
    assert told(out, ben) == []  # a facilitator did see this one: still true


def test_a_repeat_is_the_same_request_counted_and_must_be_seen_again() -> None:
    s, f, (ann, _) = live()
    (first,) = to_facilitators(s.alert(ann, "support", None, STARTED + 1))
    s.alert_seen(f, first["id"])
    out = s.alert(ann, "support", None, STARTED + 9)
    (again,) = to_facilitators(out)
    assert (again["id"], again["count"], again["ts"]) == (first["id"], 2, STARTED + 9)
    assert told(out, ann) == ["sent"]
    # Another kind or category is another request.
    (other,) = to_facilitators(s.alert(ann, "content", "self_harm", STARTED + 10))
    assert other["id"] != first["id"]


def test_a_member_sees_only_their_own_requests_on_return() -> None:
    s, f, (ann, ben) = live()
    s.alert(ann, "support", None, STARTED + 1)
    s.alert(ben, "content", "violence", STARTED + 2)
    s.step_out(ann)
    p, out = s.join_member("seat-ann", "Ann", b"Ann", s.group.rules_digest())
    (welcome,) = [o.frame for o in out if isinstance(o, Deliver) and o.to == p.pid]
    assert [a["from"] for a in welcome["alerts"]] == [ann]


def test_requests_outlive_the_member_leaving_until_handled() -> None:
    s, f, (ann, _) = live()
    s.alert(ann, "support", None, STARTED + 1)
    s.leave(ann)
    assert [a["from"] for a in s.alerts.all()] == [ann]


def test_only_facilitators_acknowledge_or_handle() -> None:
    s, f, (ann, ben) = live()
    (alert,) = to_facilitators(s.alert(ann, "support", None, STARTED + 1))
    for kind in ("alert_seen", "handled"):
        with pytest.raises(Rejected) as caught:
            s.receive(ben, Inbound(kind, {"id": alert["id"]}, None), STARTED + 2)
        assert caught.value.code is Code.FORBIDDEN
    assert [a["status"] for a in s.alerts.all()] == ["sent"]


def test_made_up_categories_cannot_fill_the_sessions_memory() -> None:
    s, f, (ann, _) = live()
    for n in range(MAX_OPEN_PER_SENDER):
        s.alert(ann, "content", f"c{n}", STARTED + n)
    refused(s, Code.FLOOD, lambda: s.alert(ann, "content", "one_more", STARTED + 99))
    s.alert(ann, "content", "c0", STARTED + 100)  # a repeat still counts


def test_no_alert_holds_any_text() -> None:
    s, f, (ann, _) = live()
    s.alert(ann, "support", None, STARTED + 1)
    assert set(s.alerts.all()[0]) == {"id", "from", "kind", "category", "ts", "count", "status"}


def test_a_member_back_from_a_break_changes_nobodys_request() -> None:
    s, f, (ann, ben) = live()
    s.alert(ann, "support", None, STARTED + 1)
    s.step_out(ben)
    assert told(s.back(ben), ann) == []  # a facilitator is still here: still "sent"
    assert [a["status"] for a in s.alerts.all()] == ["sent"]
    s.step_out(f)  # the last facilitator takes a break: it waits ...
    assert told(s.back(f), ann) == ["sent"]  # ... and goes out again on the return


def test_a_support_request_is_never_refused_for_a_full_session() -> None:
    from rooms.alerts import MAX_OPEN

    s, f, members = live(tuple(f"M{n}" for n in range(6)))
    for n in range(MAX_OPEN):
        s.alert(members[n % 5], "content", f"c{n:02}", STARTED + n)
    refused(s, Code.FLOOD, lambda: s.alert(members[5], "content", "more", STARTED + 99))
    out = s.alert(members[5], "support", None, STARTED + 100)
    assert told(out, members[5]) == ["sent"]  # in, and the member is told so
    kinds = [a["kind"] for a in s.alerts.all()]
    assert len(kinds) == MAX_OPEN and kinds.count("support") == 1  # the oldest content gave way
