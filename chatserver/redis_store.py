"""The durable store on Redis (``STORE_URL=redis://host:port/db``), for several nodes.

It behaves exactly as ``SqliteStore`` does (tests/chatserver/test_store_contract.py
runs the same tests on both). Run it on a Redis with AOF on
(docs/operations.md): this is the only copy of facilitators, groups and links.
Standalone Redis only: the scripts below name keys they build themselves.

Keys, all under ``ss:d:`` (durable; ``chatserver.attempts`` keeps its
short-lived counters under ``ss:a:``):

=================================  ======  ==========================================
key                                type    holds
=================================  ======  ==========================================
``ss:d:facilitators``              hash    name -> argon2id password hash
``ss:d:identities``                hash    name -> public identity key (bytes)
``ss:d:groups``                    hash    group id -> the group as JSON (``public()``)
``ss:d:seat:<seat id>``            hash    the seat link's fields (``revoked_at`` once set)
``ss:d:seat-token:<token hash>``   string  the seat id holding that token hash
``ss:d:group-seats:<group id>``    set     the group's seat ids
``ss:d:token:<token hash>``        hash    an API token's facilitator and expires_at;
                                           ``PEXPIREAT`` its expiry
``ss:d:token-expiry``              zset    token hash, scored by expires_at (for
                                           ``drop_expired_api_tokens``)
=================================  ======  ==========================================

Any failure of Redis (refused, reset, a 1 s timeout, an OOM or MISCONF
refusal) is ``StoreUnavailable``, as a locked SQLite file is: HTTP 503 with
Retry-After, an error frame, never a traceback to a client.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

# One decoder for both stores, so that a field added to Group is read alike.
from chatserver.sqlite_store import _group as group_from_json
from chatserver.store import ApiToken, Store
from rooms.errors import Code, NotFound, SafespaceError, StoreUnavailable
from rooms.group import Group
from rooms.seats import SeatLink

log = logging.getLogger(__name__)

MIN_VERSION = (7, 0)
# A command that has no answer within a second fails (StoreUnavailable): a
# hung Redis must cost a caller one second, not the kernel's minutes.
TIMEOUT_SECONDS = 1.0

PREFIX = "ss:d:"
FACILITATORS = PREFIX + "facilitators"
IDENTITIES = PREFIX + "identities"
GROUPS = PREFIX + "groups"
TOKEN_EXPIRY = PREFIX + "token-expiry"
LIVE_SESSIONS = PREFIX + "live-sessions"  # a set of the group ids kept


def _live_key(group_id: str) -> str:
    return f"{PREFIX}live:{group_id}"


def _seat_key(seat_id: str) -> str:
    return f"{PREFIX}seat:{seat_id}"


def _seat_token_key(token_hash: str) -> str:
    return f"{PREFIX}seat-token:{token_hash}"


def _group_seats_key(group_id: str) -> str:
    return f"{PREFIX}group-seats:{group_id}"


def _token_key(token_hash: str) -> str:
    return f"{PREFIX}token:{token_hash}"


# Both the id and the token hash are unique, as SQLite's keys make them:
# checked and written in one step, so two nodes cannot both take one.
ADD_SEAT = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""

# The first revocation time stays; a seat that does not exist is not created.
REVOKE_SEAT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
redis.call('HSETNX', KEYS[1], 'revoked_at', ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""

ADD_TOKEN = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'facilitator', ARGV[1], 'expires_at', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
return 1
"""

DROP_EXPIRED_TOKENS = """
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, token_hash in ipairs(gone) do
  redis.call('UNLINK', ARGV[2] .. token_hash)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return #gone
"""

_T = TypeVar("_T")


class RedisTooOld(StoreUnavailable):
    """The Redis server is older than this version of safespace-chat needs.

    The app's start-up checks (``RedisStore.check``) and does not start on
    one; the CLI prints the reason, as it does for every ``SafespaceError``.
    """

    def __init__(self, version: str) -> None:
        wanted = ".".join(map(str, MIN_VERSION))
        reason = (
            f"The Redis at STORE_URL is version {version}; "
            f"safespace-chat needs Redis {wanted} or newer."
        )
        SafespaceError.__init__(self, Code.STORE_UNAVAILABLE, reason, retry_after=60.0)


class RedisStore(Store):
    def __init__(self, url: str) -> None:
        self.url = url
        # redis.asyncio's connections belong to the event loop that opened
        # them, and ``chatserver serve`` asks the store a question in one loop
        # before uvicorn runs its own: one client per loop, made on first use.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._checked = False

    def redis(self) -> Redis:
        """This loop's client (bytes in, bytes out)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = Redis.from_url(
                self.url,
                socket_timeout=TIMEOUT_SECONDS,
                socket_connect_timeout=TIMEOUT_SECONDS,
                # One retry, on a fresh connection, when a pooled one turns
                # out closed (Redis restarted); never after a timeout, which
                # would double what a hung Redis costs.
                retry=Retry(NoBackoff(), 1, (RedisConnectionError,)),
                health_check_interval=30,
            )
            self._loop = loop
            self._scripts = {}
        return self._client

    async def check(self) -> None:
        """Raise ``RedisTooOld`` unless the server is Redis 7.0 or newer.

        Called by the app's start-up, and before the first command otherwise
        (the CLI). Unreachable: ``StoreUnavailable``, and checked again next time.
        """
        info = await self._guarded(lambda r: r.info("server"))
        version = str(info.get("redis_version", "0"))
        if _version(version) < MIN_VERSION:
            raise RedisTooOld(version)
        self._checked = True

    async def run(self, fn: Callable[[Redis], Awaitable[_T]]) -> _T:
        """``fn(client)``, the server checked first, Redis's failures as ``StoreUnavailable``.

        The one way in to Redis for this store and the attempt counters.
        """
        if not self._checked:
            await self.check()
        return await self._guarded(fn)

    async def _guarded(self, fn: Callable[[Redis], Awaitable[_T]]) -> _T:
        try:
            return await fn(self.redis())
        except RedisError as e:
            # Redis's own words name no key or value: safe to log.
            log.warning("The store is unavailable: %s: %s", type(e).__name__, e)
            raise StoreUnavailable() from None

    async def script(self, source: str, keys: list[str], args: list[Any]) -> Any:
        """A Lua script, by EVALSHA (loaded again by itself after Redis restarts)."""

        def call(r: Redis) -> Awaitable[Any]:
            found = self._scripts.get(source)
            if found is None:
                found = self._scripts[source] = r.register_script(source)
            return found(keys=keys, args=args)

        return await self.run(call)

    async def add_facilitator(self, name: str, password_hash: str) -> None:
        if not await self.run(lambda r: r.hsetnx(FACILITATORS, name, password_hash)):
            raise SafespaceError(Code.CONFLICT, "A facilitator with that name exists.")

    async def password_hash(self, name: str) -> str | None:
        found = await self.run(lambda r: r.hget(FACILITATORS, name))
        return None if found is None else _text(found)

    async def facilitators(self) -> list[str]:
        # SQLite's ORDER BY name compares UTF-8 bytes: the same order as str's.
        return sorted(_text(n) for n in await self.run(lambda r: r.hkeys(FACILITATORS)))

    async def set_identity(self, name: str, key: bytes) -> None:
        await self.run(lambda r: r.hset(IDENTITIES, name, key))

    async def identities(self, names: Sequence[str]) -> dict[str, bytes]:
        if not names:
            return {}
        keys = await self.run(lambda r: r.hmget(IDENTITIES, list(names)))
        return {name: _raw(key) for name, key in zip(names, keys, strict=True) if key is not None}

    async def save_group(self, group: Group) -> None:
        data = json.dumps(group.public())
        await self.run(lambda r: r.hset(GROUPS, group.id, data))

    async def group(self, group_id: str) -> Group:
        data = await self.run(lambda r: r.hget(GROUPS, group_id))
        if data is None:
            raise NotFound("There is no such group.")
        return group_from_json(_text(data))

    async def groups(self) -> list[Group]:
        rows = await self.run(lambda r: r.hgetall(GROUPS))
        return [group_from_json(_text(rows[gid])) for gid in sorted(rows)]

    async def add_seat(self, seat: SeatLink) -> None:
        fields: list[Any] = [
            "id", seat.id,
            "group_id", seat.group_id,
            "token_hash", seat.token_hash,
            "label", seat.label,
            "created_at", _num(seat.created_at),
            "expires_at", _num(seat.expires_at),
        ]  # fmt: skip
        if seat.revoked_at is not None:
            fields += ["revoked_at", _num(seat.revoked_at)]
        keys = [
            _seat_key(seat.id),
            _seat_token_key(seat.token_hash),
            _group_seats_key(seat.group_id),
        ]
        if not await self.script(ADD_SEAT, keys, [seat.id, *fields]):
            raise SafespaceError(Code.CONFLICT, "That seat link exists.")

    async def seat_by_token_hash(self, token_hash: str) -> SeatLink | None:
        seat_id = await self.run(lambda r: r.get(_seat_token_key(token_hash)))
        if seat_id is None:
            return None
        # Seats are never deleted: the second read finds what the first named.
        return _seat(await self.run(lambda r: r.hgetall(_seat_key(_text(seat_id)))))

    async def seat(self, seat_id: str) -> SeatLink:
        found = _seat(await self.run(lambda r: r.hgetall(_seat_key(seat_id))))
        if found is None:
            raise NotFound("There is no such seat link.")
        return found

    async def seats(self, group_id: str) -> list[SeatLink]:
        async def read(r: Redis) -> list[Any]:
            ids = await r.smembers(_group_seats_key(group_id))
            if not ids:
                return []
            async with r.pipeline(transaction=False) as pipe:
                for seat_id in ids:
                    pipe.hgetall(_seat_key(_text(seat_id)))
                return await pipe.execute()

        found = [s for s in map(_seat, await self.run(read)) if s is not None]
        return sorted(found, key=lambda s: (s.created_at, s.id))

    async def revoke_seat(self, seat_id: str, now: float) -> SeatLink:
        raw = await self.script(REVOKE_SEAT, [_seat_key(seat_id)], [_num(now)])
        found = _seat(_pairs(raw) if raw else {})
        if found is None:
            raise NotFound("There is no such seat link.")
        return found

    async def add_api_token(self, token_hash: str, token: ApiToken) -> None:
        # Redis drops the key at its expiry; SQLite keeps it until
        # drop_expired_api_tokens. Callers compare expires_at with now anyway.
        expires_ms = int(token.expires_at * 1000)
        args = [token.facilitator, _num(token.expires_at), expires_ms, token_hash]
        if not await self.script(ADD_TOKEN, [_token_key(token_hash), TOKEN_EXPIRY], args):
            raise SafespaceError(Code.CONFLICT)

    async def api_token(self, token_hash: str) -> ApiToken | None:
        who, expires = await self.run(
            lambda r: r.hmget(_token_key(token_hash), ["facilitator", "expires_at"])
        )
        if who is None or expires is None:
            return None
        return ApiToken(_text(who), float(expires))

    async def drop_api_token(self, token_hash: str) -> None:
        async def drop(r: Redis) -> None:
            async with r.pipeline(transaction=True) as pipe:
                pipe.unlink(_token_key(token_hash))
                pipe.zrem(TOKEN_EXPIRY, token_hash)
                await pipe.execute()

        await self.run(drop)

    async def drop_expired_api_tokens(self, now: float) -> None:
        await self.script(DROP_EXPIRED_TOKENS, [TOKEN_EXPIRY], [_num(now), _token_key("")])

    async def ready(self) -> None:
        await self.run(lambda r: r.ping())

    async def keep_live_session(self, group_id: str, data: bytes, expires_at: float) -> None:
        async def keep(r: Redis) -> None:
            async with r.pipeline(transaction=True) as p:
                p.set(_live_key(group_id), data, pxat=max(1, int(expires_at * 1000)))
                p.sadd(LIVE_SESSIONS, group_id)
                await p.execute()

        await self.run(keep)

    async def take_live_sessions(self, now: float) -> list[tuple[str, bytes]]:
        async def take(r: Redis) -> list[tuple[str, bytes]]:
            out = []
            for raw in await r.smembers(LIVE_SESSIONS):
                gid = _text(raw)
                if await r.srem(LIVE_SESSIONS, gid):  # one node takes it, once
                    data = await r.getdel(_live_key(gid))  # expired: gone already
                    if data is not None:
                        out.append((gid, _raw(data)))
            return out

        return await self.run(take)

    async def close(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _text(value: bytes | str) -> str:
    """Redis answers in bytes (the client does not decode: identity keys are binary)."""
    return value.decode() if isinstance(value, bytes) else value


def _num(value: float) -> str:
    """A float as Redis keeps it: ``repr`` reads back to the very same float."""
    return repr(float(value))


def _pairs(flat: list[Any]) -> dict[bytes, bytes]:
    """HGETALL's answer inside a script comes back flat: field, value, field, value."""
    return {_raw(flat[i]): _raw(flat[i + 1]) for i in range(0, len(flat), 2)}


def _seat(raw: dict[Any, Any]) -> SeatLink | None:
    if not raw:
        return None
    f = {_text(k): _text(v) for k, v in raw.items()}
    revoked = f.get("revoked_at")
    return SeatLink(
        id=f["id"],
        group_id=f["group_id"],
        token_hash=f["token_hash"],
        label=f["label"],
        created_at=float(f["created_at"]),
        expires_at=float(f["expires_at"]),
        revoked_at=None if revoked is None else float(revoked),
    )
