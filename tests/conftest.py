"""Shared fixtures: a real uvicorn server on a free port, with a real SQLite file.

Server tests talk to it over real sockets with the real client library (or
raw websockets for malformed input). Nothing is mocked.

The relay's tests read payloads as plain text: ``host`` and ``member`` give
their clients ``PlainCodec`` unless a test asks for end-to-end encryption
(``e2ee=True``, the client library's default codec) or passes its own ``codec``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from redis_server import REDIS_SERVER, RedisServer, private_redis

from chatserver.admin import Admin
from chatserver.app import create_app
from chatserver.auth import hash_password
from chatserver.config import Config
from chatserver.server import bound_socket, uvicorn_config
from chatserver.sqlite_store import SqliteStore
from clients.client import ChatClient
from clients.payload import PlainCodec

PASSWORD = "correct horse battery staple"


@dataclass
class Env:
    """A running server and shortcuts to set up what a test needs."""

    url: str
    store: SqliteStore
    admin: Admin
    app: Any
    db_path: Path
    clients: list[ChatClient] = field(default_factory=list)

    @property
    def hub(self) -> Any:
        return self.app.state.services.hub

    @property
    def metrics(self) -> Any:
        return self.app.state.services.metrics

    async def facilitator(self, name: str = "alex") -> str:
        if await self.store.password_hash(name) is None:
            await self.store.add_facilitator(name, hash_password(PASSWORD))
        return name

    async def group(self, facilitator: str = "alex", **settings: Any) -> str:
        await self.facilitator(facilitator)
        settings.setdefault("title", "Tuesday evening group")
        settings.setdefault("ground_rules", ["What is said here stays here.", "Be kind."])
        settings.setdefault("crisis_resources", ["Call 116 123 (Samaritans, free, 24/7)"])
        return (await self.admin.create_group(facilitator, settings)).id

    async def link(self, group_id: str, facilitator: str = "alex", **kw: Any) -> str:
        _, url = await self.admin.create_link(
            facilitator, group_id, kw.get("label"), kw.get("hours")
        )
        return url

    async def host(
        self, group_id: str, name: str = "alex", *, open_room: bool = True, **kw: Any
    ) -> ChatClient:
        """A facilitator in the room (opened unless told otherwise).

        ``e2ee=True`` for the encrypting codec (``identity`` and
        ``co_facilitators`` go to ``ChatClient.facilitate``); plain text otherwise.
        """
        _codec(kw)
        fac = await ChatClient.facilitate(self.url, group_id, user=name, password=PASSWORD, **kw)
        self.clients.append(fac)
        if open_room:
            await fac.open()
            await fac.next("state")
        return fac

    async def member(self, link: str, name: str, **kw: Any) -> ChatClient:
        """A member joining by ``link``: plain text, unless ``e2ee=True`` or a ``codec``."""
        _codec(kw)
        m = await ChatClient.join(link, name, **kw)
        self.clients.append(m)
        return m

    async def room(
        self, members: int = 3, **settings: Any
    ) -> tuple[str, ChatClient, list[ChatClient]]:
        """A group whose room is open, its facilitator, and ``members`` members in the lobby."""
        gid = await self.group(**settings)
        fac = await self.host(gid)
        people = []
        for i in range(members):
            people.append(await self.member(await self.link(gid), f"member{i + 1}"))
            await fac.next("joined")
        return gid, fac, people

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10)

    async def assert_no_trace(self, marker: str, log_text: str, errors: list[Any]) -> None:
        """``marker`` is in no log record, SQLite row, metric or error frame."""
        assert all(marker not in str(e.fields) for e in errors)
        assert marker not in log_text
        async with self.http() as http:
            assert marker not in (await http.get("/metrics")).text
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            assert marker not in "\n".join(db.iterdump())


@pytest.fixture(autouse=True, scope="session")
def _config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Key files (``chatclient facilitate`` keeps one) go to scratch, never the user's home."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    yield
    patch.undo()


def _codec(kw: dict[str, Any]) -> None:
    """``PlainCodec`` unless the caller asked for encryption or brought its own codec."""
    if not kw.pop("e2ee", False):
        kw.setdefault("codec", PlainCodec())


@contextlib.asynccontextmanager
async def running_server(
    tmp_path: Path, *, fast_path: bool, store_url: str | None = None
) -> AsyncIterator[Env]:
    """uvicorn on a free port of 127.0.0.1 with a fresh SQLite file, stopped afterwards.

    ``store_url`` (a ``redis://`` one, say): that store instead; ``db_path``
    then names no file.
    """
    from chatserver.store import open_store

    sock = bound_socket()
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    if store_url is None:
        db_path = tmp_path / "safespace.sqlite3"
        store_url = f"sqlite:///{db_path}"
        store: Any = SqliteStore(str(db_path))
    else:
        db_path, store = tmp_path / "no-sqlite-file", open_store(store_url)
    config = Config(
        store_url=store_url,
        public_url=url,
        hello_timeout_seconds=2.0,
        queue_frames=64,
        queue_bytes=256 * 1024,
    )
    app = create_app(config, store=store)
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, fast_path=fast_path))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    e = Env(url, store, app.state.admin, app, db_path)
    try:
        yield e
    finally:
        for c in e.clients:
            with contextlib.suppress(Exception):
                await c.close()
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture(params=["fast", "asgi"])
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    """Every server test runs on both ways out: the direct outlet and plain ASGI sends."""
    async with running_server(tmp_path, fast_path=request.param == "fast") as e:
        yield e


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Env]:
    """One server on the fast path only: for the slow end-to-end (browser) tests,
    whose subject is the clients, not the server's two ways out."""
    async with running_server(tmp_path, fast_path=True) as e:
        yield e


# Headless Chromium: Debian's /usr/bin/chromium (the Makefile installs it),
# driven by Playwright; never a browser build of Playwright's own.
CHROMIUM = os.environ.get("SAFESPACE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Every page a browser test opens (tests/web/chromium.open_page registers it)
# must have run without an uncaught JavaScript error: checked after each test.
OPENED_PAGES: list[Any] = []


@pytest.fixture(autouse=True)
def _no_page_errors() -> Iterator[None]:
    OPENED_PAGES.clear()
    yield
    for page in OPENED_PAGES:
        assert page.errors == [], page.url
    OPENED_PAGES.clear()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright  # only the browser tests need it

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            await b.close()


# Another process (an operator's CLI, a backup) holding the SQLite file in a
# write transaction: what the store tests put the server through.
_HOLD = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


@contextlib.asynccontextmanager
async def write_lock_held(db_path: Path, seconds: float) -> AsyncIterator[None]:
    """The file is locked by another process from entry for ``seconds`` (or until exit)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(db_path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(holder.stdout.readline), 5)
        assert line.strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait(5)


# ---- Redis: one private redis-server per test session (tests/redis_server.py) ----


@pytest.fixture(scope="session")
def redis_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A ``redis-server`` of the tests' own, on a free port, never the shared :6379."""
    if not os.path.exists(REDIS_SERVER):
        pytest.skip("redis-server is not installed (make installs Debian's redis-server)")
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_service: RedisServer) -> str:
    """The private server's URL, emptied for this test."""
    redis_service.flush()
    return redis_service.url


@pytest.fixture
async def redis_env(tmp_path: Path, redis_url: str) -> AsyncIterator[Env]:
    """What ``env`` gives (the fast path only), its store on the tests' own Redis.

    ``store`` is a ``RedisStore`` and ``db_path`` names no file here.
    """
    async with running_server(tmp_path, fast_path=True, store_url=redis_url) as e:
        yield e
