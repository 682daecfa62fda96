"""Seat links: the private, per-seat, expiring, revocable way in for members.

The token is 192 bits from ``secrets`` and is only ever stored as its SHA-256
hash: a token this long needs no slow hash, and a leaked database holds no
usable link. The link puts the token in the URL *fragment* (after ``#``),
which browsers never send to a server, so it stays out of access logs too.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rooms.errors import AuthError, Code, Invalid

TOKEN_BYTES = 24
DEFAULT_EXPIRY_HOURS = 24 * 7 * 12  # a weekly group's term of about three months
MAX_EXPIRY_HOURS = 24 * 366


@dataclass(frozen=True)
class SeatLink:
    id: str
    group_id: str
    token_hash: str
    label: str
    created_at: float
    expires_at: float
    revoked_at: float | None = None

    def check(self, now: float) -> None:
        """Raise the ``AuthError`` a holder of this link gets, or nothing."""
        if self.revoked_at is not None:
            raise AuthError(Code.LINK_REVOKED)
        if now >= self.expires_at:
            raise AuthError(Code.LINK_EXPIRED)

    def public(self, now: float) -> dict[str, Any]:
        """What a facilitator sees in a listing: never the token, nor its hash."""
        status = "active"
        if self.revoked_at is not None:
            status = "revoked"
        elif now >= self.expires_at:
            status = "expired"
        return {
            "id": self.id,
            "group_id": self.group_id,
            "label": self.label,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "status": status,
        }


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def expiry(now: float, hours: object) -> float:
    if hours is None:
        hours = DEFAULT_EXPIRY_HOURS
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        raise Invalid("expires_in_hours", "expires_in_hours must be a number.")
    if not 0 < hours <= MAX_EXPIRY_HOURS:
        raise Invalid(
            "expires_in_hours", f"expires_in_hours must be between 0 and {MAX_EXPIRY_HOURS}."
        )
    return now + float(hours) * 3600.0


IDENTITY_KEY_BYTES = 32  # a facilitator's Ed25519 identity key (docs/e2ee.md section 2)


def link_url(base_url: str, token: str, identities: Sequence[bytes] = ()) -> str:
    """The private link a facilitator hands to one member.

    ``identities`` are the facilitators' public identity keys; they ride in
    the fragment too (``&f=``), so that the member's client, not the server,
    decides whose admissions to believe.
    """
    keys = "".join(f"&f={b64u(k)}" for k in identities)
    return f"{base_url.rstrip('/')}/join#seat={token}{keys}"


def b64u(key: bytes) -> str:
    """base64url without padding: how keys are written in links and in the API."""
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii")


def link_fragment(link: str) -> str:
    """The part of a private link no browser sends to a server: what follows ``#``.

    Text without ``#`` that has an ``=`` and neither ``/`` nor ``?``
    (``seat=T&f=K``) is a fragment pasted without its ``#``, and is read as
    one. Anything else without ``#`` has no fragment: ``""``.
    """
    link = link.strip()
    if "#" in link:
        return link.split("#", 1)[1]
    if "=" in link and "/" not in link and "?" not in link:
        return link
    return ""


def token_from_link(link: str) -> str:
    """Accept a whole private link, its fragment alone, or a bare token (what people paste varies).

    A bare token has none of ``#``, ``/`` and ``=``; only the ``seat`` of a
    fragment is ever returned, never the facilitator keys (``f=``) beside it.
    """
    link = link.strip()
    if not any(c in link for c in "#/="):
        return link
    try:
        urlsplit(link)
    except ValueError:  # not a URL at all (bad brackets, odd host)
        raise AuthError(Code.LINK_UNKNOWN) from None
    token = parse_qs(link_fragment(link)).get("seat", [""])[0]
    if not token:
        raise AuthError(Code.LINK_UNKNOWN)
    return token
