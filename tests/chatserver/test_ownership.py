"""One owner per room, fenced (chatserver/ownership.py), against a real redis-server.

The tests' own redis-server (tests/redis_server.py), never the shared one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from chatserver.ownership import LEASE_MS, SAFETY_MS, Ownership, room_keys

ROOM = "g_3f9a1c2b7d4e"


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    c = aioredis.Redis.from_url(redis_url, socket_timeout=1.0)
    yield c
    await c.aclose()


async def nodes(client: aioredis.Redis, n: int, lease_ms: int = LEASE_MS) -> list[Ownership]:
    out = [Ownership(client, f"node-{i}", lease_ms) for i in range(n)]
    await out[0].load()
    return out


async def test_of_many_nodes_claiming_at_once_exactly_one_wins(client: aioredis.Redis) -> None:
    for room in (f"{ROOM}-{i}" for i in range(20)):
        claims = await asyncio.gather(*(o.claim(room) for o in await nodes(client, 5)))
        winners = [c for c in claims if c is not None]
        assert len(winners) == 1
        assert await Ownership(client, "x").owner(room) == (winners[0].node, winners[0].epoch)


async def test_a_lost_lease_fences_every_write_of_the_old_owner(client: aioredis.Redis) -> None:
    a, b = await nodes(client, 2, lease_ms=1200)
    old = await a.claim(ROOM)
    assert old is not None and await a.commit(old, b"snapshot 1")
    assert old.deadline <= time.monotonic() + (1200 - SAFETY_MS) / 1000
    await asyncio.sleep(1.3)  # a paused owner: its lease ran out in Redis
    new = await b.claim(ROOM)
    assert new is not None and new.epoch > old.epoch
    assert not old.valid()  # by its own clock it had stopped already
    # Back from the pause, it tries to write anyway: every write is refused.
    assert not await a.commit(old, b"stale snapshot")
    assert not await a.renew(old) and not await a.release(old) and not await a.finish(old)
    assert await b.snapshot(ROOM) == b"snapshot 1"
    assert await b.commit(new, b"snapshot 2") and await b.snapshot(ROOM) == b"snapshot 2"


async def test_renewing_keeps_the_room_and_releasing_frees_it(client: aioredis.Redis) -> None:
    a, b = await nodes(client, 2, lease_ms=1200)
    lease = await a.claim(ROOM)
    assert lease is not None
    for _ in range(4):
        await asyncio.sleep(0.4)
        assert await a.renew(lease) and lease.valid()
        assert await b.claim(ROOM) is None
    assert await a.release(lease) and not lease.valid()
    assert await b.claim(ROOM) is not None


async def test_epochs_rise_even_after_redis_restarts_empty(client: aioredis.Redis) -> None:
    (a,) = await nodes(client, 1)
    first = await a.claim(ROOM)
    assert first is not None
    await client.flushall()  # what a restart without persistence leaves: nothing
    await client.function_flush()
    second = await a.claim(ROOM)  # the library is reloaded by itself
    assert second is not None and second.epoch > first.epoch


async def test_the_end_of_a_session_leaves_no_key(client: aioredis.Redis) -> None:
    (a,) = await nodes(client, 1)
    lease = await a.claim(ROOM)
    assert lease is not None and await a.commit(lease, b"s")
    assert await a.finish(lease)
    assert [k async for k in client.scan_iter(match=f"ss:{{g:{ROOM}}}*")] == []
    assert all(k.startswith(f"ss:{{g:{ROOM}}}:") for k in room_keys(ROOM))
