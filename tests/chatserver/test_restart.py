"""A single node's restart is as gentle as it can be (issue 16, point 7).

A graceful stop (SIGTERM, what a deploy does) keeps every live session's
snapshot (rooms/snapshot.py: metadata, never a message) in the store; the
next start takes it back, so those who reconnect find the session as it
was: still started and locked, the muted member still muted, the removed
seat still out, the open support request still open. Nothing is kept twice,
and nothing of any message is in the store meanwhile.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import Env, running_server

from clients.client import ClientError
from clients.payload import PlainCodec
from rooms.errors import Code
from rooms.lifecycle import State

MARKER = "RESTART-MARKER-2c9e"


async def test_a_graceful_restart_keeps_the_session_and_nothing_of_any_message(
    tmp_path: Path,
) -> None:
    async with running_server(tmp_path, fast_path=True) as env:
        gid = await env.group()
        fac = await env.host(gid)
        links = [await env.link(gid) for _ in range(3)]
        ann, ben, cat = [
            await env.member(link, name, codec=PlainCodec())
            for link, name in zip(links, ("Ann", "Ben", "Cat"), strict=True)
        ]
        await fac.start()
        await ann.send(MARKER)
        await fac.next("msg")
        await fac.mute(ben.pid)
        await fac.next("muted")
        await fac.remove(cat.pid)
        await fac.next("removed")
        await ann.alert("support")
        await fac.next("alert")
        first_url = env.url
        session_id = env.hub.rooms[gid].session.id
        last = env.hub.rooms[gid].session.last_msg_id
        pids = (ann.pid, ben.pid)
    # Stopped: the snapshot waits in the store, and holds no message.
    db = sqlite3.connect(tmp_path / "safespace.sqlite3")
    [(kept,)] = db.execute("SELECT data FROM live_sessions").fetchall()
    db.close()
    assert MARKER.encode() not in kept and b"Ann" in kept

    async with running_server(tmp_path, fast_path=True) as env:
        # The same links (the next start is on another port here).
        links = [link.replace(first_url, env.url) for link in links]
        session = env.hub.rooms[gid].session
        assert session.id == session_id and session.state is State.LIVE_LOCKED
        assert session.last_msg_id == last
        assert [a["kind"] for a in session.alerts.all()] == ["support"]
        # Members come back by their links, to their places (no knocking).
        ann2 = await env.member(links[0], "Ann", codec=PlainCodec())
        ben2 = await env.member(links[1], "Ben", codec=PlainCodec())
        assert (ann2.pid, ben2.pid) == pids
        assert ben2.roster[ben2.pid]["muted"] is True
        try:
            await env.member(links[2], "Cat", codec=PlainCodec())
            raise AssertionError("the removed seat came back")
        except ClientError as e:
            assert e.code == Code.REMOVED
        fac2 = await env.host(gid, open_room=False)
        assert fac2.state == "live_locked"
        # Taken once: a second start finds nothing more.
        assert await env.store.take_live_sessions(env.hub.clock()) == []
        await ann2.send("after the restart")
        got = await fac2.next("msg")
        assert got["id"] == last + 1


async def test_a_kept_session_older_than_the_window_is_not_restored(tmp_path: Path) -> None:
    async with running_server(tmp_path, fast_path=True) as env:
        gid = await env.group()
        await env.host(gid)
    db = sqlite3.connect(tmp_path / "safespace.sqlite3")
    db.execute("UPDATE live_sessions SET expires_at = 0")
    db.commit()
    db.close()
    async with running_server(tmp_path, fast_path=True) as env:
        assert gid not in env.hub.rooms
        db = sqlite3.connect(tmp_path / "safespace.sqlite3")
        assert db.execute("SELECT COUNT(*) FROM live_sessions").fetchone() == (0,)
        db.close()


async def test_an_ended_session_is_not_kept(env: Env) -> None:
    gid = await env.group()
    fac = await env.host(gid)
    await fac.end()
    await fac.next("ended")
    await env.hub.shutdown()
    assert await env.store.take_live_sessions(env.hub.clock()) == []
