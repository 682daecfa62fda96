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

import pytest
from conftest import Env
from test_e2ee_live import verified_room

from clients.client import ChatClient, ClientError, Event
from clients.payload import PlainCodec
from moderation import rate
from rooms.arrivals import ENTRIES_PER_MINUTE

SECONDS = float(os.environ.get("SOAK_SECONDS", "5"))


async def test_a_seat_reconnecting_in_a_loop_leaves_the_others_connected(env: Env) -> None:
    # A full room: seven members and the looping seat make the group's eight.
    gid, fac, members, link = await verified_room(
        env, ["Ann", "Ben", "Cy", "Dee", "Eli", "Fay", "Gus"]
    )
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


async def test_keys_the_server_refused_for_a_spent_budget_are_sent_again_and_arrive(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``direct`` or ``vouch`` refused (``flood``) is not counted as delivered.

    The key budget is made tiny so that one departure spends it: the clients
    are told ``flood`` with a ``retry_after``, wait that long, and send again
    what is still wanted. Nobody is closed, and everyone reads everyone.
    """
    gid, fac, members, _ = await verified_room(env, ["Ann", "Ben", "Cy", "Dee"])
    monkeypatch.setattr(rate, "KEY_BUDGET", 2)
    monkeypatch.setattr(rate, "FRAME_WINDOW_SECONDS", 1.0)
    leaving, *staying = members
    await leaving.leave()
    honest = [fac, *staying]
    for c in honest:
        await c.next("left")

    # Settled: every client trusts and holds every other (vouches refused are
    # sent again too), no sender's chain moved on, and no refusal came back
    # for longer than the budget's window (a refusal arrives after the send).
    def floods_now() -> list[Event]:
        return [e for c in honest for e in c.history if e.type == "error" and e["code"] == "flood"]

    for _ in range(20):
        seen, epochs = len(floods_now()), [c.codec.chain.epoch for c in honest]  # type: ignore[attr-defined]
        for c in honest:
            await c.keys_ready([o.pid for o in honest if o is not c], timeout=15)
        await asyncio.sleep(1.5)
        if (seen, epochs) == (len(floods_now()), [c.codec.chain.epoch for c in honest]):  # type: ignore[attr-defined]
            break
    floods = floods_now()
    assert floods, "the tiny budget was spent: some keys were refused"
    assert all(e["detail"]["retry_after"] > 0 for e in floods)
    for speaker in honest:
        await speaker.send(f"from {speaker.pid}")
        for c in honest:
            if c is not speaker:
                got = await c.next("msg", timeout=10)
                while got["from"] != speaker.pid:
                    got = await c.next("msg", timeout=10)
                assert got.text == f"from {speaker.pid}"
    assert all(c.close_code is None for c in honest)
