"""A database file locked by another process delays the store's callers, not chat."""

from __future__ import annotations

import asyncio
import time

from conftest import Env, write_lock_held

from rooms.errors import StoreUnavailable


async def test_locked_database_does_not_delay_chat(server: Env) -> None:
    gid, fac, (a, b) = await server.room(2)
    await fac.start()
    await a.next("state")
    await b.next("state")
    async with write_lock_held(server.db_path, 10):
        started = time.monotonic()
        write = asyncio.create_task(server.store.set_identity("alex", b"k" * 32))
        worst = 0.0
        sent = 0
        while (time.monotonic() - started < 6 and not write.done()) or sent < 20:
            t0 = time.monotonic()
            # The facilitator writes: members' slow mode and flood control
            # would refuse a message every 50 ms, and they are not measured here.
            await fac.send(f"ping {sent}")
            await b.next("msg")
            worst = max(worst, time.monotonic() - t0)
            sent += 1
            await asyncio.sleep(0.05)
        print(f"max chat round trip during the lock: {worst * 1000:.1f} ms over {sent}")
        assert worst <= 0.1
        # The pending write ends: done after the lock goes, or sqlite's clear
        # "database is locked" after the busy timeout; never a hang.
        try:
            await asyncio.wait_for(write, 12)
        except StoreUnavailable as e:
            assert e.code == "store_unavailable"
