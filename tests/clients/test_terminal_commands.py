"""Every slash command the terminal takes, run against a client that records (no server)."""

from __future__ import annotations

import io
import re
from typing import Any, cast

import pytest

from clients.client import ChatClient
from clients.content import ContentGuard
from clients.e2ee import IdentityKey
from clients.terminal import Api, Terminal
from clients.terminal_commands import BY_NAME, COMMANDS

GROUP = "g_1234"
Call = tuple[str, tuple[Any, ...], dict[str, Any]]


class Room:
    """A facilitator's client: people to name, and every action recorded, never sent."""

    pid = "p1"
    role = "facilitator"
    group_id = GROUP
    roster: dict[str, dict[str, Any]] = {
        "p1": {"name": "Alex", "role": "facilitator", "verified": True},
        "p2": {"name": "Robin", "role": "member", "hand": True, "verified": True},
    }
    knocks: dict[str, dict[str, Any]] = {"k1": {"name": "Kim", "role": "member"}}
    alerts: dict[int, dict[str, Any]] = {}
    welcome = {"group": {"crisis_resources": ["Samaritans 116 123"]}}

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.content = ContentGuard()
        self.identity = IdentityKey.generate()

    def name_of(self, pid: str) -> str:
        return str({**self.roster, **self.knocks}.get(pid, {}).get("name", pid))

    def pid_of(self, name: str) -> str | None:
        """As ``ChatClient.pid_of``: an id, or a display name in any case."""
        people = {**self.roster, **self.knocks}
        named = (pid for pid, p in people.items() if name.casefold() in (pid, p["name"].casefold()))
        return next(named, None)

    def __getattr__(self, name: str) -> Any:
        async def record(*args: Any, **kw: Any) -> None:
            self.calls.append((name, args, kw))

        return record


class Server:
    """The HTTP API as ``/rule`` uses it: the signed rules it was asked to set."""

    def __init__(self) -> None:
        self.set: list[tuple[str, dict[str, str]]] = []

    def set_content_rules(self, group_id: str, rules: dict[str, str]) -> None:
        self.set.append((group_id, rules))


def terminal(role: str = "facilitator", *, link: bool = True) -> tuple[Terminal, Room, Server]:
    room, server = Room(), Server()
    room.role = role
    keys = [IdentityKey.generate().public] if link else None
    term = Terminal(cast(ChatClient, room), io.StringIO(), keys, cast(Api, server))
    return term, room, server


def said(term: Terminal) -> str:
    return cast(io.StringIO, term.out).getvalue()


# Each command: a line that uses it, the client actions it takes and a piece of what it prints.
RUNS: dict[str, tuple[str, list[Call], str]] = {
    "send!": ("/send! hi", [("send", ("hi", None), {"confirm_warn": True})], ""),
    "cw": ("/cw grief | hard", [("send", ("hard", "grief"), {})], ""),
    "cw!": ("/cw! grief|hard", [("send", ("hard", "grief"), {"confirm_warn": True})], ""),
    "show": ("/show 7", [], "[7] Robin: hard words"),
    "hand": ("/hand", [("hand", (True,), {})], ""),
    "lower": ("/lower robin", [("hand", (False, "p2"), {})], ""),
    "private": ("/private a word", [("private", ("a word",), {})], ""),
    "report": ("/report 4 it hurt", [("report", (4, "it hurt"), {})], ""),
    "support": ("/support", [("alert", ("support",), {})], ""),
    "who": ("/who", [], "  Robin (member, hand, verified)"),
    "rules": ("/rules", [], "* The standard rules:"),
    "away": ("/away", [("step_out", (), {})], ""),
    "back": ("/back", [("back", (), {})], ""),
    "crisis": ("/crisis", [], "  If you need help now: Samaritans 116 123"),
    "leave": ("/quit", [("leave", (), {})], ""),
    "help": ("/?", [], "Commands:"),
    "open": ("/open", [("open", (), {})], ""),
    "start": ("/start", [("start", (), {})], ""),
    "lock": ("/lock", [("lock", (), {})], ""),
    "unlock": ("/unlock", [("unlock", (), {})], ""),
    "pause": ("/pause", [("pause", (), {})], ""),
    "resume": ("/resume", [("resume", (), {})], ""),
    "end": ("/end", [("end", (), {})], ""),
    "knocks": ("/knocks", [], "  Kim is knocking"),
    "alerts": ("/alerts", [], "  No open support requests or alerts."),
    "handled": ("/handled 3", [("handled", (3,), {})], ""),
    "reply": ("/reply Robin | are you ok?", [("private", ("are you ok?",), {"to": "p2"})], ""),
    "admit": ("/admit kim", [("admit", ("k1",), {})], ""),
    "refuse": ("/refuse Kim", [("refuse", ("k1",), {})], ""),
    "vouch": ("/vouch Robin", [("vouch_for", ("p2",), {})], ""),
    "mute": ("/mute Robin", [("mute", ("p2",), {})], ""),
    "unmute": ("/unmute p2", [("unmute", ("p2",), {})], ""),
    "timeout": ("/timeout Robin 1.5", [("time_out", ("p2", 90), {})], ""),
    "remove": ("/remove Robin", [("remove", ("p2",), {})], ""),
    "ban": ("/ban Robin", [("remove", ("p2",), {"for_good": True})], ""),
    "delete": ("/delete 4", [("delete", (4,), {})], ""),
    "slow": ("/slow 10", [("slow_mode", (10.0,), {})], ""),
    "link": ("/link http://h/join#seat=T", [], "http://h/join#seat=T&f="),
    "rule": ("/rule insults block", [], "* Asked the server to set insults to block"),
}

# Arguments each command refuses with its usage line, nothing done.
REFUSED: dict[str, list[str]] = {
    "cw": ["", "no bar", "| no warning", "warning only |"],
    "cw!": ["", "no bar", "| no warning", "warning only |"],
    "show": ["", "seven"],
    "private": [""],
    "report": ["", "four it hurt"],
    "admit": [""],
    "refuse": [""],
    "vouch": [""],
    "mute": [""],
    "unmute": [""],
    "timeout": ["", "Robin", "Robin soon", "Robin nan", "Robin 1e400", "5"],
    "remove": [""],
    "ban": [""],
    "delete": ["", "four"],
    "handled": ["", "three"],
    "reply": ["", "Robin", "Robin |", "| are you ok?"],
    "slow": ["soon"],
    "link": [""],
    "rule": ["", "insults", "insults loud"],
}
# Arguments that may be left out: what the command does without them.
LEFT_OUT: dict[str, list[Call]] = {
    "send!": [],  # nothing to send
    "lower": [("hand", (False, None), {})],  # one's own hand
    "slow": [("slow_mode", (0.0,), {})],  # slow mode off
}


async def test_each_command_does_what_it_says() -> None:
    assert set(RUNS) == {c.name for c in COMMANDS}
    for command in COMMANDS:
        term, room, server = terminal()
        term.hide(7, "Robin", "hard words")
        line, calls, shown = RUNS[command.name]
        assert await term.command(line) is not command.ends, line
        assert room.calls == calls, line
        assert shown in said(term), (line, said(term))
    # /rule signed what it set: a client trusting the facilitator's key applies it.
    term, room, server = terminal()
    await term.command("/rule insults block")
    ((group_id, signed),) = server.set
    member = ContentGuard([room.identity.public])
    assert group_id == GROUP and member.set_rules(GROUP, signed)
    assert member.policy.category("insults").action == "block"


def listed(term: Terminal) -> list[str]:
    """The commands /help shows, as it names them (``/leave, /quit``)."""
    return [line[2:].split("  ")[0] for line in said(term).splitlines() if line.startswith("  /")]


async def test_help_lists_exactly_the_commands_this_terminal_takes() -> None:
    term, *_ = terminal()
    await term.command("/help")
    assert listed(term) == [c.label for c in COMMANDS]
    assert {
        n.strip(",")[1:] for label in listed(term) for n in label.split() if n[0] == "/"
    } == set(BY_NAME)
    # A member is shown everyone's commands; /rule is not there for a member at all.
    member, room, _ = terminal("member", link=False)
    await member.command("/help")
    assert listed(member) == [c.label for c in COMMANDS if not c.facilitator]
    assert await member.command("/rule insults off")
    assert said(member).endswith("! Unknown command; /help lists them.\n")
    # Without a facilitator key to put in links there is no /link.
    keyless, room, _ = terminal(link=False)
    await keyless.command("/help")
    assert "/link URL" not in listed(keyless)
    assert await keyless.command("/link http://h/join#seat=T")
    assert said(keyless).endswith("! Unknown command; /help lists them.\n")


async def test_wrong_arguments_are_answered_with_the_usage_line() -> None:
    with_arguments = {c.name for c in COMMANDS if c.args}
    assert set(REFUSED) | set(LEFT_OUT) == with_arguments
    for name, refused in REFUSED.items():
        usage = BY_NAME[name].usage
        for rest in refused:
            term, room, server = terminal()
            with pytest.raises(ValueError, match=f"^Usage: {re.escape(usage)}( \\(|$)"):
                await term.command(f"/{name} {rest}")
            assert room.calls == [] and server.set == [], (name, rest)
    for name, calls in LEFT_OUT.items():
        term, room, server = terminal()
        assert await term.command(f"/{name}")
        assert room.calls == calls, name


async def test_an_unknown_command_is_said_and_nothing_happens() -> None:
    for line in ("/nope", "/", "/HELP", "/ help"):
        term, room, _ = terminal()
        assert await term.command(line)
        assert said(term) == "! Unknown command; /help lists them.\n" and room.calls == []
