"""Every frame type the terminal prints, as the line a person reads (no server needed)."""

from __future__ import annotations

import io
from typing import Any, cast

from clients.client import ChatClient, Event
from clients.terminal import Terminal
from clients.terminal_lines import LINES


class Room:
    """What ``Terminal.show`` asks of a client: names and one's own id."""

    pid = "p1"
    content = None

    def name_of(self, pid: str) -> str:
        return {"p1": "Me", "p2": "Ann"}.get(pid, pid)


FRAMES: dict[str, tuple[dict[str, Any], str | None, str]] = {
    "msg": ({"id": 4, "from": "p2"}, "hello", "[4] Ann: hello"),
    "welcome": (
        {"you": "p1", "group": {"title": "Tuesday"}, "state": "lobby"},
        None,
        "* You are in 'Tuesday' as Me.\n* The room is open; the meeting has not started. Type",
    ),
    "knocking": ({}, None, "you are knocking: please wait for a facilitator to answer."),
    "joined": ({"p": {"name": "Bo"}}, None, "* Bo joined"),
    "presence": ({"pid": "p2", "present": False, "connected": True}, None, "* Ann stepped out"),
    "left": ({"pid": "p2"}, None, "* Ann left"),
    "removed": ({"pid": "p2", "for_good": True}, None, "* Ann was removed for good"),
    "state": ({"state": "live_locked", "paused": True}, None, "newcomers knock (paused)"),
    "knock": ({"p": {"name": "Bo"}}, None, "* Bo is knocking: /admit Bo or /refuse"),
    "muted": ({"pid": "p1", "until": None}, None, "* You are muted"),
    "unmuted": ({"pid": "p2"}, None, "* Ann is no longer muted"),
    "hand": ({"pid": "p2", "up": True}, None, "* Ann raised a hand"),
    "deleted": ({"id": 4}, None, "* message 4 was deleted by a facilitator"),
    "private": (
        {"from": "p2", "thread": "p2"},
        "can we talk",
        "(private with Ann) Ann: can we talk",
    ),
    "report": ({"from": "p2", "msg": 4}, "note", "(report) Ann reported message 4: note"),
    "warning": ({"code": "untrusted", "pid": "p2"}, None, "! Ann is not verified"),
    "alert": (
        {"from": "p2", "kind": "support", "id": 3, "count": 1},
        None,
        "(alert) Ann: support\n  alert 3: /handled 3 once you have checked in",
    ),
    "alert_status": (
        {"id": 1, "kind": "support", "status": "seen"},
        None,
        "* A facilitator has your request on their screen.",
    ),
    "handled": ({"id": 3, "by": "p2"}, None, "* alert 3 was marked handled by Ann"),
    "content_rules": ({}, None, "* The group's content rules changed"),
    "reminder": ({"minutes_left": 5}, None, "* 5 minutes left of the planned time"),
    "ended": ({}, None, "* The session has ended."),
    "error": ({"message": "No.", "code": "forbidden"}, None, "! No. (forbidden)"),
    "closed": ({"code": 4000}, None, "* Disconnected (4000)"),
}


def test_each_frame_type_prints_its_line() -> None:
    assert set(FRAMES) == set(LINES)
    for kind, (fields, text, expected) in FRAMES.items():
        out = io.StringIO()
        Terminal(cast(ChatClient, Room()), out).show(Event(kind, {"t": kind, **fields}, text))
        assert expected in out.getvalue(), (kind, out.getvalue())


def test_a_frame_type_it_does_not_know_prints_nothing() -> None:
    out = io.StringIO()
    Terminal(cast(ChatClient, Room()), out).show(Event("vouch", {"t": "vouch"}))
    assert out.getvalue() == ""
