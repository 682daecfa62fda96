"""The roster as the encryption layer keeps it: whom to trust, and who holds our chain.

``KeyRoster`` follows the room through the frames the client shows it
(``on_frame``): each participant's keys and the vouches for them, whom to
trust (docs/e2ee.md section 3), handing our chain to trusted participants and
starting a new one when someone departs (section 7), and taking up theirs.
``E2EECodec`` (``codec.py``) seals and opens payloads on top of it. Nothing
here touches a socket: frames to send wait in ``outgoing()``, warnings for
the user in ``notices()``.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any

from clients.e2ee import primitives
from clients.e2ee.admission import (
    IdentityKey,
    anchor_generation,
    new_anchor,
    verify_removal,
    verify_vouch,
)
from clients.e2ee.anchor_memory import AnchorMemory, InMemory
from clients.e2ee.chains import PeerChains, Random, SenderChain
from clients.e2ee.encoding import KEY_BYTES, NONCE_BYTES, Bundle, context
from clients.e2ee.errors import CannotOpen, Why
from clients.e2ee.peer import ANCHORS_KEPT, FACILITATOR, MEMBER, Peer, remember
from clients.e2ee.sealing import open_distribution, seal_distribution
from clients.e2ee.vouching import Vouching

# Chain ids taken up, remembered per sender signing key for the whole session
# (a replayed distribution must not bring back a chain we dropped). A sender
# starts a new chain at each departure, so a session uses a handful; past the
# cap the oldest are forgotten first.
CHAIN_IDS_REMEMBERED = 4096

# Warning codes (``notices()``, ``warnings()``).
UNVERIFIED_LINK = "unverified_link"
UNTRUSTED = "untrusted"
KEYS_MISMATCH = "keys_mismatch"  # the server shows other keys under our own pid
# Keys a facilitator's signed removal barred, shown again by the server.
KEYS_BARRED = "keys_barred"
# The session states in which the door stands open (docs/protocol.md section 7).
OPEN_DOOR = frozenset({"lobby", "live_unlocked"})


def _bundle(keys: object, x_priv: bytes) -> Bundle | None:
    """The bundle in ``keys`` if we can use it: it parses, and agreement with it works.

    An X25519 key of low order (all zeros, say) gives the all-zero secret with
    any private key: no pairwise key can be made with its owner, who is never
    trusted (nor vouched for).
    """
    if not isinstance(keys, bytes):
        return None
    try:
        bundle = Bundle.parse(keys)
        primitives.x25519(x_priv, bundle.x_pub)
    except (CannotOpen, primitives.CryptoFailure):
        return None
    return bundle


class KeyRoster(Vouching):
    """The encryption layer's view of the room: peers, trust, and our sender chain.

    ``trusted``, ``identity``, ``x_priv``, ``s_priv`` and ``rng``: as for
    ``E2EECodec``, which is this roster with sealing and opening added.
    ``anchor`` fixes a facilitator's first anchor (the vectors); later ones
    come from ``rng``. ``memory`` is where a facilitator's device keeps its
    anchor and admissions per session (``anchor_memory``; default: this
    process only).
    """

    def __init__(
        self,
        *,
        trusted: Sequence[bytes] = (),
        identity: IdentityKey | None = None,
        x_priv: bytes | None = None,
        s_priv: bytes | None = None,
        rng: Random | None = None,
        anchor: bytes | None = None,
        memory: AnchorMemory | None = None,
    ) -> None:
        self._rng: Random = rng or primitives.random_bytes
        self._first_anchor = anchor
        self._memory: AnchorMemory = memory or InMemory()
        self.identity = identity
        self._identity_pub = identity.public if identity is not None else None
        ids = ([self._identity_pub] if self._identity_pub else []) + list(trusted)
        self.trusted_identities: tuple[bytes, ...] = tuple(dict.fromkeys(ids))
        # A member whose link names no facilitator can check nothing.
        self.unverified = identity is None and not self.trusted_identities
        self._x_priv = x_priv if x_priv is not None else self._rng(KEY_BYTES)
        self._s_priv = s_priv if s_priv is not None else self._rng(KEY_BYTES)
        self._bundle = Bundle(
            primitives.x25519_public(self._x_priv), primitives.ed25519_public(self._s_priv)
        )
        self._spent = False  # an ``ended`` frame wiped the private keys
        # Per sender signing key, the chain ids we took up: kept for the whole
        # session, through departures, returns and new welcomes.
        self._taken: dict[bytes, OrderedDict[bytes, None]] = {}
        # Keys a facilitator's signed removal barred (docs/e2ee.md section
        # 3.3): never trusted again while this codec lives, whatever the server says.
        self._barred: set[bytes] = set()
        self._session: bytes | None = None  # the ctx the memory below belongs to
        self._forget_session()
        self._reset()

    def _forget_session(self) -> None:
        """What a client keeps for one session, through a repeated welcome."""
        # Our anchor (a facilitator's; docs/e2ee.md section 3.1) and, per other
        # identity, its current anchor: the one its vouch for us named.
        self._anchor: bytes | None = None
        self._anchors: dict[bytes, bytes] = {}
        self._letting_in: set[str] = set()  # pids this facilitator admitted
        self._vouched: set[str] = set()  # pids this facilitator vouched for
        # Pids that left or were removed: the server gives a returning member a
        # new pid, so one shown again is a replay, never trusted or vouched for.
        self._gone: set[str] = set()

    def _reset(self) -> None:
        self.me: str | None = None
        self.role: str | None = None
        self.ctx: bytes | None = None
        self.peers: dict[str, Peer] = {}
        self.chain: SenderChain | None = None
        self._sent: set[str] = set()  # who holds our current chain
        self._out: list[dict[str, Any]] = []
        self._notices: list[dict[str, Any]] = []
        # Signing keys each participant was trusted with this session: a report
        # can name someone who has left since.
        self._signing_keys: dict[str, list[bytes]] = {}
        # A facilitator's own account of the door (docs/e2ee.md section 3): whom
        # it vouches for by itself. Opened only by its own open and unlock (or
        # an open door at its arrival); the server's state frames can close it.
        self._door_open = False
        # Our frames the server refused (a spent budget), to send again on retry().
        self._refused_chains: set[str] = set()
        self._refused_vouches: dict[str, dict[str, Any]] = {}

    # ---- the seam ---------------------------------------------------------------------

    def public_keys(self) -> bytes:
        return self._bundle.encode()

    def outgoing(self) -> list[dict[str, Any]]:
        out, self._out = self._out, []
        return out

    def notices(self) -> list[dict[str, Any]]:
        out, self._notices = self._notices, []
        return out

    def warnings(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"code": UNVERIFIED_LINK}] if self.unverified else []
        return out + [{"code": UNTRUSTED, "pid": pid} for pid in self._untrusted_present()]

    def verified(self, pid: str) -> bool:
        peer = self.peers.get(pid)
        return peer is not None and self._verified(peer)

    def trusted(self, pid: str) -> bool:
        peer = self.peers.get(pid)
        return peer is not None and self._trusts(peer)

    def ready(self, pids: Iterable[str] | None = None) -> bool:
        if self.chain is None or self._out:
            return False
        if pids is None:
            pids = [p.pid for p in self._others() if p.present and self._trusts(p)]
        for pid in pids:
            peer = self.peers.get(pid)
            if peer is None or not self._trusts(peer) or pid not in self._sent:
                return False
            if peer.chains.current is None:
                return False
        return True

    # ---- inbound frames ---------------------------------------------------------------

    def on_frame(self, frame: dict[str, Any]) -> None:
        """Follow the room; a malformed frame is ignored (the server's word is not law)."""
        handler = self._handlers.get(frame.get("t", ""))
        if handler is None:
            return
        # A frame without the fields it should have changes nothing more.
        with contextlib.suppress(KeyError, TypeError, AttributeError, ValueError):
            handler(self, frame)

    def _on_welcome(self, frame: dict[str, Any]) -> None:
        if self._spent:
            return  # the session ended and its keys are gone: a new one needs a new codec
        self._reset()
        group, session = frame["group"]["id"], frame.get("session", "")
        self.me, self.role = str(frame["you"]), str(frame["role"])
        self.ctx = context(str(group), str(session))
        if self.ctx != self._session:
            self._session = self.ctx
            self._forget_session()
            kept = self._memory.load(self.ctx) if self.identity is not None else None
            if kept is not None:  # this device was here before (a restart)
                self._anchor, self._vouched, self._letting_in = (
                    kept.anchor,
                    kept.vouched,
                    kept.letting_in,
                )
        if self.identity is not None and self._anchor is None:
            fresh = new_anchor(self._rng(8))
            self._anchor, self._first_anchor = self._first_anchor or fresh, None
            self._remember()
        self._door_open = frame.get("state") in OPEN_DOOR
        # Our own signing key: a report may be about one of our messages.
        self._signing_keys[self.me] = [self._bundle.s_pub]
        for entry in frame["roster"]:
            self._upsert(entry)
        if self.unverified:
            self._notices.append({"code": UNVERIFIED_LINK})
        self.chain = SenderChain.fresh(0, self._rng)
        self._distribute()

    def _on_joined(self, frame: dict[str, Any]) -> None:
        self._upsert(frame["p"])

    def _on_presence(self, frame: dict[str, Any]) -> None:
        pid, keys = frame["pid"], frame.get("keys")
        if pid == self.me:
            if keys is not None:
                self._check_own_keys(keys)
            return
        peer = self.peers.get(pid)
        if peer is None:
            return
        if not frame["present"]:
            peer.present = False
            if keys is not None and keys != peer.keys:
                # On a break from a new page: the new keys, vouched for anew
                # (the private thread reaches them), and not in the room.
                self._replace(peer, keys, departed=True)
            else:
                self._rekey()
            return
        peer.present = True
        if keys is not None and keys != peer.keys:
            # A new page (or a connection that replaced the old one): the old
            # keys departed, and the new ones must be vouched for anew.
            self._replace(peer, keys, departed=True)
        elif self._trusts(peer):
            self._send_chain(peer)  # back: our chain as it stands, nothing earlier

    def _on_gone(self, frame: dict[str, Any]) -> None:
        pid = frame["pid"]
        peer = self.peers.get(pid)
        if peer is None or pid == self.me:
            return
        if frame["t"] == "removed":
            self._bar_if_signed(peer, frame)
        self._gone.add(pid)
        del self.peers[pid]
        self._rekey()
        if pid in self._vouched:
            self._vouched.discard(pid)
            self._renew_anchor()

    def _bar_if_signed(self, peer: Peer, frame: dict[str, Any]) -> None:
        """A removal signed by a facilitator we trust bars those keys for good."""
        by, proof = frame.get("by"), frame.get("proof")
        if not isinstance(by, bytes) or not isinstance(proof, bytes) or self.ctx is None:
            return
        if by in self.trusted_identities and verify_removal(
            by, proof, self.ctx, peer.pid, peer.keys, bool(frame.get("for_good"))
        ):
            self._barred.add(peer.keys)

    def _on_vouch(self, frame: dict[str, Any]) -> None:
        peer = self.peers.get(frame["pid"])
        v = {"by": frame["by"], "anchor": frame["anchor"], "sig": frame["sig"]}
        if peer is None:
            return
        before = self._trusted_pids()
        if self._take_vouch(peer, v) and peer.role == FACILITATOR:
            self._vouch_if_needed(peer)  # a co-facilitator now shown as one
        self._reconsider(before)

    def _on_direct(self, frame: dict[str, Any]) -> None:
        peer = self.peers.get(frame["from"])
        payload = frame["payload"]
        if peer is None or peer.pid == self.me or not isinstance(payload, bytes):
            return
        if not self._trusts(peer):
            peer.held = payload  # one per sender, taken up once a vouch arrives
            return
        with contextlib.suppress(CannotOpen):
            self.accept_distribution(peer.pid, payload)

    def _on_state(self, frame: dict[str, Any]) -> None:
        if frame.get("state") not in OPEN_DOOR:
            self._door_open = False  # the server may close our door, never open it

    def _on_ended(self, frame: dict[str, Any]) -> None:
        """The session is over: every key, chain and remembered message goes."""
        if self.ctx is not None and self.identity is not None:
            self._memory.forget(self.ctx)
        self._reset()
        self._taken = {}
        self._x_priv = self._s_priv = b""
        self._spent = True

    _handlers = {
        "welcome": _on_welcome,
        "joined": _on_joined,
        "presence": _on_presence,
        "left": _on_gone,
        "removed": _on_gone,
        "vouch": _on_vouch,
        "direct": _on_direct,
        "state": _on_state,
        "ended": _on_ended,
    }

    # ---- the roster and trust (section 3) ------------------------------------------------

    def _trusts(self, peer: Peer) -> bool:
        if peer.bundle is None or peer.keys in self._barred or peer.pid in self._gone:
            return False
        return self.unverified or self._verified(peer)

    def _current_anchor(self, by: bytes) -> bytes | None:
        """The anchor under which ``by``'s vouches count for us (docs/e2ee.md 3.2)."""
        if by == self._identity_pub:
            return self._anchor
        return self._anchors.get(by)

    def _verified(self, peer: Peer) -> bool:
        """A vouch by a trusted identity, under that identity's current anchor."""
        if peer.bundle is None or peer.keys in self._barred or peer.pid in self._gone:
            return False
        for by, by_anchor in peer.vouches.items():
            anchor = self._current_anchor(by)
            if anchor is not None and anchor in by_anchor:
                return True
        return False

    def _trusted_pids(self) -> set[str]:
        return {p.pid for p in self._others() if self._trusts(p)}

    def _reconsider(self, before: set[str]) -> None:
        """Trust moved (a vouch, an anchor): keys for the newly trusted; lost: a new chain."""
        after = self._trusted_pids()
        if before - after:
            self._rekey()
        for pid in sorted(after - before):
            self._changed(self.peers[pid], was=False)

    def _others(self) -> list[Peer]:
        return [p for p in self.peers.values() if p.pid != self.me]

    def _untrusted_present(self) -> list[str]:
        return [p.pid for p in self._others() if p.present and not self._trusts(p)]

    def _take_vouch(self, peer: Peer, v: Any) -> bool:
        """Keep vouch ``v`` for ``peer`` if it verifies; one for us moves its signer's anchor."""
        by, anchor, sig = v.get("by"), v.get("anchor"), v.get("sig")
        if not (isinstance(by, bytes) and isinstance(anchor, bytes) and isinstance(sig, bytes)):
            return False
        if by not in self.trusted_identities or peer.bundle is None or self.ctx is None:
            return False
        if not verify_vouch(by, sig, self.ctx, anchor, peer.pid, peer.role, peer.keys):
            return False
        remember(peer.vouches.setdefault(by, OrderedDict()), anchor, sig, ANCHORS_KEPT)
        current = self._anchors.get(by)
        if (
            peer.pid == self.me
            and by != self._identity_pub
            and (current is None or anchor_generation(anchor) > anchor_generation(current))
        ):
            # Signed for our own fresh keys: only a live device in this session
            # could have, so this is the signer's anchor now, unless we already
            # hold a later one (an earlier vouch replayed never brings one back).
            self._anchors[by] = anchor
        return True

    def _check_own_keys(self, keys: object) -> bool:
        """Does the server show our own keys under our pid? If not, say so."""
        if keys == self.public_keys():
            return True
        self._notices.append({"code": KEYS_MISMATCH, "pid": self.me})
        return False

    def _upsert(self, entry: dict[str, Any]) -> None:
        pid, keys = str(entry["pid"]), entry.get("keys", b"")
        if pid == self.me:
            self._upsert_self(keys, entry.get("vouches") or [])
            return
        peer = self.peers.get(pid)
        if peer is None:
            peer = self.peers[pid] = Peer(pid, str(entry["role"]), b"", None)
            self._replace(peer, keys, vouches=entry.get("vouches") or [])
        elif peer.keys != keys:
            self._replace(peer, keys, vouches=entry.get("vouches") or [], departed=True)
        peer.present = bool(entry.get("present", True))

    def _upsert_self(self, keys: object, vouches: Iterable[Any]) -> None:
        """Our own roster entry: only ever our own keys, whatever the server lists.

        Other keys under our pid are never vouched for nor trusted (the server
        would be passing someone off as us): a ``keys_mismatch`` warning. Our
        entry in ``joined`` or ``presence`` frames is otherwise ignored.
        """
        if not self._check_own_keys(keys) or self.me is None or self.me in self.peers:
            return
        me = self.peers[self.me] = Peer(self.me, self.role or MEMBER, b"", None)
        self._replace(me, keys, vouches=vouches)

    def _replace(
        self, peer: Peer, keys: object, vouches: Iterable[Any] = (), departed: bool = False
    ) -> None:
        """New keys for ``peer``: what held for the old ones (vouches, chains) is gone.

        ``departed``: ``peer`` had other keys before. Whoever holds those (an
        old page, a replaced connection) departs: we start a new chain, which
        the new keys get only once they are trusted.
        """
        peer.keys, peer.bundle = b"", None
        peer.vouches, peer.chains, peer.held, peer.nonces = {}, PeerChains(), None, OrderedDict()
        if departed:
            self._rekey()
        peer.keys = keys if isinstance(keys, bytes) else b""
        peer.bundle = _bundle(peer.keys, self._x_priv)
        if peer.keys in self._barred:
            self._notices.append({"code": KEYS_BARRED, "pid": peer.pid})
        before = self._trusted_pids() - {peer.pid}
        for v in vouches:
            with contextlib.suppress(AttributeError):
                self._take_vouch(peer, v)
        self._vouch_if_needed(peer)
        self._reconsider(before)

    # ---- frames the server refused ----------------------------------------------------

    def refused(self, frame: dict[str, Any]) -> None:
        """The server refused ``frame`` (``flood``): whoever it was for has not got it.

        A chain handed out is counted as held only once it could have arrived:
        counting a refused one would leave that peer without our keys for good.
        """
        if frame.get("t") == "direct":
            self._sent.discard(frame["to"])
            self._refused_chains.add(frame["to"])
        elif frame.get("t") == "vouch":
            self._refused_vouches[frame["pid"]] = frame

    def retry(self) -> None:
        """Send again what was refused: our current chain, and vouches for the same keys."""
        chains, self._refused_chains = self._refused_chains, set()
        for pid in sorted(chains):
            peer = self.peers.get(pid)
            if peer is not None and peer.present and self._trusts(peer) and pid not in self._sent:
                self._send_chain(peer)
        vouches, self._refused_vouches = self._refused_vouches, {}
        for pid, frame in vouches.items():
            peer = self.peers.get(pid)
            kept: dict[bytes, bytes] = {}
            if peer is not None:
                kept = peer.vouches.get(frame["by"], kept)
            # Still our anchor's vouch for these keys (new keys dropped it).
            if self._anchor == frame["anchor"] and kept.get(frame["anchor"]) == frame["sig"]:
                self._out.append(frame)

    def _changed(self, peer: Peer, was: bool) -> None:
        """``peer`` may have become trusted: keys for them, theirs for us."""
        if was or not self._trusts(peer) or peer.pid == self.me or peer.bundle is None:
            return
        known = self._signing_keys.setdefault(peer.pid, [])
        if peer.bundle.s_pub not in known:
            known.append(peer.bundle.s_pub)
        held, peer.held = peer.held, None
        if held is not None:
            with contextlib.suppress(CannotOpen):
                self.accept_distribution(peer.pid, held)
        if peer.present and peer.pid not in self._sent:
            self._send_chain(peer)

    # ---- our chain (sections 6 and 7) ---------------------------------------------------

    def _send_chain(self, peer: Peer) -> None:
        """Our chain as it stands, to ``peer``; keys we cannot agree with get nothing.

        A failure stays with this one peer: every loop that hands out our
        chain goes on to the others.
        """
        if self.chain is None or self.ctx is None or self.me is None or peer.bundle is None:
            return
        try:
            payload = seal_distribution(
                self.ctx,
                self.me,
                peer.pid,
                self._x_priv,
                peer.bundle.x_pub,
                self.chain.state(),
                self._rng(NONCE_BYTES),
            )
        except (ValueError, primitives.CryptoFailure):
            return
        self._out.append({"t": "direct", "to": peer.pid, "payload": payload})
        self._sent.add(peer.pid)

    def _distribute(self) -> None:
        for peer in self._others():
            if peer.present and self._trusts(peer):
                self._send_chain(peer)

    def _rekey(self) -> None:
        """Someone departed: a new chain, for those who remain only."""
        if self.chain is None:
            return
        self.chain = SenderChain.fresh(self.chain.epoch + 1, self._rng)
        self._sent = set()
        self._distribute()

    def accept_distribution(self, sender: str, payload: bytes) -> None:
        """Take up ``sender``'s chain state from a ``direct`` payload, or raise ``CannotOpen``.

        A chain id this sender's signing key gave us before is refused
        (``stale``) unless it moves that same current chain ahead: a server
        replaying an old distribution after the chain was dropped (the sender
        left, came back, or had its keys reset) brings nothing back.
        """
        peer = self.peers.get(sender)
        if self.ctx is None or self.me is None:
            raise CannotOpen(Why.NOT_READY)
        if peer is None or peer.bundle is None or not self._trusts(peer):
            raise CannotOpen(Why.UNTRUSTED)
        state = open_distribution(
            self.ctx, sender, self.me, self._x_priv, peer.bundle.x_pub, payload
        )
        taken = self._taken.setdefault(peer.bundle.s_pub, OrderedDict())
        current = peer.chains.current
        if state.chain_id in taken and (current is None or current.chain_id != state.chain_id):
            raise CannotOpen(Why.STALE)
        peer.chains.adopt(state)
        remember(taken, state.chain_id, None, CHAIN_IDS_REMEMBERED)
