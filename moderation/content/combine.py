"""How the categories a text touched combine into what a verdict decides.

engine.py's docstring gives the rules (the ladder none < warn < cw < block,
labels in policy order, one alert per category). They depend on the set of
categories alone, not on the text, so each Policy remembers the outcome of
every set it has met (``Policy.outcomes``) and a verdict looks it up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from moderation.content.policy import Category

Overall = Literal["none", "warn", "cw", "block"]
RANK: dict[str, int] = {"off": 0, "warn": 1, "cw": 2, "block": 3}
OVERALL: tuple[Overall, ...] = ("none", "warn", "cw", "block")

Names = tuple[str, ...]
# Every field of a verdict but ``matches``: categories, action, warn, cw, block, alert.
Outcome = tuple[Names, Overall, Names, Names, Names, Names]


def outcome(categories: Sequence[Category], hit: frozenset[int]) -> Outcome:
    """What the categories ``hit`` (indexes into ``categories``) decide together."""
    cats = [categories[i] for i in sorted(hit)]
    rank = max(RANK[c.action] for c in cats)
    labels: list[str] = []
    for c in cats:
        if c.action in ("cw", "block") and c.label not in labels:
            labels.append(c.label)
    return (
        tuple(c.id for c in cats),
        OVERALL[rank],
        tuple(c.id for c in cats if c.action == "warn"),
        tuple(labels),
        tuple(c.id for c in cats if c.action == "block"),
        tuple(c.id for c in cats if c.alert),
    )
