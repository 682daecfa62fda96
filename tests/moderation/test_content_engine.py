"""The Python content engine (moderation/content): the shared vectors and its own promises."""

from __future__ import annotations

import re

import pytest
from content_fixtures import fuzz_texts, vectors

from moderation.content import default_policy, evaluate
from moderation.content.engine import CLEAR
from moderation.content.matcher import Scan, pattern_hits
from moderation.content.normalise import base

POLICY = default_policy()
VECTORS = vectors()


def test_the_python_engine_passes_every_vector() -> None:
    cases = VECTORS["cases"]
    assert len(cases) >= 300
    failures = []
    for case in cases:
        got = evaluate(case["text"], POLICY)
        if list(got.categories) != case["categories"] or got.action != case["action"]:
            failures.append(f"{case['text']!r}: {got.categories} {got.action}")
    assert failures == []


def test_every_category_has_cases_and_there_are_innocent_ones() -> None:
    labelled = {c for case in VECTORS["cases"] for c in case["categories"]}
    assert labelled == {c.id for c in POLICY.categories}
    assert sum(1 for case in VECTORS["cases"] if not case["categories"]) >= 80


@pytest.mark.parametrize("text", [case["text"] for case in VECTORS["cases"][::7]])
def test_verdict_fields_follow_from_the_categories(text: str) -> None:
    v = evaluate(text, POLICY)
    cats = [POLICY.category(c) for c in v.categories]
    assert v.alert == tuple(c.id for c in cats if c.alert)
    assert v.warn == tuple(c.id for c in cats if c.action == "warn")
    assert v.block == tuple(c.id for c in cats if c.action == "block")
    assert set(v.cw) == {c.label for c in cats if c.action in ("cw", "block")}
    assert v.sendable == (v.action != "block")
    # Every category is placed at least once, and every match is a piece of the text.
    assert {m.category for m in v.matches} == set(v.categories)
    assert all(0 <= m.start < m.end <= len(text) for m in v.matches)


def test_categories_combine_as_documented() -> None:
    v = evaluate("call me on 07700 900123, I want to die", POLICY)
    assert v.categories == ("self_harm", "personal_info")
    assert (v.action, v.warn, v.cw, v.block, v.alert) == (
        "cw",
        ("personal_info",),
        ("Suicide or self-harm",),
        (),
        ("self_harm",),
    )
    b = evaluate("how to kill myself without pain", POLICY)
    assert (b.action, b.block, b.alert) == (
        "block",
        ("method_detail",),
        ("self_harm", "method_detail"),
    )
    assert b.cw == ("Suicide or self-harm", "Details of self-harm or suicide methods")
    assert evaluate("thank you all", POLICY) is CLEAR


@pytest.mark.parametrize(
    "text", ["I feel like ending it", "I feel suicidal", "I want to die", "I can't go on like this"]
)
def test_saying_you_feel_like_ending_it_is_never_blocked(text: str) -> None:
    v = evaluate(text, POLICY)
    assert (v.action, v.alert) == ("cw", ("self_harm",))


def test_matches_are_offsets_into_the_original_text() -> None:
    text = "ok \U0001d424\U0001d422\U0001d425\U0001d425 my\u200bself!"
    (m,) = evaluate(text, POLICY).matches
    assert (m.category, text[m.start : m.end]) == ("self_harm", text[3:-1])
    phone = "x \uff10\uff17\uff17\uff10\uff10 900123 y"
    (p,) = evaluate(phone, POLICY).matches
    assert phone[p.start : p.end] == "\uff10\uff17\uff17\uff10\uff10 900123"
    spaced = "so k i l l myself now"
    (s,) = evaluate(spaced, POLICY).matches
    assert spaced[s.start : s.end] == "k i l l myself"


@pytest.mark.parametrize(
    ("char", "plain"),
    [
        ("A", "a"),
        ("\uff2b", "k"),  # fullwidth
        ("\U0001d424", "k"),  # mathematical bold
        ("\u00e9", "e"),  # precomposed accent
        ("\u0130", "i"),  # capital I with dot: lower-casing decomposes it
        ("\u200d", ""),  # zero-width joiner
        ("\u0301", ""),  # combining accent
        ("\u202e", ""),  # bidi override
        ("\u00a0", " "),  # no-break space
        ("\u2028", " "),  # line separator
        ("\t", " "),
        ("\ufb01", "fi"),  # ligature
        ("\u00bd", "1\u20442"),  # compatibility fraction
        ("\u0430", "\u0430"),  # Cyrillic a: only the folded view maps look-alikes
    ],
)
def test_the_plain_view_of_a_character(char: str, plain: str) -> None:
    assert base(char) == plain


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("k i l l", ["kill"]),
        ("k.i.l.l me", ["kill", "me"]),
        ("I a m", ["iam"]),
        ("a.m. meeting", ["a", "m", "meeting"]),
        ("don't", ["dont"]),
        ("don\u2019t", ["dont"]),
        ("'quoted'", ["quoted"]),
        ("sh!t!", ["shit"]),
        ("!!!", []),
        ("k1ll 4ss $hit a$$", ["kill", "ass", "shit", "ass"]),
        ("500mg 10am 2024", ["500mg", "10am", "2024"]),
        ("$5 $$ @", ["$5"]),
        ("ki.ll self-harm", ["ki", "ll", "self", "harm"]),
        ("snake_case", ["snake", "case"]),
        ("\u0455\u0443\u0456\u0441\u0456d\u0435", ["syicide"]),
        ("c\u0336a\u0336t\u0336", ["cat"]),
    ],
)
def test_tokens(text: str, tokens: list[str]) -> None:
    n = POLICY.normaliser
    assert n.tokens(n.fold(text)).texts == tokens
    quick = n.quick(text)
    assert quick is None or quick.texts == tokens


def test_glue_is_short_punctuation_without_a_space() -> None:
    n = POLICY.normaliser
    tokens = n.tokens(n.fold("ki.ll ki...ll ki....ll ki. ll"))
    assert [tokens.glued(k) for k in range(len(tokens.texts))] == [
        False,
        True,
        False,
        True,
        False,
        False,
        False,
        False,
    ]  # fmt: skip (ki|ll, ki...ll glued; four dots or a space separate)


def test_the_quick_tokens_equal_the_exact_ones() -> None:
    n = POLICY.normaliser
    texts = [case["text"] for case in VECTORS["cases"]] + fuzz_texts(600)
    for text in texts:
        quick = n.quick(text)
        if quick is not None:
            assert quick.texts == n.tokens(n.fold(text)).texts, text


def test_scan_hints_never_change_what_matches() -> None:
    """The gate, start and words hints only skip places where a pattern cannot match."""
    scans = POLICY.matcher.word_patterns + POLICY.matcher.text_patterns
    plain_scans = [Scan(s.category, s.pattern, None, None, None) for s in scans]
    texts = [case["text"] for case in VECTORS["cases"]] + fuzz_texts(300)
    n = POLICY.normaliser
    for text in texts:
        words = n.tokens(n.fold(text)).texts
        assert pattern_hits(scans, n.plain(text)) == pattern_hits(plain_scans, n.plain(text))
        view = f" {' '.join(words)} "
        assert pattern_hits(scans, view, words) == pattern_hits(plain_scans, view), text


@pytest.mark.parametrize(
    "text",
    ["", " ", "\ud800", "\udc00abc", "\U0001f600" * 500, "a" * 5000, "k i l l " * 100, "_" * 50],
)
def test_odd_input_never_raises(text: str) -> None:
    assert evaluate(text, POLICY).action in ("none", "warn", "cw", "block")


def test_a_long_hostile_text_stays_fast_enough() -> None:
    """Many distinct code points and repeated prefixes must not blow up time or caches."""
    import time

    text = "".join(chr(0x4E00 + k) for k in range(3000)) + " i " * 2000
    start = time.perf_counter()
    evaluate(text, POLICY)
    assert time.perf_counter() - start < 2.0


def test_patterns_only_see_what_the_docs_promise() -> None:
    """Word patterns read folded tokens between single spaces, text patterns the plain view."""
    n = POLICY.normaliser
    text = "I T00K  30\tPills!!"
    assert f" {' '.join(n.tokens(n.fold(text)).texts)} " == " i took 30 pills "
    assert n.plain(text) == "i t00k  30 pills!!"
    assert re.search(r"[A-Z]", n.plain("ABC \uff21")) is None
