"""Reference relay (c): python-socketio as an ASGI app on uvicorn.

Socket.IO rooms, websocket transport only, compression off: the same relay as
the Node socket.io reference (b), in Python on the same server stack as ours
(uvicorn with uvloop and httptools).

Protocol: ``join`` (room name, acknowledged), then each ``msg`` event (binary)
is emitted to the whole room, sender included.

    python bench/relays/socketio_py.py --port 8766
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio  # type: ignore[import-untyped]
import uvicorn

sio = socketio.AsyncServer(
    async_mode="asgi",
    transports=["websocket"],
    cors_allowed_origins="*",
    http_compression=False,
    compression_threshold=1 << 30,
    ping_interval=25,
    ping_timeout=20,
    max_http_buffer_size=64 * 1024,
)
app = socketio.ASGIApp(sio)
room_of: dict[str, str] = {}


@sio.on("join")  # type: ignore[untyped-decorator]
async def join(sid: str, room: str) -> str:
    await sio.enter_room(sid, room)
    room_of[sid] = room
    return "ok"


@sio.on("msg")  # type: ignore[untyped-decorator]
async def msg(sid: str, data: Any) -> None:
    room = room_of.get(sid)
    if room is not None:
        await sio.emit("msg", data, room=room)


@sio.on("disconnect")  # type: ignore[untyped-decorator]
async def disconnect(sid: str, *args: Any) -> None:
    room_of.pop(sid, None)


def run() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8766)
    args = p.parse_args()
    print(f"python-socketio relay on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=False,
        backlog=512,
    )


if __name__ == "__main__":
    run()
