"""Content rules on the clients, through the real server (issue 5).

The texts come from tests/vectors/content.json, so the categories and
actions they trip are known: a ``block`` never leaves the sender, a ``cw``
arrives behind its label everywhere, a ``warn`` needs confirming, an
``alert`` reaches the facilitators as a category without text, receivers add
labels a sender left out, and a group's tuning counts only when a facilitator
the client trusts signed it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import PASSWORD, Env
from test_e2ee_live import Wire, read, ready, verified_room

from clients.client import ChatClient, ContentBlocked, ContentNeedsConfirmation, Event
from clients.e2ee import IdentityKey, sign_content_rules
from clients.terminal import Api, Terminal
from moderation.content import TUNING_FORMAT

VECTORS = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "content.json").read_text("utf-8")
)


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    yield Wire(monkeypatch)


def vector(*categories: str) -> str:
    """The first labelled text whose categories are exactly ``categories``."""
    for case in VECTORS["cases"]:
        if tuple(case["categories"]) == categories:
            return str(case["text"])
    raise LookupError(categories)


THREAT = vector("threats")  # block, alert
VIOLENCE = vector("violence")  # cw "Violence or abuse", no alert
SELF_HARM = vector("self_harm")  # cw "Suicide or self-harm", alert
INSULT = vector("insults")  # warn


def no_text(text: str, *things: Any) -> None:
    """Privacy: none of ``things`` (events, errors, frames) carries the message text."""
    for thing in things:
        shown = str(thing.fields) if isinstance(thing, Event) else f"{thing!r} {thing}"
        assert text not in shown, thing
        if isinstance(thing, ContentBlocked | ContentNeedsConfirmation):
            assert text not in repr((thing.args, thing.detail, thing.messages))


async def content_alerts(fac: ChatClient, n: int) -> list[Event]:
    return [await fac.next("alert") for _ in range(n)]


async def test_a_blocked_message_never_leaves_the_sender_and_facilitators_get_its_category(
    env: Env, wire: Wire
) -> None:
    gid, fac, (ann, ben), _ = await verified_room(env, ["Ann", "Ben"])
    with pytest.raises(ContentBlocked) as info:
        await ann.send(THREAT)
    blocked = info.value
    assert blocked.categories == ("threats",) and blocked.alerts == ("threats",)
    assert blocked.messages == (ann.content.policy.category("threats").message,)  # type: ignore[union-attr]
    alert = await fac.next("alert")
    assert alert.fields["kind"] == "content" and alert.fields["category"] == "threats"
    assert alert.fields["from"] == ann.pid
    # Nobody gets a message, and the text crossed no wire (it was never sealed).
    for c in (fac, ann, ben):
        await c.nothing("msg")
    await ben.nothing("alert")
    assert not wire.holds(THREAT.encode())
    no_text(THREAT, alert, blocked)


async def test_a_cw_message_arrives_behind_its_label_at_every_receiver(env: Env) -> None:
    gid, fac, (ann, ben, cat), _ = await verified_room(env, ["Ann", "Ben", "Cat"])
    await ann.send(VIOLENCE)
    for c in (fac, ann, ben, cat):
        got = await read(c)
        assert got.text == VIOLENCE and got.cw == "Violence or abuse"
    # The sender's own warning comes first, the label after it.
    await ben.send(VIOLENCE, cw="hard to read")
    for c in (fac, ann, ben, cat):
        assert (await read(c)).cw == "hard to read, Violence or abuse"
    await fac.nothing("alert")  # violence does not alert


async def test_an_alert_category_reaches_the_facilitator_as_a_category_without_text(
    env: Env, wire: Wire
) -> None:
    gid, fac, (ann, ben), _ = await verified_room(env, ["Ann", "Ben"])
    await ann.send(SELF_HARM)
    got = await read(ben)
    assert got.cw == "Suicide or self-harm" and got.text == SELF_HARM
    await ben.nothing("alert")  # members get no alerts
    seen = await content_alerts(fac, 2)
    # The facilitator's own client flags the message it opened (once), and the
    # sender's client told the server the category: neither says what it said.
    local = [a for a in seen if a.get("local")]
    relayed = [a for a in seen if not a.get("local")]
    assert len(local) == 1 and len(relayed) == 1
    assert local[0].fields == {
        "kind": "content",
        "category": "self_harm",
        "from": ann.pid,
        "local": True,
        "msg": got["id"],
    }
    assert relayed[0]["category"] == "self_harm" and relayed[0]["from"] == ann.pid
    await fac.nothing("alert")
    no_text(SELF_HARM, *seen)
    assert not wire.holds(SELF_HARM.encode())


async def test_a_warn_message_needs_confirming(env: Env) -> None:
    gid, fac, (ann, ben), _ = await verified_room(env, ["Ann", "Ben"])
    with pytest.raises(ContentNeedsConfirmation) as info:
        await ann.send(INSULT)
    assert info.value.categories == ("insults",)
    assert info.value.messages == (ann.content.policy.category("insults").message,)  # type: ignore[union-attr]
    no_text(INSULT, info.value)
    for c in (fac, ben):
        await c.nothing("msg", "alert")
    await ann.send(INSULT, confirm_warn=True)
    got = await read(ben)
    assert got.text == INSULT and got.cw is None  # warn asks the sender only


async def test_receivers_add_the_labels_a_sender_left_out(env: Env) -> None:
    gid, fac, (ann,), link = await verified_room(env, ["Ann"])
    # A client whose content rules are off: a modified client, as far as anyone knows.
    mal = await env.member(await link(), "Mal", e2ee=True, content_rules=False)
    assert mal.content is None
    await fac.next("joined")
    await ready(fac, ann, mal)
    await mal.send(THREAT)
    for c in (fac, ann):
        got = await read(c, sender=mal.pid)
        assert got.text == THREAT and got.cw == "Threats"
    alert = await fac.next("alert")  # the facilitator's own client: the sender sent none
    assert alert.fields == {
        "kind": "content",
        "category": "threats",
        "from": mal.pid,
        "local": True,
        "msg": got["id"],
    }
    await fac.nothing("alert")
    await ann.nothing("alert")


async def test_rules_are_off_by_default_without_encryption(env: Env) -> None:
    gid, fac, (plain,) = await env.room(members=1)
    assert fac.content is None and plain.content is None
    await fac.start()
    await plain.send(THREAT)  # the relay's tests send anything as it is
    assert (await fac.next("msg")).cw is None


async def api_patch(env: Env, gid: str, rules: dict[str, str] | None) -> None:
    async with env.http() as http:
        r = await http.post("/api/login", json={"name": "alex", "password": PASSWORD})
        assert r.status_code == 200, r.text
        token = r.json()["token"]
        r = await http.patch(
            f"/api/groups/{gid}",
            headers={"Authorization": f"Bearer {token}"},
            json={"content_rules": rules},
        )
        assert r.status_code == 200, r.text


TUNING = json.dumps({"format": TUNING_FORMAT, "categories": {"insults": {"action": "block"}}})


async def test_a_facilitators_signed_tuning_reaches_members_and_takes_effect(env: Env) -> None:
    gid, fac, (ann, ben), link = await verified_room(env, ["Ann", "Ben"])
    assert fac.identity is not None
    await api_patch(env, gid, sign_content_rules(fac.identity, gid, TUNING))
    for c in (fac, ann, ben):
        await c.next("content_rules")
        assert c.content is not None and c.content.tuning == TUNING
        assert not c.content.unverified and c.warnings() == []
    with pytest.raises(ContentBlocked) as info:
        await ann.send(INSULT)
    assert info.value.categories == ("insults",)
    # A newcomer finds the tuning in its welcome.
    cal = await env.member(await link(), "Cal", e2ee=True)
    assert cal.content is not None and cal.content.tuning == TUNING
    with pytest.raises(ContentBlocked):
        await cal.send(INSULT)
    # Back to the shipped rules: a warn again.
    await api_patch(env, gid, None)
    await ann.next("content_rules")
    assert ann.content is not None and ann.content.tuning is None
    with pytest.raises(ContentNeedsConfirmation):
        await ann.send(INSULT)


async def test_a_tuning_signed_by_a_key_not_in_the_link_is_not_applied(env: Env) -> None:
    gid, fac, (ann,), link = await verified_room(env, ["Ann"])
    stranger = IdentityKey.generate()  # the server's, say: no link names it
    await api_patch(env, gid, sign_content_rules(stranger, gid, TUNING))
    await ann.next("content_rules")
    assert (await ann.next("warning"))["code"] == "rules_unverified"
    assert {"code": "rules_unverified"} in ann.warnings()
    assert ann.content is not None and ann.content.tuning is None
    # The shipped rules: an insult asks, it does not block.
    with pytest.raises(ContentNeedsConfirmation):
        await ann.send(INSULT)
    # A newcomer is warned at once; the facilitator, who did not sign it, too.
    cal = await env.member(await link(), "Cal", e2ee=True)
    assert (await cal.next("warning"))["code"] == "rules_unverified"
    assert (await fac.next("warning"))["code"] == "rules_unverified"
    # Signed for another group, the facilitator's own signature does not count either.
    assert fac.identity is not None
    await api_patch(env, gid, sign_content_rules(fac.identity, "g_other", TUNING))
    assert (await ann.next("warning"))["code"] == "rules_unverified"


async def test_a_link_without_facilitator_keys_cannot_check_any_tuning(env: Env) -> None:
    gid = await env.group()
    fac = await env.host(gid, e2ee=True)  # a key for this session only: links carry none
    assert fac.identity is not None
    await api_patch(env, gid, sign_content_rules(fac.identity, gid, TUNING))
    ann = await env.member(await env.link(gid), "Ann", e2ee=True)
    codes = {(await ann.next("warning"))["code"] for _ in range(2)}
    assert codes == {"unverified_link", "rules_unverified"}
    assert ann.content is not None and ann.content.tuning is None
    # The facilitator trusts its own key, so it applies the tuning.
    assert fac.content is not None
    await fac.next("content_rules")
    assert fac.content.tuning == TUNING


async def test_the_terminals_rule_command_signs_and_sets_a_tuning(env: Env) -> None:
    gid, fac, (ann,), _ = await verified_room(env, ["Ann"])
    out = io.StringIO()
    term = Terminal(fac, out, api=Api(env.url, "alex", PASSWORD))
    with pytest.raises(ValueError, match="No content category"):
        await term.command("/rule nonsense block")
    with pytest.raises(ValueError, match="Usage"):
        await term.command("/rule insults loud")
    assert await term.command("/rule insults block")
    await ann.next("content_rules")
    assert ann.content is not None and ann.content.policy.category("insults").action == "block"
    await fac.next("content_rules")
    assert await term.command("/rule substances off")
    await ann.next("content_rules")
    # The second change keeps the first: it starts from the tuning in force.
    assert ann.content.policy.category("insults").action == "block"
    assert ann.content.policy.category("substances").action == "off"
    assert ann.warnings() == []
    await fac.next("content_rules")
    assert await term.command("/rules")
    assert "  substances: off (Drugs or alcohol)" in out.getvalue()
    # A member's terminal has no /rule.
    member_out = io.StringIO()
    assert await Terminal(ann, member_out).command("/rule insults off")
    assert "Unknown command" in member_out.getvalue()
