"""The stall phase: does a member who stops reading cost the rest of the room?

Issue 3's target: a stalled member changes the others' p99 by less than 10%.
The others' p99 at half our capacity is a few milliseconds, and on this
shared virtual machine one run's p99 moves by more than that from one run to
the next (a scheduler hiccup of a few ms lands in the top 1% of a 3 s window).
So one number against another says little; the phase is built to tell the
stall from the noise:

* **Pairs.** Each repeat is a pair of runs back to back, the same rooms and
  load, once with the quiet member reading and once with it not reading
  (the order alternating). The verdict is the median over the pairs of the
  change within each pair, so a slow drift of the machine cancels out, and
  one disturbed run moves one pair, not the verdict.
* **The first seconds.** The others' p99 is taken over the first
  ``stall_early`` seconds of the window, while the stalled member is still
  connected and its queue fills; after our server closes it (4008) its room
  has one recipient fewer, which would flatter the figure.
* **The same stall against the reference.** The raw ``websockets`` broadcast
  relay gets the same pairs in the same rounds, at the same offered load. It
  never closes a laggard, so its figure is what a stalled reader costs a
  Python relay on this machine with nothing done about it.
* **The kernel's part.** On loopback the stalled reader's receive queue is on
  this machine too, and Linux compacts a full receive queue (``PruneCalled``,
  ``TCPRcvCollapsed`` in /proc/net/netstat) in the softirq of the sending
  CPU, which is the server's. On a real network that work falls on the
  member's own device. Each run records those counters, so a pair whose
  change comes with many prunes can be read for what it is.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bench import report
from bench.targets import TARGETS, Target

if TYPE_CHECKING:
    from bench.phases import Bench, Plan

VARIANTS = ("reads", "stops reading")
REFERENCE = "websockets"


def offered_load(bench: Bench, targets: Sequence[Target]) -> float | None:
    """``stall_load`` of the lower fan-out capacity of ``targets``; None without that phase."""
    rows = bench.results.get("fanout", {}).get("rows", [])
    capacity = [r["delivered_per_s"] for r in rows if r["target"] in {t.key for t in targets}]
    if not capacity:
        return None
    slowest = min(capacity)
    step = 1000 if slowest >= 4000 else 100
    return float(max(step, math.floor(slowest * bench.plan.stall_load / step) * step))


def phase(bench: Bench) -> None:
    p = bench.plan
    targets = [TARGETS["safespace"]]
    if REFERENCE in p.targets:
        targets.append(TARGETS[REFERENCE])
    base = [
        *("--quiet-rooms", str(p.stall_quiet), "--slice", str(p.stall_slice)),
        *("--early", str(p.stall_early)),
    ]
    # Open loop at one offered load for every target, so that the others' p99
    # compares at the same load; closed loop without the fan-out phase's figures.
    offered = offered_load(bench, targets)
    if offered is not None:
        senders = p.stall_rooms * p.members - p.stall_quiet  # the quiet ones send nothing
        base += ["--rate", f"{offered / (senders * p.members):.6f}"]
    load = "closed loop" if offered is None else f"open loop, {offered:,.0f} delivered/s"
    print(
        f"\n== stall: {p.stall_rooms} rooms x {p.members}, {load}; in {p.stall_quiet} "
        f"rooms one member stops reading; {p.stall_repeats} pairs of runs per target ==",
        flush=True,
    )
    extra = {"reads": base, "stops reading": [*base, "--stall"]}
    pairs: dict[str, list[dict[str, report.Run]]] = {t.key: [] for t in targets}
    for i in range(p.stall_repeats):
        # The targets take turns within each round, so both see the same machine.
        for target in targets if i % 2 == 0 else reversed(targets):
            order = VARIANTS if (i // 2) % 2 == 0 else tuple(reversed(VARIANTS))
            pair: dict[str, report.Run] = {}
            for v in order:
                run = bench.run(
                    target,
                    p.stall_rooms,
                    extra=extra[v],
                    duration=p.stall_duration,
                    watch_lagging=target.ours,
                )
                pair[v] = run
                bench._progress(f"pair {i + 1}/{p.stall_repeats} {target.label}, {v}", run)
            pairs[target.key].append(pair)
    rows: list[dict[str, Any]] = []
    lines: list[str] = []
    changes: dict[str, list[float]] = {}
    for target in targets:
        tpairs = pairs[target.key]
        rows += [_row(target, v, [pr[v] for pr in tpairs], p.stall_quiet) for v in VARIANTS]
        changes[target.key] = [_pair_change(pr) for pr in tpairs]
        lines.append(line(target, changes[target.key], rows[-2:], p.stall_early))
    result = {
        "rows": rows,
        "offered_per_s": offered,
        "pair_changes_pct": changes,
        "p99_change_pct": statistics.median(changes["safespace"]),
        "lines": lines,
        "line": lines[0],
    }
    bench.results["stall"] = result
    print(f"\n{caption(p, offered)}")
    print(report.text_table(cells(rows)))
    print("\n".join(lines))


def _early_p99(run: report.Run) -> float | None:
    early = run.extra["loadgen"].get("early")
    return None if early is None else early.get("p99_ms")


def _pair_change(pair: Mapping[str, report.Run]) -> float:
    """The others' p99 over the first seconds: how much the stall changed it, in %."""
    before, after = _early_p99(pair["reads"]), _early_p99(pair["stops reading"])
    if not before or after is None:
        return float("nan")
    return (after - before) / before * 100


def _row(target: Target, variant: str, runs: Sequence[report.Run], quiet: int) -> dict[str, Any]:
    row = report.median_row(runs)
    early = [_early_p99(r) for r in runs]
    known = [e for e in early if e is not None]
    firsts = [f for f in (r.extra.get("first_lagging_close_s") for r in runs) if f is not None]
    prunes = [r.extra.get("kernel", {}).get("PruneCalled") for r in runs]
    row.update(
        variant=variant,
        quiet=quiet,
        early_p99_ms=statistics.median(known) if known else None,
        early_p99_runs=early,
        kicked=statistics.median(r.extra.get("lagging_closes", 0.0) for r in runs),
        first_kick_s=statistics.median(firsts) if firsts else None,
        prunes=statistics.median(x or 0 for x in prunes),
        closes_kept=target.ours,
        slices=[r.extra["loadgen"].get("slices") for r in runs],
    )
    return row


def line(
    target: Target, changes: Sequence[float], rows: Sequence[Mapping[str, Any]], early_s: float
) -> str:
    """One verdict line per target: the median of the pairs' changes, and their spread."""
    known = sorted(c for c in changes if not math.isnan(c))
    if not known:
        return f"stalled member, {target.label}: no pair measured"
    change = statistics.median(known)
    before, after = (r.get("early_p99_ms") for r in rows)
    spread = ", ".join(f"{c:+.0f}%" for c in known)
    kick = next((r["first_kick_s"] for r in rows if r.get("first_kick_s") is not None), None)
    when = "" if kick is None else f", first 4008 close at {kick:.1f} s"
    verdict = (
        f"target < {report.STALL_PCT_TARGET:g}%: "
        f"{'met' if abs(change) < report.STALL_PCT_TARGET else 'MISSED'}"
        if target.ours
        else "the reference, no target"
    )
    return (
        f"stalled member, {target.label}: the others' p99 over the first {early_s:g} s "
        f"changes by {change:+.1f}% (median of {len(known)} pair{'s' if len(known) > 1 else ''}: "
        f"{spread}; "
        f"medians of the runs {report.num(before, 2)} -> {report.num(after, 2)} ms{when}; "
        f"{verdict})"
    )


def cells(rows: Sequence[Mapping[str, Any]]) -> report.Cells:
    headers = (
        "target",
        "quiet member",
        "delivered/s",
        "others' p50 ms",
        "others' p99 ms",
        "p99 ms, first seconds",
        "kernel prunes",
        "closed 4008",
        "first close s",
    )
    body = [
        [
            r["label"],
            r["variant"],
            report.num(r["delivered_per_s"], 0),
            report.num(r["p50_ms"], 1),
            report.num(r["p99_ms"], 1),
            report.num(r.get("early_p99_ms"), 2),
            report.num(r.get("prunes"), 0),
            (
                f"{r['kicked']:.0f} of {r['quiet'] if r['variant'] == 'stops reading' else 0}"
                if r.get("closes_kept", True)
                else "never"
            ),
            report.num(r["first_kick_s"], 1),
        ]
        for r in rows
    ]
    return headers, body


def caption(p: Plan | dict[str, Any], offered: float | None) -> str:
    d = p.as_dict() if not isinstance(p, dict) else p
    load = (
        "closed loop"
        if offered is None
        else f"open loop at {offered:,.0f} delivered/s ({d['stall_load']:.0%} of the lower "
        f"capacity of ours and the websockets relay)"
    )
    return (
        f"stall: {d['stall_rooms']} rooms x {d['members']}, {load}; in {d['stall_quiet']} "
        f"rooms one member sends nothing and either reads or stops reading (from the start); "
        f"{d['stall_repeats']} pairs of {d['stall_duration']:g} s windows per target, the order "
        f"alternating; the verdict is the median of the pairs' changes in the others' p99 "
        f"over the first {d.get('stall_early', d['stall_duration']):g} s"
    )
