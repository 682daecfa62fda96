"""A participant as the encryption layer sees it, and the small helpers around it."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from clients.e2ee.chains import PeerChains
from clients.e2ee.encoding import Bundle

FACILITATOR = "facilitator"
MEMBER = "member"
# Valid vouches kept per participant and signer, one per anchor: the signer's
# new vouches may arrive before or after the one for us that moves its anchor.
ANCHORS_KEPT = 4


@dataclass(slots=True)
class Peer:
    """A roster entry as the encryption layer sees it."""

    pid: str
    role: str
    keys: bytes
    bundle: Bundle | None  # None: unusable keys, never trusted
    present: bool = True
    # Only vouches that verify, by identities we trust: identity -> anchor ->
    # signature (the last ANCHORS_KEPT anchors). Which of them count depends
    # on each signer's current anchor (``KeyRoster._current_anchor``).
    vouches: dict[bytes, OrderedDict[bytes, bytes]] = field(default_factory=dict)
    chains: PeerChains = field(default_factory=PeerChains, repr=False)
    # A distribution that came before its sender was trusted.
    held: bytes | None = field(default=None, repr=False)
    nonces: OrderedDict[bytes, None] = field(default_factory=OrderedDict, repr=False)


def remember(memory: OrderedDict[Any, Any], key: Any, value: Any, most: int) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > most:
        memory.popitem(last=False)
