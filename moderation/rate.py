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
        return self.flood_wait(most, window, now) > 0

    def flood_wait(self, most: int, window: float, now: float) -> float:
        """Seconds until one more chat fits in the flood window (0: it fits now)."""
        return _wait(self.recent_chats, most, window, now)

    def over_budget(self, now: float, keys: bool = False) -> bool:
        return self.budget_wait(now, keys) > 0

    def budget_wait(self, now: float, keys: bool = False) -> float:
        """Seconds until the budget has room for one more frame (0: it has now).

        Told to the sender as ``retry_after``, so that a client retrying its
        keys waits as long as it must instead of spending refusals.
        """
        recent = self.recent_keys if keys else self.recent_frames
        return _wait(recent, KEY_BUDGET if keys else FRAME_BUDGET, FRAME_WINDOW_SECONDS, now)

    def count_frame(self, now: float, keys: bool = False) -> None:
        (self.recent_keys if keys else self.recent_frames).append(now)

    def count_chat(self, now: float) -> None:
        self.last_chat = now
        self.recent_chats.append(now)


def _wait(times: deque[float], most: int, window: float, now: float) -> float:
    _forget(times, now - window)
    if len(times) < most:
        return 0.0
    # The oldest counted time leaving the window makes room for one more.
    return max(times[len(times) - most] + window - now, 1e-3)


def _forget(times: deque[float], before: float) -> None:
    while times and times[0] <= before:
        times.popleft()
