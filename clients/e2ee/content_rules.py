"""A group's content rules, signed by a facilitator (docs/e2ee.md section 11).

A facilitator tunes a group's content rules (moderation/content/README.md)
and signs the tuning with its identity key; members' clients apply it only if
the signer is one of the identities they trust (their link's ``f=`` keys; a
facilitator's own identity and its co-facilitators), so the server cannot
loosen or tighten a group's rules on its own:

    statement = lp("safespace/v1/content-rules") || lp(group_id) || lp(tuning)
    sig       = Ed25519-sign(identity_priv, statement)

``tuning`` is the exact UTF-8 JSON text that is signed and stored; nobody
re-encodes it. The group's ``content_rules`` is ``{tuning, by, sig}``:
``tuning`` as that text, ``by`` (32 bytes) and ``sig`` (64 bytes) in
base64url without padding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from clients.e2ee import primitives
from clients.e2ee.admission import IdentityKey
from clients.e2ee.encoding import (
    KEY_BYTES,
    LABEL_CONTENT_RULES,
    SIGNATURE_BYTES,
    lp,
)
from clients.e2ee.errors import E2EEError, Why
from rooms.links import b64u_decode, b64u_encode


def content_rules_statement(group_id: str, tuning: str) -> bytes:
    """What a facilitator signs: the label, the group and the tuning's exact text."""
    return lp(LABEL_CONTENT_RULES) + lp(group_id) + lp(tuning)


def sign_content_rules(identity: IdentityKey, group_id: str, tuning: str) -> dict[str, str]:
    """``{tuning, by, sig}`` for ``PATCH /api/groups/{group_id}`` ``{"content_rules": ...}``."""
    sig = primitives.ed25519_sign(identity.private, content_rules_statement(group_id, tuning))
    return {"tuning": tuning, "by": b64u_encode(identity.public), "sig": b64u_encode(sig)}


def checked_tuning(
    rules: Mapping[str, object] | None, group_id: str, trusted: Iterable[bytes]
) -> str | None:
    """The tuning text of a group's ``content_rules`` once its signature is checked.

    None when the group has no ``content_rules`` (the shipped rules apply, and
    there is nothing to warn about). Rules that are there but malformed, signed
    by an identity not in ``trusted``, or whose signature does not verify:
    ``E2EEError`` (``rules_unverified``); the caller then uses the shipped
    rules and warns. Whether the tuning is one the engine can apply is not
    checked here (``moderation.content.tuned_policy`` says).
    """
    if rules is None:
        return None
    if not isinstance(rules, Mapping):
        raise E2EEError(Why.RULES_UNVERIFIED)
    tuning, by, sig = rules.get("tuning"), rules.get("by"), rules.get("sig")
    if not (isinstance(tuning, str) and isinstance(by, str) and isinstance(sig, str)):
        raise E2EEError(Why.RULES_UNVERIFIED)
    try:
        by_raw, sig_raw = b64u_decode(by), b64u_decode(sig)
        statement = content_rules_statement(group_id, tuning)
    except ValueError:  # not base64url; a field too long to length-prefix
        raise E2EEError(Why.RULES_UNVERIFIED) from None
    if len(by_raw) != KEY_BYTES or len(sig_raw) != SIGNATURE_BYTES:
        raise E2EEError(Why.RULES_UNVERIFIED)
    if by_raw not in set(trusted) or not primitives.ed25519_verify(by_raw, sig_raw, statement):
        raise E2EEError(Why.RULES_UNVERIFIED)
    return tuning
