"""A removal for good holds, or is reported as failed, when the store cannot write.

Another process (an operator's CLI, a backup) holds the SQLite file in a write
transaction, or the disk is full (a small tmpfs the test mounts itself, filled
to the last byte), while a facilitator removes a member for good: the
facilitator is told in words that the save failed, the member stays out (the
link is refused at once), the HTTP API answers 503 with a stable code, and
once the file is free (or space is back) the server's retry revokes the link
in the store, so the next session refuses it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Env, running_server, write_lock_held

from chatserver.hub import Hub
from clients.client import ChatClient, ClientError
from clients.e2ee import IdentityKey
from rooms.links import token_from_link
from rooms.seats import hash_token


async def revoked_in_store(server: Env, link: str) -> None:
    """Within 10 s, the store has the seat link as revoked (the hub's retry took it)."""
    for _ in range(100):
        seat = await server.store.seat_by_token_hash(hash_token(token_from_link(link)))
        if seat is not None and seat.revoked_at is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the store never had the revocation")


async def test_a_removal_for_good_is_kept_and_reported_while_the_store_is_locked(
    server: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatserver.hub.REVOKE_RETRY_SECONDS", (0.5,))
    gid = await server.group()
    fac = await server.host(gid)
    link = await server.link(gid)
    ann = await server.member(link, "Ann")
    await fac.next("joined")
    async with write_lock_held(server.db_path, 6):
        started = time.monotonic()
        await fac.remove(ann.pid, for_good=True)
        assert (await fac.next("removed", timeout=3))["pid"] == ann.pid  # out of the room now
        err = await fac.next("error", timeout=10)
        print(f"\nthe facilitator was told after {time.monotonic() - started:.1f} s")
        assert err["code"] == "not_saved"
        assert "kept out for the rest of this session" in err["message"]
        assert await ann.closed() == 4001
        # The link is refused at the door at once, though the store has not taken it yet.
        with pytest.raises(ClientError) as caught:
            await ChatClient.join(link, "Ann again")
        assert caught.value.code == "link_revoked"
        hub: Hub = server.hub
        assert hub.pending_revocations
        # The lock goes; the retry saves the revocation within a few seconds.
        await revoked_in_store(server, link)
        assert not hub.pending_revocations
        print(f"the store had the revocation after {time.monotonic() - started:.1f} s")


async def test_a_locked_store_answers_503_and_never_keeps_a_facilitator_out(server: Env) -> None:
    gid = await server.group()
    token, _ = await server.app.state.services.auth.issue_token("alex", time.time())
    async with write_lock_held(server.db_path, 7):
        async with server.http() as http:
            created, fac = await asyncio.gather(
                http.post(
                    "/api/groups",
                    json={"title": "Thursday group"},
                    headers={"Authorization": f"Bearer {token}"},
                ),
                # A hello that registers an identity key writes to the store.
                server.host(gid, e2ee=True, identity=IdentityKey.generate(), open_room=False),
            )
        assert created.status_code == 503
        assert created.json()["error"]["code"] == "store_unavailable"
        assert int(created.headers["retry-after"]) >= 1
        assert "Traceback" not in created.text
        assert fac.role == "facilitator"  # in the room all the same


# ---- a full disk: a small tmpfs of the test's own -----------------------------------


@contextlib.contextmanager
def small_disk(tmp_path: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at a directory of this test (root only; never another)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the full-disk test: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write zeros until the disk is full (ENOSPC); the filler file, to free it later."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)
    return filler


async def test_a_full_disk_loses_no_removal_and_answers_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chatserver.hub.REVOKE_RETRY_SECONDS", (0.5,))
    with small_disk(tmp_path) as disk:
        async with running_server(disk, fast_path=True) as server:
            gid = await server.group()
            fac = await server.host(gid)
            link = await server.link(gid)
            ann = await server.member(link, "Ann")
            await fac.next("joined")
            token, _ = await server.app.state.services.auth.issue_token("alex", time.time())
            filler = fill(disk)
            # Every write now fails for want of space (SQLite: "database or disk is full").
            await fac.remove(ann.pid, for_good=True)
            assert (await fac.next("removed", timeout=3))["pid"] == ann.pid
            err = await fac.next("error", timeout=10)
            assert err["code"] == "not_saved"
            assert await ann.closed() == 4001
            with pytest.raises(ClientError) as caught:
                await ChatClient.join(link, "Ann again")
            assert caught.value.code == "link_revoked"  # kept out at once all the same
            async with server.http() as http:
                created = await http.post(
                    "/api/groups",
                    json={"title": "Thursday group"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            assert created.status_code == 503, created.text
            assert created.json()["error"]["code"] == "store_unavailable"
            assert "Traceback" not in created.text
            # Space again: the retry saves the revocation.
            filler.unlink()
            await revoked_in_store(server, link)
            assert not server.hub.pending_revocations
