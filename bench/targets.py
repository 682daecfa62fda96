"""The servers under test, how each is started, and one measured run against one.

A run: start the server pinned to CPU 0, wait until it answers, run the load
generator pinned to CPU 1, sample the server's CPU time from /proc at the
moments the generator opens and closes its measuring window, read its peak
memory, stop it.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bench import procs
from bench.fixtures import Fixture

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LOADGEN = BENCH / "loadgen" / "loadgen.mjs"
NODE = "node"
# ``--targets safespace,baseline,...`` also runs our server from this checkout
# of an earlier commit (``git worktree add DIR COMMIT``): before and after a
# change side by side in one run, each beside the same references.
BASELINE_ENV = "BENCH_BASELINE"


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    mode: str  # the load generator's mode
    ours: bool = False

    @property
    def root(self) -> Path:
        """Where the server runs from (``-m chatserver.cli`` imports from there)."""
        if self.key == "baseline":
            where = os.environ.get(BASELINE_ENV)
            if not where:
                raise SystemExit(f"the baseline target needs {BASELINE_ENV}=a checkout's path")
            return Path(where).resolve()
        return ROOT

    def argv(self, port: int) -> list[str]:
        py = sys.executable
        if self.key in ("safespace", "baseline"):
            return [py, "-m", "chatserver.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        if self.key == "websockets":
            return [py, str(BENCH / "relays" / "ws_broadcast.py"), "--port", str(port)]
        if self.key == "socketio-node":
            return [NODE, str(BENCH / "relays" / "socketio_server.mjs"), "--port", str(port)]
        if self.key == "socketio-py":
            return [py, str(BENCH / "relays" / "socketio_py.py"), "--port", str(port)]
        raise ValueError(self.key)


TARGETS: dict[str, Target] = {
    t.key: t
    for t in (
        Target("safespace", "safespace (ours)", "safespace", ours=True),
        Target("baseline", "safespace at BENCH_BASELINE", "safespace", ours=True),
        Target("websockets", "websockets broadcast", "ws"),
        Target("socketio-node", "node socket.io", "socketio"),
        Target("socketio-py", "python-socketio", "socketio"),
    )
}


class Server:
    """One server under test, pinned to the server CPU, stopped on leaving."""

    def __init__(
        self, registry: procs.Registry, target: Target, fixture: Fixture | None, name: str
    ) -> None:
        self.registry = registry
        self.target = target
        self.fixture = fixture
        self.name = name
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Server:
        self.port = procs.free_port()
        env = {"LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
        if self.target.ours:
            assert self.fixture is not None
            env["STORE_URL"] = self.fixture.store_url
            env["PUBLIC_URL"] = f"http://127.0.0.1:{self.port}"
            # Every simulated member comes from 127.0.0.1, hundreds at once: the
            # per-address bound on connections on their way in is for real
            # clients (docs/operations.md), not for one load generator.
            env["WAITING_PER_ADDRESS"] = "100000"
        argv = procs.pinned(procs.SERVER_CPU, self.target.argv(self.port))
        self.proc = self.registry.start(self.name, argv, env=env, cwd=self.target.root)
        procs.wait_ready(self.port, self.proc, 30.0, "/healthz" if self.target.ours else None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None:
            self.registry.stop(self.proc)

    def rss_kib(self) -> int:
        return procs.status_kib(self.pid, "VmRSS")

    def hwm_kib(self) -> int:
        return procs.status_kib(self.pid, "VmHWM")

    def metrics(self) -> dict[str, float]:
        """Our server's /metrics as {name{labels}: value}; empty for the references."""
        if not self.target.ours:
            return {}
        out: dict[str, float] = {}
        for line in procs.http_get(self.port, "/metrics").splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                out[key] = float(value)
        return out


@dataclass
class Loadgen:
    """What one load generator run printed, and the server CPU over its window."""

    result: dict[str, Any]
    server_cpu_seconds: float | None  # user + system
    server_system_seconds: float | None  # system alone: mostly socket reads and writes
    cpu_busy_pct: dict[int, float]
    steal_pct: dict[int, float]  # CPU time the host of this virtual machine took away
    foreign_cpu_pct: float | None  # other processes on the machine, % of one CPU
    events: list[dict[str, Any]] = field(default_factory=list)


EventHook = Callable[[dict[str, Any], "subprocess.Popen[str]"], None]


def run_loadgen(
    registry: procs.Registry,
    name: str,
    args: Sequence[str],
    server_pid: int | None,
    timeout: float,
    on_event: EventHook | None = None,
) -> Loadgen:
    argv = procs.pinned(procs.LOADGEN_CPU, [NODE, str(LOADGEN), *args])
    proc = registry.start(name, argv, stdout_pipe=True, cwd=ROOT)
    lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
    snaps: dict[str, procs.Snapshot] = {}

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            kind = ev.get("event")
            # Sampled here, the moment the line arrives, not when the main thread looks.
            if kind in ("window_start", "window_end"):
                snaps[kind] = procs.snapshot(server_pid, proc.pid)
            lines.put(ev)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    events: list[dict[str, Any]] = []
    result: dict[str, Any] | None = None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{name}: no result after {timeout:.0f} s")
            try:
                ev = lines.get(timeout=left)
            except queue.Empty:
                continue
            if ev is None:
                break
            events.append(ev)
            if ev.get("event") == "result":
                result = ev
            elif ev.get("event") == "error":
                raise RuntimeError(f"{name}: {ev.get('message')}")
            elif on_event is not None:
                on_event(ev, proc)
        proc.wait(10)
    finally:
        registry.stop(proc)
    if result is None:
        log = registry.logdir / f"{name}.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{name}: exited {proc.returncode} without a result\n{tail}")
    a, b = snaps.get("window_start"), snaps.get("window_end")
    if a is None or b is None:
        return Loadgen(result, None, None, {}, {}, None, events)
    cpu = system = None
    if a.server is not None and b.server is not None:
        cpu = (sum(b.server) - sum(a.server)) / procs.CLK_TCK
        system = (b.server[1] - a.server[1]) / procs.CLK_TCK
    return Loadgen(
        result,
        cpu,
        system,
        procs.busy_pct(a, b),
        procs.steal_pct(a, b),
        procs.foreign_pct(a, b),
        events,
    )


def send_line(proc: subprocess.Popen[str], line: str = "go") -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
