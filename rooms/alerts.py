"""Support requests and content alerts, held until a facilitator marks them handled.

A member's "I need support now" (kind ``support``) or an alert a content
rule raised on a member's client (kind ``content``) must never vanish because
no facilitator happened to be connected, and what the member is told about it
must be true at every moment. So an alert is a tracked state of the live
session, with a status the member is shown in words:

    waiting --a facilitator is in the room--> sent --a facilitator's screen shows it--> seen
       ^                                       |
       +------the last facilitator leaves------+           any --marked handled--> (closed)

``waiting``: no facilitator is in the room; it reaches the first who comes.
``sent``: the facilitators in the room were sent it, and no facilitator's
client has yet said it is on a screen (``alert_seen``, which clients send on
their own when they show it). ``seen``: one has. Marking it handled closes it
for every facilitator and tells the member. A repeat of the same request
(same member, kind and category) is the same alert, counted, and needs to be
seen again.

Metadata only, in memory only, for as long as the session lives: who, which
kind and category, when, how often, and the status. Never any text.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rooms import wire
from rooms.errors import Code, DomainError
from rooms.events import Deliver, Outcome
from rooms.wire import Audience

# Open alerts one participant may have at once (kinds x categories); a client
# that makes up categories to fill the session's memory gets ``flood``.
MAX_OPEN_PER_SENDER = 16
# And in all: members who leave and come back get new ids, so the session's
# memory (and a facilitator's welcome, which lists them) is bounded here.
MAX_OPEN = 64


class Status(StrEnum):
    WAITING = "waiting"
    SENT = "sent"
    SEEN = "seen"
    HANDLED = "handled"


@dataclass(slots=True)
class Alert:
    id: int
    pid: str
    kind: str
    category: str | None
    ts: float
    count: int = 1
    status: Status = Status.WAITING

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.pid,
            "kind": self.kind,
            "category": self.category,
            "ts": self.ts,
            "count": self.count,
            "status": str(self.status),
        }

    def status_frame(self) -> dict[str, Any]:
        return wire.frame("alert_status", id=self.id, kind=self.kind, status=str(self.status))


class Alerts:
    """The open alerts of one session, in order of raising."""

    def __init__(self) -> None:
        self.open: dict[int, Alert] = {}
        self.last_id = 0  # a plain int, so that a snapshot can carry it

    def of(self, pid: str) -> list[dict[str, Any]]:
        return [a.public() for a in self.open.values() if a.pid == pid]

    def all(self) -> list[dict[str, Any]]:
        return [a.public() for a in self.open.values()]

    def raised(
        self, pid: str, kind: str, category: str | None, now: float, *, facilitator_here: bool
    ) -> list[Outcome]:
        alert = next(
            (a for a in self.open.values() if (a.pid, a.kind, a.category) == (pid, kind, category)),
            None,
        )
        if alert is None:
            self._make_room(pid, kind)
            self.last_id += 1
            alert = Alert(self.last_id, pid, kind, category, now)
            self.open[alert.id] = alert
        else:
            alert.count += 1
            alert.ts = now
        alert.status = Status.SENT if facilitator_here else Status.WAITING
        return [
            Deliver(Audience.FACILITATORS, wire.frame("alert", **alert.public())),
            Deliver(pid, alert.status_frame()),
        ]

    def _make_room(self, pid: str, kind: str) -> None:
        """Keep the bounds; a support request is never refused for them.

        A support request is one per member (repeats count on it), so only
        content alerts can fill the session: when it is full, the oldest
        content alert makes room for a support request (its facilitators had
        its ``alert`` frame already); a content alert over the bounds is
        refused with ``flood``.
        """
        if kind == "support":
            if len(self.open) >= MAX_OPEN:
                oldest = next((a for a in self.open.values() if a.kind != "support"), None)
                if oldest is not None:
                    del self.open[oldest.id]
            return
        mine = sum(a.pid == pid for a in self.open.values())
        if len(self.open) >= MAX_OPEN or mine >= MAX_OPEN_PER_SENDER:
            raise DomainError(Code.FLOOD)

    def seen(self, alert_id: int) -> list[Outcome]:
        """A facilitator's client shows the alert; unknown or already seen: nothing."""
        alert = self.open.get(alert_id)
        if alert is None or alert.status is Status.SEEN:
            return []
        alert.status = Status.SEEN
        return [Deliver(alert.pid, alert.status_frame())]

    def handled(self, actor: str, alert_id: int) -> list[Outcome]:
        alert = self.open.pop(alert_id, None)
        if alert is None:
            raise DomainError(Code.NO_SUCH_ALERT)
        alert.status = Status.HANDLED
        return [
            Deliver(Audience.FACILITATORS, wire.frame("handled", id=alert_id, by=actor)),
            Deliver(alert.pid, alert.status_frame()),
        ]

    def reach(self, facilitator_here: bool) -> list[Outcome]:
        """Facilitators came or went: what was waiting is sent, or what was sent waits."""
        before, after = (
            (Status.WAITING, Status.SENT) if facilitator_here else (Status.SENT, Status.WAITING)
        )
        out: list[Outcome] = []
        for alert in self.open.values():
            if alert.status is before:
                alert.status = after
                out.append(Deliver(alert.pid, alert.status_frame()))
        return out
