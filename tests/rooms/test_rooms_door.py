"""The door table of rooms/door.py: every stage, every frame it reads, without an event loop."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rooms.door import (
    RULES_TIMEOUT_SECONDS,
    TRANSITIONS,
    Accepted,
    Door,
    Event,
    FacilitatorHello,
    Goodbye,
    MemberHello,
    Stage,
)
from rooms.errors import AuthError, Close, Code, DomainError, ProtocolViolation
from rooms.seats import hash_token

EXPECTED = {
    (Stage.HELLO, Event.HELLO): Stage.CHECKING,
    (Stage.CHECKING, Event.SHOW_RULES): Stage.RULES,
    (Stage.CHECKING, Event.ENTER): Stage.IN_ROOM,
    (Stage.RULES, Event.ACCEPT): Stage.ENTERING,
    (Stage.RULES, Event.GOODBYE): Stage.CLOSED,
    (Stage.ENTERING, Event.ENTER): Stage.IN_ROOM,
    (Stage.ENTERING, Event.KNOCK): Stage.KNOCKING,
    (Stage.KNOCKING, Event.ADMIT): Stage.IN_ROOM,
    (Stage.HELLO, Event.CLOSE): Stage.CLOSED,
    (Stage.CHECKING, Event.CLOSE): Stage.CLOSED,
    (Stage.RULES, Event.CLOSE): Stage.CLOSED,
    (Stage.ENTERING, Event.CLOSE): Stage.CLOSED,
    (Stage.KNOCKING, Event.CLOSE): Stage.CLOSED,
    (Stage.IN_ROOM, Event.CLOSE): Stage.CLOSED,
}
ILLEGAL = [pair for pair in itertools.product(Stage, Event) if pair not in EXPECTED]

MEMBER = {"t": "hello", "v": 1, "role": "member", "link": "tok123", "name": "Ann"}
FACILITATOR = {"t": "hello", "v": 1, "role": "facilitator", "token": "api", "group": "g1"}


def at(stage: Stage) -> Door:
    door = Door(hello_timeout=30.0)
    door.stage = stage
    return door


def refusal(door: Door, frame: Any) -> ProtocolViolation | AuthError:
    with pytest.raises((ProtocolViolation, AuthError)) as caught:
        door.read(frame)
    assert door.stage is Stage.CLOSED  # every refusal at the door closes it
    assert isinstance(caught.value, ProtocolViolation | AuthError)
    return caught.value


def test_the_table_is_exactly_the_documented_one() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("stage", "event"), sorted(EXPECTED))
def test_every_legal_move(stage: Stage, event: Event) -> None:
    door = at(stage)
    assert door.go(event) is EXPECTED[(stage, event)] is door.stage


@pytest.mark.parametrize(("stage", "event"), ILLEGAL)
def test_every_illegal_move_is_refused_and_changes_nothing(stage: Stage, event: Event) -> None:
    door = at(stage)
    with pytest.raises(DomainError) as caught:
        door.go(event)
    assert caught.value.code is Code.ILLEGAL_TRANSITION
    assert door.stage is stage


def test_a_member_walks_in_and_a_knocker_is_admitted() -> None:
    door = Door(hello_timeout=30.0)
    hello = door.read(MEMBER)
    assert hello == MemberHello("tok123", "Ann", b"")
    assert hello.token_hash() == hash_token("tok123")
    assert door.stage is Stage.CHECKING and door.timeout() is None
    door.go(Event.SHOW_RULES)
    assert door.timeout() == RULES_TIMEOUT_SECONDS
    assert door.read({"t": "accept", "rules": "abcd"}) == Accepted("abcd")
    assert door.stage is Stage.ENTERING and door.timeout() is None
    door.go(Event.KNOCK)
    door.admitted()
    assert door.stage is Stage.IN_ROOM
    door.close()
    door.close()  # closing twice is fine: a close can come from both ends
    assert door.stage is Stage.CLOSED


def test_a_facilitator_hello_keeps_what_the_shell_must_check() -> None:
    door = Door(hello_timeout=30.0)
    hello = door.read({**FACILITATOR, "identity": b"k" * 32, "name": "Fay", "keys": b"b"})
    assert hello == FacilitatorHello("api", None, None, "g1", "Fay", b"b", b"k" * 32)
    assert hello.group_id() == "g1"
    door.go(Event.ENTER)
    assert door.stage is Stage.IN_ROOM
    with pytest.raises(DomainError, match="already in the room"):
        door.read(MEMBER)


def test_a_missing_group_is_refused_only_once_asked_for() -> None:
    # docs/protocol.md: the group is checked after the credentials.
    hello = Door(30.0).read(
        {**FACILITATOR, "token": None, "group": None, "user": "u", "password": "p"}
    )
    assert isinstance(hello, FacilitatorHello)
    with pytest.raises(ProtocolViolation) as caught:
        hello.group_id()
    assert (caught.value.code, caught.value.close_code) == (Code.BAD_FIELD, Close.PROTOCOL)
    assert caught.value.reason == "A facilitator hello needs group."


def bad(reason: str) -> tuple[Code, int, str]:
    return Code.BAD_FIELD, Close.PROTOCOL, reason


BAD_HELLOS: list[tuple[Any, tuple[Code, int, str | None]]] = [
    ({"t": "chat", "payload": b"x"}, (Code.HELLO_FIRST, Close.PROTOCOL, None)),
    ({**MEMBER, "v": 2}, bad("This server speaks protocol version 1.")),
    ({**MEMBER, "role": "admin"}, bad("role is member or facilitator.")),
    ({**MEMBER, "keys": b"k" * 1025}, bad("keys is at most 1024 bytes.")),
    ({**FACILITATOR, "keys": b"k" * 1025}, bad("keys is at most 1024 bytes.")),
    ({**MEMBER, "name": None}, bad("A member hello needs link and name.")),
    ({**MEMBER, "link": None}, bad("A member hello needs link and name.")),
    ({**FACILITATOR, "identity": b"short"}, bad("identity is 32 bytes.")),
    ({**FACILITATOR, "token": None, "user": "u"}, (Code.UNAUTHENTICATED, Close.AUTH, None)),
    ({"t": "hello", "role": "member", "ref": 7}, bad("The field 'v' is missing.")),
    ({"t": "nonsense"}, (Code.UNKNOWN_TYPE, Close.PROTOCOL, None)),
    ([1, 2], (Code.BAD_FRAME, Close.PROTOCOL, None)),
]


@pytest.mark.parametrize(("frame", "expected"), BAD_HELLOS)
def test_every_bad_hello_closes_with_its_code(
    frame: Any, expected: tuple[Code, int, str | None]
) -> None:
    code, close, reason = expected
    err = refusal(Door(30.0), frame)
    assert err.code is code
    assert (err.close_code or Close.AUTH) == close
    if reason is not None:
        assert err.reason == reason


def test_a_schema_error_at_the_door_keeps_the_ref() -> None:
    err = refusal(Door(30.0), {"t": "hello", "role": "member", "ref": 7})
    assert err.detail["ref"] == 7


@pytest.mark.parametrize("goodbye", ["leave", "step_out"])
def test_leaving_from_the_rules_screen_is_polite(goodbye: str) -> None:
    door = at(Stage.RULES)
    assert door.read({"t": goodbye}) == Goodbye()
    assert door.stage is Stage.CLOSED


@pytest.mark.parametrize(
    ("frame", "code", "close"),
    [
        ({"t": "chat", "payload": b"x"}, Code.RULES_NOT_ACCEPTED, Close.AUTH),
        (MEMBER, Code.RULES_NOT_ACCEPTED, Close.AUTH),
        ({"t": "accept"}, Code.BAD_FIELD, Close.PROTOCOL),
        ({"t": "nonsense"}, Code.UNKNOWN_TYPE, Close.PROTOCOL),
    ],
)
def test_anything_but_accept_on_the_rules_screen_closes(frame: Any, code: Code, close: int) -> None:
    err = refusal(at(Stage.RULES), frame)
    assert (err.code, err.close_code or Close.AUTH) == (code, close)


@pytest.mark.parametrize(
    ("stage", "code"), [(Stage.HELLO, Code.HELLO_FIRST), (Stage.RULES, Code.RULES_NOT_ACCEPTED)]
)
def test_waiting_too_long_closes_with_4408(stage: Stage, code: Code) -> None:
    door = at(stage)
    assert door.timeout() == (30.0 if stage is Stage.HELLO else RULES_TIMEOUT_SECONDS)
    err = door.timed_out()
    assert (err.code, err.close_code) == (code, Close.HELLO_TIMEOUT)
    assert door.stage is Stage.CLOSED


def test_a_link_without_a_token_is_an_unknown_link() -> None:
    hello = Door(30.0).read({**MEMBER, "link": "https://host/join#nothing=here"})
    assert isinstance(hello, MemberHello)
    with pytest.raises(AuthError) as caught:
        hello.token_hash()
    assert caught.value.code is Code.LINK_UNKNOWN
