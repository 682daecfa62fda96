"""Counting failed attempts (logins, link lookups) per key, behind one small interface.

``AttemptLimiter`` counts in this process's memory: right for one node. With
the store on Redis (several nodes), ``RedisAttempts`` counts in that Redis,
so that N nodes give one limit and not N times it (``open_attempts`` picks).

Keys in Redis: ``ss:a:<scope>:<SHA-256 of the key>`` (scope ``login`` or
``link``), a string counter made by ``INCR`` with a ``PEXPIRE`` of the
window set by the first failure. The key is hashed because it holds a client
address, and the durable Redis writes every command to its AOF.

The Redis counter is a fixed window opened by the first failure: refused
until that window ends (the oldest failure is a minute old, as in memory),
then the count starts again from zero, where the memory limiter lets one
more attempt in for each failure that ages out. Either way at most ``limit``
failures count per window of a key; Redis's clock, not ``now``, ends it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections import deque
from contextlib import suppress
from typing import TYPE_CHECKING

from rooms.errors import AuthError, Code

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from chatserver.redis_store import RedisStore
    from chatserver.store import Store

WINDOW_SECONDS = 60.0


class Attempts(ABC):
    """At most ``limit`` failed attempts per key (a client address, a name) per window.

    Only failures count, so a facilitator who types the password right is never
    held up; a guesser is stopped after a few tries. ``limit`` may be changed
    while running (the tests lower it).
    """

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window

    @abstractmethod
    async def check(self, key: str, now: float) -> None:
        """Raise ``AuthError(RATE_LIMITED, retry_after=...)`` if ``key`` is spent."""

    @abstractmethod
    async def count(self, key: str, now: float) -> int:
        """The failures of ``key`` within the window."""

    @abstractmethod
    async def fail(self, key: str, now: float) -> None:
        """Count one failure of ``key``."""

    @abstractmethod
    async def attempt(self, key: str, now: float) -> int:
        """``check`` and ``fail`` as one step; the failures before this one.

        One step, so that concurrent attempts (one address's burst, over any
        number of nodes) meet the limit too.
        """

    @abstractmethod
    async def forgive(self, key: str, at: float) -> None:
        """Take back a failure counted in advance (``at``): the attempt succeeded."""


class AttemptLimiter(Attempts):
    """In memory: a sliding log of failure times per key.

    Nothing here awaits, so each call is one step on the event loop.
    """

    def __init__(self, limit: int, window: float = WINDOW_SECONDS) -> None:
        super().__init__(limit, window)
        self._failures: dict[str, deque[float]] = {}

    async def check(self, key: str, now: float) -> None:
        self._check(key, now)

    def _check(self, key: str, now: float) -> None:
        failures = self._failures.get(key)
        if failures is None:
            return
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
        elif len(failures) >= self.limit:
            retry = round(failures[0] + self.window - now, 1)
            raise AuthError(Code.RATE_LIMITED, retry_after=retry)

    def failures(self, key: str, now: float) -> int:
        """``count``, at once: memory only (tests read it)."""
        recent = self._failures.get(key, ())
        return sum(1 for t in recent if t > now - self.window)

    async def count(self, key: str, now: float) -> int:
        return self.failures(key, now)

    async def fail(self, key: str, now: float) -> None:
        self._fail(key, now)

    def _fail(self, key: str, now: float) -> None:
        if len(self._failures) > 10_000:  # a spray of names: forget what expired
            for k in [k for k, v in self._failures.items() if v and v[-1] <= now - self.window]:
                del self._failures[k]
        self._failures.setdefault(key, deque()).append(now)

    async def attempt(self, key: str, now: float) -> int:
        self._check(key, now)
        before = self.failures(key, now)
        self._fail(key, now)
        return before

    async def forgive(self, key: str, at: float) -> None:
        failures = self._failures.get(key)
        if failures is not None:
            with suppress(ValueError):
                failures.remove(at)
            if not failures:
                del self._failures[key]


# Refused (the count is at the limit): {count, ms left}; counted: {count before, -2}.
ATTEMPT = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then
  local left = redis.call('PTTL', KEYS[1])
  if left < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    left = tonumber(ARGV[2])
  end
  return {n, left}
end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2], 'NX')
return {n, -2}
"""

FORGIVE = """
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('DECR', KEYS[1]) <= 0 then
  redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisAttempts(Attempts):
    """In the store's Redis, shared by every node: ``INCR`` + ``PEXPIRE``.

    ``now`` is not used: the window is Redis's ``PEXPIRE``, on Redis's clock,
    the one clock every node shares. A Redis that fails is ``StoreUnavailable``.
    """

    def __init__(
        self, store: RedisStore, scope: str, limit: int, window: float = WINDOW_SECONDS
    ) -> None:
        super().__init__(limit, window)
        self.store = store
        self.prefix = f"ss:a:{scope}:"

    def _key(self, key: str) -> str:
        return self.prefix + hashlib.sha256(key.encode()).hexdigest()

    @property
    def _window_ms(self) -> int:
        return max(1, int(self.window * 1000))

    async def check(self, key: str, now: float) -> None:
        name = self._key(key)

        async def read(r: Redis) -> tuple[int, int]:
            async with r.pipeline(transaction=True) as pipe:
                pipe.get(name)
                pipe.pttl(name)
                found, left = await pipe.execute()
            return (0 if found is None else int(found)), int(left)

        found, left = await self.store.run(read)
        if found >= self.limit:
            raise AuthError(Code.RATE_LIMITED, retry_after=_retry_after(left, self.window))

    async def count(self, key: str, now: float) -> int:
        found = await self.store.run(lambda r: r.get(self._key(key)))
        return 0 if found is None else int(found)

    async def fail(self, key: str, now: float) -> None:
        name, window_ms = self._key(key), self._window_ms

        async def count_one(r: Redis) -> None:
            async with r.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.pexpire(name, window_ms, nx=True)
                await pipe.execute()

        await self.store.run(count_one)

    async def attempt(self, key: str, now: float) -> int:
        keys, args = [self._key(key)], [self.limit, self._window_ms]
        before, left = await self.store.script(ATTEMPT, keys, args)
        if int(left) != -2:
            raise AuthError(Code.RATE_LIMITED, retry_after=_retry_after(int(left), self.window))
        return int(before)

    async def forgive(self, key: str, at: float) -> None:
        await self.store.script(FORGIVE, [self._key(key)], [])


def _retry_after(left_ms: int, window: float) -> float:
    # PTTL: -1 no expiry (cannot happen: every INCR sets one), -2 just expired.
    return round(left_ms / 1000, 1) if left_ms >= 0 else 0.0 if left_ms == -2 else window


def open_attempts(store: Store, scope: str, limit: int) -> Attempts:
    """Counted where the store is shared: in its Redis, or else in this process."""
    from chatserver.redis_store import RedisStore

    if isinstance(store, RedisStore):
        return RedisAttempts(store, scope, limit)
    return AttemptLimiter(limit)
