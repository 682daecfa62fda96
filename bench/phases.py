"""The benchmark's phases: fan-out, latency, idle, stall, scaling (and a profile).

Each phase runs fresh servers (one per run), prints its table, and keeps its
figures as plain data in ``Bench.results`` for results.json and the docs.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import procs, report, stall
from bench.fixtures import Fixture
from bench.targets import ROOT, TARGETS, Server, Target, run_loadgen, send_line

LAGGING = 'safespace_closes_total{code="4008"}'


@dataclass
class Plan:
    rooms: int = 100
    members: int = 8
    payload: int = 200
    warmup: float = 2.0
    duration: float = 5.0
    repeats: int = 3
    targets: list[str] = field(default_factory=lambda: [k for k in TARGETS if k != "baseline"])
    latency_load: float = 0.5
    latency_duration: float = 5.0
    latency_repeats: int = 3
    idle: int = 10_000
    stall_rooms: int = 6
    stall_quiet: int = 4  # half of them stall (bench/stall.py)
    stall_load: float = 0.5
    stall_duration: float = 6.0
    stall_slice: float = 1.0
    # The verdict's window: the first seconds, while the stalled member is
    # still connected and its queue fills. Later the server has closed it
    # (4008), its room has one recipient fewer, and the others' p99 drops.
    stall_early: float = 5.0
    stall_repeats: int = 5  # pairs of runs per target (bench/stall.py)
    scale: list[int] = field(default_factory=lambda: [100, 500, 2000])
    phases: list[str] = field(
        default_factory=lambda: ["fanout", "latency", "idle", "stall", "scale"]
    )
    profile: Path | None = None
    workdir: Path = ROOT / "var" / "bench"
    concurrency: int = 64
    max_foreign_pct: float = 15.0  # other processes' CPU in a window, % of one CPU
    max_steal_pct: float = 10.0  # CPU time the VM's host took from either CPU, %
    retries: int = 2  # per run
    # Per benchmark, so that a busy machine cannot make it run for ever:
    retry_budget_s: float = 45.0
    quiet_wait_budget_s: float = 30.0

    @classmethod
    def smoke(cls) -> Plan:
        return cls(
            rooms=3,
            members=4,
            warmup=0.3,
            duration=1.0,
            repeats=1,
            latency_duration=1.0,
            latency_repeats=1,
            idle=200,
            stall_rooms=4,
            stall_quiet=2,
            stall_duration=1.0,
            stall_slice=0.5,
            stall_early=0.5,
            stall_repeats=1,
            scale=[3, 6],
            retries=0,
            quiet_wait_budget_s=0.0,
            workdir=ROOT / "var" / "bench-smoke",
        )

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


class Bench:
    def __init__(self, plan: Plan, registry: procs.Registry, fixture: Fixture) -> None:
        self.plan = plan
        self.registry = registry
        self.fixture = fixture
        self.seq = 0
        self.results: dict[str, Any] = {}
        self.fanout_runs: dict[str, list[report.Run]] = {}
        self.disturbed = 0  # runs kept although other processes took CPU from them
        self.retry_seconds = 0.0
        self.waited_seconds = 0.0
        self._told_waiting = False

    def _name(self, what: str) -> str:
        self.seq += 1
        return f"{self.seq:03d}-{what}"

    # ---- one run ----------------------------------------------------------------------

    def run(
        self,
        target: Target,
        rooms: int,
        *,
        extra: Sequence[str] = (),
        duration: float | None = None,
        watch_lagging: bool = False,
        profile: Path | None = None,
    ) -> report.Run:
        """One run; again (a few times at most) while other processes disturb it."""
        p = self.plan
        for attempt in range(p.retries + 1):
            self._wait_quiet()
            started = time.monotonic()
            run = self._run_once(
                target,
                rooms,
                extra=extra,
                duration=duration,
                watch_lagging=watch_lagging,
                profile=profile,
            )
            run.extra["attempts"] = attempt + 1
            why = self._disturbance(run)
            if profile is not None or why is None:
                return run
            spent = time.monotonic() - started
            last = attempt == p.retries or self.retry_seconds + spent > p.retry_budget_s
            print(
                f"  ({target.label}: {why} during the window; "
                f"{'kept, marked disturbed' if last else 'again'})",
                flush=True,
            )
            if last:
                break
            self.retry_seconds += spent
        run.extra["disturbed"] = True
        self.disturbed += 1
        return run

    def _disturbance(self, run: report.Run) -> str | None:
        """Why the run's figures are not the servers' own, or None."""
        foreign = run.extra["foreign_cpu_pct"]
        if foreign is not None and foreign > self.plan.max_foreign_pct:
            return f"other processes took {foreign:.0f}% of a CPU"
        steal = max(run.extra["steal_pct"].values(), default=0.0)
        if steal > self.plan.max_steal_pct:
            return f"the virtual machine's host took {steal:.0f}% of a CPU (steal)"
        return None

    def _wait_quiet(self) -> None:
        """Before a run, wait (within a budget) until other processes leave the CPUs alone."""
        p = self.plan
        while self.waited_seconds < p.quiet_wait_budget_s:
            started = time.monotonic()
            foreign, steal = procs.foreign_now(0.5)
            if foreign <= p.max_foreign_pct and steal <= p.max_steal_pct:
                return
            self.waited_seconds += time.monotonic() - started
            if not self._told_waiting:
                print(
                    f"  (other processes use {foreign:.0f}% of a CPU, steal {steal:.0f}%: waiting)",
                    flush=True,
                )
                self._told_waiting = True

    def _run_once(
        self,
        target: Target,
        rooms: int,
        *,
        extra: Sequence[str],
        duration: float | None,
        watch_lagging: bool,
        profile: Path | None,
    ) -> report.Run:
        """Start ``target``, load it with ``rooms`` x members, measure, stop it."""
        p = self.plan
        duration = p.duration if duration is None else duration
        name = self._name(f"{target.key}-{rooms}r")
        marks: dict[str, Any] = {}
        stop_watch = threading.Event()
        pyspy: list[subprocess.Popen[str]] = []
        with Server(self.registry, target, self.fixture, f"{name}-server") as srv:
            marks["rss_ready_kib"] = srv.rss_kib()

            def hook(ev: dict[str, Any], proc: subprocess.Popen[str]) -> None:
                kind = ev.get("event")
                if kind == "connected":
                    marks["rss_connected_kib"] = srv.rss_kib()
                elif kind == "window_end":
                    marks["rss_window_end_kib"] = srv.rss_kib()
                elif kind == "window_start":
                    if watch_lagging:
                        threading.Thread(
                            target=_watch_lagging, args=(srv, stop_watch, marks), daemon=True
                        ).start()
                    if profile is not None:
                        pyspy.append(_start_pyspy(self.registry, srv.pid, duration, profile))

            args = [
                *("--mode", target.mode, "--url", f"http://127.0.0.1:{srv.port}"),
                *("--rooms", str(rooms), "--members", str(p.members)),
                *("--payload", str(p.payload), "--warmup", str(p.warmup)),
                *("--duration", str(duration), "--concurrency", str(p.concurrency)),
                *extra,
            ]
            if target.ours:
                args += ["--setup", str(self.fixture.setup_path)]
            budget = 60 + rooms * p.members * 0.02 + p.warmup + duration
            args += ["--deadline", str(int(budget))]
            kernel = procs.tcp_counters()
            try:
                lg = run_loadgen(self.registry, f"{name}-loadgen", args, srv.pid, budget + 15, hook)
            finally:
                stop_watch.set()
            kernel = procs.tcp_counters(since=kernel)
            for spy in pyspy:
                try:
                    spy.wait(duration + 15)
                finally:
                    self.registry.stop(spy)
            marks["peak_kib"] = srv.hwm_kib()
            metrics = srv.metrics()
        res = lg.result
        cpu = lg.server_cpu_seconds
        delivered = int(res["delivered"])
        connections = int(res["connections"])
        window = float(res["window_seconds"])
        rss_gain = marks.get("rss_connected_kib", marks["rss_ready_kib"]) - marks["rss_ready_kib"]
        run = report.Run(
            target=target.key,
            label=target.label,
            delivered_per_s=float(res["delivered_per_s"]),
            p50_ms=float(res["p50_ms"] or 0.0),
            p99_ms=float(res["p99_ms"] or 0.0),
            cpu_us_per_frame=(cpu * 1e6 / delivered) if cpu is not None and delivered else None,
            server_cpu_pct=(cpu * 100 / window) if cpu is not None and window else None,
            peak_mib=marks["peak_kib"] / 1024,
            rss_mib=marks.get("rss_window_end_kib", 0) / 1024,
            loadgen_cpu_pct=float(res["loadgen_cpu_pct"] or 0.0),
            connections=connections,
            errors=int(res["errors"]),
            extra={
                "rooms": rooms,
                "server_cpu_seconds": cpu,
                "server_system_seconds": lg.server_system_seconds,
                "cpus_busy_pct": lg.cpu_busy_pct,
                "steal_pct": lg.steal_pct,
                "foreign_cpu_pct": lg.foreign_cpu_pct,
                "connect_seconds": res.get("connect_seconds"),
                "kib_per_connection": rss_gain / connections if connections else None,
                "lagging_closes": metrics.get(LAGGING, 0.0),
                "first_lagging_close_s": marks.get("first_lagging_s"),
                "kernel": kernel,
                "loadgen": res,
            },
        )
        if connections < rooms * p.members:
            raise RuntimeError(f"{name}: only {connections} of {rooms * p.members} joined")
        return run

    def _progress(self, prefix: str, run: report.Run) -> None:
        busy = run.extra["cpus_busy_pct"]
        cpus = " / ".join(f"{v:.0f}%" for _, v in sorted(busy.items())) or "n/a"
        steal = " / ".join(f"{v:.0f}%" for _, v in sorted(run.extra["steal_pct"].items()))
        sys_s = run.extra["server_system_seconds"]
        window = run.extra["loadgen"]["window_seconds"]
        sys_pct = report.num(100 * sys_s / window if sys_s is not None and window else None, 0)
        print(
            f"  {prefix}: {run.delivered_per_s:,.0f} delivered/s, p50 {run.p50_ms:.1f} ms, "
            f"p99 {run.p99_ms:.1f} ms; server CPU {report.num(run.server_cpu_pct, 0)}% "
            f"(system {sys_pct}%), "
            f"loadgen CPU {run.loadgen_cpu_pct:.0f}%, CPUs busy {cpus}, "
            f"steal {steal or 'n/a'}, others {report.num(run.extra['foreign_cpu_pct'], 0)}%",
            flush=True,
        )
        if run.loadgen_cpu_pct > 90:
            print("  warning: the load generator was near its CPU's limit", flush=True)

    def _repeat(
        self,
        targets: Sequence[Target],
        repeats: int,
        rooms: int,
        *,
        extra: Sequence[str] = (),
        duration: float | None = None,
    ) -> dict[str, list[report.Run]]:
        """Every target ``repeats`` times, the order rotating (and reversing) each round."""
        runs: dict[str, list[report.Run]] = {t.key: [] for t in targets}
        for i in range(repeats):
            order = list(targets[i % len(targets) :]) + list(targets[: i % len(targets)])
            if i % 2:
                order.reverse()
            for t in order:
                run = self.run(t, rooms, extra=extra, duration=duration)
                runs[t.key].append(run)
                self._progress(f"run {i + 1}/{repeats} {t.label}", run)
        return runs

    # ---- phases -------------------------------------------------------------------------

    def fanout(self) -> None:
        p = self.plan
        targets = [TARGETS[k] for k in p.targets]
        print(f"\n== fan-out: {p.rooms} rooms x {p.members} members, closed loop ==", flush=True)
        runs = self._repeat(targets, p.repeats, p.rooms)
        self.fanout_runs = runs
        rows = [report.median_row(runs[t.key]) for t in targets]
        ratios = report.ratio_lines(rows)
        print(f"\n{fanout_caption(p)}")
        print(report.text_table(report.fanout_cells(rows)))
        print("\n".join(ratios))
        self.results["fanout"] = {
            "rows": rows,
            "ratios": ratios,
            "runs": {k: [report.run_dict(r) for r in v] for k, v in runs.items()},
        }

    def latency(self) -> None:
        """Open loop, one offered load for all: the p99 comparison at the same load."""
        p = self.plan
        fan = self.results.get("fanout")
        if fan is None:
            print("\n(latency needs the fan-out phase; skipped)")
            return
        capacity = {r["target"]: r["delivered_per_s"] for r in fan["rows"]}
        pair = [capacity[k] for k in ("safespace", "socketio-node") if k in capacity]
        offered = report.offered_load(min(pair or list(capacity.values())), p.latency_load)
        rate = offered / (p.rooms * p.members * p.members)  # messages/s per member
        able = [k for k in capacity if capacity[k] >= 1.25 * offered]
        skipped = [TARGETS[k].label for k in capacity if k not in able]
        print(
            f"\n== latency: open loop, {offered:,} delivered/s offered to each "
            f"({rate:.3f} messages/s per member) ==",
            flush=True,
        )
        targets = [TARGETS[k] for k in able]
        runs = self._repeat(
            targets,
            p.latency_repeats,
            p.rooms,
            extra=["--rate", f"{rate:.6f}"],
            duration=p.latency_duration,
        )
        rows = [report.median_row(runs[t.key]) for t in targets]
        lines = report.latency_lines(rows, offered)
        if skipped:
            lines.append(f"not run (capacity below 1.25x the offered load): {', '.join(skipped)}")
        self.results["latency"] = {
            "offered_per_s": offered,
            "rate_per_member": rate,
            "rows": rows,
            "lines": lines,
            "runs": {k: [report.run_dict(r) for r in v] for k, v in runs.items()},
        }
        print(f"\n{latency_caption(p, self.results['latency'])}")
        print(report.text_table(report.latency_cells(rows)))
        print("\n".join(lines))

    def idle(self) -> None:
        p = self.plan
        rooms = math.ceil(p.idle / p.members)
        n = rooms * p.members
        print(f"\n== idle: {n} member connections in {rooms} rooms ==", flush=True)
        marks: dict[str, Any] = {}
        name = self._name(f"idle-{n}")
        with Server(self.registry, TARGETS["safespace"], self.fixture, f"{name}-server") as srv:
            marks["rss_ready_kib"] = srv.rss_kib()

            def hook(ev: dict[str, Any], proc: subprocess.Popen[str]) -> None:
                kind = ev.get("event")
                if kind == "rooms_open":
                    marks["rss_rooms_kib"] = srv.rss_kib()
                    send_line(proc)
                elif kind == "ready":
                    time.sleep(1.0)  # let the last handshakes settle
                    marks["rss_connected_kib"] = srv.rss_kib()
                    marks["server_connections"] = srv.metrics().get("safespace_connections")
                    send_line(proc)

            budget = 60 + n * 0.02
            args = [
                *("--mode", "safespace", "--url", f"http://127.0.0.1:{srv.port}"),
                *("--rooms", str(rooms), "--members", str(p.members)),
                *("--setup", str(self.fixture.setup_path), "--idle", "--pause-after-open"),
                *("--hold", "120", "--concurrency", str(p.concurrency)),
                *("--deadline", str(int(budget))),
            ]
            lg = run_loadgen(self.registry, f"{name}-loadgen", args, srv.pid, budget + 15, hook)
            marks["peak_kib"] = srv.hwm_kib()
        joined = int(lg.result["connections"])
        if joined < n:
            raise RuntimeError(f"idle: only {joined} of {n} members joined")
        with_conns = marks["rss_connected_kib"]
        idle = {
            "connections": joined,
            "rooms": rooms,
            "server_connections": marks.get("server_connections"),
            "join_seconds": lg.result.get("connect_seconds"),
            "rss_before_mib": marks["rss_ready_kib"] / 1024,
            "rss_rooms_open_mib": marks["rss_rooms_kib"] / 1024,
            "rss_with_connections_mib": with_conns / 1024,
            "peak_mib": marks["peak_kib"] / 1024,
            "kib_per_connection": (with_conns - marks["rss_ready_kib"]) / joined,
            "kib_per_connection_after_rooms": (with_conns - marks["rss_rooms_kib"]) / joined,
        }
        idle["line"] = report.idle_line(idle)
        self.results["idle"] = idle
        print(report.text_table(report.idle_cells(idle)))
        print(idle["line"])

    def stall(self) -> None:
        stall.phase(self)

    def scaling(self) -> None:
        p = self.plan
        print(f"\n== scaling: {', '.join(map(str, p.scale))} rooms of {p.members} ==", flush=True)
        rows: list[dict[str, Any]] = []
        for rooms in p.scale:
            reused = self.fanout_runs.get("safespace") if rooms == p.rooms else None
            runs = reused or [self.run(TARGETS["safespace"], rooms)]
            if reused:
                print(f"  {rooms} rooms: the fan-out phase's {len(runs)} runs of ours", flush=True)
            else:
                self._progress(f"{rooms} rooms", runs[0])
            row = report.median_row(runs)
            rows.append(
                {
                    "rooms": rooms,
                    "runs": len(runs),
                    "connections": runs[0].connections,
                    **{
                        k: row[k]
                        for k in (
                            "delivered_per_s",
                            "p50_ms",
                            "p99_ms",
                            "cpu_us_per_frame",
                            "rss_mib",
                            "peak_mib",
                            "loadgen_cpu_pct",
                        )
                    },
                    "kib_per_connection": statistics.median(
                        r.extra["kib_per_connection"] for r in runs
                    ),
                    "connect_seconds": statistics.median(r.extra["connect_seconds"] for r in runs),
                }
            )
        self.results["scaling"] = rows
        print(f"\n{scaling_caption(p)}")
        print(report.text_table(report.scaling_cells(rows)))

    def profile(self, path: Path) -> None:
        print(f"\n== profile: py-spy on ours, {self.plan.rooms} rooms ==", flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        run = self.run(TARGETS["safespace"], self.plan.rooms, profile=path)
        from bench.profile import render, summarise

        s = summarise(path.read_text())
        text = render(s)
        summary = path.with_suffix(".txt")
        summary.write_text(text + "\n")
        print(f"(while profiled: {run.delivered_per_s:,.0f} delivered/s)\n{text}")

        def shares(counter: Any, n: int) -> list[list[Any]]:
            return [[name, round(100 * c / s.total, 1)] for name, c in counter.most_common(n)]

        self.results["profile"] = {
            "raw": str(path),
            "summary": str(summary),
            "samples": s.total,
            "delivered_per_s": run.delivered_per_s,
            "server_cpu_pct": run.server_cpu_pct,
            "system_pct": 100
            * (run.extra["server_system_seconds"] or 0)
            / run.extra["loadgen"]["window_seconds"],
            "activities": shares(s.self_by_activity, 10),
            "self": shares(s.self_by_func, 15),
        }


# ---- captions (shared with the docs) -------------------------------------------------


def fanout_caption(p: Plan | dict[str, Any]) -> str:
    d = p.as_dict() if isinstance(p, Plan) else p
    return (
        f"fan-out: {d['rooms']} rooms x {d['members']} members, {d['payload']}-byte payloads, "
        f"closed loop, {d['duration']:g} s windows after {d['warmup']:g} s warm-up, "
        f"medians of {d['repeats']}"
    )


def latency_caption(p: Plan | dict[str, Any], lat: dict[str, Any]) -> str:
    d = p.as_dict() if isinstance(p, Plan) else p
    return (
        f"latency at one offered load: {lat['offered_per_s']:,} delivered/s "
        f"({d['latency_load']:.0%} of the lower capacity of ours and node socket.io), "
        f"open loop ({lat['rate_per_member']:.2f} messages/s per member), "
        f"{d['latency_duration']:g} s windows, medians of {d['latency_repeats']}"
    )


def scaling_caption(p: Plan | dict[str, Any]) -> str:
    d = p.as_dict() if isinstance(p, Plan) else p
    return (
        f"scaling (ours): rooms of {d['members']}, closed loop, {d['duration']:g} s windows; "
        f"one run each, but the median of the fan-out phase's runs at {d['rooms']} rooms"
    )


def _watch_lagging(srv: Server, stop: threading.Event, marks: dict[str, Any]) -> None:
    """Poll our /metrics once a second for the first 4008 (lagging) close."""
    start = time.monotonic()
    while not stop.wait(1.0):
        try:
            if srv.metrics().get(LAGGING, 0.0) > 0 and "first_lagging_s" not in marks:
                marks["first_lagging_s"] = time.monotonic() - start
        except OSError:
            return


def _start_pyspy(
    registry: procs.Registry, pid: int, duration: float, out: Path
) -> subprocess.Popen[str]:
    exe = Path(sys.executable).parent / "py-spy"
    argv = [
        str(exe) if exe.exists() else "py-spy",
        *("record", "--pid", str(pid), "--duration", str(max(1, int(duration)))),
        *("--rate", "200", "--format", "raw", "--nonblocking", "-o", str(out)),
    ]
    return registry.start("py-spy", argv)
