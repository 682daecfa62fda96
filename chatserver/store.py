"""The durable store: facilitators, groups, seat-link hashes, API tokens.

Never message content: nothing a member writes is ever passed to a store.
Chosen by URL (``STORE_URL``): ``sqlite:///path`` (one file, the embedded
default) or ``redis://host:port/db`` (chatserver/redis_store.py, for several
nodes). The same contract tests run on both (tests/chatserver/test_store_contract.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from rooms.group import Group
from rooms.seats import SeatLink


@dataclass(frozen=True)
class ApiToken:
    facilitator: str
    expires_at: float


class Store(ABC):
    @abstractmethod
    async def add_facilitator(self, name: str, password_hash: str) -> None:
        """Add a facilitator, or raise ``SafespaceError(CONFLICT)`` if the name is taken."""

    @abstractmethod
    async def password_hash(self, name: str) -> str | None: ...

    @abstractmethod
    async def facilitators(self) -> list[str]: ...

    @abstractmethod
    async def set_identity(self, name: str, key: bytes) -> None:
        """A facilitator's public identity key, as its client last presented it."""

    @abstractmethod
    async def identities(self, names: Sequence[str]) -> dict[str, bytes]:
        """The known identity keys of ``names`` (those without one are left out)."""

    @abstractmethod
    async def save_group(self, group: Group) -> None: ...

    @abstractmethod
    async def group(self, group_id: str) -> Group:
        """The group, or raise ``NotFound``."""

    @abstractmethod
    async def groups(self) -> list[Group]: ...

    @abstractmethod
    async def add_seat(self, seat: SeatLink) -> None: ...

    @abstractmethod
    async def seat_by_token_hash(self, token_hash: str) -> SeatLink | None: ...

    @abstractmethod
    async def seat(self, seat_id: str) -> SeatLink:
        """The seat link, or raise ``NotFound``."""

    @abstractmethod
    async def seats(self, group_id: str) -> list[SeatLink]: ...

    @abstractmethod
    async def revoke_seat(self, seat_id: str, now: float) -> SeatLink:
        """Revoke (idempotently: the first revocation time stays) and return the link."""

    @abstractmethod
    async def add_api_token(self, token_hash: str, token: ApiToken) -> None: ...

    @abstractmethod
    async def api_token(self, token_hash: str) -> ApiToken | None: ...

    @abstractmethod
    async def drop_api_token(self, token_hash: str) -> None: ...

    @abstractmethod
    async def drop_expired_api_tokens(self, now: float) -> None: ...

    # A single node's restart (docs/operations.md): the live sessions in
    # progress are kept as snapshots (rooms/snapshot.py: metadata, never a
    # message) from the stop until the start, for at most a few minutes.
    @abstractmethod
    async def keep_live_session(self, group_id: str, data: bytes, expires_at: float) -> None: ...

    @abstractmethod
    async def take_live_sessions(self, now: float) -> list[tuple[str, bytes]]:
        """Every kept session not yet expired, by group id; none is kept after this."""

    @abstractmethod
    async def close(self) -> None: ...

    async def ready(self) -> None:
        """Answer if the store can be used now, or raise (``StoreUnavailable``)."""
        await self.facilitators()

    async def groups_of(self, facilitator: str) -> list[Group]:
        return [g for g in await self.groups() if g.run_by(facilitator)]


def open_store(url: str) -> Store:
    if url.startswith("sqlite://"):
        from chatserver.sqlite_store import SqliteStore

        return SqliteStore(url.removeprefix("sqlite://").removeprefix("/") or ":memory:")
    if url.startswith(("redis://", "rediss://", "unix://")):
        from chatserver.redis_store import RedisStore

        return RedisStore(url)
    raise ValueError(f"Unsupported STORE_URL scheme: {url.split(':', 1)[0]!r}")
