"""The fan-out benchmark's smoke run: every phase and every target at a tiny scale.

Not a measurement (the figures at this scale mean little): it proves that
``make bench`` works end to end, that each target relays, that the table and
the ratio lines print with sane numbers, and that nothing is left running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LABELS = ("safespace (ours)", "websockets broadcast", "node socket.io", "python-socketio")

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "bench" / "node_modules").is_dir(),
    reason="needs node and bench/node_modules (make test installs them)",
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """One smoke run for every test of this module (about half a minute)."""
    work = tmp_path_factory.mktemp("bench-smoke")
    out = work / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--workdir", str(work), "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=150,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout, json.loads(out.read_text())


def test_the_table_lists_every_target_with_sane_numbers(
    smoke: tuple[str, dict[str, Any]],
) -> None:
    stdout, results = smoke
    assert "delivered/s" in stdout and "p99 ms" in stdout
    rows = {r["label"]: r for r in results["fanout"]["rows"]}
    assert set(rows) == set(LABELS)
    for label, row in rows.items():
        line = next(x for x in stdout.splitlines() if x.startswith(label))
        assert len(line.split()) > 5, line
        assert row["delivered_per_s"] > 0, label
        assert 0 < row["p50_ms"] <= row["p99_ms"] < 10_000, label
        assert row["cpu_us_per_frame"] is not None and row["cpu_us_per_frame"] > 0, label
        assert row["peak_mib"] > 1, label
        assert row["errors"] == 0, label


def test_one_ratio_line_per_reference(smoke: tuple[str, dict[str, Any]]) -> None:
    stdout, _ = smoke
    ratios = [x for x in stdout.splitlines() if x.startswith("ratio ours/")]
    assert len(ratios) == 3, ratios
    for label in LABELS[1:]:
        line = next(x for x in ratios if x.startswith(f"ratio ours/{label}:"))
        assert "delivered/s" in line and "p99" in line
        figures = [w for w in line.replace(",", " ").split() if w.endswith("x")]
        assert all(float(w[:-1]) > 0 for w in figures[:2]), line


def test_the_other_phases_report(smoke: tuple[str, dict[str, Any]]) -> None:
    stdout, results = smoke
    latency = results["latency"]
    assert latency["offered_per_s"] > 0
    assert any(r["target"] == "safespace" for r in latency["rows"])
    for row in latency["rows"]:
        assert row["delivered_per_s"] > 0 and row["p99_ms"] > 0
    idle = results["idle"]
    assert idle["connections"] == 200
    assert idle["server_connections"] == 200
    assert 0 < idle["kib_per_connection"] < 1000
    stall = results["stall"]
    # Ours and the websockets reference, each with and without the stalled reader.
    assert [(r["target"], r["variant"]) for r in stall["rows"]] == [
        ("safespace", "reads"),
        ("safespace", "stops reading"),
        ("websockets", "reads"),
        ("websockets", "stops reading"),
    ]
    assert all(r["p99_ms"] > 0 for r in stall["rows"])
    # The verdict's window (the first seconds, before any 4008 close) was measured.
    assert all(r["early_p99_ms"] > 0 for r in stall["rows"])
    assert all(r["prunes"] >= 0 for r in stall["rows"])
    # In the runs with stalls, the rooms with a stalled member and those with a
    # reading quiet member were measured apart (the within-run verdict).
    stalled = [r for r in stall["rows"] if r["variant"] == "stops reading"]
    assert all(r["stalled_rooms_p99_ms"] > 0 and r["control_rooms_p99_ms"] > 0 for r in stalled)
    assert len(stall["within_changes_pct"]["safespace"]) == 1
    assert len(stall["pair_changes_pct"]["safespace"]) == 1
    ours, reference = stall["lines"]
    assert ours.startswith("stalled member, safespace (ours): ")
    assert "over the first 0.5 s" in ours and "target < 10%" in ours
    assert reference.startswith("stalled member, websockets broadcast: ")
    assert "the reference, no target" in reference
    assert "stalled member, safespace (ours): the others' p99" in stdout
    assert "stalled member, websockets broadcast: " in stdout
    scaling = results["scaling"]
    assert [r["rooms"] for r in scaling] == [3, 6]
    assert all(r["delivered_per_s"] > 0 for r in scaling)


def test_nothing_is_left_running(smoke: tuple[str, dict[str, Any]]) -> None:
    _, results = smoke
    started = results["processes_started"]
    assert len(started) >= 20
    assert [pid for pid in started if _alive(pid)] == []
