"""``E2EECodec``: the encryption layer as a sans-I/O state machine (docs/e2ee.md).

It follows the room through the frames the client shows it (``on_frame``),
decides whom to trust (section 3), hands its chain to trusted participants and
starts a new one when someone departs (section 7): that half is its base,
``KeyRoster`` (``roster.py``). Here it seals and opens payloads (sections 5,
6 and 8). It never touches a socket: frames it wants sent wait in
``outgoing()``, warnings for the user in ``notices()``.

One codec is one participant in one session: keys are made fresh for it and
never leave it, and an ``ended`` frame wipes them (the codec is then spent).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from clients.e2ee import primitives
from clients.e2ee.admission import IdentityKey, identities_from_link
from clients.e2ee.chains import MessageKey, SenderChain
from clients.e2ee.encoding import (
    KIND_MESSAGE,
    KIND_PRIVATE,
    KIND_REPORT,
    NONCE_BYTES,
    Body,
    Header,
    ReportBody,
    RoomPayload,
    parse_text_body,
    text_body,
)
from clients.e2ee.errors import CannotOpen, CannotSeal, Why
from clients.e2ee.peer import FACILITATOR, Peer, remember
from clients.e2ee.roster import UNTRUSTED, UNVERIFIED_LINK, KeyRoster
from clients.e2ee.sealing import (
    Recipient,
    decrypt_message,
    open_private,
    parse_message,
    seal_message,
    seal_private,
    verify_report,
    verify_signature,
)
from clients.payload import Opened, Reported

NONCES_REMEMBERED = 1024  # private nonces remembered per sender
MESSAGES_REMEMBERED = 200  # opened messages kept (key and body) so that they can be reported
OWN_REMEMBERED = 256  # our own sealed payloads, until the server echoes them back


@dataclass(frozen=True, slots=True)
class _Received:
    """A message we opened, kept so that we can report it (section 8)."""

    sender: str
    payload: bytes
    key: MessageKey = field(repr=False)
    body: bytes = field(repr=False)


class E2EECodec(KeyRoster):
    """The ``PayloadCodec`` of docs/e2ee.md, for a member or a facilitator.

    ``trusted`` are the identities a member's link names (``member()`` reads
    them from the link); none means *unverified* mode. A facilitator passes
    its ``identity`` and the ``co_facilitators`` it trusts. ``x_priv``,
    ``s_priv`` and ``rng`` exist so tests and vectors can fix every byte.
    """

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
        super()._reset()
        self._own: OrderedDict[tuple[int, bytes, int], tuple[MessageKey, bytes]] = OrderedDict()
        self._own_private: OrderedDict[bytes, str] = OrderedDict()
        self._received: OrderedDict[int, _Received] = OrderedDict()

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
        remember(self._own, (chain.epoch, chain.chain_id, index), (key, body), OWN_REMEMBERED)
        self._warn_on_send()
        return sealed.payload

    def _seal_to_facilitators(self, kind: int, body: bytes, to: str | None = None) -> bytes:
        """Sealed pairwise to each trusted facilitator present, and to member ``to``.

        ``to`` (a facilitator's reply into one member's private thread) must be
        a member this client trusts; it need not be present in the room (a
        member who stepped out still reads the thread).
        """
        ctx, me, _ = self._ready_to_seal()
        recipients = []
        if to is not None:
            member = self.peers.get(to)
            if (
                self.role != FACILITATOR
                or member is None
                or member.role == FACILITATOR
                or member.bundle is None
                or not self._trusts(member)
            ):
                raise CannotSeal(Why.NO_RECIPIENT)
            recipients.append(Recipient(member.pid, member.bundle.x_pub, self._rng(NONCE_BYTES)))
        recipients += [
            Recipient(p.pid, p.bundle.x_pub, self._rng(NONCE_BYTES))
            for p in self._others()
            if p.role == FACILITATOR and p.present and self._trusts(p) and p.bundle is not None
        ]
        if not recipients:
            raise CannotSeal(Why.NO_RECIPIENT)
        payload = seal_private(kind, ctx, me, self._x_priv, recipients, body)
        self._warn_on_send()
        return payload

    def seal_private(self, text: str, to: str | None = None) -> bytes:
        payload = self._seal_to_facilitators(KIND_PRIVATE, text_body(text), to)
        remember(self._own_private, primitives.sha256(payload), text, OWN_REMEMBERED)
        return payload

    def seal_report(self, msg_id: int, note: str) -> bytes:
        got = self._received.get(msg_id)
        if got is None:
            raise CannotSeal(Why.UNKNOWN_MESSAGE)
        body = ReportBody(msg_id, got.sender, got.payload, got.key.raw, got.body, note)
        payload = self._seal_to_facilitators(KIND_REPORT, body.encode())
        remember(self._own_private, primitives.sha256(payload), note, OWN_REMEMBERED)
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
            remember(self._received, msg_id, received, MESSAGES_REMEMBERED)
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
        if self.role != FACILITATOR and peer.role != FACILITATOR:
            # A member's private thread is with the facilitators only; the role
            # is the one a vouch signed (docs/e2ee.md section 3).
            raise CannotOpen(Why.UNTRUSTED)
        text = parse_text_body(body, with_cw=False).text  # a private body has no cw
        remember(peer.nonces, nonce, None, NONCES_REMEMBERED)
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
        remember(peer.nonces, nonce, None, NONCES_REMEMBERED)
        same_msg = type(frame_msg) is int and frame_msg == report.msg
        # Our own copy of that id, if we still hold it, must be this very message.
        ours = self._received.get(report.msg)
        mismatch = ours is not None and ours.payload != report.payload
        verified = (
            same_msg
            and not mismatch
            and verify_report(report, self.ctx, self._signing_keys.get(report.sender, []))
        )
        try:
            reported: Body | None = parse_text_body(report.body)
        except CannotOpen:
            reported = None
        text, cw = (reported.text, reported.cw) if reported is not None else (None, None)
        return Opened(
            report.note, verified, Reported(report.msg, report.sender, text, cw, mismatch)
        )

    def _own_echo(self, raw: bytes) -> Opened:
        """A facilitator sees its own private or report come back: shown from memory."""
        text = self._own_private.pop(primitives.sha256(raw), None)
        if text is None:
            raise CannotOpen(Why.NOT_FOR_ME)
        return Opened(text)
