"""Processes the benchmark starts, pins, measures through /proc, and always stops.

Every process is started in its own session (process group) and registered;
``Registry.stop_all`` ends exactly those groups, by id: on normal exit, on an
error, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any

CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = 0
LOADGEN_CPU = 1


# Taken before the orchestrator pins itself, which would narrow its own affinity.
_CPUS = frozenset(os.sched_getaffinity(0))


def cpu_count() -> int:
    return len(_CPUS)


def pinned(cpu: int, argv: Sequence[str]) -> list[str]:
    """``argv`` run on one CPU with taskset (as is, where there is no second CPU)."""
    if {SERVER_CPU, LOADGEN_CPU} - _CPUS or shutil.which("taskset") is None:
        return list(argv)
    return ["taskset", "-c", str(cpu), *argv]


def pin_self(cpu: int) -> None:
    """Keep the orchestrator (and what it starts unpinned) off the server's CPU."""
    if cpu in _CPUS and cpu_count() >= 2:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpu})


def raise_nofile(wanted: int) -> int:
    """Raise the open-files limit (inherited by every child); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    enough = hard == resource.RLIM_INFINITY or hard >= wanted
    try:  # raising the hard limit needs privilege; the soft one up to hard does not
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard if enough else wanted))
    except (ValueError, OSError):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def cpu_ticks(pid: int) -> tuple[int, int]:
    """(utime, stime) of the whole process (all its threads), in clock ticks."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)


@dataclass(frozen=True)
class Snapshot:
    """CPU time at one moment: per CPU, per process of ours, and of every task."""

    at: float  # monotonic seconds
    cpus: dict[int, tuple[int, int]]  # per CPU: (busy, total) ticks, irq and softirq counted
    steal: dict[int, int]  # per CPU: ticks the hypervisor gave to other machines
    tasks: int  # user + nice + system ticks of every task on every CPU
    server: tuple[int, int] | None  # (utime, stime) ticks
    loadgen: int | None  # utime + stime ticks
    own: float  # this process (the orchestrator), seconds


def snapshot(server_pid: int | None, loadgen_pid: int | None) -> Snapshot:
    cpus: dict[int, tuple[int, int]] = {}
    steal: dict[int, int] = {}
    tasks = 0
    for line in Path("/proc/stat").read_text().splitlines():
        name, *rest = line.split()
        if name.startswith("cpu") and name[3:].isdigit():
            ticks = [int(x) for x in rest[:8]]
            idle = ticks[3] + ticks[4]  # idle + iowait
            cpus[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
            steal[int(name[3:])] = ticks[7]
            tasks += ticks[0] + ticks[1] + ticks[2]
    server = loadgen = None
    with contextlib.suppress(OSError):
        if server_pid is not None:
            server = cpu_ticks(server_pid)
        if loadgen_pid is not None:
            loadgen = sum(cpu_ticks(loadgen_pid))
    t = os.times()
    return Snapshot(time.monotonic(), cpus, steal, tasks, server, loadgen, t.user + t.system)


def busy_pct(a: Snapshot, b: Snapshot) -> dict[int, float]:
    """How busy each CPU was between two snapshots, in percent."""
    pct = {}
    for cpu, (busy, total) in b.cpus.items():
        b0, t0 = a.cpus.get(cpu, (busy, total))
        pct[cpu] = 100.0 * (busy - b0) / (total - t0) if total > t0 else 0.0
    return pct


def steal_pct(a: Snapshot, b: Snapshot) -> dict[int, float]:
    """Per CPU, the share of time a virtual machine's host gave to others, in percent."""
    pct = {}
    for cpu, (_, total) in b.cpus.items():
        t0 = a.cpus.get(cpu, (0, total))[1]
        pct[cpu] = (
            100.0 * (b.steal[cpu] - a.steal.get(cpu, 0)) / (total - t0) if total > t0 else 0.0
        )
    return pct


def foreign_pct(a: Snapshot, b: Snapshot) -> float | None:
    """CPU used by anything but the server, the load generator and us, in % of one CPU.

    Another busy process on this machine makes a run meaningless; this is how
    a run notices. (Interrupt and softirq time is not counted: it is ours.)
    """
    if a.server is None or b.server is None or a.loadgen is None or b.loadgen is None:
        return None
    ours = sum(b.server) - sum(a.server) + b.loadgen - a.loadgen + (b.own - a.own) * CLK_TCK
    wall = (b.at - a.at) * CLK_TCK
    return max(0.0, 100.0 * (b.tasks - a.tasks - ours) / wall) if wall > 0 else None


def foreign_now(seconds: float = 0.5) -> tuple[float, float]:
    """Over the next ``seconds``: the CPU every task but this one used (in % of one CPU),
    and the most any CPU lost to the virtual machine's host (steal, in %)."""
    a = snapshot(None, None)
    time.sleep(seconds)
    b = snapshot(None, None)
    wall = (b.at - a.at) * CLK_TCK
    foreign = max(0.0, 100.0 * (b.tasks - a.tasks - (b.own - a.own) * CLK_TCK) / wall)
    return foreign, max(steal_pct(a, b).values(), default=0.0)


# What Linux does to a receive queue its reader leaves full (bench/stall.py):
# PruneCalled counts the times it had to make room, TCPRcvCollapsed the
# packets it copied together to do so.
TCP_COUNTERS = ("PruneCalled", "TCPRcvCollapsed", "RcvPruned")


def tcp_counters(since: dict[str, int] | None = None) -> dict[str, int]:
    """The machine's TCP_COUNTERS from /proc/net/netstat, or how much each grew ``since``."""
    now: dict[str, int] = {}
    with contextlib.suppress(OSError):
        lines = Path("/proc/net/netstat").read_text().splitlines()
        for names, values in zip(lines[::2], lines[1::2], strict=False):
            if names.startswith("TcpExt:"):
                table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
                now = {k: int(table[k]) for k in TCP_COUNTERS if k in table}
    if since is None:
        return now
    return {k: v - since.get(k, v) for k, v in now.items()}


def status_kib(pid: int, key: str) -> int:
    """A ``kB`` line of /proc/PID/status, e.g. VmRSS or VmHWM."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Registry:
    """Every process started, so that each one is stopped whatever happens."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[subprocess.Popen[Any]] = []
        self.started: list[int] = []  # every pid ever started, for the record
        self._logs: list[IO[Any]] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        stdout_pipe: bool = False,
        cwd: Path | None = None,
    ) -> subprocess.Popen[str]:
        self.logdir.mkdir(parents=True, exist_ok=True)
        log = open(self.logdir / f"{name}.log", "w")  # noqa: SIM115 - closed in stop_all
        self._logs.append(log)
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if stdout_pipe else subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else log,
            stderr=log,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self.procs.append(proc)
        self.started.append(proc.pid)
        return proc

    def stop(self, proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
        """SIGTERM its process group, then SIGKILL what is left after ``grace``."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(grace)
        # The group may outlive its leader (a child it started): end it too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(2.0)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.procs)):
            self.stop(proc, grace=2.0)
        for log in self._logs:
            log.close()
        self._logs.clear()


@contextlib.contextmanager
def stopping_on_signals(registry: Registry) -> Iterator[Registry]:
    """Stop every registered process on exit, error, SIGINT or SIGTERM."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield registry
    finally:
        registry.stop_all()
        for sig, handler in old.items():
            signal.signal(sig, handler)


def wait_ready(port: int, proc: subprocess.Popen[Any], timeout: float, path: str | None) -> None:
    """Until the server accepts connections (and ``path`` answers 200, if given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        try:
            if path is None:
                with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                    return
            else:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2.0) as r:
                    if r.status == 200:
                        return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} not ready after {timeout} s")


def http_get(port: int, path: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        body: bytes = r.read()
        return body.decode()
