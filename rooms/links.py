"""Private links and base64url: the one home of how a link is written and read.

A member's link carries its seat token and the facilitators' identity keys in
the URL *fragment* (after ``#``), which browsers never send to a server: the
token stays out of access logs, and the member's client, not the server,
decides whose admissions to believe (docs/e2ee.md section 3). The server
(``chatserver``), the Python clients and the CLI all read and write links
through this module, so there is one reading of a pasted link everywhere.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

from rooms.errors import AuthError, Code, Invalid

IDENTITY_KEY_BYTES = 32  # a facilitator's Ed25519 identity key (docs/e2ee.md section 2)
_B64U = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64u_encode(raw: bytes) -> str:
    """base64url without padding: how keys are written in links and in the API."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Strict base64url without padding: another alphabet or padding is refused.

    Strict because a key that decodes two ways could be two keys: a link's
    ``f=`` must name exactly one facilitator.
    """
    if "=" in text or any(c not in _B64U for c in text) or len(text) % 4 == 1:
        raise ValueError("not base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url without padding") from None


def identity_key(text: str) -> bytes | None:
    """A pasted identity key (``f=`` prefix allowed): its 32 bytes, or None."""
    try:
        key = b64u_decode(text.strip().removeprefix("f="))
    except ValueError:
        return None
    return key if len(key) == IDENTITY_KEY_BYTES else None


def link_url(base_url: str, token: str, identities: Sequence[bytes] = ()) -> str:
    """The private link a facilitator hands to one member.

    ``identities`` are the facilitators' public identity keys; they ride in
    the fragment too (``&f=``).
    """
    keys = "".join(f"&f={b64u_encode(k)}" for k in identities)
    return f"{base_url.rstrip('/')}/join#seat={token}{keys}"


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


def identities_from_link(link: str) -> list[bytes]:
    """The facilitator keys (``f=``, repeatable) in a private link's fragment, in order.

    A bare seat token, or a link without ``f``, gives none. An ``f`` that is
    not 32 bytes of base64url means the link was damaged or tampered with:
    ``Invalid`` (field ``link``), never a silently shorter list.
    """
    out: list[bytes] = []
    for value in parse_qs(link_fragment(link), keep_blank_values=True).get("f", []):
        key = identity_key(value)
        if key is None:
            raise Invalid("link", "The link's facilitator key is damaged; ask for the link again.")
        if key not in out:
            out.append(key)
    return out


def link_trusting(link: str, identities: Sequence[bytes]) -> str:
    """``link``'s seat with exactly ``identities`` as its facilitator keys.

    What a facilitator's own device makes of a link the server handed out:
    any ``f=`` already in it is the server's word and is dropped, so a key a
    hostile server slipped in never reaches the member (docs/security.md).
    The seat token is kept; so is the address before ``#``, if there is one.
    ``foreign_keys`` says which were dropped, for the caller to warn of.
    """
    token = token_from_link(link)
    link = link.strip()
    base = link.split("#", 1)[0] if "#" in link else ""
    keys = "".join(f"&f={b64u_encode(k)}" for k in dict.fromkeys(identities))
    fragment = f"seat={token}{keys}"
    return f"{base}#{fragment}" if base or "#" in link else fragment


FOREIGN_KEY_NOTICE = (
    "This link came with a key this device does not know; it was replaced by yours."
)


def foreign_keys(link: str, identities: Sequence[bytes]) -> list[str]:
    """The ``f=`` values in ``link`` that are not among ``identities``, as written.

    What ``link_trusting`` drops and the facilitator should hear of
    (``FOREIGN_KEY_NOTICE``): a key the server put in, or a damaged one.
    """
    trusted = set(identities)
    out: list[str] = []
    for value in parse_qs(link_fragment(link), keep_blank_values=True).get("f", []):
        if identity_key(value) not in trusted and value not in out:
            out.append(value)
    return out


def link_with_identities(link: str, identities: Sequence[bytes]) -> str:
    """``link`` with ``&f=...`` appended for each identity it does not carry yet.

    For the operator's side only (``chatserver link create --facilitator-key``):
    it keeps the keys already in the link. A facilitator's device uses
    ``link_trusting``, which keeps none but its own.
    """
    link = link.strip()
    have = identities_from_link(link)
    extra = "&".join(f"f={b64u_encode(k)}" for k in identities if k not in have)
    if not extra:
        return link
    if "#" not in link:
        return f"{link}&{extra}" if link_fragment(link) else f"{link}#{extra}"
    return f"{link}{'&' if urlsplit(link).fragment else ''}{extra}"
