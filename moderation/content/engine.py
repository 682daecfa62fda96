"""Evaluate a text against a policy: which categories it touches and what follows.

The sender's client calls ``evaluate`` before sealing a message, and every
receiver's client again after opening it (a modified sender cannot skip a
warning). When several categories match, they combine so:

* ``action``: the strongest action on the ladder none < warn < cw < block
  decides whether and how the message goes (block: it does not);
* ``warn``: every category that asks the sender to think again (the sender
  is shown each one's message and may go on unless something blocks);
* ``cw``: the union of the labels of the categories whose action is cw or
  block, in policy order; the message travels and is shown behind them (a
  block only reaches a reader from a client that skipped the rules);
* ``alert``: each category with ``alert`` set, once: the facilitators are told
  the category and the sender, never the text;
* ``matches``: where each category matched, as offsets into the original
  text (``text[start:end]``), for highlighting on the sender's side.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from operator import itemgetter
from typing import NamedTuple

from moderation.content.combine import Overall
from moderation.content.matcher import pattern_hits
from moderation.content.normalise import Normaliser, Tokens, words_view
from moderation.content.policy import Policy


# Named tuples, not frozen dataclasses: as immutable, and cheaper to make (a
# frozen dataclass sets each field through object.__setattr__: a Match costs
# twice as much, a Verdict three times), which shows on every message with a hit.
class Match(NamedTuple):
    """Where one category matched: ``text[start:end]`` of the evaluated text."""

    category: str
    start: int
    end: int


class Verdict(NamedTuple):
    """The outcome of one evaluation; empty tuples and "none" when nothing matched."""

    categories: tuple[str, ...]
    action: Overall
    warn: tuple[str, ...]
    cw: tuple[str, ...]
    block: tuple[str, ...]
    alert: tuple[str, ...]
    matches: tuple[Match, ...]

    @property
    def sendable(self) -> bool:
        return self.action != "block"


CLEAR = Verdict((), "none", (), (), (), (), ())


def evaluate(text: str, policy: Policy) -> Verdict:
    """Evaluate ``text`` (a message body, as typed or as decrypted) against ``policy``."""
    n, m = policy.normaliser, policy.matcher
    quick = n.quick(text)
    exact: Tokens | None = None if quick is not None else n.tokens(n.fold(text))

    def tokens() -> Tokens:
        # Positions and glue are needed only to confirm some candidates and to
        # place hits; most messages never need them. When quick() could read
        # the text, place() finds them from its work, with no second tokenising.
        nonlocal exact
        if exact is None:
            assert quick is not None  # exact is only None when quick() answered
            exact = n.place(quick)
        return exact

    texts = quick.texts if quick is not None else tokens().texts
    # Token hits: (category, first token, last token); text hits: (category, start, end).
    token_hits = m.word_hits(texts, tokens)
    if m.word_patterns:
        view = quick.view if quick is not None else words_view(texts)
        found = pattern_hits(m.word_patterns, view, texts)
        if found:
            token_hits.extend(_to_tokens(found, texts))
    text_hits = _text_hits(text, policy) if m.text_patterns else []
    if not token_hits and not text_hits:
        return CLEAR
    spans: set[tuple[int, int, int]] = set()
    if token_hits:
        origin = _origin(text, n, folded=True)
        placed = tokens()
        for cat, i, j in token_hits:
            a, b = placed.span(i, j)
            spans.add((origin(a), origin(b - 1) + 1, cat))
    if text_hits:
        origin = _origin(text, n, folded=False)
        for cat, a, b in text_hits:
            spans.add((origin(a), origin(b - 1) + 1, cat))
    return _verdict(policy, spans)


def _text_hits(text: str, policy: Policy) -> list[tuple[int, int, int]]:
    """Hits of the plain-view patterns, building that view only if one of them may match."""
    n, m = policy.normaliser, policy.matcher
    needs = m.text_needs
    if needs is not None:
        probe = n.plain_probe(text)
        if not any(c in probe for c in needs):
            return []
    return pattern_hits(m.text_patterns, n.plain(text))


def _to_tokens(found: list[tuple[int, int, int]], texts: list[str]) -> list[tuple[int, int, int]]:
    """Map offsets in the words view (" " + tokens joined by " " + " ") to token indexes."""
    starts: list[int] = []
    ends: list[int] = []
    pos = 1
    for t in texts:
        starts.append(pos)
        pos += len(t)
        ends.append(pos)
        pos += 1
    out = []
    for cat, a, b in found:
        last = bisect_left(starts, b) - 1  # the last token starting before b
        if last < 0:
            continue  # spaces only, no word: nothing to report
        first = min(bisect_right(ends, a), last)  # the first token ending after a
        out.append((cat, first, last))
    return out


def _origin(text: str, n: Normaliser, *, folded: bool) -> Callable[[int], int]:
    """A function from an offset in a view to the offset in ``text`` it came from."""
    if text.isascii() and n.ascii_one_to_one:
        return _same
    return n.origin(text, folded)


def _same(k: int) -> int:
    return k


def _verdict(policy: Policy, spans: set[tuple[int, int, int]]) -> Verdict:
    # Few sets of categories ever occur (most hits are of one), and looking one
    # up in the policy's memo instead of working it out saves two fifths of
    # building a verdict.
    outcome = policy.outcomes[frozenset(map(itemgetter(2), spans))]
    cats = policy.categories
    return Verdict(*outcome, tuple([Match(cats[cat].id, a, b) for a, b, cat in sorted(spans)]))
