"""Per-sender rate state: slow mode, flood control and the frame budget."""

from __future__ import annotations

from moderation.rate import FRAME_BUDGET, FRAME_WINDOW_SECONDS, SenderRate

T0 = 1_700_000_000.0


def test_budget_constants() -> None:
    assert FRAME_BUDGET == 60
    assert FRAME_WINDOW_SECONDS == 10.0


def test_slow_mode_wait() -> None:
    r = SenderRate()
    assert r.slow_mode_wait(5.0, T0) == 0.0  # never chatted
    r.count_chat(T0)
    assert r.slow_mode_wait(5.0, T0) == 5.0
    assert r.slow_mode_wait(5.0, T0 + 2) == 3.0
    assert r.slow_mode_wait(5.0, T0 + 5) == 0.0
    assert r.slow_mode_wait(5.0, T0 + 50) == 0.0
    assert r.slow_mode_wait(0.0, T0) == 0.0


def test_flooding_counts_within_the_window() -> None:
    r = SenderRate()
    for i in range(3):
        assert not r.flooding(3, 10.0, T0 + i)
        r.count_chat(T0 + i)
    assert r.flooding(3, 10.0, T0 + 3)
    assert r.flooding(3, 10.0, T0 + 9.9)
    # At T0 + 10 the first chat is a whole window old and forgotten.
    assert not r.flooding(3, 10.0, T0 + 10)
    assert list(r.recent_chats) == [T0 + 1, T0 + 2]


def test_over_budget() -> None:
    r = SenderRate()
    for i in range(FRAME_BUDGET):
        assert not r.over_budget(T0 + i * 0.1)
        r.count_frame(T0 + i * 0.1)
    assert r.over_budget(T0 + 6)
    assert not r.over_budget(T0 + FRAME_WINDOW_SECONDS)


def test_count_chat_does_not_count_a_frame_and_vice_versa() -> None:
    r = SenderRate()
    r.count_chat(T0)
    assert list(r.recent_frames) == []
    r.count_frame(T0 + 1)
    assert list(r.recent_chats) == [T0]
    assert r.last_chat == T0
