"""The roster: display names and what others see of a participant."""

from __future__ import annotations

import math

import pytest

from rooms.errors import Code, DomainError
from rooms.roster import Participant, Role, clean_name
from rooms.wire import MAX_NAME_CHARS


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Ann", "Ann"),
        ("  Ann  ", "Ann"),
        ("An\x00n", "Ann"),
        ("A\u202enn", "Ann"),  # a bidi override cannot flip how the name reads
        ("Zoe\u0301", "Zo\u00e9"),  # NFC
        ("x" * MAX_NAME_CHARS, "x" * MAX_NAME_CHARS),
        ("e\u0301" * MAX_NAME_CHARS, "\u00e9" * MAX_NAME_CHARS),  # counted after NFC
        ("Anonymous owl", "Anonymous owl"),
    ],
)
def test_clean_name(raw: str, shown: str) -> None:
    assert clean_name(raw) == shown


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "\t\n", "\x00\x07", "\u200b", "x" * (MAX_NAME_CHARS + 1), " " + "y" * 41],
)
def test_bad_names(raw: str) -> None:
    with pytest.raises(DomainError) as info:
        clean_name(raw)
    assert info.value.code is Code.NAME_INVALID


@pytest.mark.parametrize("raw", ["\u200b Bob", "\x00 Bob", "Bob \x00"])
def test_clean_name_is_trimmed_after_dropping_invisible_characters(raw: str) -> None:
    assert clean_name(raw) == "Bob"


def test_a_name_that_is_only_blank_once_cleaned_is_invalid() -> None:
    with pytest.raises(DomainError) as info:
        clean_name("\u200b \u200b")
    assert info.value.code is Code.NAME_INVALID


def test_participant_public() -> None:
    p = Participant("p1", "Ann", Role.MEMBER, "seat_1", keys=b"k")
    assert p.public() == {
        "pid": "p1",
        "name": "Ann",
        "role": "member",
        "present": True,
        "connected": True,
        "hand": False,
        "muted": False,
        "until": None,
        "keys": b"k",
        "vouches": [],
    }
    assert not p.is_facilitator
    assert Participant("p2", "Fran", Role.FACILITATOR, "fran").is_facilitator


def test_public_never_shows_the_seat() -> None:
    p = Participant("p1", "Ann", Role.MEMBER, "seat_secret")
    assert "seat_secret" not in p.public().values()
    assert "seat" not in p.public()


def test_public_mute_states() -> None:
    p = Participant("p1", "Ann", Role.MEMBER, "s", muted_until=math.inf)
    assert p.public()["muted"] is True
    assert p.public()["until"] is None
    p.muted_until = 1234.5
    assert p.public()["muted"] is True
    assert p.public()["until"] == 1234.5


def test_new_keys_void_the_vouches() -> None:
    # A vouch signs one bundle of keys; the server must not carry it over to
    # another, or clients would see a stale (failing) vouch as the only one.
    p = Participant("p1", "Ann", Role.MEMBER, "seat_1", keys=b"k")
    p.vouches[b"f" * 32] = (b"a" * 16, b"s" * 64)
    p.set_keys(b"k")
    assert p.public()["vouches"] == [{"by": b"f" * 32, "anchor": b"a" * 16, "sig": b"s" * 64}]
    p.set_keys(b"k2")
    assert p.public()["vouches"] == []
    assert p.keys == b"k2"
