"""Versioned content-rules tunings (docs/e2ee.md section 11) on the Python side.

The shared vectors (tests/vectors/tuning.json, made by
tests/vectors/make_tuning_vectors.py; tests/web/tuning.test.mjs runs them in
the browser's engine): statements, signatures, rejects and what a client does
shown several tunings in one session. Then a replay refused by the client (the
rules in force stay, ``rules_replayed``), the terminal's signer taking the
next version, and the facilitator's own link carrying only its keys.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import pytest

from clients.client import ChatClient, Event
from clients.content import RULES_REPLAYED, RULES_UNVERIFIED, ContentGuard
from clients.e2ee import E2EEError, IdentityKey, Why
from clients.e2ee.content_rules import (
    checked_rules,
    checked_tuning,
    content_rules_statement,
    sign_content_rules,
)
from clients.payload import PlainCodec
from clients.terminal import Api, Terminal
from rooms.links import (
    FOREIGN_KEY_NOTICE,
    b64u_decode,
    b64u_encode,
    foreign_keys,
    identities_from_link,
    link_trusting,
)

HERE = Path(__file__).resolve().parents[1] / "vectors"
VECTORS_FILE = HERE / "tuning.json"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_tuning_vectors", HERE / "make_tuning_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_tuning_vectors = _generator()
VECTORS: dict[str, Any] = json.loads(VECTORS_FILE.read_text("utf-8"))
GROUP = VECTORS["group_id"]
FAC = IdentityKey(bytes.fromhex(VECTORS["signers"]["fac"]["seed"]))
TRUSTED = [b64u_decode(k) for k in VECTORS["trusted"]]
TUNINGS = {t["name"]: t for t in VECTORS["tunings"]}
REJECTS = {r["name"]: r for r in VECTORS["rejects"]}


# ---- the vectors ----------------------------------------------------------------------------


def test_the_checked_in_vectors_are_what_the_script_makes() -> None:
    built = make_tuning_vectors.render(make_tuning_vectors.build())
    assert VECTORS_FILE.read_text("utf-8") == built
    assert VECTORS["label"] == "safespace/v2/content-rules"
    assert len(VECTORS["tunings"]) >= 5 and len(VECTORS["rejects"]) >= 15
    assert len(VECTORS["sequences"]) >= 5


@pytest.mark.parametrize("case", VECTORS["tunings"], ids=lambda t: t["name"])
def test_every_tuning_has_its_statement_and_signature_and_verifies(case: dict[str, Any]) -> None:
    text, version, signed_at = case["tuning"], case["version"], case["signed_at"]
    statement = content_rules_statement(case["group_id"], text, version, signed_at)
    assert statement.hex() == case["statement"]
    assert (
        sign_content_rules(FAC, case["group_id"], text, version, signed_at)
        == (case["content_rules"])
    )
    checked = checked_rules(case["content_rules"], case["group_id"], TRUSTED)
    assert checked is not None
    assert (checked.tuning, checked.version, checked.signed_at) == (text, version, signed_at)


@pytest.mark.parametrize("case", VECTORS["rejects"], ids=lambda r: r["name"])
def test_every_reject_is_refused(case: dict[str, Any]) -> None:
    with pytest.raises(E2EEError) as info:
        checked_tuning(case["content_rules"], case["group_id"], TRUSTED)
    assert info.value.why == Why.RULES_UNVERIFIED == case["why"]


def shown(name: str | None) -> Any:
    if name is None:
        return None
    if name.startswith("reject:"):
        return REJECTS[name.removeprefix("reject:")]["content_rules"]
    return TUNINGS[name]["content_rules"]


@pytest.mark.parametrize("case", VECTORS["sequences"], ids=lambda s: s["name"])
def test_a_client_shown_tunings_in_turn_does_what_the_vectors_say(case: dict[str, Any]) -> None:
    guard = ContentGuard(TRUSTED)
    for name, expect, in_force in zip(case["shown"], case["expect"], case["in_force"], strict=True):
        ok = guard.set_rules(GROUP, shown(name))
        got = (
            "applied"
            if ok
            else {RULES_UNVERIFIED: "unverified", RULES_REPLAYED: "replayed"}[str(guard.warning)]
        )
        assert got == expect, name
        assert guard.tuning == (None if in_force is None else TUNINGS[in_force]["tuning"]), name


# ---- replays and old signatures ----------------------------------------------------------------


def test_an_older_tuning_is_refused_and_the_rules_in_force_stay() -> None:
    guard = ContentGuard([FAC.public])
    newer = sign_content_rules(FAC, GROUP, TUNINGS["second"]["tuning"], 5, 2_000)
    older = sign_content_rules(FAC, GROUP, TUNINGS["first"]["tuning"], 4, 3_000)
    assert guard.set_rules(GROUP, newer) and guard.warning is None
    policy = guard.policy
    assert not guard.set_rules(GROUP, older)
    assert guard.warning == RULES_REPLAYED
    assert guard.tuning == TUNINGS["second"]["tuning"] and guard.policy is policy
    assert not guard.unverified  # the rules in force are checked ones
    # The memory outlives the shipped rules: none, then the old one again.
    assert guard.set_rules(GROUP, None) and guard.tuning is None
    assert not guard.set_rules(GROUP, older) and guard.warning == RULES_REPLAYED
    assert guard.tuning is None
    # A newer one still goes in; the signer's next version is above all seen.
    assert guard.set_rules(
        GROUP, sign_content_rules(FAC, GROUP, TUNINGS["third"]["tuning"], 5, 2_001)
    )
    assert guard.next_version() == 6


def test_a_tuning_signed_under_the_v1_label_does_not_verify() -> None:
    text = TUNINGS["first"]["tuning"]
    old = REJECTS["v1_label_as_v1_had_it"]["content_rules"]
    assert set(old) == {"tuning", "by", "sig"} and old["tuning"] == text
    guard = ContentGuard([FAC.public])
    assert not guard.set_rules(GROUP, old)
    assert guard.warning == RULES_UNVERIFIED and guard.unverified and guard.tuning is None
    # Even given a version: the v1 signature is over another statement.
    assert not guard.set_rules(GROUP, {**old, "version": 1, "signed_at": 0})
    assert guard.warning == RULES_UNVERIFIED


def test_the_client_warns_rules_replayed_and_keeps_the_rules() -> None:
    client = ChatClient(cast(Any, None), PlainCodec(), content_rules=True)
    client.content = ContentGuard([FAC.public])
    client.group_id = GROUP
    client._content_rules({"t": "content_rules", "rules": shown("third")})
    client._content_rules({"t": "content_rules", "rules": shown("first")})
    warnings = [e.fields for e in client.history if e.type == "warning"]
    assert warnings == [{"code": RULES_REPLAYED}]
    assert client.content.tuning == TUNINGS["third"]["tuning"]
    assert {"code": RULES_UNVERIFIED} not in client.warnings()
    client._content_rules({"t": "content_rules", "rules": shown("reject:stranger")})
    assert [e.fields for e in client.history if e.type == "warning"][-1] == {
        "code": RULES_UNVERIFIED
    }


def test_the_terminal_says_what_a_replay_means() -> None:
    out = io.StringIO()
    term = Terminal(cast(ChatClient, Room()), out)
    term.show(Event("warning", {"code": RULES_REPLAYED}))
    assert "older version" in out.getvalue() and "refused" in out.getvalue()


# ---- the terminal signs the next version -----------------------------------------------------


class Room:
    pid, role, group_id = "p1", "facilitator", GROUP
    roster: dict[str, dict[str, Any]] = {}

    def __init__(self) -> None:
        self.content = ContentGuard([FAC.public])
        self.identity = FAC

    def name_of(self, pid: str) -> str:
        return pid


class Server:
    def __init__(self) -> None:
        self.set: list[tuple[str, dict[str, Any]]] = []

    def set_content_rules(self, group_id: str, rules: dict[str, Any]) -> None:
        self.set.append((group_id, rules))


async def test_rule_signs_one_more_than_the_version_in_force_and_now() -> None:
    room, server = Room(), Server()
    term = Terminal(cast(ChatClient, room), io.StringIO(), [FAC.public], cast(Api, server))
    await term.command("/rule insults block")
    ((_, first),) = server.set
    assert first["version"] == 1 and first["signed_at"] > 1_700_000_000_000
    assert checked_tuning(first, GROUP, [FAC.public]) == first["tuning"]
    room.content.set_rules(GROUP, shown("third"))  # version 3 comes back from elsewhere
    await term.command("/rule insults cw")
    assert server.set[-1][1]["version"] == 4
    # An unchecked group's rules still count: the next tuning sorts above them.
    room.content.set_rules(GROUP, {**shown("extremes"), "sig": shown("third")["sig"]})
    await term.command("/rule insults warn")
    assert server.set[-1][1]["version"] == 0xFFFF_FFFF  # capped at the largest u32


# ---- a facilitator's link carries exactly its own keys ------------------------------------------


def test_link_trusting_replaces_every_key_and_foreign_keys_names_them() -> None:
    mine, co, theirs = (IdentityKey.generate().public for _ in range(3))
    planted = (
        f"https://chat.example/join#seat=TOKEN&f={b64u_encode(theirs)}"
        f"&f={b64u_encode(mine)}&f=damaged"
    )
    made = link_trusting(planted, [mine, co])
    assert made == f"https://chat.example/join#seat=TOKEN&f={b64u_encode(mine)}&f={b64u_encode(co)}"
    assert identities_from_link(made) == [mine, co]
    assert foreign_keys(planted, [mine, co]) == [b64u_encode(theirs), "damaged"]
    assert foreign_keys(made, [mine, co]) == []
    assert foreign_keys("seat=TOKEN", [mine]) == []


async def test_the_terminal_link_command_warns_of_a_key_it_replaced() -> None:
    out = io.StringIO()
    term = Terminal(cast(ChatClient, Room()), out, [FAC.public])
    stranger = b64u_encode(IdentityKey.generate().public)
    await term.command(f"/link http://h/join#seat=T&f={stranger}")
    lines = out.getvalue().splitlines()
    assert lines == [f"! {FOREIGN_KEY_NOTICE}", f"http://h/join#seat=T&f={b64u_encode(FAC.public)}"]
    out.truncate(0)
    out.seek(0)
    await term.command(f"/link http://h/join#seat=T&f={b64u_encode(FAC.public)}")
    assert FOREIGN_KEY_NOTICE not in out.getvalue()


def test_chatclient_link_warns_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from clients import terminal

    monkeypatch.setattr(terminal, "_identity", lambda args: FAC)
    stranger = b64u_encode(IdentityKey.generate().public)
    assert terminal.main(["link", f"http://h/join#seat=T&f={stranger}", "--user", "alex"]) == 0
    got = capsys.readouterr()
    assert got.out.strip() == f"http://h/join#seat=T&f={b64u_encode(FAC.public)}"
    assert FOREIGN_KEY_NOTICE in got.err
