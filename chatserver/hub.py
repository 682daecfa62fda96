"""The hub: this node's live rooms, the command dispatch and the fan-out.

Commands go to the pure ``rooms.session.Session`` after the moderation
pipeline let them through; the outcomes it returns are carried out here.
Every frame for a room is encoded once and handed to the backend, which
calls ``_deliver`` on each node that has members of the room; ``_deliver``
only appends bytes to connection queues and never awaits a socket.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from chatserver.backend import Backend, Delivery
from chatserver.codec import encode
from chatserver.connection import Connection, Outgoing
from chatserver.metrics import Metrics
from chatserver.store import Store
from moderation import pipeline
from moderation.rate import SenderRate
from rooms import wire
from rooms.errors import Code, DomainError
from rooms.events import Deliver, Disconnect, Outcome, RevokeSeat, SessionOver
from rooms.group import Group
from rooms.roster import Participant
from rooms.session import Session
from rooms.wire import Audience, Close, Inbound

# A session nobody is connected to is dropped after this long, so that a
# facilitator who forgets to press "end" does not leave live state behind.
IDLE_DROP_SECONDS = 30 * 60.0

Handler = Callable[["LocalRoom", Participant, Connection, dict[str, Any], float], Awaitable[None]]


class LocalRoom:
    """One group's live session as this node holds it, and its local connections."""

    def __init__(self, session: Session) -> None:
        self.id = session.group.id
        self.session = session
        self.conns: dict[str, Connection] = {}
        # Rate state by seat, so that reconnecting never resets slow mode or
        # flood control; it lives exactly as long as the session.
        self.rates: dict[str, SenderRate] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.idle: asyncio.TimerHandle | None = None


class Hub:
    def __init__(
        self,
        store: Store,
        backend: Backend,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        idle_drop_seconds: float = IDLE_DROP_SECONDS,
    ) -> None:
        self.store = store
        self.backend = backend
        self.metrics = metrics
        self.clock = clock
        self.idle_drop_seconds = idle_drop_seconds
        self.rooms: dict[str, LocalRoom] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        backend.bind(self._deliver)
        self._handlers: dict[str, Handler] = {
            "direct": self._command(lambda s, p, f, now: s.direct(p.pid, f["to"], f["payload"])),
            "vouch": self._command(
                lambda s, p, f, now: s.vouch(p.pid, f["pid"], f["by"], f["sig"])
            ),
            "private": self._command(lambda s, p, f, now: s.private(p.pid, f["payload"], now)),
            "report": self._command(
                lambda s, p, f, now: s.report(p.pid, f["msg"], f["payload"], now)
            ),
            "alert": self._command(
                lambda s, p, f, now: s.alert(p.pid, f["kind"], f.get("category"), now)
            ),
            "hand": self._command(lambda s, p, f, now: s.hand(p.pid, f["up"], f.get("pid"))),
            "step_out": self._going(Session.step_out),
            "leave": self._going(Session.leave),
            "open": self._command(lambda s, p, f, now: s.open(p.pid)),
            "start": self._command(lambda s, p, f, now: s.start(p.pid, now)),
            "lock": self._command(lambda s, p, f, now: s.lock(p.pid)),
            "unlock": self._command(lambda s, p, f, now: s.unlock(p.pid)),
            "pause": self._command(lambda s, p, f, now: s.pause(p.pid)),
            "resume": self._command(lambda s, p, f, now: s.resume(p.pid)),
            "end": self._command(lambda s, p, f, now: s.end(p.pid)),
            "admit": self._command(lambda s, p, f, now: s.admit(p.pid, f["pid"])),
            "refuse": self._command(lambda s, p, f, now: s.refuse(p.pid, f["pid"])),
            "mute": self._command(lambda s, p, f, now: s.mute(p.pid, f["pid"])),
            "unmute": self._command(lambda s, p, f, now: s.unmute(p.pid, f["pid"])),
            "timeout": self._command(
                lambda s, p, f, now: s.time_out(p.pid, f["pid"], f["seconds"], now)
            ),
            "remove": self._command(
                lambda s, p, f, now: s.remove(p.pid, f["pid"], bool(f.get("for_good", False)))
            ),
            "delete": self._command(lambda s, p, f, now: s.delete_message(p.pid, f["msg"])),
            "slow": self._command(lambda s, p, f, now: s.set_slow_mode(p.pid, f["seconds"])),
        }

    # ---- rooms ------------------------------------------------------------

    async def room_for(self, group: Group) -> LocalRoom:
        """The group's live room, created (scheduled) on a facilitator's arrival."""
        room = self.rooms.get(group.id)
        if room is None:
            room = LocalRoom(Session(group))
            self.rooms[group.id] = room
            await self.backend.join(group.id)
        return room

    def group_changed(self, group: Group) -> None:
        """A facilitator edited the group: a session not yet ended uses the new settings."""
        room = self.rooms.get(group.id)
        if room is not None:
            self._spawn(self.carry_out(room, room.session.update_group(group)))

    def _drop(self, room: LocalRoom) -> None:
        """Forget everything about the room on this node: the session is over."""
        for handle in (room.timer, room.idle):
            if handle is not None:
                handle.cancel()
        if self.rooms.get(room.id) is room:
            del self.rooms[room.id]
            self._spawn(self.backend.leave(room.id))

    async def attach(
        self, room: LocalRoom, p: Participant, conn: Connection, outcomes: list[Outcome]
    ) -> None:
        old = room.conns.get(p.pid)
        if old is not None and old is not conn:
            old.pid = None  # its goodbye must not step the new connection out
            old.close(Close.REPLACED)
        room.conns[p.pid] = conn
        conn.pid, conn.room = p.pid, room.id
        if room.idle is not None:
            room.idle.cancel()
            room.idle = None
        await self.carry_out(room, outcomes)

    async def detach(self, conn: Connection) -> None:
        """The connection is gone: its participant steps out (keeping the seat)."""
        room = self.rooms.get(conn.room or "")
        pid = conn.pid
        if room is None or pid is None or room.conns.get(pid) is not conn:
            return
        del room.conns[pid]
        await self.carry_out(room, room.session.step_out(pid))
        if not room.conns and self.rooms.get(room.id) is room:
            room.idle = asyncio.get_running_loop().call_later(
                self.idle_drop_seconds, self._drop, room
            )

    # ---- commands ---------------------------------------------------------

    async def handle(self, conn: Connection, msg: Inbound) -> None:
        """Any frame after the handshake: the pipeline, then its handler."""
        if msg.type == "chat":
            self.chat(conn, msg)
            return
        room, sender, now = self._admit(conn, msg)
        handler = self._handlers.get(msg.type)
        if handler is None:  # hello or accept again, once in
            raise DomainError(Code.ILLEGAL_TRANSITION, "You are already in the room.")
        if sender is None:  # knocking: only leave / step_out pass the pipeline
            await self.carry_out(room, room.session.leave(conn.pid or ""))
            conn.close(Close.NORMAL)
            return
        await handler(room, sender, conn, msg.fields, now)

    def chat(self, conn: Connection, msg: Inbound) -> None:
        """The hot path, synchronous: one check, one id, one encoding, one publish."""
        room, sender, now = self._admit(conn, msg)
        assert sender is not None  # knockers' chat never passes the pipeline
        msg_id = room.session.next_message_id()
        self.metrics.messages += 1
        data = encode(wire.message(msg_id, sender.pid, msg.fields["payload"], now))
        self.backend.publish(room.id, Delivery(Audience.ROOM, data))

    def _admit(self, conn: Connection, msg: Inbound) -> tuple[LocalRoom, Participant | None, float]:
        """Run the moderation pipeline on ``msg``; its room, sender and the time."""
        room = self.rooms.get(conn.room or "")
        session = room.session if room is not None else None
        pid = conn.pid or ""
        sender = session.speaker(pid) if session is not None else None
        seat = sender or (session.knocks.get(pid) if session is not None else None)
        rate = room.rates.get(seat.seat) if room and seat else None
        if rate is None:  # made once per seat, not once per frame (hot path)
            rate = SenderRate()
            if room and seat:
                room.rates[seat.seat] = rate
        payload = msg.fields.get("payload")
        now = self.clock()
        pipeline.check(
            pipeline.Frame(msg.type, len(payload) if payload is not None else 0),
            authenticated=conn.pid is not None,
            sender=sender,
            session=session,
            rate=rate,
            now=now,
        )
        assert room is not None  # the pipeline refuses frames from outside a room
        return room, sender, now

    def _command(
        self, call: Callable[[Session, Participant, dict[str, Any], float], list[Outcome]]
    ) -> Handler:
        async def run(
            room: LocalRoom, p: Participant, conn: Connection, f: dict[str, Any], now: float
        ) -> None:
            await self.carry_out(room, call(room.session, p, f, now))

        return run

    def _going(self, call: Callable[[Session, str], list[Outcome]]) -> Handler:
        """Stepping out or leaving: the session is told, then the socket closes."""

        async def run(
            room: LocalRoom, p: Participant, conn: Connection, f: dict[str, Any], now: float
        ) -> None:
            await self.carry_out(room, call(room.session, p.pid))
            conn.close(Close.NORMAL)

        return run

    # ---- outcomes -----------------------------------------------------------

    async def carry_out(self, room: LocalRoom, outcomes: list[Outcome]) -> None:
        for o in outcomes:
            if isinstance(o, Deliver):
                self.backend.publish(room.id, Delivery(o.to, encode(o.frame)))
            elif isinstance(o, Disconnect):
                final = encode(o.frame) if o.frame is not None else b""
                self.backend.publish(room.id, Delivery(o.pid, final, o.close_code))
            elif isinstance(o, RevokeSeat):
                await self.store.revoke_seat(o.seat, self.clock())
            elif isinstance(o, SessionOver):
                self._drop(room)
        if self.rooms.get(room.id) is room:
            self._arm_timer(room)

    def _deliver(self, room_id: str, delivery: Delivery) -> None:
        room = self.rooms.get(room_id)
        if room is None:
            return
        to, out = delivery.to, Outgoing(delivery.data)
        admitted = room.session.participants
        if to == Audience.ROOM:
            for pid, conn in room.conns.items():
                if pid in admitted:
                    conn.send(out)
        elif to == Audience.FACILITATORS:
            for pid, conn in room.conns.items():
                p = admitted.get(pid)
                if p is not None and p.is_facilitator:
                    conn.send(out)
        else:
            one = room.conns.get(to)
            if one is None:
                return
            if delivery.close:
                # Out of the room now: nothing more reaches it, and its own
                # goodbye (detach) has nothing left to undo.
                del room.conns[to]
                one.close(delivery.close, out if delivery.data else None)
            else:
                one.send(out)

    def _arm_timer(self, room: LocalRoom) -> None:
        deadline = room.session.next_deadline()
        if room.timer is not None:
            room.timer.cancel()
            room.timer = None
        if deadline is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, deadline - self.clock())
            room.timer = loop.call_later(delay, self._tick, room)

    def _tick(self, room: LocalRoom) -> None:
        room.timer = None
        if self.rooms.get(room.id) is room:
            self._spawn(self.carry_out(room, room.session.tick(self.clock())))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def shutdown(self) -> None:
        """Server stopping: drop all live state.

        uvicorn has already closed every websocket with 1012 (restart) by the
        time the app shuts down; whatever is left is closed the same way.
        """
        for room in list(self.rooms.values()):
            for conn in room.conns.values():
                conn.close(Close.RESTART)
            self._drop(room)
