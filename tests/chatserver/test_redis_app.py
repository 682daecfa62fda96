"""The server on ``STORE_URL=redis://``: its HTTP API, two nodes on one Redis, Redis down,
and test_http_api's own tests of the attempt limits, run again on Redis.

Real uvicorn servers on free ports, the tests' own ``redis-server``
(tests/redis_server.py), the real client library; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import test_http_api as http_api
import uvicorn
from conftest import Env
from redis_server import RedisServer, private_redis
from starlette.applications import Starlette

from chatserver.app import create_app
from chatserver.auth import hash_password
from chatserver.config import Config
from chatserver.redis_store import RedisStore
from chatserver.server import bound_socket, uvicorn_config
from clients.client import ChatClient, ClientError
from clients.payload import PlainCodec

PASSWORD = "correct horse battery staple"
_HASH: list[str] = []  # argon2id is slow on purpose: hash once


@dataclass
class Node:
    url: str
    app: Starlette

    @property
    def store(self) -> RedisStore:
        store = self.app.state.services.store
        assert isinstance(store, RedisStore)
        return store

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10)


@contextlib.asynccontextmanager
async def node(**config: Any) -> AsyncIterator[Node]:
    """One server process's app on a free port, its store from ``STORE_URL`` (the env)."""
    sock = bound_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(Config.from_env(public_url=url, hello_timeout_seconds=2.0, **config))
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", sock.getsockname()[1]))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield Node(url, app)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def facilitator(n: Node, name: str = "alex") -> None:
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))
    await n.store.add_facilitator(name, _HASH[0])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(http: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    return await http.post("/api/login", json={"name": "alex", "password": password})


async def join_error(link: str) -> str:
    with pytest.raises(ClientError) as caught:
        await ChatClient.join(link, "Robin", codec=PlainCodec())
    return caught.value.code


async def test_the_http_api_works_on_a_redis_store(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORE_URL", redis_url)
    async with node() as n, n.http() as http:
        await facilitator(n)
        r = await login(http)
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        assert (await http.get("/api/groups", headers=bearer(token))).json() == {"groups": []}
        r = await http.post("/api/groups", json={"title": "Thursday group"}, headers=bearer(token))
        assert r.status_code == 201, r.text
        gid = r.json()["id"]
        r = await http.post(f"/api/groups/{gid}/links", json={}, headers=bearer(token))
        assert r.status_code == 201, r.text
        link, lid = r.json()["url"], r.json()["id"]
        r = await http.get(f"/api/groups/{gid}/links", headers=bearer(token))
        assert [(x["id"], x["status"]) for x in r.json()["links"]] == [(lid, "active")]
        # The link opens the room; the facilitator comes in by the API token.
        fac = await ChatClient.facilitate(n.url, gid, token=token, codec=PlainCodec())
        await fac.open()
        assert (await fac.next("state"))["state"] == "lobby"
        member = await ChatClient.join(link, "Robin", codec=PlainCodec())
        assert (await fac.next("joined"))["p"]["pid"] == member.pid
        await member.close()
        r = await http.delete(f"/api/groups/{gid}/links/{lid}", headers=bearer(token))
        assert r.status_code == 200 and r.json()["status"] == "revoked"
        assert await join_error(link) == "link_revoked"
        await fac.close()
        assert (await http.post("/api/logout", headers=bearer(token))).status_code == 204
        r = await http.get("/api/groups", headers=bearer(token))
        assert r.status_code == 401


async def test_two_nodes_on_one_redis_share_data_and_one_attempt_limit(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed logins and unknown links, spread over two nodes, meet one limit
    (counted apart, each node would let the limit through twice)."""
    monkeypatch.setenv("STORE_URL", redis_url)
    # Small limits: argon2id is slow on purpose, and the count is what is tested.
    limits = {"login_attempts_per_minute": 2, "link_attempts_per_minute": 3}
    async with node(**limits) as a, node(**limits) as b:
        await facilitator(a)
        token, _ = await a.app.state.services.auth.issue_token("alex", time.time())
        async with a.http() as on_a, b.http() as on_b:
            r = await on_a.post("/api/groups", json={"title": "Group"}, headers=bearer(token))
            gid = r.json()["id"]
            # A token issued by one node opens the other; the group is there too.
            r = await on_b.get(f"/api/groups/{gid}", headers=bearer(token))
            assert r.status_code == 200 and r.json()["title"] == "Group"
            for http in (on_a, on_b):
                assert (await login(http, "guess-guess")).status_code == 401
            for http in (on_b, on_a):
                r = await login(http)  # even the right password, from this address
                assert r.status_code == 429, r.text
                assert r.json()["error"]["code"] == "rate_limited"
                assert 1 <= int(r.headers["retry-after"]) <= 60
        for url in (a.url, b.url, a.url):
            assert await join_error(f"{url}/join#seat=guess{time.time_ns()}") == "link_unknown"
        for url in (b.url, a.url):
            assert await join_error(f"{url}/join#seat=guess-more") == "rate_limited"


@pytest.fixture
def own_redis(tmp_path: Path) -> Any:
    """A private server of this test's alone: it is stopped on purpose."""
    with private_redis(tmp_path / "redis") as server:
        yield server


async def test_a_redis_that_is_down_answers_503_and_the_node_recovers(
    own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORE_URL", own_redis.url)
    port = own_redis.port
    own_redis.stop()
    async with node() as n, n.http() as http:  # it starts all the same
        assert (await http.get("/healthz")).status_code == 200
        for r in (
            await login(http),
            await http.get("/api/groups", headers=bearer("some-token")),
        ):
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "store_unavailable"
            assert int(r.headers["retry-after"]) >= 1
            assert "Traceback" not in r.text
        assert await join_error(f"{n.url}/join#seat=some-link") == "store_unavailable"
        own_redis.start(port=port)
        await facilitator(n)
        assert (await login(http)).status_code == 200


# ---- the attempt limits' own HTTP tests, on a Redis store -------------------------


async def test_login_limits_count_per_client_and_per_name_on_redis(redis_env: Env) -> None:
    await http_api.test_login_limits_count_per_client_and_per_name(redis_env)


async def test_failed_websocket_logins_share_the_limit_with_http_on_redis(redis_env: Env) -> None:
    await http_api.test_failed_websocket_logins_share_the_rate_limit_with_http(redis_env)


async def test_unknown_links_are_rate_limited_on_redis(redis_env: Env) -> None:
    await http_api.test_unknown_links_are_rate_limited(redis_env)


async def test_readyz_answers_503_within_3_s_while_redis_hangs_and_200_after(
    own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A paused Redis (SIGSTOP: the socket open, nothing answers): the node says it is not ready."""
    monkeypatch.setenv("STORE_URL", own_redis.url)
    async with node() as n, n.http() as http:
        assert (await http.get("/readyz")).status_code == 200
        own_redis.pause()
        try:
            started = time.monotonic()
            r = await http.get("/readyz")
            took = time.monotonic() - started
            assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
            assert took < 3.0
            assert (await http.get("/healthz")).status_code == 200  # the process itself is fine
            print(f"\n/readyz with Redis paused: 503 after {took:.2f} s")
        finally:
            own_redis.resume()
        for _ in range(50):
            if (await http.get("/readyz")).status_code == 200:
                break
            await asyncio.sleep(0.1)
        assert (await http.get("/readyz")).status_code == 200
