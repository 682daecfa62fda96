"""Facilitator passwords (argon2id), API tokens, and attempt limits.

Passwords are hashed with argon2id (argon2-cffi's default) and verified in a
worker thread, because one verification takes tens of milliseconds and must
not stall every room on the node. Unknown names are verified against a dummy
hash so that timing does not tell which facilitator names exist.

A verification is a bounded resource (``VerificationGate``): a few at once
(one per core), a bounded queue that refuses with ``rate_limited`` rather
than grow, and first turn to an address that has logged in to that name
before. Guesses at one name spread over many addresses are slowed, never
locked out: past a few failures, each guess at that name from an address
that has not logged in to it waits its turn, one at a time, and longer after
each failure (``name_delay``).
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import os
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chatserver.attempts import AttemptLimiter, Attempts
from chatserver.store import ApiToken, Store
from rooms.errors import AuthError, Code
from rooms.seats import hash_token

_hasher = PasswordHasher()
MIN_PASSWORD_CHARS = 10
# Failures at one name (from any address) before guesses at it are slowed, and
# the slowest a guess is made to wait: a slowdown, never a lockout.
FREE_NAME_FAILURES = 5
MAX_NAME_DELAY_SECONDS = 8.0
# Logins waiting for a verification at once; beyond, refused (rate_limited).
MAX_WAITING_LOGINS = 64
# Addresses remembered as having logged in to a name: they skip the slowdown.
KNOWN_GOOD_SECONDS = 30 * 24 * 3600.0
MAX_KNOWN_GOOD = 10_000


def name_delay(failures: int) -> float:
    """How long a guess at a name waits, given the name's recent failures."""
    if failures < FREE_NAME_FAILURES:
        return 0.0
    return float(min(0.25 * 2 ** (failures - FREE_NAME_FAILURES), MAX_NAME_DELAY_SECONDS))


@functools.cache
def _dummy_hash() -> str:
    """Made on first use, not at import: hashing costs 64 MiB and 0.1 s."""
    return _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"A password needs at least {MIN_PASSWORD_CHARS} characters.")
    return _hasher.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


class VerificationGate:
    """At most ``slots`` password verifications at once; the rest wait, in turn.

    Waiting is bounded (``MAX_WAITING_LOGINS``): beyond, a login is refused
    at once with ``rate_limited`` instead of holding memory and a socket.
    ``first`` turns go before the others (an address known to be the
    facilitator's), then in order of arrival.
    """

    def __init__(self, slots: int, max_waiting: int = MAX_WAITING_LOGINS) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self._busy = 0
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    @asynccontextmanager
    async def turn(self, first: bool = False) -> AsyncIterator[None]:
        if self._busy >= self.slots or self._queue:
            if len(self._queue) >= self.max_waiting:
                raise AuthError(Code.RATE_LIMITED, retry_after=1.0)
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (0 if first else 1, next(self._order), ready)
            heapq.heappush(self._queue, entry)
            try:
                await ready
            except BaseException:
                if ready.done() and not ready.cancelled():
                    self._release()  # handed a slot as it was cancelled: pass it on
                elif entry in self._queue:
                    self._queue.remove(entry)
                    heapq.heapify(self._queue)
                raise
        else:
            self._busy += 1
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._queue:
            _, _, ready = heapq.heappop(self._queue)
            if not ready.done():
                ready.set_result(None)  # the slot passes straight to the next
                return
        self._busy -= 1


class Authenticator:
    """Logins and bearer tokens for facilitators, shared by the API and the websocket."""

    def __init__(
        self,
        store: Store,
        attempts_per_minute: int,
        token_hours: float,
        limiter: Attempts | None = None,
    ) -> None:
        """``limiter`` counts failed logins (``chatserver.attempts.open_attempts``:
        in Redis when several nodes share the store); this process's memory if None."""
        self.store = store
        self.limiter = AttemptLimiter(attempts_per_minute) if limiter is None else limiter
        self.token_seconds = token_hours * 3600.0
        # argon2id takes 64 MiB and a core's time per verification (argon2-cffi's
        # defaults): one at a time per core, so a burst of logins can neither
        # balloon the node nor starve its event loop.
        self.gate = VerificationGate(max(1, min(os.cpu_count() or 1, 4)))
        self.verifications = 0  # run since start; the figure the tests print
        # (name hash, address) -> when it last logged in: the facilitator's own.
        self._known_good: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._name_turns: dict[str, asyncio.Lock] = {}
        self._slowed = 0  # guesses waiting for their name's turn

    async def login(self, name: str, password: str, client: str, now: float) -> str:
        """Check a name and password; return the facilitator's name or raise ``AuthError``."""
        name_key = hash_token(name)
        by_ip, by_name = f"ip:{client}", f"name:{name_key}"
        # Counted before the verification is awaited, each key checked and
        # counted in one step, so that concurrent attempts from one address
        # meet the limit too (over every node); taken back on success.
        failed_before = await self.limiter.attempt(by_ip, now)
        try:
            # The per-name limit stops guessing spread over many addresses, but
            # a member who knows a facilitator's name must not be able to lock
            # them out: a client with a clean record is never held by it.
            if failed_before:
                await self.limiter.attempt(by_name, now)
            else:
                await self.limiter.fail(by_name, now)
        except BaseException:
            await self.limiter.forgive(by_ip, now)
            raise
        known = self._is_known_good(name_key, client, now)
        try:
            stored = await self.store.password_hash(name)
            if known:
                ok = await self._verify(stored, password, first=True)
            else:
                ok = await self._slowed_verify(name_key, by_name, stored, password, now)
        except BaseException:
            await self._forgive(by_ip, by_name, now)  # not a guess that was judged
            raise
        if not ok or stored is None:
            raise AuthError(Code.LOGIN_FAILED)
        await self._forgive(by_ip, by_name, now)
        self._remember_good(name_key, client, now)
        return name

    async def _slowed_verify(
        self, name_key: str, by_name: str, stored: str | None, password: str, now: float
    ) -> bool:
        """A guess at a name under attack waits its turn, one at a time, then longer."""
        if await self.limiter.count(by_name, now) <= FREE_NAME_FAILURES:
            return await self._verify(stored, password)
        if self._slowed >= MAX_WAITING_LOGINS:
            raise AuthError(Code.RATE_LIMITED, retry_after=MAX_NAME_DELAY_SECONDS)
        turn = self._name_turns.setdefault(name_key, asyncio.Lock())
        self._slowed += 1
        try:
            async with turn:
                await asyncio.sleep(name_delay(await self.limiter.count(by_name, now) - 1))
                return await self._verify(stored, password)
        finally:
            self._slowed -= 1
            if not turn.locked() and self._name_turns.get(name_key) is turn:
                del self._name_turns[name_key]

    async def _verify(self, stored: str | None, password: str, first: bool = False) -> bool:
        async with self.gate.turn(first):
            self.verifications += 1
            return await asyncio.to_thread(_verify, stored or _dummy_hash(), password)

    async def _forgive(self, by_ip: str, by_name: str, now: float) -> None:
        await self.limiter.forgive(by_ip, now)
        await self.limiter.forgive(by_name, now)

    def _is_known_good(self, name_key: str, client: str, now: float) -> bool:
        since = self._known_good.get((name_key, client))
        return since is not None and since > now - KNOWN_GOOD_SECONDS

    def _remember_good(self, name_key: str, client: str, now: float) -> None:
        self._known_good[(name_key, client)] = now
        self._known_good.move_to_end((name_key, client))
        while len(self._known_good) > MAX_KNOWN_GOOD:
            self._known_good.popitem(last=False)

    async def issue_token(self, facilitator: str, now: float) -> tuple[str, float]:
        token = secrets.token_urlsafe(32)
        expires = now + self.token_seconds
        await self.store.drop_expired_api_tokens(now)
        await self.store.add_api_token(hash_token(token), ApiToken(facilitator, expires))
        return token, expires

    async def facilitator_for(self, token: str, now: float) -> str:
        found = await self.store.api_token(hash_token(token))
        if found is None or found.expires_at <= now:
            raise AuthError(Code.UNAUTHENTICATED)
        return found.facilitator

    async def revoke_token(self, token: str) -> None:
        await self.store.drop_api_token(hash_token(token))
