"""The door of one connection: from the first frame to the room, as one table.

::

    hello --hello--> checking --show_rules--> rules --accept--> entering
                        |                       |                  |  \\
                        |                   goodbye              enter  knock
                        |                       v                  v     v
                        +--------enter------> in_room <--admit-- knocking

    close: from every stage but closed itself

A member's hello is checked (``checking``: the shell looks the link up and
asks the session's door), then the member reads the ground rules
(``rules``), accepts them, and everything is checked again (``entering``:
minutes may have passed) before the member is in the room, or knocks at a
locked door. A facilitator goes from ``checking`` straight in. The shell
(chatserver/ws.py) does the awaiting (the store, the timeouts) and reports
what it found; every rule about which frame may come when, what it must
contain and how a refusal closes lives here, with no event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rooms.errors import AuthError, Close, Code, DomainError, ProtocolViolation, SafespaceError
from rooms.links import IDENTITY_KEY_BYTES, token_from_link
from rooms.seats import hash_token
from rooms.wire import MAX_KEYS_BYTES, VERSION, Inbound, check_inbound

# A member may take a while to read the ground rules before accepting them.
RULES_TIMEOUT_SECONDS = 15 * 60.0


class Stage(StrEnum):
    HELLO = "hello"  # waiting for the first frame
    CHECKING = "checking"  # a hello came: its link or login is being looked up
    RULES = "rules"  # a member reads the ground rules
    ENTERING = "entering"  # a member accepted: link and door are checked again
    KNOCKING = "knocking"  # at the locked door, waiting for a facilitator
    IN_ROOM = "in_room"  # admitted: every frame goes to the session
    CLOSED = "closed"


class Event(StrEnum):
    HELLO = "hello"
    SHOW_RULES = "show_rules"
    ACCEPT = "accept"
    GOODBYE = "goodbye"
    ENTER = "enter"
    KNOCK = "knock"
    ADMIT = "admit"
    CLOSE = "close"


TRANSITIONS: dict[tuple[Stage, Event], Stage] = {
    (Stage.HELLO, Event.HELLO): Stage.CHECKING,
    (Stage.CHECKING, Event.SHOW_RULES): Stage.RULES,
    (Stage.CHECKING, Event.ENTER): Stage.IN_ROOM,  # a facilitator
    (Stage.RULES, Event.ACCEPT): Stage.ENTERING,
    (Stage.RULES, Event.GOODBYE): Stage.CLOSED,
    (Stage.ENTERING, Event.ENTER): Stage.IN_ROOM,
    (Stage.ENTERING, Event.KNOCK): Stage.KNOCKING,
    (Stage.KNOCKING, Event.ADMIT): Stage.IN_ROOM,
    **{(stage, Event.CLOSE): Stage.CLOSED for stage in Stage if stage is not Stage.CLOSED},
}

# Where the shell reads a frame for the door; in the room the session reads them.
READING = frozenset({Stage.HELLO, Stage.RULES})
GOODBYES = frozenset({"leave", "step_out"})


@dataclass(frozen=True, slots=True)
class MemberHello:
    link: str
    name: str
    keys: bytes

    def token_hash(self) -> str:
        """What the store knows the seat by; ``link_unknown`` if no token is in it."""
        return hash_token(token_from_link(self.link))


@dataclass(frozen=True, slots=True)
class FacilitatorHello:
    token: str | None
    user: str | None
    password: str | None
    group: str | None
    name: str | None
    keys: bytes
    identity: bytes | None

    def group_id(self) -> str:
        """The group, required; asked for after the credentials (docs/protocol.md section 3)."""
        if self.group is None:
            raise ProtocolViolation(
                Code.BAD_FIELD, Close.PROTOCOL, "A facilitator hello needs group."
            )
        return self.group


@dataclass(frozen=True, slots=True)
class Accepted:
    digest: str


@dataclass(frozen=True, slots=True)
class Goodbye:
    """The member left from the rules screen: closed politely, no error."""


Hello = MemberHello | FacilitatorHello
Answer = Accepted | Goodbye


class Door:
    def __init__(self, hello_timeout: float) -> None:
        self.stage = Stage.HELLO
        self._timeouts = {Stage.HELLO: hello_timeout, Stage.RULES: RULES_TIMEOUT_SECONDS}

    def go(self, event: Event) -> Stage:
        try:
            self.stage = TRANSITIONS[(self.stage, event)]
        except KeyError:
            raise DomainError(
                Code.ILLEGAL_TRANSITION, f"Cannot {event} at the door's stage {self.stage}."
            ) from None
        return self.stage

    def admitted(self) -> None:
        """The session let this knocker in (``rooms.events.Admitted``)."""
        self.go(Event.ADMIT)

    def close(self) -> None:
        """The connection is closing, for whatever reason; closing twice is fine."""
        if self.stage is not Stage.CLOSED:
            self.go(Event.CLOSE)

    # ---- what the shell awaits ------------------------------------------------

    def timeout(self) -> float | None:
        """How long the shell waits for the next frame at this stage (None: no bound)."""
        return self._timeouts.get(self.stage)

    def timed_out(self) -> ProtocolViolation:
        """The refusal for a frame that did not come in time; the door is closed."""
        code = Code.HELLO_FIRST if self.stage is Stage.HELLO else Code.RULES_NOT_ACCEPTED
        self.go(Event.CLOSE)
        return ProtocolViolation(code, Close.HELLO_TIMEOUT)

    # ---- frames read at the door ----------------------------------------------

    def read(self, frame: object) -> Hello | Answer:
        """A decoded frame at ``hello`` or ``rules``: what it asks for, or a refusal.

        At the door a frame that breaks the schema closes (4400) instead of
        being an error the client may ignore: no client in the middle of
        joining has a reason to send one.
        """
        if self.stage not in READING:
            raise DomainError(Code.ILLEGAL_TRANSITION, "You are already in the room.")
        try:
            msg = check_inbound(frame)
            step = self._hello(msg) if self.stage is Stage.HELLO else self._answer(msg)
        except SafespaceError as e:
            self.stage = Stage.CLOSED
            if isinstance(e, ProtocolViolation | AuthError):
                raise
            violation = ProtocolViolation(e.code, Close.PROTOCOL, e.reason)
            violation.detail.update(e.detail)  # keeps the ref
            raise violation from None
        return step

    def _hello(self, msg: Inbound) -> Hello:
        if msg.type != "hello":
            raise ProtocolViolation(Code.HELLO_FIRST, Close.PROTOCOL)
        f = msg.fields
        if f["v"] != VERSION:
            raise _bad_hello(f"This server speaks protocol version {VERSION}.")
        keys: bytes = f.get("keys", b"")
        if len(keys) > MAX_KEYS_BYTES:
            raise _bad_hello(f"keys is at most {MAX_KEYS_BYTES} bytes.")
        hello: Hello
        if f["role"] == "member":
            if f.get("link") is None or f.get("name") is None:
                raise _bad_hello("A member hello needs link and name.")
            hello = MemberHello(f["link"], f["name"], keys)
        elif f["role"] == "facilitator":
            identity = f.get("identity")
            if identity is not None and len(identity) != IDENTITY_KEY_BYTES:
                raise _bad_hello(f"identity is {IDENTITY_KEY_BYTES} bytes.")
            token, user, password = f.get("token"), f.get("user"), f.get("password")
            if token is None and (user is None or password is None):
                raise AuthError(Code.UNAUTHENTICATED)
            hello = FacilitatorHello(
                token, user, password, f.get("group"), f.get("name"), keys, identity
            )
        else:
            raise _bad_hello("role is member or facilitator.")
        self.go(Event.HELLO)
        return hello

    def _answer(self, msg: Inbound) -> Answer:
        if msg.type in GOODBYES:
            self.go(Event.GOODBYE)
            return Goodbye()
        if msg.type != "accept":
            raise AuthError(Code.RULES_NOT_ACCEPTED)
        self.go(Event.ACCEPT)
        return Accepted(msg.fields["rules"])


def _bad_hello(reason: str) -> ProtocolViolation:
    return ProtocolViolation(Code.BAD_FIELD, Close.PROTOCOL, reason)
