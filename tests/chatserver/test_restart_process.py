"""A real ``chatserver serve`` process stopped and started again (issue 16, point 7).

SIGTERM (a deploy, systemd's stop): the live session is kept, every client
is closed with 1012 (restart: come back), and after the start the members'
links bring them back to their places, the lock and the mute as they were.
SIGKILL (a crash): nothing could be kept; the members are told the room is
not open, which is true, and the facilitator opens a new session.
Only the processes this test started are signalled, by their pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from haproxy_rig import chatserver_argv, cli, free_port, wait_healthy

from clients.client import ChatClient, ClientError
from clients.payload import PlainCodec
from rooms.errors import Code

PASSWORD = "a long enough password for alex"


class Node:
    """One ``chatserver serve`` on 127.0.0.1, with a scratch store of its own."""

    def __init__(self, scratch: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "STORE_URL": f"sqlite:///{scratch / 'store.sqlite3'}",
            "PUBLIC_URL": self.url,
        }
        self.logs = scratch / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.logs.open("ab") as log:
            self.process = subprocess.Popen(
                [*chatserver_argv(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=log,
            )
        wait_healthy(self.url, self.process, 20, "chatserver")

    def stop(self, sig: int) -> int:
        assert self.process is not None
        os.kill(self.process.pid, sig)
        code = self.process.wait(20)
        self.process = None
        return code


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path)
    cli(n.env, "facilitator", "add", "alex", "--password-stdin", stdin=PASSWORD + "\n")
    n.start()
    try:
        yield n
    finally:
        if n.process is not None:
            n.stop(signal.SIGKILL)


async def session(node: Node) -> tuple[str, list[str], ChatClient, list[ChatClient]]:
    gid = cli(
        node.env, "group", "create", "--title", "Tuesday group", "--facilitator", "alex"
    ).splitlines()[-1]
    links = [cli(node.env, "link", "create", gid).splitlines()[-1] for _ in range(2)]
    fac = await ChatClient.facilitate(
        node.url, gid, user="alex", password=PASSWORD, codec=PlainCodec()
    )
    await fac.open()
    members = [
        await ChatClient.join(link, name, codec=PlainCodec())
        for link, name in zip(links, ("Ann", "Ben"), strict=True)
    ]
    await fac.start()
    await fac.mute(members[1].pid)
    await fac.next("muted")
    return gid, links, fac, members


async def test_sigterm_keeps_the_session_for_those_who_come_back(node: Node) -> None:
    gid, links, fac, (ann, ben) = await session(node)
    pids = (ann.pid, ben.pid)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert node.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    for c in (fac, ann, ben):
        assert await c.closed() == 1012  # "restarting": the pages come back by themselves
    node.start()
    ann2 = await ChatClient.join(links[0], "Ann", codec=PlainCodec())
    ben2 = await ChatClient.join(links[1], "Ben", codec=PlainCodec())
    try:
        assert (ann2.pid, ben2.pid) == pids  # their places, not a knock at the locked door
        assert ben2.roster[ben2.pid]["muted"] is True
        assert ann2.state == "live_locked"
    finally:
        for c in (ann2, ben2):
            await c.close()


async def test_sigkill_keeps_nothing_and_says_the_room_is_not_open(node: Node) -> None:
    gid, links, fac, _ = await session(node)
    node.stop(signal.SIGKILL)
    node.start()
    with pytest.raises(ClientError) as caught:
        await ChatClient.join(links[0], "Ann", codec=PlainCodec())
    assert caught.value.code == Code.ROOM_NOT_OPEN
    print(f"\nafter kill -9 the session is gone ({sys.platform}); a member is told: room_not_open")
