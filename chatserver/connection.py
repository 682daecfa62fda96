"""One websocket connection: a bounded outbound queue drained by its own writer.

Fan-out only ever calls ``send`` (no await): it appends pre-encoded bytes and
returns, so one slow member never delays the room. If a member falls so far
behind that its queue overflows, it is disconnected with ``Close.LAGGING``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket

from chatserver.transport import EXTENSION
from moderation.rate import SenderRate
from rooms.wire import Close

if TYPE_CHECKING:
    from chatserver.metrics import Metrics


class Connection:
    def __init__(
        self, websocket: WebSocket, metrics: Metrics, max_frames: int, max_bytes: int
    ) -> None:
        self.websocket = websocket
        self.metrics = metrics
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.client = websocket.client.host if websocket.client else "unknown"
        self.pid: str | None = None
        self.room: str | None = None
        self.rate = SenderRate()
        self.close_code: int | None = None
        self._queue: deque[bytes] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._kick: Callable[[int, str], None] | None = websocket.scope.get("extensions", {}).get(
            EXTENSION
        )
        self.writer: asyncio.Task[None] | None = None

    @property
    def closing(self) -> bool:
        return self.close_code is not None

    def send(self, data: bytes) -> None:
        if self.close_code is not None:
            return
        if len(self._queue) >= self.max_frames or self._queued_bytes + len(data) > self.max_bytes:
            self._lagging()
            return
        self._queue.append(data)
        self._queued_bytes += len(data)
        self._wake.set()

    def close(self, code: int, final: bytes | None = None) -> None:
        """Send ``final`` (after whatever is queued), then close with ``code``."""
        if self.close_code is not None:
            return
        if final is not None:
            self._queue.append(final)
            self._queued_bytes += len(final)
        self.close_code = code
        self.metrics.closes[code] += 1
        self._wake.set()

    def _lagging(self) -> None:
        # What it has not read is dropped: it could not keep up, and holding
        # more for it is what would cost the others.
        self._queue.clear()
        self._queued_bytes = 0
        self.close_code = Close.LAGGING
        self.metrics.closes[Close.LAGGING] += 1
        if self._kick is not None:
            self._kick(Close.LAGGING, "lagging")
            if self.writer is not None:
                self.writer.cancel()
        else:
            self._wake.set()

    async def run_writer(self) -> None:
        ws = self.websocket
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    data = self._queue.popleft()
                    self._queued_bytes -= len(data)
                    await ws.send_bytes(data)
                    self.metrics.frames_relayed += 1
                if self.close_code is not None:
                    await ws.close(self.close_code)
                    return
        except Exception:
            # The peer went away under us; the reader notices and cleans up.
            with contextlib.suppress(Exception):
                await ws.close(Close.GOING_AWAY)
