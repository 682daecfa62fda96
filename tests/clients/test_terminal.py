"""The terminal client as people use it: real ``chatclient`` processes, real server."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from conftest import PASSWORD, Env

from clients.client import ws_url
from clients.terminal_lines import session_words
from rooms.lifecycle import State

CHATCLIENT = str(Path(sys.executable).parent / "chatclient")


class Proc:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[str] = []

    @classmethod
    async def start(cls, *args: str, env: dict[str, str] | None = None) -> Proc:
        proc = await asyncio.create_subprocess_exec(
            CHATCLIENT,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        return cls(proc)

    async def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def expect(self, text: str, timeout: float = 10.0) -> str:
        assert self.proc.stdout is not None
        for line in self.seen:
            if text in line:
                self.seen.remove(line)
                return line
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    raise AssertionError(f"{text!r} never came; saw {self.seen}")
                line = raw.decode()
                if text in line:
                    return line
                self.seen.append(line)

    async def finished(self, timeout: float = 10.0) -> int:
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def sees_verified(self, name: str, timeout: float = 10.0) -> None:
        """Ask ``/who`` until ``name`` shows as verified (its vouch reached this client)."""
        async with asyncio.timeout(timeout):
            while True:
                await self.type("/who")
                if "NOT verified" not in await self.expect(f"  {name} ("):
                    return
                await asyncio.sleep(0.05)


async def test_a_session_run_from_terminals(env: Env) -> None:
    gid = await env.group(ground_rules=["What is said here stays here"])
    fac = await Proc.start(
        "facilitate", env.url, "--group", gid, "--user", "alex", "--name", "Alex",
        env={"CHATCLIENT_PASSWORD": PASSWORD},
    )  # fmt: skip
    await fac.expect("You are in 'Tuesday evening group' as Alex")
    await fac.type("/open")
    await fac.expect("The room is open; the meeting has not started")
    members = []
    for i in (1, 2, 3):
        m = await Proc.start("join", await env.link(gid), "--name", f"M{i}")
        await m.expect("What is said here stays here")
        await m.type("y")
        await m.expect(f"as M{i}")
        await fac.expect(f"M{i} joined")
        members.append(m)
    m1, m2, m3 = members
    # The facilitator's client vouches for M3 once it sees M3 join; M1 hands
    # M3 its key once that vouch reaches it. Sent earlier, M3 could not read it.
    await m1.sees_verified("M3")
    await m1.type("hello from the terminal")
    for p in (fac, m1, m2, m3):
        await p.expect("[1] M1: hello from the terminal")
    await fac.type("/start")
    await m3.expect("The meeting has started; the door is locked, newcomers knock")
    await fac.type("/mute m2")
    await m3.expect("M2 is muted")
    await m2.type("can you hear me")
    await m2.expect("(muted)")
    await m3.type("/hand")
    await fac.expect("M3 raised a hand")
    await fac.type("/end")
    for p in (fac, m1, m2, m3):
        await p.expect("The session has ended")
        assert await p.finished() == 0
    for p in (m1, m3):
        assert not any("can you hear me" in line for line in p.seen)


async def test_declining_the_rules_does_not_enter(env: Env) -> None:
    gid = await env.group()
    fac = await env.host(gid)
    m = await Proc.start("join", await env.link(gid), "--name", "Robin")
    await m.expect("Be kind.")
    await m.type("n")
    await m.expect("(rules_not_accepted)")
    assert await m.finished() == 1
    await fac.nothing("joined")


def test_ws_url_from_links_and_servers() -> None:
    assert ws_url("http://127.0.0.1:8000/join#seat=abc") == "ws://127.0.0.1:8000/ws"
    assert ws_url("https://chat.example.org/join#seat=abc") == "wss://chat.example.org/ws"
    assert ws_url("http://[::1]:8000") == "ws://[::1]:8000/ws"


def test_every_session_state_is_said_in_words() -> None:
    said = {state: session_words(state.value) for state in State}
    # Each state has its own sentence (none falls back to the raw state name)...
    assert all(not words.startswith("The session is") for words in said.values())
    assert len(set(said.values())) == len(State)
    # ...and a state this client does not know yet is still shown, as it is.
    assert session_words("on_hold") == "The session is on hold"


async def test_a_message_held_back_for_the_writers_safety_shows_the_crisis_numbers(
    env: Env,
) -> None:
    """The terminal says who is told, truly, and gives the crisis numbers at once."""
    gid = await env.group(crisis_resources=["Call 116 123 (Samaritans, free, 24/7)"])
    fac = await env.host(gid)
    m = await Proc.start("join", await env.link(gid), "--name", "Robin")
    await m.expect("Be kind.")
    await m.type("y")
    await m.expect("as Robin")
    await fac.next("joined")
    await m.type("I took 30 paracetamol last night")
    await m.expect("Not sent")
    await m.expect("An alert is on its way to the facilitators in the room")
    await m.expect("If you need help now: Call 116 123")
    alert = await fac.next("alert")
    assert alert["category"] == "method_detail"
    await fac.step_out()
    await m.type("I took 30 paracetamol again")
    await m.expect("No facilitator is in the room right now")
    await m.type("/quit")
