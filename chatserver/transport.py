"""uvicorn's sans-I/O websocket protocol, plus one thing ASGI cannot say: "kick".

A member that stops reading fills its socket buffer; an ASGI ``send`` then
waits for it forever, and so would an ASGI ``close``. ``kick`` writes the close
frame straight into the transport (whatever is queued before it), closes, and
aborts the socket if the peer still has not taken it after a grace period.
The app finds it in ``scope["extensions"]["safespace.kick"]``; on any other
ASGI server it is absent and the app falls back to a plain close.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

KICK_GRACE_SECONDS = 5.0
EXTENSION = "safespace.kick"


class SafespaceWebSocketProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.handshake_initiated and not self.close_sent:
            extensions: dict[str, Any] = self.scope["extensions"]
            extensions[EXTENSION] = self.kick

    def kick(self, code: int, reason: str) -> None:
        if self.close_sent or self.transport.is_closing():
            return
        self.close_sent = True
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.transport.close()
        self.loop.call_later(KICK_GRACE_SECONDS, self.transport.abort)
