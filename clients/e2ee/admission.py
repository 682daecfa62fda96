"""Admission (docs/e2ee.md section 3): vouches, and facilitator keys in links.

A facilitator's identity key signs each participant it admits; members learn
that key only from their link's fragment, which browsers never send to a
server. So the server, which builds the roster, cannot add anyone members
will share keys with.
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from clients.e2ee import primitives
from clients.e2ee.encoding import ANCHOR_BYTES, KEY_BYTES, LABEL_ADMIT, LABEL_REMOVE, lp
from clients.e2ee.errors import E2EEError, Why
from rooms import links
from rooms.errors import Invalid
from rooms.links import b64u_decode, b64u_encode

ROLES = ("member", "facilitator")
FILE_MAGIC = "safespace-identity-v1"


def anchor_generation(anchor: bytes) -> int:
    """The order of an anchor: its first 8 bytes, big-endian (docs/e2ee.md section 3.1)."""
    return int.from_bytes(anchor[:8], "big") if len(anchor) == ANCHOR_BYTES else -1


def new_anchor(random8: bytes, previous: bytes | None = None, now_ms: int | None = None) -> bytes:
    """A fresh anchor, ordered after ``previous``: ``u64 generation || 8 random bytes``.

    The generation is the device's clock in milliseconds, or one more than
    the previous anchor's if the clock has not moved past it: a later anchor
    always sorts higher, so a replayed earlier one can never become current.
    """
    clock = int(time.time() * 1000) if now_ms is None else now_ms
    after = anchor_generation(previous) + 1 if previous is not None else 0
    return max(clock, after).to_bytes(8, "big") + random8[:8]


def vouch_statement(ctx: bytes, anchor: bytes, pid: str, role: str, bundle: bytes) -> bytes:
    return lp(LABEL_ADMIT) + ctx + lp(anchor) + lp(pid) + lp(role) + lp(bundle)


def sign_vouch(
    identity_priv: bytes, ctx: bytes, anchor: bytes, pid: str, role: str, bundle: bytes
) -> bytes:
    return primitives.ed25519_sign(identity_priv, vouch_statement(ctx, anchor, pid, role, bundle))


def verify_vouch(
    identity_pub: bytes, sig: bytes, ctx: bytes, anchor: bytes, pid: str, role: str, bundle: bytes
) -> bool:
    """Does ``sig`` admit exactly these keys, as this pid and role, here, under this anchor?"""
    return primitives.ed25519_verify(
        identity_pub, sig, vouch_statement(ctx, anchor, pid, role, bundle)
    )


def removal_statement(ctx: bytes, pid: str, bundle: bytes, for_good: bool) -> bytes:
    """What a facilitator signs when it removes ``pid`` (docs/e2ee.md section 3.3)."""
    return lp(LABEL_REMOVE) + ctx + lp(pid) + lp(bundle) + bytes([1 if for_good else 0])


def verify_removal(
    identity_pub: bytes, proof: bytes, ctx: bytes, pid: str, bundle: bytes, for_good: bool
) -> bool:
    return primitives.ed25519_verify(
        identity_pub, proof, removal_statement(ctx, pid, bundle, for_good)
    )


# ---- links -----------------------------------------------------------------------------


def identities_from_link(link: str) -> list[bytes]:
    """The facilitator keys in a link (``rooms.links``), a damaged one an ``E2EEError``."""
    try:
        return links.identities_from_link(link)
    except Invalid:
        raise E2EEError(Why.BAD_LINK) from None


# ---- the facilitator's identity ---------------------------------------------------------


@dataclass(frozen=True)
class IdentityKey:
    """A facilitator's long-term Ed25519 key; ``private`` is the raw 32-byte seed."""

    private: bytes

    def __post_init__(self) -> None:
        if len(self.private) != KEY_BYTES:
            raise ValueError("an identity key is a 32-byte Ed25519 seed")

    def __repr__(self) -> str:  # never print the secret half
        return f"IdentityKey(public={b64u_encode(self.public)})"

    @classmethod
    def generate(cls) -> IdentityKey:
        return cls(primitives.random_bytes(KEY_BYTES))

    @property
    def public(self) -> bytes:
        return primitives.ed25519_public(self.private)

    @property
    def fragment(self) -> str:
        """What to append to a member's link: ``f=B64U(public)``."""
        return f"f={b64u_encode(self.public)}"

    def sign(self, ctx: bytes, anchor: bytes, pid: str, role: str, bundle: bytes) -> bytes:
        return sign_vouch(self.private, ctx, anchor, pid, role, bundle)

    def sign_removal(self, ctx: bytes, pid: str, bundle: bytes, for_good: bool) -> bytes:
        return primitives.ed25519_sign(self.private, removal_statement(ctx, pid, bundle, for_good))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the key readable by its owner only (mode 0600, directory 0700 if made)."""
        target = Path(path)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(f"{FILE_MAGIC} {b64u_encode(self.private)}\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> IdentityKey:
        """Read a key; like ssh, refuse one that others could read."""
        target = Path(path)
        if target.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PermissionError(f"{target} is readable by others; chmod 600 it first")
        magic, _, value = target.read_text(encoding="ascii").strip().partition(" ")
        if magic != FILE_MAGIC:
            raise ValueError(f"{target} is not a safespace identity key")
        return cls(b64u_decode(value))

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str]) -> IdentityKey:
        if Path(path).exists():
            return cls.load(path)
        key = cls.generate()
        key.save(path)
        return key
