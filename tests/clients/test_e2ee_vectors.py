"""The shared vectors (tests/vectors/e2ee.json): Python makes exactly these bytes,
accepts every message, distribution, private and report in them, and refuses
every reject, through the same codec the client uses."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from clients.e2ee import CannotOpen, CannotSeal, E2EECodec, IdentityKey
from clients.e2ee import primitives as p
from clients.e2ee.admission import (
    removal_statement,
    verify_removal,
    verify_vouch,
    vouch_statement,
)
from clients.e2ee.chains import message_key, step
from clients.e2ee.encoding import Body, ChainState, context, parse_text_body, text_body
from clients.payload import Opened

VECTORS = Path(__file__).parents[1] / "vectors"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_e2ee_vectors", VECTORS / "make_e2ee_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
V: dict[str, Any] = json.loads((VECTORS / "e2ee.json").read_text(encoding="utf-8"))
PEOPLE: dict[str, dict[str, Any]] = V["participants"]
CTX = V["ctx"]
PID_NAME = {v["pid"]: k for k, v in PEOPLE.items()}


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def test_the_checked_in_file_is_exactly_what_the_generator_makes() -> None:
    assert (VECTORS / "e2ee.json").read_text(encoding="utf-8") == GEN.render(GEN.build())


def test_the_file_has_the_agreed_shape() -> None:
    assert V["spec"] == "docs/e2ee.md" and V["version"] == 1
    assert set(PEOPLE) == {"alice", "bob", "carol", "fac"}
    for person in PEOPLE.values():
        assert {"pid", "role", "x_priv", "x_pub", "s_priv", "s_pub", "bundle"} <= set(person)
    assert {"identity_priv", "identity_pub"} <= set(PEOPLE["fac"])
    assert len(V["chain_steps"]) == 5
    assert len([m for m in V["messages"] if m["epoch"] == 0]) >= 5
    assert {m["epoch"] for m in V["messages"]} == {0, 1}
    pairs = {(d["sender"], d["recipient"]) for d in V["distributions"]}
    assert {("alice", "bob"), ("bob", "alice")} <= pairs
    assert [r["verified"] for r in V["reports"]].count(True) == 1
    assert [r["verified"] for r in V["reports"]].count(False) >= 1
    whats = {r["what"] for r in V["rejects"]}
    assert whats == {"message", "distribution", "private", "vouch"}
    # Content warnings (section 5): messages that carry one, bodies whose cw is
    # refused, and warnings as typed, trimmed or refused when sealing.
    assert len([m for m in V["messages"] if "cw" in m]) >= 2
    assert {"cw_not_a_string", "cw_empty", "cw_too_long"} <= {r["case"] for r in V["rejects"]}
    assert {"refused" in b for b in V["bodies"]} == {True, False}
    for value in _hex_values(V):
        assert value == value.lower()


def _hex_values(node: Any) -> list[str]:
    if isinstance(node, dict):
        words = ("text", "note", "cw", "cw_in_body")
        return [v for k, x in node.items() for v in _hex_values(x) if k not in words]
    if isinstance(node, list):
        return [v for x in node for v in _hex_values(x)]
    return (
        [node] if isinstance(node, str) and all(c in "0123456789abcdefABCDEF" for c in node) else []
    )


def test_keys_context_and_chain_steps() -> None:
    assert h(CTX["bytes"]) == context(CTX["group"], CTX["session"])
    for person in PEOPLE.values():
        assert p.x25519_public(h(person["x_priv"])).hex() == person["x_pub"]
        assert p.ed25519_public(h(person["s_priv"])).hex() == person["s_pub"]
        assert h(person["bundle"]) == b"\x01" + h(person["x_pub"]) + h(person["s_pub"])
    fac = PEOPLE["fac"]
    assert IdentityKey(h(fac["identity_priv"])).public.hex() == fac["identity_pub"]
    for i, s in enumerate(V["chain_steps"]):
        key, nxt = step(h(s["ck"]))
        assert p.hmac_sha256(h(s["ck"]), b"\x01").hex() == s["seed"]
        assert (nxt.hex(), key.mk.hex(), key.nonce.hex()) == (s["next_ck"], s["mk"], s["nonce"])
        if i:
            assert V["chain_steps"][i - 1]["next_ck"] == s["ck"]


def test_vouches_verify_and_fixed_statements() -> None:
    ctx = h(CTX["bytes"])
    by = h(PEOPLE["fac"]["identity_pub"])
    for v in V["vouches"]:
        anchor = h(v["anchor"])
        statement = vouch_statement(ctx, anchor, v["pid"], v["role"], h(v["bundle"]))
        assert statement.hex() == v["statement"]
        assert verify_vouch(by, h(v["sig"]), ctx, anchor, v["pid"], v["role"], h(v["bundle"]))


def test_removals_verify_and_fixed_statements() -> None:
    ctx = h(CTX["bytes"])
    by = h(PEOPLE["fac"]["identity_pub"])
    assert [r["for_good"] for r in V["removals"]] == [False, True]
    for r in V["removals"]:
        statement = removal_statement(ctx, r["pid"], h(r["bundle"]), r["for_good"])
        assert statement.hex() == r["statement"]
        assert verify_removal(by, h(r["proof"]), ctx, r["pid"], h(r["bundle"]), r["for_good"])
        # The same proof does not stand for the other scope, or other keys.
        assert not verify_removal(
            by, h(r["proof"]), ctx, r["pid"], h(r["bundle"]), not r["for_good"]
        )
        other = h(PEOPLE["bob"]["bundle"])
        assert not verify_removal(by, h(r["proof"]), ctx, r["pid"], other, r["for_good"])


# ---- a receiver, through the real codec -------------------------------------------------


def receiver(name: str) -> E2EECodec:
    """``name``'s codec, welcomed into a roster where fac vouched for everyone."""
    me = PEOPLE[name]
    if name == "fac":
        codec = E2EECodec.facilitator(
            IdentityKey(h(me["identity_priv"])),
            x_priv=h(me["x_priv"]),
            s_priv=h(me["s_priv"]),
            anchor=h(me["anchor"]),
        )
    else:
        codec = E2EECodec(
            trusted=[h(PEOPLE["fac"]["identity_pub"])],
            x_priv=h(me["x_priv"]),
            s_priv=h(me["s_priv"]),
        )
    sigs = {v["pid"]: h(v["sig"]) for v in V["vouches"]}
    by, anchor = h(PEOPLE["fac"]["identity_pub"]), h(PEOPLE["fac"]["anchor"])
    roster = [
        {
            "pid": person["pid"],
            "name": pname,
            "role": person["role"],
            "present": True,
            "keys": h(person["bundle"]),
            "vouches": [{"by": by, "anchor": anchor, "sig": sigs[person["pid"]]}],
        }
        for pname, person in PEOPLE.items()
    ]
    codec.on_frame(
        {
            "t": "welcome",
            "you": me["pid"],
            "role": me["role"],
            "session": CTX["session"],
            "group": {"id": CTX["group"]},
            "roster": roster,
        }
    )
    assert codec.outgoing()  # it hands out its own chain; not part of the vectors
    for d in V["distributions"]:
        if d["recipient"] == name:
            codec.on_frame(
                {"t": "direct", "from": PEOPLE[d["sender"]]["pid"], "payload": h(d["payload"])}
            )
    return codec


def msg_frame(
    m: dict[str, Any], sender: str | None = None, payload: str | None = None
) -> dict[str, Any]:
    return {
        "t": "msg",
        "id": m.get("id", 0),
        "from": sender or PEOPLE[m["sender"]]["pid"],
        "payload": h(payload or m["payload"]),
        "ts": 0.0,
    }


def test_distributions_open_to_their_states() -> None:
    ctx = h(CTX["bytes"])
    for d in V["distributions"]:
        s, r = PEOPLE[d["sender"]], PEOPLE[d["recipient"]]
        state = ChainState(h(d["chain_id"]), d["epoch"], d["index"], h(d["ck"]))
        assert state.encode().hex() == d["state"]
        assert p.x25519(h(s["x_priv"]), h(r["x_pub"])).hex() == d["shared"]
        assert p.x25519(h(r["x_priv"]), h(s["x_pub"])).hex() == d["shared"]
        assert p.hkdf(h(d["shared"]), h(d["info"]), 32).hex() == d["key"]
        assert h(d["info"]) == b"\x00\x17safespace/v1/distribute" + ctx + _lp(s["pid"]) + _lp(
            r["pid"]
        )
        sealed = p.aes_gcm_seal(h(d["key"]), h(d["nonce"]), state.encode(), h(d["info"]))
        assert (b"\x10" + h(d["nonce"]) + sealed).hex() == d["payload"]


def _lp(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def test_messages_are_the_exact_bytes_and_bob_opens_them_in_order() -> None:
    for m in V["messages"]:
        key = message_key(h(m["ck"]))
        assert (key.mk.hex(), key.nonce.hex()) == (m["mk"], m["nonce"])
        assert text_body(m["text"], m.get("cw")).hex() == m["body"]
    bob = receiver("bob")
    for m in V["messages"]:
        opened = bob.open(msg_frame(m))
        assert opened == Opened(m["text"], cw=m.get("cw"))


def test_content_warnings_as_typed_are_trimmed_or_refused_exactly_so() -> None:
    for b in V["bodies"]:
        if "refused" in b:
            with pytest.raises(CannotSeal) as refused:
                text_body(b["text"], b["cw"])
            assert refused.value.why == b["refused"]
        else:
            assert text_body(b["text"], b["cw"]).hex() == b["body"]
            assert parse_text_body(h(b["body"])) == Body(b["text"], b["cw_in_body"])


def test_privates_and_reports_open_for_the_facilitator() -> None:
    fac = receiver("fac")
    for v in V["privates"]:
        frame = {"t": "private", "from": PEOPLE[v["sender"]]["pid"], "payload": h(v["payload"])}
        assert fac.open(frame).text == v["text"]
    for r in V["reports"]:
        frame = {
            "t": "report",
            "from": PEOPLE[r["sender"]]["pid"],
            "msg": r["reported"]["msg"],
            "payload": h(r["payload"]),
        }
        opened = fac.open(frame)
        assert opened.text == r["note"]
        assert opened.verified is r["verified"]
        assert opened.reported is not None and opened.reported.sender == r["reported"]["from"]


@pytest.mark.parametrize(
    "case", [r for r in V["rejects"] if r["what"] == "message"], ids=lambda r: r["case"]
)
def test_message_rejects(case: dict[str, Any]) -> None:
    codec = receiver(case["recipient"])
    for i in case["after"]:
        codec.open(msg_frame(V["messages"][i]))
    with pytest.raises(CannotOpen) as refused:
        codec.open(msg_frame({}, sender=case["from"], payload=case["payload"]))
    assert refused.value.why == case["why"]
    # Refused, and nothing changed: the next message in line still opens.
    following = [i for i in range(len(V["messages"])) if i not in case["after"]]
    if case["recipient"] == "bob" and following:
        m = V["messages"][following[0]]
        assert codec.open(msg_frame(m)).text == m["text"]


@pytest.mark.parametrize(
    "case", [r for r in V["rejects"] if r["what"] == "distribution"], ids=lambda r: r["case"]
)
def test_distribution_rejects(case: dict[str, Any]) -> None:
    codec = receiver(case["recipient"])
    for i in case["after"]:
        codec.open(msg_frame(V["messages"][i]))
    with pytest.raises(CannotOpen) as refused:
        codec.accept_distribution(case["from"], h(case["payload"]))
    assert refused.value.why == case["why"]


@pytest.mark.parametrize(
    "case", [r for r in V["rejects"] if r["what"] == "private"], ids=lambda r: r["case"]
)
def test_private_rejects(case: dict[str, Any]) -> None:
    codec = receiver(case["recipient"])
    for i in case["after"]:
        v = V["privates"][i]
        codec.open({"t": "private", "from": PEOPLE[v["sender"]]["pid"], "payload": h(v["payload"])})
    with pytest.raises(CannotOpen) as refused:
        codec.open({"t": "private", "from": case["from"], "payload": h(case["payload"])})
    assert refused.value.why == case["why"]


@pytest.mark.parametrize(
    "case", [r for r in V["rejects"] if r["what"] == "vouch"], ids=lambda r: r["case"]
)
def test_vouch_rejects(case: dict[str, Any]) -> None:
    by = h(PEOPLE[case["signer"]]["identity_pub"])
    ctx = h(CTX["bytes"])
    anchor = h(case["anchor"])
    assert not verify_vouch(
        by, h(case["sig"]), ctx, anchor, case["pid"], case["role"], h(case["bundle"])
    )


def test_every_reject_says_what_a_consumer_needs() -> None:
    for r in V["rejects"]:
        assert r["case"] and r["note"]
        if r["what"] == "vouch":
            assert {"signer", "pid", "role", "bundle", "sig"} <= set(r)
        else:
            assert {"sender", "recipient", "from", "after", "payload"} <= set(r)
    cases = {r["case"] for r in V["rejects"] if r["what"] == "message"}
    assert {
        "header_bit_flipped",
        "ciphertext_bit_flipped",
        "signature_bit_flipped",
        "commitment_bit_flipped",
        "replay",
        "other_room",
        "claimed_by_another_sender",
        "jump_over_max_skip",
    } <= cases
