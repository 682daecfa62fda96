"""Shared material for the content-rules tests: the rules, the vectors, broken documents, fuzz."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moderation.content.patterns import PatternError, check_pattern

ROOT = Path(__file__).resolve().parents[2]
RULES_PATH = ROOT / "moderation" / "content" / "default_rules.json"
VECTORS_PATH = ROOT / "tests" / "vectors" / "content.json"


def rules() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(RULES_PATH.read_text(encoding="utf-8"))
    return doc


def vectors() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return doc


def _broken(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(rules())
    mutate(doc)
    return doc


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """A mutation: set ``value`` at a dotted path of keys and list indexes."""

    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _append(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path.split("."):
            node = node[int(key)] if key.isdigit() else node[key]
        node.append(value)

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        del node[last]

    return mutate


def bad_documents() -> list[tuple[dict[str, Any], str]]:
    """Broken rules documents, each with the ``where`` both engines must report."""
    n_words = len(rules()["categories"][2]["words"])
    n_phrases = len(rules()["categories"][2]["phrases"])
    cases: list[tuple[Callable[[dict[str, Any]], None], str]] = [
        (_set("format", "safespace-content-rules/2"), "format"),
        (_delete("format"), "format"),
        (_set("name", 3), "name"),
        (_set("extra", True), "document"),
        (_set("normalise", []), "normalise"),
        (_set("normalise.confusables.x", "Y"), "normalise.confusables"),
        (_set("normalise.confusables.q", "abcde"), "normalise.confusables"),
        (_set("normalise.substitutions.x", "y"), "normalise.substitutions"),
        (_set("normalise.substitutions.#", "ab"), "normalise.substitutions"),
        (_set("normalise.substitutions.\U0001f600", "a"), "normalise.substitutions"),
        (_set("normalise.substitutions._", "a"), "normalise.substitutions"),
        (_set("normalise.inner.7", "t"), "normalise.inner"),
        (_set("normalise.joiners", "'a"), "normalise.joiners"),
        (_set("normalise.joiners", "'\x00"), "normalise.joiners"),
        (_set("normalise.substitutions.'", "a"), "normalise.joiners"),
        (_set("normalise.inner.'", "a"), "normalise.joiners"),
        (_set("normalise.alike.1", "i"), "normalise.alike"),
        (_set("normalise.more", {}), "normalise"),
        (_set("categories", []), "categories"),
        (_set("categories.0", "self_harm"), "categories[0]"),
        (_set("categories.0.id", "Self harm"), "categories[0].id"),
        (_set("categories.1.id", "self_harm"), "categories[1].id"),
        (_set("categories.0.acton", "cw"), "categories.self_harm"),
        (_set("categories.2.action", "shout"), "categories.substances.action"),
        (_set("categories.2.alert", "yes"), "categories.substances.alert"),
        (_set("categories.2.label", ""), "categories.substances.label"),
        (_set("categories.2.label", "x" * 61), "categories.substances.label"),
        (_delete("categories.2.message"), "categories.substances.message"),
        (_set("categories.2.words", "weed"), "categories.substances.words"),
        (_append("categories.2.words", 7), f"categories.substances.words[{n_words}]"),
        (_append("categories.2.words", "two words"), f"categories.substances.words[{n_words}]"),
        (_append("categories.2.words", "!!!"), f"categories.substances.words[{n_words}]"),
        (_append("categories.2.words", "a"), f"categories.substances.words[{n_words}]"),
        (_append("categories.2.words", "x{a,b"), f"categories.substances.words[{n_words}]"),
        (_append("categories.2.phrases", "single"), f"categories.substances.phrases[{n_phrases}]"),
        (_set("categories.7.patterns.0", "[0-9]+"), "categories.personal_info.patterns[0]"),
        (_set("categories.7.patterns.0.view", "raw"), "categories.personal_info.patterns[0].view"),
        (
            _set("categories.7.patterns.0.regex", "(a+)+"),
            "categories.personal_info.patterns[0].regex",
        ),
        (
            _set("categories.7.patterns.0.regex", "(?<=a+)b"),
            "categories.personal_info.patterns[0].regex",
        ),
        (
            _set("categories.7.patterns.0.regex", "Phone"),
            "categories.personal_info.patterns[0].regex",
        ),
        (_set("categories.7.patterns.0.flags", "i"), "categories.personal_info.patterns[0]"),
    ]
    return [(_broken(mutate), where) for mutate, where in cases]


# Characters the fuzz texts are made of: each engine must treat every one the
# same. Only code points assigned before Unicode 14 (Python 3.11's database).
_ALPHABET = (
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    + list(" .,;:!?'\"-_()[]{}@$#%&*+=/\\|~`^<>\t\n")
    + list("\u00e9\u00e8\u00fc\u00df\u00e6\u00f8\u0131\u0142\u0130\u00a1\u20ac\u00a3\u00a0\u00ad")
    + list("\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0455\u0456\u0458\u0410\u0412\u041a\u041c")
    + list("\u03b1\u03bf\u03b9\u03ba\u03bd\u03c1\u03c4\u03c5\u03a3\u03c2\u0391")
    + list("\uff21\uff4b\uff49\uff4c\uff10\uff11\uff20\uff04")
    + ["\U0001d424", "\U0001d422", "\U0001d425", "\U0001d42c", "\U0001f600", "\U0001f44d"]
    + list("\u0301\u0308\u0336\u200b\u200c\u200d\u2060\ufeff\u202e\u2019\u2018\u02bc\u2011\u2014")
    + list("\u1d00\u026a\u029f\u1d0b\u4e2d\u6587\u3042\u05d0\u0627\u0663\u00b2\u2460\u24da\u2028")
    + ["\ud800"]
)


def fuzz_texts(count: int, seed: int = 5) -> list[str]:
    """Deterministic random texts: vector texts cut, mixed and disguised, and pure noise."""
    rng = random.Random(seed)
    words = [w for c in vectors()["cases"] for w in c["text"].split()]
    out: list[str] = []
    for i in range(count):
        if i % 3 == 0:
            text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 40)))
        else:
            parts = rng.sample(words, rng.randint(1, 8))
            text = " ".join(parts)
            # Disguise some characters: separators, invisibles, look-alikes, repeats.
            chars = list(text)
            for _ in range(rng.randint(0, 6)):
                k = rng.randrange(len(chars) + 1)
                chars.insert(k, rng.choice(_ALPHABET))
            if rng.random() < 0.3:
                chars = [c + " " if c.isalpha() and rng.random() < 0.5 else c for c in chars]
            text = "".join(chars)
        out.append(text)
    return out


def accepts(source: str) -> bool:
    """Whether the Python engine accepts ``source`` as a rules pattern."""
    try:
        check_pattern(source)
    except PatternError:
        return False
    return True
