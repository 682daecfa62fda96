"""What the server logs: failures with their tracebacks, never a frame's content.

A background task of the hub that fails is logged with its traceback, never
lost; and at every ``LOG_LEVEL``, debug and trace included, no password,
token, display name or payload reaches the output in any rendering
(``chatserver.logs`` filters uvicorn's and ``websockets``' loggers).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import httpx
import pytest
from conftest import running_server
from websockets.client import ClientProtocol
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from chatserver import logs
from chatserver.backend import MemoryBackend
from chatserver.hub import Hub
from chatserver.metrics import Metrics
from chatserver.store import Store
from clients.client import ChatClient
from clients.payload import PlainCodec
from rooms.links import token_from_link


async def test_a_failing_hub_task_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = Hub(cast(Store, None), MemoryBackend(), Metrics())

    async def broken() -> None:
        raise RuntimeError("the backend went away")

    async def cancelled() -> None:
        await asyncio.sleep(3600)

    with caplog.at_level(logging.ERROR, logger="chatserver.hub"):
        hub._spawn(broken())
        hub._spawn(cancelled())
        await asyncio.sleep(0.01)
        for task in list(hub._tasks):
            task.cancel()
        await asyncio.sleep(0.01)
    (record,) = caplog.records
    assert record.name == "chatserver.hub" and record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "RuntimeError" in record.getMessage()


# ---- LOG_LEVEL=debug and trace: never a frame's bytes ------------------------
#
# The real ``chatserver serve`` in a subprocess, its stdout and stderr captured
# whole: a facilitator logs in (HTTP and websocket hello, by password and by
# API token), a member joins with a seat link, and chat, ``private`` and
# ``report`` frames go through with distinctive bytes. uvicorn's websocket
# layer (the ``websockets`` protocol object logs through ``uvicorn.error``)
# prints the start and end of every frame at debug, which would show these.

CHATSERVER = Path(sys.executable).parent / "chatserver"


def _windows(secret: bytes, size: int = 6) -> set[bytes]:
    """Every run of ``size`` bytes of ``secret``: a log that elides the middle
    of a frame (websockets shows its first and last bytes) still shows one."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def renderings(secret: bytes) -> set[str]:
    """What a log line could show of ``secret`` (or of any part of it):
    the text, a ``repr`` of bytes, hex with and without spaces (either case),
    and base64 / base64url from each of the three alignments."""
    shown: set[str] = set()
    for w in _windows(secret):
        shown.add(w.decode("latin-1"))
        shown.add(repr(w)[2:-1])
        shown.add(w.hex())
        shown.add(w.hex().upper())
        shown.add(w.hex(" "))
        shown.add(w.hex(" ").upper())
    for skip in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(secret[skip:]).decode().rstrip("=")
            # Only whole groups are certain: the last one depends on what follows.
            text = text[: len(text) // 4 * 4]
            shown |= {text[i : i + 8] for i in range(0, len(text) - 8 + 1, 4)}
    return shown


def leaks(output: str, secrets_: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for what, secret in secrets_.items():
        hits = sorted(r for r in renderings(secret.encode()) if r in output)
        if hits:
            found[what] = hits[:5]
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chatserver(tmp_path: Path, env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [str(CHATSERVER), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


async def _a_logged_meeting(tmp_path: Path, log_level: str) -> tuple[str, dict[str, str]]:
    """Run a short meeting on ``chatserver serve`` at ``log_level``; all it printed."""
    tag = secrets.token_hex(6)
    password = f"pw-{tag}-{secrets.token_hex(8)}"
    name = f"Robin-{secrets.token_hex(6)}"
    payload = f"chat-{secrets.token_hex(12)}"
    private = f"private-{secrets.token_hex(12)}"
    report = f"report-{secrets.token_hex(12)}"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"BACKEND_URL", "REDIS_URL", "ALLOWED_ORIGINS", "ACCESS_LOG", "METRICS_TOKEN"}
    }
    env.update(
        STORE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PUBLIC_URL=url,
        LOG_LEVEL=log_level,
        PYTHONUNBUFFERED="1",
    )
    _chatserver(tmp_path, env, "facilitator", "add", "alex", "--password-stdin", stdin=password)
    gid = _chatserver(tmp_path, env, "group", "create", "--title", "Logs", "--facilitator", "alex")
    gid = gid.strip()

    proc = subprocess.Popen(
        [str(CHATSERVER), "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            deadline = time.monotonic() + 20
            while True:
                assert proc.poll() is None, proc.communicate()[0]
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "chatserver serve never answered /healthz"
                await asyncio.sleep(0.1)
            login = await http.post("/api/login", json={"name": "alex", "password": password})
            assert login.status_code == 200, login.text
            api_token = login.json()["token"]
            auth = {"Authorization": f"Bearer {api_token}"}
            made = await http.post(f"/api/groups/{gid}/links", json={"label": "seat"}, headers=auth)
            assert made.status_code == 201, made.text
            link = made.json()["url"]

        # A hello carrying the API token, then one carrying the password.
        by_token = await ChatClient.facilitate(url, gid, token=api_token, codec=PlainCodec())
        await by_token.close()
        fac = await ChatClient.facilitate(
            url, gid, user="alex", password=password, codec=PlainCodec()
        )
        try:
            await fac.open()
            await fac.next("state")
            member = await ChatClient.join(link, name, codec=PlainCodec())
            try:
                await fac.next("joined")
                await member.send(payload)
                msg = await fac.next("msg")
                assert msg.text == payload  # the bytes really went through
                await member.private(private)
                await fac.next("private")
                await member.report(msg["id"], report)
                await fac.next("report")
            finally:
                await member.close()
        finally:
            await fac.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    shown = {
        "password": password,
        "seat link token": token_from_link(link),
        "API token": api_token,
        "display name": name,
        "chat payload": payload,
        "private payload": private,
        "report payload": report,
    }
    return output, shown


@pytest.mark.parametrize("log_level", ["debug", "trace"])
async def test_no_level_prints_a_frame_password_token_or_payload(
    tmp_path: Path, log_level: str
) -> None:
    output, shown = await _a_logged_meeting(tmp_path, log_level)
    assert leaks(output, shown) == {}, output[-4000:]
    lines = output.splitlines()
    # ...while the level was really in force: the app's own debug lines, and
    # uvicorn's websocket layer still saying that frames came and went (their
    # kind and size), so the test cannot pass by logging nothing.
    assert any(" DEBUG chatserver." in line for line in lines), output[-4000:]
    assert any(re.search(r"[<>] BINARY \[\d+ bytes\]", line) for line in lines), output[-4000:]
    if log_level == "trace":
        assert any(line.startswith("TRACE:") and "WebSocket" in line for line in lines)
        assert any(line.startswith("TRACE:") and "websocket.accept" in line for line in lines)
    assert "Traceback" not in output


class _Lines(logging.Handler):
    """Every line a logger prints, formatted as its handlers would."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name} {record.getMessage()}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def test_the_websockets_protocol_shows_frames_only_as_kind_and_size() -> None:
    """The sans-I/O ``websockets`` protocol uvicorn runs, at debug, on uvicorn's logger."""
    secret = f"secret-{secrets.token_hex(12)}"
    logs.configure("INFO", "debug")
    logger = logging.getLogger("uvicorn.error")
    lines, before = _Lines(), logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.DEBUG)
    try:
        server = ServerProtocol(logger=logger)
        client = ClientProtocol(parse_uri("ws://127.0.0.1/ws"))
        request = client.connect()
        request.headers["Cookie"] = f"session={secret}"
        client.send_request(request)
        server.receive_data(b"".join(client.data_to_send()))
        (received,) = server.events_received()
        server.send_response(server.accept(received))
        client.receive_data(b"".join(server.data_to_send()))
        client.send_binary(b"\x82\xa1t\xa5hello\xa8password" + secret.encode())
        client.send_text(f"text {secret}".encode())
        server.receive_data(b"".join(client.data_to_send()))
        server.send_binary(secret.encode())
        server.send_close(4000, f"reason {secret}")
    finally:
        logger.removeHandler(lines)
        logger.setLevel(before)
    assert leaks(lines.text, {"secret": secret}) == {}, lines.text
    assert "DEBUG uvicorn.error < BINARY [" in lines.text
    assert "DEBUG uvicorn.error < TEXT [" in lines.text
    assert "DEBUG uvicorn.error > BINARY [" in lines.text
    assert "DEBUG uvicorn.error > CLOSE 4000 [" in lines.text
    assert "cookie" not in lines.text.lower()  # no header line, of either side


def test_arguments_that_carry_content_are_shown_as_sizes() -> None:
    """Any record on a guarded logger: bytes, and every ASGI key but the known-safe ones."""
    record = logging.LogRecord(
        "uvicorn.asgi",
        logs.TRACE,
        __file__,
        1,
        "%s [%d] Send %s",
        (
            "ASGI",
            7,
            {
                "type": "websocket.send",
                "bytes": b"payload-bytes",
                "text": "payload-text",
                "reason": "a client's words",
                "query_string": b"token=abc",
                "code": 1000,
            },
        ),
        None,
    )
    assert logs.FrameContentFilter().filter(record)
    assert record.getMessage() == (
        "ASGI [7] Send {'type': 'websocket.send', 'bytes': '<13 bytes>', 'text': '<12 chars>', "
        "'reason': '<16 chars>', 'query_string': '<9 bytes>', 'code': 1000}"
    )
    raw = logging.LogRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "got %r", (b"x" * 5,), None
    )
    assert logs.FrameContentFilter().filter(raw) and raw.getMessage() == "got '<5 bytes>'"


def test_a_wrong_log_level_stops_the_server_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="Unknown LOG_LEVEL 'verbose'"):
        logs.level("verbose")
    assert logs.level("TRACE") == logs.TRACE and logs.level("debug") == logging.DEBUG


async def test_the_plain_asgi_path_at_debug_logs_no_frame_content(tmp_path: Path) -> None:
    """In process, on uvicorn's stock protocol (plain ASGI sends, outbound frames
    through the ``websockets`` protocol too), with uvicorn's logger at debug."""
    secret = f"payload-{secrets.token_hex(12)}"
    async with running_server(tmp_path, fast_path=False) as env:
        logger = logging.getLogger("uvicorn.error")
        lines, before = _Lines(), logger.level
        logging.getLogger("uvicorn").addHandler(lines)
        logger.setLevel(logging.DEBUG)
        try:
            gid, fac, (a, b) = await env.room(2)
            await a.send(secret)
            assert (await b.next("msg")).text == secret
            await a.private(secret)
            await fac.next("private")
        finally:
            logging.getLogger("uvicorn").removeHandler(lines)
            logger.setLevel(before)
    assert leaks(lines.text, {"payload": secret}) == {}, lines.text
    assert re.search(r"uvicorn.error < BINARY \[\d+ bytes\]", lines.text), lines.text
    assert re.search(r"uvicorn.error > BINARY \[\d+ bytes\]", lines.text), lines.text
