"""The one seam between the chat client and message protection.

A codec turns a message's text into the opaque ``payload`` bytes the server
relays, and back. This version's ``PlainCodec`` is UTF-8 only; the encryption
issue supplies a codec that seals payloads end to end and handles its key
frames through ``on_frame``, without the client library changing shape.
"""

from __future__ import annotations

from typing import Any, Protocol


class PayloadCodec(Protocol):
    def public_keys(self) -> bytes:
        """What this participant publishes in the roster (empty without encryption)."""
        ...

    def seal(self, text: str) -> bytes:
        """The payload for a message to the whole room."""
        ...

    def open(self, sender: str, payload: bytes) -> str:
        """The text of ``payload`` from ``sender``; raises ``ValueError`` if unreadable."""
        ...

    def on_frame(self, frame: dict[str, Any]) -> None:
        """See every inbound frame first (roster changes, key distribution)."""
        ...


class PlainCodec:
    """No protection at all: for this version and for tests of the relay itself."""

    def public_keys(self) -> bytes:
        return b""

    def seal(self, text: str) -> bytes:
        return text.encode("utf-8")

    def open(self, sender: str, payload: bytes) -> str:
        return payload.decode("utf-8", errors="replace")

    def on_frame(self, frame: dict[str, Any]) -> None:
        pass
