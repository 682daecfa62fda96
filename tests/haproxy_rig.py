"""A real haproxy in front of ``chatserver serve`` nodes, for tests (issues 15 and 16).

The configuration is the block that docs/operations.md (section 2.4)
recommends for production, read from that file, so the tests run what the
docs say. Only the lines that cannot be the same on a test machine are
replaced, each of which must appear exactly once: the ``bind`` line (a free
port on 127.0.0.1, no TLS), the one ``server`` line (one line per backend
port given) and, if the caller asks, ``timeout http-request``. A ``global``
section of the rig's own goes first, in place of Debian's (no chroot, no
user switch, no daemon, no stats socket, no log).

haproxy runs in the foreground (``-db``: no daemon, no master-worker), with
its config in a scratch directory, never as the system's service, and is
stopped by its own pid. ``ChatNode`` starts one ``chatserver serve`` on a
free 127.0.0.1 port (the scratch SQLite store, or any ``STORE_URL`` given),
also stopped by its pid; ``cli`` runs the CLI's other commands with the
same environment. Neither needs ``bench`` on the import path.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HAPROXY = "/usr/sbin/haproxy"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"

# The lines of the documented block that the rig replaces.
DOC_BIND = "bind :443 ssl crt /etc/haproxy/certs/chat.example.org.pem"
DOC_SERVER = "server node1 127.0.0.1:8000 check inter 2s"
DOC_HTTP_REQUEST = re.compile(r"^(\s*timeout http-request\s+)\S+$", re.MULTILINE)

RIG_GLOBAL = """\
global
    maxconn 4096
"""


def haproxy_path() -> str | None:
    return HAPROXY if os.access(HAPROXY, os.X_OK) else shutil.which("haproxy")


def documented_config(docs: Path | None = None) -> str:
    """The one ```haproxy block of docs/operations.md, as written there."""
    docs = DOCS if docs is None else docs
    blocks = re.findall(r"^```haproxy\n(.*?)^```$", docs.read_text(), re.MULTILINE | re.DOTALL)
    if len(blocks) != 1:
        raise AssertionError(f"{docs} must hold exactly one ```haproxy block, not {len(blocks)}")
    text: str = blocks[0]
    return text


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise AssertionError(f"the documented haproxy config must hold {old!r} exactly once")
    return text.replace(old, new)


def rig_config(
    port: int, backends: Sequence[int], http_request_timeout: float | None = None
) -> str:
    """The documented config on 127.0.0.1:``port`` in front of ``backends``."""
    if not backends:
        raise ValueError("at least one backend port")
    text = documented_config()
    text = _replace_once(text, DOC_BIND, f"bind 127.0.0.1:{port}")
    indent = re.search(rf"^(\s*){re.escape(DOC_SERVER)}$", text, re.MULTILINE)
    assert indent is not None, DOC_SERVER
    servers = f"\n{indent.group(1)}".join(
        f"server node{i} 127.0.0.1:{p} check inter 2s" for i, p in enumerate(backends, 1)
    )
    text = _replace_once(text, DOC_SERVER, servers)
    if http_request_timeout is not None:
        text, n = DOC_HTTP_REQUEST.subn(rf"\g<1>{round(http_request_timeout * 1000)}ms", text)
        if n != 1:
            raise AssertionError("the documented haproxy config must set timeout http-request once")
    return RIG_GLOBAL + "\n" + text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def chatserver_argv() -> list[str]:
    script = Path(sys.executable).parent / "chatserver"
    return [str(script)] if script.exists() else [sys.executable, "-m", "chatserver.cli"]


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """``chatserver ARGS`` with ``env``; its standard output, stripped."""
    done = subprocess.run(
        [*chatserver_argv(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"chatserver {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout.strip()


class ChatNode:
    """One ``chatserver serve`` on 127.0.0.1 behind the proxy at ``public_url``."""

    def __init__(self, scratch: Path, public_url: str, **env: str) -> None:
        scratch.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.env = {
            **os.environ,
            "STORE_URL": f"sqlite:///{scratch / 'store.sqlite3'}",
            "PUBLIC_URL": public_url,  # people come in through the proxy
            "FORWARDED_ALLOW_IPS": "127.0.0.1",  # the proxy, as the node sees it
            **env,
        }
        self.log = scratch / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*chatserver_argv(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_healthy(f"http://127.0.0.1:{self.port}", self.process, timeout, "chatserver")

    def stop(self, sig: int = signal.SIGKILL) -> int | None:
        """Signal the node by its pid and wait for it; its exit code (None: not running)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        os.kill(self.process.pid, sig)
        code = self.process.wait(20)
        self.process = None
        return code


@dataclass
class Haproxy:
    port: int
    backends: tuple[int, ...]
    config: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM (haproxy's hard stop: every connection closed now), by pid."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


def wait_healthy(
    url: str, proc: subprocess.Popen[bytes], timeout: float = 10.0, what: str = "haproxy"
) -> None:
    """Until ``url``/healthz answers 200 (through the proxy: a backend is up)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2.0) as r:
                if r.status == 200:
                    return
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise TimeoutError(f"{url}/healthz not 200 within {timeout}s (last: {last})")


@contextlib.contextmanager
def haproxy(
    scratch: Path,
    backends: Sequence[int],
    *,
    port: int | None = None,
    http_request_timeout: float | None = None,
    wait: bool = True,
) -> Iterator[Haproxy]:
    """haproxy on 127.0.0.1:``port`` (a free one if None) in front of ``backends``.

    ``wait``: return once /healthz answers 200 through it (the backends must
    be running). haproxy is stopped by its pid when the block ends.
    """
    binary = haproxy_path()
    if binary is None:
        raise RuntimeError("haproxy is not installed (make pytest installs Debian's package)")
    port = free_port() if port is None else port
    scratch.mkdir(parents=True, exist_ok=True)
    config = scratch / "haproxy.cfg"
    config.write_text(rig_config(port, backends, http_request_timeout))
    log = scratch / "haproxy.log"
    checked = subprocess.run(
        [binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True, check=False
    )
    if checked.returncode != 0:
        raise RuntimeError(f"haproxy -c refused {config}:\n{checked.stdout}{checked.stderr}")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [binary, "-db", "-f", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    proxy = Haproxy(port, tuple(backends), config, log, process)
    try:
        if wait:
            wait_healthy(proxy.url, process)
        yield proxy
    finally:
        proxy.stop()
