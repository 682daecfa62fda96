"""``chatclient``: the terminal client, for members and for facilitators.

    chatclient join 'http://127.0.0.1:8000/join#seat=...&f=...' --name Robin
    chatclient facilitate http://127.0.0.1:8000 --group g_1234 --user alex
    chatclient link 'http://127.0.0.1:8000/join#seat=...' --user alex

Lines you type are sent to the room; lines starting with ``/`` are commands
(``/help`` lists them). Everything shown comes from the server's frames.
Messages are end-to-end encrypted (docs/e2ee.md). A facilitator's identity
key lives in a file (``--identity``, by default under ~/.config/safespace/);
members' links must carry its public half, ``&f=...``: ``chatclient link``
(or ``/link`` in a session) prints a link with its keys and no others.

The group's content rules (moderation/content/README.md) apply to what you
send to the room: a message they block is not sent (you are told why); one
they ask you to check first is not sent either, until you send it again with
``/send! TEXT`` (or ``/cw! WARNING | TEXT``); labels they attach show as a
content warning. A facilitator sees content alerts (a category and who, never
the text), lists the rules in force with ``/rules`` and changes one with
``/rule CATEGORY ACTION``: the tuning is signed with the identity key and set
through the HTTP API (logging in with the same name and password).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlsplit
from urllib.request import Request, urlopen

from clients.client import ChatClient, ClientError, Event
from clients.content import OWN_RISK, ContentBlocked, ContentNeedsConfirmation
from clients.e2ee import IdentityKey
from clients.e2ee.anchor_memory import AnchorFile
from clients.terminal_commands import find
from clients.terminal_lines import LINES
from rooms.links import (
    FOREIGN_KEY_NOTICE,
    b64u_encode,
    foreign_keys,
    identity_key,
    link_trusting,
)

HIDDEN_KEPT = 1000  # messages behind a content warning kept for /show


def inert(text: str) -> str:
    """Text others wrote, shown and never obeyed.

    No control characters (escape sequences could clear the screen or write the
    clipboard), and a line break continues the same entry behind a bar, so that
    nobody can fake a line of the client's own (``* Alex is muted``).
    """
    lines = ("".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in part)
             for part in text.split("\n"))  # fmt: skip
    return "\n  | ".join(lines)


class ApiError(ValueError):
    """The HTTP API said no (``code`` is its error code, "" if none); shown as it says."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} ({code})" if code else message)
        self.code = code


class Api:
    """Just enough of the HTTP API for ``/rule``: log in, then PATCH the group.

    Blocking (``urllib``): the terminal calls it in a thread.
    """

    def __init__(self, server: str, user: str, password: str) -> None:
        parts = urlsplit(server.strip())
        scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme or "http")
        self.base = f"{scheme}://{parts.netloc}"
        self.user, self.password = user, password
        self.token: str | None = None

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = Request(
            self.base + path, data=json.dumps(body).encode(), headers=headers, method=method
        )
        try:
            with urlopen(request, timeout=15) as response:
                result: dict[str, Any] = json.loads(response.read() or b"{}")
                return result
        except HTTPError as e:
            try:
                error = json.loads(e.read())["error"]
                code, message = str(error["code"]), str(error["message"])
            except (ValueError, KeyError, TypeError):
                code, message = "", f"The server refused ({e.code})."
            raise ApiError(code, message) from None
        except URLError as e:
            raise ApiError("", f"Could not reach the server ({e.reason}).") from None

    def login(self) -> None:
        self.token = None
        got = self._call("POST", "/api/login", {"name": self.user, "password": self.password})
        self.token = str(got["token"])

    def set_content_rules(self, group_id: str, rules: dict[str, str | int]) -> None:
        """PATCH the group's ``content_rules``, logging in first (again if the token expired).

        ``rules`` as ``clients.e2ee.sign_content_rules`` made them: the caller
        signs with ``version`` one more than the group's (``ContentGuard.next_version``)
        and ``signed_at`` now (docs/e2ee.md section 11).
        """
        path, body = f"/api/groups/{quote(group_id, safe='')}", {"content_rules": rules}
        if self.token is None:
            self.login()
        try:
            self._call("PATCH", path, body)
        except ApiError as e:
            if e.code != "unauthenticated":
                raise
            self.login()
            self._call("PATCH", path, body)


class Terminal:
    def __init__(
        self,
        client: ChatClient,
        out: TextIO,
        link_keys: list[bytes] | None = None,
        api: Api | None = None,
    ) -> None:
        # Annotated: clients.terminal_commands reads them in an import cycle.
        self.client: ChatClient = client
        self.out: TextIO = out
        self.api: Api | None = api  # a facilitator's, for /rule
        # The facilitator keys members' links must carry (ours first).
        self.link_keys: list[bytes] = link_keys or []
        # Messages shown behind a content warning, by id, until /show: (who, text).
        self.hidden: OrderedDict[int, tuple[str, str]] = OrderedDict()

    def say(self, line: str) -> None:
        print(inert(line), file=self.out, flush=True)

    def show(self, event: Event) -> None:
        """Print what ``event`` means to a person (``clients.terminal_lines``)."""
        f = event.fields
        line = LINES.get(event.type)
        if line is not None:
            line(self, event, self.client.name_of(f.get("from") or f.get("pid") or ""))

    def crisis_resources(self) -> None:
        """The group's crisis resources, as the room and the rules showed them."""
        welcome = self.client.welcome
        resources = welcome["group"]["crisis_resources"] if welcome is not None else []
        if not resources:
            self.say(
                "  This group has listed no crisis numbers; in an emergency, call your "
                "local emergency number."
            )
        for resource in resources:
            self.say(f"  If you need help now: {resource}")

    async def acknowledge(self, event: Event) -> None:
        """A facilitator's terminal has shown an alert: the member is told it was seen."""
        if self.client.role != "facilitator":
            return
        if event.type == "alert" and not event.fields.get("local"):
            await self.client.alert_seen(event.fields["id"])
        elif event.type == "welcome":
            for alert in event.fields.get("alerts", []):
                self.show(Event("alert", alert))
                await self.client.alert_seen(alert["id"])

    def label(self, category: object) -> str:
        """A content category as people read it: its label, and its id."""
        content = getattr(self.client, "content", None)
        cat = str(category or "?")
        try:
            return f"{content.policy.category(cat).label} ({cat})"  # type: ignore[union-attr]
        except (AttributeError, KeyError):
            return cat

    def hide(self, msg_id: int, who: str, text: str) -> None:
        """Keep a message shown behind its content warning, for ``/show`` (the last 1000)."""
        self.hidden[msg_id] = (who, text)
        while len(self.hidden) > HIDDEN_KEPT:
            self.hidden.popitem(last=False)

    def warn(self, f: dict[str, Any]) -> None:
        if f.get("code") == "unverified_link":
            self.say(
                "! Your link names no facilitator key (&f=...): nobody's identity can be "
                "checked, and anyone the server adds could read along."
            )
        elif f.get("code") == "untrusted":
            self.say(
                f"! {self.client.name_of(f.get('pid', '?'))} is not verified by a facilitator: "
                "they cannot read what you write here."
            )
        elif f.get("code") == "rules_unverified":
            self.say(
                "! This group's content rules are not signed by a facilitator your link names: "
                "the standard rules apply instead."
            )
        elif f.get("code") == "rules_replayed":
            self.say(
                "! The server showed an older version of this group's content rules than one "
                "you already had: it was refused, and the rules in force stay."
            )
        elif f.get("code") == "not_admitted":
            name = self.client.name_of(f.get("pid", "?"))
            self.say(
                f"! {name} is in the room though your door was locked and you did not let "
                f"them in: not vouched for, they read nothing. /vouch {name} if you know them."
            )
        elif f.get("code") == "keys_mismatch":
            self.say(
                "! The server shows others keys under your name that are not yours: they cannot "
                "verify you, and the server may be passing someone off as you."
            )

    async def command(self, line: str) -> bool:
        """Run one typed line (``clients.terminal_commands``); False when the user is done."""
        if not line.startswith("/"):
            if line.strip():
                await self.post(line)
            return True
        name, _, rest = line[1:].partition(" ")
        command = find(self, name)
        if command is None:
            self.say("! Unknown command; /help lists them.")
            return True
        await command(self, rest.strip())
        return not command.ends

    async def post(self, text: str, cw: str | None = None, *, confirm: bool = False) -> None:
        """Send to the room, telling the sender what the content rules decided."""
        resend = "/cw! WARNING | TEXT" if cw is not None else "/send! TEXT"
        try:
            if confirm:
                await self.client.send(text, cw, confirm_warn=True)
            else:
                await self.client.send(text, cw)
        except ContentBlocked as e:
            self.say("! Not sent: the group's content rules do not allow this message.")
            for message in e.messages:
                self.say(f"  {message}")
            if e.alerts:
                here = any(
                    p.get("role") == "facilitator" and p.get("present")
                    for p in self.client.roster.values()
                )
                self.say(
                    "  (An alert is on its way to the facilitators in the room: what kind of "
                    "message, never its text.)"
                    if here
                    else "  (No facilitator is in the room right now: the alert, never the "
                    "text, will reach the first facilitator who comes back.)"
                )
            if set(e.alerts) & OWN_RISK:
                # About the writer's own safety: never held back without care.
                self.crisis_resources()
        except ContentNeedsConfirmation as e:
            self.say("! Not sent yet: please check your message.")
            for message in e.messages:
                self.say(f"  {message}")
            self.say(
                f"  To send it as it is, type {resend}; you may add a warning of your own "
                "with /cw! WARNING | TEXT, or rephrase."
            )

    def person(self, name: str) -> str:
        pid = self.client.pid_of(name)
        if pid is None:
            raise ValueError(f"Nobody called {name!r} is here.")
        return pid


async def _lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _run(
    connect: Callable[[asyncio.StreamReader], Awaitable[ChatClient]],
    link_keys: list[bytes] | None = None,
    api: Api | None = None,
) -> int:
    stdin = await _lines()
    try:
        client = await connect(stdin)
    except ClientError as e:
        print(f"! {e.reason} ({e.code})", file=sys.stderr, flush=True)
        return 1
    term = Terminal(client, sys.stdout, link_keys, api)

    async def printer() -> None:
        while True:
            event = await client.next(timeout=float("inf"))
            term.show(event)
            await term.acknowledge(event)
            if event.type == "closed":
                return

    shown = asyncio.create_task(printer())
    try:
        while not shown.done():
            read = asyncio.create_task(stdin.readline())
            await asyncio.wait({read, shown}, return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                read.cancel()
                break
            raw = read.result()
            if not raw:  # end of input: leave politely
                await client.leave()
                break
            try:
                if not await term.command(raw.decode().rstrip("\n")):
                    break
            except (ValueError, IndexError) as e:
                term.say(f"! {e}")
    finally:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(shown, 2)
        await client.close()
    return 0


async def _ask(stdin: asyncio.StreamReader, question: str) -> str:
    print(question, end="", flush=True)
    return (await stdin.readline()).decode().strip()


def _join(args: argparse.Namespace) -> int:
    async def connect(stdin: asyncio.StreamReader) -> ChatClient:
        async def decide(rules: Event) -> bool:
            """Show the ground rules; the member decides before entering."""
            print(inert(f"{rules['group']['title']}: the group's ground rules"), flush=True)
            for rule in rules["rules"]:
                print(inert(f"  - {rule}"), flush=True)
            for resource in rules["crisis_resources"]:
                print(inert(f"  If you need help now: {resource}"), flush=True)
            if args.yes:
                return True
            answer = await _ask(stdin, "Do you accept these ground rules? [y/N] ")
            return answer.lower() in ("y", "yes")

        return await ChatClient.join(args.link, args.name, accept_rules=decide)

    return asyncio.run(_run(connect))


def default_identity_path(user: str) -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "safespace" / f"{user}.identity"


def _identity_file(args: argparse.Namespace) -> Path:
    return Path(args.identity) if args.identity else default_identity_path(args.user)


def _identity(args: argparse.Namespace) -> IdentityKey:
    """The facilitator's key: from ``--identity``, or the default file (made if missing).

    Without a writable home the key lasts for this session only, and the
    links made with it stop working once the session ends: said plainly.
    """
    if args.identity:
        return IdentityKey.load_or_create(args.identity)
    path = default_identity_path(args.user)
    try:
        return IdentityKey.load_or_create(path)
    except OSError as e:
        print(f"! Could not keep your identity key in {path} ({e.strerror}); using one "
              "for this session only: links made with it will not work next time.",
              file=sys.stderr, flush=True)  # fmt: skip
        return IdentityKey.generate()


def _co_facilitators(args: argparse.Namespace) -> list[bytes]:
    keys = []
    for value in args.co_facilitator or []:
        key = identity_key(value)
        if key is None:
            raise ValueError("a co-facilitator key is 32 bytes of base64url")
        keys.append(key)
    return keys


def _identity_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--identity",
        metavar="PATH",
        help="your identity key file (default: ~/.config/safespace/USER.identity; made if missing)",
    )
    p.add_argument(
        "--co-facilitator",
        action="append",
        metavar="KEY",
        help="another facilitator's key (the base64url after f=) to trust and put in links",
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chatclient", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    j = sub.add_parser("join", help="join a group with your private link")
    j.add_argument("link")
    j.add_argument("--name", required=True, help="the name others see (any name is fine)")
    j.add_argument("--yes", action="store_true", help="accept the ground rules without asking")
    f = sub.add_parser("facilitate", help="run a group's session as its facilitator")
    f.add_argument("server", help="the server's URL, e.g. http://127.0.0.1:8000")
    f.add_argument("--group", required=True)
    f.add_argument("--user", required=True)
    f.add_argument("--name", help="display name (default: your account name)")
    f.add_argument("--password-stdin", action="store_true")
    _identity_options(f)
    k = sub.add_parser("link", help="print a member's link with your keys and no others")
    k.add_argument("url", help="the link as the server made it (…/join#seat=…)")
    k.add_argument("--user", required=True, help="your facilitator account (names the key file)")
    _identity_options(k)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "join":
        return _join(args)
    try:
        identity = _identity(args)
        co_facilitators = _co_facilitators(args)
    except (OSError, ValueError) as e:
        print(f"! {e}", file=sys.stderr, flush=True)
        return 1
    link_keys = [identity.public, *co_facilitators]
    if args.command == "link":
        if foreign_keys(args.url, link_keys):
            print(f"! {FOREIGN_KEY_NOTICE}", file=sys.stderr, flush=True)
        print(link_trusting(args.url, link_keys), flush=True)
        return 0
    password = os.environ.get("CHATCLIENT_PASSWORD")
    if password is None:
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()

    async def connect(stdin: asyncio.StreamReader) -> ChatClient:
        client = await ChatClient.facilitate(
            args.server,
            args.group,
            user=args.user,
            password=password,
            name=args.name,
            identity=identity,
            co_facilitators=co_facilitators,
            # Beside the key: a restart mid-session remembers whom it let in.
            anchor_memory=AnchorFile(_identity_file(args).with_suffix(".anchors")),
        )
        fragment = "&".join(f"f={b64u_encode(k)}" for k in link_keys)
        print(f"* Members' links must carry your key: add &{fragment}", flush=True)
        print("* (/link URL prints a link with it added.)", flush=True)
        return client

    return asyncio.run(_run(connect, link_keys, Api(args.server, args.user, password)))


if __name__ == "__main__":
    raise SystemExit(main())
