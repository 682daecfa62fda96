"""The one seam between the chat client and message protection.

A codec turns a message's text into the opaque ``payload`` bytes the server
relays, and back. It is sans-I/O, like the rest of the project's cores: the
client shows it every inbound frame (``on_frame``), asks it to seal and open
payloads, and sends the frames the codec queues (``outgoing``: key
distributions, vouches) *before* any payload sealed after them, so that a
recipient always holds a key before the first message that needs it.

``clients.e2ee.E2EECodec`` is the real one (docs/e2ee.md); ``PlainCodec``
protects nothing and serves tests of the relay itself.

Every refusal to open is a ``ValueError`` (the encryption layer's
``CannotOpen`` is one, and a ``SafespaceError`` too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Reported:
    """The message a report is about, as the reporter says it read it."""

    msg: int
    sender: str
    text: str | None = field(repr=False)  # None when the reported body is not a text body
    cw: str | None = field(default=None, repr=False)  # its sender's content warning, if any
    # Our own client opened another message under this id: the server showed
    # the reporter (or us) one message under another's number. Not verified.
    id_mismatch: bool = False


@dataclass(frozen=True, slots=True)
class Opened:
    """An opened ``msg``, ``private`` or ``report``: its text (a report's note).

    For a report, ``verified`` tells whether ``reported.sender`` provably
    sent ``reported.text`` (docs/e2ee.md section 8); it is None otherwise.
    ``cw`` is the content warning the sender of a ``msg`` put in its body
    (docs/e2ee.md section 5), None when there is none.
    """

    text: str = field(repr=False)  # plaintext: never in a repr (logs, tracebacks)
    verified: bool | None = None
    reported: Reported | None = None
    cw: str | None = field(default=None, repr=False)


class PayloadCodec(Protocol):
    def public_keys(self) -> bytes:
        """What this participant publishes in the roster (empty without encryption)."""
        ...

    def on_frame(self, frame: dict[str, Any]) -> None:
        """See every inbound frame first (roster changes, vouches, key distribution)."""
        ...

    def outgoing(self) -> list[dict[str, Any]]:
        """Frames to send now, in order (``direct``, ``vouch``); drained by the call."""
        ...

    def notices(self) -> list[dict[str, Any]]:
        """Warnings to show the user now (``{"code", "pid"?}``); drained by the call."""
        ...

    def warnings(self) -> list[dict[str, Any]]:
        """The warnings that stand at the moment (unverified link, untrusted participants)."""
        ...

    def verified(self, pid: str) -> bool:
        """Has a facilitator this client trusts vouched for ``pid``'s current keys?"""
        ...

    def ready(self, pids: Iterable[str] | None = None) -> bool:
        """Are keys exchanged with ``pids`` (default: every trusted participant present)?"""
        ...

    def seal(self, text: str, cw: str | None = None) -> bytes:
        """The payload of a message to the whole room, behind content warning ``cw`` if given."""
        ...

    def seal_private(self, text: str, to: str | None = None) -> bytes:
        """The payload of a message to the facilitators (and, from one, to member ``to``)."""
        ...

    def seal_report(self, msg_id: int, note: str) -> bytes:
        """The payload of a report of message ``msg_id`` (one this client opened)."""
        ...

    def open(self, frame: dict[str, Any]) -> Opened:
        """Open a ``msg``, ``private`` or ``report`` frame; ``ValueError`` if it cannot be."""
        ...

    # A facilitator's own acts, which decide whom it vouches for by itself.
    def door(self, open_: bool) -> None:
        """This facilitator opened (open, unlock) or closed (start, lock) the door."""
        ...

    def letting_in(self, pid: str) -> None:
        """This facilitator admits knocker ``pid``."""
        ...

    def vouch_for(self, pid: str) -> None:
        """Vouch by hand for ``pid``."""
        ...

    def removal_proof(self, pid: str, for_good: bool) -> dict[str, bytes]:
        """``by`` and ``proof`` for a ``remove`` of ``pid``, signed by this device (or none)."""
        ...

    # The server refused one of the codec's own frames (a budget was spent).
    def refused(self, frame: dict[str, Any]) -> None:
        """``frame`` (from ``outgoing()``) never reached anyone: not counted as delivered."""
        ...

    def retry(self) -> None:
        """Queue again what was refused and is still wanted (after the server's retry_after)."""
        ...


class PlainCodec:
    """No protection at all: for tests of the relay itself."""

    def public_keys(self) -> bytes:
        return b""

    def on_frame(self, frame: dict[str, Any]) -> None:
        pass

    def outgoing(self) -> list[dict[str, Any]]:
        return []

    def notices(self) -> list[dict[str, Any]]:
        return []

    def warnings(self) -> list[dict[str, Any]]:
        return []

    def verified(self, pid: str) -> bool:
        return False

    def ready(self, pids: Iterable[str] | None = None) -> bool:
        return True

    def seal(self, text: str, cw: str | None = None) -> bytes:
        if cw is not None:
            # Nowhere to put it: refused rather than sent without the warning asked for.
            raise ValueError("PlainCodec cannot carry a content warning; nothing was sealed")
        return text.encode("utf-8")

    def seal_private(self, text: str, to: str | None = None) -> bytes:
        return text.encode("utf-8")

    # Nobody is vouched for without encryption: the door's acts change nothing.
    def door(self, open_: bool) -> None:
        pass

    def letting_in(self, pid: str) -> None:
        pass

    def vouch_for(self, pid: str) -> None:
        pass

    def removal_proof(self, pid: str, for_good: bool) -> dict[str, bytes]:
        return {}

    def refused(self, frame: dict[str, Any]) -> None:
        pass

    def retry(self) -> None:
        pass

    def seal_report(self, msg_id: int, note: str) -> bytes:
        return note.encode("utf-8")

    def open(self, frame: dict[str, Any]) -> Opened:
        payload = frame.get("payload")
        if not isinstance(payload, bytes):
            raise ValueError("a payload is bytes")
        return Opened(payload.decode("utf-8", errors="replace"))
