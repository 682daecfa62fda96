"""Per-sender rate state: slow mode, flood control and a frame budget.

Pure and clock-free: every check takes ``now``. A refused attempt is not
counted, so a member who waits as asked always gets through next time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

# Every frame other than chat (key distribution, hands, private messages,
# facilitator commands) draws on this budget, so a misbehaving client cannot
# hammer the server with frames that slow mode and flood control do not cover.
# Chat has its own limits (the group's slow mode and flood settings; none for
# facilitators, who hold the room).
FRAME_BUDGET = 60
FRAME_WINDOW_SECONDS = 10.0
# Encryption keys (``direct`` distributions and facilitators' ``vouch``es)
# have a budget of their own: every arrival, departure and return makes each
# client send one to everyone else, so a room of ten that reconnects at once
# (a server restart, a flaky train) legitimately sends dozens in a second.
KEY_BUDGET = 400


@dataclass(slots=True)
class SenderRate:
    last_chat: float = float("-inf")
    recent_chats: deque[float] = field(default_factory=deque)
    recent_frames: deque[float] = field(default_factory=deque)
    recent_keys: deque[float] = field(default_factory=deque)

    def slow_mode_wait(self, gap: float, now: float) -> float:
        """Seconds still to wait under slow mode (0 when the message may go)."""
        return max(0.0, self.last_chat + gap - now)

    def flooding(self, most: int, window: float, now: float) -> bool:
        _forget(self.recent_chats, now - window)
        return len(self.recent_chats) >= most

    def over_budget(self, now: float, keys: bool = False) -> bool:
        recent = self.recent_keys if keys else self.recent_frames
        _forget(recent, now - FRAME_WINDOW_SECONDS)
        return len(recent) >= (KEY_BUDGET if keys else FRAME_BUDGET)

    def count_frame(self, now: float, keys: bool = False) -> None:
        (self.recent_keys if keys else self.recent_frames).append(now)

    def count_chat(self, now: float) -> None:
        self.last_chat = now
        self.recent_chats.append(now)


def _forget(times: deque[float], before: float) -> None:
    while times and times[0] <= before:
        times.popleft()
