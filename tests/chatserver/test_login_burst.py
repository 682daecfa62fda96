"""Password verification is a bounded resource (issue 16, point 4).

Real argon2id verifications on a real SQLite store, many logins at once in
one event loop as the server runs them. Printed: how many verifications ran,
the CPU they took, and how long the facilitator's own login waited.
"""

from __future__ import annotations

import asyncio
import resource
import time
from pathlib import Path

import pytest

from chatserver.auth import MAX_WAITING_LOGINS, Authenticator, hash_password
from chatserver.sqlite_store import SqliteStore
from rooms.errors import AuthError

PASSWORD = "correct horse battery"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@pytest.fixture
async def auth(tmp_path: Path) -> Authenticator:
    store = SqliteStore(str(tmp_path / "s.sqlite3"))
    for name in ("alex", "sam"):
        await store.add_facilitator(name, hash_password(PASSWORD))
    return Authenticator(store, attempts_per_minute=10, token_hours=12)


async def outcome(auth: Authenticator, name: str, password: str, client: str) -> str:
    try:
        await auth.login(name, password, client, time.time())
    except AuthError as e:
        return str(e.code)
    return "ok"


async def test_parallel_guesses_from_one_address_meet_its_limit(auth: Authenticator) -> None:
    # Each at another name, so that only the address's limit is at work here.
    results = await asyncio.gather(
        *(outcome(auth, f"name-{n}", "guess-guess", "198.51.100.7") for n in range(200))
    )
    print(f"\n200 parallel guesses from one address: {auth.verifications} verified, "
          f"{results.count('rate_limited')} refused")  # fmt: skip
    assert auth.verifications <= 10  # before: all 200 were verified
    assert results.count("login_failed") == auth.verifications
    assert results.count("rate_limited") == 200 - auth.verifications
    # The facilitator, from an address with no failure, is not held by it.
    assert await outcome(auth, "alex", PASSWORD, "192.0.2.1") == "ok"


async def test_guesses_spread_over_addresses_are_slowed_and_the_facilitator_gets_in(
    auth: Authenticator,
) -> None:
    assert await outcome(auth, "alex", PASSWORD, "192.0.2.1") == "ok"  # alex's usual address
    before_cpu, before = cpu(), auth.verifications
    burst = [
        asyncio.create_task(outcome(auth, "alex", f"guess-{n:04}", f"10.0.{n // 250}.{n % 250}"))
        for n in range(200)
    ]
    await asyncio.sleep(1.0)  # the burst is under way
    timed = []
    for name, client in (("alex", "192.0.2.1"), ("sam", "192.0.2.99")):
        start = time.perf_counter()
        assert await outcome(auth, name, PASSWORD, client) == "ok"
        timed.append(time.perf_counter() - start)
    await asyncio.sleep(2.0)
    ran, spent = auth.verifications - before, cpu() - before_cpu
    for task in burst:
        task.cancel()
    results = await asyncio.gather(*burst, return_exceptions=True)
    refused = sum(r == "rate_limited" for r in results)
    print(
        f"\n200 guesses at one name from 200 addresses, 3 s: {ran} verifications "
        f"({spent:.1f} s of CPU), {refused} refused at once; alex's own login "
        f"{timed[0] * 1000:.0f} ms, sam's {timed[1] * 1000:.0f} ms"
    )
    assert timed[0] < 1.0 and timed[1] < 1.0  # before: ~38 s
    # A handful of free guesses, then one at a time, each waiting longer.
    assert ran <= 12
    assert refused >= 200 - MAX_WAITING_LOGINS - 12


async def test_a_full_queue_refuses_rather_than_grows(auth: Authenticator) -> None:
    auth.gate.slots = 1
    auth.gate.max_waiting = 3
    results = await asyncio.gather(
        *(outcome(auth, "sam", f"guess-{n}", f"203.0.113.{n}") for n in range(5))
    )
    assert sorted(results) == ["login_failed"] * 4 + ["rate_limited"]


async def test_a_cancelled_wait_gives_its_turn_back(auth: Authenticator) -> None:
    auth.gate.slots = 1
    async with auth.gate.turn():
        waiter = asyncio.create_task(outcome(auth, "sam", PASSWORD, "203.0.113.9"))
        await asyncio.sleep(0.05)
        assert auth.gate.waiting == 1
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        assert auth.gate.waiting == 0
    assert await outcome(auth, "sam", PASSWORD, "203.0.113.9") == "ok"  # nothing was held
