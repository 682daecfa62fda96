"""The session lifecycle of DESIGN.md section 3, as one table.

::

    scheduled --open--> lobby --start--> live_locked --end--> ended
                                          |      ^
                                       unlock   lock
                                          v      |
                                         live_unlocked --end--> ended

``end`` is legal from every state but ``ended`` itself (a facilitator may call
off a session before it starts). Anything not in the table raises
``DomainError(ILLEGAL_TRANSITION)`` and leaves the state as it was.
"""

from __future__ import annotations

from enum import StrEnum

from rooms.errors import Code, DomainError


class State(StrEnum):
    SCHEDULED = "scheduled"
    LOBBY = "lobby"
    LIVE_LOCKED = "live_locked"
    LIVE_UNLOCKED = "live_unlocked"
    ENDED = "ended"


class Action(StrEnum):
    OPEN = "open"
    START = "start"
    LOCK = "lock"
    UNLOCK = "unlock"
    END = "end"


TRANSITIONS: dict[tuple[State, Action], State] = {
    (State.SCHEDULED, Action.OPEN): State.LOBBY,
    (State.LOBBY, Action.START): State.LIVE_LOCKED,
    (State.LIVE_LOCKED, Action.UNLOCK): State.LIVE_UNLOCKED,
    (State.LIVE_UNLOCKED, Action.LOCK): State.LIVE_LOCKED,
    (State.SCHEDULED, Action.END): State.ENDED,
    (State.LOBBY, Action.END): State.ENDED,
    (State.LIVE_LOCKED, Action.END): State.ENDED,
    (State.LIVE_UNLOCKED, Action.END): State.ENDED,
}

# Where members may come straight in; in LIVE_LOCKED a newcomer knocks.
OPEN_DOOR = frozenset({State.LOBBY, State.LIVE_UNLOCKED})
# Where the conversation runs (members may talk); before it, nobody is in.
RUNNING = frozenset({State.LOBBY, State.LIVE_LOCKED, State.LIVE_UNLOCKED})
LIVE = frozenset({State.LIVE_LOCKED, State.LIVE_UNLOCKED})


def next_state(state: State, action: Action) -> State:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise DomainError(
            Code.ILLEGAL_TRANSITION,
            f"Cannot {action} a session that is {state.replace('_', ' ')}.",
            state=str(state),
            action=str(action),
        ) from None
