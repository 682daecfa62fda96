"""The embedded durable store: one SQLite file, no other service.

Every call to sqlite3 runs in one dedicated worker thread, never on the
event loop: a write lock held by another process (an operator's CLI, a
backup) makes sqlite wait up to its busy timeout, and that wait must delay
only the store's own callers, not every room. One thread, so the connection
is used serially.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from chatserver.store import ApiToken, Store
from rooms.errors import Code, NotFound, SafespaceError, StoreUnavailable
from rooms.group import Group
from rooms.seats import SeatLink

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS facilitators (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    name TEXT PRIMARY KEY,
    key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS seats (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL
);
CREATE INDEX IF NOT EXISTS seats_by_group ON seats (group_id);
CREATE TABLE IF NOT EXISTS live_sessions (
    group_id TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_hash TEXT PRIMARY KEY,
    facilitator TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""

_T = TypeVar("_T")

_SEAT_COLUMNS = "id, group_id, token_hash, label, created_at, expires_at, revoked_at"


class SqliteStore(Store):
    def __init__(self, path: str) -> None:
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` in the store's one worker thread.

        A database that is locked past the busy timeout, full, or unreadable
        is ``StoreUnavailable`` (HTTP 503, an error frame): never a 500 or a
        traceback to a client. The log line carries sqlite's own words (no
        parameter values, so no name or token).
        """
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, functools.partial(fn, *args))
        except sqlite3.OperationalError as e:
            log.warning("The store is unavailable: %s", e)
            raise StoreUnavailable() from None
        except sqlite3.IntegrityError:
            # A taken id or token hash: the same answer the Redis store gives.
            raise SafespaceError(Code.CONFLICT, "That already exists.") from None

    async def add_facilitator(self, name: str, password_hash: str) -> None:
        await self._run(self._add_facilitator, name, password_hash)

    def _add_facilitator(self, name: str, password_hash: str) -> None:
        try:
            self.db.execute("INSERT INTO facilitators VALUES (?, ?)", (name, password_hash))
        except sqlite3.IntegrityError:
            raise SafespaceError(Code.CONFLICT, "A facilitator with that name exists.") from None

    async def password_hash(self, name: str) -> str | None:
        return await self._run(self._password_hash, name)

    def _password_hash(self, name: str) -> str | None:
        row = self.db.execute(
            "SELECT password_hash FROM facilitators WHERE name = ?", (name,)
        ).fetchone()
        return None if row is None else str(row[0])

    async def facilitators(self) -> list[str]:
        return await self._run(self._facilitators)

    def _facilitators(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM facilitators ORDER BY name")]

    async def set_identity(self, name: str, key: bytes) -> None:
        await self._run(self._set_identity, name, key)

    def _set_identity(self, name: str, key: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO identities VALUES (?, ?)", (name, key))

    async def identities(self, names: Sequence[str]) -> dict[str, bytes]:
        return await self._run(self._identities, names)

    def _identities(self, names: Sequence[str]) -> dict[str, bytes]:
        marks = ", ".join("?" * len(names))
        rows = self.db.execute(f"SELECT name, key FROM identities WHERE name IN ({marks})", names)
        return {name: bytes(key) for name, key in rows}

    async def save_group(self, group: Group) -> None:
        await self._run(self._save_group, group)

    def _save_group(self, group: Group) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO groups VALUES (?, ?)", (group.id, json.dumps(group.public()))
        )

    async def group(self, group_id: str) -> Group:
        return await self._run(self._group, group_id)

    def _group(self, group_id: str) -> Group:
        row = self.db.execute("SELECT data FROM groups WHERE id = ?", (group_id,)).fetchone()
        if row is None:
            raise NotFound("There is no such group.")
        return _group(row[0])

    async def groups(self) -> list[Group]:
        return await self._run(self._groups)

    def _groups(self) -> list[Group]:
        return [_group(r[0]) for r in self.db.execute("SELECT data FROM groups ORDER BY id")]

    async def add_seat(self, seat: SeatLink) -> None:
        await self._run(self._add_seat, seat)

    def _add_seat(self, seat: SeatLink) -> None:
        self.db.execute(
            f"INSERT INTO seats ({_SEAT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                seat.id,
                seat.group_id,
                seat.token_hash,
                seat.label,
                seat.created_at,
                seat.expires_at,
                seat.revoked_at,
            ),
        )

    async def seat_by_token_hash(self, token_hash: str) -> SeatLink | None:
        return await self._run(self._seat_by_token_hash, token_hash)

    def _seat_by_token_hash(self, token_hash: str) -> SeatLink | None:
        row = self.db.execute(
            f"SELECT {_SEAT_COLUMNS} FROM seats WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        return None if row is None else SeatLink(*row)

    async def seat(self, seat_id: str) -> SeatLink:
        return await self._run(self._seat, seat_id)

    def _seat(self, seat_id: str) -> SeatLink:
        row = self.db.execute(f"SELECT {_SEAT_COLUMNS} FROM seats WHERE id = ?", (seat_id,))
        found = row.fetchone()
        if found is None:
            raise NotFound("There is no such seat link.")
        return SeatLink(*found)

    async def seats(self, group_id: str) -> list[SeatLink]:
        return await self._run(self._seats, group_id)

    def _seats(self, group_id: str) -> list[SeatLink]:
        rows = self.db.execute(
            f"SELECT {_SEAT_COLUMNS} FROM seats WHERE group_id = ? ORDER BY created_at, id",
            (group_id,),
        )
        return [SeatLink(*r) for r in rows]

    async def revoke_seat(self, seat_id: str, now: float) -> SeatLink:
        return await self._run(self._revoke_seat, seat_id, now)

    def _revoke_seat(self, seat_id: str, now: float) -> SeatLink:
        self.db.execute(
            "UPDATE seats SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, seat_id)
        )
        return self._seat(seat_id)

    async def add_api_token(self, token_hash: str, token: ApiToken) -> None:
        await self._run(self._add_api_token, token_hash, token)

    def _add_api_token(self, token_hash: str, token: ApiToken) -> None:
        self.db.execute(
            "INSERT INTO api_tokens VALUES (?, ?, ?)",
            (token_hash, token.facilitator, token.expires_at),
        )

    async def api_token(self, token_hash: str) -> ApiToken | None:
        return await self._run(self._api_token, token_hash)

    def _api_token(self, token_hash: str) -> ApiToken | None:
        row = self.db.execute(
            "SELECT facilitator, expires_at FROM api_tokens WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        return None if row is None else ApiToken(row[0], row[1])

    async def drop_api_token(self, token_hash: str) -> None:
        await self._run(self._drop_api_token, token_hash)

    def _drop_api_token(self, token_hash: str) -> None:
        self.db.execute("DELETE FROM api_tokens WHERE token_hash = ?", (token_hash,))

    async def drop_expired_api_tokens(self, now: float) -> None:
        await self._run(self._drop_expired_api_tokens, now)

    def _drop_expired_api_tokens(self, now: float) -> None:
        self.db.execute("DELETE FROM api_tokens WHERE expires_at <= ?", (now,))

    async def keep_live_session(self, group_id: str, data: bytes, expires_at: float) -> None:
        await self._run(self._keep_live_session, group_id, data, expires_at)

    def _keep_live_session(self, group_id: str, data: bytes, expires_at: float) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO live_sessions (group_id, data, expires_at) VALUES (?, ?, ?)",
            (group_id, data, expires_at),
        )

    async def take_live_sessions(self, now: float) -> list[tuple[str, bytes]]:
        return await self._run(self._take_live_sessions, now)

    def _take_live_sessions(self, now: float) -> list[tuple[str, bytes]]:
        with self.db:  # read and delete in one transaction: taken once
            self.db.execute("BEGIN IMMEDIATE")
            rows = self.db.execute(
                "SELECT group_id, data FROM live_sessions WHERE expires_at > ?", (now,)
            ).fetchall()
            self.db.execute("DELETE FROM live_sessions")
        return [(str(g), bytes(d)) for g, d in rows]

    async def close(self) -> None:
        await self._run(self.db.close)
        self._thread.shutdown(wait=True)


def _group(data: str) -> Group:
    raw: dict[str, Any] = json.loads(data)
    for key in ("ground_rules", "crisis_resources", "facilitators"):
        raw[key] = tuple(raw.get(key, ()))
    return Group(**raw)
