"""Logging set-up for ``chatserver serve``: ``LOG_LEVEL``, and never a frame's bytes.

At debug level the ``websockets`` protocol object under uvicorn's websocket
layer logs every frame it reads or writes as its first and last bytes (a
hello's end is the password or the seat token; a chat frame's is the
payload), the handshake's headers one per line, and its state changes; at
trace level uvicorn's message logger (``uvicorn.asgi``) logs every ASGI
message and scope. docs/operations.md promises none of that content is ever
printed, so one filter (``FrameContentFilter``) sits on each logger those
lines go through and rewrites or drops them before any handler sees them.

Why a filter on the loggers, not the other ways:

* Pinning the loggers to INFO does not work for ``uvicorn.error``: uvicorn
  hands that very logger to the ``websockets`` protocol, so it cannot be
  quiet for ``websockets`` and verbose for uvicorn, and uvicorn's own trace
  lines look at that logger's level. ``LOG_LEVEL=trace`` would mean nothing.
* A filter on handlers would miss any handler added later (uvicorn's
  ``dictConfig`` replaces its handlers, an operator's ``--log-config`` or a
  log shipper adds others); a logger's filters run before every handler,
  whichever, and ``dictConfig`` leaves them in place.
* Matching message texts would break silently when ``websockets`` rewords a
  line. The filter goes by what it can check: a record from code inside the
  ``websockets`` package below INFO is dropped unless its one argument is a
  frame, which is rewritten to kind and size; and on any of these loggers an
  argument that is a frame, bytes, or a dict (an ASGI message or scope) is
  replaced by kind and size, keeping only the dict keys known to carry no
  content. It fails closed: a record it cannot inspect is dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

import websockets
from websockets.frames import Close, Frame, Opcode

log = logging.getLogger(__name__)

TRACE = 5  # uvicorn.logging.TRACE_LOG_LEVEL
LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}

# Loggers that uvicorn's websocket and HTTP layers write to (``uvicorn.error``
# is also the ``websockets`` protocol's), and the logger ``websockets`` itself
# falls back to on the server side. Records are filtered by the logger they
# are logged to, not by the ones they propagate through: each one is named.
GUARDED = ("uvicorn", "uvicorn.error", "uvicorn.asgi", "uvicorn.access", "websockets.server")

_PLACEHOLDER = re.compile(r"<\d+ (bytes|chars)>|<\.\.\.>")
_WEBSOCKETS_DIR = os.path.dirname(os.path.abspath(websockets.__file__)) + os.sep

# Keys of an ASGI scope or message whose values are never content: the rest
# (body, bytes, text, headers, query_string, raw_path, reason, state, ...)
# is shown only as its size.
_SAFE_KEYS = frozenset(
    {
        "type",
        "asgi",
        "version",
        "spec_version",
        "http_version",
        "scheme",
        "method",
        "path",
        "root_path",
        "client",
        "server",
        "subprotocols",
        "subprotocol",
        "status",
        "code",
        "more_body",
    }
)


def level(name: str) -> int:
    """The number for a ``LOG_LEVEL`` name (any case); a clear error for others."""
    try:
        return LEVELS[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown LOG_LEVEL {name!r}: one of {', '.join(LEVELS)}") from None


def _size(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        # uvicorn's message logger already put its own placeholder here.
        return value if _PLACEHOLDER.fullmatch(value) else f"<{len(value)} chars>"
    return "<...>"


def _frame(frame: Frame) -> str:
    """A frame's kind and size; for a close frame its code too, never its reason."""
    shown = frame.opcode.name
    if frame.opcode is Opcode.CLOSE:
        with contextlib.suppress(Exception):  # a malformed close: kind and size only
            shown += f" {Close.parse(frame.data).code}"
    return f"{shown} [{len(frame.data)} bytes]"


def _redact(value: Any) -> Any:
    if isinstance(value, Frame):
        return _frame(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _size(value)
    if isinstance(value, Mapping):
        return {k: _redact(v) if k in _SAFE_KEYS else _size(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(v) for v in value)
    return value


class FrameContentFilter(logging.Filter):
    """Rewrites or drops every record that would print a frame's or a body's content."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return self._filter(record)
        except Exception:
            return False  # fail closed: better a lost debug line than a leaked one

    def _filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.levelno < logging.INFO and os.path.abspath(record.pathname).startswith(
            _WEBSOCKETS_DIR
        ):
            # The websockets library's own debug lines: frames (kept as kind
            # and size), the handshake's request and response headers one by
            # one, state changes, failed handshakes with their exceptions.
            if not (isinstance(args, tuple) and len(args) == 1 and isinstance(args[0], Frame)):
                return False
            direction = str(record.msg)[:1]
            record.msg = "%s %s"
            record.args = (direction if direction in "<>" else "?", _frame(args[0]))
            return True
        if not isinstance(record.msg, str):
            record.msg = str(_redact(record.msg))
        if isinstance(args, Mapping):  # logging's form for one dict argument
            record.args = _redact(args)
        elif isinstance(args, tuple):
            record.args = tuple(_redact(a) for a in args)
        return True


_FILTER = FrameContentFilter()


def configure(app_level: str, server_level: str | None = None) -> None:
    """Our loggers at ``app_level``; the frame filter on every logger that needs it.

    ``chatserver.*`` go to stderr at ``app_level``; other libraries' own
    loggers stay at WARNING or quieter (their debug output is nobody's
    promise). Where logging is already set up (pytest's caplog, an embedding
    program), levels and handlers are left as they are and only the filter is
    added. ``server_level`` is uvicorn's, which ``uvicorn.Config`` sets; the
    server side of ``websockets`` is never let below INFO whatever it is.
    """
    number = level(app_level)
    if server_level is not None:
        level(server_level)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=max(number, logging.WARNING),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        logging.getLogger("chatserver").setLevel(number)
    logging.addLevelName(TRACE, "TRACE")
    ws_server = logging.getLogger("websockets.server")
    if ws_server.getEffectiveLevel() < logging.INFO:
        ws_server.setLevel(logging.INFO)
    for name in GUARDED:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    log.debug(
        "log levels: chatserver.* %s, uvicorn %s; frame and body content filtered out of %s",
        logging.getLevelName(logging.getLogger("chatserver").getEffectiveLevel()),
        server_level or "as set",
        ", ".join(GUARDED),
    )
