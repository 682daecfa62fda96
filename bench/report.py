"""Medians, and every table and ratio line the benchmark prints (as text or markdown).

Each phase keeps its figures as plain data (what goes into results.json);
the functions here turn that data into cells, and the cells into a text table
for the terminal or a markdown table for docs/performance.md, so both always
show the same figures.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

Cells = tuple[Sequence[str], list[list[str]]]

# The targets, per reference: (least delivered/s ratio, most p99 ratio).
TARGETS: dict[str, tuple[float | None, float | None]] = {
    "websockets": (0.9, None),
    "socketio-node": (1.2, 1.0),
}
IDLE_KIB_TARGET = 20.0
STALL_PCT_TARGET = 10.0


@dataclass
class Run:
    """One measured run against one target."""

    target: str
    label: str
    delivered_per_s: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_frame: float | None
    server_cpu_pct: float | None
    peak_mib: float
    rss_mib: float
    loadgen_cpu_pct: float
    connections: int
    errors: int
    extra: dict[str, Any] = field(default_factory=dict)


def median_known(values: Iterable[float | None]) -> float | None:
    """The median of the values that were measured; None when none was."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def offered_load(capacity: float, share: float) -> int:
    """``share`` of ``capacity`` (delivered/s), rounded down to a step, for an open-loop phase."""
    step = 1000 if capacity >= 4000 else 100
    return max(step, math.floor(capacity * share / step) * step)


def median_row(runs: Sequence[Run]) -> dict[str, Any]:
    """The median of every figure over ``runs`` (each figure on its own)."""
    first = runs[0]
    row: dict[str, Any] = {"target": first.target, "label": first.label, "runs": len(runs)}
    for key in (
        "delivered_per_s",
        "p50_ms",
        "p99_ms",
        "cpu_us_per_frame",
        "server_cpu_pct",
        "peak_mib",
        "rss_mib",
        "loadgen_cpu_pct",
    ):
        row[key] = median_known(getattr(r, key) for r in runs)
    row["delivered_range"] = [
        min(r.delivered_per_s for r in runs),
        max(r.delivered_per_s for r in runs),
    ]
    row["errors"] = sum(r.errors for r in runs)
    return row


def run_dict(run: Run) -> dict[str, Any]:
    return asdict(run)


def num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


# ---- cells ------------------------------------------------------------------------


def fanout_cells(rows: Sequence[Mapping[str, Any]]) -> Cells:
    headers = (
        "target",
        "delivered/s",
        "range",
        "p50 ms",
        "p99 ms",
        "server CPU us/frame",
        "server CPU %",
        "peak MiB",
        "RSS MiB",
        "loadgen CPU %",
    )
    body = [
        [
            r["label"],
            num(r["delivered_per_s"], 0),
            f"{r['delivered_range'][0] / 1000:.1f}k-{r['delivered_range'][1] / 1000:.1f}k",
            num(r["p50_ms"], 1),
            num(r["p99_ms"], 1),
            num(r["cpu_us_per_frame"], 1),
            num(r["server_cpu_pct"], 0),
            num(r["peak_mib"], 1),
            num(r["rss_mib"], 1),
            num(r["loadgen_cpu_pct"], 0),
        ]
        for r in rows
    ]
    return headers, body


def ratio_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per reference: ours / reference for delivered/s and for p99."""
    ours = next((r for r in rows if r["target"] == "safespace"), None)
    if ours is None:
        return []
    lines = []
    for ref in rows:
        if ref is ours:
            continue
        d = ours["delivered_per_s"] / ref["delivered_per_s"] if ref["delivered_per_s"] else 0.0
        p = ours["p99_ms"] / ref["p99_ms"] if ref["p99_ms"] else float("nan")
        want_d, want_p = TARGETS.get(ref["target"], (None, None))
        d_text = f"delivered/s {d:.2f}x"
        if want_d is not None:
            d_text += f" (target >= {want_d}x: {_verdict(d >= want_d)})"
        p_text = f"p99 {p:.2f}x"
        if want_p is not None:
            p_text += f" (target <= {want_p}x: {_verdict(p <= want_p)})"
        lines.append(f"ratio ours/{ref['label']}: {d_text}, {p_text}")
    return lines


def latency_cells(rows: Sequence[Mapping[str, Any]]) -> Cells:
    headers = ("target", "delivered/s", "p50 ms", "p99 ms", "server CPU %", "server CPU us/frame")
    body = [
        [
            r["label"],
            num(r["delivered_per_s"], 0),
            num(r["p50_ms"], 2),
            num(r["p99_ms"], 2),
            num(r["server_cpu_pct"], 0),
            num(r["cpu_us_per_frame"], 1),
        ]
        for r in rows
    ]
    return headers, body


def latency_lines(rows: Sequence[Mapping[str, Any]], offered: float) -> list[str]:
    ours = next((r for r in rows if r["target"] == "safespace"), None)
    if ours is None:
        return []
    lines = []
    for r in rows:
        if r is ours:
            continue
        ratio = ours["p99_ms"] / r["p99_ms"] if r["p99_ms"] else float("nan")
        want = TARGETS.get(r["target"], (None, None))[1]
        note = "" if want is None else f" (target <= {want}x: {_verdict(ratio <= want)})"
        lines.append(f"latency ratio ours/{r['label']} at {offered:,.0f}/s: p99 {ratio:.2f}x{note}")
    return lines


def idle_cells(idle: Mapping[str, Any]) -> Cells:
    headers = ("connections", "rooms", "join s", "RSS before MiB", "RSS with them MiB", "KiB each")
    body = [
        [
            str(idle["connections"]),
            str(idle["rooms"]),
            num(idle["join_seconds"], 1),
            num(idle["rss_before_mib"], 1),
            num(idle["rss_with_connections_mib"], 1),
            num(idle["kib_per_connection"], 1),
        ]
    ]
    return headers, body


def idle_line(idle: Mapping[str, Any]) -> str:
    kib = idle["kib_per_connection"]
    return (
        f"idle: {idle['connections']} member connections, {kib:.1f} KiB of server memory each "
        f"({idle['kib_per_connection_after_rooms']:.1f} KiB not counting the rooms' own state; "
        f"target <= {IDLE_KIB_TARGET:g} KiB: {_verdict(kib <= IDLE_KIB_TARGET)})"
    )


def scaling_cells(rows: Sequence[Mapping[str, Any]]) -> Cells:
    headers = (
        "rooms",
        "connections",
        "delivered/s",
        "p50 ms",
        "p99 ms",
        "server CPU us/frame",
        "RSS MiB",
        "peak MiB",
        "KiB/connection",
        "join s",
        "loadgen CPU %",
    )
    body = [
        [
            str(r["rooms"]),
            str(r["connections"]),
            num(r["delivered_per_s"], 0),
            num(r["p50_ms"], 1),
            num(r["p99_ms"], 1),
            num(r["cpu_us_per_frame"], 1),
            num(r["rss_mib"], 1),
            num(r["peak_mib"], 1),
            num(r["kib_per_connection"], 1),
            num(r["connect_seconds"], 1),
            num(r["loadgen_cpu_pct"], 0),
        ]
        for r in rows
    ]
    return headers, body


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


# ---- renderers -------------------------------------------------------------------


def text_table(cells: Cells) -> str:
    """A plain-text table, first column left-aligned, the others right-aligned."""
    headers, rows = cells
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(row: Sequence[str]) -> str:
        out = [row[0].ljust(widths[0])]
        out += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(cells: Cells) -> str:
    headers, rows = cells
    out = ["| " + " | ".join(headers) + " |"]
    out.append("|" + "|".join([":---", *["---:"] * (len(headers) - 1)]) + "|")
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)
