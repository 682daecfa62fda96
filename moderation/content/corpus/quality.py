"""Precision, recall and false flags on the corpus (bench/content_quality prints them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moderation.content import Policy, evaluate

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "lines.jsonl"
FLOORS = HERE / "floors.json"
RULES = HERE.parent / "default_rules.json"


def load_corpus(path: Path = CORPUS) -> list[dict[str, Any]]:
    """The corpus's lines: ``{text, categories, family, split[, severity]}``."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def category_ids(path: Path = RULES) -> list[str]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return [c["id"] for c in doc["categories"]]


def quality(
    cases: list[dict[str, Any]], answers: list[list[str]], categories: list[str] | None = None
) -> dict[str, dict[str, float]]:
    """Per category: precision, recall and the number of labelled cases."""
    out: dict[str, dict[str, float]] = {}
    for cat in categories or category_ids():
        tp = fp = fn = 0
        for case, found in zip(cases, answers, strict=True):
            expected = cat in case["categories"]
            got = cat in found
            tp += expected and got
            fp += got and not expected
            fn += expected and not got
        out[cat] = {
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
            "cases": tp + fn,
        }
    return out


def corpus_report(
    rows: list[dict[str, Any]], found: list[list[str]], split: str | None
) -> dict[str, Any]:
    """Per category precision and recall, and the false-flag rate, on one split (None: all)."""
    pairs = [(r, f) for r, f in zip(rows, found, strict=True) if split in (None, r["split"])]
    q = quality([r for r, _ in pairs], [f for _, f in pairs])
    ordinary = [f for r, f in pairs if not r["categories"]]
    flagged_ordinary = sum(1 for f in ordinary if f)
    return {
        "categories": q,
        "lines": len(pairs),
        "ordinary": len(ordinary),
        "false_flags": flagged_ordinary,
        "false_flag_rate": flagged_ordinary / len(ordinary) if ordinary else 0.0,
    }


def python_verdicts(texts: list[str], policy: Policy | None = None) -> list[dict[str, Any]]:
    """Python's whole verdicts in the shape bench/content_quality.mjs prints Node's."""
    policy = policy or Policy(json.loads(RULES.read_text(encoding="utf-8")))
    out = []
    for text in texts:
        v = evaluate(text, policy)
        out.append(
            {
                "categories": list(v.categories),
                "action": v.action,
                "alert": list(v.alert),
                "matches": [[m.category, text[m.start : m.end]] for m in v.matches],
            }
        )
    return out
