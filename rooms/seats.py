"""Seat links: the private, per-seat, expiring, revocable way in for members.

The token is 192 bits from ``secrets`` and is only ever stored as its SHA-256
hash: a token this long needs no slow hash, and a leaked database holds no
usable link. How a link is written and read is ``rooms.links``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

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
