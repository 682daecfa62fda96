"""Facilitator passwords (argon2id), API tokens, and attempt limits.

Passwords are hashed with argon2id (argon2-cffi's default) and verified in a
worker thread, because one verification takes tens of milliseconds and must
not stall every room on the node. Unknown names are verified against a dummy
hash so that timing does not tell which facilitator names exist.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections import deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chatserver.store import ApiToken, Store
from rooms.errors import AuthError, Code
from rooms.seats import hash_token

_hasher = PasswordHasher()
MIN_PASSWORD_CHARS = 10


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


class AttemptLimiter:
    """At most ``limit`` failed attempts per key (a client address, a name) per window.

    Only failures count, so a facilitator who types the password right is never
    held up; a guesser is stopped after a few tries.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def check(self, key: str, now: float) -> None:
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
        recent = self._failures.get(key, ())
        return sum(1 for t in recent if t > now - self.window)

    def fail(self, key: str, now: float) -> None:
        if len(self._failures) > 10_000:  # a spray of names: forget what expired
            for k in [k for k, v in self._failures.items() if v[-1] <= now - self.window]:
                del self._failures[k]
        self._failures.setdefault(key, deque()).append(now)


class Authenticator:
    """Logins and bearer tokens for facilitators, shared by the API and the websocket."""

    def __init__(self, store: Store, attempts_per_minute: int, token_hours: float) -> None:
        self.store = store
        self.limiter = AttemptLimiter(attempts_per_minute)
        self.token_seconds = token_hours * 3600.0
        # argon2id takes 64 MiB per verification (argon2-cffi's default memory
        # cost): at most two at once, so a burst of logins cannot balloon the node.
        self._verifications = asyncio.Semaphore(2)

    async def login(self, name: str, password: str, client: str, now: float) -> str:
        """Check a name and password; return the facilitator's name or raise ``AuthError``."""
        by_ip, by_name = f"ip:{client}", f"name:{hash_token(name)}"
        self.limiter.check(by_ip, now)
        # The per-name limit stops guessing spread over many addresses, but a
        # member who knows a facilitator's name must not be able to lock them
        # out: a client with a clean record is never held by it.
        if self.limiter.failures(by_ip, now):
            self.limiter.check(by_name, now)
        stored = await self.store.password_hash(name)
        async with self._verifications:
            ok = await asyncio.to_thread(_verify, stored or _dummy_hash(), password)
        if not ok or stored is None:
            self.limiter.fail(by_ip, now)
            self.limiter.fail(by_name, now)
            raise AuthError(Code.LOGIN_FAILED)
        return name

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
