"""A private ``redis-server`` for the tests: its own port, its own scratch directory.

Never the shared Redis on 127.0.0.1:6379: each server here is started on a
free port, without persistence unless a test asks for AOF (in its scratch
directory), and stopped by its own pid only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
SHARED_PORT = 6379  # someone else's: never used here


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    assert port != SHARED_PORT
    return port


class RedisServer:
    def __init__(self, directory: Path, *, aof: bool = False) -> None:
        self.directory = directory
        self.aof = aof
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, port: int = 0) -> RedisServer:
        """On ``port`` (a restart keeps its URL), or on a free one."""
        assert port != SHARED_PORT
        self.directory.mkdir(parents=True, exist_ok=True)
        for _ in range(5):  # a free port may be taken between the probe and the bind
            self.port = port or free_port()
            args = [
                REDIS_SERVER,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--save", "",
                "--appendonly", "yes" if self.aof else "no",
                "--daemonize", "no",
                "--logfile", str(self.directory / "redis.log"),
            ]  # fmt: skip
            self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
            if self._wait_ready(5.0):
                return self
            self.stop()
        raise RuntimeError(f"redis-server did not start; see {self.directory / 'redis.log'}")

    def _wait_ready(self, seconds: float) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(redis.RedisError):
                if self.client().ping():
                    return True
            time.sleep(0.02)
        return False

    def client(self) -> redis.Redis:
        assert self.port and self.port != SHARED_PORT
        return redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def flush(self) -> None:
        """Empty this private server between tests (never any other)."""
        with self.client() as c:
            c.flushall()

    def pause(self) -> None:
        """SIGSTOP: a hung Redis (the socket stays open, nothing answers)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGCONT)  # a paused server cannot exit
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def private_redis(directory: Path, *, aof: bool = False) -> Iterator[RedisServer]:
    server = RedisServer(directory, aof=aof).start()
    try:
        yield server
    finally:
        server.stop()
