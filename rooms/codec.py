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


def decode(data: bytes) -> object:
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=True,
            max_ext_len=0,
        )
    except Exception:
        # Any decoder complaint (truncated, extra data, bad UTF-8, ext types)
        # means the peer does not speak the protocol.
        raise ProtocolViolation(Code.BAD_FRAME, Close.PROTOCOL) from None
