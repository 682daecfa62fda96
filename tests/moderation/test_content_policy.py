"""Rules documents: loading, validation errors, the pattern subset, per-group tuning."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from content_fixtures import bad_documents, rules, vectors

from moderation.content import (
    TUNING_FORMAT,
    Policy,
    RulesError,
    apply_tuning,
    default_policy,
    evaluate,
    load_policy,
)
from moderation.content.patterns import PatternError, check_pattern
from moderation.content.policy import expand
from rooms.errors import Code, SafespaceError


def test_the_default_rules_cover_what_a_support_group_needs() -> None:
    policy = default_policy()
    by_id = {c.id: c for c in policy.categories}
    assert set(by_id) >= {
        "self_harm",
        "method_detail",
        "substances",
        "violence",
        "threats",
        "insults",
        "hate",
        "personal_info",
    }
    # Feelings are labelled and alerted, never blocked; method detail is blocked and alerted.
    assert (by_id["self_harm"].action, by_id["self_harm"].alert) == ("cw", True)
    assert (by_id["method_detail"].action, by_id["method_detail"].alert) == ("block", True)
    assert all(c.label and c.message for c in policy.categories)
    assert default_policy() is policy  # compiled once per process


@pytest.mark.parametrize(("doc", "where"), bad_documents())
def test_a_bad_document_names_the_place(doc: dict[str, Any], where: str) -> None:
    with pytest.raises(RulesError) as caught:
        Policy(doc)
    assert caught.value.where == where
    assert caught.value.code is Code.BAD_RULES
    assert isinstance(caught.value, SafespaceError)
    assert where in caught.value.reason


def test_an_error_never_echoes_the_offending_text() -> None:
    doc = rules()
    doc["categories"][2]["words"].append("secret words here")
    with pytest.raises(RulesError) as caught:
        Policy(doc)
    assert "secret" not in str(caught.value)
    assert caught.value.detail == {"where": caught.value.where}


def test_load_policy_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(rules()), encoding="utf-8")
    assert [c.id for c in load_policy(path).categories] == [c["id"] for c in rules()["categories"]]
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_policy(path)
    assert caught.value.where == "file"
    with pytest.raises(RulesError):
        load_policy(tmp_path / "missing.json")


def test_the_document_is_kept_and_not_shared() -> None:
    doc = rules()
    policy = Policy(doc)
    doc["categories"][0]["action"] = "off"
    assert policy.categories[0].action == "cw"
    assert policy.document["categories"][0]["action"] == "cw"
    assert json.loads(json.dumps(policy.document)) == policy.document


@pytest.mark.parametrize("source", vectors()["patterns"]["valid"])
def test_patterns_inside_the_subset_are_accepted(source: str) -> None:
    check_pattern(source)
    re.compile(source, re.ASCII)


@pytest.mark.parametrize("source", vectors()["patterns"]["invalid"])
def test_patterns_outside_the_subset_are_refused(source: str) -> None:
    with pytest.raises(PatternError):
        check_pattern(source)


def test_pattern_hints() -> None:
    phone = check_pattern(r"(?<![0-9])\+?[0-9](?:[ .\-]?[0-9]){8,}")
    assert phone.need == frozenset("0123456789")
    assert phone.first == frozenset("+0123456789")
    email = check_pattern(r"[a-z0-9.]+@[a-z]+\.[a-z]{2,}")
    assert email.need == frozenset("@")
    assert check_pattern(r"x?.").first is None
    # Strings one of which every match holds: here, whole words of the words view.
    pills = check_pattern(r" (?:took|take) (?:about )?[0-9]+ (?:pills|tablets) ")
    assert pills.factors == frozenset({" pills ", " tablets "})  # longer than " took "
    assert check_pattern(r"a(?:b|c)?d").factors == frozenset({"ad", "abd", "acd"})
    assert check_pattern(r"(?:ab)?c|d").factors == frozenset({"c", "abc", "d"})
    assert check_pattern(r"x*y+").factors == frozenset({"y"})
    assert check_pattern(r"x?.").factors is None


def test_brace_alternatives() -> None:
    assert expand("kill{,s,ed} {you,u}") == [
        "kill you",
        "kill u",
        "kills you",
        "kills u",
        "killed you",
        "killed u",
    ]
    assert expand("plain") == ["plain"]
    for bad in ("a{b", "a}b", "{a{b}}"):
        with pytest.raises(ValueError):
            expand(bad)


def _tuned(changes: dict[str, Any]) -> Policy:
    return Policy(apply_tuning(rules(), {"format": TUNING_FORMAT, "categories": changes}))


def test_tuning_turns_a_category_down_or_off() -> None:
    assert evaluate("I got drunk", _tuned({"substances": {"action": "warn"}})).action == "warn"
    off = _tuned({"substances": {"action": "off"}})
    assert evaluate("I got drunk", off).categories == ()
    assert evaluate("I got drunk", default_policy()).action == "cw"


def test_tuning_turns_a_category_up_and_alerts() -> None:
    tuned = _tuned({"insults": {"action": "block", "alert": True}})
    v = evaluate("you idiot", tuned)
    assert (v.action, v.block, v.alert) == ("block", ("insults",), ("insults",))


def test_an_alert_only_category_alerts_without_acting() -> None:
    v = evaluate("I got drunk", _tuned({"substances": {"action": "off", "alert": True}}))
    assert (v.categories, v.action, v.alert, v.cw) == (("substances",), "none", ("substances",), ())


def test_tuning_adds_words_and_phrases() -> None:
    tuned = _tuned(
        {
            "substances": {"add_words": ["sesh"], "add_phrases": ["on the {lash,piss}"]},
            "hate": {"add_words": ["fag"]},
        }
    )
    assert evaluate("big sesh last night", tuned).categories == ("substances",)
    assert evaluate("I was on the lash", tuned).categories == ("substances",)
    assert evaluate("f@g", tuned).action == "block"
    assert evaluate("big sesh last night", default_policy()).categories == ()


def test_tuning_ignores_words_for_a_group() -> None:
    """A recovery group may talk about alcohol without a label every time."""
    tuned = _tuned({"substances": {"ignore": ["alcohol", "alcoholic", "drinking again"]}})
    assert evaluate("my dad was an alcoholic", tuned).categories == ()
    assert evaluate("I'm drinking again", tuned).categories == ()
    assert evaluate("cocaine nearly ruined my life", tuned).categories == ("substances",)


def test_a_tuned_document_is_a_whole_rules_document() -> None:
    doc = apply_tuning(
        rules(), {"format": TUNING_FORMAT, "categories": {"insults": {"add_words": ["numpty"]}}}
    )
    assert doc["format"] == rules()["format"]
    insults = next(c for c in doc["categories"] if c["id"] == "insults")
    assert "numpty" in insults["words"]
    again = apply_tuning(
        doc, {"format": TUNING_FORMAT, "categories": {"insults": {"add_words": ["numpty"]}}}
    )
    assert (
        next(c for c in again["categories"] if c["id"] == "insults")["words"].count("numpty") == 1
    )


@pytest.mark.parametrize(
    ("tuning", "where"),
    [
        ([], "tuning"),
        ({"format": "x"}, "tuning.format"),
        ({"format": TUNING_FORMAT, "extra": 1}, "tuning"),
        ({"format": TUNING_FORMAT, "categories": []}, "tuning.categories"),
        ({"format": TUNING_FORMAT, "categories": {"nope": {}}}, "tuning.categories.nope"),
        ({"format": TUNING_FORMAT, "categories": {"insults": 3}}, "tuning.categories.insults"),
        (
            {"format": TUNING_FORMAT, "categories": {"insults": {"action": "louder"}}},
            "tuning.categories.insults.action",
        ),
        (
            {"format": TUNING_FORMAT, "categories": {"insults": {"colour": "red"}}},
            "tuning.categories.insults",
        ),
        (
            {"format": TUNING_FORMAT, "categories": {"insults": {"add_words": ["two words"]}}},
            "categories.insults.words[13]",
        ),
        (
            {"format": TUNING_FORMAT, "categories": {"insults": {"add_phrases": "x y"}}},
            "tuning.categories.insults.add_phrases",
        ),
    ],
)
def test_a_bad_tuning_names_the_place(tuning: Any, where: str) -> None:
    with pytest.raises(RulesError) as caught:
        apply_tuning(rules(), tuning)
    assert caught.value.where == where
