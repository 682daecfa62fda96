"""Fuzzed frames at every stage of a connection while another room is measured (issue 16).

For ``FUZZ_SECONDS`` (default 3; ``make soak``: 30) raw websockets send
random and mutated frames to room A at the hello, the ground rules, the
locked door (knocking) and inside the room, a fixed random seed at a time;
meanwhile two members of room B talk to each other, and every message's
delivery time is recorded. The server must answer every fuzzed connection
with an error frame and/or a close code (never a hang or a traceback),
room B must get every message, in order, and nothing of room A, and the
figures are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import statistics
import time
from typing import Any

import pytest
from conftest import Env
from test_protocol_abuse import PROTOCOLS, pack, raw_member, room, ws_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from rooms.wire import INBOUND, VERSION

SECONDS = float(os.environ.get("FUZZ_SECONDS", "3"))
SEED = int(os.environ.get("FUZZ_SEED", "1603"))
KINDS = [*sorted(INBOUND), "hello", "accept", "nonsense", ""]


def junk(rng: random.Random, depth: int = 0) -> Any:
    """A msgpack value of any shape: what a broken or hostile client sends."""
    pick = rng.randrange(10 if depth < 2 else 7)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.choice([0, -1, 1, 2**31, -(2**63), 2**64 - 1, rng.randrange(-1000, 1000)])
    if pick == 3:
        return rng.choice([0.0, -1.5, 1e308, float("nan"), float("inf")])
    if pick == 4:
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(0, 40)))
    if pick == 5:
        return rng.randbytes(rng.randrange(0, 300))
    if pick == 6:
        return rng.choice(["p1", "p2", "p99", "", "alex", "*"])
    if pick == 7:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    if pick == 8:
        return {rng.choice(["t", "pid", "to", "payload", "msg", "id", "x"]): junk(rng, depth + 1)}
    return {"t": rng.choice(KINDS), **{k: junk(rng, depth + 1) for k in ("pid", "payload")}}


def frame(rng: random.Random) -> bytes:
    """Mostly frames of known types with fields of wrong types; some plain garbage."""
    roll = rng.random()
    if roll < 0.1:
        return rng.randbytes(rng.randrange(0, 64))  # not msgpack at all
    kind = rng.choice(KINDS)
    fields = {f: junk(rng) for f in rng.sample(["pid", "to", "payload", "msg", "id", "up",
                                                "seconds", "for_good", "kind", "category",
                                                "by", "sig", "anchor", "proof", "ref"],
                                               rng.randrange(0, 5))}  # fmt: skip
    return pack({"t": kind, **fields})


async def fuzz_one(ws: ClientConnection, rng: random.Random, count: int) -> tuple[int, int | None]:
    """Send up to ``count`` fuzzed frames; how many went, and the close code if closed."""
    sent = 0
    with contextlib.suppress(ConnectionClosed):
        for _ in range(count):
            await ws.send(frame(rng))
            sent += 1
        # Drain what the server answers, briefly: errors, or a close.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.2):
                while True:
                    await ws.recv()
    return sent, ws.close_code


async def test_fuzzed_frames_at_every_stage_never_touch_another_room(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    gid_a, fac_a, _ = await room(env, members=1, facilitator="alex")
    gid_b, _, (ben, cy) = await room(env, members=2, facilitator="blair", flood_messages=10_000)
    rng = random.Random(SEED)
    stats = {"connections": 0, "frames": 0, "closed": 0}
    latencies: list[float] = []
    sent_b: list[str] = []
    deadline = time.monotonic() + SECONDS

    async def talk_in_b() -> None:
        n = 0
        while time.monotonic() < deadline:
            n += 1
            text = f"B-{n}"
            sent_b.append(text)
            start = time.monotonic()
            await ben.send(text)
            while (await cy.next("msg", timeout=5)).text != text:
                pass
            latencies.append((time.monotonic() - start) * 1000)
            await asyncio.sleep(0.05)

    async def stage(name: str) -> ClientConnection | None:
        url = ws_url(env)
        try:
            if name == "hello":
                return await connect(url, subprotocols=PROTOCOLS)
            if name == "rules":
                ws = await connect(url, subprotocols=PROTOCOLS)
                link, name = await env.link(gid_a, "alex"), f"F{rng.randrange(10**6)}"
                hello = {"t": "hello", "v": VERSION, "role": "member", "link": link, "name": name}
                await ws.send(pack(hello))
                await ws.recv()  # the rules
                return ws
            return await raw_member(env, gid_a, f"F{rng.randrange(10**6)}")  # the room (or a knock)
        except (ConnectionClosed, InvalidStatus, OSError, AssertionError, KeyError):
            return None  # a waiting-stage limit refused it: an answer too

    async def fuzz() -> None:
        while time.monotonic() < deadline:
            name = rng.choice(["hello", "rules", "room", "room"])
            ws = await stage(name)
            if ws is None:
                continue
            stats["connections"] += 1
            sent, code = await fuzz_one(ws, rng, rng.randrange(1, 40))
            stats["frames"] += sent
            stats["closed"] += code is not None
            await ws.close()
            if rng.random() < 0.1:
                await fac_a.start()  # the door locks: later arrivals knock

    await asyncio.gather(talk_in_b(), fuzz())

    assert stats["connections"] > 5 and stats["frames"] > 50
    # Room B got every message, in order, and nothing of room A.
    texts = [e.text for e in cy.history if e.type == "msg"]
    assert texts == sent_b
    assert all(e["from"] in (ben.pid, cy.pid) for e in cy.history if e.type == "msg")
    # No traceback, no error of the server's own.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR
    ]
    async with env.http() as http:
        assert (await http.get("/healthz")).status_code == 200
    p50 = statistics.median(latencies)
    p99 = sorted(latencies)[max(0, int(len(latencies) * 0.99) - 1)]
    print(
        f"\n{SECONDS:.0f} s of fuzz (seed {SEED}): {stats['connections']} connections, "
        f"{stats['frames']} frames, {stats['closed']} closed by the server; room B: "
        f"{len(latencies)} messages, p50 {p50:.1f} ms, p99 {p99:.1f} ms, all delivered in order"
    )
