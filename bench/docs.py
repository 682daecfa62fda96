"""Write the measured figures into docs/performance.md, between two markers.

    python -m bench.run --update-doc docs/performance.md     # measure, then write
    python -m bench.docs var/bench/results.json docs/performance.md   # write only

Only the text between ``<!-- figures:start -->`` and ``<!-- figures:end -->``
is replaced; the method, the profile and everything else stay as written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench import report
from bench import stall as stall_phase
from bench.phases import fanout_caption, latency_caption, scaling_caption

START = "<!-- figures:start -->"
END = "<!-- figures:end -->"


def render(results: dict[str, Any]) -> str:
    env = results["environment"]
    plan = results["plan"]
    pk = env["packages"]
    out = [
        f"Measured {env['date']} on {env['cpus']} CPUs ({env['cpu']}), server code "
        f"`{env['server_code']}` (a hash of chatserver/, rooms/, moderation/); Python "
        f"{env['python']}, uvicorn {pk['uvicorn']}, websockets {pk['websockets']}, "
        f"python-socketio {pk['python-socketio']}; Node {env['node']}, socket.io "
        f"{pk['socket.io']}. The whole run took {results['elapsed_seconds']:.0f} s.",
    ]
    disturbed = results.get("disturbed_runs", 0)
    if disturbed:
        out[0] += (
            f" **{disturbed} run(s) were disturbed** even after retries (other processes took "
            f"more than 15% of a CPU, or the virtual machine's host more than 10% of either "
            f"CPU, during the window): read those figures with care."
        )
    fan = results.get("fanout")
    if fan:
        out += [
            "",
            "### Fan-out, side by side",
            "",
            f"{fanout_caption(plan)}.",
            "",
            report.markdown_table(report.fanout_cells(fan["rows"])),
            "",
            *[f"- {line}" for line in fan["ratios"]],
        ]
    lat = results.get("latency")
    if lat:
        out += [
            "",
            "### Latency at the same offered load",
            "",
            f"{latency_caption(plan, lat)}.",
            "",
            report.markdown_table(report.latency_cells(lat["rows"])),
            "",
            *[f"- {line}" for line in lat["lines"]],
        ]
    idle = results.get("idle")
    if idle:
        out += [
            "",
            "### Idle connections",
            "",
            report.markdown_table(report.idle_cells(idle)),
            "",
            f"- {idle['line']}",
        ]
    stall = results.get("stall")
    if stall:
        out += [
            "",
            "### A member who stops reading",
            "",
            f"{stall_phase.caption(plan, stall.get('offered_per_s'))}.",
            "",
            report.markdown_table(stall_phase.cells(stall["rows"])),
            "",
            *[f"- {line}" for line in stall["lines"]],
        ]
    scaling = results.get("scaling")
    if scaling:
        out += [
            "",
            "### Scaling",
            "",
            f"{scaling_caption(plan)}.",
            "",
            report.markdown_table(report.scaling_cells(scaling)),
        ]
    prof = results.get("profile")
    if prof and "activities" in prof:
        out += [
            "",
            "### Profile of ours",
            "",
            f"py-spy, {prof['samples']} samples over one window of the fan-out load "
            f"({prof['delivered_per_s']:,.0f} delivered/s while profiled; server CPU "
            f"{prof['server_cpu_pct']:.0f}%, of which system {prof['system_pct']:.0f}%). "
            f"Self time (the function on top of the stack):",
            "",
            report.markdown_table((("activity", "share"), _pct_rows(prof["activities"]))),
            "",
            report.markdown_table((("function", "share"), _pct_rows(prof["self"]))),
        ]
    return "\n".join(out)


def _pct_rows(pairs: list[list[Any]]) -> list[list[str]]:
    return [[f"`{name}`" if ".py)" in name else name, f"{share:.1f}%"] for name, share in pairs]


def update_figures(path: Path, results: dict[str, Any]) -> None:
    text = path.read_text() if path.exists() else f"{START}\n{END}\n"
    if START not in text or END not in text:
        raise SystemExit(f"{path} has no {START} ... {END} section")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{render(results)}\n{END}{tail}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("results", type=Path)
    p.add_argument("doc", type=Path)
    args = p.parse_args()
    update_figures(args.doc, json.loads(args.results.read_text()))


if __name__ == "__main__":
    main()
