"""The Python engine's quick paths give exactly what its plain ones give.

``evaluate`` reads most texts through ``Normaliser.quick`` and, only when
something matched, places the tokens with ``Normaliser.place`` instead of
tokenising again; it confirms candidates from per-token run lengths and
seams, and looks up what a set of categories decides. Each is held here to
the straightforward computation it replaces, on the vectors, the fuzz texts
and texts made to reach the unusual corners (hits glued by punctuation,
symbol-only chunks and inner symbols between or around hit tokens, spaced
letters, non-ASCII characters that change width).
"""

from __future__ import annotations

import random
import re
from bisect import bisect_right
from collections.abc import Callable

import pytest
from content_fixtures import accepts, fuzz_texts, rules, vectors

from moderation.content import TUNING_FORMAT, Policy, apply_tuning, default_policy, evaluate
from moderation.content.matcher import Matcher, Scan, pattern_hits
from moderation.content.normalise import Normaliser, Tokens, non_ascii
from moderation.content.patterns import _Parser

POLICY = default_policy()

# Each one reaches some hit path the plain English vectors may not.
CORNERS = [
    "ki.ll myself",  # a hit whose tokens are glued by punctuation
    "I want.to.die",
    "self-harm and co-codamol",
    "ki....ll myself",  # too much punctuation to be glue
    "so k i l l myself now",  # spaced letters: quick() declines, tokens() reads them
    "k.i.l.l m.y.s.e.l.f",
    "kill $$ myself",  # a chunk of symbols only between the hit's tokens
    "you @ idiot, you $ idiot",
    "want to !! die",
    "!kill myself! |you idiot|",  # inner symbols at the ends of chunks
    "'kill' 'myself' don't",
    "k1ll mys3lf, $hit a$$",
    "I w\u0430nt to d\u00efe \U0001f642 you idiot",  # look-alikes, an accent, an emoji
    "\U0001f642\U0001f642 \uff4b\uff49\uff4c\uff4c myself!",  # fullwidth, after wide ones
    "\ufb01ne, I want to die",  # a ligature: one code point, two characters of the view
    "I want to di\u200be",  # a zero-width space inside a word
    "x\u0301 kill\u00ad myself",  # a combining mark, a soft hyphen
    "\u00df\u00df kill myself \u00e6",  # one code point, two letters
    "kill\u00a0myself, kill_myself, kill__myself",
    "killmyself selfharm kiiiill myseeelf",
    "I got drunk again on Friday and honestly I want to die some days.",
    "call me on 07700 900123, I want to die",
    "wanttodie want todie",
    "Thanks!! I want to die... you idiot!!! 'quoted' !! $$ @ ok!",  # many chunks trimmed
    "wow !! so ' kill myself ' now!",  # chunks of inner symbols only
]


def _texts() -> list[str]:
    texts = CORNERS + [case["text"] for case in vectors()["cases"]] + fuzz_texts(600)
    # Exclamation marks and quotes at word ends make quick() trim (most chats have some).
    return texts + [t.replace(" ", "! ").replace(".", " '") for t in texts[::3]]


def _plain(policy: Policy) -> Policy:
    """The same policy, made to read every text the plain way (tokens of the folded view)."""
    slow = Policy(policy.document)
    slow.normaliser.quick = lambda text: None  # type: ignore[method-assign]
    return slow


def _starts(tokens: Tokens) -> list[int]:
    """Where every token begins, asked one by one (each call sums one more)."""
    return [tokens.start(k) for k in range(len(tokens.texts))]


def test_place_gives_what_tokenising_again_gives() -> None:
    n = POLICY.normaliser
    placed = 0
    for text in _texts():
        quick = n.quick(text)
        if quick is None:
            continue
        got, want = n.place(quick), n.tokens(n.fold(text))
        assert (got.texts, _starts(got), got.pieces, got.folded) == (
            want.texts,
            _starts(want),
            want.pieces,
            want.folded,
        ), text
        placed += 1
    assert placed > 600


def test_every_verdict_equals_the_plain_paths_verdict() -> None:
    slow = _plain(POLICY)
    hits = 0
    for text in _texts():
        verdict = evaluate(text, POLICY)
        assert verdict == evaluate(text, slow), text
        hits += bool(verdict.matches)
    assert hits > 300


def test_the_corners_match_where_they_should() -> None:
    cases = {
        "ki.ll myself": ("self_harm", "ki.ll myself"),
        "kill $$ myself": ("self_harm", "kill $$ myself"),
        "!kill myself! |you idiot|": ("self_harm", "kill myself"),
        "\U0001f642\U0001f642 \uff4b\uff49\uff4c\uff4c myself!": (
            "self_harm",
            "\uff4b\uff49\uff4c\uff4c myself",
        ),
        "I want to di\u200be": ("self_harm", "want to di\u200be"),
    }
    for text, (category, piece) in cases.items():
        found = [(m.category, text[m.start : m.end]) for m in evaluate(text, POLICY).matches]
        assert (category, piece) in found, (text, found)
    assert evaluate("ki....ll myself", POLICY).categories == ()


def _runs(text: str) -> tuple[list[int], list[int]]:
    lengths: list[int] = []
    starts: list[int] = []
    for i, c in enumerate(text):
        if i and c == text[i - 1]:
            lengths[-1] += 1
        else:
            lengths.append(1)
            starts.append(i)
    return lengths, starts


def _direct_hits(m: Matcher, n: Normaliser, tokens: Tokens) -> list[tuple[int, int, int]]:
    """word_hits, confirming each candidate on its merged text, seams found by bisection."""
    texts = tokens.texts
    hits: list[tuple[int, int, int]] = []
    for i in range(len(texts)):
        for j in range(i, len(texts)):
            merged, gaps = "", []
            for k in range(i, j + 1):
                if k > i and not tokens.glued(k):
                    gaps.append(len(merged))
                merged += n.merged(texts[k])
            lookup = n.collapse(merged)
            if lookup not in m.prefixes:
                break
            lengths, starts = _runs(merged)
            for entry in m.keys.get(lookup, []):
                need = [1] * len(lookup)
                for r, length in entry.repeats:
                    need[r] = length
                bounds = {(q != starts[r], r) for q in gaps for r in [bisect_right(starts, q) - 1]}
                fits = all(have >= want for have, want in zip(lengths, need, strict=True))
                hit = (entry.category, i, j)
                if fits and bounds <= entry.bounds and hit not in hits:
                    hits.append(hit)
    return hits


def _given(tokens: Tokens) -> Callable[[], Tokens]:
    return lambda: tokens


def test_word_hits_equal_the_direct_confirmation() -> None:
    n, m = POLICY.normaliser, POLICY.matcher
    found = 0
    for text in _texts():
        tokens = n.tokens(n.fold(text))
        got = m.word_hits(tokens.texts, _given(tokens))
        assert got == _direct_hits(m, n, tokens), text
        found += bool(got)
    assert found > 250


@pytest.mark.parametrize("text", [t for t in CORNERS if not t.isascii()] + ["abc", ""])
def test_origin_is_the_code_point_each_character_came_from(text: str) -> None:
    n = POLICY.normaliser
    for folded in (True, False):
        view = n.fold(text) if folded else n.plain(text)
        table = n._fold if folded else n._plain
        expanded = [i for i, c in enumerate(text) for _ in table[ord(c)]]
        assert len(expanded) == len(view)
        origin = n.origin(text, folded)
        assert [origin(k) for k in range(len(view))] == expanded


def test_what_categories_decide_is_remembered_per_policy() -> None:
    text = "I got drunk again and you idiot"
    before = evaluate(text, POLICY)
    assert (before.action, before.warn) == ("cw", ("insults",))
    tuning = {
        "format": TUNING_FORMAT,
        "categories": {"insults": {"action": "block"}, "substances": {"action": "off"}},
    }
    tuned = evaluate(text, Policy(apply_tuning(rules(), tuning)))
    assert (tuned.categories, tuned.action, tuned.block) == (("insults",), "block", ("insults",))
    assert evaluate(text, POLICY) == before


def _random_pattern(rng: random.Random, depth: int = 0) -> str:
    """A pattern of the subset over a small alphabet, so that matches are frequent."""
    parts = []
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.45 or depth > 2:
            atom = rng.choice(["a", "b", "c", " ", "[ab]", "[^a]", ".", "\\s", "\\d", "\\w"])
        elif roll < 0.6:
            atom = rng.choice(["\\b", "(?=a)", "(?!b)", "(?<=c)", "^", "$"])
            parts.append(atom)
            continue
        else:
            branches = [_random_pattern(rng, depth + 1) for _ in range(rng.randint(1, 3))]
            atom = "(?:" + "|".join(branches) + ")"
        if rng.random() < 0.4:
            atom += rng.choice(["?", "*", "+", "{2}", "{0,2}", "{1,3}", "{2,}", "??"])
        parts.append(atom)
    return "".join(parts)


def _random_patterns(count: int) -> list[str]:
    rng = random.Random(7)
    out: list[str] = []
    while len(out) < count:
        source = _random_pattern(rng)
        if accepts(source):
            out.append(source)
    return out


def test_every_match_holds_a_factor_and_is_an_exact_string() -> None:
    """patterns.py's string hints: a pattern's ``exact`` strings and ``factors`` are sound."""
    rng = random.Random(11)
    texts = ["".join(rng.choice("abc 1") for _ in range(rng.randint(0, 10))) for _ in range(300)]
    sources = [*_random_patterns(400), *vectors()["patterns"]["valid"]]
    sources += [p["regex"] for c in rules()["categories"] for p in c.get("patterns", [])]
    matched = 0
    for source in sources:
        width = _Parser(source).alternation()
        pattern = re.compile(source, re.ASCII)
        for text in texts:
            for m in pattern.finditer(text):
                matched += 1
                if width.factors is not None:
                    assert any(f in m.group() for f in width.factors), (source, text)
                full = pattern.fullmatch(text)
                if width.exact is not None and full is not None:
                    assert text in width.exact, (source, text)
    assert matched > 10_000


_VOCABULARY = ["a", "b", "ab", "c", "took", "30", "pills", "at", "gmail", "dot", "com", "im"]


def _random_words_pattern(rng: random.Random) -> str:
    """A words-view pattern: words, alternatives and optional words between spaces."""
    parts = [" "]
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        if roll < 0.4:
            parts.append(rng.choice(_VOCABULARY) + " ")
        elif roll < 0.65:
            words = rng.sample(_VOCABULARY, rng.randint(2, 4))
            parts.append("(?:" + "|".join(words) + ") ")
        elif roll < 0.85:
            parts.append(f"(?:{rng.choice(_VOCABULARY)} )?")
        else:
            parts.append(rng.choice(["[0-9]+ ", "[a-z]+ ", "\\w+ ", "(?:a|b)+ "]))
    if rng.random() < 0.3:
        parts.pop(0)
    return "".join(parts)


def test_the_words_hint_never_changes_what_matches() -> None:
    """matcher.Scan.words: a words-view text holding none of them has no match."""
    rng = random.Random(3)
    token_lists = [rng.choices(_VOCABULARY, k=rng.randint(1, 8)) for _ in range(300)]
    sources = [_random_words_pattern(rng) for _ in range(300)]
    sources = [source for source in sources if accepts(source)]
    sources += [p.replace("\\d", "[0-9]") for p in _random_patterns(100)]
    sources += [p["regex"] for c in rules()["categories"] for p in c.get("patterns", [])]
    sources += [" (?:took|take) [0-9]+ pills ", " at (?:gmail|hotmail) (?:dot )?com ", " c(?: a)? "]
    scans = [Scan.of(0, source, "words") for source in sources]
    assert sum(scan.words is not None for scan in scans) > 150
    matched = skipped = 0
    for tokens in token_lists:
        view = f" {' '.join(tokens)} "
        for scan in scans:
            plain = Scan(0, scan.pattern, None, None, None)
            found = pattern_hits([plain], view)
            assert pattern_hits([scan], view, tokens) == found, (scan.pattern.pattern, view)
            matched += bool(found)
            skipped += scan.words is not None and scan.words.isdisjoint(tokens)
    assert matched > 5000 and skipped > 5000


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii only",
        "I\u2019m fine \U0001f642 thanks",  # a few: the regex
        "\u041f\u0440\u0438\u0432\u0435\u0442 " * 40,  # Cyrillic, most of it: the set
        "\u8fd9\u5468\u5f88\u96be" * 30,  # CJK
        "ok \U0001f642 " * 40,  # many emoji (four UTF-8 bytes each)
        "a\ud800b \udfff c",  # lone surrogates, as a decrypted text may hold
    ],
)
def test_non_ascii_finds_each_distinct_character_either_way(text: str) -> None:
    assert non_ascii(text) == {c for c in text if not c.isascii()}
