"""Who comes into a live session and goes out of it: the door for people.

A part of ``Session`` (rooms/session.py), the base it is built on: joining
(capacity, the knock queue, bars, each seat's entry budget, names), knocks
answered, breaks and returns, leaving, and the frames someone arriving is
shown (``welcome``, ``rules``). The rest of ``Session`` is what people may do
once in. Both share the session's state, which ``Session.__init__`` sets;
the attributes are declared here so that each half is checked on its own.
Sans-I/O like the rest of the core: nothing here awaits or reads a clock.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import Any

from rooms import wire
from rooms.alerts import Alerts
from rooms.errors import AuthError, Code, DomainError
from rooms.events import Admitted, Deliver, Disconnect, Outcome
from rooms.group import Group
from rooms.lifecycle import OPEN_DOOR, State
from rooms.roster import Participant, Role, clean_name
from rooms.wire import Audience, Close

# At the locked door at once; beyond, a newcomer hears the group is full. With
# the capacity, the facilitators' bound and the alerts' (rooms/alerts.py) it
# keeps a facilitator's welcome under wire.MAX_SERVER_FRAME_BYTES.
MAX_KNOCKS = 16
MAX_FACILITATORS = 8
# Entries per seat (arrivals, returns, knocks) in any minute. Each one makes
# every other client in the room hand out new keys, so a seat that loops
# hello-and-close must not be able to flood the whole room with key traffic;
# a phone on a bad network reconnects far less often than this.
ENTRIES_PER_MINUTE = 12
ENTRY_WINDOW_SECONDS = 60.0


class Arrivals:
    group: Group
    state: State
    id: str
    paused: bool
    started_at: float | None
    slow_mode_seconds: float
    last_msg_id: int
    participants: dict[str, Participant]
    knocks: dict[str, Participant]
    alerts: Alerts
    _pid_of_seat: dict[str, str]
    _barred: dict[str, Code]
    _mutes: dict[str, float]
    _entries: dict[str, deque[float]]
    _pids_issued: int
    entries_per_minute: int

    def members(self) -> list[Participant]:
        return [p for p in self.participants.values() if not p.is_facilitator]

    def roster(self) -> list[dict[str, Any]]:
        return [p.public() for p in self.participants.values()]

    def welcome(self, p: Participant) -> dict[str, Any]:
        g = self.group
        out = wire.frame(
            "welcome",
            you=p.pid,
            role=str(p.role),
            session=self.id,
            state=str(self.state),
            paused=self.paused,
            started_at=self.started_at,
            slow_mode_seconds=self.slow_mode_seconds,
            last_msg=self.last_msg_id,
            group={
                "id": g.id,
                "title": g.title,
                "capacity": g.capacity,
                "duration_minutes": g.duration_minutes,
                "crisis_resources": list(g.crisis_resources),
                "content_rules": g.content_rules,
            },
            roster=self.roster(),
            # Facilitators: every open alert; a member: their own, so that a
            # reload shows what became of them.
            alerts=self.alerts.all() if p.is_facilitator else self.alerts.of(p.pid),
        )
        if p.is_facilitator:
            out["knocks"] = [k.public() for k in self.knocks.values()]
        return out

    def rules_frame(self) -> dict[str, Any]:
        g = self.group
        return wire.frame(
            "rules",
            group={"id": g.id, "title": g.title},
            rules=list(g.ground_rules),
            digest=g.rules_digest(),
            crisis_resources=list(g.crisis_resources),
        )

    def check_door(self, seat: str, now: float | None = None) -> None:
        """Refuse a member early (before the rules), with the reason they would meet.

        ``now`` given: a seat that came in ``ENTRIES_PER_MINUTE`` times in the
        last minute waits (``rate_limited``, with ``retry_after``), alone.
        """
        if self.state is State.SCHEDULED:
            raise AuthError(Code.ROOM_NOT_OPEN)
        if self.state is State.ENDED:
            raise AuthError(Code.SESSION_ENDED)
        barred = self._barred.get(seat)
        if barred is not None:
            raise AuthError(barred)
        if seat not in self._pid_of_seat and len(self.members()) >= self.group.capacity:
            raise AuthError(Code.ROOM_FULL)
        if seat not in self._pid_of_seat and len(self.knocks) >= MAX_KNOCKS:
            raise AuthError(Code.ROOM_FULL)
        entries = self._entries.get(seat)
        if now is not None and entries is not None:
            while entries and entries[0] <= now - ENTRY_WINDOW_SECONDS:
                entries.popleft()
            if len(entries) >= self.entries_per_minute:
                wait = math.ceil(entries[0] + ENTRY_WINDOW_SECONDS - now)
                raise AuthError(Code.RATE_LIMITED, retry_after=max(1, wait))

    def is_knocking(self, pid: str) -> bool:
        return pid in self.knocks

    def join_member(
        self,
        seat: str,
        name: str,
        keys: bytes,
        rules_digest: str | None,
        now: float | None = None,
    ) -> tuple[Participant, list[Outcome]]:
        """A member with a valid seat link who has (or has not) accepted the rules.

        ``now`` given, the entry counts toward the seat's ``ENTRIES_PER_MINUTE``.
        """
        self.check_door(seat, now)
        if rules_digest != self.group.rules_digest():
            raise AuthError(Code.RULES_NOT_ACCEPTED)
        name = self._free_name(clean_name(name), seat)
        if now is not None:
            self._entries.setdefault(seat, deque()).append(now)
        pid = self._pid_of_seat.get(seat)
        if pid in self.participants:  # stepped out earlier: back without knocking
            p = self.participants[pid]
            p.name, p.connected = name, True
            p.present = not p.on_break  # a break goes on until ``back``
            p.set_keys(keys)
            return p, self._arrived(p, returning=True)
        if pid in self.knocks:  # knocking again from a new connection
            p = self.knocks[pid]
            p.name = name
            p.set_keys(keys)
            return p, [
                Deliver(p.pid, wire.frame("knocking")),
                Deliver(Audience.FACILITATORS, wire.frame("knock", p=p.public())),
            ]
        p = Participant(self._new_pid(), name, Role.MEMBER, seat, keys)
        p.muted_until = self._mutes.get(seat)
        self._pid_of_seat[seat] = p.pid
        if self.state in OPEN_DOOR:
            self.participants[p.pid] = p
            return p, self._arrived(p, returning=False)
        self.knocks[p.pid] = p
        return p, [
            Deliver(p.pid, wire.frame("knocking")),
            Deliver(Audience.FACILITATORS, wire.frame("knock", p=p.public())),
        ]

    def join_facilitator(
        self, account: str, name: str, keys: bytes
    ) -> tuple[Participant, list[Outcome]]:
        if self.state is State.ENDED:
            raise AuthError(Code.SESSION_ENDED)
        name = self._free_name(clean_name(name), account)
        pid = self._pid_of_seat.get(account)
        if pid is not None:
            p = self.participants[pid]
            p.name, p.present, p.connected = name, True, True
            p.set_keys(keys)
            reached = self.alerts.reach(True)  # before the welcome, which lists them
            return p, self._arrived(p, returning=True) + reached
        if sum(p.is_facilitator for p in self.participants.values()) >= MAX_FACILITATORS:
            raise AuthError(Code.ROOM_FULL)
        p = Participant(self._new_pid(), name, Role.FACILITATOR, account, keys)
        self._pid_of_seat[account] = p.pid
        self.participants[p.pid] = p
        reached = self.alerts.reach(True)
        return p, self._arrived(p, returning=False) + reached

    def step_out(self, pid: str) -> list[Outcome]:
        """A break: out of the room, still connected, the seat kept (a knocker withdraws).

        The connection stays for what a break must not cut off: the private
        thread with the facilitators, "I need support now", reports of
        earlier messages. The room is told the member stepped out.
        """
        if pid in self.knocks:
            knock = self.knocks.pop(pid)
            del self._pid_of_seat[knock.seat]
            return [Deliver(Audience.FACILITATORS, wire.frame("knock_gone", pid=pid))]
        p = self.participants.get(pid)
        if p is None or not p.present:
            return []
        p.on_break = True
        return self._away(p)

    def back(self, pid: str) -> list[Outcome]:
        """Back in the room from a break, on the same connection."""
        p = self.participants[pid]  # the pipeline let only the admitted through
        if p.present:
            raise DomainError(Code.ILLEGAL_TRANSITION, "You are already in the room.")
        p.present, p.on_break = True, False
        # A facilitator back on duty: what was waiting is sent. A member's
        # return changes nothing for the alerts.
        reached = self.alerts.reach(True) if p.is_facilitator else []
        return [Deliver(Audience.ROOM, self._presence(p)), *reached]

    def _away(self, p: Participant) -> list[Outcome]:
        """Out of the room (stepped out, or the connection is gone): the room is told."""
        p.present, p.hand = False, False
        return [Deliver(Audience.ROOM, self._presence(p)), *self._facilitators_changed(p)]

    def _presence(self, p: Participant, *, arriving: bool = False) -> dict[str, Any]:
        if not p.present and arriving:
            # Back on a new connection, still on a break: the new page's keys,
            # so that the facilitators' private replies reach it.
            return wire.frame("presence", pid=p.pid, present=False, connected=True, keys=p.keys)
        if not p.present:
            return wire.frame("presence", pid=p.pid, present=False, connected=p.connected)
        return wire.frame(
            "presence", pid=p.pid, present=True, connected=True, name=p.name, keys=p.keys
        )

    def leave(self, pid: str) -> list[Outcome]:
        """Gone for this session: the seat is given up; coming back after the lock knocks."""
        if pid in self.knocks:
            return self.step_out(pid)
        p = self.participants.pop(pid, None)
        if p is None:
            return []
        del self._pid_of_seat[p.seat]
        return [Deliver(Audience.ROOM, wire.frame("left", pid=pid)), *self._facilitators_changed(p)]

    def admit(self, actor: str, pid: str) -> list[Outcome]:
        self._facilitator(actor)
        p = self._knock(pid)
        if len(self.members()) >= self.group.capacity:
            raise DomainError(Code.ROOM_FULL)
        del self.knocks[pid]
        self.participants[pid] = p
        return [
            Deliver(Audience.FACILITATORS, wire.frame("knock_gone", pid=pid)),
            *self._arrived(p, returning=False),
            Admitted(pid),
        ]

    def refuse(self, actor: str, pid: str) -> list[Outcome]:
        self._facilitator(actor)
        p = self._knock(pid)
        del self.knocks[pid]
        del self._pid_of_seat[p.seat]
        self._barred[p.seat] = Code.REFUSED
        return [
            Deliver(Audience.FACILITATORS, wire.frame("knock_gone", pid=pid)),
            Disconnect(pid, Close.REFUSED, wire.refusal(Code.REFUSED)),
        ]

    def _new_pid(self) -> str:
        self._pids_issued += 1
        return f"p{self._pids_issued}"

    def _arrived(self, p: Participant, *, returning: bool) -> list[Outcome]:
        note = self._presence(p, arriving=True) if returning else wire.frame("joined", p=p.public())
        return [Deliver(p.pid, self.welcome(p)), Deliver(Audience.ROOM, note)]

    def _facilitator_here(self) -> bool:
        return any(p.is_facilitator and p.present for p in self.participants.values())

    def _facilitators_changed(self, p: Participant) -> list[Outcome]:
        """``p`` went: if it was the last facilitator here, sent alerts wait again."""
        return self.alerts.reach(self._facilitator_here()) if p.is_facilitator else []

    def _free_name(self, name: str, seat: str) -> str:
        folded = name.casefold()
        for other in itertools.chain(self.participants.values(), self.knocks.values()):
            if other.seat != seat and other.name.casefold() == folded:
                raise DomainError(Code.NAME_TAKEN)
        return name

    def _facilitator(self, pid: str) -> Participant:
        p = self.participants.get(pid)
        if p is None:
            raise DomainError(Code.NOT_IN_ROOM)
        # The group's current list decides: one taken off it mid-session
        # keeps the seat in the room but loses the powers at once.
        if not p.is_facilitator or not self.group.run_by(p.seat):
            raise DomainError(Code.FORBIDDEN)
        return p

    def _present(self, pid: str) -> Participant:
        p = self.participants.get(pid)
        if p is None:
            raise DomainError(Code.NO_SUCH_PARTICIPANT)
        return p

    def _member(self, pid: str) -> Participant:
        p = self._present(pid)
        if p.is_facilitator:
            raise DomainError(Code.NOT_A_MEMBER)
        return p

    def _knock(self, pid: str) -> Participant:
        p = self.knocks.get(pid)
        if p is None:
            raise DomainError(Code.NO_SUCH_KNOCK)
        return p
