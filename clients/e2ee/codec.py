"""``E2EECodec``: the encryption layer as a sans-I/O state machine (docs/e2ee.md).

It follows the room through the frames the client shows it (``on_frame``),
decides whom to trust (section 3), hands its chain to trusted participants and
starts a new one when someone departs (section 7), and seals and opens
payloads (sections 5, 6 and 8). It never touches a socket: frames it wants
sent wait in ``outgoing()``, warnings for the user in ``notices()``.

One codec is one participant in one session: keys are made fresh for it and
never leave it, and an ``ended`` frame wipes them (the codec is then spent).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clients.e2ee import primitives
from clients.e2ee.admission import IdentityKey, identities_from_link, verify_vouch
from clients.e2ee.chains import MessageKey, PeerChains, Random, SenderChain
from clients.e2ee.encoding import (
    KEY_BYTES,
    KIND_MESSAGE,
    KIND_PRIVATE,
    KIND_REPORT,
    NONCE_BYTES,
    Body,
    Bundle,
    Header,
    ReportBody,
    RoomPayload,
    context,
    parse_text_body,
    text_body,
)
from clients.e2ee.errors import CannotOpen, CannotSeal, Why
from clients.e2ee.sealing import (
    Recipient,
    decrypt_message,
    open_distribution,
    open_private,
    parse_message,
    seal_distribution,
    seal_message,
    seal_private,
    verify_report,
    verify_signature,
)
from clients.payload import Opened, Reported

FACILITATOR = "facilitator"
MEMBER = "member"
NONCES_REMEMBERED = 1024  # private nonces remembered per sender
MESSAGES_REMEMBERED = 200  # opened messages kept (key and body) so that they can be reported
OWN_REMEMBERED = 256  # our own sealed payloads, until the server echoes them back
# Chain ids taken up, remembered per sender signing key for the whole session
# (a replayed distribution must not bring back a chain we dropped). A sender
# starts a new chain at each departure, so a session uses a handful; past the
# cap the oldest are forgotten first.
CHAIN_IDS_REMEMBERED = 4096

# Warning codes (``notices()``, ``warnings()``).
UNVERIFIED_LINK = "unverified_link"
UNTRUSTED = "untrusted"
KEYS_MISMATCH = "keys_mismatch"  # the server shows other keys under our own pid


@dataclass(slots=True)
class Peer:
    """A roster entry as the encryption layer sees it."""

    pid: str
    role: str
    keys: bytes
    bundle: Bundle | None  # None: unusable keys, never trusted
    present: bool = True
    # Only vouches that verify, by identities we trust: identity -> signature.
    vouches: dict[bytes, bytes] = field(default_factory=dict)
    chains: PeerChains = field(default_factory=PeerChains, repr=False)
    # A distribution that came before its sender was trusted.
    held: bytes | None = field(default=None, repr=False)
    nonces: OrderedDict[bytes, None] = field(default_factory=OrderedDict, repr=False)

    @property
    def verified(self) -> bool:
        return self.bundle is not None and bool(self.vouches)


@dataclass(frozen=True, slots=True)
class _Received:
    """A message we opened, kept so that we can report it (section 8)."""

    sender: str
    payload: bytes
    key: MessageKey = field(repr=False)
    body: bytes = field(repr=False)


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


def _remember(memory: OrderedDict[Any, Any], key: Any, value: Any, most: int) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > most:
        memory.popitem(last=False)


class E2EECodec:
    """The ``PayloadCodec`` of docs/e2ee.md, for a member or a facilitator.

    ``trusted`` are the identities a member's link names (``member()`` reads
    them from the link); none means *unverified* mode. A facilitator passes
    its ``identity`` and the ``co_facilitators`` it trusts. ``x_priv``,
    ``s_priv`` and ``rng`` exist so tests and vectors can fix every byte.
    """

    def __init__(
        self,
        *,
        trusted: Sequence[bytes] = (),
        identity: IdentityKey | None = None,
        x_priv: bytes | None = None,
        s_priv: bytes | None = None,
        rng: Random | None = None,
    ) -> None:
        self._rng: Random = rng or primitives.random_bytes
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
        self._reset()

    @classmethod
    def member(cls, link: str = "", **kw: Any) -> E2EECodec:
        """A member's codec, trusting the facilitator keys of ``link``'s fragment."""
        return cls(trusted=identities_from_link(link), **kw)

    @classmethod
    def facilitator(
        cls, identity: IdentityKey, co_facilitators: Sequence[bytes] = (), **kw: Any
    ) -> E2EECodec:
        return cls(identity=identity, trusted=co_facilitators, **kw)

    def _reset(self) -> None:
        self.me: str | None = None
        self.role: str | None = None
        self.ctx: bytes | None = None
        self.peers: dict[str, Peer] = {}
        self.chain: SenderChain | None = None
        self._sent: set[str] = set()  # who holds our current chain
        self._out: list[dict[str, Any]] = []
        self._notices: list[dict[str, Any]] = []
        self._own: OrderedDict[tuple[int, bytes, int], tuple[MessageKey, bytes]] = OrderedDict()
        self._own_private: OrderedDict[bytes, str] = OrderedDict()
        self._received: OrderedDict[int, _Received] = OrderedDict()
        # Signing keys each participant was trusted with this session: a report
        # can name someone who has left since.
        self._signing_keys: dict[str, list[bytes]] = {}

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
        return peer is not None and peer.verified

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
        if self.peers.pop(frame["pid"], None) is not None and frame["pid"] != self.me:
            self._rekey()

    def _on_vouch(self, frame: dict[str, Any]) -> None:
        peer = self.peers.get(frame["pid"])
        by, sig = frame["by"], frame["sig"]
        if peer is not None and isinstance(by, bytes) and isinstance(sig, bytes):
            was = self._trusts(peer)
            if self._valid_vouch(peer, by, sig):
                peer.vouches[by] = sig
                self._changed(peer, was)

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

    def _on_ended(self, frame: dict[str, Any]) -> None:
        """The session is over: every key, chain and remembered message goes."""
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
        "ended": _on_ended,
    }

    # ---- the roster and trust (section 3) ------------------------------------------------

    def _trusts(self, peer: Peer) -> bool:
        return peer.bundle is not None and (self.unverified or peer.verified)

    def _others(self) -> list[Peer]:
        return [p for p in self.peers.values() if p.pid != self.me]

    def _untrusted_present(self) -> list[str]:
        return [p.pid for p in self._others() if p.present and not self._trusts(p)]

    def _valid_vouch(self, peer: Peer, by: bytes, sig: bytes) -> bool:
        if by not in self.trusted_identities or peer.bundle is None or self.ctx is None:
            return False
        return verify_vouch(by, sig, self.ctx, peer.pid, peer.role, peer.keys)

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
        for v in vouches:
            by, sig = v.get("by"), v.get("sig")
            if not isinstance(by, bytes) or not isinstance(sig, bytes):
                continue
            if self._valid_vouch(peer, by, sig):
                peer.vouches[by] = sig
        self._vouch_if_needed(peer)
        self._changed(peer, was=False)

    def _vouch_if_needed(self, peer: Peer) -> None:
        """A facilitator admits itself and every member that reaches its roster."""
        ident, by = self.identity, self._identity_pub
        if ident is None or by is None or self.ctx is None or peer.bundle is None:
            return
        if by in peer.vouches:
            return
        if peer.pid == self.me:
            # Ourselves: only as a facilitator, and only ever our own keys.
            if self.role != FACILITATOR or peer.keys != self.public_keys():
                return
        elif peer.role != MEMBER:
            return
        sig = ident.sign(self.ctx, peer.pid, peer.role, peer.keys)
        self._out.append({"t": "vouch", "pid": peer.pid, "by": by, "sig": sig})
        peer.vouches[by] = sig  # as the server will relay it

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
        if peer.present:
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
        _remember(taken, state.chain_id, None, CHAIN_IDS_REMEMBERED)

    # ---- sealing ------------------------------------------------------------------------

    def _ready_to_seal(self) -> tuple[bytes, str, SenderChain]:
        if self.ctx is None or self.me is None or self.chain is None:
            raise CannotSeal(Why.NOT_READY)
        return self.ctx, self.me, self.chain

    def _warn_on_send(self) -> None:
        if self.unverified:
            self._notices.append({"code": UNVERIFIED_LINK})
        self._notices.extend({"code": UNTRUSTED, "pid": pid} for pid in self._untrusted_present())

    def seal(self, text: str, cw: str | None = None) -> bytes:
        """A room message, behind content warning ``cw`` if given (docs/e2ee.md section 5).

        ``cw`` is trimmed; more than 80 characters is ``CannotSeal`` (``cw_too_long``).
        """
        ctx, me, chain = self._ready_to_seal()
        body = text_body(text, cw)
        index, key = chain.advance()
        header = Header(KIND_MESSAGE, ctx, me, chain.epoch, chain.chain_id, index)
        sealed = seal_message(header, key, body, self._s_priv)
        _remember(self._own, (chain.epoch, chain.chain_id, index), (key, body), OWN_REMEMBERED)
        self._warn_on_send()
        return sealed.payload

    def _seal_to_facilitators(self, kind: int, body: bytes) -> bytes:
        ctx, me, _ = self._ready_to_seal()
        recipients = [
            Recipient(p.pid, p.bundle.x_pub, self._rng(NONCE_BYTES))
            for p in self._others()
            if p.role == FACILITATOR and p.present and self._trusts(p) and p.bundle is not None
        ]
        if not recipients:
            raise CannotSeal(Why.NO_RECIPIENT)
        payload = seal_private(kind, ctx, me, self._x_priv, recipients, body)
        self._warn_on_send()
        return payload

    def seal_private(self, text: str) -> bytes:
        payload = self._seal_to_facilitators(KIND_PRIVATE, text_body(text))
        _remember(self._own_private, primitives.sha256(payload), text, OWN_REMEMBERED)
        return payload

    def seal_report(self, msg_id: int, note: str) -> bytes:
        got = self._received.get(msg_id)
        if got is None:
            raise CannotSeal(Why.UNKNOWN_MESSAGE)
        body = ReportBody(msg_id, got.sender, got.payload, got.key.raw, got.body, note)
        payload = self._seal_to_facilitators(KIND_REPORT, body.encode())
        _remember(self._own_private, primitives.sha256(payload), note, OWN_REMEMBERED)
        return payload

    # ---- opening -------------------------------------------------------------------------

    def open(self, frame: dict[str, Any]) -> Opened:
        kind, sender, payload = frame.get("t"), frame.get("from"), frame.get("payload")
        if not isinstance(sender, str) or not isinstance(payload, bytes):
            raise CannotOpen(Why.MALFORMED)
        if self.ctx is None or self.me is None:
            raise CannotOpen(Why.NOT_READY)
        if kind == "msg":
            msg_id = frame.get("id")
            msg_id = msg_id if isinstance(msg_id, int) else None
            opened = self._open_message(msg_id, sender, payload)
            return Opened(opened.text, cw=opened.cw)
        if kind == "private":
            return self._open_private(sender, payload)
        if kind == "report":
            return self._open_report(sender, payload, frame.get("msg"))
        raise CannotOpen(Why.KIND)

    def _open_message(self, msg_id: int | None, sender: str, raw: bytes) -> Body:
        """Section 5, steps 1 to 8, in order; the chain changes only at the end."""
        assert self.ctx is not None
        payload, header = parse_message(raw, self.ctx, sender)
        if sender == self.me:
            key, body = self._open_own(payload, header)
            opened = parse_text_body(body)
        else:
            peer = self.peers.get(sender)
            if peer is None or peer.bundle is None or not self._trusts(peer):
                raise CannotOpen(Why.UNTRUSTED)
            verify_signature(payload, peer.bundle.s_pub)
            chain = peer.chains.find(header.chain_id, header.epoch)
            if chain is None:
                raise CannotOpen(Why.UNKNOWN_CHAIN)
            plan = chain.plan(header.index)
            body = decrypt_message(payload, plan.key)
            opened = parse_text_body(body)  # step 7 includes the body, its cw too
            chain.commit(plan)
            key = plan.key
        if msg_id is not None:
            received = _Received(sender, raw, key, body)
            _remember(self._received, msg_id, received, MESSAGES_REMEMBERED)
        return opened

    def _open_own(self, payload: RoomPayload, header: Header) -> tuple[MessageKey, bytes]:
        """Our own message, echoed by the server: the key we used, once."""
        verify_signature(payload, self._bundle.s_pub)
        slot = (header.epoch, header.chain_id, header.index)
        own = self._own.get(slot)
        if own is None:
            raise CannotOpen(Why.REPLAY)
        key, body = own
        if decrypt_message(payload, key) != body:
            raise CannotOpen(Why.DECRYPT)
        del self._own[slot]
        return key, body

    def _open_pairwise(self, kind: int, sender: str, raw: bytes) -> tuple[Peer, bytes, bytes]:
        """``(sender, nonce, body)`` of our entry; the caller remembers the nonce on success."""
        assert self.ctx is not None and self.me is not None
        peer = self.peers.get(sender)
        if peer is None or peer.bundle is None or not self._trusts(peer):
            raise CannotOpen(Why.UNTRUSTED)
        nonce, body = open_private(
            kind, self.ctx, sender, self.me, self._x_priv, peer.bundle.x_pub, raw
        )
        if nonce in peer.nonces:
            raise CannotOpen(Why.NONCE_REPLAY)
        return peer, nonce, body

    def _open_private(self, sender: str, raw: bytes) -> Opened:
        if sender == self.me:
            return self._own_echo(raw)
        peer, nonce, body = self._open_pairwise(KIND_PRIVATE, sender, raw)
        text = parse_text_body(body, with_cw=False).text  # a private body has no cw
        _remember(peer.nonces, nonce, None, NONCES_REMEMBERED)
        return Opened(text)

    def _open_report(self, sender: str, raw: bytes, frame_msg: object) -> Opened:
        """A report: verified only if it proves its message, and names the frame's message.

        The server's message ids are not signed, so the id in the body must
        at least be the one the server's frame names: a reporter cannot show
        the facilitators one message while the server's frame points at another.
        """
        if sender == self.me:
            return self._own_echo(raw)
        assert self.ctx is not None
        peer, nonce, body = self._open_pairwise(KIND_REPORT, sender, raw)
        report = ReportBody.parse(body)
        _remember(peer.nonces, nonce, None, NONCES_REMEMBERED)
        same_msg = type(frame_msg) is int and frame_msg == report.msg
        verified = same_msg and verify_report(
            report, self.ctx, self._signing_keys.get(report.sender, [])
        )
        try:
            reported: Body | None = parse_text_body(report.body)
        except CannotOpen:
            reported = None
        text, cw = (reported.text, reported.cw) if reported is not None else (None, None)
        return Opened(report.note, verified, Reported(report.msg, report.sender, text, cw))

    def _own_echo(self, raw: bytes) -> Opened:
        """A facilitator sees its own private or report come back: shown from memory."""
        text = self._own_private.pop(primitives.sha256(raw), None)
        if text is None:
            raise CannotOpen(Why.NOT_FOR_ME)
        return Opened(text)
