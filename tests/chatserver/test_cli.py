"""The operator's console script, run for real: ``.venv/bin/chatserver``.

Each test runs the installed entry point as a subprocess on its own SQLite
file (``STORE_URL``), the way an operator sets up a first facilitator, a group
and private links before (or while) a server runs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from conftest import PASSWORD

from clients.client import ChatClient
from clients.e2ee.admission import IdentityKey, identities_from_link

CHATSERVER = Path(sys.executable).parent / "chatserver"
PUBLIC_URL = "http://127.0.0.1:9"
GROUP_ID = re.compile(r"^g_[0-9a-f]{12}$")
LINK_ID = re.compile(r"s_[0-9a-f]{12}")
# uvicorn shuts down gracefully on SIGTERM, then re-raises the signal so that
# whoever started it sees how it ended.
STOPPED = (0, -signal.SIGTERM)


def cli_env(db: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"PUBLIC_URL", "STORE_URL", "BACKEND_URL", "REDIS_URL", "ALLOWED_ORIGINS", "PORT"}
    }
    env.update(STORE_URL=f"sqlite:///{db}", PUBLIC_URL=PUBLIC_URL, **extra)
    return env


class Cli:
    """``chatserver`` against one store file."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.db = tmp_path / "db.sqlite3"

    def __call__(
        self, *args: str, stdin: str | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(CHATSERVER), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=cli_env(self.db),
            cwd=self.dir,
            timeout=60,
        )
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def add_facilitator(self, name: str = "alex", password: str = PASSWORD) -> None:
        done = self("facilitator", "add", name, "--password-stdin", stdin=password + "\n")
        assert done.stdout.strip() == f"Facilitator {name} added."

    def create_group(self, *extra: str) -> str:
        done = self(
            "group",
            "create",
            "--title",
            "T",
            "--facilitator",
            "alex",
            "--rule",
            "Be kind",
            "--crisis",
            "Call 116 123",
            *extra,
        )
        gid = done.stdout.strip()
        assert GROUP_ID.match(gid), done.stdout
        return gid

    def links(self, gid: str) -> dict[str, str]:
        """Link id -> status, from ``link list``."""
        out = {}
        for line in self("link", "list", gid).stdout.splitlines():
            link_id, status, _label = line.split("\t")
            out[link_id] = status
        return out


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    assert CHATSERVER.exists(), CHATSERVER
    return Cli(tmp_path)


def stored_groups(db: Path) -> list[dict[str, object]]:
    with sqlite3.connect(db) as conn:
        return [json.loads(row[0]) for row in conn.execute("SELECT data FROM groups")]


def password_hash(db: Path, name: str) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT password_hash FROM facilitators WHERE name = ?", (name,))
        found = row.fetchone()
    return None if found is None else str(found[0])


# ---- facilitators ---------------------------------------------------------------


def test_facilitator_add_reads_the_password_from_stdin(cli: Cli) -> None:
    done = cli("facilitator", "add", "alex", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.stdout.strip() == "Facilitator alex added."
    assert PASSWORD not in done.stdout + done.stderr
    assert cli.db.exists()
    assert cli("facilitator", "list").stdout.splitlines() == ["alex"]
    stored = password_hash(cli.db, "alex")
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


def test_a_too_short_password_is_refused_with_exit_2(cli: Cli) -> None:
    done = cli("facilitator", "add", "alex", "--password-stdin", stdin="short\n", ok=False)
    assert done.returncode == 2
    assert "at least 10 characters" in done.stderr
    assert "short" not in done.stdout
    assert cli("facilitator", "list").stdout == ""


def test_adding_the_same_facilitator_twice_fails_and_keeps_the_first(cli: Cli) -> None:
    cli.add_facilitator("alex")
    done = cli(
        "facilitator", "add", "alex", "--password-stdin", stdin="another password\n", ok=False
    )
    assert done.returncode != 0
    assert "exists" in done.stderr
    assert "Traceback" not in done.stderr
    assert cli("facilitator", "list").stdout.splitlines() == ["alex"]
    stored = password_hash(cli.db, "alex")
    assert stored is not None and PasswordHasher().verify(stored, PASSWORD)


# ---- groups ------------------------------------------------------------------


def test_group_create_prints_the_group_id(cli: Cli) -> None:
    cli.add_facilitator("alex")
    gid = cli.create_group()
    [group] = stored_groups(cli.db)
    assert group["id"] == gid
    assert group["title"] == "T"
    assert group["ground_rules"] == ["Be kind"]
    assert group["crisis_resources"] == ["Call 116 123"]
    assert group["facilitators"] == ["alex"]
    assert group["capacity"] == 8
    assert group["duration_minutes"] == 70
    listed = cli("group", "list").stdout.splitlines()
    assert listed == [f"{gid}\tT\tcapacity 8\tfacilitators alex"]


def test_group_create_with_repeated_rules_and_settings(cli: Cli) -> None:
    cli.add_facilitator("alex")
    cli.add_facilitator("sam")
    gid = cli.create_group(
        "--rule", "Listen", "--capacity", "5", "--duration-minutes", "90", "--co-facilitator", "sam"
    )
    [group] = stored_groups(cli.db)
    assert group["id"] == gid
    assert group["ground_rules"] == ["Be kind", "Listen"]
    assert group["capacity"] == 5
    assert group["duration_minutes"] == 90
    assert group["facilitators"] == ["alex", "sam"]


def test_group_create_refuses_an_unknown_facilitator_and_bad_settings(cli: Cli) -> None:
    done = cli("group", "create", "--title", "T", "--facilitator", "nobody", ok=False)
    assert done.returncode == 2
    assert "nobody" in done.stderr
    cli.add_facilitator("alex")
    done = cli(
        "group", "create", "--title", "T", "--facilitator", "alex", "--capacity", "0", ok=False
    )
    assert done.returncode != 0
    assert "capacity" in done.stderr
    assert "Traceback" not in done.stderr
    assert stored_groups(cli.db) == []


# ---- links ----------------------------------------------------------------------


def test_link_create_list_and_revoke(cli: Cli) -> None:
    cli.add_facilitator("alex")
    gid = cli.create_group()
    done = cli("link", "create", gid, "--label", "Seat 1")
    url = done.stdout.strip()
    assert len(done.stdout.splitlines()) == 1  # the link alone on stdout, for scripts
    assert url.startswith(f"{PUBLIC_URL}/join#seat=")
    token = url.split("#seat=", 1)[1]
    assert len(token) >= 22
    found = LINK_ID.search(done.stderr)
    assert found, done.stderr
    link_id = found.group(0)
    assert "expires" in done.stderr

    listing = cli("link", "list", gid).stdout
    assert token not in listing
    assert cli.links(gid) == {link_id: "active"}
    assert listing.splitlines() == [f"{link_id}\tactive\tSeat 1"]

    second = cli("link", "create", gid).stdout.strip()
    assert second != url
    statuses = cli.links(gid)
    assert len(statuses) == 2 and set(statuses.values()) == {"active"}

    done = cli("link", "revoke", link_id)
    assert link_id in done.stdout
    assert "revoked" in done.stdout
    statuses = cli.links(gid)
    assert statuses[link_id] == "revoked"
    assert [s for k, s in statuses.items() if k != link_id] == ["active"]
    # The store holds hashes only, never a token.
    assert token.encode() not in cli.db.read_bytes()


def test_link_create_carries_the_facilitator_keys_in_the_fragment(cli: Cli) -> None:
    cli.add_facilitator("alex")
    gid = cli.create_group()
    plain = cli("link", "create", gid)
    assert "carries no facilitator key" in plain.stderr  # told what the link lacks
    one, two = IdentityKey.generate(), IdentityKey.generate()
    done = cli("link", "create", gid, "--facilitator-key", one.fragment)
    url = done.stdout.strip()
    fragment = url.split("#", 1)[1]
    assert fragment.startswith("seat=") and fragment.endswith(f"&{one.fragment}")
    assert identities_from_link(url) == [one.public]
    assert "carries no facilitator key" not in done.stderr
    both = cli(
        "link", "create", gid, "--facilitator-key", one.fragment[2:],
        "--facilitator-key", two.fragment,
    ).stdout.strip()  # fmt: skip
    assert identities_from_link(both) == [one.public, two.public]
    for bad in ("f=short", "x" * 43 + "=", ""):
        done = cli("link", "create", gid, "--facilitator-key", bad, ok=False)
        assert done.returncode == 2 and "base64url" in done.stderr
        assert "Traceback" not in done.stderr


def test_link_create_with_an_expiry(cli: Cli) -> None:
    cli.add_facilitator("alex")
    gid = cli.create_group()
    cli("link", "create", gid, "--expires-hours", "0.0002")
    time.sleep(1.0)
    assert list(cli.links(gid).values()) == ["expired"]
    done = cli("link", "create", gid, "--expires-hours", "0", ok=False)
    assert done.returncode != 0
    assert "expires_in_hours" in done.stderr
    assert "Traceback" not in done.stderr


def test_link_commands_on_unknown_groups_and_links_fail_cleanly(cli: Cli) -> None:
    cli.add_facilitator("alex")
    for args in (
        ("link", "create", "g_000000000000"),
        ("link", "list", "g_000000000000"),
        ("link", "revoke", "s_000000000000"),
    ):
        done = cli(*args, ok=False)
        assert done.returncode == 1, args
        assert "no such" in done.stderr.lower(), args
        assert "Traceback" not in done.stderr
        assert done.stdout == ""


# ---- serve ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err


def serve(tmp_path: Path, *, public_url: bool = False) -> Served:
    port = free_port()
    env = cli_env(tmp_path / "db.sqlite3")
    if not public_url:
        del env["PUBLIC_URL"]
    proc = subprocess.Popen(
        [str(CHATSERVER), "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    served = Served(proc, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            code, out, err = served.stop()
            raise AssertionError(f"chatserver serve exited {code}: {out}\n{err}")
        try:
            r = httpx.get(f"{served.url}/healthz", timeout=1)
            if r.status_code == 200 and r.json() == {"status": "ok"}:
                return served
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            served.stop()
            raise AssertionError("chatserver serve never answered /healthz")
        time.sleep(0.1)


def test_serve_answers_and_prints_a_first_run_hint(tmp_path: Path) -> None:
    served = serve(tmp_path)
    try:
        r = httpx.get(f"{served.url}/metrics", timeout=5)
        assert r.status_code == 200
        assert "safespace_connections 0" in r.text
    finally:
        code, out, err = served.stop()
    assert code in STOPPED, (code, out, err)
    assert f"serving on {served.url}" in out
    assert "No facilitator yet" in out
    assert "chatserver facilitator add" in out
    assert "db.sqlite3" in out
    assert (tmp_path / "db.sqlite3").exists()
    assert "Traceback" not in err


async def test_serve_lets_in_the_holder_of_a_link_made_by_the_cli(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.add_facilitator("alex")
    gid = cli.create_group()
    link = cli("link", "create", gid).stdout.strip()
    served = serve(tmp_path)
    try:
        fac = await ChatClient.facilitate(served.url, gid, user="alex", password=PASSWORD)
        try:
            await fac.open()
            await fac.next("state")
            # The link names PUBLIC_URL; the client is pointed at the real server.
            member = await ChatClient.join(link, "Robin", server=served.url)
            try:
                assert member.rules is not None
                assert member.rules["rules"] == ["Be kind"]
                assert member.rules["crisis_resources"] == ["Call 116 123"]
                await member.send("hello from the cli's link")
                assert (await fac.next("msg")).text == "hello from the cli's link"
            finally:
                await member.close()
        finally:
            await fac.close()
    finally:
        code, out, err = served.stop()
    assert code in STOPPED, (code, out, err)
    assert "No facilitator yet" not in out
    assert "hello from the cli" not in out + err  # nothing anyone writes is logged
