"""The server-side moderation pipeline of DESIGN.md section 4.1.

The server cannot read messages, so it moderates what it can see: who sends,
what kind of frame, in which session state, how often and how big. Every
frame after the hello passes these stages in this order; the first that
refuses raises ``Rejected`` with its own code, and nothing is relayed:

    authenticated -> in the roster -> allowed for the role -> session state
    -> muted or timed out -> rate (slow mode, flood, frame budget) -> size

Only ``chat`` is what pause, mute, slow mode and flood control hold back. A
muted or paused member can still message the facilitators privately, report
a message and hand out encryption keys: those are how a member asks for help
and how the room stays readable, and they are not "talking over others".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from moderation.rate import SenderRate
from rooms.errors import Code, Rejected
from rooms.lifecycle import State
from rooms.roster import Participant
from rooms.wire import FACILITATOR_ONLY

if TYPE_CHECKING:  # the session calls the pipeline: a type, not an import
    from rooms.session import Session

# What someone still knocking at the door (not yet in the roster) may send.
WHILE_KNOCKING = frozenset({"leave", "step_out"})
# What someone who stepped out may not do until they come ``back``: talk to
# the room. Everything else (the private thread, support, reports, keys) is
# what a break must not cut off.
WHILE_AWAY_REFUSED = frozenset({"chat", "hand"})
PAYLOAD_FRAMES = frozenset({"chat", "direct", "private", "report"})
KEY_FRAMES = frozenset({"direct", "vouch"})


@dataclass(slots=True)
class Frame:
    """What the pipeline knows of one inbound frame: never its payload."""

    type: str
    payload_size: int = 0


def check(
    frame: Frame,
    *,
    authenticated: bool,
    sender: Participant | None,
    session: Session | None,
    rate: SenderRate,
    now: float,
) -> None:
    """Raise ``Rejected`` at the first stage that refuses ``frame``; count it if it passes."""
    if not authenticated or session is None:
        raise Rejected(Code.UNAUTHENTICATED)
    if sender is None:
        if frame.type in WHILE_KNOCKING:
            return
        raise Rejected(Code.NOT_IN_ROOM)
    if frame.type in FACILITATOR_ONLY and not sender.is_facilitator:
        raise Rejected(Code.FORBIDDEN)
    if not sender.present and frame.type in WHILE_AWAY_REFUSED:
        raise Rejected(Code.STEPPED_OUT)
    if session.state is State.ENDED:
        raise Rejected(Code.SESSION_ENDED)
    chat_by_member = frame.type == "chat" and not sender.is_facilitator
    if chat_by_member and session.paused:
        raise Rejected(Code.SESSION_PAUSED)
    if chat_by_member and sender.muted_until is not None and sender.muted_until > now:
        if sender.muted_until == float("inf"):
            raise Rejected(Code.MUTED)
        raise Rejected(Code.TIMED_OUT, until=sender.muted_until)
    _check_rate(frame, chat_by_member, session, rate, now)
    if frame.type in PAYLOAD_FRAMES and frame.payload_size > session.group.max_payload_bytes:
        raise Rejected(Code.TOO_LARGE, limit=session.group.max_payload_bytes)
    if chat_by_member:
        rate.count_chat(now)
    elif frame.type != "chat":
        rate.count_frame(now, keys=frame.type in KEY_FRAMES)


def _check_rate(
    frame: Frame, chat_by_member: bool, session: Session, rate: SenderRate, now: float
) -> None:
    if chat_by_member:
        wait = rate.slow_mode_wait(session.slow_mode_seconds, now)
        if wait > 0:
            # Rounded up: a member who waits as told always gets through.
            raise Rejected(Code.SLOW_MODE, retry_after=math.ceil(wait * 10) / 10)
        g = session.group
        wait = rate.flood_wait(g.flood_messages, g.flood_window_seconds, now)
        if wait > 0:
            raise Rejected(Code.FLOOD, retry_after=math.ceil(wait * 10) / 10)
    elif frame.type != "chat":
        wait = rate.budget_wait(now, keys=frame.type in KEY_FRAMES)
        if wait > 0:
            raise Rejected(Code.FLOOD, retry_after=math.ceil(wait * 10) / 10)
