"""Sender chains (docs/e2ee.md sections 4 to 6): our own, and the ones we receive.

Receiving is in two steps, like python-doubleratchet: ``plan`` works out the
key for an index without changing anything, and ``commit`` keeps the new state
only after the caller has verified, decrypted and checked the commitment. A
message that fails anywhere leaves the chain exactly as it was.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from clients.e2ee import primitives
from clients.e2ee.encoding import (
    CHAIN_ID_BYTES,
    KEY_BYTES,
    LABEL_MESSAGE,
    MAX_U32,
    NONCE_BYTES,
    ChainState,
)
from clients.e2ee.errors import CannotOpen, Why

MAX_SKIP = 1000  # at most this many indexes stepped over by one message
MAX_KEPT = 64  # skipped keys kept per chain, oldest dropped first

Random = Callable[[int], bytes]


@dataclass(frozen=True, slots=True)
class MessageKey:
    mk: bytes = field(repr=False)
    nonce: bytes = field(repr=False)

    @property
    def raw(self) -> bytes:
        """``mk || nonce``: what a report reveals."""
        return self.mk + self.nonce


def next_chain_key(ck: bytes) -> bytes:
    return primitives.hmac_sha256(ck, b"\x02")


def message_key(ck: bytes) -> MessageKey:
    seed = primitives.hmac_sha256(ck, b"\x01")
    okm = primitives.hkdf(seed, LABEL_MESSAGE, KEY_BYTES + NONCE_BYTES)
    return MessageKey(okm[:KEY_BYTES], okm[KEY_BYTES:])


def step(ck: bytes) -> tuple[MessageKey, bytes]:
    """The key of the message at this chain key, and the chain key of the next."""
    return message_key(ck), next_chain_key(ck)


class SenderChain:
    """Our own chain: each message takes the current key and moves on; the old key is gone."""

    def __init__(self, chain_id: bytes, epoch: int, ck: bytes, index: int = 0) -> None:
        if len(chain_id) != CHAIN_ID_BYTES or len(ck) != KEY_BYTES:
            raise ValueError("a chain has a 16-byte id and a 32-byte key")
        self.chain_id = chain_id
        self.epoch = epoch
        self.index = index
        self._ck = ck

    @classmethod
    def fresh(cls, epoch: int, rng: Random) -> SenderChain:
        if not 0 <= epoch <= MAX_U32:
            raise ValueError("epoch out of range")
        return cls(rng(CHAIN_ID_BYTES), epoch, rng(KEY_BYTES))

    def state(self) -> ChainState:
        """The chain as it stands: a recipient can derive this index's key and later ones only."""
        return ChainState(self.chain_id, self.epoch, self.index, self._ck)

    def advance(self) -> tuple[int, MessageKey]:
        if self.index >= MAX_U32:
            raise ValueError("this chain is used up; start a new one")
        key, self._ck = step(self._ck)
        index, self.index = self.index, self.index + 1
        return index, key


@dataclass(frozen=True, slots=True)
class Plan:
    """How a chain would move if the message at ``index`` turns out genuine."""

    index: int
    key: MessageKey = field(repr=False)
    from_kept: bool
    next_ck: bytes = field(default=b"", repr=False)
    newly_kept: tuple[tuple[int, MessageKey], ...] = field(default=(), repr=False)


@dataclass(slots=True)
class ReceiverChain:
    """A chain of another participant, at the next index we have not seen."""

    chain_id: bytes
    epoch: int
    index: int
    ck: bytes = field(repr=False)
    kept: OrderedDict[int, MessageKey] = field(default_factory=OrderedDict, repr=False)

    @classmethod
    def from_state(cls, state: ChainState) -> ReceiverChain:
        return cls(state.chain_id, state.epoch, state.index, state.ck)

    def plan(self, index: int) -> Plan:
        """The key for ``index``, computed without changing the chain."""
        if index < self.index:
            key = self.kept.get(index)
            if key is None:  # used already, dropped, or before we had the chain
                raise CannotOpen(Why.REPLAY)
            return Plan(index, key, from_kept=True)
        skip = index - self.index
        if skip > MAX_SKIP:
            raise CannotOpen(Why.TOO_FAR)
        ck = self.ck
        kept: list[tuple[int, MessageKey]] = []
        for i in range(self.index, index):
            # Only the last MAX_KEPT skipped keys could be kept: derive only those.
            if index - i <= MAX_KEPT:
                kept.append((i, message_key(ck)))
            ck = next_chain_key(ck)
        key, next_ck = step(ck)
        return Plan(index, key, from_kept=False, next_ck=next_ck, newly_kept=tuple(kept))

    def commit(self, plan: Plan) -> None:
        """Keep the state ``plan`` described; the keys it used are gone afterwards."""
        if plan.from_kept:
            del self.kept[plan.index]
            return
        self.kept.update(plan.newly_kept)
        while len(self.kept) > MAX_KEPT:
            self.kept.popitem(last=False)
        self.index, self.ck = plan.index + 1, plan.next_ck


@dataclass(slots=True)
class PeerChains:
    """One sender's chains as we hold them: the current one and the one before it."""

    current: ReceiverChain | None = None
    previous: ReceiverChain | None = None

    def find(self, chain_id: bytes, epoch: int) -> ReceiverChain | None:
        for chain in (self.current, self.previous):
            if chain is not None and chain.chain_id == chain_id and chain.epoch == epoch:
                return chain
        return None

    def check(self, state: ChainState) -> None:
        """Raise ``Why.STALE`` unless section 6 lets ``state`` in."""
        cur = self.current
        if cur is None:
            return
        if state.chain_id == cur.chain_id:
            if state.epoch != cur.epoch or state.index <= cur.index:
                raise CannotOpen(Why.STALE)  # a distribution never moves a chain back
            return
        prev = self.previous
        if (prev is not None and state.chain_id == prev.chain_id) or state.epoch < cur.epoch:
            raise CannotOpen(Why.STALE)

    def adopt(self, state: ChainState) -> None:
        """Take up a distributed state: a new chain, or the current one further ahead."""
        self.check(state)
        cur = self.current
        if cur is not None and state.chain_id == cur.chain_id:
            cur.index, cur.ck = state.index, state.ck  # keys kept below stay valid
            return
        self.previous, self.current = cur, ReceiverChain.from_state(state)
