"""A group's content rules, signed by a facilitator (docs/e2ee.md section 11).

A facilitator tunes a group's content rules (moderation/content/README.md)
and signs the tuning with its identity key; members' clients apply it only if
the signer is one of the identities they trust (their link's ``f=`` keys; a
facilitator's own identity and its co-facilitators), so the server cannot
loosen or tighten a group's rules on its own:

    statement = lp("safespace/v2/content-rules") || lp(group_id)
                || u32 version || u64 signed_at || lp(tuning)
    sig       = Ed25519-sign(identity_priv, statement)

``tuning`` is the exact UTF-8 JSON text that is signed and stored; nobody
re-encodes it. ``version`` is one more than the version of the tuning the
signer replaces (1 for a group's first), ``signed_at`` the signer's clock in
milliseconds. The group's ``content_rules`` is
``{tuning, by, sig, version, signed_at}``: ``tuning`` as that text, ``by``
(32 bytes) and ``sig`` (64 bytes) in base64url without padding, the two
numbers as JSON integers. A client remembers the highest
``(version, signed_at)`` it verified this session and refuses an older one
(``clients.content.ContentGuard``): the server cannot put back rules a
facilitator replaced. A tuning signed under the old ``safespace/v1`` label
(no version) does not verify.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from clients.e2ee import primitives
from clients.e2ee.admission import IdentityKey
from clients.e2ee.encoding import (
    KEY_BYTES,
    LABEL_CONTENT_RULES,
    MAX_U32,
    SIGNATURE_BYTES,
    lp,
    u32,
)
from clients.e2ee.errors import E2EEError, Why
from rooms.links import b64u_decode, b64u_encode

MIN_VERSION = 1
MAX_VERSION = MAX_U32
MAX_SIGNED_AT = 2**53  # milliseconds; JavaScript's numbers hold every integer up to here


def u64(n: int) -> bytes:
    if not 0 <= n <= 0xFFFF_FFFF_FFFF_FFFF:
        raise ValueError(f"{n} does not fit in a u64")
    return struct.pack(">Q", n)


def now_ms() -> int:
    """The signer's clock, in milliseconds since 1970: a tuning's ``signed_at``."""
    return time.time_ns() // 1_000_000


def valid_version(value: object) -> bool:
    """A JSON integer (not a boolean) from 1 to 2^32-1."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_VERSION


def valid_signed_at(value: object) -> bool:
    """A JSON integer (not a boolean) from 0 to 2^53."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SIGNED_AT


def content_rules_statement(group_id: str, tuning: str, version: int, signed_at: int) -> bytes:
    """What a facilitator signs: the label, the group, version, time and the tuning's text."""
    if not valid_version(version) or not valid_signed_at(signed_at):
        raise ValueError("a tuning's version is 1 to 2^32-1, its signed_at 0 to 2^53")
    return lp(LABEL_CONTENT_RULES) + lp(group_id) + u32(version) + u64(signed_at) + lp(tuning)


def sign_content_rules(
    identity: IdentityKey,
    group_id: str,
    tuning: str,
    version: int = 1,
    signed_at: int = 0,
) -> dict[str, str | int]:
    """``{tuning, by, sig, version, signed_at}`` for ``PATCH /api/groups/{group_id}``.

    A signer replacing a tuning passes ``version`` one more than the one it
    replaces and ``signed_at=now_ms()``; the defaults (1, 0) make the same
    bytes on every call, for tests and vectors.
    """
    statement = content_rules_statement(group_id, tuning, version, signed_at)
    sig = primitives.ed25519_sign(identity.private, statement)
    return {
        "tuning": tuning,
        "by": b64u_encode(identity.public),
        "sig": b64u_encode(sig),
        "version": version,
        "signed_at": signed_at,
    }


@dataclass(frozen=True, slots=True)
class CheckedRules:
    """A tuning whose signature verified: its exact text, and where it sorts."""

    tuning: str
    version: int
    signed_at: int

    @property
    def order(self) -> tuple[int, int]:
        """``(version, signed_at)``: a tuning that sorts below one verified before is a replay."""
        return (self.version, self.signed_at)


def checked_rules(
    rules: Mapping[str, object] | None, group_id: str, trusted: Iterable[bytes]
) -> CheckedRules | None:
    """A group's ``content_rules`` once its signature is checked (see ``checked_tuning``)."""
    if rules is None:
        return None
    if not isinstance(rules, Mapping):
        raise E2EEError(Why.RULES_UNVERIFIED)
    tuning, by, sig = rules.get("tuning"), rules.get("by"), rules.get("sig")
    version, signed_at = rules.get("version"), rules.get("signed_at")
    if not (isinstance(tuning, str) and isinstance(by, str) and isinstance(sig, str)):
        raise E2EEError(Why.RULES_UNVERIFIED)
    if not valid_version(version) or not valid_signed_at(signed_at):
        raise E2EEError(Why.RULES_UNVERIFIED)  # no version: signed under v1, or damaged
    assert isinstance(version, int) and isinstance(signed_at, int)
    try:
        by_raw, sig_raw = b64u_decode(by), b64u_decode(sig)
        statement = content_rules_statement(group_id, tuning, version, signed_at)
    except ValueError:  # not base64url; a field too long to length-prefix
        raise E2EEError(Why.RULES_UNVERIFIED) from None
    if len(by_raw) != KEY_BYTES or len(sig_raw) != SIGNATURE_BYTES:
        raise E2EEError(Why.RULES_UNVERIFIED)
    if by_raw not in set(trusted) or not primitives.ed25519_verify(by_raw, sig_raw, statement):
        raise E2EEError(Why.RULES_UNVERIFIED)
    return CheckedRules(tuning, version, signed_at)


def checked_tuning(
    rules: Mapping[str, object] | None, group_id: str, trusted: Iterable[bytes]
) -> str | None:
    """The tuning text of a group's ``content_rules`` once its signature is checked.

    None when the group has no ``content_rules`` (the shipped rules apply, and
    there is nothing to warn about). Rules that are there but malformed
    (``version`` or ``signed_at`` missing or out of range included), signed by
    an identity not in ``trusted``, or whose signature does not verify:
    ``E2EEError`` (``rules_unverified``); the caller then uses the shipped
    rules and warns. Whether the tuning is one the engine can apply is not
    checked here (``moderation.content.tuned_policy`` says), nor whether it is
    older than one verified before (``clients.content.ContentGuard`` does).
    """
    checked = checked_rules(rules, group_id, trusted)
    return None if checked is None else checked.tuning
