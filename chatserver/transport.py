"""uvicorn's sans-I/O websocket protocol, plus a direct outlet for the hub.

ASGI makes every message to every member an awaited ``send`` through the
server's event queue; for a room of eight that is eight round trips through
uvicorn per chat message. This subclass lets the hub write an already framed
websocket message straight into each member's transport, without awaiting
anyone (DESIGN.md section 7). Starlette still serves HTTP, the handshake and
every inbound frame.

The app finds the outlet in ``scope["extensions"]["safespace.outlet"]``. On
any other ASGI server it is absent and the app falls back to plain ASGI sends
from a writer task per connection (``chatserver.connection``); the test suite
runs on both.

Outbound data frames bypass the ``websockets`` protocol object, which is safe
because a server's frames are never masked, compression is off, and each write
is one whole frame; control frames (close, ping) still go through it.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

OUTLET = "safespace.outlet"
KICK_GRACE_SECONDS = 5.0
CLOSE_TIMEOUT_SECONDS = 10.0


def binary_frame(data: bytes) -> bytes:
    """One unmasked, final, binary websocket frame (RFC 6455 section 5.2)."""
    n = len(data)
    if n < 126:
        return struct.pack("!BB", 0x82, n) + data
    if n < 65536:
        return struct.pack("!BBH", 0x82, 126, n) + data
    return struct.pack("!BBQ", 0x82, 127, n) + data


class InboundQueue:
    """What uvicorn's protocol needs of its per-connection ``asyncio.Queue``.

    An ``asyncio.Queue`` carries three deques (about 2.3 KiB) for the one
    reader and the one writer a websocket ever has; this carries one.
    """

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class SafespaceWebSocketProtocol(WebSocketsSansIOProtocol):
    # Set by the app once the peer is in its room: offered every whole binary
    # message first, while nothing waits in the ASGI queue (so order holds);
    # True means it was handled right here, without the hop through the queue.
    inbound: Callable[[bytes], bool] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = InboundQueue()  # type: ignore[assignment]

    def handle_bytes(self, event: Any) -> None:
        take = self.inbound
        if (
            take is not None
            and event.fin
            and not self.close_sent
            and self.queue.empty()
            and take(event.data)
        ):
            return
        super().handle_bytes(event)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.handshake_initiated and not self.close_sent:
            extensions: dict[str, Any] = self.scope["extensions"]
            extensions[OUTLET] = self

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":
            # The handshake's request and response (and their headers) are not
            # needed again; an idle member's memory is what one node's capacity is.
            request = self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)
            if request is not None:
                # websockets' parser generator still holds the request in its
                # frame for the life of the connection (ServerProtocol.parse
                # goes on into the frame parser): its headers, ~2 KiB with
                # their strings, are what can go.
                request.headers.clear()

    # ---- the outlet ---------------------------------------------------------

    @property
    def open(self) -> bool:
        return self.handshake_complete and not self.close_sent and not self.transport.is_closing()

    def write_frame(self, framed: bytes) -> int:
        """Queue one framed message; the bytes now waiting in the transport."""
        if not self.open:
            return 0
        self.transport.write(framed)
        return self.transport.get_write_buffer_size()

    def close_now(self, code: int, reason: str = "") -> None:
        """Start the closing handshake after whatever is already queued."""
        if not self.open:
            return
        self.close_sent = True
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        if self.read_paused:  # the peer's closing reply must be read, backlog or not
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(CLOSE_TIMEOUT_SECONDS, self.transport.close)

    def kick(self, code: int, reason: str) -> None:
        """Close a peer that stopped reading: it gets until the grace period to take it."""
        if not self.open:
            return
        self.close_now(code, reason)
        self.transport.close()
        self.loop.call_later(KICK_GRACE_SECONDS, self.transport.abort)
