"""One websocket connection and its bounded outbound queue.

Fan-out only ever calls ``send`` (no await), so one slow member never delays
the room. Two ways out, same behaviour:

- the fast path (uvicorn with ``SafespaceWebSocketProtocol``): the framed
  message is written straight into the socket's transport, whose buffer is
  the queue, bounded in bytes;
- the ASGI path (any other server): a deque drained by a writer task through
  ``websocket.send_bytes``, bounded in frames and bytes.

A member whose queue overflows has stopped reading: what it has not read is
dropped and it is disconnected with ``Close.LAGGING``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from chatserver.transport import OUTLET, SafespaceWebSocketProtocol, binary_frame
from moderation.rate import SenderRate
from rooms.codec import encode
from rooms.door import Door
from rooms.wire import Close

if TYPE_CHECKING:
    from chatserver.metrics import Metrics


class Outgoing:
    """One encoded frame for any number of recipients: msgpack once, framing once."""

    __slots__ = ("_framed", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._framed: bytes | None = None

    @classmethod
    def of(cls, frame: dict[str, Any]) -> Outgoing:
        return cls(encode(frame))

    @property
    def framed(self) -> bytes:
        if self._framed is None:
            self._framed = binary_frame(self.data)
        return self._framed


class Outbox:
    """One write per connection per event-loop turn on the fast path.

    Under load a member gets several messages in one turn; joining them into
    one ``transport.write`` saves a system call each. The flush runs at the
    start of the next turn, so nothing waits longer than one turn.
    """

    __slots__ = ("_dirty", "_scheduled")

    def __init__(self) -> None:
        self._dirty: list[Connection] = []
        self._scheduled = False

    def add(self, conn: Connection) -> None:
        self._dirty.append(conn)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        metrics: Metrics,
        max_frames: int,
        max_bytes: int,
        door: Door,
        outbox: Outbox | None = None,
    ) -> None:
        self.websocket = websocket
        self.door = door  # where the connection is on its way in (rooms/door.py)
        self.metrics = metrics
        self.outbox = outbox or Outbox()
        # True while the frame loop works on a frame: the outlet's inbound
        # shortcut then leaves later frames to the queue, so order holds.
        self.busy = False
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.client = websocket.client.host if websocket.client else "unknown"
        self.pid: str | None = None
        self.room: str | None = None
        # Refused frames cost the server an error frame each: a client that keeps
        # sending them past the frame budget is closed (``Close.FLOODING``).
        # Made on the first refusal: most connections never have one.
        self.refusals: SenderRate | None = None
        self.close_code: int | None = None
        self._outlet: SafespaceWebSocketProtocol | None = websocket.scope.get("extensions", {}).get(
            OUTLET
        )
        self._corked: list[bytes] | None = None  # framed, due at the end of this turn
        # The ASGI path's queue and writer; the fast path needs neither (an idle
        # member's memory is what lets one node hold thousands).
        self._queue: deque[bytes] | None = None
        self._queued_bytes = 0
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[Any] | None = None
        if self._outlet is None:
            self._queue, self._wake = deque(), asyncio.Event()
            # A laggard's reader is woken by cancelling it: no disconnect comes
            # while it stalls.
            self._reader = asyncio.current_task()
            self._writer = asyncio.create_task(self._run_writer())

    @property
    def outlet(self) -> SafespaceWebSocketProtocol | None:
        return self._outlet

    @property
    def closing(self) -> bool:
        return self.close_code is not None

    def send(self, out: Outgoing) -> None:
        if self.close_code is not None:
            return
        self.metrics.frames_relayed += 1
        if self._outlet is not None:
            if self._corked is None:
                self._corked = [out.framed]
                self.outbox.add(self)
            else:
                self._corked.append(out.framed)
            return
        assert self._queue is not None and self._wake is not None
        if len(self._queue) >= self.max_frames or self._queued_bytes > self.max_bytes:
            self._lagging()
            return
        self._queue.append(out.data)
        self._queued_bytes += len(out.data)
        self._wake.set()

    def flush(self) -> None:
        """Write what this turn queued, in one write (fast path)."""
        frames, self._corked = self._corked, None
        if not frames or self._outlet is None or self.close_code is not None:
            return
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        if self._outlet.write_frame(data) > self.max_bytes:
            self._lagging()

    def send_frame(self, frame: dict[str, Any]) -> None:
        self.send(Outgoing.of(frame))

    def close(self, code: int, final: Outgoing | None = None) -> None:
        """Send ``final`` (after whatever is queued), then close with ``code``."""
        if self.close_code is not None:
            return
        if final is not None:
            self.send(final)
            if self.close_code is not None:  # that was one frame too many
                return
        self.flush()  # what is due goes before the close frame
        if self.close_code is not None:
            return
        self.close_code = code
        self.metrics.closes[code] += 1
        if self._outlet is not None:
            self._outlet.close_now(code)
        elif self._wake is not None:
            self._wake.set()

    async def finished(self, timeout: float) -> None:
        """Wait (boundedly) until what was queued is handed over and the close sent."""
        if self._writer is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._writer, timeout)

    def _lagging(self) -> None:
        # What it has not read is dropped: it could not keep up, and holding
        # more for it is what would cost the others.
        self.close_code = Close.LAGGING
        self.metrics.closes[Close.LAGGING] += 1
        if self._outlet is not None:
            self._corked = None
            self._outlet.kick(Close.LAGGING, "lagging")
            return
        assert self._queue is not None and self._wake is not None
        self._queue.clear()
        self._queued_bytes = 0
        self._wake.set()
        if self._reader is not None:
            self._reader.cancel()

    @property
    def lagged(self) -> bool:
        return self.close_code == Close.LAGGING

    def refused(self, now: float) -> bool:
        """Count one refused frame; True when the client is past the frame budget."""
        if self.refusals is None:
            self.refusals = SenderRate()
        if self.refusals.over_budget(now):
            return True
        self.refusals.count_frame(now)
        return False

    async def _run_writer(self) -> None:
        ws = self.websocket
        assert self._queue is not None and self._wake is not None
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue and self.close_code != Close.LAGGING:
                    data = self._queue.popleft()
                    self._queued_bytes -= len(data)
                    await ws.send_bytes(data)
                if self.close_code is not None:
                    await ws.close(self.close_code)
                    return
        except Exception:
            # The peer went away under us; the reader notices and cleans up.
            with contextlib.suppress(Exception):
                await ws.close(Close.GOING_AWAY)
