"""What the terminal client does for each slash command: one entry per command.

Each entry names the command, the shape of its arguments as ``/help`` shows
them, a line of help and the function that runs it. ``/help`` is made from
this table and ``Terminal.command`` accepts only what is in it, so the two
cannot drift apart; a function that finds its arguments wrong raises
``_Usage`` and the person is shown the entry's own usage line. A command that
takes nothing ignores anything typed after it.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from clients.client import ChatClient
from clients.e2ee import sign_content_rules
from clients.e2ee.content_rules import now_ms
from clients.room_view import Event
from moderation.content import ACTIONS, TUNING_FORMAT, RulesError, tuned_policy
from rooms.links import FOREIGN_KEY_NOTICE, foreign_keys, link_trusting

if TYPE_CHECKING:
    from clients.terminal import Terminal

Run = Callable[["Terminal", str], Awaitable[object]]
N = TypeVar("N", int, float)

ALERTS = ("alert", "noalert")  # what /rule takes besides ACTIONS
HELP_WIDTH = 88  # /help's lines wrap here


class _Usage(Exception):
    """The arguments do not fit the command's shape; ``detail`` is added to its usage line."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Command:
    name: str
    args: str  # the arguments' shape, as /help shows it ("" takes nothing)
    about: str
    run: Run
    aliases: tuple[str, ...] = ()
    facilitator: bool = False  # listed with the facilitator's commands
    ends: bool = False  # the session is over for this terminal once it has run
    # When it exists at all; otherwise it is an unknown command, and not listed.
    offered: Callable[[Terminal], bool] = lambda term: True

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()

    @property
    def label(self) -> str:
        """How /help names it: every name it answers to, and its arguments."""
        return f"{', '.join(f'/{n}' for n in (self.name, *self.aliases))} {self.args}".rstrip()

    async def __call__(self, term: Terminal, rest: str) -> None:
        try:
            await self.run(term, rest)
        except _Usage as e:
            raise ValueError(f"Usage: {self.usage} {e.detail}".rstrip()) from None


def _needed(text: str) -> str:
    if not text:
        raise _Usage
    return text


def _number(kind: Callable[[str], N], text: str) -> N:
    try:
        return kind(text)
    except ValueError:
        raise _Usage from None


# ---- everyone's ------------------------------------------------------------------------


async def _help(term: Terminal, rest: str) -> None:
    # Our own text, shown as written.
    print(help_text(term), file=term.out, flush=True)


async def _send_anyway(term: Terminal, rest: str) -> None:
    if rest:
        await term.post(rest, confirm=True)


def _behind_a_warning(*, confirm: bool) -> Run:
    async def run(term: Terminal, rest: str) -> None:
        warning, bar, text = rest.partition("|")
        if not bar or not warning.strip() or not text.strip():
            raise _Usage
        await term.post(text.strip(), warning.strip(), confirm=confirm)

    return run


async def _show(term: Terminal, rest: str) -> None:
    msg_id = _number(int, _needed(rest))
    try:
        who, text = term.hidden[msg_id]
    except KeyError:
        raise ValueError(f"No message {rest!r} is waiting behind a content warning.") from None
    term.say(f"[{msg_id}] {who}: {text}")


async def _lower(term: Terminal, rest: str) -> None:
    await term.client.hand(False, term.person(rest) if rest else None)


async def _report(term: Terminal, rest: str) -> None:
    msg_id, _, note = rest.partition(" ")
    await term.client.report(_number(int, _needed(msg_id)), note)


async def _who(term: Terminal, rest: str) -> None:
    for p in term.client.roster.values():
        flags = [p["role"]] + [k for k in ("hand", "muted") if p.get(k)]
        flags += [] if p.get("present", True) else ["away"]
        flags += ["verified"] if p.get("verified") else ["NOT verified"]
        term.say(f"  {p['name']} ({', '.join(flags)})")


async def _rules(term: Terminal, rest: str) -> None:
    """The categories, their actions and alerts, as this client applies them."""
    content = getattr(term.client, "content", None)
    if content is None:
        term.say("* No content rules are applied in this session.")
        return
    if content.unverified:
        term.say("* The group's own rules could not be checked: the standard rules apply.")
    elif content.tuning is not None:
        term.say("* The standard rules, as a facilitator of the group tuned them:")
    else:
        term.say("* The standard rules:")
    for cat in content.policy.categories:
        alert = ", alerts the facilitators" if cat.alert else ""
        term.say(f"  {cat.id}: {cat.action}{alert} ({cat.label})")


# ---- the facilitator's -----------------------------------------------------------------


async def _knocks(term: Terminal, rest: str) -> None:
    for k in term.client.knocks.values():
        term.say(f"  {k['name']} is knocking")


async def _timeout(term: Terminal, rest: str) -> None:
    who, _, minutes = rest.rpartition(" ")
    try:
        seconds = max(1, round(float(minutes) * 60))
    except (ValueError, OverflowError):  # not a number, NaN, or too large to be a time
        raise _Usage from None
    await term.client.time_out(term.person(_needed(who.strip())), seconds)


async def _crisis(term: Terminal, rest: str) -> None:
    term.crisis_resources()


async def _reply(term: Terminal, rest: str) -> None:
    who, bar, text = rest.partition("|")
    if not bar:
        raise _Usage
    await term.client.private(_needed(text.strip()), to=term.person(_needed(who.strip())))


async def _alerts(term: Terminal, rest: str) -> None:
    if not term.client.alerts:
        term.say("  No open support requests or alerts.")
    for alert in term.client.alerts.values():
        term.show(Event("alert", alert))


async def _handled(term: Terminal, rest: str) -> None:
    await term.client.handled(_number(int, _needed(rest)))


async def _delete(term: Terminal, rest: str) -> None:
    await term.client.delete(_number(int, _needed(rest)))


async def _slow(term: Terminal, rest: str) -> None:
    await term.client.slow_mode(_number(float, rest or "0"))


async def _link(term: Terminal, rest: str) -> None:
    link = _needed(rest)
    if foreign_keys(link, term.link_keys):
        term.say(f"! {FOREIGN_KEY_NOTICE}")
    # Our own text: a link to hand out, printed as it is.
    print(link_trusting(link, term.link_keys), file=term.out, flush=True)


async def _rule(term: Terminal, rest: str) -> None:
    """Sign a new tuning of the group's rules and set it through the HTTP API."""
    category, _, action = (part.strip() for part in rest.partition(" "))
    c = term.client
    content = getattr(c, "content", None)
    if term.api is None or c.identity is None or content is None or c.group_id is None:
        raise ValueError("Changing the content rules needs the facilitator's login here.")
    if action not in (*ACTIONS, *ALERTS):
        raise _Usage(f"({', '.join((*ACTIONS, *ALERTS))})")
    if category not in content.policy.by_id:
        raise ValueError(f"No content category {category!r}; /rules lists them.")
    # Start from the tuning in force (checked); an unchecked one is never re-signed.
    tuning = json.loads(content.tuning) if content.tuning else {}
    tuning["format"] = TUNING_FORMAT
    change = tuning.setdefault("categories", {}).setdefault(category, {})
    if action in ACTIONS:
        change["action"] = action
    else:
        change["alert"] = action == "alert"
    text = json.dumps(tuning, ensure_ascii=False, sort_keys=True)
    try:
        tuned_policy(text)
    except RulesError as e:
        raise ValueError(e.reason) from None
    # One more than any version shown this session, signed now (docs/e2ee.md section 11).
    version, signed_at = content.next_version(), now_ms()
    signed = sign_content_rules(c.identity, c.group_id, text, version, signed_at)
    await asyncio.to_thread(term.api.set_content_rules, c.group_id, signed)
    term.say(f"* Asked the server to set {category} to {action}; the room hears of it.")


def _room(name: str, about: str, action: Callable[[ChatClient], Awaitable[object]]) -> Command:
    """A facilitator's command that takes nothing: one action on the room."""
    return Command(name, "", about, lambda term, rest: action(term.client), facilitator=True)


def _person(
    name: str, about: str, action: Callable[[ChatClient, str], Awaitable[object]]
) -> Command:
    """A facilitator's command that takes a NAME: one action on that person."""

    async def run(term: Terminal, rest: str) -> None:
        await action(term.client, term.person(_needed(rest)))

    return Command(name, "NAME", about, run, facilitator=True)


COMMANDS: tuple[Command, ...] = (
    Command("send!", "TEXT", "send TEXT even though the content rules asked you to check it",
            _send_anyway),
    Command("cw", "WARNING | TEXT", "send TEXT behind a content warning (at most 80 characters)",
            _behind_a_warning(confirm=False)),
    Command("cw!", "WARNING | TEXT", "the same, when the content rules asked you to check it",
            _behind_a_warning(confirm=True)),
    Command("show", "ID", "read message ID, shown behind its content warning", _show),
    Command("hand", "", "raise your hand", lambda term, rest: term.client.hand(True)),
    Command("lower", "[NAME]", "lower your hand (a facilitator: NAME's)", _lower),
    Command("private", "TEXT", "message the facilitators only",
            lambda term, rest: term.client.private(_needed(rest))),
    Command("report", "ID [NOTE]", "report message ID to the facilitators", _report),
    Command("support", "", "tell the facilitators you need support now",
            lambda term, rest: term.client.alert("support")),
    Command("crisis", "", "the crisis numbers (tells nobody)", _crisis),
    Command("who", "", "who is here", _who),
    Command("rules", "", "the content rules in force (categories and actions)", _rules),
    Command("away", "", "step out for a break: the room is hidden; /private and /support "
            "still work", lambda term, rest: term.client.step_out()),
    Command("back", "", "come back into the room after a break",
            lambda term, rest: term.client.back()),
    Command("leave", "", "leave this session", lambda term, rest: term.client.leave(),
            aliases=("quit",), ends=True),
    Command("help", "", "this list", _help, aliases=("?",)),
    _room("open", "open the room (members may come in)", lambda c: c.open()),
    _room("start", "start the meeting (locks the door)", lambda c: c.start()),
    _room("lock", "lock the door again: newcomers knock", lambda c: c.lock()),
    _room("unlock", "unlock the door: knockers come in while seats remain", lambda c: c.unlock()),
    _room("pause", "pause: members cannot write to the room until /resume", lambda c: c.pause()),
    _room("resume", "end a pause", lambda c: c.resume()),
    _room("end", "end the session: everyone leaves", lambda c: c.end()),
    Command("knocks", "", "who is knocking", _knocks, facilitator=True),
    Command("alerts", "", "the open support requests and alerts", _alerts, facilitator=True),
    Command("handled", "ID", "mark alert ID handled: it closes for every facilitator, "
            "and the member is told", _handled, facilitator=True),
    Command("reply", "NAME | TEXT", "write privately to NAME: only they and the facilitators "
            "read it", _reply, facilitator=True),
    _person("admit", "let NAME in from the knock queue", lambda c, pid: c.admit(pid)),
    _person("refuse", "refuse NAME's knock", lambda c, pid: c.refuse(pid)),
    _person("vouch", "vouch for NAME, whom the server let in past your locked door",
            lambda c, pid: c.vouch_for(pid)),
    _person("mute", "mute NAME", lambda c, pid: c.mute(pid)),
    _person("unmute", "unmute NAME", lambda c, pid: c.unmute(pid)),
    Command("timeout", "NAME MINUTES", "mute NAME for MINUTES", _timeout, facilitator=True),
    _person("remove", "remove NAME for this session", lambda c, pid: c.remove(pid)),
    _person("ban", "remove NAME for good", lambda c, pid: c.remove(pid, for_good=True)),
    Command("delete", "ID", "delete message ID for everyone", _delete, facilitator=True),
    Command("slow", "[SECONDS]", "slow mode, SECONDS between messages (0 or none: off)", _slow,
            facilitator=True),
    Command("link", "URL", "a member's link with your keys (&f=...) and no others", _link,
            facilitator=True, offered=lambda term: bool(term.link_keys)),
    Command("rule", "CATEGORY ACTION",
            f"set a content category's action ({', '.join(ACTIONS)}) or its alert "
            f"({', '.join(ALERTS)}) for the group, signed",
            _rule, facilitator=True, offered=lambda term: term.client.role == "facilitator"),
)  # fmt: skip

BY_NAME: dict[str, Command] = {
    name: command for command in COMMANDS for name in (command.name, *command.aliases)
}


def find(term: Terminal, name: str) -> Command | None:
    """The command typed as ``/name``, if this terminal has it."""
    command = BY_NAME.get(name)
    return command if command is not None and command.offered(term) else None


def help_text(term: Terminal) -> str:
    """``/help``: the commands this terminal has, a facilitator's after everyone's."""
    shown = [c for c in COMMANDS if c.offered(term)]
    if term.client.role != "facilitator":
        shown = [c for c in shown if not c.facilitator]
    width = max(len(c.label) for c in shown)

    def entry(label: str, about: str) -> str:
        return textwrap.fill(
            f"  {label:<{width}}  {about}", HELP_WIDTH, subsequent_indent=" " * (width + 4)
        )

    lines = ["Commands:", entry("TEXT", "send TEXT to the room (the content rules check it first)")]
    for facilitator in (False, True):
        ours = [c for c in shown if c.facilitator == facilitator]
        if facilitator and ours:
            lines.append("Facilitator commands (NAME is a display name or a participant id):")
        lines += [entry(c.label, c.about) for c in ours]
    return "\n".join(lines)
