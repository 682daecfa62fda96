"""The hub: this node's live rooms, the command dispatch and the fan-out.

Every frame after the handshake goes to the pure ``rooms.session.Session``
(``receive``: the moderation pipeline and the command); the outcomes it
returns are carried out here. No rule of the room lives in this module.
Every frame for a room is encoded once and handed to the backend, which
calls ``_deliver`` on each node that has members of the room; ``_deliver``
only appends bytes to connection queues and never awaits a socket.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable

from chatserver.backend import Backend, Delivery
from chatserver.connection import Connection, Outgoing
from chatserver.metrics import Metrics
from chatserver.store import Store
from rooms.arrivals import ENTRIES_PER_MINUTE
from rooms.codec import decode, encode
from rooms.commands import KEEPS_DEADLINES
from rooms.errors import AuthError, Code, Rejected, SafespaceError
from rooms.events import Admitted, Deliver, Disconnect, Outcome, RevokeSeat, SessionOver
from rooms.group import Group
from rooms.lifecycle import State
from rooms.roster import Participant
from rooms.session import IDLE_DROP_SECONDS, Session
from rooms.snapshot import restore, snapshot
from rooms.wire import Audience, Close, Inbound

log = logging.getLogger(__name__)

Revokes = list[RevokeSeat]
# A revocation the store refused (locked, full) is tried again after these
# waits, the last one repeating, for as long as this process runs.
REVOKE_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
# A graceful stop keeps each live session (its snapshot: metadata, never a
# message) for the next start of this node, for at most this long.
KEEP_SECONDS = 600.0


def _log_failure(done: asyncio.Task[None]) -> None:
    # Nobody awaits a spawned task: without this its exception is lost. The
    # traceback names code and exception types, never a frame's content.
    if not done.cancelled() and (exc := done.exception()) is not None:
        log.error("A hub task failed: %s", type(exc).__name__, exc_info=exc)


class LocalRoom:
    """One group's live session as this node holds it, and its local connections."""

    def __init__(self, session: Session) -> None:
        self.id = session.group.id
        self.session = session
        self.conns: dict[str, Connection] = {}
        self.timer: asyncio.TimerHandle | None = None


class Hub:
    def __init__(
        self,
        store: Store,
        backend: Backend,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
        idle_drop_seconds: float = IDLE_DROP_SECONDS,
        entries_per_minute: int = ENTRIES_PER_MINUTE,
    ) -> None:
        self.store = store
        self.backend = backend
        self.metrics = metrics
        self.clock = clock
        self.idle_drop_seconds = idle_drop_seconds
        self.entries_per_minute = entries_per_minute
        self.rooms: dict[str, LocalRoom] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Seats a facilitator removed for good whose revocation the store has
        # not taken yet: refused at the door as if revoked, retried until it is.
        self.pending_revocations: set[str] = set()
        self._retrying: asyncio.Task[None] | None = None
        backend.bind(self._deliver)

    # ---- rooms ------------------------------------------------------------

    async def room_for(self, group: Group) -> LocalRoom:
        """The group's live room, created (scheduled) on a facilitator's arrival."""
        room = self.rooms.get(group.id)
        if room is None:
            room = LocalRoom(self._configured(Session(group)))
            self.rooms[group.id] = room
            await self.backend.join(group.id)
        return room

    def _configured(self, session: Session) -> Session:
        """This node's operator settings on a session (new or restored)."""
        session.idle_drop_seconds = self.idle_drop_seconds
        session.entries_per_minute = self.entries_per_minute
        return session

    def group_changed(self, group: Group) -> None:
        """A facilitator edited the group: a session not yet ended uses the new settings."""
        room = self.rooms.get(group.id)
        if room is not None:
            self._spawn(self.carry_out(room, room.session.update_group(group)))

    def _drop(self, room: LocalRoom) -> None:
        """Forget everything about the room on this node: the session is over."""
        if room.timer is not None:
            room.timer.cancel()
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
        await self.carry_out(room, outcomes)

    async def detach(self, conn: Connection) -> None:
        """The connection is gone: its participant steps out (keeping the seat)."""
        room = self.rooms.get(conn.room or "")
        pid = conn.pid
        if room is None or pid is None or room.conns.get(pid) is not conn:
            return
        del room.conns[pid]
        await self.carry_out(room, room.session.disconnected(pid, self.clock()))

    # ---- commands ---------------------------------------------------------

    async def handle(self, conn: Connection, msg: Inbound) -> None:
        """Any frame after the handshake, carried out to the end."""
        await self._revoke(self.receive(conn, msg))

    def receive(self, conn: Connection, msg: Inbound) -> Revokes:
        """The session's answer to ``msg``, delivered now; what is left to await.

        Synchronous, so that the transport's shortcut can relay a chat frame
        as it is read (``ws._take_now``).
        """
        room = self.rooms.get(conn.room or "")
        if room is None or conn.pid is None:  # no room behind this connection (yet)
            raise Rejected(Code.UNAUTHENTICATED)
        outcomes = room.session.receive(conn.pid, msg, self.clock())
        if msg.type == "chat":
            self.metrics.messages += 1
        return self._carry_out_now(room, outcomes, rearm=msg.type not in KEEPS_DEADLINES)

    # ---- outcomes -----------------------------------------------------------

    async def carry_out(self, room: LocalRoom, outcomes: list[Outcome]) -> None:
        await self._revoke(self._carry_out_now(room, outcomes))

    def _carry_out_now(
        self, room: LocalRoom, outcomes: list[Outcome], rearm: bool = True
    ) -> Revokes:
        """Deliver, close and drop now; the store's part is returned, to be awaited."""
        revokes: Revokes = []
        for o in outcomes:
            if isinstance(o, Deliver):
                self.backend.publish(room.id, Delivery(o.to, encode(o.frame)))
            elif isinstance(o, Disconnect):
                final = encode(o.frame) if o.frame is not None else b""
                self.backend.publish(room.id, Delivery(o.pid, final, o.close_code))
            elif isinstance(o, RevokeSeat):
                revokes.append(o)
            elif isinstance(o, Admitted):
                if (knocker := room.conns.get(o.pid)) is not None:
                    knocker.door.admitted()
            elif isinstance(o, SessionOver):
                self._drop(room)
        if rearm and self.rooms.get(room.id) is room:
            self._arm_timer(room)
        return revokes

    async def _revoke(self, revokes: Revokes) -> None:
        """Revoke in the store; if it fails, keep the seat out and say the save failed.

        The session has already barred the seat, so the member stays out of
        this session whatever the store does; the link itself is refused at
        the door (``check_seat``) until a retry gets it into the store.
        """
        failed = False
        for o in revokes:
            try:
                await self.store.revoke_seat(o.seat, self.clock())
            except Exception as exc:  # a locked or full database: the store's own error
                log.warning("Revoking a seat link failed, will retry: %s", type(exc).__name__)
                self.pending_revocations.add(o.seat)
                failed = True
        if failed:
            if self._retrying is None or self._retrying.done():
                self._retrying = asyncio.ensure_future(self._retry_revocations())
                self._retrying.add_done_callback(_log_failure)
            raise SafespaceError(Code.NOT_SAVED)

    async def _retry_revocations(self) -> None:
        for attempt in itertools.count():
            if not self.pending_revocations:
                return
            await asyncio.sleep(REVOKE_RETRY_SECONDS[min(attempt, len(REVOKE_RETRY_SECONDS) - 1)])
            for seat in list(self.pending_revocations):
                try:
                    await self.store.revoke_seat(seat, self.clock())
                except Exception as exc:
                    log.warning("Revoking a seat link failed again: %s", type(exc).__name__)
                else:
                    self.pending_revocations.discard(seat)
                    log.info("A pending seat link revocation is saved.")

    def check_seat(self, seat: str) -> None:
        """Refuse a link whose revocation is still waiting for the store."""
        if seat in self.pending_revocations:
            raise AuthError(Code.LINK_REVOKED)

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
        task.add_done_callback(_log_failure)

    async def shutdown(self) -> None:
        """Server stopping: every live session is kept for the next start, then dropped.

        uvicorn has already closed every websocket with 1012 (restart) by the
        time the app shuts down; whatever is left is closed the same way. The
        pages and the console reconnect by themselves, and find their session
        (the lock, mutes, bars, knocks, open support requests, the roster) as
        it was, if this node is back within ``KEEP_SECONDS``.
        """
        for room in list(self.rooms.values()):
            for conn in room.conns.values():
                conn.close(Close.RESTART)
            await self._keep(room)
            self._drop(room)

    async def _keep(self, room: LocalRoom) -> None:
        if room.session.state is State.ENDED:
            return
        data = encode(snapshot(room.session))
        try:
            await self.store.keep_live_session(room.id, data, self.clock() + KEEP_SECONDS)
        except SafespaceError:
            log.warning("A live session could not be kept for the restart: the store refused it.")

    async def restore_kept(self) -> int:
        """At start: the sessions a graceful stop kept, live again (none is kept twice)."""
        try:
            kept = await self.store.take_live_sessions(self.clock())
        except SafespaceError:
            log.warning("The kept live sessions could not be read: the store refused.")
            return 0
        for group_id, data in kept:
            try:
                group = await self.store.group(group_id)
                session = self._configured(restore(group, decode(data), now=self.clock()))
            except (SafespaceError, ValueError) as e:
                # A group deleted meanwhile, or a snapshot of another version.
                log.warning("A kept live session was not restored: %s.", type(e).__name__)
                continue
            room = self.rooms[group_id] = LocalRoom(session)
            await self.backend.join(group_id)
            self._arm_timer(room)
        return len(self.rooms)
