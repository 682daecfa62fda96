"""What a facilitator's client signs: its vouches, under its anchor, and its removals.

docs/e2ee.md sections 3.1 to 3.3. ``Vouching`` is a base of ``KeyRoster``
(roster.py), split out so that the rules of whom a facilitator's device
admits by itself (its own door, the knockers it let in, the members it
vouched for before) read in one place; the roster's state it works on is
declared here, and set up by ``KeyRoster``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from clients.e2ee.admission import IdentityKey, new_anchor
from clients.e2ee.anchor_memory import AnchorMemory, SessionMemory
from clients.e2ee.chains import Random
from clients.e2ee.errors import CannotSeal, Why
from clients.e2ee.peer import ANCHORS_KEPT, FACILITATOR, MEMBER, Peer, remember

# A facilitator's client: someone reached the roster while this facilitator's
# door was locked and nobody this client let in (no vouch given).
NOT_ADMITTED = "not_admitted"


class Vouching:
    """A facilitator's own admissions: the state below belongs to ``KeyRoster``."""

    identity: IdentityKey | None
    _identity_pub: bytes | None
    _rng: Random
    _memory: AnchorMemory
    ctx: bytes | None
    me: str | None
    role: str | None
    peers: dict[str, Peer]
    _out: list[dict[str, Any]]
    _notices: list[dict[str, Any]]
    _barred: set[bytes]
    _gone: set[str]
    _anchor: bytes | None
    _vouched: set[str]
    _letting_in: set[str]
    _door_open: bool

    def public_keys(self) -> bytes:
        raise NotImplementedError

    def _trusted_pids(self) -> set[str]:
        raise NotImplementedError

    def _reconsider(self, before: set[str]) -> None:
        raise NotImplementedError

    def _vouch_if_needed(self, peer: Peer) -> None:
        """A facilitator admits itself, its co-facilitators, and the members its door lets in."""
        ident, by = self.identity, self._identity_pub
        if ident is None or by is None or self.ctx is None or peer.bundle is None:
            return
        if self._anchor in peer.vouches.get(by, {}) or peer.keys in self._barred:
            return
        if peer.pid in self._gone:
            return  # left or removed this session: shown again, it is a replay
        if peer.pid == self.me:
            # Ourselves: only as a facilitator, and only ever our own keys.
            if self.role != FACILITATOR or peer.keys != self.public_keys():
                return
        elif peer.role == FACILITATOR:
            # A co-facilitator: vouched for by an identity we trust (its own,
            # under its own anchor), so that it learns our anchor and we its.
            if not any(signer != by for signer in peer.vouches):
                return
        elif peer.role != MEMBER:
            return
        elif not (self._door_open or peer.pid in self._letting_in or peer.pid in self._vouched):
            # In while our door was locked, and not by our admit: the lock holds
            # against the server too. The facilitator may still vouch by hand.
            self._notices.append({"code": NOT_ADMITTED, "pid": peer.pid})
            return
        self._sign_vouch(peer)

    def _sign_vouch(self, peer: Peer) -> None:
        ident, by = self.identity, self._identity_pub
        if ident is None or by is None or self.ctx is None or peer.bundle is None:
            return
        anchor = self._anchor
        if anchor is None:
            return
        sig = ident.sign(self.ctx, anchor, peer.pid, peer.role, peer.keys)
        self._out.append({"t": "vouch", "pid": peer.pid, "by": by, "anchor": anchor, "sig": sig})
        # As the server will relay it.
        remember(peer.vouches.setdefault(by, OrderedDict()), anchor, sig, ANCHORS_KEPT)
        if peer.pid not in self._vouched:
            self._vouched.add(peer.pid)
            self._remember()

    def _remember(self) -> None:
        """Keep our anchor and admissions on this device (a restart must not lose them)."""
        if self.ctx is not None and self._anchor is not None:
            self._memory.save(
                self.ctx, SessionMemory(self._anchor, set(self._vouched), set(self._letting_in))
            )

    def _renew_anchor(self) -> None:
        """Someone we vouched for left: a new anchor, and our vouches again under it.

        Every earlier vouch of ours, the leaver's included, stops counting on
        every client that gets its own new vouch (docs/e2ee.md section 3.2).
        """
        if self.identity is None or self._anchor is None:
            return
        before = self._trusted_pids()
        self._anchor = new_anchor(self._rng(8), self._anchor)
        self._remember()
        for peer in list(self.peers.values()):
            if peer.pid == self.me or peer.pid in self._vouched:
                self._sign_vouch(peer)
        self._reconsider(before)

    def removal_proof(self, pid: str, for_good: bool) -> dict[str, bytes]:
        """The ``by`` and ``proof`` fields of a ``remove`` of ``pid`` (docs/e2ee.md 3.3)."""
        peer = self.peers.get(pid)
        if self.identity is None or self._identity_pub is None or peer is None or self.ctx is None:
            return {}
        proof = self.identity.sign_removal(self.ctx, pid, peer.keys, for_good)
        return {"by": self._identity_pub, "proof": proof}

    # ---- a facilitator's own door ------------------------------------------------------

    def door(self, open_: bool) -> None:
        """This facilitator opened (open, unlock) or closed (start, lock) the door."""
        self._door_open = open_

    def letting_in(self, pid: str) -> None:
        """This facilitator admits knocker ``pid``: vouch for them when they arrive."""
        self._letting_in.add(pid)
        self._remember()

    def vouch_for(self, pid: str) -> None:
        """Vouch by hand for ``pid`` (one the server let in past our locked door)."""
        peer = self.peers.get(pid)
        if peer is None or peer.role != MEMBER or peer.bundle is None:
            raise CannotSeal(Why.NO_RECIPIENT)
        if peer.keys in self._barred:
            raise CannotSeal(Why.NO_RECIPIENT)
        before = self._trusted_pids()
        self._sign_vouch(peer)
        self._reconsider(before)
