"""Live fan-out between nodes, behind one small interface chosen by URL.

``memory://`` (the embedded default) hands each delivery straight to this
node's hub. ``redis://`` (the Redis issue) will publish the same deliveries
over Redis pub/sub so that any node can serve any member. A delivery is
already-encoded bytes: the envelope is encoded once, whatever the number of
recipients or nodes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import NamedTuple


class Delivery(NamedTuple):
    """``data`` for audience ``to`` of a room; ``close`` > 0 closes the recipient after."""

    to: str
    data: bytes
    close: int = 0


Handler = Callable[[str, Delivery], None]


class Backend(ABC):
    def __init__(self) -> None:
        self.handler: Handler = lambda room, delivery: None

    def bind(self, handler: Handler) -> None:
        """Where deliveries for rooms this node has joined go."""
        self.handler = handler

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def stop(self) -> None:  # noqa: B027 - optional hook
        pass

    @abstractmethod
    async def join(self, room: str) -> None:
        """This node has a connection in ``room`` and wants its deliveries."""

    @abstractmethod
    async def leave(self, room: str) -> None:
        """This node has no more connections in ``room``."""

    @abstractmethod
    def publish(self, room: str, delivery: Delivery) -> None:
        """Send ``delivery`` to every node in ``room``; never waits on a recipient."""


class MemoryBackend(Backend):
    """One process: publishing is calling this node's hub."""

    async def join(self, room: str) -> None:
        pass

    async def leave(self, room: str) -> None:
        pass

    def publish(self, room: str, delivery: Delivery) -> None:
        self.handler(room, delivery)


def open_backend(url: str) -> Backend:
    if url.startswith("memory://"):
        return MemoryBackend()
    raise ValueError(f"Unsupported BACKEND_URL scheme: {url.split(':', 1)[0]!r}")
