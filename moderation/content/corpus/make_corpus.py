"""Writes lines.jsonl: the labelled support-group corpus (see ../README.md, "The corpus").

    .venv/bin/python -m moderation.content.corpus.make_corpus

Every line below was written for this project, in the manner of the families
that published guidance describes (the Columbia Suicide Severity Rating
Scale's questions, Samaritans' media and online-safety guidelines, peer
support moderation guides; cited in the README): none is copied from them or
from anyone's messages. Each base line is a tuple (text, categories, family)
with the categories the default rules should find; a few neutral frames (a
greeting before, a "tonight" after, lower case, phone apostrophes) make the
variants of each base line (the base line itself, then up to two framed
renderings picked by the base line's hash). A base line and all its variants
fall in the same split, chosen by the SHA-256 of the base text: ``judged``
when its first four bytes, read as a big-endian number, are below
JUDGED_PERCENT modulo 100 (about 40% of the base lines), ``tune`` otherwise; so no sentence
of the judged part has a rendering in the tuning part. The rules are tuned on
``tune`` and judged on ``judged``. The output is deterministic: running this
again writes the same bytes (tests/moderation/test_content_corpus.py checks).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from moderation.content.corpus import lines_flagged, lines_ordinary

HERE = Path(__file__).resolve().parent
OUT = HERE / "lines.jsonl"
JUDGED_PERCENT = 40

# Neutral frames: none of them adds or removes a category.
PREFIXES = [
    *("", "honestly ", "tbh ", "not gonna lie, "),
    *("sorry to vent but ", "hi all. ", "ok so ", "update: "),
]
SUFFIXES = [
    *("", " tonight", " lately", " and i dont know what to do"),
    *(" if im honest", " x", " :(", "..."),
]


def split_of(base: str) -> str:
    """``judged`` for about JUDGED_PERCENT per cent of the base lines, by hash; else ``tune``."""
    h = int.from_bytes(hashlib.sha256(base.encode("utf-8")).digest()[:4], "big")
    return "judged" if h % 100 < JUDGED_PERCENT else "tune"


def variants(base: str, n: int) -> list[str]:
    """``n`` distinct renderings of ``base``: itself, then framed ones chosen by hash."""
    seed = hashlib.sha256(base.encode("utf-8")).digest()
    out = [base]
    i = 0
    while len(out) < n and i < 64:
        p = PREFIXES[seed[i % 32] % len(PREFIXES)]
        s = SUFFIXES[seed[(i + 7) % 32] % len(SUFFIXES)]
        text = p + base + s
        if i % 3 == 1:
            text = text.lower()
        if i % 4 == 2:
            text = text.replace("'", "\u2019")
        if text not in out:
            out.append(text)
        i += 1
    return out


def build() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for source, per_base in ((lines_flagged.LINES, 3), (lines_ordinary.LINES, 3)):
        for base, categories, family, severity in source:
            split = split_of(base)
            for text in variants(base, per_base):
                if text in seen:
                    continue
                seen.add(text)
                row: dict[str, object] = {
                    "text": text,
                    "categories": list(categories),
                    "family": family,
                    "split": split,
                }
                if severity:
                    row["severity"] = severity
                rows.append(row)
    return rows


def main() -> None:
    rows = build()
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    flagged = sum(1 for r in rows if r["categories"])
    print(f"{len(rows)} lines ({flagged} flagged, {len(rows) - flagged} ordinary) -> {OUT}")


if __name__ == "__main__":
    main()
