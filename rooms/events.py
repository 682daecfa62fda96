"""What the session core returns: frames to deliver and orders for the shell.

The core never does I/O. Each command returns a list of these; the shell in
chatserver/ carries them out in order (encode and fan out a frame, close a
connection, revoke a seat link in the durable store, move a knocker's door
into the room, drop the session).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Deliver:
    """Send ``frame`` to ``to``: a ``wire.Audience`` value or one participant id."""

    to: str
    frame: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Send ``frame`` (if any) to participant ``pid``, then close with ``close_code``."""

    pid: str
    close_code: int
    frame: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RevokeSeat:
    """Removal for good: the durable store must revoke seat link ``seat``."""

    seat: str


@dataclass(frozen=True, slots=True)
class Admitted:
    """Knocker ``pid`` was let in: its connection's door moves into the room."""

    pid: str


@dataclass(frozen=True, slots=True)
class SessionOver:
    """The session ended: every trace of its live state must now be dropped."""


Outcome = Deliver | Disconnect | RevokeSeat | Admitted | SessionOver
