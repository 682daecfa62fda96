"""The room as a client last heard it: each frame as an ``Event``, and the live view.

``RoomView`` holds what the frames say of the room (``pid``, ``role``,
``state``, ``paused``, ``roster``, ``knocks``, ``alerts``) and changes it only through
``TRACKERS``, one function per frame type. It does no I/O and sends nothing:
``ChatClient`` (clients/client.py) reads the socket, checks each frame, and
hands it here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clients.payload import Reported

__all__ = ["TRACKERS", "Event", "RoomView"]


@dataclass(frozen=True)
class Event:
    """One frame from the server; ``text`` is the opened payload of text frames.

    ``text`` is None when a payload cannot be opened (sealed before we arrived,
    altered, or from someone no facilitator vouched for). For a ``report``,
    ``text`` is the reporter's note, ``reported`` the message as the reporter
    read it, and ``verified`` whether its sender provably wrote it. ``cw`` is
    the content warning the sender of a ``msg`` put in its encrypted body
    (docs/e2ee.md section 5), with the labels this client's content rules
    give the text added (", "-separated), None if none: show it, and the text
    only once the reader asks (a report's ``reported.cw`` likewise).
    Warnings of the encryption layer arrive as events of type ``warning``
    with a ``code`` (``unverified_link``, ``untrusted``, ``keys_mismatch``,
    and ``rules_unverified`` for content rules that could not be checked)
    and maybe a ``pid``. A facilitator's client adds a local ``alert`` event
    (``kind`` "content", ``category``, ``from``, ``msg``, ``local`` True; no
    text) for each alert category of a room message it opens.
    """

    type: str
    fields: dict[str, Any] = field(default_factory=dict)
    text: str | None = field(default=None, repr=False)  # plaintext: never in a repr
    verified: bool | None = None
    reported: Reported | None = None
    cw: str | None = field(default=None, repr=False)  # the sender's content warning

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


class RoomView:
    """Who we are in the room, who else is in it or knocking, and its state."""

    def __init__(self) -> None:
        self.group_id: str | None = None
        self.pid: str | None = None
        self.role: str | None = None
        self.state: str | None = None
        self.paused = False
        self.admitted = False
        self.welcome: Event | None = None
        self.roster: dict[str, dict[str, Any]] = {}
        self.knocks: dict[str, dict[str, Any]] = {}
        # Open support requests and alerts by id (docs/protocol.md section 5a):
        # a facilitator's are everyone's, a member's their own.
        self.alerts: dict[int, dict[str, Any]] = {}

    def _track(self, frame: dict[str, Any]) -> None:
        track = TRACKERS.get(frame.get("t", "?"))
        if track is not None:
            track(self, frame)

    def pid_of(self, name_or_pid: str) -> str | None:
        """A participant's (or knocker's) id from their display name, case-insensitively."""
        people = {**self.roster, **self.knocks}
        if name_or_pid in people:
            return name_or_pid
        folded = name_or_pid.casefold()
        for pid, p in people.items():
            if p["name"].casefold() == folded:
                return pid
        return None

    def name_of(self, pid: str) -> str:
        p = self.roster.get(pid) or self.knocks.get(pid)
        return p["name"] if p else pid


# ---- how each frame changes the client's view of the room ------------------------


def _welcomed(c: RoomView, frame: dict[str, Any]) -> None:
    c.admitted = True
    c.pid, c.role = frame["you"], frame["role"]
    c.welcome = Event("welcome", frame)
    c.group_id = str(frame["group"]["id"])
    c.roster = {p["pid"]: p for p in frame["roster"]}
    c.knocks = {k["pid"]: k for k in frame.get("knocks", [])}
    c.state, c.paused = frame["state"], frame["paused"]
    c.alerts = {a["id"]: a for a in frame["alerts"]}


def _alert(c: RoomView, frame: dict[str, Any]) -> None:
    c.alerts[frame["id"]] = {k: v for k, v in frame.items() if k != "t"}


def _alert_status(c: RoomView, frame: dict[str, Any]) -> None:
    if frame["status"] == "handled":
        c.alerts.pop(frame["id"], None)
        return
    entry = c.alerts.setdefault(
        frame["id"], {"id": frame["id"], "from": c.pid, "kind": frame["kind"]}
    )
    entry["status"] = frame["status"]


def _handled(c: RoomView, frame: dict[str, Any]) -> None:
    c.alerts.pop(frame["id"], None)


def _presence(c: RoomView, frame: dict[str, Any]) -> None:
    entry = c.roster.get(frame["pid"])
    if entry is not None:
        entry.update(
            {k: v for k, v in frame.items() if k in ("present", "connected", "name", "keys")}
        )


def _gone(c: RoomView, frame: dict[str, Any]) -> None:
    c.roster.pop(frame["pid"], None)


def _state(c: RoomView, frame: dict[str, Any]) -> None:
    c.state, c.paused = frame["state"], frame["paused"]


def _mute(c: RoomView, frame: dict[str, Any]) -> None:
    entry = c.roster.get(frame["pid"])
    if entry is not None:
        entry["muted"] = frame["t"] == "muted"
        entry["until"] = frame.get("until")


def _hand(c: RoomView, frame: dict[str, Any]) -> None:
    entry = c.roster.get(frame["pid"])
    if entry is not None:
        entry["hand"] = frame["up"]


def _joined(c: RoomView, frame: dict[str, Any]) -> None:
    c.roster[frame["p"]["pid"]] = frame["p"]


def _knock(c: RoomView, frame: dict[str, Any]) -> None:
    c.knocks[frame["p"]["pid"]] = frame["p"]


def _knock_gone(c: RoomView, frame: dict[str, Any]) -> None:
    c.knocks.pop(frame["pid"], None)


TRACKERS: dict[str, Callable[[RoomView, dict[str, Any]], None]] = {
    "welcome": _welcomed,
    "joined": _joined,
    "presence": _presence,
    "left": _gone,
    "removed": _gone,
    "knock": _knock,
    "knock_gone": _knock_gone,
    "state": _state,
    "muted": _mute,
    "unmuted": _mute,
    "hand": _hand,
    "alert": _alert,
    "alert_status": _alert_status,
    "handled": _handled,
}
