"""The one exception tree of safespace-chat, and the catalogue of error codes.

Every refusal the server or the client library can produce is a
``SafespaceError`` carrying a stable machine ``code`` (what clients switch on,
documented in docs/protocol.md) and a ``reason`` a person understands (what
clients show). Codes never change meaning; new situations get new codes.

Reasons are fixed sentences chosen by the code: they never echo user input,
so no message text can leak into an error frame, a log line or a crash report.
"""

from __future__ import annotations

from enum import StrEnum


class Close:
    """Websocket close codes. 1xxx are RFC 6455's; 4xxx are this protocol's."""

    NORMAL = 1000  # the client left, or stepped out
    GOING_AWAY = 1001  # the connection broke while the server was sending
    UNSUPPORTED = 1003  # a text frame: this protocol speaks binary only
    TOO_BIG = 1009  # a frame over MAX_FRAME_BYTES
    RESTART = 1012  # the server is shutting down or restarting (sent by uvicorn)
    SESSION_ENDED = 4000  # a facilitator ended the session for everyone
    REMOVED = 4001  # a facilitator removed this participant
    REFUSED = 4002  # a facilitator refused this knock
    REPLACED = 4003  # the same seat or facilitator connected again elsewhere
    LAGGING = 4008  # the client stopped reading; its outbound queue overflowed
    PROTOCOL = 4400  # malformed frame, or no hello first
    AUTH = 4401  # hello refused (bad link, login, full room, ...)
    ORIGIN = 4403  # websocket upgrade from a page of another origin
    HELLO_TIMEOUT = 4408  # no hello (or no rules acceptance) in time
    FLOODING = 4429  # frame after refused frame, past the frame budget


class Code(StrEnum):
    """Stable error codes, grouped as in docs/protocol.md."""

    # Protocol: the frame itself is wrong.
    BAD_FRAME = "bad_frame"
    BAD_FIELD = "bad_field"
    UNKNOWN_TYPE = "unknown_type"
    HELLO_FIRST = "hello_first"
    # Joining and authentication.
    UNAUTHENTICATED = "unauthenticated"
    LOGIN_FAILED = "login_failed"
    RATE_LIMITED = "rate_limited"
    LINK_UNKNOWN = "link_unknown"
    LINK_EXPIRED = "link_expired"
    LINK_REVOKED = "link_revoked"
    NOT_FACILITATOR = "not_facilitator"
    GROUP_UNKNOWN = "group_unknown"
    ROOM_NOT_OPEN = "room_not_open"
    ROOM_FULL = "room_full"
    NAME_INVALID = "name_invalid"
    NAME_TAKEN = "name_taken"
    RULES_NOT_ACCEPTED = "rules_not_accepted"
    REFUSED = "refused"
    REMOVED = "removed"
    # The moderation pipeline, in its order.
    NOT_IN_ROOM = "not_in_room"
    STEPPED_OUT = "stepped_out"
    FORBIDDEN = "forbidden"
    SESSION_PAUSED = "session_paused"
    SESSION_ENDED = "session_ended"
    MUTED = "muted"
    TIMED_OUT = "timed_out"
    SLOW_MODE = "slow_mode"
    FLOOD = "flood"
    TOO_LARGE = "too_large"
    # Facilitator commands that do not fit the session's current state.
    ILLEGAL_TRANSITION = "illegal_transition"
    NO_SUCH_PARTICIPANT = "no_such_participant"
    NO_SUCH_KNOCK = "no_such_knock"
    NO_SUCH_MESSAGE = "no_such_message"
    NOT_A_MEMBER = "not_a_member"
    NO_SUCH_ALERT = "no_such_alert"
    NOT_SAVED = "not_saved"
    STORE_UNAVAILABLE = "store_unavailable"
    NOT_CONNECTED = "not_connected"
    # HTTP API.
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INVALID = "invalid"
    FOREIGN_ORIGIN = "foreign_origin"
    CONFLICT = "conflict"
    # Content rules (moderation/content): a rules or tuning document that is not valid.
    BAD_RULES = "bad_rules"
    # Content rules on a client (clients/content.py): never sent by the server.
    CONTENT_BLOCKED = "content_blocked"
    CONTENT_NEEDS_CONFIRMATION = "content_needs_confirmation"


REASONS: dict[Code, str] = {
    Code.BAD_FRAME: "The server could not read that frame (it must be one msgpack map).",
    Code.BAD_FIELD: "A field of that frame is missing or has the wrong type.",
    Code.UNKNOWN_TYPE: "The server does not know that kind of frame.",
    Code.HELLO_FIRST: "Say hello first: the first frame must be a hello.",
    Code.UNAUTHENTICATED: "Your login has expired or is not valid; please log in again.",
    Code.LOGIN_FAILED: "That name and password do not match a facilitator.",
    Code.RATE_LIMITED: "Too many attempts; please wait a minute and try again.",
    Code.LINK_UNKNOWN: "This link is not valid. Please ask your facilitator for a new one.",
    Code.LINK_EXPIRED: "This link has expired. Please ask your facilitator for a new one.",
    Code.LINK_REVOKED: "This link is no longer valid. Please ask your facilitator about it.",
    Code.NOT_FACILITATOR: "You are not a facilitator of this group.",
    Code.GROUP_UNKNOWN: "There is no such group.",
    Code.ROOM_NOT_OPEN: "The room is not open yet. Your facilitator opens it shortly before "
    "the meeting; please try again then.",
    Code.ROOM_FULL: "The group is full for this session.",
    Code.NAME_INVALID: "Please choose a display name of 1 to 40 characters.",
    Code.NAME_TAKEN: "Someone in the room already uses that name; please pick another.",
    Code.RULES_NOT_ACCEPTED: "Please read and accept the group's ground rules to enter.",
    Code.REFUSED: "The facilitator could not let you in to this session.",
    Code.REMOVED: "A facilitator removed you from this session.",
    Code.NOT_IN_ROOM: "You are not in the room yet.",
    Code.STEPPED_OUT: "You have stepped out: come back to the room to write there.",
    Code.FORBIDDEN: "Only a facilitator can do that.",
    Code.SESSION_PAUSED: "The facilitator has paused the conversation for a moment.",
    Code.SESSION_ENDED: "This session has ended.",
    Code.MUTED: "A facilitator has muted you; your messages are not being sent.",
    Code.TIMED_OUT: "A facilitator has given you a short time-out; you can write again soon.",
    Code.SLOW_MODE: "Slow mode is on: please wait a little before your next message.",
    Code.FLOOD: "You are sending messages very fast; please give others room to talk.",
    Code.TOO_LARGE: "That message is too long to send.",
    Code.ILLEGAL_TRANSITION: "That action does not fit the session's current state.",
    Code.NO_SUCH_PARTICIPANT: "There is no such participant in this session.",
    Code.NO_SUCH_KNOCK: "Nobody with that id is waiting to come in.",
    Code.NO_SUCH_MESSAGE: "There is no such message in this session.",
    Code.NOT_A_MEMBER: "That action applies to members only, not to facilitators.",
    Code.NOT_CONNECTED: "That member is not connected right now, so nothing was sent to them.",
    Code.NOT_SAVED: "The server could not save the removal for good just now: the member is "
    "kept out for the rest of this session, and the server keeps trying to revoke the link.",
    Code.STORE_UNAVAILABLE: "The server cannot reach its records just now; please try again "
    "in a moment.",
    Code.NO_SUCH_ALERT: "That request is no longer open: another facilitator may have "
    "marked it handled.",
    Code.NOT_FOUND: "Not found.",
    Code.METHOD_NOT_ALLOWED: "That method is not allowed here.",
    Code.INVALID: "The request is not valid.",
    Code.FOREIGN_ORIGIN: "This request came from a page of another site, so it was refused.",
    Code.CONFLICT: "That already exists.",
    Code.BAD_RULES: "The group's content rules are not valid.",
    Code.CONTENT_BLOCKED: "This message was not sent: the group's content rules do not allow it.",
    Code.CONTENT_NEEDS_CONFIRMATION: "This message was not sent yet: please check it first.",
}


# The HTTP status of an API answer that refuses with a code; any other is 400.
HTTP_STATUS: dict[Code, int] = {
    Code.UNAUTHENTICATED: 401,
    Code.LOGIN_FAILED: 401,
    Code.NOT_FOUND: 404,
    Code.FOREIGN_ORIGIN: 403,
    Code.METHOD_NOT_ALLOWED: 405,
    Code.CONFLICT: 409,
    Code.RATE_LIMITED: 429,
    Code.STORE_UNAVAILABLE: 503,
}


class SafespaceError(Exception):
    """Root of every error safespace-chat raises on purpose.

    ``detail`` is an optional structured hint (field name, retry-after seconds,
    illegal transition) that never contains user-written text.

    Like h11's ``error_status_hint``, the error says how each shell answers
    it: ``http_status`` for the HTTP API, ``close_code`` for a websocket it
    refuses entry to (a refusal after entry is an error frame and the
    connection stays).
    """

    # None on a client's error when the server did not close (clients/client.py).
    close_code: int | None = Close.AUTH

    def __init__(self, code: Code, reason: str | None = None, **detail: object) -> None:
        self.code = code
        self.reason = reason if reason is not None else REASONS[code]
        self.detail = detail
        super().__init__(f"{code}: {self.reason}")

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)


class DomainError(SafespaceError):
    """A command the session's rules do not allow; the state is unchanged."""


class Rejected(SafespaceError):
    """A frame refused by the moderation pipeline; nothing was relayed."""


class AuthError(SafespaceError):
    """A login or a seat link that does not let its holder in."""


class ProtocolViolation(SafespaceError):
    """Input so malformed that the connection is closed with ``close_code``."""

    def __init__(self, code: Code, close_code: int, reason: str | None = None) -> None:
        super().__init__(code, reason)
        self.close_code = close_code


class NotFound(SafespaceError):
    """A durable record (group, seat link, facilitator) that does not exist."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(Code.NOT_FOUND, reason)


class StoreUnavailable(SafespaceError):
    """The durable store is busy (another process holds it) or cannot write (a full disk)."""

    def __init__(self, retry_after: float = 5.0) -> None:
        super().__init__(Code.STORE_UNAVAILABLE, retry_after=retry_after)


class Invalid(SafespaceError):
    """An API request whose fields fail validation; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(Code.INVALID, reason, field=field)
        self.field = field
