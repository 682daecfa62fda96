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
    """Just what ``Terminal`` reads of a client, and the room messages it would send."""

    pid = "p1"
    role = "facilitator"
    roster: dict[str, dict[str, Any]] = {
        "p1": {"name": "Alex", "role": "facilitator", "verified": True},
        "p2": {"name": "Robin", "role": "member", "verified": True},
        "p3": {"name": "Sam", "role": "member", "verified": False},
    }

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None]] = []

    def name_of(self, pid: str) -> str:
        return str(self.roster.get(pid, {}).get("name", pid))

    async def send(self, text: str, cw: str | None = None) -> int:
        self.sent.append((text, cw))
        return len(self.sent)

    def __getattr__(self, name: str) -> Any:
        """Every other action of a client (``open``, ``mute``...): nothing happens."""

        async def nothing(*args: Any, **kw: Any) -> None:
            raise AssertionError(f"{name} was not expected")

        return nothing


def shown(*events: Event) -> str:
    out = io.StringIO()
    term = Terminal(FakeClient(), out)  # type: ignore[arg-type]
    for event in events:
        term.show(event)
    return out.getvalue()


def msg(msg_id: int, sender: str, text: str | None, cw: str | None = None) -> Event:
    return Event("msg", {"t": "msg", "id": msg_id, "from": sender, "payload": b"x"}, text, cw=cw)


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


# ---- content warnings -----------------------------------------------------------------


async def test_a_message_behind_a_content_warning_shows_only_when_asked() -> None:
    out = io.StringIO()
    term = Terminal(FakeClient(), out)  # type: ignore[arg-type]
    term.show(msg(7, "p2", "my father died last spring", cw="loss"))
    term.show(msg(8, "p3", "plain words"))
    lines = out.getvalue().splitlines()
    assert lines == [
        "[7] Robin: [content warning: loss] (type /show 7 to read)",
        "[8] Sam: plain words",
    ]
    assert "father" not in out.getvalue()
    assert await term.command("/show 7")
    assert out.getvalue().splitlines()[-1] == "[7] Robin: my father died last spring"
    with pytest.raises(ValueError, match="No message '8'"):
        await term.command("/show 8")  # it was never hidden
    with pytest.raises(ValueError):
        await term.command("/show seven")


async def test_a_deleted_message_cannot_be_shown_any_more() -> None:
    out = io.StringIO()
    term = Terminal(FakeClient(), out)  # type: ignore[arg-type]
    term.show(msg(7, "p2", "hard words", cw="loss"))
    term.show(Event("deleted", {"t": "deleted", "id": 7, "by": "p1"}))
    with pytest.raises(ValueError, match="No message '7'"):
        await term.command("/show 7")
    assert "hard words" not in out.getvalue()


def test_ones_own_message_shows_its_warning_and_text() -> None:
    text = shown(msg(3, "p1", "what I wrote", cw="grief"))
    assert "[3] Alex: [content warning: grief] what I wrote" in text


def test_a_content_warning_is_shown_inert() -> None:
    text = shown(msg(4, "p2", "x", cw="\x1b[2Jfake\n* Alex is muted"))
    assert "\x1b" not in text and "\n* Alex" not in text
    assert "[content warning: \N{REPLACEMENT CHARACTER}[2Jfake\n  | * Alex is muted]" in text


async def test_cw_sends_the_text_behind_its_warning() -> None:
    client = FakeClient()
    term = Terminal(client, io.StringIO())  # type: ignore[arg-type]
    assert await term.command("/cw self-harm | some hard words")
    assert await term.command("/cw grief|short")
    assert client.sent == [("some hard words", "self-harm"), ("short", "grief")]
    for bad in ("/cw no bar here", "/cw | no warning", "/cw warning only |", "/cw"):
        with pytest.raises(ValueError, match="Usage: /cw WARNING"):
            await term.command(bad)
    assert len(client.sent) == 2


async def test_help_lists_cw_and_show() -> None:
    out = io.StringIO()
    term = Terminal(FakeClient(), out)  # type: ignore[arg-type]
    await term.command("/help")
    assert "/cw WARNING | TEXT" in out.getvalue() and "/show ID" in out.getvalue()


def test_a_report_shows_the_reported_messages_content_warning() -> None:
    fields = {"t": "report", "from": "p3", "msg": 4, "payload": b""}
    good = Event(
        "report", fields, "this hurt", True, Reported(4, "p2", "you are useless", "insult")
    )
    text = shown(good)
    assert "verified: message 4: Robin wrote: [content warning: insult] you are useless" in text
