"""Who is in a session: participants, their roles and their moderation state."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rooms.errors import Code, DomainError
from rooms.wire import MAX_NAME_CHARS


class Role(StrEnum):
    MEMBER = "member"
    FACILITATOR = "facilitator"


@dataclass(slots=True)
class Participant:
    """One person in one session.

    ``seat`` is the seat link id for a member and the facilitator's account
    name for a facilitator: the identity that comes back after stepping out.
    ``keys`` is the opaque public-key bundle the client publishes (the
    encryption layer fills it; the server only relays it in the roster).
    ``muted_until`` is None when not muted, ``inf`` for a mute until unmuted,
    and a time for a time-out, which ends by itself.
    """

    pid: str
    name: str
    role: Role
    seat: str
    keys: bytes = b""
    # In the room (False: stepped out). A member who stepped out keeps the
    # connection: the private thread, support and the crisis resources still
    # work (docs/protocol.md section 3). ``connected`` is False once the
    # connection itself is gone (a closed tab, a lost network).
    present: bool = True
    connected: bool = True
    # Stepped out on purpose (a break), until ``back``: kept through a dropped
    # connection, so that a page reconnecting during a break stays on it
    # instead of showing the member back in the room for a moment.
    on_break: bool = False
    hand: bool = False
    muted_until: float | None = None
    # Facilitators' signed admissions of this participant's keys, by the
    # signer's identity key: (anchor, signature), the latest per signer.
    # Opaque to the server: it relays them, and can neither make one nor
    # check one (docs/e2ee.md section 3).
    vouches: dict[bytes, tuple[bytes, bytes]] = field(default_factory=dict)

    def set_keys(self, keys: bytes) -> None:
        """New keys (a new connection): the old vouches were for the old keys."""
        if keys != self.keys:
            self.keys = keys
            self.vouches.clear()

    @property
    def is_facilitator(self) -> bool:
        return self.role is Role.FACILITATOR

    def public(self) -> dict[str, Any]:
        until = self.muted_until
        return {
            "pid": self.pid,
            "name": self.name,
            "role": str(self.role),
            "present": self.present,
            "connected": self.connected,
            "hand": self.hand,
            "muted": until is not None,
            # msgpack has no infinity worth relying on across languages: None
            # with muted=True means "until a facilitator unmutes".
            "until": None if until is None or until == float("inf") else until,
            "keys": self.keys,
            "vouches": [
                {"by": by, "anchor": anchor, "sig": sig}
                for by, (anchor, sig) in self.vouches.items()
            ],
        }


def clean_name(raw: str) -> str:
    """A display name as shown to others: trimmed, NFC, no control characters."""
    # Invisible characters go first, so none can shield spaces from the trim
    # (or make "\u200b Ann" a second Ann).
    name = "".join(
        ch for ch in unicodedata.normalize("NFC", raw) if unicodedata.category(ch)[0] != "C"
    )
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise DomainError(Code.NAME_INVALID)
    return name
