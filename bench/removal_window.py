"""The window after a removal: how long senders go on sealing on their old chain.

When a facilitator removes a member, every remaining sender's client keeps
sealing on its current sender chain, which the removed member holds, until it
processes the server's ``removed`` frame and starts a new chain for those who
remain (docs/e2ee.md sections 3.3 and 7). This measures that window on
loopback, through the real server run as its own process, with the real
client library and its encrypting codec:

* one facilitator (an ``IdentityKey``, so it vouches) and ``size - 1``
  members joined through seat links that carry the facilitator's key, all
  verified (``keys_ready``); every member sends a room message every
  ``--interval`` (20 ms), staggered;
* after a warm-up the facilitator removes one member (picked at random). For
  every remaining member: (a) the time from the facilitator's client sending
  ``remove`` to that member's client taking in ``removed`` (which is where its
  codec starts the new chain), and (b) how many messages it sealed on the old
  chain (the epoch before the removal) after ``remove`` went out;
* (c) the time until every remaining participant (the facilitator too) holds
  a new chain from every other one (epoch above the one before the removal);
* the reference, in the same rounds: the round trip of one member's ``chat``
  to its own echo (the server relays it like any frame), measured idle before
  the senders start (``idle``) and under the same load during the warm-up
  (``loaded``, every member's messages). The window is quoted in those round
  trips. The facilitator's own ``remove`` to its own ``removed`` (it is in the
  room too) is a round trip at the very moment, shown beside it.

Each member runs in a process of its own, as on a device of its own (one
Python process decrypting for eight clients would measure its own queue);
the facilitator runs in this one. All of them time with ``time.monotonic()``,
one clock for every process of the machine.

Each round is its own session (the facilitator ends it), so the same seat
links serve every round. The server listens on 127.0.0.1 only, with a scratch
SQLite store under a temporary directory (removed afterwards); it is set up
with the project's own CLI (facilitator, group, seat links), and the group's
flood control is raised through the HTTP API so that a member may send every
20 ms. The whole run stops by itself within ``--budget`` seconds (rounds not
started by then are skipped) and stops the one server process it started.

    .venv/bin/python -m bench.removal_window            # 10 rounds each of rooms of 8 and 4
    .venv/bin/python -m bench.removal_window --rounds 20 --sizes 8 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed

from bench.procs import (
    CLK_TCK,
    Registry,
    cpu_count,
    cpu_ticks,
    foreign_now,
    free_port,
    stopping_on_signals,
    wait_ready,
)
from clients.client import ChatClient, ClientError, Event
from clients.e2ee import E2EECodec, IdentityKey
from clients.payload import PayloadCodec
from rooms.links import b64u_encode

FACILITATOR = "bench"
PASSWORD = "bench-password-not-secret"
HOST = "127.0.0.1"  # loopback only, always
IDLE_PINGS = 10
WARMUP_SECONDS = 1.0
LOADED_FROM = 0.3  # loaded round trips count from this far into the warm-up
SETTLE_TIMEOUT = 5.0
ROUND_TIMEOUT = 25.0
AROUND = 0.1  # round trips of messages sealed this close to the removal, for comparison


def now() -> float:
    return time.monotonic()


class TimedClient(ChatClient):
    """``ChatClient`` that notes when frames arrive and what its codec sealed on.

    Only observation: every frame is absorbed exactly as by ``ChatClient``
    (the codec moves the chain in ``on_frame``, inside ``_absorb``); room
    messages are kept out of the event queue, which nobody here reads.
    """

    def __init__(self, ws: Any, codec: PayloadCodec, *args: Any, **kw: Any) -> None:
        super().__init__(ws, codec, *args, **kw)
        self.sealed: list[tuple[float, int]] = []  # (when, epoch of the chain it used)
        self._pending: deque[float] = deque()  # seal times of our messages not yet echoed
        self.rtts: list[tuple[float, float]] = []  # (when the echo came, round trip)
        self.echoed = asyncio.Event()
        self.removed_at: float | None = None
        self.epoch_before = -1  # our chain's epoch when the removal came
        self.errors: list[str] = []
        # (c): the epochs of the others' chains when the removal came, and when
        # this client first held a newer chain from every one of them.
        self.watch: dict[str, int] | None = None
        self.rekeyed_at: float | None = None
        if isinstance(codec, E2EECodec):
            seal = codec.seal

            def timed_seal(text: str, cw: str | None = None) -> bytes:
                payload = seal(text) if cw is None else seal(text, cw)
                at = now()
                assert codec.chain is not None
                self.sealed.append((at, codec.chain.epoch))
                self._pending.append(at)
                return payload

            codec.seal = timed_seal  # type: ignore[method-assign]

    @property
    def e2ee(self) -> E2EECodec:
        assert isinstance(self.codec, E2EECodec)
        return self.codec

    def _absorb(self, raw: Event) -> None:
        at = now()
        frame = raw.fields
        kind = frame.get("t")
        if kind == "msg" and frame.get("from") == self.pid and self._pending:
            self.rtts.append((at, at - self._pending.popleft()))
            self.echoed.set()
        if kind == "removed" and self.removed_at is None:
            # The chains as they stand before this client moves: its own, and each
            # remaining sender's (theirs can come only after this frame: each
            # starts a new one once told of the removal, the server relays in order).
            codec, gone = self.e2ee, frame.get("pid")
            self.removed_at = at
            self.epoch_before = codec.chain.epoch if codec.chain is not None else -1
            self.watch = {
                pid: peer.chains.current.epoch
                for pid, peer in codec.peers.items()
                if pid != gone and peer.chains.current is not None
            }
        super()._absorb(raw)
        if kind == "error":
            self.errors.append(str(frame.get("code")))
        if self.watch is not None and self.rekeyed_at is None and self._holds_new_chains():
            self.rekeyed_at = now()

    def _holds_new_chains(self) -> bool:
        assert self.watch is not None
        for pid, epoch in self.watch.items():
            peer = self.e2ee.peers.get(pid)
            if peer is None or peer.chains.current is None:
                return False
            if peer.chains.current.epoch <= epoch:
                return False
        return True

    def _emit(self, event: Event) -> None:
        if event.type == "msg":
            self.history.append(event)
            return
        super()._emit(event)


# ---- set-up: the project's CLI and HTTP API ---------------------------------------------


def chatserver_argv() -> list[str]:
    script = Path(sys.executable).parent / "chatserver"
    return [str(script)] if script.exists() else [sys.executable, "-m", "chatserver.cli"]


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [*chatserver_argv(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"chatserver {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def make_links(env: dict[str, str], gid: str, key: str, count: int) -> list[str]:
    """``count`` seat links carrying the facilitator's key, made by the CLI side by side."""
    argv = [*chatserver_argv(), "link", "create", gid, "--facilitator-key", key]
    full_env = {**os.environ, **env}
    procs = [
        subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env
        )
        for _ in range(count)
    ]
    links = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"chatserver link create failed: {err.strip()}")
        links.append(out.strip().splitlines()[-1])
    return links


def http_json(port: int, method: str, path: str, body: dict[str, Any], token: str = "") -> Any:
    req = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        data=json.dumps(body).encode(),
        method=method,
        headers={"content-type": "application/json"}
        | ({"authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


# ---- a member, in a process of its own ---------------------------------------------------
#
# Each member runs in its own process, as on its own device: eight clients
# decrypting every message in one Python process would measure that process's
# queue. The processes talk to the orchestrator in JSON lines on stdin/stdout;
# their times are time.monotonic(), one clock (CLOCK_MONOTONIC) for every
# process on the machine.


async def sender(m: TimedClient, interval: float, offset: float, stop: asyncio.Event) -> None:
    await asyncio.sleep(offset)
    due = now()
    i = 0
    while not stop.is_set() and m.close_code is None:
        try:
            await m.send(f"note {i} from the benchmark")
        except (ConnectionClosed, ClientError):
            return
        i += 1
        due += interval
        await asyncio.sleep(max(0.0, due - now()))


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


async def member_main(link: str, name: str, interval: float) -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    m: TimedClient | None = None
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    started = cpu0 = 0.0

    def say(n: int, **fields: Any) -> None:
        print(json.dumps({"n": n, **fields}), flush=True)

    async def halt() -> None:
        nonlocal task
        stop.set()
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            task = None

    while line := await stdin.readline():
        cmd = json.loads(line)
        op, n = cmd["op"], cmd["n"]
        try:
            if op == "join":
                joined = await TimedClient.join(link, name)
                assert isinstance(joined, TimedClient)
                m = joined
                say(n, pid=m.pid)
            elif op == "keys":
                assert m is not None
                await m.keys_ready(timeout=10)
                say(n, warnings=[w.get("code") for w in m.warnings()])
            elif op == "ping":  # the reference, idle: one message to its echo, one at a time
                assert m is not None
                for k in range(IDLE_PINGS):
                    m.echoed.clear()
                    await m.send(f"ping {k}")
                    await asyncio.wait_for(m.echoed.wait(), 5)
                say(n, rtts=[rtt for _, rtt in m.rtts])
            elif op == "send":
                assert m is not None
                stop.clear()
                started, cpu0 = now(), _own_cpu()
                task = asyncio.create_task(sender(m, interval, cmd["offset"], stop))
                say(n, started=started)
            elif op == "report":  # after the removal: until settled, then what was seen
                assert m is not None
                deadline = now() + SETTLE_TIMEOUT
                while now() < deadline and m.close_code is None and m.rekeyed_at is None:
                    await asyncio.sleep(0.002)
                await halt()
                t0 = cmd["t0"]
                sending = max(1e-6, now() - started)
                say(
                    n,
                    removed_at=m.removed_at,
                    rekeyed_at=m.rekeyed_at,
                    closed=m.close_code is not None,
                    old_chain_seals=sum(
                        1 for at, ep in m.sealed if at > t0 and ep == m.epoch_before
                    ),
                    loaded=[rtt for at, rtt in m.rtts if started + LOADED_FROM <= at < t0],
                    around=[rtt for at, rtt in m.rtts if abs(at - rtt - t0) <= AROUND],
                    errors=m.errors,
                    cpu_pct=100 * (_own_cpu() - cpu0) / sending,
                )
            elif op == "close":
                await halt()
                if m is not None:
                    await m.close()
                m = None
                say(n)
            elif op == "exit":
                await halt()
                say(n)
                return
        except Exception as e:  # told to the orchestrator, which gives up the round
            say(n, failed=f"{type(e).__name__}: {e}")


class Member:
    """The orchestrator's end of one member process."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.n = 0
        self.pid: str | None = None  # in the session

    async def ask(self, op: str, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.n += 1
        self.proc.stdin.write((json.dumps({"op": op, "n": self.n, **fields}) + "\n").encode())
        await self.proc.stdin.drain()
        async with asyncio.timeout(timeout):
            while True:  # an answer to an earlier question given up on is skipped
                line = await self.proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"{self.name}'s process exited")
                answer: dict[str, Any] = json.loads(line)
                if answer.get("n") == self.n:
                    break
        if "failed" in answer:
            raise RuntimeError(f"{self.name}: {op}: {answer['failed']}")
        return answer


async def start_members(
    links: Sequence[str], interval: float, logdir: Path
) -> tuple[list[Member], list[Any]]:
    members, logs = [], []
    for i, link in enumerate(links):
        name = f"member{i + 1}"
        log = open(logdir / f"{name}.log", "w")  # noqa: SIM115 - closed by the caller
        logs.append(log)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.removal_window",
            "--member",
            link,
            "--name",
            name,
            "--interval",
            str(interval),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
        members.append(Member(proc, name))
    return members, logs


async def stop_members(members: Sequence[Member]) -> None:
    """Ask each to exit; one that does not within 3 s is ended, by its own pid."""
    for w in members:
        with contextlib.suppress(Exception):
            await w.ask("exit", timeout=3)
    for w in members:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(w.proc.wait(), 3)
        if w.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.proc.pid, signal.SIGKILL)
            await w.proc.wait()


# ---- one round --------------------------------------------------------------------------


@dataclass
class Round:
    size: int
    to_removed_ms: list[float] = field(default_factory=list)  # (a), per remaining member
    old_chain_seals: list[int] = field(default_factory=list)  # (b), per remaining member
    facilitator_removed_ms: float | None = None
    all_new_chains_ms: float | None = None  # (c)
    idle_rtt_ms: list[float] = field(default_factory=list)
    loaded_rtt_ms: list[float] = field(default_factory=list)
    around_rtt_ms: list[float] = field(default_factory=list)  # sealed within AROUND of remove
    errors: list[str] = field(default_factory=list)
    member_cpu_pct: float | None = None  # the busiest member process, while sending


async def one_round(
    url: str,
    gid: str,
    token: str,
    identity: IdentityKey,
    workers: Sequence[Member],
    size: int,
    interval: float,
    rng: random.Random,
) -> Round:
    out = Round(size)
    fac: TimedClient | None = None
    joined: list[Member] = []
    try:
        client = await TimedClient.facilitate(url, gid, token=token, identity=identity)
        assert isinstance(client, TimedClient)
        fac = client
        await fac.open()
        await fac.next("state")
        for w in workers[: size - 1]:
            w.pid = (await w.ask("join"))["pid"]
            joined.append(w)
            await fac.next("joined")
        await fac.keys_ready(timeout=10)
        for answer in await asyncio.gather(*(w.ask("keys") for w in joined)):
            if answer["warnings"]:  # an unverified link would make this another test
                raise RuntimeError(f"a member is warned: {answer['warnings']}")

        out.idle_rtt_ms = [rtt * 1e3 for rtt in (await joined[0].ask("ping"))["rtts"]]

        for k, w in enumerate(joined):
            await w.ask("send", offset=interval * k / len(joined))
        await asyncio.sleep(WARMUP_SECONDS)

        victim = rng.choice(joined)
        assert victim.pid is not None
        t0 = now()
        await fac.remove(victim.pid)

        reports = await asyncio.gather(*(w.ask("report", t0=t0) for w in joined))
        deadline = now() + SETTLE_TIMEOUT
        while now() < deadline and fac.rekeyed_at is None:
            await asyncio.sleep(0.002)
        if fac.removed_at is None or fac.rekeyed_at is None:
            raise RuntimeError("the facilitator never got the removal or the new chains")
        rekeyed = [fac.rekeyed_at]
        for w, r in zip(joined, reports, strict=True):
            if w is victim:
                continue
            if r["removed_at"] is None or r["rekeyed_at"] is None:
                raise RuntimeError(f"{w.name} never got the removal or the new chains")
            out.to_removed_ms.append((r["removed_at"] - t0) * 1e3)
            out.old_chain_seals.append(r["old_chain_seals"])
            out.loaded_rtt_ms += [rtt * 1e3 for rtt in r["loaded"]]
            out.around_rtt_ms += [rtt * 1e3 for rtt in r["around"]]
            out.errors += r["errors"]
            rekeyed.append(r["rekeyed_at"])
        out.facilitator_removed_ms = (fac.removed_at - t0) * 1e3
        out.all_new_chains_ms = (max(rekeyed) - t0) * 1e3
        out.member_cpu_pct = max(r["cpu_pct"] for r in reports)
        out.errors += fac.errors
        with contextlib.suppress(ConnectionClosed):
            await fac.end()
        return out
    finally:
        for w in joined:
            with contextlib.suppress(Exception):
                await w.ask("close", timeout=5)
        if fac is not None:
            with contextlib.suppress(Exception):
                await fac.close()


# ---- the run ----------------------------------------------------------------------------


def med(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def summary(rounds: Sequence[Round]) -> dict[str, Any]:
    a = [x for r in rounds for x in r.to_removed_ms]
    b = [x for r in rounds for x in r.old_chain_seals]
    c = [r.all_new_chains_ms for r in rounds if r.all_new_chains_ms is not None]
    idle = [x for r in rounds for x in r.idle_rtt_ms]
    loaded = [x for r in rounds for x in r.loaded_rtt_ms]
    # Each round's window in that round's own round trips: the machine's noise
    # moves both together, from one round to the next.
    ratios = [med(r.to_removed_ms) / med(r.loaded_rtt_ms) for r in rounds if r.loaded_rtt_ms]
    return {
        "rounds": len(rounds),
        "members_measured": len(a),
        "to_removed_ms": {"median": med(a), "max": max(a, default=float("nan"))},
        "old_chain_seals": {
            "median": med(b),
            "max": max(b, default=0),
            "total": sum(b),
            "members_with_any": sum(1 for x in b if x),
        },
        "facilitator_removed_ms": med(
            [r.facilitator_removed_ms for r in rounds if r.facilitator_removed_ms is not None]
        ),
        "all_new_chains_ms": {"median": med(c), "max": max(c, default=float("nan"))},
        "idle_rtt_ms": {"median": med(idle), "samples": len(idle)},
        "loaded_rtt_ms": {"median": med(loaded), "p99": _pct(loaded, 0.99), "samples": len(loaded)},
        "window_in_loaded_rtt": {"median": med(ratios), "max": max(ratios, default=float("nan"))},
        "window_in_idle_rtt": med(a) / med(idle) if idle else float("nan"),
        "member_cpu_pct": max((r.member_cpu_pct or 0.0 for r in rounds), default=0.0),
        "errors": sorted({e for r in rounds for e in r.errors}),
    }


def _pct(xs: Sequence[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def table(results: dict[int, dict[str, Any]], interval: float) -> str:
    head = (
        "| room | rounds | remove → `removed` (ms) median / max | the facilitator's own (ms) "
        "median | old-chain seals "
        "median / max | all new chains (ms) median / max | round trip idle / loaded (ms) "
        "| window in loaded round trips, per round: median / max |"
    )
    lines = [head, "|" + "---:|" * 8]
    for size, s in results.items():
        ratio = s["window_in_loaded_rtt"]
        lines.append(
            f"| {size} | {s['rounds']} "
            f"| {s['to_removed_ms']['median']:.2f} / {s['to_removed_ms']['max']:.2f} "
            f"| {s['facilitator_removed_ms']:.2f} "
            f"| {s['old_chain_seals']['median']:g} / {s['old_chain_seals']['max']} "
            f"| {s['all_new_chains_ms']['median']:.2f} / {s['all_new_chains_ms']['max']:.2f} "
            f"| {s['idle_rtt_ms']['median']:.2f} / {s['loaded_rtt_ms']['median']:.2f} "
            f"| {ratio['median']:.2f} / {ratio['max']:.2f} |"
        )
    lines.append(
        f"(each member sends every {interval * 1e3:g} ms; a window measured per remaining "
        "member; old-chain seals: messages sealed on the old chain after `remove` went out)"
    )
    return "\n".join(lines)


async def run_rounds(
    port: int,
    gid: str,
    token: str,
    identity: IdentityKey,
    links: list[str],
    sizes: list[int],
    rounds: int,
    interval: float,
    stop_at: float,
    seed: int,
    logdir: Path,
) -> tuple[dict[int, list[Round]], int]:
    url = f"http://{HOST}:{port}"
    rng = random.Random(seed)
    done: dict[int, list[Round]] = {s: [] for s in sizes}
    workers, logs = await start_members(links, interval, logdir)
    try:
        await _rounds(
            url, gid, token, identity, workers, sizes, rounds, interval, stop_at, rng, done
        )
    finally:
        await stop_members(workers)
        for log in logs:
            log.close()
    skipped = rounds * len(sizes) - sum(len(rs) for rs in done.values())
    return done, skipped


async def _rounds(
    url: str,
    gid: str,
    token: str,
    identity: IdentityKey,
    workers: list[Member],
    sizes: list[int],
    rounds: int,
    interval: float,
    stop_at: float,
    rng: random.Random,
    done: dict[int, list[Round]],
) -> None:
    for _ in range(rounds):
        for size in sizes:  # interleaved, so that the machine's noise falls on every size
            # A round takes a few seconds; none starts that could not end in time.
            if now() + ROUND_TIMEOUT / 3 > stop_at:
                print(f"  room of {size}: round skipped, out of time", flush=True)
                continue
            budget = max(1.0, min(ROUND_TIMEOUT, stop_at - now()))
            try:
                r = await asyncio.wait_for(
                    one_round(url, gid, token, identity, workers, size, interval, rng), budget
                )
            except (TimeoutError, RuntimeError, AssertionError, ClientError) as e:
                print(f"  room of {size}: round failed ({type(e).__name__}: {e})", flush=True)
                continue
            done[size].append(r)
            print(
                f"  room of {size}, round {len(done[size])}: remove → removed "
                f"{med(r.to_removed_ms):.2f} ms median (max {max(r.to_removed_ms):.2f}), "
                f"(facilitator's own {r.facilitator_removed_ms or 0:.2f}), "
                f"old-chain seals {sum(r.old_chain_seals)}, all new chains "
                f"{r.all_new_chains_ms:.2f} ms, loaded round trip {med(r.loaded_rtt_ms):.2f} ms "
                f"({med(r.around_rtt_ms):.2f} around the removal), "
                f"busiest member process {r.member_cpu_pct or 0:.0f}% of a CPU",
                flush=True,
            )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.removal_window", description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=10, help="rounds per room size (default 10)")
    p.add_argument("--sizes", default="8,4", help="room sizes, facilitator included (8,4)")
    p.add_argument(
        "--interval", type=float, default=0.020, help="seconds between a member's messages (0.020)"
    )
    p.add_argument(
        "--budget",
        type=float,
        default=110.0,
        help="stop by this many seconds after start, whatever is left (110)",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write every round's figures here")
    p.add_argument("--member", help=argparse.SUPPRESS)  # a member process: its seat link
    p.add_argument("--name", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.member:
        asyncio.run(member_main(args.member, args.name or "member", args.interval))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if not sizes or any(s < 3 for s in sizes):
        p.error("a room needs the facilitator and at least two members")
    stop_at = now() + args.budget

    foreign, steal = foreign_now(0.5)
    print(
        f"machine before the run: other tasks {foreign:.0f}% of a CPU, steal up to "
        f"{steal:.0f}% ({cpu_count()} CPUs, shared: figures move from run to run)",
        flush=True,
    )

    scratch = Path(tempfile.mkdtemp(prefix="removal-window-"))
    port = free_port()
    env = {
        "STORE_URL": f"sqlite:///{scratch / 'store.sqlite3'}",
        "PUBLIC_URL": f"http://{HOST}:{port}",
        "XDG_CONFIG_HOME": str(scratch / "config"),
    }
    identity = IdentityKey.generate()
    registry = Registry(scratch / "logs")
    try:
        with stopping_on_signals(registry):
            cli(env, "facilitator", "add", FACILITATOR, "--password-stdin", stdin=PASSWORD + "\n")
            gid = cli(
                env,
                "group",
                "create",
                "--title",
                "removal window bench",
                "--facilitator",
                FACILITATOR,
                "--capacity",
                str(max(sizes)),
            ).splitlines()[-1]
            links = make_links(env, gid, b64u_encode(identity.public), max(sizes) - 1)
            serve = [*chatserver_argv(), "serve", "--host", HOST, "--port", str(port)]
            server = registry.start("server", serve, env=env)
            print(f"server pid {server.pid} on {HOST}:{port}, scratch in {scratch}", flush=True)
            wait_ready(port, server, 20, "/healthz")
            token = http_json(
                port, "POST", "/api/login", {"name": FACILITATOR, "password": PASSWORD}
            )["token"]
            # The CLI sets no flood control; a member here sends 50 messages a second.
            http_json(
                port,
                "PATCH",
                f"/api/groups/{gid}",
                {"flood_messages": 10_000, "flood_window_seconds": 1},
                token,
            )
            server_cpu0, own0, wall0 = sum(cpu_ticks(server.pid)), _own_cpu(), now()
            rounds, skipped = asyncio.run(
                run_rounds(
                    port,
                    gid,
                    token,
                    identity,
                    links,
                    sizes,
                    args.rounds,
                    args.interval,
                    stop_at,
                    args.seed,
                    registry.logdir,
                )
            )
            wall = now() - wall0
            server_pct = 100 * (sum(cpu_ticks(server.pid)) - server_cpu0) / CLK_TCK / wall
            facilitator_pct = 100 * (_own_cpu() - own0) / wall
            registry.stop(server)  # the one server this run started, by its process group
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    results = {size: summary(rs) for size, rs in rounds.items() if rs}
    print()
    print(table(results, args.interval))
    print(
        f"CPU over {wall:.0f} s of rounds: server {server_pct:.0f}% of a CPU, the facilitator's "
        f"process {facilitator_pct:.0f}%"
        + (f"; {skipped} rounds failed or skipped for time" if skipped else "")
    )
    for size, s in results.items():
        extra = f"; errors seen: {s['errors']}" if s["errors"] else ""
        print(
            f"room of {size}: {s['members_measured']} member windows, "
            f"{s['old_chain_seals']['members_with_any']} of them with a message on the old chain; "
            f"loaded round trip p99 {s['loaded_rtt_ms']['p99']:.2f} ms; window in idle round "
            f"trips {s['window_in_idle_rtt']:.1f}; busiest member process "
            f"{s['member_cpu_pct']:.0f}% of a CPU{extra}"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "summary": results,
                    "rounds": {s: [asdict(r) for r in rs] for s, rs in rounds.items()},
                    "interval": args.interval,
                    "server_cpu_pct": server_pct,
                    "facilitator_cpu_pct": facilitator_pct,
                },
                indent=2,
            )
        )
    return 0 if results else 1


if __name__ == "__main__":
    raise SystemExit(main())
