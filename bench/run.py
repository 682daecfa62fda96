"""The fan-out benchmark (issue 3): ours against three reference relays, side by side.

    python -m bench.run            # the full benchmark (what `make bench` runs)
    python -m bench.run --smoke    # every phase at a tiny scale, in seconds

Each server under test runs pinned to CPU 0 and the load generator to CPU 1:

1. fan-out: R rooms x M members, closed loop, against every target, repeated
   with the order of the targets rotating; a table of medians and one ratio
   line per reference;
2. latency: the same rooms in an open loop at one offered load for every
   target that can carry it, to compare p99 at the same load;
3. idle: N idle members joined through seat links in one process of ours,
   server memory per connection;
4. stall: one member in some rooms stops reading; the others' p99 against
   rooms of the same run whose quiet member reads, and against runs without
   a stall, ours and the websockets relay (bench/stall.py);
5. scaling: delivered/s and memory of ours at several room counts.

Everything it starts is stopped at the end, also on an error or a signal.
Results go to WORKDIR/results.json and, with --update-doc, into the figures
section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python bench/run.py
    # The repository, not bench/ (whose profile.py would shadow the standard library's).
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench import procs
from bench.fixtures import build
from bench.phases import Bench, Plan
from bench.targets import ROOT, TARGETS


def fingerprint() -> str:
    """Which server code was measured: a hash of every module of ours."""
    h = hashlib.sha256()
    for pkg in ("chatserver", "rooms", "moderation"):
        for f in sorted((ROOT / pkg).glob("*.py")):
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def py(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    def node_pkg(name: str) -> str | None:
        f = ROOT / "bench" / "node_modules" / name / "package.json"
        return str(json.loads(f.read_text())["version"]) if f.exists() else None

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu,
        "cpus": procs.cpu_count(),
        "python": platform.python_version(),
        "node": node.stdout.strip(),
        "server_code": fingerprint(),
        "packages": {
            "uvicorn": py("uvicorn"),
            "websockets": py("websockets"),
            "starlette": py("starlette"),
            "uvloop": py("uvloop"),
            "python-socketio": py("python-socketio"),
            "socket.io": node_pkg("socket.io"),
            "socket.io-client": node_pkg("socket.io-client"),
            "ws": node_pkg("ws"),
        },
    }


def parse(argv: Sequence[str] | None = None) -> tuple[Plan, argparse.Namespace]:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    ap.formatter_class = argparse.RawDescriptionHelpFormatter
    ap.add_argument("--smoke", action="store_true", help="every phase at a tiny scale")
    ap.add_argument("--rooms", type=int)
    ap.add_argument("--members", type=int, help="members per room (1 to 32)")
    ap.add_argument("--payload", type=int, help="payload bytes")
    ap.add_argument("--warmup", type=float, help="seconds before each window")
    ap.add_argument("--duration", type=float, help="measured window, seconds")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--targets", help=f"comma-separated, of: {', '.join(TARGETS)}")
    ap.add_argument("--latency-load", type=float, help="offered load, share of capacity")
    ap.add_argument("--latency-repeats", type=int)
    ap.add_argument("--idle", type=int, help="idle member connections")
    ap.add_argument("--stall-rooms", type=int)
    ap.add_argument(
        "--stall-quiet", type=int, help="rooms with a quiet member (every other one stops reading)"
    )
    ap.add_argument("--stall-duration", type=float)
    ap.add_argument("--stall-repeats", type=int)
    ap.add_argument("--scale", help="comma-separated room counts")
    ap.add_argument("--phases", help="comma-separated, of: fanout, latency, idle, stall, scale")
    ap.add_argument("--profile", type=Path, help="also profile ours with py-spy (raw output)")
    ap.add_argument("--json", type=Path, help="results file (default WORKDIR/results.json)")
    ap.add_argument("--update-doc", type=Path, help="write the figures into this markdown file")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args(argv)
    plan = Plan.smoke() if args.smoke else Plan()
    for key in (
        "rooms",
        "members",
        "payload",
        "warmup",
        "duration",
        "repeats",
        "latency_load",
        "latency_repeats",
        "idle",
        "stall_rooms",
        "stall_quiet",
        "stall_duration",
        "stall_repeats",
        "workdir",
        "profile",
    ):
        if getattr(args, key) is not None:
            setattr(plan, key, getattr(args, key))
    if args.targets:
        plan.targets = [t.strip() for t in args.targets.split(",") if t.strip()]
        unknown = [t for t in plan.targets if t not in TARGETS]
        if unknown:
            ap.error(f"unknown target {unknown[0]}; known: {', '.join(TARGETS)}")
    if args.scale:
        plan.scale = [int(x) for x in args.scale.split(",") if x.strip()]
    if args.phases:
        plan.phases = [x.strip() for x in args.phases.split(",") if x.strip()]
        known = ("fanout", "latency", "idle", "stall", "scale")
        unknown = [x for x in plan.phases if x not in known]
        if unknown:
            ap.error(f"unknown phase {unknown[0]}; known: {', '.join(known)}")
    plan.stall_quiet = min(plan.stall_quiet, plan.stall_rooms)
    if not 1 <= plan.members <= 32:
        ap.error("members per room: 1 to 32 (a group's capacity)")
    return plan, args


def main(argv: Sequence[str] | None = None) -> int:
    plan, args = parse(argv)
    started = time.monotonic()
    procs.pin_self(procs.LOADGEN_CPU)
    rooms_needed = max(
        [plan.rooms, plan.stall_rooms, *plan.scale, math.ceil(plan.idle / plan.members)]
    )
    nofile = procs.raise_nofile(rooms_needed * (plan.members + 1) + 1024)
    env = environment()
    print(
        f"fan-out benchmark: {env['cpus']} CPUs ({env['cpu']}); server on CPU "
        f"{procs.SERVER_CPU}, load generator on CPU {procs.LOADGEN_CPU}; python {env['python']}, "
        f"node {env['node']}; server code {env['server_code']}; open files {nofile}",
        flush=True,
    )
    registry = procs.Registry(plan.workdir / "logs")
    results: dict[str, Any] = {"environment": env, "plan": plan.as_dict()}
    with procs.stopping_on_signals(registry):
        fixture = asyncio.run(build(plan.workdir / "data", rooms_needed, plan.members))
        bench = Bench(plan, registry, fixture)
        phases = {
            "fanout": bench.fanout,
            "latency": bench.latency,
            "idle": bench.idle,
            "stall": bench.stall,
            "scale": bench.scaling,
        }
        for phase in plan.phases:
            phases[phase]()
        if plan.profile is not None:
            bench.profile(plan.profile)
        results.update(bench.results)
        results["disturbed_runs"] = bench.disturbed
        results["retried_seconds"] = round(bench.retry_seconds, 1)
        results["waited_for_quiet_seconds"] = round(bench.waited_seconds, 1)
    results["processes_started"] = registry.started
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)
    out = args.json or plan.workdir / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.update_doc is not None:
        from bench.docs import update_figures

        update_figures(args.update_doc, results)
        print(f"\nfigures written into {args.update_doc}")
    if bench.disturbed:
        print(
            f"\nwarning: {bench.disturbed} run(s) were disturbed (other processes, or the "
            f"virtual machine's host: steal); read their figures with care"
        )
    print(f"\nbenchmark done in {results['elapsed_seconds']:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
