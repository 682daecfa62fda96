"""Content rules on a client, without a server: the signed statement, the
send and receive decisions (``clients.content``) and what the terminal does.

The texts come from tests/vectors/content.json (their categories are known);
test_content_live.py proves the same through the real server.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from clients.client import ChatClient, Event
from clients.content import (
    ContentBlocked,
    ContentGuard,
    ContentNeedsConfirmation,
    sender_cw,
    union_cw,
)
from clients.e2ee import CannotSeal, E2EECodec, E2EEError, IdentityKey, Why
from clients.e2ee.content_rules import (
    checked_tuning,
    content_rules_statement,
    sign_content_rules,
)
from clients.payload import PlainCodec
from clients.terminal import Terminal
from moderation.content import TUNING_FORMAT, default_policy
from rooms.links import b64u_encode

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "content.json").read_text("utf-8")
)


def vector(*categories: str) -> str:
    for case in VECTORS["cases"]:
        if tuple(case["categories"]) == categories:
            return str(case["text"])
    raise LookupError(categories)


THREAT = vector("threats")  # block, alert
VIOLENCE = vector("violence")  # cw
SELF_HARM = vector("self_harm")  # cw, alert
TWO_LABELS = vector("self_harm", "substances")  # two cw labels, one alert
INSULT = vector("insults")  # warn
INNOCENT = vector()  # nothing
GROUP = "g_3f9a1c2b7d4e"
TUNING = json.dumps({"format": TUNING_FORMAT, "categories": {"insults": {"action": "block"}}})
LABELS = {c.id: c.label for c in default_policy().categories}
MESSAGES = {c.id: c.message for c in default_policy().categories}


# ---- the signed statement (docs/e2ee.md section 11) -------------------------------------


def test_the_statement_is_label_group_version_time_and_tuning_length_prefixed() -> None:
    label = b"safespace/v2/content-rules"
    expected = (
        len(label).to_bytes(2, "big")
        + label
        + len(GROUP).to_bytes(2, "big")
        + GROUP.encode()
        + (3).to_bytes(4, "big")
        + (1_700_000_000_123).to_bytes(8, "big")
        + len(TUNING.encode()).to_bytes(2, "big")
        + TUNING.encode()
    )
    assert content_rules_statement(GROUP, TUNING, 3, 1_700_000_000_123) == expected
    # UTF-8 lengths, not characters.
    assert content_rules_statement(GROUP, "é", 1, 0)[-3:] == b"\x00\x02\xc3\xa9"[-3:]


def test_signed_rules_check_only_for_a_trusted_identity_and_the_same_group() -> None:
    me, other = IdentityKey(bytes(range(32))), IdentityKey.generate()
    rules = sign_content_rules(me, GROUP, TUNING)
    assert set(rules) == {"tuning", "by", "sig", "version", "signed_at"}
    assert rules["tuning"] == TUNING and rules["by"] == b64u_encode(me.public)
    assert len(rules["sig"]) == 86 and "=" not in rules["sig"]
    assert sign_content_rules(me, GROUP, TUNING) == rules  # Ed25519 is deterministic
    assert checked_tuning(rules, GROUP, [other.public, me.public]) == TUNING
    assert checked_tuning(None, GROUP, [me.public]) is None
    refused: list[Any] = [
        (rules, GROUP, [other.public]),  # not a trusted signer
        (rules, GROUP, []),  # unverified link mode: nobody to check against
        (rules, "g_other", [me.public]),  # signed for another group
        ({**rules, "tuning": TUNING + " "}, GROUP, [me.public]),  # not the signed text
        ({**rules, "by": b64u_encode(other.public)}, GROUP, [other.public, me.public]),
        ({**rules, "sig": rules["sig"][:-2] + "AA"}, GROUP, [me.public]),
        ({**rules, "sig": rules["sig"] + "="}, GROUP, [me.public]),
        ({**rules, "by": "short"}, GROUP, [me.public]),
        ({"tuning": TUNING, "by": rules["by"]}, GROUP, [me.public]),
        ({**rules, "tuning": 5}, GROUP, [me.public]),
        ("not a map", GROUP, [me.public]),
    ]
    for args in refused:
        with pytest.raises(E2EEError) as info:
            checked_tuning(*args)
        assert info.value.why == Why.RULES_UNVERIFIED


# ---- cw in the body, cw shown ---------------------------------------------------------------


def test_labels_join_the_senders_own_warning_within_the_cap() -> None:
    assert sender_cw(None, []) is None
    assert sender_cw("  grief ", []) == "grief"
    assert sender_cw(None, ["Threats"]) == "Threats"
    assert sender_cw("grief", ["A", "B"]) == "grief, A, B"
    assert sender_cw("A", ["A", "B"]) == "A, B"  # not repeated
    own = "x" * 70
    # 70 + ", " + 8 = 80 fits; the next label would not, and is left out, not cut.
    assert sender_cw(own, ["12345678", "Threats"]) == f"{own}, 12345678"
    assert sender_cw(own, ["a label too long to fit", "ok"]) == f"{own}, ok"
    assert sender_cw("y" * 80, ["Threats"]) == "y" * 80
    with pytest.raises(CannotSeal):
        sender_cw("y" * 81, [])


def test_receivers_add_the_labels_the_body_lacks() -> None:
    assert union_cw(None, []) is None
    assert union_cw(None, ["A", "B"]) == "A, B"
    assert union_cw("A", ["A", "B"]) == "A, B"
    assert union_cw("grief, A", ["A", "B"]) == "grief, A, B"
    assert union_cw("grief", []) == "grief"


# ---- the guard -------------------------------------------------------------------------------


def test_a_blocked_message_raises_with_categories_messages_and_alerts_never_text() -> None:
    guard = ContentGuard()
    with pytest.raises(ContentBlocked) as info:
        guard.check_send(THREAT, "my own warning")
    e = info.value
    assert e.code == "content_blocked"
    assert e.categories == ("threats",) and e.alerts == ("threats",)
    assert e.messages == (MESSAGES["threats"],)
    assert THREAT not in f"{e} {e!r} {e.args} {e.detail} {e.messages}"


def test_block_wins_over_warn_and_confirming_does_not_unblock() -> None:
    both = vector("threats", "insults")
    with pytest.raises(ContentBlocked) as info:
        ContentGuard().check_send(both, confirm_warn=True)
    assert info.value.categories == ("threats",)


def test_a_warn_needs_confirming_and_then_goes_without_a_label() -> None:
    guard = ContentGuard()
    with pytest.raises(ContentNeedsConfirmation) as info:
        guard.check_send(INSULT)
    assert info.value.code == "content_needs_confirmation"
    assert info.value.categories == ("insults",)
    assert info.value.messages == (MESSAGES["insults"],)
    assert INSULT not in f"{info.value} {info.value.args} {info.value.detail}"
    out = guard.check_send(INSULT, confirm_warn=True)
    assert out.cw is None and out.alerts == () and out.confirmed == ("insults",)


def test_cw_labels_join_and_alerts_are_named() -> None:
    guard = ContentGuard()
    out = guard.check_send(TWO_LABELS, "mine")
    assert out.labels == (LABELS["self_harm"], LABELS["substances"])
    assert out.cw == f"mine, {LABELS['self_harm']}, {LABELS['substances']}"
    assert out.alerts == ("self_harm",)
    clear = guard.check_send(INNOCENT)
    assert clear.cw is None and clear.alerts == () and clear.labels == ()


def test_a_receiver_labels_what_a_sender_left_out_block_included() -> None:
    guard = ContentGuard()
    got = guard.check_received(THREAT, None)
    assert got.cw == LABELS["threats"] and got.alerts == ("threats",)
    got = guard.check_received(SELF_HARM, f"own, {LABELS['self_harm']}")
    assert got.cw == f"own, {LABELS['self_harm']}"
    assert guard.check_received(INNOCENT, "own").cw == "own"


def test_a_checked_tuning_applies_and_anything_else_leaves_the_shipped_rules() -> None:
    fac = IdentityKey.generate()
    guard = ContentGuard([fac.public])
    assert guard.set_rules(GROUP, sign_content_rules(fac, GROUP, TUNING))
    assert guard.tuning == TUNING and not guard.unverified
    with pytest.raises(ContentBlocked):
        guard.check_send(INSULT, confirm_warn=True)
    # Signed by someone else: shipped rules, and the caller warns.
    assert not guard.set_rules(GROUP, sign_content_rules(IdentityKey.generate(), GROUP, TUNING))
    assert guard.tuning is None and guard.unverified
    with pytest.raises(ContentNeedsConfirmation):
        guard.check_send(INSULT)
    # Signed by a trusted facilitator but not a tuning the engine can apply.
    bad = json.dumps({"format": TUNING_FORMAT, "categories": {"nope": {"action": "off"}}})
    assert not guard.set_rules(GROUP, sign_content_rules(fac, GROUP, bad))
    assert guard.policy is default_policy()
    # None: the shipped rules, nothing to warn about.
    assert guard.set_rules(GROUP, None) and not guard.unverified
    # Nobody trusted (a link without f=): a signed tuning cannot be checked.
    assert not ContentGuard().set_rules(GROUP, sign_content_rules(fac, GROUP, TUNING))


def test_rules_are_on_by_default_with_encryption_only() -> None:
    ws: Any = None
    assert ChatClient(ws, PlainCodec()).content is None
    assert ChatClient(ws, PlainCodec(), content_rules=True).content is not None
    fac = IdentityKey.generate()
    co = IdentityKey.generate().public
    client = ChatClient(ws, E2EECodec.facilitator(fac, [co]))
    assert client.content is not None and client.content.trusted == (fac.public, co)
    member = ChatClient(ws, E2EECodec.member(f"https://x/join#seat=T&{fac.fragment}"))
    assert member.content is not None and member.content.trusted == (fac.public,)
    assert ChatClient(ws, E2EECodec.member(""), content_rules=False).content is None


# ---- the terminal ----------------------------------------------------------------------------


class FakeClient:
    """What ``Terminal`` uses of a client: a real guard, and sends recorded."""

    pid = "p1"
    role = "facilitator"
    identity = None
    group_id = GROUP
    roster: dict[str, dict[str, Any]] = {
        "p1": {"name": "Alex", "role": "facilitator"},
        "p2": {"name": "Robin", "role": "member"},
    }

    def __init__(self) -> None:
        self.content = ContentGuard()
        self.sent: list[tuple[str, str | None]] = []
        self.alerts: list[str] = []

    def name_of(self, pid: str) -> str:
        return str(self.roster.get(pid, {}).get("name", pid))

    async def send(self, text: str, cw: str | None = None, *, confirm_warn: bool = False) -> int:
        try:
            out = self.content.check_send(text, cw, confirm_warn=confirm_warn)
        except ContentBlocked as e:
            self.alerts.extend(e.alerts)
            raise
        self.sent.append((text, out.cw))
        self.alerts.extend(out.alerts)
        return len(self.sent)

    def __getattr__(self, name: str) -> Any:
        """Every other action of a client (``open``, ``mute``...): not expected here."""

        async def nothing(*args: Any, **kw: Any) -> None:
            raise AssertionError(f"{name} was not expected")

        return nothing


def terminal() -> tuple[Terminal, FakeClient, io.StringIO]:
    client, out = FakeClient(), io.StringIO()
    return Terminal(client, out), client, out  # type: ignore[arg-type]


async def test_the_terminal_says_why_a_message_is_blocked_and_sends_nothing() -> None:
    term, client, out = terminal()
    assert await term.command(THREAT)
    assert client.sent == [] and client.alerts == ["threats"]
    shown = out.getvalue()
    assert "Not sent" in shown and MESSAGES["threats"] in shown
    assert THREAT not in shown


async def test_the_terminal_asks_to_confirm_a_warn_with_send_bang() -> None:
    term, client, out = terminal()
    assert await term.command(INSULT)
    assert client.sent == []
    assert MESSAGES["insults"] in out.getvalue() and "/send! TEXT" in out.getvalue()
    assert await term.command(f"/send! {INSULT}")
    assert client.sent == [(INSULT, None)]
    assert await term.command(f"/cw rude | {INSULT}")
    assert "/cw! WARNING | TEXT" in out.getvalue() and len(client.sent) == 1
    assert await term.command(f"/cw! rude | {INSULT}")
    assert client.sent[-1] == (INSULT, "rude")


async def test_the_terminal_sends_labels_in_the_body_and_shows_them() -> None:
    term, client, out = terminal()
    assert await term.command(VIOLENCE)
    assert client.sent == [(VIOLENCE, LABELS["violence"])]
    term.show(Event("msg", {"id": 5, "from": "p2"}, VIOLENCE, cw=LABELS["violence"]))
    assert f"[5] Robin: [content warning: {LABELS['violence']}] (type /show 5" in out.getvalue()
    assert VIOLENCE not in out.getvalue()


def test_the_terminal_shows_content_alerts_without_text() -> None:
    term, client, out = terminal()
    sent = {"id": 4, "kind": "content", "category": "self_harm", "from": "p2", "count": 2}
    term.show(Event("alert", sent))
    fields = {"kind": "content", "category": "self_harm", "from": "p2", "local": True, "msg": 9}
    term.show(Event("alert", fields))
    term.show(Event("warning", {"code": "rules_unverified"}))
    lines = out.getvalue().splitlines()
    assert lines[0] == f"(alert) Robin: content: {LABELS['self_harm']} (self_harm)"
    assert lines[1] == "  alert 4 (2 times): /handled 4 once you have checked in"
    assert lines[2] == f"(content alert) message 9 from Robin: {LABELS['self_harm']} (self_harm)"
    assert "not signed by a facilitator" in lines[3]


async def test_rules_lists_the_categories_and_actions_in_force() -> None:
    term, client, out = terminal()
    fac = IdentityKey.generate()
    client.content = ContentGuard([fac.public])
    client.content.set_rules(GROUP, sign_content_rules(fac, GROUP, TUNING))
    assert await term.command("/rules")
    shown = out.getvalue()
    assert "tuned" in shown
    assert "  insults: block (Insults)" in shown
    assert "  self_harm: cw, alerts the facilitators (Suicide or self-harm)" in shown
    await term.command("/help")
    assert "/rule CATEGORY ACTION" in out.getvalue() and "/send! TEXT" in out.getvalue()


async def test_rule_needs_a_login_and_a_known_category() -> None:
    term, client, out = terminal()
    with pytest.raises(ValueError, match="login"):
        await term.command("/rule insults block")
