"""What the terminal client shows and prints about encryption (no server needed)."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

import pytest

from clients.client import Event
from clients.e2ee import IdentityKey, identities_from_link
from clients.payload import Reported
from clients.terminal import Terminal, default_identity_path, main


class FakeClient:
    """Just what ``Terminal.show`` reads of a client."""

    pid = "p1"
    role = "facilitator"
    roster: dict[str, dict[str, Any]] = {
        "p2": {"name": "Robin", "role": "member", "verified": True},
        "p3": {"name": "Sam", "role": "member", "verified": False},
    }

    def name_of(self, pid: str) -> str:
        return str(self.roster.get(pid, {}).get("name", pid))


def shown(*events: Event) -> str:
    out = io.StringIO()
    term = Terminal(FakeClient(), out)  # type: ignore[arg-type]
    for event in events:
        term.show(event)
    return out.getvalue()


def test_reports_say_whether_they_are_verified() -> None:
    fields = {"t": "report", "from": "p3", "msg": 4, "payload": b""}
    good = Event("report", fields, "this hurt", True, Reported(4, "p2", "you are useless"))
    bad = Event("report", fields, "this hurt", False, Reported(4, "p2", "made up"))
    text = shown(good, bad)
    assert "(report) Sam reported message 4: this hurt" in text
    assert "verified: message 4: Robin wrote: you are useless" in text
    assert "NOT verified (could not be checked): made up" in text


def test_warnings_are_shown() -> None:
    text = shown(
        Event("warning", {"code": "unverified_link"}),
        Event("warning", {"code": "untrusted", "pid": "p3"}),
    )
    assert "names no facilitator key" in text
    assert "Sam is not verified by a facilitator" in text


def test_keys_under_ones_own_name_that_are_not_ones_own_are_shown() -> None:
    text = shown(Event("warning", {"code": "keys_mismatch", "pid": "p1"}))
    assert "keys under your name that are not yours" in text


def test_unreadable_messages_say_so() -> None:
    text = shown(Event("msg", {"t": "msg", "id": 1, "from": "p2", "payload": b"x"}))
    assert "[1] Robin: (unreadable message)" in text


def test_chatclient_link_appends_the_facilitator_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "keys" / "alex.identity"
    co = IdentityKey.generate().fragment
    url = "http://127.0.0.1:8000/join#seat=TOKEN"
    args = ["link", url, "--user", "alex", "--identity", str(key_file), "--co-facilitator", co]
    assert main(args) == 0
    printed = capsys.readouterr().out.strip()
    mine = IdentityKey.load(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert printed.startswith(url + "&f=")
    assert identities_from_link(printed) == [mine.public, identities_from_link("#" + co)[0]]
    assert main(args) == 0  # the same key the next time
    assert capsys.readouterr().out.strip() == printed


def test_the_default_key_file_is_per_account_under_the_config_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_identity_path("alex") == tmp_path / "safespace" / "alex.identity"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_identity_path("alex") == tmp_path / ".config" / "safespace" / "alex.identity"


def test_a_bad_co_facilitator_key_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["link", "http://h/join#seat=T", "--user", "a", "--identity", str(tmp_path / "k")]
    assert main([*args, "--co-facilitator", "not-a-key"]) == 1
    assert "!" in capsys.readouterr().err
