"""Reference relay (a): the `websockets` library's asyncio server and ``broadcast()``.

The practical limit for a Python relay: no framework, no ASGI, no checks, the
message written to every member of the room (sender included) by one call that
frames it once per connection and never awaits a socket. Compression is off,
as on our server.

Protocol: the first message is a text frame naming the room; the relay answers
the text frame ``ok``. Every binary message after that goes to the whole room.

    python bench/relays/ws_broadcast.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve

MAX_MESSAGE_BYTES = 64 * 1024

rooms: defaultdict[str, set[ServerConnection]] = defaultdict(set)


async def relay(ws: ServerConnection) -> None:
    room_name = await ws.recv()
    if not isinstance(room_name, str):
        await ws.close(1003, "join with a text frame naming the room")
        return
    room = rooms[room_name]
    room.add(ws)
    try:
        await ws.send("ok")
        async for message in ws:
            if isinstance(message, bytes):
                broadcast(room, message)
    finally:
        room.discard(ws)
        if not room:
            rooms.pop(room_name, None)


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        relay,
        host,
        port,
        compression=None,
        max_size=MAX_MESSAGE_BYTES,
        ping_interval=None,
        backlog=512,
    ):
        print(f"ws_broadcast relay on ws://{host}:{port}", flush=True)
        await stop


def run() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    args = p.parse_args()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(main(args.host, args.port))
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(args.host, args.port))


if __name__ == "__main__":
    run()
