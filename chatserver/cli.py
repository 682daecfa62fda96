"""``chatserver``: serve, and the operator's first steps (facilitators, groups, links).

The admin subcommands work on the durable store directly (``STORE_URL``), so
an operator can set up the first facilitator before any server runs.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from chatserver.admin import Admin
from chatserver.auth import MIN_PASSWORD_CHARS, hash_password
from chatserver.config import Config
from chatserver.store import Store, open_store
from rooms.errors import SafespaceError
from rooms.links import identities_from_link, identity_key, link_with_identities


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from chatserver.app import create_app
    from chatserver.server import bound_socket, uvicorn_config

    overrides: dict[str, Any] = {}
    if args.store:
        overrides["store_url"] = args.store
    if not os.environ.get("PUBLIC_URL"):
        shown = "127.0.0.1" if args.host in ("0.0.0.0", "::", "") else args.host
        overrides["public_url"] = f"http://{shown}:{args.port}"
    config = Config.from_env(**overrides)
    app = create_app(config)
    store = app.state.services.store
    print(f"safespace-chat serving on {config.public_url}", flush=True)
    print(f"  durable store {config.store_url}, live backend {config.backend_url}", flush=True)
    if not asyncio.run(store.facilitators()):
        print(
            "  No facilitator yet. Create one with:\n"
            "    .venv/bin/chatserver facilitator add NAME\n"
            "  then a group and a private link:\n"
            '    .venv/bin/chatserver group create --title "Tuesday group" --facilitator NAME\n'
            "    .venv/bin/chatserver link create GROUP_ID",
            flush=True,
        )
    config_ = uvicorn_config(app, args.host, args.port, config.server_log_level)
    uvicorn.Server(config_).run(sockets=[bound_socket(args.host, args.port)])
    return 0


def _read_password(from_stdin: bool) -> str | None:
    """The new password; None (said on stderr) if it is too short.

    At a prompt the length is checked before the password is asked again, so
    a short one is not typed twice for nothing.
    """
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
        return password if _long_enough(password) else None
    first = getpass.getpass("Password: ")
    if not _long_enough(first):
        return None
    if getpass.getpass("Password again: ") != first:
        raise SystemExit("The two passwords differ.")
    return first


def _long_enough(password: str) -> bool:
    if len(password) >= MIN_PASSWORD_CHARS:
        return True
    print(f"A password needs at least {MIN_PASSWORD_CHARS} characters.", file=sys.stderr)
    return False


async def _with_store(args: argparse.Namespace, job: Callable[[Store], Awaitable[int]]) -> int:
    store = open_store(args.store or Config.from_env().store_url)
    try:
        return await job(store)
    finally:
        await store.close()


def _admin(store: Store) -> Admin:
    return Admin(store, Config.from_env().public_url)


async def _facilitator_add(args: argparse.Namespace, store: Store) -> int:
    password = _read_password(args.password_stdin)
    if password is None:
        return 2
    hashed = hash_password(password)
    await store.add_facilitator(args.name, hashed)
    print(f"Facilitator {args.name} added.")
    return 0


async def _facilitator_list(args: argparse.Namespace, store: Store) -> int:
    for name in await store.facilitators():
        print(name)
    return 0


async def _group_create(args: argparse.Namespace, store: Store) -> int:
    if await store.password_hash(args.facilitator) is None:
        print(f"There is no facilitator {args.facilitator}; add one first.", file=sys.stderr)
        return 2
    settings: dict[str, Any] = {"title": args.title}
    for key in ("capacity", "duration_minutes", "slow_mode_seconds"):
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    if args.rule:
        settings["ground_rules"] = args.rule
    if args.crisis:
        settings["crisis_resources"] = args.crisis
    if args.co_facilitator:
        settings["facilitators"] = [args.facilitator, *args.co_facilitator]
    group = await _admin(store).create_group(args.facilitator, settings)
    print(group.id)
    return 0


async def _group_list(args: argparse.Namespace, store: Store) -> int:
    for g in await store.groups():
        print(f"{g.id}\t{g.title}\tcapacity {g.capacity}\tfacilitators {', '.join(g.facilitators)}")
    return 0


async def _first_facilitator(store: Store, group_id: str) -> str:
    # The operator acts on behalf of the group's first facilitator.
    return (await store.group(group_id)).facilitators[0]


def _identity_key(text: str) -> bytes:
    key = identity_key(text)
    if key is None:
        raise argparse.ArgumentTypeError("an identity key is 43 characters of base64url (32 bytes)")
    return key


async def _link_create(args: argparse.Namespace, store: Store) -> int:
    who = await _first_facilitator(store, args.group)
    seat, url = await _admin(store).create_link(who, args.group, args.label, args.expires_hours)
    if args.facilitator_key:
        url = link_with_identities(url, args.facilitator_key)
    if not identities_from_link(url):
        print(
            "note: this link carries no facilitator key (none given with --facilitator-key, "
            "and no facilitator of the group has connected with one yet): the member's "
            "client cannot check who a facilitator admitted, and warns its user "
            "(docs/security.md)",
            file=sys.stderr,
        )
    expires = time.strftime("%Y-%m-%d %H:%M", time.localtime(seat.expires_at))
    print(url)
    print(f"seat link {seat.id}, expires {expires}", file=sys.stderr)
    return 0


async def _link_list(args: argparse.Namespace, store: Store) -> int:
    who = await _first_facilitator(store, args.group)
    for link in await _admin(store).links(who, args.group):
        print(f"{link['id']}\t{link['status']}\t{link['label']}")
    return 0


async def _link_revoke(args: argparse.Namespace, store: Store) -> int:
    seat = await store.seat(args.link)
    who = await _first_facilitator(store, seat.group_id)
    await _admin(store).revoke_link(who, seat.group_id, seat.id)
    print(f"Seat link {seat.id} revoked.")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chatserver", description=__doc__)
    p.add_argument("--store", help="durable store URL (default: $STORE_URL or sqlite)")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.set_defaults(run=_serve)

    fac = sub.add_parser("facilitator", help="facilitator accounts").add_subparsers(
        dest="action", required=True
    )
    add = fac.add_parser("add", help="add a facilitator (password from a prompt or stdin)")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(job=_facilitator_add)
    fac.add_parser("list").set_defaults(job=_facilitator_list)

    grp = sub.add_parser("group", help="groups").add_subparsers(dest="action", required=True)
    create = grp.add_parser("create", help="create a group; prints its id")
    create.add_argument("--title", required=True)
    create.add_argument("--facilitator", required=True)
    create.add_argument("--co-facilitator", action="append")
    create.add_argument("--capacity", type=int)
    create.add_argument("--duration-minutes", type=int)
    create.add_argument("--slow-mode-seconds", type=float)
    create.add_argument("--rule", action="append", help="a ground rule (repeat)")
    create.add_argument("--crisis", action="append", help="a crisis resource (repeat)")
    create.set_defaults(job=_group_create)
    grp.add_parser("list").set_defaults(job=_group_list)

    link = sub.add_parser("link", help="private seat links").add_subparsers(
        dest="action", required=True
    )
    lc = link.add_parser("create", help="create a seat link; prints the private link")
    lc.add_argument("group")
    lc.add_argument("--label")
    lc.add_argument("--expires-hours", type=float)
    lc.add_argument(
        "--facilitator-key",
        action="append",
        type=_identity_key,
        metavar="KEY",
        help="a facilitator's identity key, as `chatclient facilitate` prints it (f=KEY); "
        "repeat for each facilitator. It goes into the link's fragment, which browsers "
        "never send to a server.",
    )
    lc.set_defaults(job=_link_create)
    ll = link.add_parser("list", help="list a group's seat links")
    ll.add_argument("group")
    ll.set_defaults(job=_link_list)
    lr = link.add_parser("revoke", help="revoke a seat link by its id")
    lr.add_argument("link")
    lr.set_defaults(job=_link_revoke)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if hasattr(args, "run"):
        return int(args.run(args))
    job = args.job
    try:
        return asyncio.run(_with_store(args, lambda store: job(args, store)))
    except SafespaceError as e:
        print(e.reason, file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
