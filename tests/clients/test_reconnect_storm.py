"""One seat that reconnects as fast as it can cannot knock the room out (issue 16, point 1).

Every entry and exit of a seat makes each encrypting client hand out new keys
to everyone else; a seat looping hello-and-close used to make the honest
clients' key traffic trip their own frame budgets until the server closed
every one of them (4429), the facilitator's too. Now the looping seat is
limited to ENTRIES_PER_MINUTE and waits alone; the others stay connected and
keep reading each other. ``SOAK_SECONDS`` (default 5; ``make soak``: 30) is
how long the loop runs.
"""

from __future__ import annotations

import asyncio
import os
import time

from conftest import Env
from test_e2ee_live import verified_room

from clients.client import ChatClient, ClientError
from clients.payload import PlainCodec
from rooms.arrivals import ENTRIES_PER_MINUTE

SECONDS = float(os.environ.get("SOAK_SECONDS", "5"))


async def test_a_seat_reconnecting_in_a_loop_leaves_the_others_connected(env: Env) -> None:
    gid, fac, members, link = await verified_room(env, ["Ann", "Ben", "Cy"])
    loop_link = await link()
    entries = refused = 0

    async def looping() -> None:
        nonlocal entries, refused
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            try:
                c = await ChatClient.join(loop_link, "Loop", codec=PlainCodec())
            except ClientError as e:
                assert e.code == "rate_limited"
                refused += 1
                continue
            entries += 1
            await c.close()

    honest = [fac, *members]
    storm = asyncio.create_task(looping())
    said = 0
    read = {c.pid: 0 for c in honest}
    while not storm.done():
        for speaker in honest:
            said += 1
            await speaker.send(f"still here {said}")
            for c in honest:
                while True:
                    event = await c.next("msg", timeout=10)
                    if event["from"] == speaker.pid:
                        break
                read[c.pid] += event.text == f"still here {said}"
        await asyncio.sleep(2.2)  # within the group's flood limit (5 in 10 s)
    await storm
    print(
        f"\n{SECONDS:.0f} s of reconnects: {entries} entries, {refused} refused; "
        f"{said} messages, each read by all {len(honest)} honest clients: {read}"
    )
    assert entries <= ENTRIES_PER_MINUTE
    assert refused > 0
    assert all(c.close_code is None for c in honest)  # nobody else was closed
    assert all(n == said for n in read.values())  # and everyone read everyone
