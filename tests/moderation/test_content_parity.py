"""Two engines, one answer: the Python engine and clients/web/content.js, side by side.

Node prints the browser engine's answers (tests/web/content_answers.mjs) for
the vector texts, a fuzz set, the whole support-group corpus
(moderation/content/corpus/lines.jsonl), the pattern lists, broken documents and a tuned
policy; every answer must equal Python's, matches included (compared as the
matched text, since Python counts code points and JavaScript UTF-16 units).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from content_fixtures import ROOT, accepts, bad_documents, fuzz_texts, rules, vectors

from moderation.content import TUNING_FORMAT, Policy, apply_tuning, evaluate
from moderation.content.corpus.quality import load_corpus

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")

ANSWERS = ROOT / "tests" / "web" / "content_answers.mjs"


def _node(tmp_path: Path, doc: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    rules_path = tmp_path / "rules.json"
    input_path = tmp_path / "input.json"
    rules_path.write_text(json.dumps(doc), encoding="utf-8")
    input_path.write_text(json.dumps(payload), encoding="utf-8")
    done = subprocess.run(
        ["node", str(ANSWERS), str(rules_path), str(input_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def _python(text: str, policy: Policy) -> dict[str, Any]:
    v = evaluate(text, policy)
    return {
        "categories": list(v.categories),
        "action": v.action,
        "warn": list(v.warn),
        "cw": list(v.cw),
        "block": list(v.block),
        "alert": list(v.alert),
        "matches": [[m.category, text[m.start : m.end]] for m in v.matches],
    }


def _compare(texts: list[str], doc: dict[str, Any], js: list[dict[str, Any]]) -> None:
    policy = Policy(doc)
    differ = [
        (text, py, got)
        for text, got in zip(texts, js, strict=True)
        if (py := _python(text, policy)) != got
    ]
    assert differ == [], differ[:5]


def test_both_engines_answer_alike_on_the_vectors_and_a_fuzz_set(tmp_path: Path) -> None:
    texts = [case["text"] for case in vectors()["cases"]] + fuzz_texts(700)
    out = _node(tmp_path, rules(), {"texts": texts})
    _compare(texts, rules(), out["answers"])


def test_both_engines_answer_alike_on_the_whole_corpus(tmp_path: Path) -> None:
    """Every line of moderation/content/corpus/lines.jsonl, both splits, whole verdicts."""
    texts = [row["text"] for row in load_corpus()]
    assert len(texts) >= 1500
    out = _node(tmp_path, rules(), {"texts": texts})
    _compare(texts, rules(), out["answers"])


def test_both_engines_answer_alike_under_a_tuned_policy(tmp_path: Path) -> None:
    doc = apply_tuning(
        rules(),
        {
            "format": TUNING_FORMAT,
            "categories": {
                "substances": {"action": "off"},
                "insults": {"action": "block", "alert": True, "add_words": ["numpty"]},
                "violence": {"ignore": ["violence"], "add_phrases": ["{he,she} shoved me"]},
                "personal_info": {"action": "off", "alert": True},
            },
        },
    )
    # A text pattern that only NFKD makes match (U+210C, script H, reads h):
    # the engines' shortcuts for skipping the plain view must not skip it.
    doc["categories"][7]["patterns"].append({"regex": "hx", "view": "text"})
    texts = [case["text"] for case in vectors()["cases"]]
    texts += ["you numpty", "she shoved me", "\u210c\u210cx", "Hx", "ok"]
    out = _node(tmp_path, doc, {"texts": texts})
    _compare(texts, doc, out["answers"])
    assert evaluate("\u210c\u210cx", Policy(doc)).alert == ("personal_info",)


def test_both_engines_accept_and_refuse_the_same_patterns(tmp_path: Path) -> None:
    listed = vectors()["patterns"]
    sources = [
        *listed["valid"],
        *listed["invalid"],
        "\U0001d400",
        "[\U0001d400-\U0001d419]",
        "(?<=\U0001d400)a",
        "[\\u0041-\\u005a]",
        "a{0}b",
        "(?:)a",
        "a|",
        "[\\d-z]",
        "[a-\\d]",
        "[z-a]",
        "\\u12",
        "(?=a)",
        "[^\\s]",
        "x*?y",
        "x??y",
        "(?:ab)+?c",
        "([a-z]+ ){0,3}x",
        "([a-z]+ )+x",
    ]
    out = _node(tmp_path, rules(), {"patterns": sources})
    assert out["patterns"] == [accepts(s) for s in sources]


def test_both_engines_name_the_same_place_in_a_bad_document(tmp_path: Path) -> None:
    cases = bad_documents()
    out = _node(tmp_path, rules(), {"documents": [doc for doc, _ in cases]})
    assert out["documents"] == [where for _, where in cases]
