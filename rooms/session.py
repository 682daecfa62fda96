"""One live session of a group: the roster, the door, and facilitator actions.

Who comes in and goes out (joining, knocks, breaks, leaving, the welcome) is
the base class ``Arrivals`` in rooms/arrivals.py; this module is what people
may do once in, and the session's time.

Sans-I/O: every method takes the current time ``now`` (epoch seconds) where it
matters and returns a list of ``Outcome``; nothing here sleeps, reads a socket
or a clock. A method that refuses raises a ``SafespaceError`` *before* it
changes anything, so a refused command leaves the session exactly as it was.
Time-outs, reminders and the drop of a session nobody is in come due
through ``tick(now)``; ``next_deadline()`` tells the shell when to call it.

``receive`` is the one entry for every frame after the handshake, chat
included: the moderation pipeline (with each seat's rate state, which lives
exactly as long as the session), then the command the frame names.
"""

from __future__ import annotations

import math
import secrets
from collections import deque
from typing import Any

from moderation import pipeline
from moderation.rate import SenderRate
from rooms import wire
from rooms.alerts import Alerts
from rooms.arrivals import ENTRIES_PER_MINUTE, Arrivals
from rooms.commands import COMMANDS, GOODBYES
from rooms.errors import Code, DomainError
from rooms.events import Deliver, Disconnect, Outcome, RevokeSeat, SessionOver
from rooms.group import Group
from rooms.lifecycle import LIVE, RUNNING, Action, State, next_state
from rooms.roster import Participant
from rooms.wire import Audience, Close, Inbound

# Minutes before the planned end at which facilitators get a reminder.
REMINDERS = (10, 5, 0)
MAX_SLOW_MODE_SECONDS = 600.0
MAX_CATEGORY_CHARS = 40
# A session nobody is connected to is dropped after this long, so that a
# facilitator who forgets to press "end" does not leave live state behind.
IDLE_DROP_SECONDS = 30 * 60.0


class Session(Arrivals):
    def __init__(self, group: Group, idle_drop_seconds: float = IDLE_DROP_SECONDS) -> None:
        self.group = group
        self.idle_drop_seconds = idle_drop_seconds
        self.state = State.SCHEDULED
        # Bound into every key derivation and signature of the encryption
        # layer, so nothing sealed in one session opens in another.
        self.id = secrets.token_hex(16)
        self.paused = False
        self.started_at: float | None = None
        self.slow_mode_seconds = group.slow_mode_seconds
        self.last_msg_id = 0
        # Admitted this session (present or stepped out), in order of arrival.
        self.participants: dict[str, Participant] = {}
        # Waiting at the locked door, in order of knocking.
        self.knocks: dict[str, Participant] = {}
        self._pid_of_seat: dict[str, str] = {}
        self._barred: dict[str, Code] = {}  # seat -> REMOVED or REFUSED
        # Mutes by seat: a mute outlives leaving, knocking and coming back
        # within the session; it ends only by unmute, by running out, or with it.
        self._mutes: dict[str, float] = {}
        self._reminders: list[int] = []
        self._pids_issued = 0  # a plain int, so that a snapshot can carry it
        # Rate state by seat, so that reconnecting never resets slow mode or
        # flood control.
        self._rates: dict[str, SenderRate] = {}
        # Since when nobody (admitted or knocking) has been connected.
        self._empty_since: float | None = None
        # Support requests and content alerts until handled (rooms/alerts.py).
        self.alerts = Alerts()
        # When each member seat last came in, for ``entries_per_minute`` (an
        # operator's setting, ENTRIES_PER_MINUTE by default).
        self.entries_per_minute = ENTRIES_PER_MINUTE
        self._entries: dict[str, deque[float]] = {}

    # ---- queries ----------------------------------------------------------

    def state_frame(self) -> dict[str, Any]:
        return wire.frame(
            "state",
            state=str(self.state),
            paused=self.paused,
            started_at=self.started_at,
            slow_mode_seconds=self.slow_mode_seconds,
        )

    # ---- frames ----------------------------------------------------------------

    def receive(self, pid: str, msg: Inbound, now: float) -> list[Outcome]:
        """Any frame from ``pid`` after the handshake: the pipeline, then its command."""
        sender = self.participants.get(pid)
        seat = sender or self.knocks.get(pid)
        rate = self._rate(seat.seat) if seat is not None else SenderRate()
        payload = msg.fields.get("payload")
        pipeline.check(
            pipeline.Frame(msg.type, len(payload) if payload is not None else 0),
            authenticated=True,
            sender=sender,
            session=self,
            rate=rate,
            now=now,
        )
        if sender is None:  # knocking: only a goodbye passes the pipeline, and closes
            return [*self.disconnected(pid, now), Disconnect(pid, Close.NORMAL)]
        command = COMMANDS.get(msg.type)
        if command is None:  # hello or accept again, once in
            raise DomainError(Code.ILLEGAL_TRANSITION, "You are already in the room.")
        out = command(self, pid, msg.fields, now)
        if msg.type in GOODBYES:
            self._note_empty(now)
            out.append(Disconnect(pid, Close.NORMAL))
        return out

    def chat(self, actor: str, payload: bytes, now: float) -> list[Outcome]:
        """A message for the room: an id, and the opaque payload as it came."""
        return [Deliver(Audience.ROOM, wire.message(self.next_message_id(), actor, payload, now))]

    def disconnected(self, pid: str, now: float) -> list[Outcome]:
        """``pid``'s connection is gone: out of the room if it was in, keeping its seat."""
        p = self.participants.get(pid)
        if p is None:
            out = self.step_out(pid)  # a knocker withdraws
        elif p.connected:
            p.connected = False
            out = self._away(p)
        else:
            out = []
        self._note_empty(now)
        return out

    # ---- the lifecycle ----------------------------------------------------

    def open(self, actor: str) -> list[Outcome]:
        return self._transition(actor, Action.OPEN)

    def start(self, actor: str, now: float) -> list[Outcome]:
        self._facilitator(actor)
        self.state = next_state(self.state, Action.START)
        self.started_at = now
        # A reminder never claims more time than the session has.
        self._reminders = [m for m in REMINDERS if m < self.group.duration_minutes]
        return [Deliver(Audience.ROOM, self.state_frame())]

    def lock(self, actor: str) -> list[Outcome]:
        return self._transition(actor, Action.LOCK)

    def unlock(self, actor: str) -> list[Outcome]:
        """Open the door again; whoever is knocking comes in, seats permitting."""
        out = self._transition(actor, Action.UNLOCK)
        for pid in list(self.knocks):
            if len(self.members()) < self.group.capacity:
                out += self.admit(actor, pid)
        return out

    def end(self, actor: str) -> list[Outcome]:
        self._facilitator(actor)
        self.state = next_state(self.state, Action.END)
        ended = wire.frame("ended", reason="ended_by_facilitator")
        connected = [p.pid for p in self.participants.values() if p.connected]
        out: list[Outcome] = [
            Disconnect(pid, Close.SESSION_ENDED, ended) for pid in [*connected, *self.knocks]
        ]
        self.participants.clear()
        self.knocks.clear()
        self._pid_of_seat.clear()
        self._barred.clear()
        self._mutes.clear()
        self._rates.clear()
        self._entries.clear()
        out.append(SessionOver())
        return out

    def pause(self, actor: str) -> list[Outcome]:
        return self._set_paused(actor, True)

    def resume(self, actor: str) -> list[Outcome]:
        return self._set_paused(actor, False)

    def set_slow_mode(self, actor: str, seconds: float) -> list[Outcome]:
        self._facilitator(actor)
        if not 0 <= seconds <= MAX_SLOW_MODE_SECONDS:
            raise DomainError(Code.BAD_FIELD, "Slow mode must be between 0 and 600 seconds.")
        self.slow_mode_seconds = float(seconds)
        return [Deliver(Audience.ROOM, self.state_frame())]

    # ---- moderating people --------------------------------------------------

    def mute(self, actor: str, pid: str) -> list[Outcome]:
        return self._set_mute(actor, pid, math.inf)

    def time_out(self, actor: str, pid: str, seconds: int, now: float) -> list[Outcome]:
        if not 1 <= seconds <= wire.MAX_TIMEOUT_SECONDS:
            raise DomainError(Code.BAD_FIELD, "A time-out lasts from 1 second to 24 hours.")
        return self._set_mute(actor, pid, now + seconds)

    def unmute(self, actor: str, pid: str) -> list[Outcome]:
        self._facilitator(actor)
        p = self._member(pid)
        if p.muted_until is None:
            raise DomainError(Code.ILLEGAL_TRANSITION, "That member is not muted.")
        p.muted_until = None
        self._mutes.pop(p.seat, None)
        return [Deliver(Audience.ROOM, wire.frame("unmuted", pid=pid))]

    def remove(
        self, actor: str, pid: str, for_good: bool, proof: tuple[bytes, bytes] | None = None
    ) -> list[Outcome]:
        """Out for this session (the seat is barred) or for good (the link is revoked too).

        ``proof``: the remover's identity key and its signature over the
        removal (docs/e2ee.md section 3.3), relayed in ``removed`` so that
        every client bars those keys whatever the server says later. Opaque
        here, like a vouch.
        """
        self._facilitator(actor)
        signed: dict[str, bytes] = {}
        if proof is not None:
            by, sig = proof
            if len(by) != wire.VOUCH_KEY_BYTES or len(sig) != wire.VOUCH_SIG_BYTES:
                raise DomainError(
                    Code.BAD_FIELD, "A removal proof is a 32-byte key and a 64-byte signature."
                )
            signed = {"by": by, "proof": sig}
        knocking = pid in self.knocks
        p = self.knocks[pid] if knocking else self._member(pid)
        out: list[Outcome] = []
        if knocking:
            del self.knocks[pid]
            out.append(Deliver(Audience.FACILITATORS, wire.frame("knock_gone", pid=pid)))
        else:
            del self.participants[pid]
            out.append(
                Deliver(Audience.ROOM, wire.frame("removed", pid=pid, for_good=for_good, **signed))
            )
        del self._pid_of_seat[p.seat]
        self._barred[p.seat] = Code.REMOVED
        out.append(Disconnect(pid, Close.REMOVED, wire.refusal(Code.REMOVED, for_good=for_good)))
        if for_good:
            out.append(RevokeSeat(p.seat))
        return out

    def hand(self, actor: str, up: bool, pid: str | None = None) -> list[Outcome]:
        """Raise or lower one's own hand; a facilitator may lower anyone's."""
        target = self._present(actor)
        if pid is not None and pid != actor:
            self._facilitator(actor)
            if up:
                raise DomainError(Code.FORBIDDEN, "Only members raise their own hands.")
            target = self._present(pid)
        if target.hand == up:
            return []
        target.hand = up
        return [Deliver(Audience.ROOM, wire.frame("hand", pid=target.pid, up=up))]

    def delete_message(self, actor: str, msg_id: int) -> list[Outcome]:
        """Ask every client to drop a message; the server never held its text."""
        self._facilitator(actor)
        self._message(msg_id)
        return [Deliver(Audience.ROOM, wire.frame("deleted", id=msg_id, by=actor))]

    # ---- frames to one person or to the facilitators --------------------------
    # Payloads are opaque: the encryption layer decides what is in them.

    def direct(self, actor: str, to: str, payload: bytes) -> list[Outcome]:
        """Pairwise bytes (key distribution) to an admitted participant."""
        if to not in self.participants:
            raise DomainError(Code.NO_SUCH_PARTICIPANT)
        return [Deliver(to, wire.frame("direct", **{"from": actor, "payload": payload}))]

    def vouch(self, actor: str, pid: str, by: bytes, anchor: bytes, sig: bytes) -> list[Outcome]:
        """A facilitator's client signed ``pid``'s keys; relayed, never checked here.

        The server cannot verify a vouch (the signer's key reaches members only
        through their links) and need not: a forged one fails on every client.
        """
        self._facilitator(actor)
        p = self.participants.get(pid)  # admitted only: knockers are vouched once let in
        if p is None:
            raise DomainError(Code.NO_SUCH_PARTICIPANT)
        if (
            len(by) != wire.VOUCH_KEY_BYTES
            or len(anchor) != wire.VOUCH_ANCHOR_BYTES
            or len(sig) != wire.VOUCH_SIG_BYTES
        ):
            raise DomainError(
                Code.BAD_FIELD,
                "A vouch is a 32-byte key, a 16-byte anchor and a 64-byte signature.",
            )
        if by not in p.vouches and len(p.vouches) >= wire.MAX_VOUCHES:
            raise DomainError(Code.BAD_FIELD, "This participant has all the vouches it can hold.")
        if p.vouches.get(by) == (anchor, sig):
            return []
        p.vouches[by] = (anchor, sig)
        return [Deliver(Audience.ROOM, wire.frame("vouch", pid=pid, by=by, anchor=anchor, sig=sig))]

    def private(
        self, actor: str, payload: bytes, now: float, to: str | None = None
    ) -> list[Outcome]:
        """A message in a private thread: a member's with the facilitators, or theirs alone.

        A member writes to the facilitators (the thread is the member's own).
        A facilitator writes into one member's thread (``to``: the member and
        every facilitator get it, so that co-facilitators see the reply) or,
        without ``to``, to the facilitators only (thread nil).
        """
        sender = self.participants[actor]  # the pipeline let only the admitted through
        if to is None:
            thread = None if sender.is_facilitator else actor
            frame = wire.frame(
                "private", **{"from": actor, "thread": thread, "payload": payload, "ts": now}
            )
            return [Deliver(Audience.FACILITATORS, frame)]
        if not sender.is_facilitator:
            raise DomainError(Code.FORBIDDEN)
        member = self._member(to)
        if not member.connected:
            raise DomainError(Code.NOT_CONNECTED)
        frame = wire.frame(
            "private", **{"from": actor, "thread": to, "payload": payload, "ts": now}
        )
        return [Deliver(to, frame), Deliver(Audience.FACILITATORS, frame)]

    def report(self, actor: str, msg_id: int, payload: bytes, now: float) -> list[Outcome]:
        self._message(msg_id)
        frame = wire.frame(
            "report", **{"from": actor, "msg": msg_id, "payload": payload, "ts": now}
        )
        return [Deliver(Audience.FACILITATORS, frame)]

    def alert(self, actor: str, kind: str, category: str | None, now: float) -> list[Outcome]:
        """ "I need support now", or a content rule's alert: a category, never text."""
        if kind not in wire.ALERT_KINDS:
            raise DomainError(Code.BAD_FIELD, "An alert is of kind support or content.")
        if category is not None:
            category = "".join(ch for ch in category if ch.isalnum() or ch in "_-")
            if not 1 <= len(category) <= MAX_CATEGORY_CHARS:
                raise DomainError(
                    Code.BAD_FIELD, "An alert category is 1 to 40 letters, digits, _ or -."
                )
        return self.alerts.raised(
            actor, kind, category, now, facilitator_here=self._facilitator_here()
        )

    def alert_seen(self, actor: str, alert_id: int) -> list[Outcome]:
        """A facilitator's client shows the alert on its screen (sent by itself)."""
        self._facilitator(actor)
        return self.alerts.seen(alert_id)

    def alert_handled(self, actor: str, alert_id: int) -> list[Outcome]:
        self._facilitator(actor)
        return self.alerts.handled(actor, alert_id)

    def update_group(self, group: Group) -> list[Outcome]:
        """A facilitator edited the group mid-session: the new settings apply at once.

        A facilitator taken off the group leaves the room: they would otherwise
        go on receiving what is for facilitators only.
        """
        out: list[Outcome] = []
        for p in list(self.participants.values()):
            if p.is_facilitator and not group.run_by(p.seat):
                del self.participants[p.pid]
                del self._pid_of_seat[p.seat]
                out.append(Deliver(Audience.ROOM, wire.frame("left", pid=p.pid)))
                if p.connected:
                    out.append(Disconnect(p.pid, Close.REMOVED, wire.refusal(Code.NOT_FACILITATOR)))
                out += self._facilitators_changed(p)
        if group.slow_mode_seconds != self.group.slow_mode_seconds:
            self.slow_mode_seconds = group.slow_mode_seconds
            out.append(Deliver(Audience.ROOM, self.state_frame()))
        if group.content_rules != self.group.content_rules:
            out.append(
                Deliver(Audience.ROOM, wire.frame("content_rules", rules=group.content_rules))
            )
        self.group = group
        if self.started_at is not None:
            self._reminders = [m for m in self._reminders if m < group.duration_minutes]
        return out

    def next_message_id(self) -> int:
        """Called once the pipeline has passed a chat frame."""
        self.last_msg_id += 1
        return self.last_msg_id

    # ---- time ----------------------------------------------------------------

    def tick(self, now: float) -> list[Outcome]:
        """Time-outs that ran out end by themselves; reminders come due."""
        out: list[Outcome] = []
        idle = self._idle_deadline()
        if idle is not None and idle <= now:
            self.state = State.ENDED
            return [SessionOver()]
        for p in self.participants.values():
            if p.muted_until is not None and p.muted_until <= now:
                p.muted_until = None
                self._mutes.pop(p.seat, None)
                out.append(Deliver(Audience.ROOM, wire.frame("unmuted", pid=p.pid)))
        while self._reminders and (due := self._reminder_at(self._reminders[0])) is not None:
            if due > now:
                break
            minutes = self._reminders.pop(0)
            out.append(Deliver(Audience.FACILITATORS, wire.frame("reminder", minutes_left=minutes)))
        return out

    def next_deadline(self) -> float | None:
        times = [p.muted_until for p in self.participants.values() if p.muted_until is not None]
        if self._reminders and (due := self._reminder_at(self._reminders[0])) is not None:
            times.append(due)
        if (idle := self._idle_deadline()) is not None:
            times.append(idle)
        finite = [t for t in times if t != math.inf]
        return min(finite) if finite else None

    def _nobody_here(self) -> bool:
        return not self.knocks and not any(p.connected for p in self.participants.values())

    def _note_empty(self, now: float) -> None:
        if self._empty_since is None and self._nobody_here():
            self._empty_since = now

    def _idle_deadline(self) -> float | None:
        # Read lazily: an arrival (which needs no clock) undoes the emptiness.
        if self._empty_since is not None and not self._nobody_here():
            self._empty_since = None
        if self._empty_since is None:
            return None
        return self._empty_since + self.idle_drop_seconds

    def _rate(self, seat: str) -> SenderRate:
        rate = self._rates.get(seat)
        if rate is None:  # made once per seat, not once per frame (the chat path)
            rate = self._rates[seat] = SenderRate()
        return rate

    # ---- helpers ---------------------------------------------------------------

    def _reminder_at(self, minutes_left: int) -> float | None:
        if self.started_at is None or self.state not in LIVE:
            return None
        return self.started_at + (self.group.duration_minutes - minutes_left) * 60.0

    def _message(self, msg_id: int) -> None:
        if not 1 <= msg_id <= self.last_msg_id:
            raise DomainError(Code.NO_SUCH_MESSAGE)

    def _transition(self, actor: str, action: Action) -> list[Outcome]:
        self._facilitator(actor)
        self.state = next_state(self.state, action)
        return [Deliver(Audience.ROOM, self.state_frame())]

    def _set_paused(self, actor: str, paused: bool) -> list[Outcome]:
        self._facilitator(actor)
        if self.state not in RUNNING:
            raise DomainError(Code.ILLEGAL_TRANSITION, "The room is not open.")
        if self.paused == paused:
            raise DomainError(
                Code.ILLEGAL_TRANSITION,
                "The session is already paused." if paused else "The session is not paused.",
            )
        self.paused = paused
        return [Deliver(Audience.ROOM, self.state_frame())]

    def _set_mute(self, actor: str, pid: str, until: float) -> list[Outcome]:
        self._facilitator(actor)
        p = self._member(pid)
        p.muted_until = self._mutes[p.seat] = until
        shown = None if until == math.inf else until
        return [Deliver(Audience.ROOM, wire.frame("muted", pid=pid, until=shown))]
