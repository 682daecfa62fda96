"""The lifecycle table of DESIGN.md section 3: every legal and every illegal move."""

from __future__ import annotations

import itertools

import pytest

from rooms.errors import Code, DomainError
from rooms.lifecycle import LIVE, OPEN_DOOR, RUNNING, TRANSITIONS, Action, State, next_state

EXPECTED = {
    (State.SCHEDULED, Action.OPEN): State.LOBBY,
    (State.LOBBY, Action.START): State.LIVE_LOCKED,
    (State.LIVE_LOCKED, Action.UNLOCK): State.LIVE_UNLOCKED,
    (State.LIVE_UNLOCKED, Action.LOCK): State.LIVE_LOCKED,
    (State.SCHEDULED, Action.END): State.ENDED,
    (State.LOBBY, Action.END): State.ENDED,
    (State.LIVE_LOCKED, Action.END): State.ENDED,
    (State.LIVE_UNLOCKED, Action.END): State.ENDED,
}

ILLEGAL = [pair for pair in itertools.product(State, Action) if pair not in EXPECTED]


def test_the_table_is_exactly_the_documented_one() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "action"), sorted(EXPECTED))
def test_every_legal_transition(state: State, action: Action) -> None:
    assert next_state(state, action) is EXPECTED[(state, action)]


def test_there_are_illegal_pairs_for_every_state() -> None:
    # 5 states x 5 actions, 8 legal: the rest must all be refused.
    assert len(ILLEGAL) == len(State) * len(Action) - len(EXPECTED) == 17
    assert {s for s, _ in ILLEGAL} == set(State)


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_every_illegal_pair_raises_illegal_transition(state: State, action: Action) -> None:
    with pytest.raises(DomainError) as info:
        next_state(state, action)
    err = info.value
    assert err.code is Code.ILLEGAL_TRANSITION
    assert err.detail == {"state": str(state), "action": str(action)}
    assert str(action) in err.reason


@pytest.mark.parametrize("action", list(Action))
def test_ended_is_terminal(action: Action) -> None:
    with pytest.raises(DomainError) as info:
        next_state(State.ENDED, action)
    assert info.value.code is Code.ILLEGAL_TRANSITION


@pytest.mark.parametrize("state", [s for s in State if s is not State.ENDED])
def test_end_is_legal_from_every_state_but_ended(state: State) -> None:
    assert next_state(state, Action.END) is State.ENDED


def test_state_sets() -> None:
    assert frozenset({State.LOBBY, State.LIVE_UNLOCKED}) == OPEN_DOOR
    assert frozenset({State.LOBBY, State.LIVE_LOCKED, State.LIVE_UNLOCKED}) == RUNNING
    assert frozenset({State.LIVE_LOCKED, State.LIVE_UNLOCKED}) == LIVE
    assert State.LIVE_LOCKED not in OPEN_DOOR
    assert State.SCHEDULED not in RUNNING
    assert State.ENDED not in RUNNING
