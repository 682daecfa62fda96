"""The benchmark's durable data: one facilitator, its API token, groups and seat links.

Made through the project's own store, ``Admin`` and ``Authenticator``, exactly
as the CLI and the HTTP API make them, so members join through real seat links
and the real rules. One file serves every run of our server: a session lives
in the server's memory, so each freshly started server opens its rooms anew,
while links and the token stay valid.

The groups are set up for load: capacity = members per room, flood control
at its maximum (10,000 messages a second) and slow mode off, so the pipeline
runs every check and refuses nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatserver.admin import Admin
from chatserver.auth import Authenticator, hash_password
from chatserver.sqlite_store import SqliteStore

FACILITATOR = "bench"
PASSWORD = "bench-password-not-secret"
GROUND_RULES = ["What is said here stays here", "Listen without fixing"]
TOKEN_HOURS = 24.0


@dataclass(frozen=True)
class Fixture:
    db_path: Path
    setup_path: Path  # the JSON the load generator reads
    rooms: int
    members: int

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.db_path.resolve()}"


def group_settings(members: int, index: int) -> dict[str, Any]:
    return {
        "title": f"bench room {index}",
        "capacity": members,
        "ground_rules": list(GROUND_RULES),
        "flood_messages": 10_000,
        "flood_window_seconds": 1,
        "slow_mode_seconds": 0,
    }


async def build(workdir: Path, rooms: int, members: int) -> Fixture:
    """A fresh database with ``rooms`` groups of ``members`` seat links each."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    store = SqliteStore(str(db_path))
    try:
        await store.add_facilitator(FACILITATOR, hash_password(PASSWORD))
        auth = Authenticator(store, attempts_per_minute=10, token_hours=TOKEN_HOURS)
        token, _ = await auth.issue_token(FACILITATOR, time.time())
        admin = Admin(store, "http://127.0.0.1")
        out: list[dict[str, Any]] = []
        store.db.execute("BEGIN")  # one transaction: thousands of rows in a second
        for i in range(rooms):
            group = await admin.create_group(FACILITATOR, group_settings(members, i))
            links = [(await admin.create_link(FACILITATOR, group.id))[1] for _ in range(members)]
            out.append({"group": group.id, "links": links})
        store.db.execute("COMMIT")
    finally:
        await store.close()
    setup_path = workdir / "setup.json"
    setup = {"token": token, "user": FACILITATOR, "password": PASSWORD, "rooms": out}
    setup_path.write_text(json.dumps(setup))
    setup_path.chmod(0o600)
    return Fixture(db_path, setup_path, rooms, members)
