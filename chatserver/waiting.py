"""Bounds on connections on their way in, per client address and per seat link.

A connection waiting for its hello, or a member reading the ground rules,
costs the node a socket and memory (issue 16: 500 idle hellos were held for
30 s, 200 rules screens on one link for up to 15 minutes). These bounds make
one address, or one leaked link, wait alone: past them a new connection is
refused at once with ``rate_limited``, and everyone else comes in as before.
They count connections, a resource of this node, not a rule of the room.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from rooms.errors import AuthError, Code

RETRY_AFTER_SECONDS = 5.0


class WaitingLimits:
    def __init__(self, per_address: int, per_link: int) -> None:
        self.per_address = per_address
        self.per_link = per_link
        self._by_address: Counter[str] = Counter()
        self._by_link: Counter[str] = Counter()

    @contextmanager
    def at_door(self, address: str) -> Iterator[None]:
        """While a connection from ``address`` has not entered its room (or knocked)."""
        with _held(self._by_address, address, self.per_address):
            yield

    @contextmanager
    def reading_rules(self, token_hash: str) -> Iterator[None]:
        """While a member with this seat link reads the ground rules."""
        with _held(self._by_link, token_hash, self.per_link):
            yield


@contextmanager
def _held(counts: Counter[str], key: str, limit: int) -> Iterator[None]:
    if counts[key] >= limit:
        raise AuthError(Code.RATE_LIMITED, retry_after=RETRY_AFTER_SECONDS)
    counts[key] += 1
    try:
        yield
    finally:
        counts[key] -= 1
        if counts[key] <= 0:
            del counts[key]
