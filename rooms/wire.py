"""The wire schema: every frame, field and close code, shared by server and client.

This is the one module both ``chatserver`` and ``clients`` import (DESIGN.md
section 2). Frames are msgpack maps with a type field ``t``; docs/protocol.md
describes each one and must match this file.

Inbound frames (client to server) are described as data in ``INBOUND`` and
checked by the server with ``check_inbound``; outbound frames (server to
client) in ``OUTBOUND``, built by the server with ``frame`` and checked by the
Python client with ``check_outbound``. tests/rooms/test_rooms_wire_docs.py
checks that docs/protocol.md lists exactly these frames, fields and types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rooms.errors import Close as Close
from rooms.errors import Code, ProtocolViolation, SafespaceError

VERSION = 1
SUBPROTOCOL = f"safespace.v{VERSION}"

# Hard cap on one websocket message; bigger ones are closed by the server's
# websocket layer with 1009 before they are read. Chat payloads have their own,
# lower, per-group limit that is answered with a TOO_LARGE error frame instead.
MAX_FRAME_BYTES = 64 * 1024
# What a client must accept from the server: a facilitator's welcome to a full
# room (32 members, 8 facilitators, 16 knockers, each with a 1 KiB key bundle
# and 4 vouches, 64 open alerts, 16 KiB of crisis text, signed content rules)
# stays below it by construction (tests/rooms/test_rooms_wire.py measures it).
MAX_SERVER_FRAME_BYTES = 256 * 1024
MAX_NAME_CHARS = 40
# A participant's public-key bundle, copied into every roster: bounded so that
# a full room's welcome frame always stays far below MAX_FRAME_BYTES.
MAX_KEYS_BYTES = 1024
# A vouch (docs/e2ee.md section 3): an Ed25519 identity key and signature;
# a participant holds one per signing facilitator, a few at most.
VOUCH_KEY_BYTES = 32
VOUCH_SIG_BYTES = 64
# The signer's anchor: a value its own client chose for this session, so that
# no vouch from another session or from before a removal verifies again.
VOUCH_ANCHOR_BYTES = 16
MAX_VOUCHES = 4


class Audience:
    """Who an outbound frame is for; any other value is one participant id."""

    ROOM = "*"  # every admitted participant who is connected (on a break too)
    FACILITATORS = "f"  # every facilitator who is connected (on a break too)


# Inbound: frame type -> {field: (python type, required)}.
# ``ref`` (an int the client picks) may accompany any frame and is echoed in
# the error frame that refuses it, so a client knows which request failed.
_PID = (str, True)
INBOUND: dict[str, dict[str, tuple[type | tuple[type, ...], bool]]] = {
    "hello": {
        "v": (int, True),
        "role": (str, True),
        "name": (str, False),
        "link": (str, False),
        "group": (str, False),
        "token": (str, False),
        "user": (str, False),
        "password": (str, False),
        "keys": (bytes, False),
        "identity": (bytes, False),
    },
    "accept": {"rules": (str, True)},
    "chat": {"payload": (bytes, True)},
    "direct": {"to": _PID, "payload": (bytes, True)},
    "private": {"payload": (bytes, True), "to": (str, False)},
    "report": {"msg": (int, True), "payload": (bytes, True)},
    "alert": {"kind": (str, True), "category": (str, False)},
    "alert_seen": {"id": (int, True)},
    "handled": {"id": (int, True)},
    "vouch": {"pid": _PID, "by": (bytes, True), "anchor": (bytes, True), "sig": (bytes, True)},
    "hand": {"up": (bool, True), "pid": (str, False)},
    "step_out": {},
    "back": {},
    "leave": {},
    # Facilitator commands.
    "open": {},
    "start": {},
    "lock": {},
    "unlock": {},
    "pause": {},
    "resume": {},
    "end": {},
    "admit": {"pid": _PID},
    "refuse": {"pid": _PID},
    "mute": {"pid": _PID},
    "unmute": {"pid": _PID},
    "timeout": {"pid": _PID, "seconds": (int, True)},
    "remove": {
        "pid": _PID,
        "for_good": (bool, False),
        "by": (bytes, False),
        "proof": (bytes, False),
    },
    "delete": {"msg": (int, True)},
    "slow": {"seconds": ((int, float), True)},
}

FACILITATOR_ONLY = frozenset(
    {
        "open",
        "start",
        "lock",
        "unlock",
        "pause",
        "resume",
        "end",
        "admit",
        "refuse",
        "mute",
        "unmute",
        "timeout",
        "remove",
        "delete",
        "slow",
        "vouch",
        "alert_seen",
        "handled",
    }
)
ALERT_KINDS = frozenset({"support", "content"})
MAX_TIMEOUT_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class Inbound:
    """A frame that passed the schema: its type, its fields and its ``ref``."""

    type: str
    fields: dict[str, Any]
    ref: int | None


def check_inbound(frame: object) -> Inbound:
    """Check a decoded frame against ``INBOUND``.

    A frame that is not a map at all is a protocol violation (the connection
    closes); an unknown type or a bad field is an error frame, the connection
    stays, so a newer client can still talk to an older server.
    """
    if not isinstance(frame, dict):
        raise ProtocolViolation(Code.BAD_FRAME, Close.PROTOCOL)
    kind = frame.get("t")
    ref = frame.get("ref")
    if not isinstance(ref, int) or isinstance(ref, bool):
        ref = None
    if not isinstance(kind, str) or kind not in INBOUND:
        raise SafespaceError(Code.UNKNOWN_TYPE, ref=ref)
    spec = INBOUND[kind]
    fields: dict[str, Any] = {}
    for name, (typ, required) in spec.items():
        value = frame.get(name)
        if value is None:
            if required:
                raise SafespaceError(Code.BAD_FIELD, f"The field '{name}' is missing.", ref=ref)
            continue
        if (isinstance(value, bool) and typ is not bool) or not isinstance(value, typ):
            raise SafespaceError(Code.BAD_FIELD, f"The field '{name}' has the wrong type.", ref=ref)
        fields[name] = value
    return Inbound(kind, fields, ref)


# ---- outbound frames -------------------------------------------------------
#
# Outbound: frame type -> {field: (type, required)}, as for INBOUND, with two
# more kinds of type: a ``Spec`` (a map checked field by field, such as the
# participant object) and ``ListOf`` (a list whose items are checked). A
# required field is always present; ``_NIL`` among its types means its value
# may be nil. The server builds every frame through ``frame`` (which refuses
# an undeclared type or field: a bug, caught by the tests), and the Python
# client checks every frame it reads with ``check_outbound`` (a hostile or
# broken server's malformed frame is dropped, never half-applied).

_NIL = type(None)
_FLOAT = (float, int)  # msgpack gives back an int for a whole-number float
Spec = dict[str, tuple[Any, bool]]


@dataclass(frozen=True, slots=True)
class ListOf:
    item: Any


_STR = (str, True)
_VOUCH: Spec = {"by": (bytes, True), "anchor": (bytes, True), "sig": (bytes, True)}
PARTICIPANT: Spec = {
    "pid": _STR,
    "name": _STR,
    "role": _STR,
    "present": (bool, True),
    "connected": (bool, True),
    "hand": (bool, True),
    "muted": (bool, True),
    "until": ((*_FLOAT, _NIL), True),
    "keys": (bytes, True),
    "vouches": (ListOf(_VOUCH), True),
}
_STATE: Spec = {
    "state": _STR,
    "paused": (bool, True),
    "started_at": ((*_FLOAT, _NIL), True),
    "slow_mode_seconds": (_FLOAT, True),
}
_GROUP: Spec = {"id": _STR, "title": _STR}
# An open support request or content alert (rooms/alerts.py).
_ALERT: Spec = {
    "id": (int, True),
    "from": _STR,
    "kind": _STR,
    "category": ((str, _NIL), True),
    "ts": (_FLOAT, True),
    "count": (int, True),
    "status": _STR,
}
OUTBOUND: dict[str, Spec] = {
    "rules": {
        "group": (_GROUP, True),
        "rules": (ListOf(str), True),
        "digest": _STR,
        "crisis_resources": (ListOf(str), True),
    },
    "welcome": {
        "you": _STR,
        "role": _STR,
        **_STATE,
        "session": _STR,
        "last_msg": (int, True),
        "group": (
            {
                **_GROUP,
                "capacity": (int, True),
                "duration_minutes": (int, True),
                "crisis_resources": (ListOf(str), True),
                "content_rules": ((dict, _NIL), True),
            },
            True,
        ),
        "roster": (ListOf(PARTICIPANT), True),
        "alerts": (ListOf(_ALERT), True),
        "knocks": (ListOf(PARTICIPANT), False),  # facilitators only
    },
    "knocking": {},
    "joined": {"p": (PARTICIPANT, True)},
    "presence": {
        "pid": _STR,
        "present": (bool, True),
        "connected": (bool, True),
        "name": (str, False),  # with present: true
        "keys": (bytes, False),  # with present: true, or on a break (connected: true)
    },
    "left": {"pid": _STR},
    "removed": {
        "pid": _STR,
        "for_good": (bool, True),
        "by": (bytes, False),
        "proof": (bytes, False),
    },
    "knock": {"p": (PARTICIPANT, True)},
    "knock_gone": {"pid": _STR},
    "state": _STATE,
    "muted": {"pid": _STR, "until": ((*_FLOAT, _NIL), True)},
    "unmuted": {"pid": _STR},
    "hand": {"pid": _STR, "up": (bool, True)},
    "deleted": {"id": (int, True), "by": _STR},
    "reminder": {"minutes_left": (int, True)},
    "ended": {"reason": _STR},
    "msg": {"id": (int, True), "from": _STR, "payload": (bytes, True), "ts": (_FLOAT, True)},
    "direct": {"from": _STR, "payload": (bytes, True)},
    "vouch": {"pid": _STR, **_VOUCH},
    "content_rules": {"rules": ((dict, _NIL), True)},
    "private": {
        "from": _STR,
        "thread": ((str, _NIL), True),
        "payload": (bytes, True),
        "ts": (_FLOAT, True),
    },
    "report": {"from": _STR, "msg": (int, True), "payload": (bytes, True), "ts": (_FLOAT, True)},
    "alert": _ALERT,
    "alert_status": {"id": (int, True), "kind": _STR, "status": _STR},
    "handled": {"id": (int, True), "by": _STR},
    "error": {"code": _STR, "message": _STR, "detail": (dict, False), "ref": (int, False)},
}


def _fits(value: Any, typ: Any) -> bool:
    if isinstance(typ, dict):
        return isinstance(value, dict) and _fits_map(value, typ)
    if isinstance(typ, ListOf):
        return isinstance(value, list) and all(_fits(v, typ.item) for v in value)
    types = typ if isinstance(typ, tuple) else (typ,)
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _fits_map(value: dict[str, Any], spec: Spec) -> bool:
    return all(
        _fits(value[name], typ) if name in value else not required
        for name, (typ, required) in spec.items()
    )


def check_outbound(frame: object) -> dict[str, Any]:
    """A frame from the server, as a client reads it: a known type, every declared
    field present (when required) and of its declared type.

    Fields the schema does not know are left alone (a newer server may send
    them); an unknown type is ``unknown_type``, which a client ignores.
    """
    if not isinstance(frame, dict):
        raise ProtocolViolation(Code.BAD_FRAME, Close.PROTOCOL)
    spec = OUTBOUND.get(frame.get("t"))  # type: ignore[arg-type]
    if spec is None:
        raise SafespaceError(Code.UNKNOWN_TYPE)
    if not _fits_map(frame, spec):
        raise SafespaceError(Code.BAD_FIELD)
    return frame


def frame(kind: str, /, **fields: Any) -> dict[str, Any]:
    """An outbound frame of a declared type with exactly declared fields."""
    built = {"t": kind, **fields}
    spec = OUTBOUND.get(kind)
    # A bug of the server, not of its input: the message names only the
    # frame type and field names, never a value.
    if spec is None or not fields.keys() <= spec.keys():
        raise ValueError(f"undeclared outbound frame or field: {kind} {sorted(fields)}")
    if not _fits_map(built, spec):
        raise ValueError(f"outbound frame {kind} does not fit its declaration")
    return built


def error(err: SafespaceError, ref: int | None = None) -> dict[str, Any]:
    detail = {k: v for k, v in err.detail.items() if k != "ref" and v is not None}
    if ref is None:
        ref = err.detail.get("ref")  # type: ignore[assignment]
    optional = {"detail": detail or None, "ref": ref}
    return frame(
        "error",
        code=str(err.code),
        message=err.reason,
        **{k: v for k, v in optional.items() if v is not None},
    )


def refusal(code: Code, **detail: Any) -> dict[str, Any]:
    """The error frame sent before a close the session orders (removed, refused, ...)."""
    return error(SafespaceError(code, **detail))


def message(msg_id: int, sender: str, payload: bytes, ts: float) -> dict[str, Any]:
    # The hot path: built without the check of ``frame`` (a test checks its
    # shape against OUTBOUND["msg"]).
    return {"t": "msg", "id": msg_id, "from": sender, "payload": payload, "ts": ts}
