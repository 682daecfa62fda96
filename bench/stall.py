"""The stall phase: does a member who stops reading cost the rest of the room?

Issue 3's target: a stalled member changes the others' p99 by less than 10%.
The others' p99 at half our capacity is a few milliseconds, and on this
shared virtual machine one run's p99 moves by more than half of that from
one run to the next: a scheduler hiccup of a few milliseconds, in the server,
the load generator or the host, lands in the top 1% of a window. One run's
figure against another's cannot resolve 10%. So the phase measures it twice:

* **Within one run (the verdict).** Of the rooms with a quiet member (it
  sends nothing), every other one's quiet member stops reading and the rest
  read. The others in a room with a stalled member and the others in a room
  just like it whose quiet member reads are measured over the same seconds,
  on the same server, through the same hiccups; what differs between them is
  the stalled member. The verdict is the median over the runs of that change.
* **Between runs (the whole server).** Each repeat is a pair of runs back to
  back, the quiet members all reading in one and half of them stalled in the
  other (the order alternating). The median of the pairs' changes says what
  a stall costs everyone, including rooms without one, within the noise this
  machine allows; the spread of the pairs shows that noise. Server CPU per
  delivered frame, the steadiest figure, is in the table for both.
* **The first seconds.** Both take the others' p99 over the first
  ``stall_early`` seconds of the window, while the stalled member is still
  connected and its queue fills; once our server closes it (4008) its room
  has one recipient fewer, which would flatter the figure.
* **The same stall against the reference.** The raw ``websockets`` broadcast
  relay gets the same runs in the same rounds, at the same offered load. It
  never closes a laggard: its figures are what a stalled reader costs a
  Python relay on this machine with nothing done about it.
* **The kernel's part.** On loopback the stalled reader's receive queue is on
  this machine too, and Linux compacts a full receive queue (``PruneCalled``,
  ``TCPRcvCollapsed`` in /proc/net/netstat) in the softirq of the sending
  CPU, which is the server's; on a real network that work falls on the
  member's own device. Each run records those counters.
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


def offered_load(bench: Bench, targets: Sequence[Target]) -> int | None:
    """``stall_load`` of the lower fan-out capacity of ``targets``; None without that phase."""
    rows = bench.results.get("fanout", {}).get("rows", [])
    capacity = [r["delivered_per_s"] for r in rows if r["target"] in {t.key for t in targets}]
    return report.offered_load(min(capacity), bench.plan.stall_load) if capacity else None


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
    extra = {"reads": base, "stops reading": [*base, "--stall-half"]}
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
    changes: dict[str, list[float | None]] = {}
    within: dict[str, list[float | None]] = {}
    for target in targets:
        tpairs = pairs[target.key]
        rows += [_row(v, [pr[v] for pr in tpairs], p.stall_quiet) for v in VARIANTS]
        changes[target.key] = [_pair_change(pr) for pr in tpairs]
        within[target.key] = [_within_change(pr["stops reading"]) for pr in tpairs]
        lines.append(line(target, within[target.key], changes[target.key], rows[-2:], p))
    result = {
        "rows": rows,
        "offered_per_s": offered,
        "within_changes_pct": within,
        "pair_changes_pct": changes,
        "p99_change_pct": report.median_known(within["safespace"]),
        "lines": lines,
    }
    bench.results["stall"] = result
    print(f"\n{caption(p, offered)}")
    print(report.text_table(cells(rows)))
    print("\n".join(lines))


def _early_p99(run: report.Run, room: str | None = None) -> float | None:
    """The others' p99 over the first seconds: of every room, or of one kind of room."""
    early = run.extra["loadgen"].get("early") or {}
    if room is not None:
        early = early.get("by_room", {}).get(room) or {}
    p99: float | None = early.get("p99_ms")
    return p99


def _change(before: float | None, after: float | None) -> float | None:
    """From ``before`` to ``after`` in %; None unless both were measured."""
    if not before or after is None:
        return None
    return (after - before) / before * 100


def _within_change(run: report.Run) -> float | None:
    """In one run: the others in the stalled rooms against those in the control rooms, in %."""
    return _change(_early_p99(run, "control"), _early_p99(run, "stalled"))


def _pair_change(pair: Mapping[str, report.Run]) -> float | None:
    """The others' p99 over the first seconds: how much the stall changed it, in %."""
    return _change(_early_p99(pair["reads"]), _early_p99(pair["stops reading"]))


def _row(variant: str, runs: Sequence[report.Run], quiet: int) -> dict[str, Any]:
    row = report.median_row(runs)
    early = [_early_p99(r) for r in runs]
    prunes = [r.extra.get("kernel", {}).get("PruneCalled") for r in runs]
    row.update(
        variant=variant,
        quiet=quiet,
        early_p99_ms=report.median_known(early),
        early_p99_runs=early,
        stalled_rooms_p99_ms=report.median_known(_early_p99(r, "stalled") for r in runs),
        control_rooms_p99_ms=report.median_known(_early_p99(r, "control") for r in runs),
        kicked=statistics.median(r.extra.get("lagging_closes", 0.0) for r in runs),
        first_kick_s=report.median_known(r.extra.get("first_lagging_close_s") for r in runs),
        prunes=statistics.median(x or 0 for x in prunes),
        slices=[r.extra["loadgen"].get("slices") for r in runs],
    )
    return row


def line(
    target: Target,
    within: Sequence[float | None],
    pairs: Sequence[float | None],
    rows: Sequence[Mapping[str, Any]],
    p: Plan,
) -> str:
    """One line per target: the within-run verdict, then the pairs' change and its spread."""
    known = sorted(c for c in within if c is not None)
    if not known:
        return f"stalled member, {target.label}: not measured"
    change = statistics.median(known)
    stalled = rows[1]
    kick = stalled.get("first_kick_s")
    when = "" if kick is None else f"; first 4008 close at {kick:.1f} s"
    verdict = (
        f"target < {report.STALL_PCT_TARGET:g}%: "
        f"{'met' if abs(change) < report.STALL_PCT_TARGET else 'MISSED'}"
        if target.ours
        else "the reference, no target"
    )
    spread = ", ".join(f"{c:+.0f}%" for c in known)
    across = sorted(c for c in pairs if c is not None)
    between = report.median_known(across)
    return (
        f"stalled member, {target.label}: the others' p99 over the first {p.stall_early:g} s, "
        f"rooms with a stalled member against rooms with a reading one, in the same run: "
        f"{change:+.1f}% (median of {len(known)} run{'s' if len(known) > 1 else ''}: {spread}; "
        f"{report.num(stalled.get('control_rooms_p99_ms'), 2)} -> "
        f"{report.num(stalled.get('stalled_rooms_p99_ms'), 2)} ms{when}; {verdict}). "
        f"Between runs, every room: {'n/a' if between is None else f'{between:+.1f}%'} "
        f"(pairs: {', '.join(f'{c:+.0f}%' for c in across)})"
    )


def cells(rows: Sequence[Mapping[str, Any]]) -> report.Cells:
    headers = (
        "target",
        "quiet member",
        "delivered/s",
        "others' p50 ms",
        "others' p99 ms",
        "first s: p99 ms",
        "with a stalled member",
        "with a reading one",
        "server CPU us/frame",
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
            report.num(r.get("stalled_rooms_p99_ms"), 2),
            report.num(r.get("control_rooms_p99_ms"), 2),
            report.num(r.get("cpu_us_per_frame"), 1),
            report.num(r.get("prunes"), 0),
            (
                f"{r['kicked']:.0f} of {stalled_count(r) if r['variant'] == 'stops reading' else 0}"
                if TARGETS[r["target"]].ours
                else "never"
            ),
            report.num(r["first_kick_s"], 1),
        ]
        for r in rows
    ]
    return headers, body


def stalled_count(row: Mapping[str, Any]) -> int:
    """How many quiet members stop reading: every other one, the first included."""
    return math.ceil(int(row["quiet"]) / 2)


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
        f"rooms one member sends nothing; it reads in all of them, or (stops reading) in every "
        f"other one it stops reading from the start; {d['stall_repeats']} pair(s) of "
        f"{d['stall_duration']:g} s windows per target, the order alternating. The others' p99 "
        f"over the first {d.get('stall_early', d['stall_duration']):g} s, of every room and, "
        f"in the runs with stalls, of the rooms with a stalled member and of those with a "
        f"reading quiet one"
    )
