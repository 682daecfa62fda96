from __future__ import annotations

from conftest import Env


async def test_members_chat_in_an_open_room(env: Env) -> None:
    gid, fac, (a, b, c) = await env.room(3)
    await a.send("hello everyone")
    for receiver in (fac, a, b, c):
        msg = await receiver.next("msg")
        assert msg.text == "hello everyone"
        assert msg["from"] == a.pid
        assert msg["id"] == 1
