"""Which ``Session`` method each frame after the handshake calls, with which fields.

The table is the core's dispatch: the shell decodes a frame, hands it to
``Session.receive`` and carries out what comes back; it never looks at a
frame's type itself. Fields were checked against ``rooms.wire.INBOUND``
before they reach here, so a required field is always present.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rooms.events import Outcome

if TYPE_CHECKING:
    from rooms.session import Session

Command = Callable[["Session", str, dict[str, Any], float], list[Outcome]]


def _proof(f: dict[str, Any]) -> tuple[bytes, bytes] | None:
    """A removal's signature and its signer, only when the frame carries both."""
    by, proof = f.get("by"), f.get("proof")
    return (by, proof) if by is not None and proof is not None else None


COMMANDS: dict[str, Command] = {
    "chat": lambda s, pid, f, now: s.chat(pid, f["payload"], now),
    "direct": lambda s, pid, f, now: s.direct(pid, f["to"], f["payload"]),
    "vouch": lambda s, pid, f, now: s.vouch(pid, f["pid"], f["by"], f["anchor"], f["sig"]),
    "private": lambda s, pid, f, now: s.private(pid, f["payload"], now, f.get("to")),
    "report": lambda s, pid, f, now: s.report(pid, f["msg"], f["payload"], now),
    "alert": lambda s, pid, f, now: s.alert(pid, f["kind"], f.get("category"), now),
    "alert_seen": lambda s, pid, f, now: s.alert_seen(pid, f["id"]),
    "handled": lambda s, pid, f, now: s.alert_handled(pid, f["id"]),
    "hand": lambda s, pid, f, now: s.hand(pid, f["up"], f.get("pid")),
    "step_out": lambda s, pid, f, now: s.step_out(pid),
    "back": lambda s, pid, f, now: s.back(pid),
    "leave": lambda s, pid, f, now: s.leave(pid),
    "open": lambda s, pid, f, now: s.open(pid),
    "start": lambda s, pid, f, now: s.start(pid, now),
    "lock": lambda s, pid, f, now: s.lock(pid),
    "unlock": lambda s, pid, f, now: s.unlock(pid),
    "pause": lambda s, pid, f, now: s.pause(pid),
    "resume": lambda s, pid, f, now: s.resume(pid),
    "end": lambda s, pid, f, now: s.end(pid),
    "admit": lambda s, pid, f, now: s.admit(pid, f["pid"]),
    "refuse": lambda s, pid, f, now: s.refuse(pid, f["pid"]),
    "mute": lambda s, pid, f, now: s.mute(pid, f["pid"]),
    "unmute": lambda s, pid, f, now: s.unmute(pid, f["pid"]),
    "timeout": lambda s, pid, f, now: s.time_out(pid, f["pid"], f["seconds"], now),
    "remove": lambda s, pid, f, now: s.remove(
        pid, f["pid"], bool(f.get("for_good", False)), _proof(f)
    ),
    "delete": lambda s, pid, f, now: s.delete_message(pid, f["msg"]),
    "slow": lambda s, pid, f, now: s.set_slow_mode(pid, f["seconds"]),
}

# Frames that say goodbye: once carried out, the sender's connection closes.
# (``step_out`` is a break, not a goodbye: the connection stays; a knocker's
# ``step_out`` withdraws the knock and does close.)
GOODBYES = frozenset({"leave"})
# Frames whose outcomes never move a deadline of the session (time-outs,
# reminders, the idle drop): the shell need not ask for the next one after
# them, which keeps the chat path free of timer work.
KEEPS_DEADLINES = frozenset({"chat"})
