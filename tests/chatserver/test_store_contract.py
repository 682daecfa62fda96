"""The Store contract: the same tests on SQLite (a scratch file) and on Redis.

Redis is the tests' own ``redis-server`` (tests/redis_server.py), emptied for
each test. Every method of ``chatserver.store.Store`` is covered here, with
what it returns, what it refuses and in which order it lists; then what is
Redis's alone: its keys, its version check, and Redis being down or hung.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis_server import RedisServer, free_port, private_redis

from chatserver.app import create_app
from chatserver.config import Config
from chatserver.redis_store import RedisStore, RedisTooOld
from chatserver.sqlite_store import SqliteStore
from chatserver.store import ApiToken, Store, open_store
from rooms.errors import Code, NotFound, SafespaceError, StoreUnavailable
from rooms.group import Group
from rooms.seats import SeatLink

T0 = 1_764_000_000.123456  # a time with fractions, to see floats come back exact


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        assert isinstance(s, SqliteStore)
    else:
        s = open_store(request.getfixturevalue("redis_url"))
        assert isinstance(s, RedisStore)
    try:
        yield s
    finally:
        await s.close()


def group(gid: str, *facilitators: str, **settings: Any) -> Group:
    settings.setdefault("title", f"Group {gid}")
    return Group(id=gid, facilitators=facilitators, **settings)


def seat(sid: str, gid: str = "g_1", created: float = T0, **kw: Any) -> SeatLink:
    return SeatLink(
        id=sid,
        group_id=gid,
        token_hash=kw.pop("token_hash", f"hash-of-{sid}"),
        label=kw.pop("label", f"seat {sid}"),
        created_at=created,
        expires_at=kw.pop("expires_at", created + 3600.5),
        **kw,
    )


# ---- facilitators and identities ----------------------------------------------------


async def test_facilitators_are_added_once_and_listed_by_name(store: Store) -> None:
    assert await store.facilitators() == []
    assert await store.password_hash("alex") is None
    for name in ("sam", "Zoë", "alex", "Alex", "émile"):
        await store.add_facilitator(name, f"$argon2id$hash-of-{name}")
    with pytest.raises(SafespaceError) as caught:
        await store.add_facilitator("alex", "$argon2id$another")
    assert caught.value.code == Code.CONFLICT
    assert caught.value.reason == "A facilitator with that name exists."
    assert await store.password_hash("alex") == "$argon2id$hash-of-alex"  # the first stays
    assert await store.password_hash("ALEX") is None  # names are exact
    # By code point, which is SQLite's byte order of UTF-8.
    assert await store.facilitators() == ["Alex", "Zoë", "alex", "sam", "émile"]


async def test_identities_are_replaced_and_the_unknown_left_out(store: Store) -> None:
    assert await store.identities([]) == {}
    assert await store.identities(["alex"]) == {}
    await store.set_identity("alex", b"\x00" * 31 + b"\xff")
    await store.set_identity("sam", b"sam-key-1")
    await store.set_identity("sam", b"sam-key-2")
    assert await store.identities(["alex", "sam", "nobody"]) == {
        "alex": b"\x00" * 31 + b"\xff",
        "sam": b"sam-key-2",
    }
    assert await store.identities(("sam", "sam")) == {"sam": b"sam-key-2"}
    # Keys are not accounts: a name with a key need not be a facilitator.
    assert await store.facilitators() == []


# ---- groups -------------------------------------------------------------------------


async def test_a_group_comes_back_as_saved_and_a_save_replaces_it(store: Store) -> None:
    with pytest.raises(NotFound) as caught:
        await store.group("g_none")
    assert caught.value.code == Code.NOT_FOUND
    assert caught.value.reason == "There is no such group."
    full = group(
        "g_1",
        "alex",
        "sam",
        capacity=12,
        ground_rules=("What is said here stays here.", "Be kind — always."),
        crisis_resources=("Call 116 123",),
        duration_minutes=90,
        slow_mode_seconds=2.5,
        flood_messages=7,
        flood_window_seconds=12.25,
        max_payload_bytes=8192,
        content_rules={"tuning": "{}", "by": "a2V5", "sig": "c2ln", "version": 3, "signed_at": 17},
    )
    await store.save_group(full)
    assert await store.group("g_1") == full
    edited = group("g_1", "sam", title="Renamed")
    await store.save_group(edited)
    assert await store.group("g_1") == edited
    assert await store.groups() == [edited]


async def test_groups_are_listed_by_id_and_by_facilitator(store: Store) -> None:
    assert await store.groups() == []
    saved = [group("g_b", "alex"), group("g_a", "sam"), group("g_c", "alex", "sam"), group("G_z")]
    for g in saved:
        await store.save_group(g)
    assert [g.id for g in await store.groups()] == ["G_z", "g_a", "g_b", "g_c"]
    assert [g.id for g in await store.groups_of("alex")] == ["g_b", "g_c"]
    assert [g.id for g in await store.groups_of("sam")] == ["g_a", "g_c"]
    assert await store.groups_of("nobody") == []


# ---- seat links ---------------------------------------------------------------------


async def test_a_seat_link_is_found_by_id_and_by_token_hash(store: Store) -> None:
    link = seat("s_1", label="Robin's seat ✓")
    await store.add_seat(link)
    assert await store.seat("s_1") == link
    assert await store.seat_by_token_hash("hash-of-s_1") == link
    assert await store.seat_by_token_hash("hash-of-nothing") is None
    with pytest.raises(NotFound) as caught:
        await store.seat("s_none")
    assert caught.value.reason == "There is no such seat link."
    found = await store.seat("s_1")
    assert isinstance(found.created_at, float) and found.created_at == T0
    assert found.expires_at == T0 + 3600.5 and found.revoked_at is None


async def test_a_seat_link_is_stored_once(store: Store) -> None:
    """A second link with a taken id or token hash is refused; the first stays.

    Both refuse with ``conflict`` (never a raw database error: a 500).
    """
    first = seat("s_1")
    await store.add_seat(first)
    for again in (seat("s_1", token_hash="another-hash"), seat("s_2", token_hash="hash-of-s_1")):
        with pytest.raises(SafespaceError) as caught:
            await store.add_seat(again)
        assert caught.value.code == Code.CONFLICT
    assert await store.seats("g_1") == [first]
    assert await store.seat_by_token_hash("hash-of-s_1") == first
    assert await store.seat_by_token_hash("another-hash") is None
    with pytest.raises(NotFound):
        await store.seat("s_2")


async def test_a_groups_seat_links_are_listed_by_creation_then_id(store: Store) -> None:
    assert await store.seats("g_1") == []
    made = [
        seat("s_c", created=T0 + 2),
        seat("s_b", created=T0),
        seat("s_a", created=T0),
        seat("s_x", gid="g_2", created=T0 - 5),
        seat("s_0", created=T0 + 1, revoked_at=T0 + 1.5),
    ]
    for link in made:
        await store.add_seat(link)
    assert [s.id for s in await store.seats("g_1")] == ["s_a", "s_b", "s_0", "s_c"]
    assert await store.seats("g_2") == [made[3]]
    assert (await store.seat("s_0")).revoked_at == T0 + 1.5


async def test_revoking_a_seat_link_keeps_the_first_time(store: Store) -> None:
    await store.add_seat(seat("s_1"))
    revoked = await store.revoke_seat("s_1", T0 + 10.25)
    assert revoked == seat("s_1", revoked_at=T0 + 10.25)
    again = await store.revoke_seat("s_1", T0 + 99)
    assert again.revoked_at == T0 + 10.25
    assert (await store.seat_by_token_hash("hash-of-s_1")) == again
    assert (await store.seats("g_1")) == [again]
    with pytest.raises(NotFound):
        await store.revoke_seat("s_none", T0)
    with pytest.raises(NotFound):  # and revoking did not make one up
        await store.seat("s_none")


# ---- API tokens ---------------------------------------------------------------------


async def test_api_tokens_are_kept_dropped_and_expire(store: Store) -> None:
    now = time.time()
    assert await store.api_token("hash-none") is None
    await store.add_api_token("hash-1", ApiToken("alex", now + 3600.25))
    await store.add_api_token("hash-2", ApiToken("sam", now + 7200))
    await store.add_api_token("hash-3", ApiToken("alex", now + 60))
    assert await store.api_token("hash-1") == ApiToken("alex", now + 3600.25)
    await store.drop_api_token("hash-1")
    await store.drop_api_token("hash-1")  # dropping twice is no error
    assert await store.api_token("hash-1") is None
    # Dropped when expires_at <= now: the boundary itself goes.
    await store.drop_expired_api_tokens(now + 60)
    assert await store.api_token("hash-3") is None
    assert await store.api_token("hash-2") == ApiToken("sam", now + 7200)
    await store.drop_expired_api_tokens(now + 7199.9)
    assert await store.api_token("hash-2") == ApiToken("sam", now + 7200)


async def test_an_expired_api_token_is_never_handed_out_as_valid(store: Store) -> None:
    """SQLite keeps an expired token until ``drop_expired_api_tokens``; Redis drops
    it at its expiry by itself. Either way no caller can take it for a valid one."""
    now = time.time()
    await store.add_api_token("hash-old", ApiToken("alex", now - 1))
    await store.add_api_token("hash-soon", ApiToken("alex", now + 0.1))
    await asyncio.sleep(0.15)
    for token_hash in ("hash-old", "hash-soon"):
        found = await store.api_token(token_hash)
        assert found is None or found.expires_at <= time.time()
    await store.drop_expired_api_tokens(time.time())
    assert await store.api_token("hash-old") is None
    assert await store.api_token("hash-soon") is None


async def test_close_releases_the_store(tmp_path: Path, redis_url: str) -> None:
    for url in (f"sqlite:///{tmp_path / 's.sqlite3'}", redis_url):
        first = open_store(url)
        await first.add_facilitator("alex", "hash")
        await first.close()
        second = open_store(url)  # the data outlives the instance
        assert await second.password_hash("alex") == "hash"
        await second.close()


# ---- Redis alone --------------------------------------------------------------------


def test_open_store_picks_by_scheme() -> None:
    assert isinstance(open_store("redis://127.0.0.1:1/3"), RedisStore)
    with pytest.raises(ValueError, match="Unsupported STORE_URL scheme: 'mysql'"):
        open_store("mysql://x")


async def test_redis_keys_are_under_the_stores_prefix(redis_url: str, redis_service: Any) -> None:
    store = RedisStore(redis_url)
    await store.add_facilitator("alex", "hash")
    await store.set_identity("alex", b"key")
    await store.save_group(group("g_1", "alex"))
    await store.add_seat(seat("s_1"))
    await store.add_api_token("hash-1", ApiToken("alex", time.time() + 60))
    await store.close()
    with redis_service.client() as c:
        keys = sorted(k.decode() for k in c.keys("*"))
        assert keys == [
            "ss:d:facilitators",
            "ss:d:group-seats:g_1",
            "ss:d:groups",
            "ss:d:identities",
            "ss:d:seat-token:hash-of-s_1",
            "ss:d:seat:s_1",
            "ss:d:token-expiry",
            "ss:d:token:hash-1",
        ]
        assert 0 < c.pttl("ss:d:token:hash-1") <= 60_000  # PEXPIREAT at its expiry


async def test_a_redis_older_than_7_is_refused_with_a_clear_message(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RedisStore(redis_url)
    await store.check()  # the tests' own server is new enough
    store = RedisStore(redis_url)

    async def old(section: str | None = None) -> dict[str, Any]:
        return {"redis_version": "6.2.14"}

    monkeypatch.setattr(store.redis(), "info", old)
    message = r"version 6\.2\.14; safespace-chat needs Redis 7\.0 or newer"
    with pytest.raises(RedisTooOld, match=message) as caught:
        await store.facilitators()  # checked before the first command
    # In the exception tree: the CLI prints its reason; a client would get a 503.
    assert isinstance(caught.value, StoreUnavailable)
    assert caught.value.reason.startswith("The Redis at STORE_URL is version 6.2.14;")
    # The app checks at start-up: it does not start on such a Redis.
    app = create_app(Config(store_url=redis_url), store=store)
    with pytest.raises(RedisTooOld, match=message):
        async with app.router.lifespan_context(app):
            pass
    await store.close()


async def store_calls(store: Store) -> list[Any]:
    """One call of every method, each expected to fail the same way."""
    calls = [
        store.add_facilitator("alex", "hash"),
        store.password_hash("alex"),
        store.facilitators(),
        store.set_identity("alex", b"key"),
        store.identities(["alex"]),
        store.save_group(group("g_1")),
        store.group("g_1"),
        store.groups(),
        store.groups_of("alex"),
        store.add_seat(seat("s_1")),
        store.seat_by_token_hash("hash-of-s_1"),
        store.seat("s_1"),
        store.seats("g_1"),
        store.revoke_seat("s_1", T0),
        store.add_api_token("hash-1", ApiToken("alex", T0)),
        store.api_token("hash-1"),
        store.drop_api_token("hash-1"),
        store.drop_expired_api_tokens(T0),
    ]
    results = []
    for call in calls:
        try:
            results.append(await call)
        except Exception as e:
            results.append(e)
    return results


async def test_a_redis_that_refuses_connections_is_store_unavailable() -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
    started = time.monotonic()
    results = await store_calls(store)
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    assert all(r.code == Code.STORE_UNAVAILABLE and r.http_status == 503 for r in results)
    assert time.monotonic() - started < 5
    await store.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Any:
    """A second private server, for a test that stops or pauses it."""
    with private_redis(tmp_path / "redis") as server:
        yield server


async def test_a_hung_redis_times_out_in_a_second_and_recovers(own_redis: RedisServer) -> None:
    store = RedisStore(own_redis.url)
    await store.add_facilitator("alex", "hash")
    own_redis.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.password_hash("alex")
        waited = time.monotonic() - started
        print(f"\na hung Redis answered StoreUnavailable after {waited:.2f} s")
        assert 0.9 <= waited < 2.5
    finally:
        own_redis.resume()
    assert await store.password_hash("alex") == "hash"
    await store.close()


async def test_a_redis_that_went_away_is_store_unavailable_until_it_is_back(
    own_redis: RedisServer,
) -> None:
    store = RedisStore(own_redis.url)
    await store.add_facilitator("alex", "hash")
    port = own_redis.port
    own_redis.stop()
    results = await store_calls(store)
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    own_redis.start(port=port)  # empty: no persistence on this one
    # The pooled connections died with the old process; the store reconnects.
    assert await store.password_hash("alex") is None
    await store.add_facilitator("alex", "hash")
    assert await store.facilitators() == ["alex"]
    await store.close()


async def test_durable_data_survives_a_restart_with_aof(tmp_path: Path) -> None:
    """What docs/operations.md asks of the store's Redis: ``appendonly yes``."""
    with private_redis(tmp_path / "aof", aof=True) as server:
        store = RedisStore(server.url)
        await store.add_facilitator("alex", "hash")
        await store.add_seat(seat("s_1"))
        await store.close()
        port = server.port
        server.stop()
        server.start(port=port)
        store = RedisStore(server.url)
        assert await store.password_hash("alex") == "hash"
        assert await store.seat_by_token_hash("hash-of-s_1") == seat("s_1")
        await store.close()
