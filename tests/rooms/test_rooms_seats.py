"""Seat links: tokens, hashes, expiry and what a holder meets at the door."""

from __future__ import annotations

import base64
import math

import pytest

from rooms.errors import AuthError, Code, Invalid
from rooms.links import link_url, token_from_link
from rooms.seats import (
    DEFAULT_EXPIRY_HOURS,
    MAX_EXPIRY_HOURS,
    SeatLink,
    expiry,
    hash_token,
    new_id,
    new_token,
)

NOW = 1_700_000_000.0


def link(**kw: object) -> SeatLink:
    base: dict[str, object] = {
        "id": "seat_1",
        "group_id": "g1",
        "token_hash": hash_token("tok"),
        "label": "Ann",
        "created_at": NOW,
        "expires_at": NOW + 3600,
    }
    base.update(kw)
    return SeatLink(**base)  # type: ignore[arg-type]


def test_valid_link_passes() -> None:
    link().check(NOW)
    link().check(NOW + 3599.9)


def test_expired_link() -> None:
    for when in (NOW + 3600, NOW + 10**6):
        with pytest.raises(AuthError) as info:
            link().check(when)
        assert info.value.code is Code.LINK_EXPIRED


def test_revoked_link_even_before_expiry() -> None:
    with pytest.raises(AuthError) as info:
        link(revoked_at=NOW + 1).check(NOW + 2)
    assert info.value.code is Code.LINK_REVOKED


def test_revoked_wins_over_expired() -> None:
    with pytest.raises(AuthError) as info:
        link(revoked_at=NOW + 1).check(NOW + 10**6)
    assert info.value.code is Code.LINK_REVOKED


def test_public_never_shows_the_hash() -> None:
    out = link().public(NOW)
    assert "token_hash" not in out
    assert hash_token("tok") not in out.values()
    assert out["status"] == "active"
    assert link().public(NOW + 3600)["status"] == "expired"
    assert link(revoked_at=NOW).public(NOW)["status"] == "revoked"
    assert link(revoked_at=NOW).public(NOW + 10**6)["status"] == "revoked"


def test_token_from_full_link() -> None:
    token = new_token()
    url = link_url("https://chat.example.org/", token)
    assert url == f"https://chat.example.org/join#seat={token}"
    assert token_from_link(url) == token
    assert token_from_link(f"  {url}\n") == token


def test_a_link_carries_the_facilitators_identity_keys_in_its_fragment() -> None:
    token = new_token()
    one, two = bytes(range(32)), b"\xff" * 32
    url = link_url("https://chat.example.org", token, [one, two])
    fragment = url.split("#", 1)[1]
    # base64url without padding, one f per facilitator, after the seat.
    assert fragment == (
        f"seat={token}&f=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
        "&f=__________________________________________8"
    )
    assert token_from_link(url) == token


def test_token_from_bare_token() -> None:
    token = new_token()
    assert token_from_link(token) == token
    assert token_from_link(f"  {token} ") == token


def test_token_from_a_fragment_pasted_without_its_hash() -> None:
    token, key = new_token(), "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    # Only the seat goes to the server, never the facilitator keys beside it.
    assert token_from_link(f"seat={token}&f={key}") == token
    assert token_from_link(f" f={key}&seat={token}&f={key}\n") == token
    assert token_from_link(f"#seat={token}&f={key}") == token


@pytest.mark.parametrize(
    "bad",
    [
        "f=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "seat=",
        "join?seat=abc",
        "https://chat.example.org/join",
        "https://chat.example.org/join#",
        "https://chat.example.org/join#seat=",
        "https://chat.example.org/join#other=abc",
        "https://chat.example.org/join?seat=abc",
        "#nothing",
    ],
)
def test_link_without_a_seat_is_unknown(bad: str) -> None:
    with pytest.raises(AuthError) as info:
        token_from_link(bad)
    assert info.value.code is Code.LINK_UNKNOWN


def test_hash_token_is_not_the_token() -> None:
    token = new_token()
    h = hash_token(token)
    assert h != token
    assert token not in h
    assert len(h) == 64
    assert h == hash_token(token)
    assert h != hash_token(token + "x")


def test_new_token_has_at_least_128_bits() -> None:
    token = new_token()
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128
    assert len(token) >= 22  # 128 bits at 6 bits per url-safe character
    assert "/" not in token and "#" not in token and "+" not in token


def test_new_tokens_and_ids_differ() -> None:
    assert len({new_token() for _ in range(50)}) == 50
    ids = {new_id("seat") for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("seat_") for i in ids)


def test_expiry_default_and_given() -> None:
    assert expiry(NOW, None) == NOW + DEFAULT_EXPIRY_HOURS * 3600.0
    assert expiry(NOW, 1) == NOW + 3600.0
    assert expiry(NOW, 0.5) == NOW + 1800.0
    assert expiry(NOW, MAX_EXPIRY_HOURS) == NOW + MAX_EXPIRY_HOURS * 3600.0


@pytest.mark.parametrize(
    "hours", [0, -1, MAX_EXPIRY_HOURS + 1, math.nan, math.inf, True, False, "24", [24]]
)
def test_expiry_refuses_bad_values(hours: object) -> None:
    with pytest.raises(Invalid) as info:
        expiry(NOW, hours)
    assert info.value.field == "expires_in_hours"


def test_identity_keys_in_a_link_are_read_strictly_in_one_place() -> None:
    from rooms.links import (
        b64u_encode,
        identities_from_link,
        identity_key,
        link_with_identities,
    )

    one, two = bytes(range(32)), bytes(range(1, 33))
    assert identity_key(b64u_encode(one)) == one
    assert identity_key(f" f={b64u_encode(one)}\n") == one
    for bad in ("", "abc", b64u_encode(one) + "=", b64u_encode(one + b"x"), "ab+/" * 11):
        assert identity_key(bad) is None
    url = link_url("https://chat.example.org", "TOKEN", [one])
    assert identities_from_link(url) == [one]
    assert identities_from_link(link_with_identities(url, [one, two])) == [one, two]
    with pytest.raises(Invalid) as caught:
        identities_from_link(url + "&f=abc")
    assert caught.value.field == "link"
