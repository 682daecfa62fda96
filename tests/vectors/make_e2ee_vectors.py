"""Write tests/vectors/e2ee.json: the shared test vectors of docs/e2ee.md.

    python -m tests.vectors.make_e2ee_vectors          (from the repository root)
    python tests/vectors/make_e2ee_vectors.py

Deterministic: every private key, chain key, chain id and nonce comes from a
fixed label, so running it again writes the same bytes. The Python tests check
that the checked-in file equals what this script builds, and that the codec
accepts every message and rejects every reject; the browser's tests check the
same file against clients/web/e2ee.js. All byte values are lowercase hex.

How to replay (for a consumer): a receiver starts from the participants' keys,
the ``ctx``, and a roster in which ``fac`` vouched for everyone (``vouches``,
all under fac's ``anchor``, docs/e2ee.md section 3). It applies every
distribution addressed to it, in list order, then opens ``messages`` in list
order (each with the frame's ``from`` = the sender's pid and ``id``). A reject
names its ``recipient``, the ``from`` its frame claims, and ``after``: the
positions in ``messages`` (or ``privates``) the recipient accepted first, on
top of its distributions. Every reject must be refused, and refusing it must
change nothing.

Content warnings (section 5) came later, and were appended so that every
earlier entry stays byte for byte as it was: the last ``messages`` carry a
``cw`` (what their body holds), the last ``rejects`` are bodies whose ``cw``
is not a string of 1 to 80 characters, and ``bodies`` (at the end) gives
``text_body(text, cw)`` for a ``cw`` as a sender typed it: the body, with the
warning trimmed (``cw_in_body``), or the sealing refusal (``refused``).

Anchors and signed removals (sections 3.1 to 3.3) came later still: the
vouches name ``anchor`` (fac's, fixed) and their statements changed with the
label ``safespace/v2/admit``; ``removals`` gives fac's signed removal of alice
for the session and for good; the vouch rejects gained ``other_anchor``.
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
from clients.e2ee.admission import removal_statement, sign_vouch, vouch_statement
from clients.e2ee.chains import MAX_SKIP, MessageKey, next_chain_key, step
from clients.e2ee.encoding import (
    KIND_MESSAGE,
    KIND_PRIVATE,
    KIND_REPORT,
    Bundle,
    ChainState,
    Header,
    ReportBody,
    context,
    distribution_info,
    pack,
    private_info,
    signed_part,
    text_body,
)
from clients.e2ee.errors import CannotSeal
from clients.e2ee.sealing import (
    Recipient,
    SealedMessage,
    commitment,
    pairwise_key,
    seal_distribution,
    seal_message,
    seal_private,
)

OUT = Path(__file__).with_name("e2ee.json")
GROUP = "g_3f9a1c2b7d4e"
SESSION = "00112233445566778899aabbccddeeff"
PIDS = {"fac": "p1", "alice": "p2", "bob": "p3", "carol": "p4"}
ROLES = {"fac": "facilitator", "alice": "member", "bob": "member", "carol": "member"}


# Why each reject is refused, as docs/e2ee.md's steps, taken in order, find it
# (the words are clients.e2ee.errors.Why's; the browser maps its own onto them).
WHY = {
    ("message", "header_bit_flipped"): "signature",
    ("message", "ciphertext_bit_flipped"): "signature",
    ("message", "tag_bit_flipped"): "signature",
    ("message", "signature_bit_flipped"): "signature",
    ("message", "commitment_bit_flipped"): "signature",
    ("message", "truncated"): "malformed",
    ("message", "header_length_wrong"): "malformed",
    ("message", "replay"): "replay",
    ("message", "kept_key_used_twice"): "replay",
    ("message", "claimed_by_another_sender"): "sender",
    ("message", "other_room"): "context",
    ("message", "other_session"): "context",
    ("message", "signed_by_another"): "signature",
    ("message", "commitment_mismatch_signed"): "commitment",
    ("message", "jump_over_max_skip"): "too_far",
    ("message", "unknown_chain"): "unknown_chain",
    ("message", "newcomer_reads_earlier"): "replay",
    ("distribution", "forwarded_to_carol"): "decrypt",
    ("distribution", "claimed_by_another_sender"): "decrypt",
    ("distribution", "bit_flipped"): "decrypt",
    ("distribution", "stale_previous_chain"): "stale",
    ("private", "nonce_replayed"): "nonce_replay",
    ("private", "claimed_by_another_sender"): "decrypt",
    ("private", "bit_flipped"): "decrypt",
    ("private", "not_for_me"): "not_for_me",
    ("message", "cw_not_a_string"): "malformed",
    ("message", "cw_empty"): "malformed",
    ("message", "cw_too_long"): "malformed",
}


def fixed(label: str, n: int = 32) -> bytes:
    """Bytes that stand in for randomness: the same on every run."""
    return hashlib.sha256(f"safespace-chat e2ee vectors: {label}".encode()).digest()[:n]


def flip(raw: bytes, at: int, bit: int = 0) -> bytes:
    out = bytearray(raw)
    out[at] ^= 1 << bit
    return bytes(out)


class Person:
    def __init__(self, name: str) -> None:
        self.name, self.pid, self.role = name, PIDS[name], ROLES[name]
        self.x_priv = fixed(f"{name} x_priv")
        self.s_priv = fixed(f"{name} s_priv")
        self.x_pub = primitives.x25519_public(self.x_priv)
        self.s_pub = primitives.ed25519_public(self.s_priv)
        self.bundle = Bundle(self.x_pub, self.s_pub).encode()

    def json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "role": self.role,
            "x_priv": self.x_priv.hex(),
            "x_pub": self.x_pub.hex(),
            "s_priv": self.s_priv.hex(),
            "s_pub": self.s_pub.hex(),
            "bundle": self.bundle.hex(),
        }


def ck_at(ck: bytes, steps: int) -> bytes:
    for _ in range(steps):
        ck = next_chain_key(ck)
    return ck


class Chain:
    """One of alice's chains, so that any index's key can be had."""

    def __init__(self, owner: Person, epoch: int) -> None:
        self.owner, self.epoch = owner, epoch
        self.chain_id = fixed(f"{owner.name} chain {epoch} id", 16)
        self.ck0 = fixed(f"{owner.name} chain {epoch} ck")

    def ck(self, index: int) -> bytes:
        return ck_at(self.ck0, index)

    def state(self, index: int) -> ChainState:
        return ChainState(self.chain_id, self.epoch, index, self.ck(index))


def build() -> dict[str, Any]:
    ctx = context(GROUP, SESSION)
    people = {name: Person(name) for name in PIDS}
    fac, alice, bob, carol = (people[n] for n in ("fac", "alice", "bob", "carol"))
    identity_priv = fixed("fac identity_priv")
    identity_pub = primitives.ed25519_public(identity_priv)
    anchor = fixed("fac anchor", 16)
    participants = {name: p.json() for name, p in people.items()}
    participants["fac"] |= {
        "identity_priv": identity_priv.hex(),
        "identity_pub": identity_pub.hex(),
        "anchor": anchor.hex(),
    }

    # ---- chain steps (section 4) ----
    a0, a1, b0 = Chain(alice, 0), Chain(alice, 1), Chain(bob, 0)
    chain_steps = []
    ck = a0.ck0
    for _ in range(5):
        key, nxt = step(ck)
        seed = primitives.hmac_sha256(ck, b"\x01")
        chain_steps.append(
            {
                "ck": ck.hex(),
                "seed": seed.hex(),
                "next_ck": nxt.hex(),
                "mk": key.mk.hex(),
                "nonce": key.nonce.hex(),
            }
        )
        ck = nxt

    # ---- vouches (section 3) ----
    vouches = []
    for p in (fac, alice, bob, carol):
        statement = vouch_statement(ctx, anchor, p.pid, p.role, p.bundle)
        vouches.append(
            {
                "signer": "fac",
                "anchor": anchor.hex(),
                "pid": p.pid,
                "role": p.role,
                "bundle": p.bundle.hex(),
                "statement": statement.hex(),
                "sig": sign_vouch(identity_priv, ctx, anchor, p.pid, p.role, p.bundle).hex(),
            }
        )

    # ---- signed removals (section 3.3) ----
    removals = []
    for for_good in (False, True):
        statement = removal_statement(ctx, alice.pid, alice.bundle, for_good)
        removals.append(
            {
                "signer": "fac",
                "pid": alice.pid,
                "bundle": alice.bundle.hex(),
                "for_good": for_good,
                "statement": statement.hex(),
                "proof": primitives.ed25519_sign(identity_priv, statement).hex(),
            }
        )

    # ---- room messages (section 5), in the order bob accepts them ----
    long_text = "I wanted to say more about this week. " * 8  # a str16 in msgpack
    last = 1 + 1 + MAX_SKIP
    plan: list[tuple[Chain, int, str, str | None]] = [
        (a0, 0, "Hello everyone.", None),
        (a0, 1, "It has been a hard week.", None),
        (a0, 2, "Danke, dass ihr da seid \N{BLUE HEART}", None),
        (a0, 5, "(indexes 3 and 4 are stepped over and kept)", None),
        (a0, 3, "(a kept key, used once)", None),
        (a1, 0, "A new chain, after someone left.", None),
        (a0, 6, "(the previous chain is still held)", None),
        (a1, 1, long_text, None),
        (a1, last, "(a jump of exactly MAX_SKIP indexes: accepted)", None),
        # Content warnings, added later (section 5): a fixstr, then exactly 80
        # characters in a str8, one of them outside the BMP (two UTF-16 units).
        (a1, last + 1, "Something happened to me as a child.", "childhood abuse"),
        (a1, last + 2, "Mein Vater ist im Frühling gestorben.", CW_80),
    ]
    messages: list[dict[str, Any]] = []
    sealed_at: list[SealedMessage] = []
    for msg_id, (chain, index, text, cw) in enumerate(plan, start=1):
        ck = chain.ck(index)
        key, _ = step(ck)
        body = text_body(text, cw)
        header = Header(KIND_MESSAGE, ctx, alice.pid, chain.epoch, chain.chain_id, index)
        sealed = seal_message(header, key, body, alice.s_priv)
        sealed_at.append(sealed)
        messages.append(
            {
                "sender": "alice",
                "id": msg_id,
                "epoch": chain.epoch,
                "chain_id": chain.chain_id.hex(),
                "index": index,
                "ck": ck.hex(),
                "text": text,
                **({} if cw is None else {"cw": cw}),
                "body": body.hex(),
                "header": sealed.header.hex(),
                "mk": key.mk.hex(),
                "nonce": key.nonce.hex(),
                "commitment": sealed.commitment.hex(),
                "signature": sealed.signature.hex(),
                "payload": sealed.payload.hex(),
            }
        )

    # ---- distributions (section 6) ----
    distributions = []
    dist_payloads = {}
    for label, sender, recipient, chain, index in (
        ("alice-bob-0", alice, bob, a0, 0),
        ("alice-bob-1", alice, bob, a1, 0),
        ("bob-alice-0", bob, alice, b0, 0),
        ("alice-carol-1", alice, carol, a1, 2),  # carol arrived later: from index 2 on
    ):
        state = chain.state(index)
        nonce = fixed(f"distribution {label} nonce", 12)
        info = distribution_info(ctx, sender.pid, recipient.pid)
        shared = primitives.x25519(sender.x_priv, recipient.x_pub)
        payload = seal_distribution(
            ctx, sender.pid, recipient.pid, sender.x_priv, recipient.x_pub, state, nonce
        )
        dist_payloads[label] = payload
        distributions.append(
            {
                "sender": sender.name,
                "recipient": recipient.name,
                "chain_id": chain.chain_id.hex(),
                "epoch": chain.epoch,
                "index": index,
                "ck": state.ck.hex(),
                "state": state.encode().hex(),
                "nonce": nonce.hex(),
                "info": info.hex(),
                "shared": shared.hex(),
                "key": pairwise_key(sender.x_priv, recipient.x_pub, info).hex(),
                "payload": payload.hex(),
            }
        )

    # ---- messages to the facilitators (section 8) ----
    def to_fac(kind: int, sender: Person, body: bytes, label: str) -> tuple[list[bytes], bytes]:
        nonces = [fixed(f"{label} nonce fac", 12)]
        recipients = [Recipient(fac.pid, fac.x_pub, nonces[0])]
        return nonces, seal_private(kind, ctx, sender.pid, sender.x_priv, recipients, body)

    private_body = text_body("Could we talk after the session?")
    nonces, private_payload = to_fac(KIND_PRIVATE, alice, private_body, "private 0")
    privates = [
        {
            "kind": KIND_PRIVATE,
            "sender": "alice",
            "recipients": ["fac"],
            "nonces": [n.hex() for n in nonces],
            "text": "Could we talk after the session?",
            "info": private_info(ctx, alice.pid, fac.pid).hex(),
            "body": private_body.hex(),
            "payload": private_payload.hex(),
        }
    ]

    reported = messages[1]
    genuine_key = bytes.fromhex(reported["mk"]) + bytes.fromhex(reported["nonce"])
    genuine_body = bytes.fromhex(reported["body"])
    reports = []
    for label, reported_key, body, note, verified in (
        ("report genuine", genuine_key, genuine_body, "This worried me.", True),
        (
            "report text altered",
            genuine_key,
            text_body("It has been a great week."),
            "Altered text.",
            False,
        ),
        ("report key altered", flip(genuine_key, 0), genuine_body, "Altered key.", False),
    ):
        rb = ReportBody(
            reported["id"], alice.pid, bytes.fromhex(reported["payload"]), reported_key, body, note
        )
        report_body = rb.encode()
        nonces, payload = to_fac(KIND_REPORT, bob, report_body, label)
        reports.append(
            {
                "kind": KIND_REPORT,
                "sender": "bob",
                "recipients": ["fac"],
                "nonces": [n.hex() for n in nonces],
                "reported": {
                    "msg": rb.msg,
                    "from": rb.sender,
                    "payload": rb.payload.hex(),
                    "key": rb.key.hex(),
                    "body": rb.body.hex(),
                },
                "note": note,
                "body": report_body.hex(),
                "payload": payload.hex(),
                "verified": verified,
            }
        )

    rejects = _rejects(
        ctx, people, identity_priv, a0, sealed_at, messages, dist_payloads, private_payload
    )
    return {
        "spec": "docs/e2ee.md",
        "version": 1,
        "notes": [
            "Bytes are lowercase hex. 'from' in reports is the reported sender's pid.",
            "A receiver applies every distribution addressed to it (list order), then opens "
            "'messages' in list order; a reject's 'after' lists the positions in 'messages' "
            "(for what='private': in 'privates') it accepted first.",
            "A message reject's frame comes from the pid in 'from'; it must be refused and "
            "leave the receiver's state unchanged.",
        ],
        "ctx": {"group": GROUP, "session": SESSION, "bytes": ctx.hex()},
        "participants": participants,
        "chain_steps": chain_steps,
        "vouches": vouches,
        "messages": messages,
        "distributions": distributions,
        "privates": privates,
        "reports": reports,
        "rejects": rejects,
        "bodies": _bodies(),
        "removals": removals,
    }


# Exactly 80 characters (code points), the most a content warning may have.
CW_80 = ("Tod, Trauer und Verlust \N{BLUE HEART} " * 4)[:79] + "."


def _bodies() -> list[dict[str, Any]]:
    """``text_body(text, cw)`` for warnings as typed: trimmed, dropped, or refused."""
    out: list[dict[str, Any]] = []
    for cw, note in (
        ("  grief \u3000", "spaces and an ideographic space around it are trimmed"),
        ("\ufeff\x85 loss\t\n", "U+FEFF, NEL, tab and newline are trimmed too"),
        ("\x1c loss \x1f", "U+001C..U+001F are not white space here (Python's strip differs)"),
        (" \t\ufeff\u2028", "nothing left once trimmed: no cw in the body"),
        (f" {CW_80}\u3000", "80 characters once trimmed: the most"),
        (CW_80 + "!", "81 characters: refused when sealing"),
        ("\N{BLUE HEART}" * 81, "81 characters outside the BMP (162 UTF-16 units): refused"),
    ):
        entry: dict[str, Any] = {"text": "hi", "cw": cw}
        try:
            body = text_body("hi", cw)
        except CannotSeal as e:
            entry["refused"] = str(e.why)
        else:
            kept = cw.strip(CW_SPACE_SPELLED) or None
            assert body == pack({"text": "hi"} if kept is None else {"text": "hi", "cw": kept})
            entry |= {"cw_in_body": kept, "body": body.hex()}
        out.append(entry | {"note": note})
    return out


# The white space a content warning is trimmed of, as docs/e2ee.md section 5 lists
# it (written out again here, so that the vectors check encoding.py's own list).
CW_SPACE_SPELLED = "".join(
    chr(c) for c in [*range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                     0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF]
)  # fmt: skip


def _rejects(
    ctx: bytes,
    people: dict[str, Person],
    identity_priv: bytes,
    a0: Chain,
    sealed_at: list[SealedMessage],
    messages: list[dict[str, Any]],
    dist: dict[str, bytes],
    private_payload: bytes,
) -> list[dict[str, Any]]:
    alice, carol = people["alice"], people["carol"]
    first = sealed_at[0]
    header_len = len(first.header)
    out: list[dict[str, Any]] = []

    def message(
        case: str,
        payload: bytes,
        note: str,
        *,
        after: list[int] | None = None,
        recipient: str = "bob",
        frm: str | None = None,
    ) -> None:
        out.append(
            {
                "what": "message",
                "case": case,
                "sender": "alice",
                "recipient": recipient,
                "from": frm or alice.pid,
                "after": after or [],
                "payload": payload.hex(),
                "note": note,
            }
        )

    def resealed(header: Header, body: bytes, key: MessageKey, s_priv: bytes) -> bytes:
        return seal_message(header, key, body, s_priv).payload

    p0 = first.payload
    # Offsets into payload 0: lp(header) | signature | commitment | ciphertext.
    sig_at = 2 + header_len
    commit_at = sig_at + 64
    ct_at = commit_at + 32
    message("header_bit_flipped", flip(p0, 2 + header_len - 1), "the header's index: 0 became 1")
    message("ciphertext_bit_flipped", flip(p0, ct_at + 3), "a bit of the ciphertext flipped")
    message("tag_bit_flipped", flip(p0, len(p0) - 1, 7), "a bit of the AES-GCM tag flipped")
    message("signature_bit_flipped", flip(p0, sig_at + 10), "a bit of the signature flipped")
    message("commitment_bit_flipped", flip(p0, commit_at), "a bit of the commitment flipped")
    message("truncated", p0[: ct_at + 15], "cut inside the ciphertext's tag: a length error")
    message("header_length_wrong", b"\xff\xff" + p0[2:], "lp(header) claims more than there is")
    message("replay", bytes.fromhex(messages[1]["payload"]), "message 1 again", after=[0, 1, 2])
    message(
        "kept_key_used_twice",
        bytes.fromhex(messages[4]["payload"]),
        "index 3 came late and used its kept key; the second time it is gone",
        after=[0, 1, 2, 3, 4],
    )
    message("claimed_by_another_sender", p0, "alice's message, relayed as carol's", frm=carol.pid)

    key0, _ = step(a0.ck(0))
    body0 = text_body("Hello everyone.")
    for case, group, session in (
        ("other_room", "g_000000000000", SESSION),
        ("other_session", GROUP, "ffeeddccbbaa99887766554433221100"),
    ):
        other = context(group, session)
        header = Header(KIND_MESSAGE, other, alice.pid, 0, a0.chain_id, 0)
        message(case, resealed(header, body0, key0, alice.s_priv),
                f"sealed by alice with her real keys for {group} / {session}")  # fmt: skip

    header0 = Header(KIND_MESSAGE, ctx, alice.pid, 0, a0.chain_id, 0)
    message("signed_by_another", resealed(header0, body0, key0, carol.s_priv),
            "alice's header and key, signed by carol")  # fmt: skip
    lying = seal_message(header0, key0, body0, alice.s_priv)
    wrong_commit = commitment(key0, text_body("Something else."))
    signed = primitives.ed25519_sign(
        alice.s_priv, signed_part(lying.header, wrong_commit, lying.ciphertext)
    )
    message(
        "commitment_mismatch_signed",
        SealedMessage(lying.header, wrong_commit, signed, lying.ciphertext).payload,
        "signed correctly, but the commitment is to another body",
    )
    far = 1 + MAX_SKIP
    key_far, _ = step(a0.ck(far))
    message(
        "jump_over_max_skip",
        resealed(
            Header(KIND_MESSAGE, ctx, alice.pid, 0, a0.chain_id, far), body0, key_far, alice.s_priv
        ),
        f"index {far} while the next is 0: {far} indexes stepped over, more than MAX_SKIP",
    )
    unknown = Chain(alice, 2)
    key_u, _ = step(unknown.ck(0))
    message(
        "unknown_chain",
        resealed(
            Header(KIND_MESSAGE, ctx, alice.pid, 2, unknown.chain_id, 0), body0, key_u, alice.s_priv
        ),
        "epoch 2 was never distributed",
    )
    message(
        "newcomer_reads_earlier",
        bytes.fromhex(messages[5]["payload"]),
        "carol's chain of alice starts at index 2 of epoch 1: index 0 came before her",
        recipient="carol",
    )

    def distribution(
        case: str,
        payload: bytes,
        recipient: str,
        frm: str,
        note: str,
        after: list[int] | None = None,
    ) -> None:
        out.append(
            {
                "what": "distribution",
                "case": case,
                "sender": "alice",
                "recipient": recipient,
                "from": people[frm].pid,
                "after": after or [],
                "payload": payload.hex(),
                "note": note,
            }
        )

    d0 = dist["alice-bob-0"]
    distribution(
        "forwarded_to_carol", d0, "carol", "alice", "alice's state for bob, given to carol"
    )
    distribution(
        "claimed_by_another_sender", d0, "bob", "carol", "alice's state for bob, as carol's"
    )
    distribution("bit_flipped", flip(d0, 20), "bob", "alice", "a bit of the sealed state flipped")
    distribution(
        "stale_previous_chain",
        d0,
        "bob",
        "alice",
        "epoch 0 again, now the previous chain: a distribution never moves a chain back",
        after=[0, 1, 2],
    )

    def private(
        case: str,
        payload: bytes,
        recipient: str,
        frm: str,
        note: str,
        after: list[int] | None = None,
    ) -> None:
        out.append(
            {
                "what": "private",
                "case": case,
                "sender": "alice",
                "recipient": recipient,
                "from": people[frm].pid,
                "after": after or [],
                "payload": payload.hex(),
                "note": note,
            }
        )

    private("nonce_replayed", private_payload, "fac", "alice", "the same private again", after=[0])
    private(
        "claimed_by_another_sender", private_payload, "fac", "carol", "alice's, relayed as carol's"
    )
    private(
        "bit_flipped",
        flip(private_payload, len(private_payload) - 3),
        "fac",
        "alice",
        "a bit flipped",
    )
    private("not_for_me", private_payload, "bob", "alice", "bob has no entry in it")

    anchor = fixed("fac anchor", 16)
    alice_sig = sign_vouch(identity_priv, ctx, anchor, alice.pid, alice.role, alice.bundle)
    other_session = context(GROUP, "ffeeddccbbaa99887766554433221100")
    for case, pid, role, bundle, sig, note in (
        (
            "other_keys",
            alice.pid,
            "member",
            carol.bundle,
            alice_sig,
            "alice's vouch, on carol's keys",
        ),
        ("other_pid", carol.pid, "member", alice.bundle, alice_sig, "alice's vouch, for pid p4"),
        (
            "other_role",
            alice.pid,
            "facilitator",
            alice.bundle,
            alice_sig,
            "alice's vouch, as facilitator",
        ),
        (
            "other_session",
            alice.pid,
            "member",
            alice.bundle,
            sign_vouch(identity_priv, other_session, anchor, alice.pid, "member", alice.bundle),
            "a vouch for alice made in another session",
        ),
        (
            "other_anchor",
            alice.pid,
            "member",
            alice.bundle,
            sign_vouch(
                identity_priv, ctx, fixed("an old anchor", 16), alice.pid, "member", alice.bundle
            ),
            "a vouch for alice under an older anchor, shown under fac's current one",
        ),
        (
            "not_by_signer",
            alice.pid,
            "member",
            alice.bundle,
            primitives.ed25519_sign(
                carol.s_priv, vouch_statement(ctx, anchor, alice.pid, "member", alice.bundle)
            ),
            "signed by carol's key, claimed as fac's",
        ),
    ):
        out.append(
            {
                "what": "vouch",
                "case": case,
                "signer": "fac",
                "anchor": anchor.hex(),
                "pid": pid,
                "role": role,
                "bundle": bundle.hex(),
                "sig": sig.hex(),
                "note": note,
            }
        )

    # Content warnings, added later: appended, so that every earlier reject stays
    # where it was. Bodies sealed and signed by alice on chain 0 at index 7, the
    # next one bob expects there once he has read messages 0 to 6.
    key7, _ = step(a0.ck(7))
    header7 = Header(KIND_MESSAGE, ctx, alice.pid, 0, a0.chain_id, 7)
    for case, cw, note in (
        ("cw_not_a_string", 7, "the body's cw is an integer: a malformed body"),
        ("cw_empty", "", "the body's cw is empty: a sender leaves cw out instead"),
        ("cw_too_long", "w" * 81, "the body's cw has 81 characters, one more than allowed"),
    ):
        body = pack({"text": "Hello again.", "cw": cw})
        message(case, resealed(header7, body, key7, alice.s_priv), note, after=list(range(7)))
    for r in out:
        if r["what"] != "vouch":
            r["why"] = WHY[r["what"], r["case"]]
    return out


def render(vectors: dict[str, Any]) -> str:
    return json.dumps(vectors, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    OUT.write_text(render(build()), encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
