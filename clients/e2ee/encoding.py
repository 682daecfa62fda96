"""The byte layouts of docs/e2ee.md: build them, and parse them strictly.

Parsing never trusts a length: every field is checked against what is left,
and anything that does not fit, or bytes left over, raises ``CannotOpen``
with ``Why.MALFORMED`` (a version byte this code does not speak raises
``Why.VERSION``). Nothing here holds state or touches a key.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import msgpack

from clients.e2ee.errors import CannotOpen, CannotSeal, Why

BUNDLE_VERSION = 1
HEADER_VERSION = 1
STATE_VERSION = 1
KIND_MESSAGE = 0x01
KIND_DISTRIBUTION = 0x10
KIND_PRIVATE = 0x20
KIND_REPORT = 0x30

KEY_BYTES = 32
CHAIN_ID_BYTES = 16
NONCE_BYTES = 12
SIGNATURE_BYTES = 64
COMMITMENT_BYTES = 32
TAG_BYTES = 16
BUNDLE_BYTES = 1 + 2 * KEY_BYTES
STATE_BYTES = 1 + CHAIN_ID_BYTES + 4 + 4 + KEY_BYTES
MESSAGE_KEY_BYTES = KEY_BYTES + NONCE_BYTES  # mk || nonce, as a report reveals it
MAX_LP = 0xFFFF
MAX_U32 = 0xFFFFFFFF
MAX_ENTRIES = 0xFF

LABEL_ADMIT = "safespace/v2/admit"  # v2: the signer's anchor is part of the statement
LABEL_REMOVE = "safespace/v1/remove"
ANCHOR_BYTES = 16
LABEL_MESSAGE = b"safespace/v1/message"  # HKDF info as is, not length-prefixed
LABEL_COMMIT = "safespace/v1/commit"
LABEL_SIGN = "safespace/v1/sign"
LABEL_DISTRIBUTE = "safespace/v1/distribute"
LABEL_PRIVATE = "safespace/v1/private"
LABEL_CONTENT_RULES = "safespace/v2/content-rules"


def lp(x: bytes | str) -> bytes:
    """``u16 len(x) || x``; strings are UTF-8 first."""
    raw = x.encode("utf-8") if isinstance(x, str) else x
    if len(raw) > MAX_LP:
        raise ValueError(f"a length-prefixed field is at most {MAX_LP} bytes, not {len(raw)}")
    return struct.pack(">H", len(raw)) + raw


def u32(n: int) -> bytes:
    if not 0 <= n <= MAX_U32:
        raise ValueError(f"{n} does not fit in a u32")
    return struct.pack(">I", n)


class Reader:
    """Reads fields off the front of ``data``; running short is ``Why.MALFORMED``."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise CannotOpen(Why.MALFORMED)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack(">H", self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def lp(self) -> bytes:
        return self.take(self.u16())

    def lp_str(self) -> str:
        try:
            return self.lp().decode("utf-8")
        except UnicodeDecodeError:
            raise CannotOpen(Why.MALFORMED) from None

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)

    def end(self) -> None:
        if self.pos != len(self.data):
            raise CannotOpen(Why.MALFORMED)


# ---- context and bundle ----------------------------------------------------------


def context(group_id: str, session_id: str) -> bytes:
    """``ctx``: binds everything to one room and one session."""
    return lp(group_id) + lp(session_id)


@dataclass(frozen=True, slots=True)
class Bundle:
    """What a participant publishes in the roster: ``u8 1 || x_pub || s_pub``."""

    x_pub: bytes
    s_pub: bytes

    def encode(self) -> bytes:
        return bytes([BUNDLE_VERSION]) + self.x_pub + self.s_pub

    @classmethod
    def parse(cls, raw: bytes) -> Bundle:
        if len(raw) != BUNDLE_BYTES:
            raise CannotOpen(Why.MALFORMED)
        if raw[0] != BUNDLE_VERSION:
            raise CannotOpen(Why.VERSION)
        return cls(raw[1:33], raw[33:65])


# ---- room messages (section 5) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Header:
    kind: int
    ctx: bytes
    sender: str
    epoch: int
    chain_id: bytes
    index: int

    def encode(self) -> bytes:
        if len(self.chain_id) != CHAIN_ID_BYTES:
            raise ValueError("a chain id is 16 bytes")
        return (
            bytes([HEADER_VERSION, self.kind])
            + self.ctx
            + lp(self.sender)
            + u32(self.epoch)
            + self.chain_id
            + u32(self.index)
        )

    @classmethod
    def parse(cls, raw: bytes) -> Header:
        r = Reader(raw)
        if r.u8() != HEADER_VERSION:
            raise CannotOpen(Why.VERSION)
        kind = r.u8()
        start = r.pos
        r.lp()  # group id
        r.lp()  # session id
        ctx = raw[start : r.pos]
        sender = r.lp_str()
        epoch = r.u32()
        chain_id = r.take(CHAIN_ID_BYTES)
        index = r.u32()
        r.end()
        return cls(kind, ctx, sender, epoch, chain_id, index)


@dataclass(frozen=True, slots=True)
class RoomPayload:
    """``lp(header) || signature || commitment || ciphertext``."""

    header_bytes: bytes
    signature: bytes
    commitment: bytes
    ciphertext: bytes

    def encode(self) -> bytes:
        return lp(self.header_bytes) + self.signature + self.commitment + self.ciphertext

    @classmethod
    def parse(cls, raw: bytes) -> RoomPayload:
        r = Reader(raw)
        header = r.lp()
        signature = r.take(SIGNATURE_BYTES)
        commitment = r.take(COMMITMENT_BYTES)
        ciphertext = r.rest()
        if len(ciphertext) < TAG_BYTES:
            raise CannotOpen(Why.MALFORMED)
        return cls(header, signature, commitment, ciphertext)

    @property
    def header(self) -> Header:
        return Header.parse(self.header_bytes)


def signed_part(header_bytes: bytes, commitment: bytes, ciphertext: bytes) -> bytes:
    """What the sender's Ed25519 key signs."""
    return lp(LABEL_SIGN) + lp(header_bytes) + commitment + ciphertext


def commitment_input(mk: bytes, nonce: bytes, body: bytes) -> bytes:
    """What the commitment hashes: the key material and the exact body bytes."""
    return lp(LABEL_COMMIT) + mk + nonce + body


# ---- chain states (section 6) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainState:
    """A chain as it is handed to a recipient: ``u8 1 || chain_id || epoch || index || ck``."""

    chain_id: bytes
    epoch: int
    index: int
    ck: bytes = field(repr=False)

    def encode(self) -> bytes:
        if len(self.chain_id) != CHAIN_ID_BYTES or len(self.ck) != KEY_BYTES:
            raise ValueError("a chain state holds a 16-byte id and a 32-byte key")
        return bytes([STATE_VERSION]) + self.chain_id + u32(self.epoch) + u32(self.index) + self.ck

    @classmethod
    def parse(cls, raw: bytes) -> ChainState:
        if len(raw) != STATE_BYTES:
            raise CannotOpen(Why.MALFORMED)
        r = Reader(raw)
        if r.u8() != STATE_VERSION:
            raise CannotOpen(Why.VERSION)
        chain_id = r.take(CHAIN_ID_BYTES)
        epoch = r.u32()
        index = r.u32()
        ck = r.take(KEY_BYTES)
        return cls(chain_id, epoch, index, ck)


def distribution_info(ctx: bytes, sender: str, recipient: str) -> bytes:
    return lp(LABEL_DISTRIBUTE) + ctx + lp(sender) + lp(recipient)


def encode_distribution(nonce: bytes, sealed: bytes) -> bytes:
    return bytes([KIND_DISTRIBUTION]) + nonce + sealed


def parse_distribution(raw: bytes) -> tuple[bytes, bytes]:
    """``(nonce, sealed state)`` of a ``direct`` payload."""
    r = Reader(raw)
    if r.u8() != KIND_DISTRIBUTION:
        raise CannotOpen(Why.KIND)
    nonce = r.take(NONCE_BYTES)
    sealed = r.rest()
    if len(sealed) < TAG_BYTES:
        raise CannotOpen(Why.MALFORMED)
    return nonce, sealed


# ---- messages to the facilitators (section 8) -------------------------------------------


def private_info(ctx: bytes, sender: str, recipient: str) -> bytes:
    return lp(LABEL_PRIVATE) + ctx + lp(sender) + lp(recipient)


@dataclass(frozen=True, slots=True)
class PrivateEntry:
    recipient: str
    nonce: bytes
    sealed: bytes

    def encode(self) -> bytes:
        return lp(self.recipient) + self.nonce + u32(len(self.sealed)) + self.sealed


def encode_private(kind: int, entries: list[PrivateEntry]) -> bytes:
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise ValueError(f"a private payload has 1 to {MAX_ENTRIES} entries")
    return bytes([kind, len(entries)]) + b"".join(e.encode() for e in entries)


def parse_private(raw: bytes) -> tuple[int, list[PrivateEntry]]:
    """The kind and the entries; two entries for the same recipient are malformed."""
    r = Reader(raw)
    kind = r.u8()
    if kind not in (KIND_PRIVATE, KIND_REPORT):
        raise CannotOpen(Why.KIND)
    count = r.u8()
    entries: list[PrivateEntry] = []
    for _ in range(count):
        recipient = r.lp_str()
        nonce = r.take(NONCE_BYTES)
        sealed = r.take(r.u32())
        if len(sealed) < TAG_BYTES:
            raise CannotOpen(Why.MALFORMED)
        entries.append(PrivateEntry(recipient, nonce, sealed))
    r.end()
    if count == 0 or len({e.recipient for e in entries}) != count:
        raise CannotOpen(Why.MALFORMED)
    return kind, entries


# ---- bodies (msgpack) ------------------------------------------------------------------


def pack(value: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def _unpack_map(raw: bytes) -> dict[str, Any]:
    try:
        value = msgpack.unpackb(raw, raw=False, strict_map_key=True)
    except Exception:
        raise CannotOpen(Why.MALFORMED) from None
    if not isinstance(value, dict):
        raise CannotOpen(Why.MALFORMED)
    return value


# A content warning (section 5): at most this many characters (code points),
# once trimmed of this white space (Unicode's White_Space, and U+FEFF) at both
# ends. Spelled out, rather than ``str.strip()``, because Python's and
# JavaScript's notions of white space differ, and the body's bytes must not.
MAX_CW_CHARS = 80
CW_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)


@dataclass(frozen=True, slots=True)
class Body:
    """A room message's body, opened: its text and the sender's content warning, if any."""

    text: str = field(repr=False)  # plaintext: never in a repr
    cw: str | None = field(default=None, repr=False)


def content_warning(cw: str | None) -> str | None:
    """``cw`` as a body carries it: trimmed, None if nothing is left.

    Longer than ``MAX_CW_CHARS`` once trimmed: ``CannotSeal`` (``cw_too_long``),
    never a warning silently cut short.
    """
    if cw is None:
        return None
    if not isinstance(cw, str):
        raise TypeError("a content warning is a string")
    cw = cw.strip(CW_SPACE)
    if len(cw) > MAX_CW_CHARS:
        raise CannotSeal(Why.CW_TOO_LONG)
    return cw or None


def text_body(text: str, cw: str | None = None) -> bytes:
    """A room message's body: ``{"text": str}``, or ``{"text": str, "cw": str}``.

    ``cw`` is trimmed first, and left out when nothing is left of it. A private
    message's body is ``{"text": str}`` only (give no ``cw``).
    """
    if not isinstance(text, str):
        raise TypeError("a message's text is a string")
    warning = content_warning(cw)
    # The key order (text, then cw) is part of the format.
    return pack({"text": text} if warning is None else {"text": text, "cw": warning})


def parse_text_body(raw: bytes, *, with_cw: bool = True) -> Body:
    """The text and content warning of a room message's body; other keys are ignored.

    A ``cw`` that is there but is not a string of 1 to ``MAX_CW_CHARS``
    characters makes the body malformed. ``with_cw=False`` reads a private
    message's body, where ``cw`` means nothing: an unknown key, ignored.
    """
    m = _unpack_map(raw)
    text = m.get("text")
    if not isinstance(text, str):
        raise CannotOpen(Why.MALFORMED)
    if not with_cw or "cw" not in m:
        return Body(text)
    cw = m["cw"]
    if not isinstance(cw, str) or not 1 <= len(cw) <= MAX_CW_CHARS:
        raise CannotOpen(Why.MALFORMED)
    return Body(text, cw)


@dataclass(frozen=True, slots=True)
class ReportBody:
    """What a reporter hands the facilitators: the message as received, and its key."""

    msg: int
    sender: str  # "from": the reported message's sender pid
    payload: bytes
    key: bytes = field(repr=False)  # mk || nonce
    body: bytes = field(repr=False)
    note: str = field(repr=False)

    def encode(self) -> bytes:
        # The key order is part of the format (the vectors fix these bytes).
        return pack(
            {
                "msg": self.msg,
                "from": self.sender,
                "payload": self.payload,
                "key": self.key,
                "body": self.body,
                "note": self.note,
            }
        )

    @classmethod
    def parse(cls, raw: bytes) -> ReportBody:
        m = _unpack_map(raw)
        msg, sender, note = m.get("msg"), m.get("from"), m.get("note")
        payload, key, body = m.get("payload"), m.get("key"), m.get("body")
        if (
            not isinstance(msg, int)
            or isinstance(msg, bool)
            or not isinstance(sender, str)
            or not isinstance(note, str)
            or not all(isinstance(b, bytes) for b in (payload, key, body))
        ):
            raise CannotOpen(Why.MALFORMED)
        assert isinstance(payload, bytes) and isinstance(key, bytes) and isinstance(body, bytes)
        return cls(msg, sender, payload, key, body, note)
