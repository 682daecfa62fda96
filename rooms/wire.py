"""The wire schema: every frame, field and close code, shared by server and client.

This is the one module both ``chatserver`` and ``clients`` import (DESIGN.md
section 2). Frames are msgpack maps with a type field ``t``; docs/protocol.md
describes each one and must match this file.

Inbound frames (client to server) are described as data in ``INBOUND`` and
checked by ``check_inbound``; outbound frames are built only through the
functions below, so the field names live in one place.
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
MAX_NAME_CHARS = 40
# A participant's public-key bundle, copied into every roster: bounded so that
# a full room's welcome frame always stays far below MAX_FRAME_BYTES.
MAX_KEYS_BYTES = 1024
# A vouch (docs/e2ee.md section 3): an Ed25519 identity key and signature;
# a participant holds one per signing facilitator, a few at most.
VOUCH_KEY_BYTES = 32
VOUCH_SIG_BYTES = 64
MAX_VOUCHES = 4


class Audience:
    """Who an outbound frame is for; any other value is one participant id."""

    ROOM = "*"  # every admitted participant who is present
    FACILITATORS = "f"  # the facilitators who are present


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
    "private": {"payload": (bytes, True)},
    "report": {"msg": (int, True), "payload": (bytes, True)},
    "alert": {"kind": (str, True), "category": (str, False)},
    "vouch": {"pid": _PID, "by": (bytes, True), "sig": (bytes, True)},
    "hand": {"up": (bool, True), "pid": (str, False)},
    "step_out": {},
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
    "remove": {"pid": _PID, "for_good": (bool, False)},
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


def error(err: SafespaceError, ref: int | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"t": "error", "code": str(err.code), "message": err.reason}
    detail = {k: v for k, v in err.detail.items() if k != "ref" and v is not None}
    if detail:
        frame["detail"] = detail
    if ref is None:
        ref = err.detail.get("ref")  # type: ignore[assignment]
    if ref is not None:
        frame["ref"] = ref
    return frame


def message(msg_id: int, sender: str, payload: bytes, ts: float) -> dict[str, Any]:
    return {"t": "msg", "id": msg_id, "from": sender, "payload": payload, "ts": ts}


def frame(kind: str, /, **fields: Any) -> dict[str, Any]:
    """Any other outbound frame; docs/protocol.md lists their fields."""
    return {"t": kind, **fields}
