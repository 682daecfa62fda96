"""The Python client against a server that sends what the protocol does not allow.

A real websocket server on loopback plays a broken or hostile chat server: after
a genuine-looking welcome it sends a text frame, bytes that are not msgpack, a
map that is no frame, and frames of known types with fields missing or of the
wrong type. The client drops each one whole (``rooms.wire.check_outbound``),
keeps its roster as it was, stays connected and goes on reading what follows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import websockets

from clients.client import ChatClient
from clients.payload import PlainCodec
from rooms.codec import encode
from rooms.wire import SUBPROTOCOL

ME = {
    "pid": "p1",
    "name": "Fay",
    "role": "facilitator",
    "present": True,
    "connected": True,
    "hand": False,
    "muted": False,
    "until": None,
    "keys": b"",
    "vouches": [],
}
WELCOME = {
    "t": "welcome",
    "you": "p1",
    "role": "facilitator",
    "state": "lobby",
    "paused": False,
    "started_at": None,
    "slow_mode_seconds": 0,
    "session": "0" * 32,
    "last_msg": 0,
    "group": {
        "id": "g1",
        "title": "Tuesday group",
        "capacity": 8,
        "duration_minutes": 70,
        "crisis_resources": [],
        "content_rules": None,
    },
    "roster": [ME],
    "alerts": [],
    "knocks": [],
}
MALFORMED: list[Any] = [
    "a text frame",
    b"\xc1",  # not msgpack
    encode([1, 2, 3]),  # not a map
    encode({"t": "joined", "p": {"pid": "p9"}}),  # a participant with nothing else
    encode({"t": "left"}),  # whose?
    encode({"t": "muted", "pid": "p1", "until": "soon"}),
    encode({"t": "hand", "pid": "p1", "up": "yes"}),
    encode({"t": "state", "state": "ended"}),  # half a state
]


async def test_malformed_frames_are_dropped_whole_and_reading_goes_on() -> None:
    async def hostile(ws: Any) -> None:
        await ws.recv()  # the hello
        await ws.send(encode(WELCOME))
        for frame in MALFORMED:
            await ws.send(frame)
        await ws.send(encode({"t": "hand", "pid": "p1", "up": True}))
        await ws.wait_closed()

    async with websockets.serve(hostile, "127.0.0.1", 0, subprotocols=[SUBPROTOCOL]) as server:
        port = server.sockets[0].getsockname()[1]
        client = await ChatClient.facilitate(
            f"ws://127.0.0.1:{port}", "g1", token="t", codec=PlainCodec()
        )
        try:
            hand = await client.next("hand", timeout=5)
            assert hand.fields["up"] is True  # the good frame after the bad ones
            assert client.dropped == len(MALFORMED)
            assert set(client.roster) == {"p1"}  # nobody was added or taken away
            assert client.roster["p1"]["muted"] is False
            assert client.state == "lobby"
            assert client.close_code is None  # still connected
        finally:
            await asyncio.wait_for(client.close(), 5)
