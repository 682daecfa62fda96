"""The attempt counters (chatserver/attempts.py): the same tests in memory and in Redis.

Then what Redis adds: several nodes (here: several stores on one Redis)
share one count, and no client address is written to Redis in the clear.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import free_port

from chatserver.attempts import AttemptLimiter, Attempts, RedisAttempts, open_attempts
from chatserver.auth import Authenticator, hash_password
from chatserver.redis_store import RedisStore
from chatserver.sqlite_store import SqliteStore
from rooms.errors import AuthError, Code, StoreUnavailable


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Attempts]:
    if request.param == "memory":
        yield AttemptLimiter(3)
        return
    store = RedisStore(request.getfixturevalue("redis_url"))
    found = open_attempts(store, "login", 3)
    assert isinstance(found, RedisAttempts)
    yield found
    await store.close()


async def refused(limiter: Attempts, key: str) -> float:
    with pytest.raises(AuthError) as caught:
        await limiter.check(key, time.time())
    assert caught.value.code == Code.RATE_LIMITED
    retry = caught.value.detail["retry_after"]
    assert isinstance(retry, float)
    return retry


async def test_failures_are_counted_per_key_up_to_the_limit(limiter: Attempts) -> None:
    now = time.time()
    assert await limiter.count("ip:a", now) == 0
    for n in range(3):
        await limiter.check("ip:a", now)
        await limiter.fail("ip:a", now)
        assert await limiter.count("ip:a", now) == n + 1
    assert 59 <= await refused(limiter, "ip:a") <= 60
    await limiter.check("ip:b", now)  # another key is not held
    limiter.limit = 5  # a limit changed at run time holds at once
    await limiter.check("ip:a", now)
    limiter.limit = 2
    await refused(limiter, "ip:a")


async def test_an_attempt_is_checked_and_counted_in_one_step(limiter: Attempts) -> None:
    now = time.time()
    assert [await limiter.attempt("k", now) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(AuthError) as caught:
        await limiter.attempt("k", now)
    assert caught.value.code == Code.RATE_LIMITED
    assert await limiter.count("k", now) == 3  # a refused attempt is not a failure
    # Concurrent attempts at one key meet the limit: exactly `limit` get through.
    results = await asyncio.gather(
        *(limiter.attempt("burst", now) for _ in range(50)), return_exceptions=True
    )
    assert sorted(r for r in results if isinstance(r, int)) == [0, 1, 2]
    assert sum(isinstance(r, AuthError) for r in results) == 47


async def test_a_forgiven_failure_no_longer_counts(limiter: Attempts) -> None:
    now = time.time()
    await limiter.forgive("never-failed", now)  # nothing to take back: no error
    assert await limiter.count("never-failed", now) == 0
    for _ in range(3):
        await limiter.fail("k", now)
    await refused(limiter, "k")
    await limiter.forgive("k", now)
    await limiter.check("k", now)
    assert await limiter.count("k", now) == 2
    for _ in range(3):
        await limiter.forgive("k", now)
    assert await limiter.count("k", now) == 0  # never below zero
    await limiter.fail("k", now)
    assert await limiter.count("k", now) == 1


async def test_failures_are_forgotten_after_the_window(limiter: Attempts) -> None:
    limiter.window = 0.3
    for _ in range(3):
        await limiter.fail("k", time.time())
    assert await refused(limiter, "k") <= 0.3
    await asyncio.sleep(0.35)
    await limiter.check("k", time.time())
    assert await limiter.count("k", time.time()) == 0


# ---- Redis: one count for every node ----------------------------------------------


async def test_nodes_sharing_a_redis_share_one_count(redis_url: str, redis_service: Any) -> None:
    stores = [RedisStore(redis_url) for _ in range(3)]
    nodes = [RedisAttempts(s, "link", 4) for s in stores]
    now = time.time()
    for node in nodes + nodes[:1]:
        await node.fail("203.0.113.9", now)
    for node in nodes:
        assert await node.count("203.0.113.9", now) == 4
        await refused(node, "203.0.113.9")
    # Scopes are apart: a login key of the same name is untouched.
    assert await RedisAttempts(stores[0], "login", 4).count("203.0.113.9", now) == 0
    with redis_service.client() as c:
        [key] = c.keys("*")
        assert key.startswith(b"ss:a:link:") and len(key) == len("ss:a:link:") + 64
        assert b"203.0.113" not in key  # the address is hashed
        assert 0 < c.pttl(key) <= 60_000
    for s in stores:
        await s.close()


async def test_a_redis_that_is_down_is_store_unavailable() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")
    node = RedisAttempts(store, "login", 3)
    now = time.time()
    for call in (
        node.check("k", now),
        node.count("k", now),
        node.fail("k", now),
        node.attempt("k", now),
        node.forgive("k", now),
    ):
        with pytest.raises(StoreUnavailable):
            await call
    await store.close()


def test_the_counter_follows_the_store(tmp_path: Path) -> None:
    assert isinstance(open_attempts(SqliteStore(":memory:"), "login", 3), AttemptLimiter)
    assert isinstance(open_attempts(RedisStore("redis://127.0.0.1:1/0"), "login", 3), RedisAttempts)


async def test_parallel_guesses_over_two_nodes_meet_one_limit(redis_url: str) -> None:
    """test_login_burst's first case, its burst split over two nodes on one Redis."""
    stores = [RedisStore(redis_url) for _ in range(2)]
    await stores[0].add_facilitator("alex", hash_password("correct horse battery"))
    # A limit of 2, not 10: argon2 is slow on purpose, and the count is what is tested.
    auths = [Authenticator(s, 2, 12, limiter=open_attempts(s, "login", 2)) for s in stores]

    async def guess(n: int) -> str:
        try:
            await auths[n % 2].login(f"name-{n}", "guess-guess", "198.51.100.7", time.time())
        except AuthError as e:
            return str(e.code)
        return "ok"

    results = await asyncio.gather(*(guess(n) for n in range(40)))
    verified = sum(a.verifications for a in auths)
    print(f"\n40 parallel guesses from one address over 2 nodes: {verified} verified")
    assert verified == results.count("login_failed") == 2
    assert results.count("rate_limited") == 40 - verified
    # The right password from another address is not held by it.
    assert await auths[1].login("alex", "correct horse battery", "192.0.2.1", time.time())
    for s in stores:
        await s.close()
