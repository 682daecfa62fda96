"""The encryption layer's parts on their own: layouts, chains, admission, the key file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from clients.client import Event
from clients.e2ee import (
    CannotOpen,
    CannotSeal,
    E2EEError,
    IdentityKey,
    Why,
    identities_from_link,
)
from clients.e2ee import primitives as p
from clients.e2ee.chains import (
    MAX_KEPT,
    MAX_SKIP,
    MessageKey,
    PeerChains,
    Plan,
    ReceiverChain,
    SenderChain,
    step,
)
from clients.e2ee.codec import _Received
from clients.e2ee.encoding import (
    KIND_PRIVATE,
    MAX_CW_CHARS,
    Body,
    Bundle,
    ChainState,
    Header,
    PrivateEntry,
    ReportBody,
    RoomPayload,
    context,
    encode_private,
    lp,
    parse_private,
    parse_text_body,
    text_body,
)
from clients.e2ee.peer import Peer
from clients.e2ee.sealing import Recipient, open_private, seal_private
from clients.payload import Opened, Reported
from rooms.errors import SafespaceError
from rooms.links import b64u_decode, b64u_encode, link_trusting, link_with_identities

# ---- encoding ---------------------------------------------------------------------


def test_lp_measures_utf8_and_refuses_what_does_not_fit() -> None:
    assert lp("é") == b"\x00\x02\xc3\xa9"
    assert lp(b"") == b"\x00\x00"
    assert len(lp(b"x" * 65535)) == 65537
    with pytest.raises(ValueError):
        lp(b"x" * 65536)


def test_a_header_round_trips_and_every_cut_is_malformed() -> None:
    header = Header(1, context("g_1", "s" * 32), "p2", 7, bytes(range(16)), 42)
    raw = header.encode()
    assert Header.parse(raw) == header
    for cut in range(len(raw)):
        with pytest.raises(CannotOpen) as caught:
            Header.parse(raw[:cut])
        assert caught.value.why in (Why.MALFORMED, Why.VERSION)
    with pytest.raises(CannotOpen, match="malformed"):
        Header.parse(raw + b"\x00")
    with pytest.raises(CannotOpen) as caught:
        Header.parse(b"\x02" + raw[1:])
    assert caught.value.why is Why.VERSION


def test_a_room_payload_needs_a_whole_tag() -> None:
    header = Header(1, context("g", "s"), "p1", 0, bytes(16), 0).encode()
    ok = lp(header) + bytes(64) + bytes(32) + bytes(16)
    assert RoomPayload.parse(ok).ciphertext == bytes(16)
    for bad in (ok[:-1], lp(header) + bytes(95), b"\x00", b""):
        with pytest.raises(CannotOpen, match="malformed"):
            RoomPayload.parse(bad)


def test_bundles_of_another_length_or_version_are_unusable() -> None:
    good = Bundle(bytes(32), bytes(range(32)))
    assert Bundle.parse(good.encode()) == good and len(good.encode()) == 65
    for bad in (b"", good.encode()[:-1], good.encode() + b"\x00"):
        with pytest.raises(CannotOpen, match="malformed"):
            Bundle.parse(bad)
    with pytest.raises(CannotOpen, match="version"):
        Bundle.parse(b"\x02" + good.encode()[1:])


def test_chain_states_are_57_bytes() -> None:
    state = ChainState(bytes(16), 3, 9, bytes(range(32)))
    assert len(state.encode()) == 57 and ChainState.parse(state.encode()) == state
    for bad in (state.encode()[:-1], state.encode() + b"\x00"):
        with pytest.raises(CannotOpen):
            ChainState.parse(bad)


def test_private_payloads_parse_strictly() -> None:
    entries = [PrivateEntry("p1", bytes(12), bytes(20)), PrivateEntry("p5", bytes(12), bytes(16))]
    raw = encode_private(0x20, entries)
    assert parse_private(raw) == (0x20, entries)
    for bad in (raw[:-1], raw + b"\x00", b"\x20\x00", b"\x21" + raw[1:]):
        with pytest.raises(CannotOpen):
            parse_private(bad)
    with pytest.raises(CannotOpen, match="malformed"):  # one recipient twice
        parse_private(encode_private(0x20, [entries[0], entries[0]]))
    with pytest.raises(CannotOpen, match="malformed"):  # shorter than a tag
        parse_private(encode_private(0x20, [PrivateEntry("p1", bytes(12), bytes(15))]))


def test_bodies_ignore_unknown_keys_and_refuse_other_shapes() -> None:
    assert parse_text_body(text_body("hi")) == Body("hi")
    import msgpack

    assert parse_text_body(msgpack.packb({"text": "hi", "later": 1})) == Body("hi")
    assert parse_text_body(msgpack.packb({"text": "hi", "cw": "loss"})) == Body("hi", "loss")
    for bad in (b"", b"\xc1", msgpack.packb(["text"]), msgpack.packb({"text": b"hi"})):
        with pytest.raises(CannotOpen, match="malformed"):
            parse_text_body(bad)
    report = ReportBody(3, "p2", b"pl", bytes(44), b"b", "note")
    assert ReportBody.parse(report.encode()) == report
    with pytest.raises(CannotOpen):
        ReportBody.parse(msgpack.packb({"msg": True, "from": "p2", "payload": b"", "key": b"",
                                        "body": b"", "note": ""}))  # fmt: skip


def test_a_content_warning_travels_after_the_text_trimmed_or_not_at_all() -> None:
    import msgpack

    assert text_body("hi", "loss") == msgpack.packb({"text": "hi", "cw": "loss"})
    assert text_body("hi", "loss").hex() == "82a474657874a26869a26377a46c6f7373"  # text, then cw
    assert parse_text_body(text_body("hi", "loss")) == Body("hi", "loss")
    # Trimmed of white space (Unicode's, and U+FEFF) at both ends; nothing left: no cw.
    assert text_body("hi", " \t\u3000loss\ufeff\n\x85") == text_body("hi", "loss")
    assert text_body("hi", "  grief and loss ") == text_body("hi", "grief and loss")
    for nothing in (None, "", "   ", "\u2028\ufeff"):
        assert text_body("hi", nothing) == text_body("hi") == msgpack.packb({"text": "hi"})
    # A character is a code point: 80 of them (an emoji is one) is the most.
    most = "\N{BLUE HEART}" * MAX_CW_CHARS
    assert parse_text_body(text_body("hi", f" {most} ")) == Body("hi", most)
    with pytest.raises(CannotSeal) as caught:
        text_body("hi", most + "x")
    assert caught.value.why is Why.CW_TOO_LONG and "80 characters" in caught.value.reason
    assert isinstance(caught.value, ValueError)


def test_a_cw_that_is_not_a_short_nonempty_string_makes_a_room_body_malformed() -> None:
    import msgpack

    for cw in (5, None, b"loss", ["loss"], "", "x" * (MAX_CW_CHARS + 1)):
        raw = msgpack.packb({"text": "hi", "cw": cw}, use_bin_type=True)
        with pytest.raises(CannotOpen, match="malformed"):
            parse_text_body(raw)
        # A private message's body has no cw: there it is an unknown key, ignored.
        assert parse_text_body(raw, with_cw=False) == Body("hi")
    # The receiver does not trim: what the body holds is what the sender sealed.
    raw = msgpack.packb({"text": "hi", "cw": " x "})
    assert parse_text_body(raw) == Body("hi", " x ")


def test_base64url_is_strict() -> None:
    key = bytes(range(32))
    assert b64u_decode(b64u_encode(key)) == key and "=" not in b64u_encode(key)
    for bad in (b64u_encode(key) + "=", "ab+/", "a", "ab cd"):
        with pytest.raises(ValueError):
            b64u_decode(bad)


def test_errors_belong_to_the_project_tree_and_are_value_errors() -> None:
    err = CannotOpen(Why.REPLAY)
    assert isinstance(err, SafespaceError) and isinstance(err, ValueError)
    assert err.why is Why.REPLAY and err.detail == {"why": "replay"}


# ---- primitives ------------------------------------------------------------------------


def test_primitives_refuse_bad_keys_and_altered_ciphertexts() -> None:
    key, nonce = os.urandom(32), os.urandom(12)
    sealed = p.aes_gcm_seal(key, nonce, b"text", b"aad")
    assert p.aes_gcm_open(key, nonce, sealed, b"aad") == b"text"
    with pytest.raises(p.CryptoFailure):
        p.aes_gcm_open(key, nonce, sealed, b"other aad")
    with pytest.raises(p.CryptoFailure):
        p.x25519(os.urandom(32), bytes(32))  # a low-order point: the all-zero secret
    with pytest.raises(p.CryptoFailure):
        p.aes_gcm_seal(bytes(31), nonce, b"", b"")
    seed = os.urandom(32)
    sig = p.ed25519_sign(seed, b"m")
    assert p.ed25519_verify(p.ed25519_public(seed), sig, b"m")
    assert not p.ed25519_verify(p.ed25519_public(seed), sig, b"n")
    assert not p.ed25519_verify(b"short", sig, b"m")


# ---- chains --------------------------------------------------------------------------------


def _chain() -> tuple[SenderChain, ReceiverChain]:
    sender = SenderChain.fresh(0, os.urandom)
    return sender, ReceiverChain.from_state(sender.state())


def test_sender_and_receiver_derive_the_same_keys() -> None:
    sender, receiver = _chain()
    for _ in range(5):
        index, key = sender.advance()
        plan = receiver.plan(index)
        assert plan.key == key
        receiver.commit(plan)
    assert receiver.index == sender.index == 5


def test_plans_change_nothing_until_committed() -> None:
    sender, receiver = _chain()
    before = (receiver.index, receiver.ck, dict(receiver.kept))
    receiver.plan(7)
    receiver.plan(0)
    assert (receiver.index, receiver.ck, dict(receiver.kept)) == before


def test_skips_are_capped_and_kept_keys_bounded_and_used_once() -> None:
    sender, receiver = _chain()
    keys = [sender.advance()[1] for _ in range(MAX_SKIP + 2)]
    with pytest.raises(CannotOpen, match="too_far"):
        receiver.plan(MAX_SKIP + 1)
    plan = receiver.plan(MAX_SKIP)
    assert plan.key == keys[MAX_SKIP]
    receiver.commit(plan)
    assert len(receiver.kept) == MAX_KEPT and min(receiver.kept) == MAX_SKIP - MAX_KEPT
    late = receiver.plan(MAX_SKIP - 1)
    assert late.key == keys[MAX_SKIP - 1]
    receiver.commit(late)
    for index in (MAX_SKIP - 1, MAX_SKIP, 0):
        with pytest.raises(CannotOpen, match="replay"):
            receiver.plan(index)


def test_the_oldest_kept_keys_go_first() -> None:
    sender, receiver = _chain()
    for _ in range(200):
        sender.advance()
    for index in (50, 100, 160):
        receiver.commit(receiver.plan(index))
    assert len(receiver.kept) == MAX_KEPT and list(receiver.kept) == sorted(receiver.kept)
    # 0..49, then 51..99, then 101..159 were stepped over: the newest 64 stay.
    assert set(receiver.kept) == set(range(95, 100)) | set(range(101, 160))


def test_a_step_matches_the_spec() -> None:
    ck = os.urandom(32)
    key, nxt = step(ck)
    okm = p.hkdf(p.hmac_sha256(ck, b"\x01"), b"safespace/v1/message", 44)
    assert (key.mk, key.nonce, nxt) == (okm[:32], okm[32:], p.hmac_sha256(ck, b"\x02"))


def test_distributions_never_move_a_chain_back_and_two_chains_are_kept() -> None:
    chains = PeerChains()
    s0 = SenderChain.fresh(0, os.urandom)
    chains.adopt(s0.state())
    s0.advance()
    s0.advance()
    chains.adopt(s0.state())  # the same chain, further ahead
    assert chains.current is not None and chains.current.index == 2
    with pytest.raises(CannotOpen, match="stale"):
        chains.adopt(ChainState(s0.chain_id, 0, 1, os.urandom(32)))  # back
    with pytest.raises(CannotOpen, match="stale"):
        chains.adopt(s0.state())  # not ahead
    s1 = SenderChain.fresh(1, os.urandom)
    chains.adopt(s1.state())
    assert chains.previous is not None and chains.previous.chain_id == s0.chain_id
    with pytest.raises(CannotOpen, match="stale"):
        chains.adopt(SenderChain.fresh(0, os.urandom).state())  # an older epoch
    with pytest.raises(CannotOpen, match="stale"):
        chains.adopt(ChainState(s0.chain_id, 0, 9, os.urandom(32)))  # the previous chain
    s2 = SenderChain.fresh(2, os.urandom)
    chains.adopt(s2.state())
    assert chains.find(s0.chain_id, 0) is None  # older than the previous: dropped
    assert chains.find(s1.chain_id, 1) is not None and chains.find(s2.chain_id, 2) is not None


# ---- admission ------------------------------------------------------------------------


def test_facilitator_keys_come_from_the_fragment_only() -> None:
    k1, k2 = IdentityKey.generate().public, IdentityKey.generate().public
    link = f"https://chat.example/join#seat=TOKEN&f={b64u_encode(k1)}&f={b64u_encode(k2)}"
    assert identities_from_link(link) == [k1, k2]
    assert identities_from_link("https://chat.example/join#seat=TOKEN") == []
    assert identities_from_link("just-a-token") == []
    query = f"https://chat.example/join?f={b64u_encode(k1)}#seat=TOKEN"
    assert identities_from_link(query) == []  # a query string reaches servers: not trusted
    for bad in ("f=abc", f"f={b64u_encode(k1)}=", f"f={b64u_encode(k1 + b'x')}"):
        with pytest.raises(E2EEError) as caught:
            identities_from_link(f"https://chat.example/join#seat=T&{bad}")
        assert caught.value.why is Why.BAD_LINK


def test_a_fragment_pasted_without_its_hash_is_read_as_a_fragment() -> None:
    k1 = IdentityKey.generate().public
    assert identities_from_link(f"seat=TOKEN&f={b64u_encode(k1)}") == [k1]
    assert identities_from_link(f"  f={b64u_encode(k1)}&seat=TOKEN\n") == [k1]
    # Not a fragment: a bare token, or a URL's query string.
    assert identities_from_link("TOKEN") == []
    assert identities_from_link(f"https://chat.example/join?seat=T&f={b64u_encode(k1)}") == []
    assert identities_from_link(f"join?seat=T&f={b64u_encode(k1)}") == []
    assert link_with_identities("seat=TOKEN", [k1]) == f"seat=TOKEN&f={b64u_encode(k1)}"


def test_a_link_gets_its_facilitator_keys_appended_once() -> None:
    k1, k2 = IdentityKey.generate().public, IdentityKey.generate().public
    link = "https://chat.example/join#seat=TOKEN"
    once = link_with_identities(link, [k1])
    assert once == f"{link}&f={b64u_encode(k1)}"
    assert link_with_identities(once, [k1, k2]) == f"{once}&f={b64u_encode(k2)}"
    assert identities_from_link(link_with_identities(once, [k1, k2])) == [k1, k2]


def test_a_facilitators_device_keeps_no_key_the_server_put_in_a_link() -> None:
    mine, theirs = IdentityKey.generate().public, IdentityKey.generate().public
    planted = f"https://chat.example/join#seat=TOKEN&f={b64u_encode(theirs)}"
    made = link_trusting(planted, [mine])
    assert made == f"https://chat.example/join#seat=TOKEN&f={b64u_encode(mine)}"
    assert identities_from_link(made) == [mine]
    # Pasted as a fragment, or as the bare token, it comes back in the same shape.
    assert link_trusting(f"seat=TOKEN&f={b64u_encode(theirs)}", [mine]) == (
        f"seat=TOKEN&f={b64u_encode(mine)}"
    )
    assert link_trusting("TOKEN", [mine, mine]) == f"seat=TOKEN&f={b64u_encode(mine)}"


def test_the_identity_key_file_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "config" / "safespace" / "alex.identity"
    key = IdentityKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert IdentityKey.load(path) == key == IdentityKey.load_or_create(path)
    assert b64u_encode(key.private) not in repr(key)
    assert key.fragment == f"f={b64u_encode(key.public)}"
    path.chmod(0o644)
    with pytest.raises(PermissionError):
        IdentityKey.load(path)
    other = tmp_path / "other"
    other.write_text("not a key\n")
    other.chmod(0o600)
    with pytest.raises(ValueError):
        IdentityKey.load(other)


# ---- what may never show ----------------------------------------------------------------


def test_no_key_or_plaintext_shows_in_a_repr() -> None:
    ck, mk, nonce = bytes(range(32)), bytes(range(100, 132)), bytes(range(200, 212))
    words = "words only the room may read"
    key = MessageKey(mk, nonce)
    chain = ReceiverChain(b"c" * 16, 0, 3, ck)
    chain.kept[1] = key
    peer = Peer("p2", "member", b"", None, chains=PeerChains(current=chain), held=ck)
    shown = [
        key,
        chain,
        ChainState(b"c" * 16, 0, 3, ck),
        Plan(3, key, False, ck, ((2, key),)),
        peer,
        ReportBody(1, "p2", b"ciphertext", mk + nonce, text_body(words), words),
        _Received("p2", b"ciphertext", key, text_body(words)),
        Opened(words, cw=words),
        Reported(1, "p2", words, words),
        Event("msg", {"id": 1}, words, cw=words),
        parse_text_body(text_body(words, cw=words)),
    ]
    for thing in shown:
        text = repr(thing)
        for secret in (ck, mk, nonce):
            assert repr(secret)[2:-1] not in text and secret.hex() not in text, text
        assert words not in text, text


# ---- private entries ------------------------------------------------------------------


def test_a_recipient_whose_key_fails_is_left_out_and_the_others_still_get_theirs() -> None:
    ctx = context("g", "s")
    sender_x, good_x = os.urandom(32), os.urandom(32)
    recipients = [
        Recipient("p1", bytes(32), os.urandom(12)),  # a low-order point: no pairwise key
        Recipient("p2", p.x25519_public(good_x), os.urandom(12)),
    ]
    body = text_body("for the facilitators")
    payload = seal_private(KIND_PRIVATE, ctx, "p3", sender_x, recipients, body)
    assert [e.recipient for e in parse_private(payload)[1]] == ["p2"]
    sender_pub = p.x25519_public(sender_x)
    _, opened = open_private(KIND_PRIVATE, ctx, "p3", "p2", good_x, sender_pub, payload)
    assert opened == body
    with pytest.raises(CannotSeal) as caught:
        seal_private(KIND_PRIVATE, ctx, "p3", sender_x, recipients[:1], body)
    assert caught.value.why is Why.NO_RECIPIENT
