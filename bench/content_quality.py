"""Content rules, measured: precision and recall per category, and time per message.

    .venv/bin/python -m bench.content_quality [--runs N] [--strict]

Both engines (moderation/content in Python, clients/web/content.js in Node)
evaluate, under the default rules, the support-group corpus
(moderation/content/corpus/lines.jsonl: each split on its own, ``tune`` the
part the rules are tuned on and ``judged`` the part they are judged on) and
the labelled cases of tests/vectors/content.json; for each category a line
counts as a true positive when the category is both labelled and found. The
false-flag rate is the share of the corpus's ordinary lines (labelled with no
category) on which any category is found; the agreement is over the whole
corpus, whole verdicts (categories, action, alerts and matched text) compared.
Then each engine times a 500-character message
(the median of many runs, in microseconds): an ordinary message that matches
nothing (the common case), the same as typed on a phone (curly apostrophes,
an emoji: the non-ASCII path) and one that trips three categories.

Python times in rounds: each round times every message and the reference
loop below, one after the other, so that a round in which the machine is slow
(this virtual machine's speed moves by half from one second to the next) is
slow for all of them; a message's figure is the median of its rounds' medians,
shown with its best round and its ratio to the reference of the same round.

The targets (issue 18): on the judged split, self-harm recall at least 0.95,
every category's precision and recall at least 0.9, false flags on ordinary
lines at most 5%; a Python median of at most 3 reference units for the
ordinary message and 4 for the others, and Node at most 50 us. ``--strict``
exits 1 when a quality target is missed or the engines disagree (timings
depend on the machine, so they are only reported).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from moderation.content import Policy, evaluate
from moderation.content.corpus.quality import (
    CORPUS,
    corpus_report,
    load_corpus,
    python_verdicts,
    quality,
)

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "moderation" / "content" / "default_rules.json"
VECTORS = ROOT / "tests" / "vectors" / "content.json"
NODE_HALF = ROOT / "bench" / "content_quality.mjs"

ROUNDS = 9
RECALL_TARGET = 0.9
SELF_HARM_RECALL_TARGET = 0.95
FALSE_FLAG_TARGET = 0.05
UNITS_TARGET = {"ordinary": 3.0, "phone-typed": 4.0, "three hits": 4.0}
NODE_TARGET_US = 50.0
SPLITS = ("tune", "judged")

_ORDINARY = (
    "This week was hard. I went back to work after the break and my manager kept asking "
    "whether I was okay; I said yes, but honestly I felt like I was drowning. My sister says "
    "I should talk to someone, so here I am. Sleep is better since I stopped scrolling at "
    "night. Thanks everyone for listening last time, it really helped me get through the "
    "weekend. I'm trying the breathing thing Sam mentioned and I think it's working a little. "
    "Anyway, that's me for now, I'll listen for a while. "
)


def timed_texts() -> dict[str, str]:
    """The three 500-character messages that are timed."""
    ordinary = (_ORDINARY * 2)[:500]
    phone = (_ORDINARY.replace("'", "\u2019").replace("now,", "now \U0001f642,") * 2)[:500]
    flagged = (
        "I got drunk again on Friday and honestly I want to die some days. My ex used to say "
        "you idiot whenever I cried. " + _ORDINARY
    )[:500]
    return {"ordinary": ordinary, "phone-typed": phone, "three hits": flagged}


def machine_reference_us(runs: int = 200) -> float:
    """How long this machine takes for a fixed bit of pure Python (``sum(range(2000))``).

    Timings on a shared or throttled machine are inflated; this figure, taken
    alongside them, says by how much (a quiet 3 GHz core: about 15 us).
    """
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        sum(range(2000))
        samples.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(samples)


def _timed(text: str, policy: Policy, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        evaluate(text, policy)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def python_half(cases: list[dict[str, Any]], runs: int) -> tuple[list[Any], dict[str, Any]]:
    policy = Policy(json.loads(RULES.read_text(encoding="utf-8")))
    answers = [[list(v.categories), v.action] for v in (evaluate(c["text"], policy) for c in cases)]
    texts = timed_texts()
    for text in texts.values():
        _timed(text, policy, min(2000, runs))  # warm the caches
    per_round = max(1, runs // ROUNDS)
    medians: dict[str, list[float]] = {name: [] for name in texts}
    every: dict[str, list[float]] = {name: [] for name in texts}
    references: list[float] = []
    for _ in range(ROUNDS):
        references.append(machine_reference_us(max(20, per_round // 5)))
        for name, text in texts.items():
            samples = _timed(text, policy, per_round)
            medians[name].append(statistics.median(samples))
            every[name] += samples
    timings: dict[str, Any] = {}
    for name in texts:
        every[name].sort()
        timings[name] = {
            "median_us": statistics.median(medians[name]),
            "p90_us": every[name][int(0.9 * len(every[name]))],
            "best_round_us": min(medians[name]),
            "per_reference": statistics.median(
                m / r for m, r in zip(medians[name], references, strict=True)
            ),
        }
    timings["reference_us"] = {"median": statistics.median(references), "rounds": references}
    return answers, timings


def node_half(
    cases: list[dict[str, Any]], corpus: list[str], runs: int
) -> tuple[list[Any], list[dict[str, Any]], dict[str, Any]] | None:
    """Node's answers on the vectors, its whole verdicts on the corpus, its timings."""
    if shutil.which("node") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        payload = Path(tmp) / "input.json"
        payload.write_text(
            json.dumps(
                {
                    "cases": [c["text"] for c in cases],
                    "corpus": corpus,
                    "timed": timed_texts(),
                    "runs": runs,
                }
            ),
            encoding="utf-8",
        )
        done = subprocess.run(
            ["node", str(NODE_HALF), str(RULES), str(payload)],
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
    out = json.loads(done.stdout)
    return out["answers"], out["corpus"], out["timings"]


def _action_accuracy(cases: list[dict[str, Any]], answers: list[list[Any]]) -> float:
    right = sum(1 for c, (_, action) in zip(cases, answers, strict=True) if c["action"] == action)
    return right / len(cases)


def _cells(q: dict[str, float] | None) -> str:
    return f"{q['precision']:>7.3f}{q['recall']:>7.3f}" if q else f"{'-':>7}{'-':>7}"


def _missed(report: dict[str, Any]) -> list[str]:
    """What of the quality targets a report misses."""
    out = []
    for cat, q in report["categories"].items():
        floor = SELF_HARM_RECALL_TARGET if cat == "self_harm" else RECALL_TARGET
        if q["cases"] and q["recall"] < floor:
            out.append(f"{cat} recall")
        if q["cases"] and q["precision"] < RECALL_TARGET:
            out.append(f"{cat} precision")
    if report["false_flag_rate"] > FALSE_FLAG_TARGET:
        out.append("false flags")
    return out


def print_corpus(
    rows: list[dict[str, Any]], py_found: list[list[str]], js_found: list[list[str]] | None
) -> list[str]:
    """The corpus table, split by split; returns the targets the judged split misses."""
    print(f"Content rules on the support-group corpus ({len(rows)} lines, {CORPUS.name})\n")
    missed: list[str] = []
    for split in SPLITS:
        py = corpus_report(rows, py_found, split)
        js = corpus_report(rows, js_found, split) if js_found else None
        print(f"split {split}: {py['lines']} lines, {py['ordinary']} ordinary")
        print(f"{'category':<15}{'lines':>6}   {'Python P':>7}{'R':>7}   {'Node P':>7}{'R':>7}")
        for cat, q in py["categories"].items():
            j = js["categories"][cat] if js else None
            print(f"{cat:<15}{q['cases']:>6.0f}   {_cells(q)}   {_cells(j)}")
        js_ff = f"{js['false_flag_rate']:.3f} ({js['false_flags']})" if js else "-"
        print(
            f"{'false flags':<15}{py['ordinary']:>6}   "
            f"{py['false_flag_rate']:>7.3f} ({py['false_flags']})   {js_ff}"
        )
        urgent = [
            i for i, r in enumerate(rows) if r["split"] == split and r.get("severity") == "urgent"
        ]
        alerting = sum(1 for i in urgent if {"self_harm", "method_detail"} & set(py_found[i]))
        print(f"urgent lines that alert (self_harm or method_detail): {alerting} of {len(urgent)}")
        print()
        if split == "judged":
            missed = _missed(py) + (_missed(js) if js else [])
    return sorted(set(missed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5000, help="timed runs per message")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)

    cases = json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]
    rows = load_corpus()
    texts = [r["text"] for r in rows]
    py_corpus = python_verdicts(texts)
    py_answers, py_times = python_half(cases, args.runs)
    js = node_half(cases, texts, args.runs)

    missed = print_corpus(
        rows, [v["categories"] for v in py_corpus], [v["categories"] for v in js[1]] if js else None
    )
    if js:
        same = sum(1 for a, b in zip(py_corpus, js[1], strict=True) if a == b)
        print(f"The engines give identical verdicts on {same} of {len(rows)} corpus lines.\n")
        if same != len(rows):
            missed.append("engine agreement")

    py_q = quality(cases, [a[0] for a in py_answers])
    js_q = quality(cases, [a[0] for a in js[0]]) if js else None
    print(f"The {len(cases)} labelled cases of tests/vectors/content.json\n")
    print(f"{'category':<15}{'cases':>6}   {'Python P':>7}{'R':>7}   {'Node P':>7}{'R':>7}")
    for cat, q in py_q.items():
        print(f"{cat:<15}{q['cases']:>6.0f}   {_cells(q)}   {_cells(js_q[cat] if js_q else None)}")
    py_acc = _action_accuracy(cases, py_answers)
    js_acc = f"{_action_accuracy(cases, js[0]):.3f}" if js else "-"
    print(f"{'overall action':<15}{len(cases):>6}   {py_acc:>14.3f}   {js_acc:>14}")
    if js:
        same = sum(1 for a, b in zip(py_answers, js[0], strict=True) if a == b)
        print(f"\nThe engines agree on {same} of {len(cases)} cases.")

    reference = py_times.pop("reference_us")
    print(
        f"\nTime per 500-character message, microseconds: Python, the median of {ROUNDS} rounds' "
        f"medians of {max(1, args.runs // ROUNDS)} runs (p90 of all), its best round, and "
        f"its time in units of the reference loop; Node, the median of {args.runs} runs (p90)"
    )
    print(f"{'message':<15}{'Python':>18}{'best round':>12}{'x reference':>13}{'Node':>18}")
    slow = []
    for name in py_times:
        p = py_times[name]
        n = js[2][name] if js else None
        js_cells = f"{n['median_us']:>9.1f} ({n['p90_us']:.1f})" if n else f"{'-':>18}"
        if p["per_reference"] > UNITS_TARGET[name] or (n and n["median_us"] > NODE_TARGET_US):
            slow.append(name)
        print(
            f"{name:<15}{p['median_us']:>9.1f} ({p['p90_us']:>5.1f}){p['best_round_us']:>12.1f}"
            f"{p['per_reference']:>13.2f}{js_cells:>18}"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rounds = reference["rounds"]
    print(
        f"(this machine: sum(range(2000)) takes {reference['median']:.1f} us in Python "
        f"({min(rounds):.1f}-{max(rounds):.1f} over the rounds), about 15 us on a quiet 3 GHz "
        f"core; load average {load:.1f} on {os.cpu_count()} CPUs)"
    )
    print(
        f"\nTargets (issue 18), judged split: self-harm recall >= {SELF_HARM_RECALL_TARGET}, every "
        f"category's precision and recall >= {RECALL_TARGET}, false flags <= "
        f"{FALSE_FLAG_TARGET:.0%}: {'missed: ' + ', '.join(missed) if missed else 'met'}."
    )
    print(
        f"Speed: Python <= {UNITS_TARGET['ordinary']:.0f} reference units (ordinary), "
        f"<= {UNITS_TARGET['three hits']:.0f} (others), Node <= {NODE_TARGET_US:.0f} us: "
        f"{'missed by ' + ', '.join(slow) if slow else 'met'} on this machine now."
    )
    if js is None:
        print("(node not found: the Node columns are empty)")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
