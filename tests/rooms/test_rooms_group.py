"""Group settings: defaults, validation and the ground-rules digest."""

from __future__ import annotations

import math
from typing import Any

import pytest

from rooms.errors import Code, Invalid
from rooms.group import (
    DEFAULT_CAPACITY,
    DEFAULT_DURATION_MINUTES,
    EDITABLE,
    MAX_CAPACITY,
    MAX_ITEMS,
    MAX_TEXT,
    Group,
    edited,
    new_group,
    validate_changes,
)


def test_new_group_defaults() -> None:
    g = new_group("g1", "fran", {"title": "  Tuesday group  "})
    assert g.id == "g1"
    assert g.title == "Tuesday group"
    assert g.facilitators == ("fran",)
    assert g.capacity == DEFAULT_CAPACITY == 8
    assert g.duration_minutes == DEFAULT_DURATION_MINUTES == 70
    assert g.ground_rules == ()
    assert g.crisis_resources == ()
    assert g.slow_mode_seconds == 0.0
    assert g.flood_messages == 5
    assert g.flood_window_seconds == 10.0
    assert g.max_payload_bytes == 16 * 1024


def test_new_group_takes_settings() -> None:
    g = new_group(
        "g1",
        "fran",
        {
            "title": "T",
            "capacity": 4,
            "ground_rules": ["Be kind.", "  Listen.  "],
            "crisis_resources": "Call 116 123\n\n  Text SHOUT to 85258 ",
            "duration_minutes": 90,
            "slow_mode_seconds": 2,
            "flood_messages": 3,
            "flood_window_seconds": 20,
        },
    )
    assert g.capacity == 4
    assert g.ground_rules == ("Be kind.", "Listen.")
    assert g.crisis_resources == ("Call 116 123", "Text SHOUT to 85258")
    assert g.duration_minutes == 90
    assert g.slow_mode_seconds == 2.0 and isinstance(g.slow_mode_seconds, float)
    assert g.flood_messages == 3
    assert g.flood_window_seconds == 20.0 and isinstance(g.flood_window_seconds, float)


def test_new_group_requires_a_title() -> None:
    with pytest.raises(Invalid) as info:
        new_group("g1", "fran", {"capacity": 4})
    assert info.value.field == "title"
    assert info.value.code is Code.INVALID
    assert info.value.detail == {"field": "title"}


@pytest.mark.parametrize("title", ["", "   ", "x" * 121, 5, None, ["T"]])
def test_bad_titles(title: object) -> None:
    with pytest.raises(Invalid) as info:
        new_group("g1", "fran", {"title": title})
    assert info.value.field == "title"


def test_title_of_120_characters_is_fine() -> None:
    assert new_group("g", "f", {"title": "x" * 120}).title == "x" * 120


@pytest.mark.parametrize("key", ["colour", "max_payload_bytes", "id", "facilitators"])
def test_unknown_keys_are_refused(key: str) -> None:
    with pytest.raises(Invalid) as info:
        validate_changes({key: 1})
    assert info.value.field == key


@pytest.mark.parametrize("key", ["", "x" * 41, "<script>", "two words"])
def test_an_odd_unknown_key_is_not_echoed(key: str) -> None:
    with pytest.raises(Invalid) as info:
        validate_changes({key: 1})
    assert info.value.field == "?"
    assert key not in info.value.reason or not key


def test_rules_and_resources_must_fit_one_frame() -> None:
    with pytest.raises(Invalid) as info:
        new_group("g", "f", {"title": "T", "ground_rules": ["é" * 1000] * 9})
    assert info.value.field == "ground_rules"
    assert new_group("g", "f", {"title": "T", "ground_rules": ["e" * 1000] * 15})


def test_the_first_unknown_key_in_sorted_order_is_named() -> None:
    with pytest.raises(Invalid) as info:
        validate_changes({"zeta": 1, "alpha": 2, "title": "ok"})
    assert info.value.field == "alpha"


BAD_TYPES: list[tuple[str, Any]] = [
    ("capacity", "8"),
    ("capacity", 8.0),
    ("capacity", None),
    ("duration_minutes", 70.5),
    ("duration_minutes", "70"),
    ("slow_mode_seconds", "2"),
    ("slow_mode_seconds", None),
    ("flood_messages", 5.0),
    ("flood_window_seconds", "10"),
    ("title", 5),
    ("ground_rules", 5),
    ("ground_rules", [1]),
    ("ground_rules", ["ok", None]),
    ("ground_rules", {"a": "b"}),
    ("crisis_resources", [b"bytes"]),
]


@pytest.mark.parametrize(("key", "value"), BAD_TYPES)
def test_bad_types_are_refused(key: str, value: object) -> None:
    with pytest.raises(Invalid) as info:
        validate_changes({key: value})
    assert info.value.field == key


@pytest.mark.parametrize(
    "key",
    ["capacity", "duration_minutes", "slow_mode_seconds", "flood_messages", "flood_window_seconds"],
)
@pytest.mark.parametrize("value", [True, False])
def test_bool_is_not_a_number(key: str, value: bool) -> None:
    with pytest.raises(Invalid) as info:
        validate_changes({key: value})
    assert info.value.field == key


OUT_OF_RANGE: list[tuple[str, Any]] = [
    ("capacity", 0),
    ("capacity", -1),
    ("capacity", MAX_CAPACITY + 1),
    ("duration_minutes", 4),
    ("duration_minutes", 601),
    ("slow_mode_seconds", -0.5),
    ("slow_mode_seconds", 600.5),
    ("slow_mode_seconds", math.nan),
    ("slow_mode_seconds", math.inf),
    ("flood_messages", 0),
    ("flood_messages", 10001),
    ("flood_window_seconds", 0.5),
    ("flood_window_seconds", 601),
    ("flood_window_seconds", math.nan),
]


@pytest.mark.parametrize(("key", "value"), OUT_OF_RANGE)
def test_out_of_range_is_refused(key: str, value: object) -> None:
    with pytest.raises(Invalid) as info:
        validate_changes({key: value})
    assert info.value.field == key


IN_RANGE: list[tuple[str, Any]] = [
    ("capacity", 1),
    ("capacity", MAX_CAPACITY),
    ("duration_minutes", 5),
    ("duration_minutes", 600),
    ("slow_mode_seconds", 0),
    ("slow_mode_seconds", 600),
    ("slow_mode_seconds", 2.5),
    ("flood_messages", 1),
    ("flood_messages", 10000),
    ("flood_window_seconds", 1),
    ("flood_window_seconds", 600.0),
]


@pytest.mark.parametrize(("key", "value"), IN_RANGE)
def test_boundaries_are_accepted(key: str, value: object) -> None:
    assert validate_changes({key: value}) == {key: value}


def test_too_many_rules_are_refused() -> None:
    validate_changes({"ground_rules": ["r"] * MAX_ITEMS})
    with pytest.raises(Invalid) as info:
        validate_changes({"ground_rules": ["r"] * (MAX_ITEMS + 1)})
    assert info.value.field == "ground_rules"


def test_a_rule_too_long_or_blank_is_refused() -> None:
    validate_changes({"ground_rules": ["x" * MAX_TEXT]})
    for bad in (["x" * (MAX_TEXT + 1)], ["   "]):
        with pytest.raises(Invalid) as info:
            validate_changes({"ground_rules": bad})
        assert info.value.field == "ground_rules"


def test_empty_rules_are_allowed() -> None:
    assert validate_changes({"ground_rules": []}) == {"ground_rules": ()}
    assert validate_changes({"ground_rules": ""}) == {"ground_rules": ()}


def test_rules_digest_is_a_short_stable_fingerprint() -> None:
    g = Group(id="g", title="t", ground_rules=("Be kind.", "Listen."))
    digest = g.rules_digest()
    assert len(digest) == 16
    int(digest, 16)  # hex
    assert Group(id="other", title="u", ground_rules=("Be kind.", "Listen.")).rules_digest() == (
        digest
    )


def test_rules_digest_changes_when_rules_change() -> None:
    g = Group(id="g", title="t", ground_rules=("Be kind.", "Listen."))
    digests = {
        g.rules_digest(),
        edited(g, {"ground_rules": ["Be kind.", "Listen!"]}).rules_digest(),
        edited(g, {"ground_rules": ["Listen.", "Be kind."]}).rules_digest(),
        edited(g, {"ground_rules": ["Be kind."]}).rules_digest(),
        edited(g, {"ground_rules": []}).rules_digest(),
        Group(id="g", title="t", ground_rules=("Be kind.Listen.",)).rules_digest(),
    }
    assert len(digests) == 6


def test_rules_digest_ignores_other_settings() -> None:
    g = Group(id="g", title="t", ground_rules=("Be kind.",))
    assert edited(g, {"title": "New", "capacity": 3}).rules_digest() == g.rules_digest()


def test_edited_validates_and_keeps_the_rest() -> None:
    g = new_group("g1", "fran", {"title": "T", "capacity": 4})
    h = edited(g, {"capacity": 6})
    assert h.capacity == 6 and h.title == "T" and h.id == "g1" and h.facilitators == ("fran",)
    assert g.capacity == 4
    with pytest.raises(Invalid):
        edited(g, {"capacity": 0})


def test_public_gives_lists_not_tuples() -> None:
    g = new_group("g1", "fran", {"title": "T", "ground_rules": ["a", "b"]})
    out = g.public()
    assert out["ground_rules"] == ["a", "b"]
    assert out["facilitators"] == ["fran"]
    assert out["crisis_resources"] == []
    assert out["capacity"] == 8
    assert set(EDITABLE) <= set(out)


# ---- content rules: the shape only (the engine and the clients check the rest) ----------

KEY, SIG = "A" * 43, "B" * 86  # 32 and 64 bytes in base64url without padding


def test_content_rules_default_to_none_and_take_a_signed_tuning() -> None:
    assert new_group("g1", "fran", {"title": "T"}).content_rules is None
    rules = {"tuning": '{"format": "x"}', "by": KEY, "sig": SIG}
    g = new_group("g1", "fran", {"title": "T", "content_rules": rules})
    assert g.content_rules == rules
    assert g.public()["content_rules"] == rules
    assert edited(g, {"content_rules": None}).content_rules is None


@pytest.mark.parametrize(
    "rules",
    [
        "not an object",
        {"tuning": "{}", "by": KEY},
        {"tuning": "{}", "by": KEY, "sig": SIG, "extra": 1},
        {"tuning": "", "by": KEY, "sig": SIG},
        {"tuning": "x" * 8193, "by": KEY, "sig": SIG},
        {"tuning": 42, "by": KEY, "sig": SIG},
        {"tuning": "{}", "by": KEY + "=", "sig": SIG},
        {"tuning": "{}", "by": KEY[:-1], "sig": SIG},
        {"tuning": "{}", "by": KEY, "sig": SIG[:-1] + "+"},
    ],
)
def test_bad_content_rules_are_refused(rules: object) -> None:
    with pytest.raises(Invalid) as info:
        validate_changes({"content_rules": rules})
    assert info.value.field == "content_rules"


def test_the_groups_current_list_decides_who_facilitates() -> None:
    g = Group(id="g_1", title="Tuesday", facilitators=("ann", "bo"))
    assert g.run_by("ann") and g.run_by("bo")
    assert not g.run_by("cy") and not g.run_by("") and not g.run_by("Ann")
