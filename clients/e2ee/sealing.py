"""Sealing and opening, byte by byte (docs/e2ee.md sections 5, 6 and 8).

Stateless: keys, context and names come in as arguments, and nothing here
decides whom to trust or which chain to use (that is ``codec.py``). Each
``open`` function raises ``CannotOpen`` with the step that failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from clients.e2ee import primitives
from clients.e2ee.chains import MessageKey
from clients.e2ee.encoding import (
    KEY_BYTES,
    KIND_MESSAGE,
    MESSAGE_KEY_BYTES,
    ChainState,
    Header,
    PrivateEntry,
    ReportBody,
    RoomPayload,
    commitment_input,
    distribution_info,
    encode_distribution,
    encode_private,
    parse_distribution,
    parse_private,
    private_info,
    signed_part,
)
from clients.e2ee.errors import CannotOpen, CannotSeal, Why

# ---- room messages (section 5) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class SealedMessage:
    header: bytes
    commitment: bytes
    signature: bytes
    ciphertext: bytes

    @property
    def payload(self) -> bytes:
        return RoomPayload(self.header, self.signature, self.commitment, self.ciphertext).encode()


def commitment(key: MessageKey, body: bytes) -> bytes:
    return primitives.sha256(commitment_input(key.mk, key.nonce, body))


def seal_message(header: Header, key: MessageKey, body: bytes, s_priv: bytes) -> SealedMessage:
    header_bytes = header.encode()
    ciphertext = primitives.aes_gcm_seal(key.mk, key.nonce, body, header_bytes)
    commit = commitment(key, body)
    signature = primitives.ed25519_sign(s_priv, signed_part(header_bytes, commit, ciphertext))
    return SealedMessage(header_bytes, commit, signature, ciphertext)


def parse_message(raw: bytes, ctx: bytes, sender: str) -> tuple[RoomPayload, Header]:
    """Steps 1 and 2: the payload parses, and names this room, this session and ``sender``."""
    payload = RoomPayload.parse(raw)
    header = payload.header
    if header.kind != KIND_MESSAGE:
        raise CannotOpen(Why.KIND)
    if header.ctx != ctx:
        raise CannotOpen(Why.CONTEXT)
    if header.sender != sender:
        raise CannotOpen(Why.SENDER)
    return payload, header


def verify_signature(payload: RoomPayload, s_pub: bytes) -> None:
    """Step 4."""
    signed = signed_part(payload.header_bytes, payload.commitment, payload.ciphertext)
    if not primitives.ed25519_verify(s_pub, payload.signature, signed):
        raise CannotOpen(Why.SIGNATURE)


def decrypt_message(payload: RoomPayload, key: MessageKey) -> bytes:
    """Step 7: decrypt with ``key`` and check the commitment; the body's exact bytes."""
    try:
        body = primitives.aes_gcm_open(key.mk, key.nonce, payload.ciphertext, payload.header_bytes)
    except primitives.CryptoFailure:
        raise CannotOpen(Why.DECRYPT) from None
    if commitment(key, body) != payload.commitment:
        raise CannotOpen(Why.COMMITMENT)
    return body


# ---- pairwise keys (sections 6 and 8) ------------------------------------------------------


def pairwise_key(x_priv: bytes, peer_x_pub: bytes, info: bytes) -> bytes:
    try:
        shared = primitives.x25519(x_priv, peer_x_pub)
    except primitives.CryptoFailure:
        raise CannotOpen(Why.DECRYPT) from None
    return primitives.hkdf(shared, info, KEY_BYTES)


def seal_distribution(
    ctx: bytes,
    sender: str,
    recipient: str,
    x_priv: bytes,
    recipient_x_pub: bytes,
    state: ChainState,
    nonce: bytes,
) -> bytes:
    info = distribution_info(ctx, sender, recipient)
    k = pairwise_key(x_priv, recipient_x_pub, info)
    return encode_distribution(nonce, primitives.aes_gcm_seal(k, nonce, state.encode(), info))


def open_distribution(
    ctx: bytes, sender: str, recipient: str, x_priv: bytes, sender_x_pub: bytes, raw: bytes
) -> ChainState:
    """The state ``sender`` gave ``recipient``; forwarded or re-attributed, it fails to decrypt."""
    nonce, sealed = parse_distribution(raw)
    info = distribution_info(ctx, sender, recipient)
    k = pairwise_key(x_priv, sender_x_pub, info)
    try:
        state = primitives.aes_gcm_open(k, nonce, sealed, info)
    except primitives.CryptoFailure:
        raise CannotOpen(Why.DECRYPT) from None
    return ChainState.parse(state)


@dataclass(frozen=True, slots=True)
class Recipient:
    pid: str
    x_pub: bytes
    nonce: bytes


def seal_private(
    kind: int, ctx: bytes, sender: str, x_priv: bytes, recipients: list[Recipient], body: bytes
) -> bytes:
    """One entry per recipient, in the order given.

    A recipient whose key gives no pairwise key (a low-order X25519 point) is
    left out and the others still get theirs; if none is left: ``CannotSeal``
    with ``Why.NO_RECIPIENT``.
    """
    entries = []
    for r in recipients:
        info = private_info(ctx, sender, r.pid)
        try:
            k = pairwise_key(x_priv, r.x_pub, info)
        except CannotOpen:
            continue
        sealed = primitives.aes_gcm_seal(k, r.nonce, body, info)
        entries.append(PrivateEntry(r.pid, r.nonce, sealed))
    if not entries:
        raise CannotSeal(Why.NO_RECIPIENT)
    return encode_private(kind, entries)


def open_private(
    kind: int, ctx: bytes, sender: str, me: str, x_priv: bytes, sender_x_pub: bytes, raw: bytes
) -> tuple[bytes, bytes]:
    """``(nonce, body)`` of our entry; the nonce is for the caller's replay memory."""
    found_kind, entries = parse_private(raw)
    if found_kind != kind:
        raise CannotOpen(Why.KIND)
    mine = next((e for e in entries if e.recipient == me), None)
    if mine is None:
        raise CannotOpen(Why.NOT_FOR_ME)
    info = private_info(ctx, sender, me)
    k = pairwise_key(x_priv, sender_x_pub, info)
    try:
        return mine.nonce, primitives.aes_gcm_open(k, mine.nonce, mine.sealed, info)
    except primitives.CryptoFailure:
        raise CannotOpen(Why.DECRYPT) from None


# ---- reports (section 8) ------------------------------------------------------------------


def verify_report(report: ReportBody, ctx: bytes, s_pubs: Iterable[bytes]) -> bool:
    """True only if ``report.sender`` really sent ``report.body`` in this room and session.

    ``s_pubs`` are the signing keys the sender was trusted with in this
    session (a report may arrive after the sender left the roster).
    """
    try:
        payload, header = parse_message(report.payload, ctx, report.sender)
    except CannotOpen:
        return False
    if header.kind != KIND_MESSAGE or len(report.key) != MESSAGE_KEY_BYTES:
        return False
    signed = signed_part(payload.header_bytes, payload.commitment, payload.ciphertext)
    if not any(primitives.ed25519_verify(pub, payload.signature, signed) for pub in s_pubs):
        return False
    key = MessageKey(report.key[:KEY_BYTES], report.key[KEY_BYTES:])
    if commitment(key, report.body) != payload.commitment:
        return False
    try:
        opened = primitives.aes_gcm_open(
            key.mk, key.nonce, payload.ciphertext, payload.header_bytes
        )
    except primitives.CryptoFailure:
        return False
    return opened == report.body
