"""Compiled word lists and patterns of a policy, and the scan over a text's tokens.

Words and phrases are matched by lookup, not by regular expression: each
entry is normalised like a message (normalise.py) and filed under its lookup
form (letters alike merged, repeats collapsed). A scan starts at every token
and extends over the next tokens only while the text so far is a prefix of
some entry, so a message costs about one set lookup per token.

An entry matches a run of whole tokens (never part of one: "Scunthorpe",
"therapist" and "grape" are safe) when:

* the lookup forms are equal;
* every run of a repeated letter is at least as long in the text as in the
  entry ("kiiill" is "kill", but "as" is not "ass");
* every gap between two tokens of the run is either glue (at most three
  punctuation characters, no space: "ki.ll", "self-harm") or sits where the
  entry itself has a space ("kill myself" also matches "killmyself").
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress

from moderation.content.normalise import Memo, Normaliser, Tokens
from moderation.content.patterns import Chars, Strings, check_pattern

# Up to this many needed characters, a few str.find calls beat one regex scan.
_FIND_MAX = 12
_SHORTEST = 2


@dataclass(frozen=True, slots=True)
class Spec:
    """What a category contributes: entries as their brace alternatives, and patterns."""

    index: int
    words: Sequence[Sequence[str]]
    phrases: Sequence[Sequence[str]]
    patterns: Sequence[tuple[str, str]]
    ignore: Sequence[Sequence[str]]


@dataclass(frozen=True, slots=True)
class _Entry:
    """One entry, filed under its lookup form: what a candidate with that form must also meet.

    A candidate has the entry's lookup form, so the same runs of one letter
    in the same order; only their lengths and where its seams fall can differ.
    """

    category: int
    repeats: tuple[tuple[int, int], ...]  # (run index, length) of each run longer than one
    bounds: frozenset[tuple[bool, int]]  # (inside a run?, run index) of each space

    def fits(
        self,
        lengths: list[int],
        seams: list[tuple[int, tuple[bool, int]]],
        exact: Callable[[], Tokens],
    ) -> bool:
        """Whether a candidate with these run lengths and seams (token, bound) is this entry."""
        # Each repeated letter at least as often as in the entry ("as" is not "ass").
        for r, length in self.repeats:
            if lengths[r] < length:
                return False
        # Each seam falls where the entry has a space, or is glue ("ki.ll").
        for k, seam in seams:  # noqa: SIM110 - a loop costs half an all() of a generator
            if seam not in self.bounds and not exact().glued(k):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Scan:
    """One pattern, with what lets Python skip most of a text (patterns.Hints).

    ``gate``: a class of characters one of which every match contains: no such
    character, no need to run the pattern. ``starts``: a class of the
    characters a match can begin with, when they are rare enough (no letter,
    no space) that trying only there beats ``re``'s own scan. ``words`` (words
    view only): words one of which every match holds whole; a text without
    any of them need not be searched, and a set lookup per word tells.
    """

    category: int
    pattern: re.Pattern[str]
    gate: frozenset[str] | None
    gate_re: re.Pattern[str] | None
    starts: re.Pattern[str] | None
    words: frozenset[str] | None = None

    @classmethod
    def of(cls, category: int, source: str, view: str) -> Scan:
        hints = check_pattern(source)
        rare = hints.first is not None and not any(c.isalpha() or c == " " for c in hints.first)
        gate = hints.need if hints.need is not None and " " not in hints.need else None
        return cls(
            category,
            re.compile(source, re.ASCII),
            gate,
            _class_of(gate) if gate is not None and len(gate) > _FIND_MAX else None,
            _class_of(hints.first) if rare else None,
            _whole_words(hints.factors) if view == "words" else None,
        )

    def may_match(self, view: str, seen: dict[frozenset[str], bool]) -> bool:
        """False when the view lacks every character a match needs (memoised per view)."""
        gate = self.gate
        if gate is None:
            return True
        found = seen.get(gate)
        if found is None:
            if self.gate_re is None:
                found = any(c in view for c in gate)
            else:
                found = self.gate_re.search(view) is not None
            seen[gate] = found
        return found


def _whole_words(factors: Strings) -> frozenset[str] | None:
    """From factors that are all " word ... word " pieces, one word of each (the longest).

    In the words view (tokens between single spaces) such a piece occurs only
    where each of its words is a token, so a match needs one of these words.
    """
    if not factors:
        return None
    out: set[str] = set()
    for factor in factors:
        words = factor[1:-1].split(" ")
        if len(factor) < 3 or factor[0] != " " or factor[-1] != " " or "" in words:
            return None
        out.add(max(words, key=len))
    return frozenset(out)


def _class_of(chars: Chars) -> re.Pattern[str] | None:
    if not chars:
        return None
    return re.compile("[" + "".join(re.escape(c) for c in sorted(chars)) + "]")


def _runs(text: str) -> tuple[list[int], list[int]]:
    lengths: list[int] = []
    starts: list[int] = []
    prev = ""
    for i, c in enumerate(text):
        if c == prev:
            lengths[-1] += 1
        else:
            lengths.append(1)
            starts.append(i)
            prev = c
    return lengths, starts


class Matcher:
    """The compiled form of a policy's categories (the active ones)."""

    def __init__(self, normaliser: Normaliser, specs: Sequence[Spec]) -> None:
        self._n = normaliser
        self.keys: dict[str, list[_Entry]] = {}
        self.prefixes: set[str] = set()
        self.word_patterns: list[Scan] = []
        self.text_patterns: list[Scan] = []
        # Per token: its lookup form, and the length of each run of one letter
        # in its merged form (what _Entry.repeats is checked against).
        self._lookups: Memo[str, str] = Memo(
            lambda token: normaliser.collapse(normaliser.merged(token))
        )
        self._lengths: Memo[str, tuple[int, ...]] = Memo(
            lambda token: tuple(_runs(normaliser.merged(token))[0])
        )
        for spec in specs:
            self._add(spec)
        # Every character some plain-view pattern needs: a text with none of
        # them needs no plain view. None: always build it (a pattern needs no
        # particular character). A few ``in`` tests beat a regex class here.
        gates = [scan.gate for scan in self.text_patterns]
        self.text_needs: str | None = None
        if None not in gates:
            self.text_needs = "".join(sorted(set().union(*filter(None, gates))))

    def _add(self, spec: Spec) -> None:
        ignored = {tuple(self._entry_tokens(alt)) for alts in spec.ignore for alt in alts}
        for field, entries, one in (("words", spec.words, True), ("phrases", spec.phrases, False)):
            for i, alts in enumerate(entries):
                for alt in alts:
                    tokens = self._entry_tokens(alt)
                    problem = _entry_problem(tokens, one)
                    if problem:
                        raise ValueError((spec.index, field, i), problem)
                    if tuple(tokens) in ignored:
                        continue
                    self._file(spec.index, tokens)
        for source, view in spec.patterns:
            scan = Scan.of(spec.index, source, view)
            (self.word_patterns if view == "words" else self.text_patterns).append(scan)

    def _entry_tokens(self, entry: str) -> list[str]:
        n = self._n
        return [n.merged(t) for t in n.tokens(n.fold(entry)).texts]

    def _file(self, category: int, tokens: list[str]) -> None:
        merged = "".join(tokens)
        lookup = self._n.collapse(merged)
        lengths, starts = _runs(merged)
        bounds: set[tuple[bool, int]] = set()
        q = 0
        for token in tokens[:-1]:
            q += len(token)
            r = bisect_right(starts, q) - 1
            bounds.add((q != starts[r], r))
        repeats = tuple([(r, length) for r, length in enumerate(lengths) if length > 1])
        entry = _Entry(category, repeats, frozenset(bounds))
        filed = self.keys.setdefault(lookup, [])
        if entry not in filed:
            filed.append(entry)
        self.prefixes.update(lookup[:k] for k in range(1, len(lookup) + 1))

    def word_hits(
        self, texts: list[str], exact: Callable[[], Tokens]
    ) -> list[tuple[int, int, int]]:
        """(category index, first token, last token) of every entry matched, in scan order.

        ``texts`` are the tokens; ``exact`` gives them with their gaps, needed
        only to tell whether a seam between two tokens is glue, which only a
        seam that falls where the entry has no space needs.
        """
        keys_get, prefixes = self.keys.get, self.prefixes
        lookups = list(map(self._lookups.__getitem__, texts))
        hits: list[tuple[int, int, int]] = []
        n = len(texts)
        # Most tokens begin no entry at all: only the others start a scan, which
        # goes on while the tokens so far spell the beginning of some entry.
        for i in compress(range(n), map(prefixes.__contains__, lookups)):
            lookup = lookups[i]
            entries = keys_get(lookup)
            if entries:
                self._confirm(entries, texts, lookups, exact, i, i, hits)
            j = i + 1
            while j < n:
                more = lookups[j]
                lookup = lookup + more[1:] if lookup[-1] == more[0] else lookup + more
                if lookup not in prefixes:
                    break
                entries = keys_get(lookup)
                if entries:
                    self._confirm(entries, texts, lookups, exact, i, j, hits)
                j += 1
        return hits

    def _confirm(
        self,
        entries: list[_Entry],
        texts: list[str],
        lookups: list[str],
        exact: Callable[[], Tokens],
        i: int,
        j: int,
        hits: list[tuple[int, int, int]],
    ) -> None:
        """Check the entries filed under the lookup form of tokens i..j against those tokens."""
        # One pass over the tokens: where each later one begins, in the terms of
        # _Entry.bounds (inside the last run so far when it goes on with the
        # same letter, as repeats collapse across tokens, else on the next run),
        # and how long each run is (a run can span tokens: "want to").
        seams: list[tuple[int, tuple[bool, int]]] = []
        lengths = list(self._lengths[texts[i]])
        for k in range(i + 1, j + 1):
            more = self._lengths[texts[k]]
            if lookups[k - 1][-1] == lookups[k][0]:
                seams.append((k, (True, len(lengths) - 1)))
                lengths[-1] += more[0]
                lengths.extend(more[1:])
            else:
                seams.append((k, (False, len(lengths))))
                lengths.extend(more)
        for entry in entries:
            hit = (entry.category, i, j)
            if hit not in hits and entry.fits(lengths, seams, exact):
                hits.append(hit)


def pattern_hits(
    scans: list[Scan], view: str, tokens: list[str] | None = None
) -> list[tuple[int, int, int]]:
    """(category index, start, end) in ``view`` of every match, left to right per pattern.

    Each pattern is searched on its own, and after a match the search goes on
    from its end; clients/web/content-matcher.js does the same, so both find the same
    matches (``Scan`` hints only skip places where no match can be). For the
    words view, ``tokens`` are its words, for the ``words`` hints.
    """
    hits: list[tuple[int, int, int]] = []
    seen: dict[frozenset[str], bool] = {}
    words: set[str] | None = None  # the view's words, made a set on first need
    for scan in scans:
        if scan.words is not None and tokens is not None:
            if words is None:
                words = set(tokens)
            if words.isdisjoint(scan.words):
                continue
        if not scan.may_match(view, seen):
            continue
        pattern, starts = scan.pattern, scan.starts
        pos = 0
        while True:
            if starts is None:
                m = pattern.search(view, pos)
            else:
                candidate = starts.search(view, pos)
                if candidate is None:
                    break
                m = pattern.match(view, candidate.start())
                if m is None:
                    pos = candidate.start() + 1
                    continue
            if m is None:
                break
            start, end = m.span()
            if end == start:  # cannot happen (patterns.py refuses those) but must not loop
                pos = start + 1
                continue
            hits.append((scan.category, start, end))
            pos = end
    return hits


def _entry_problem(tokens: list[str], one: bool) -> str:
    if not tokens:
        return "has no letters or digits"
    if one and len(tokens) != 1:
        return "is more than one word once normalised; list it under phrases"
    if not one and len(tokens) < 2:
        return "is one word once normalised; list it under words"
    if len(Normaliser.collapse("".join(tokens))) < _SHORTEST:
        return "is too short to match safely"
    return ""
