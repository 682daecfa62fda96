"""Write tests/vectors/tuning.json: the shared vectors of a group's signed content rules.

    python -m tests.vectors.make_tuning_vectors          (from the repository root)
    python tests/vectors/make_tuning_vectors.py

docs/e2ee.md section 11: ``statement = lp("safespace/v2/content-rules") ||
lp(group_id) || u32 version || u64 signed_at || lp(tuning)``, signed with the
facilitator's identity key. Deterministic (fixed seeds, Ed25519 signs
deterministically): running it again writes the same bytes. The Python tests
(tests/clients/test_tuning_vectors.py) check that the checked-in file equals
what this script builds and run it through ``clients.content``; the Node
tests (tests/web/tuning.test.mjs) run it through clients/web/content-policy.js.

* ``signers``: each signer's seed (hex) and public key (base64url); only
  ``fac`` is ``trusted``.
* ``tunings``: content rules that verify, with the exact ``statement`` (hex)
  and ``content_rules`` (what the group carries); signing ``tuning`` with
  ``version`` and ``signed_at`` under fac's seed must give ``content_rules``.
* ``rejects``: content rules that must not verify (``why`` rules_unverified):
  the old v1 label, a stranger, another group, a version or time altered or
  out of range, padding.
* ``sequences``: what a client shown these ``content_rules`` one after the
  other (a tuning's name, or null for none) in one session does each time:
  ``applied`` (in force now), ``unverified`` (shipped rules, warning),
  ``replayed`` (refused, the rules in force stay, warning); ``in_force`` the
  name of the tuning then in force, null for the shipped rules.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from clients.e2ee import primitives
from clients.e2ee.admission import IdentityKey
from clients.e2ee.content_rules import content_rules_statement, sign_content_rules, u64
from clients.e2ee.encoding import LABEL_CONTENT_RULES, lp, u32
from moderation.content import TUNING_FORMAT
from rooms.links import b64u_encode

OUT = Path(__file__).with_name("tuning.json")
GROUP = "g_3f9a1c2b7d4e"
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC, in milliseconds


def seed(label: str) -> bytes:
    return hashlib.sha256(f"safespace-chat tuning vectors: {label}".encode()).digest()


def tuning_text(categories: dict[str, Any]) -> str:
    return json.dumps({"format": TUNING_FORMAT, "categories": categories}, sort_keys=True)


FAC = IdentityKey(seed("fac identity"))
STRANGER = IdentityKey(seed("stranger identity"))

# name -> (tuning, version, signed_at)
TUNINGS: dict[str, tuple[str, int, int]] = {
    "first": (tuning_text({"insults": {"action": "block"}}), 1, T0),
    "second": (tuning_text({"insults": {"action": "cw"}}), 2, T0 + 60_000),
    "second_later": (tuning_text({"insults": {"action": "off"}}), 2, T0 + 120_000),
    "third": (
        tuning_text({"threats": {"alert": False}, "insults": {"add_words": ["dolt"]}}),
        3,
        T0 + 3_600_000,
    ),
    "unicode": (tuning_text({"insults": {"add_words": ["crétin"]}}), 4, T0 + 7_200_000),
    "extremes": (tuning_text({"violence": {"action": "warn"}}), 0xFFFF_FFFF, 2**53),
}


def v1_signed(identity: IdentityKey, tuning: str) -> str:
    """A signature under the old statement: no version, no time."""
    statement = lp("safespace/v1/content-rules") + lp(GROUP) + lp(tuning)
    return b64u_encode(primitives.ed25519_sign(identity.private, statement))


def build() -> dict[str, Any]:
    assert LABEL_CONTENT_RULES == "safespace/v2/content-rules"
    tunings = []
    signed: dict[str, dict[str, Any]] = {}
    for name, (text, version, signed_at) in TUNINGS.items():
        rules = sign_content_rules(FAC, GROUP, text, version, signed_at)
        signed[name] = dict(rules)
        statement = content_rules_statement(GROUP, text, version, signed_at)
        assert statement == (
            lp(LABEL_CONTENT_RULES) + lp(GROUP) + u32(version) + u64(signed_at) + lp(text)
        )
        tunings.append(
            {
                "name": name,
                "group_id": GROUP,
                "tuning": text,
                "version": version,
                "signed_at": signed_at,
                "statement": statement.hex(),
                "content_rules": rules,
            }
        )
    first = signed["first"]
    text = str(first["tuning"])
    rejects = [
        ("v1_label_with_version", {**first, "sig": v1_signed(FAC, text)}),
        (
            "v1_label_as_v1_had_it",
            {"tuning": text, "by": first["by"], "sig": v1_signed(FAC, text)},
        ),
        ("stranger", sign_content_rules(STRANGER, GROUP, text, 1, T0)),
        ("other_group", sign_content_rules(FAC, "g_other", text, 1, T0)),
        ("version_changed", {**first, "version": 2}),
        ("signed_at_changed", {**first, "signed_at": T0 + 1}),
        ("tuning_changed", {**first, "tuning": text + " "}),
        ("by_stranger_claimed", {**first, "by": b64u_encode(STRANGER.public)}),
        ("version_zero", {**first, "version": 0}),
        ("version_over_u32", {**first, "version": 2**32}),
        ("version_negative", {**first, "version": -1}),
        ("version_fraction", {**first, "version": 1.5}),
        ("version_text", {**first, "version": "1"}),
        ("version_missing", {k: v for k, v in first.items() if k != "version"}),
        ("signed_at_negative", {**first, "signed_at": -1}),
        ("signed_at_over_2_53", {**first, "signed_at": 2**53 + 2}),  # 2^53 + 1 is 2^53 in JS
        ("signed_at_text", {**first, "signed_at": str(T0)}),
        ("signed_at_missing", {k: v for k, v in first.items() if k != "signed_at"}),
        ("sig_padded", {**first, "sig": f"{first['sig']}=="}),
        ("sig_short", {**first, "sig": str(first["sig"])[:-4]}),
        ("not_a_map", "content rules"),
    ]
    sequences = [
        ("upgrade", ["first", "second", "third"], ["applied"] * 3, ["first", "second", "third"]),
        ("replay_of_older", ["second", "first"], ["applied", "replayed"], ["second", "second"]),
        (
            "same_version_older_time",
            ["second_later", "second"],
            ["applied", "replayed"],
            ["second_later", "second_later"],
        ),
        (
            "same_version_later_time",
            ["second", "second_later"],
            ["applied", "applied"],
            ["second", "second_later"],
        ),
        ("shown_again", ["second", "second"], ["applied", "applied"], ["second", "second"]),
        (
            "replay_after_the_shipped_rules",
            ["third", None, "first"],
            ["applied", "applied", "replayed"],
            ["third", None, None],
        ),
        (
            "replay_after_an_unverified_one",
            ["third", "reject:v1_label_with_version", "second"],
            ["applied", "unverified", "replayed"],
            ["third", None, None],
        ),
        (
            "unverified_is_not_remembered",
            ["reject:version_changed", "first"],
            ["unverified", "applied"],
            [None, "first"],
        ),
    ]
    return {
        "spec": "docs/e2ee.md section 11",
        "version": 1,
        "label": LABEL_CONTENT_RULES,
        "group_id": GROUP,
        "signers": {
            name: {"seed": key.private.hex(), "pub": b64u_encode(key.public)}
            for name, key in (("fac", FAC), ("stranger", STRANGER))
        },
        "trusted": [b64u_encode(FAC.public)],
        "tunings": tunings,
        "rejects": [
            {"name": name, "group_id": GROUP, "content_rules": rules, "why": "rules_unverified"}
            for name, rules in rejects
        ],
        "sequences": [
            {"name": name, "shown": shown, "expect": expect, "in_force": in_force}
            for name, shown, expect, in_force in sequences
        ],
    }


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    OUT.write_text(render(build()), encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
