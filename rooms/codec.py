"""The wire codec: msgpack maps in, msgpack maps out, nothing else.

Beside the schema (``rooms.wire``) so that the server, the Python client and
the terminal client encode and decode frames the same way.

Decoding is strict (no ext types, bounded sizes) so that hostile input costs
little and can only ever become a ``ProtocolViolation``.
"""

from __future__ import annotations

from typing import Any

import msgpack

from rooms.errors import Code, ProtocolViolation
from rooms.wire import Close

_packer = msgpack.Packer(use_bin_type=True)


def encode(frame: dict[str, Any]) -> bytes:
    return _packer.pack(frame)  # type: ignore[no-any-return]


def _no_ext(code: int, data: bytes) -> object:
    raise ValueError("extension types are not part of the protocol")


def _string_keys(value: object) -> bool:
    """Every map key, at any depth, is a str (msgpack also allows bin and ints).

    Written for the chat path: a flat frame costs one loop and no calls.
    """
    if type(value) is dict:
        for k, v in value.items():
            if type(k) is not str:
                return False
            if type(v) in _CONTAINERS and not _string_keys(v):
                return False
    elif type(value) is list:
        for v in value:
            if type(v) in _CONTAINERS and not _string_keys(v):
                return False
    return True


_CONTAINERS = (dict, list)


def decode(data: bytes) -> object:
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,  # str or bin keys only; bin is refused below
            ext_hook=_no_ext,  # every extension type, the zero-length ones too
        )
    except Exception:
        # Any decoder complaint (truncated, extra data, bad UTF-8, ext types)
        # means the peer does not speak the protocol.
        raise ProtocolViolation(Code.BAD_FRAME, Close.PROTOCOL) from None
    if not _string_keys(value):
        raise ProtocolViolation(Code.BAD_FRAME, Close.PROTOCOL)
    return value
