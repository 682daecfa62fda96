"""Where an idle member connection's memory goes, by source line (tracemalloc).

    python -m bench.memprobe --rooms 250        # 2,000 idle members

Runs our server in this process (uvicorn, as ``chatserver serve`` configures
it, on the default asyncio loop), opens the rooms with the load generator,
starts tracing, lets the members join through their seat links, and prints
the Python memory each connection added, by file and by line. It counts
Python objects only; ``python -m bench.run --phases idle`` measures the whole
process (RSS), which also holds the allocator's slack.
"""

from __future__ import annotations

import argparse
import asyncio
import linecache
import tracemalloc

import uvicorn

from bench.fixtures import build
from bench.targets import LOADGEN, NODE, ROOT
from chatserver.app import create_app
from chatserver.config import Config
from chatserver.server import bound_socket, uvicorn_config


def _where(filename: str) -> str:
    return filename.split("site-packages/")[-1].replace(str(ROOT) + "/", "")


async def probe(rooms: int, members: int, top: int) -> None:
    fixture = await build(ROOT / "var" / "memprobe", rooms, members)
    sock = bound_socket()
    port = sock.getsockname()[1]
    config = Config.from_env(store_url=fixture.store_url, public_url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(uvicorn_config(create_app(config), "127.0.0.1", port))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.05)
    loadgen = await asyncio.create_subprocess_exec(
        NODE,
        str(LOADGEN),
        *("--mode", "safespace", "--url", f"http://127.0.0.1:{port}"),
        *("--setup", str(fixture.setup_path), "--rooms", str(rooms), "--members", str(members)),
        *("--idle", "--pause-after-open", "--hold", "120", "--deadline", "300"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert loadgen.stdin is not None and loadgen.stdout is not None
    try:
        before = after = None
        while after is None:
            line = (await loadgen.stdout.readline()).decode()
            if not line:
                raise SystemExit("the load generator stopped early")
            if '"rooms_open"' in line:
                tracemalloc.start(4)
                before = tracemalloc.take_snapshot()
                loadgen.stdin.write(b"go\n")
            elif '"ready"' in line:
                await asyncio.sleep(1.0)
                after = tracemalloc.take_snapshot()
        assert before is not None
        n = rooms * members
        by_file = after.compare_to(before, "filename")
        total = sum(s.size_diff for s in by_file)
        print(f"{n} idle members: {total / n / 1024:.1f} KiB of Python objects each\n")
        print("by file (bytes per connection):")
        for s in by_file[:top]:
            print(f"  {s.size_diff / n:7.0f}  {_where(s.traceback[0].filename)}")
        print("\nby line (bytes per connection):")
        for s in after.compare_to(before, "lineno")[:top]:
            frame = s.traceback[0]
            code = linecache.getline(frame.filename, frame.lineno).strip()[:70]
            print(f"  {s.size_diff / n:7.0f}  {_where(frame.filename)}:{frame.lineno}  {code}")
        loadgen.stdin.write(b"go\n")
        await loadgen.wait()
    finally:
        if loadgen.returncode is None:
            loadgen.kill()
            await loadgen.wait()
        server.should_exit = True
        await serving


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rooms", type=int, default=250)
    p.add_argument("--members", type=int, default=8)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    asyncio.run(probe(args.rooms, args.members, args.top))


if __name__ == "__main__":
    main()
