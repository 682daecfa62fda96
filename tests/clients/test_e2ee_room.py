"""The encryption layer's promises, with real keys, in a room played in memory.

Each test is one property of docs/e2ee.md (and of DESIGN.md section 5): who
can read what, when, and what is refused. The in-memory room (e2ee_room.py)
relays frames as the server does; no event loop, no network.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from e2ee_room import Room, Seat

from clients.e2ee import CannotOpen, CannotSeal, E2EECodec, IdentityKey, Why
from clients.e2ee.admission import verify_vouch
from clients.e2ee.anchor_memory import AnchorFile, SessionMemory
from clients.e2ee.codec import MESSAGES_REMEMBERED
from clients.e2ee.encoding import (
    KIND_PRIVATE,
    KIND_REPORT,
    Bundle,
    ReportBody,
    RoomPayload,
    text_body,
)
from clients.e2ee.sealing import Recipient, seal_private
from clients.payload import Opened, PlainCodec


def room_of(*names: str) -> tuple[Room, Seat, list[Seat]]:
    room = Room()
    fac = room.facilitator()
    return room, fac, [room.member(n) for n in names]


def refused(seat: Seat, frame: dict[str, object]) -> Why:
    with pytest.raises(CannotOpen) as caught:
        seat.codec.open(frame)
    return caught.value.why


def with_payload(frame: dict[str, object], payload: bytes, **changes: object) -> dict[str, object]:
    return {**frame, "payload": payload, **changes}


def flip(raw: bytes, at: int) -> bytes:
    out = bytearray(raw)
    out[at] ^= 0x01
    return bytes(out)


def directs(room: Room, to: Seat, sender: Seat) -> list[bytes]:
    """The distributions ``to`` received from ``sender``, in order."""
    return [
        f["payload"]
        for pid, f in room.log
        if pid == to.pid and f["t"] == "direct" and f["from"] == sender.pid
    ]


def low_order(codec: E2EECodec) -> E2EECodec:
    """``codec`` publishing an all-zero X25519 key (a low-order point) in its bundle."""
    codec._bundle = Bundle(bytes(32), codec._bundle.s_pub)
    return codec


def mismatch(pid: str) -> dict[str, str]:
    return {"code": "keys_mismatch", "pid": pid}


# ---- everyone vouched reads everyone ----------------------------------------------


def test_a_room_reads_itself_and_everyone_is_verified() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    room.chat(a, "hello")
    room.chat(b, "hi alice")
    room.chat(fac, "welcome both")
    for seat in (fac, a, b):
        assert seat.texts() == ["hello", "hi alice", "welcome both"]
        assert seat.codec.warnings() == []
        assert all(seat.codec.verified(pid) for pid in room.seats)
        assert seat.codec.ready()


def test_the_server_sees_no_text_and_members_send_no_vouches() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    frame = room.chat(a, "a secret of mine")
    assert b"a secret" not in frame["payload"]
    assert all(b"a secret" not in f.get("payload", b"") for _, f in room.log)
    vouchers = {f["by"] for _, f in room.log if f["t"] == "vouch"}
    assert vouchers == {fac.codec.identity.public}  # type: ignore[union-attr]


# ---- joining and leaving -----------------------------------------------------------


def test_a_newcomer_cannot_read_what_was_sent_before_it_arrived() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    earlier = [room.chat(a, "before carol 1"), room.chat(b, "before carol 2")]
    c = room.member("carol")
    for frame in earlier:
        assert refused(c, frame) in (Why.REPLAY, Why.UNKNOWN_CHAIN)
    room.chat(a, "after carol")
    assert c.texts() == ["after carol"]


def test_a_removed_member_given_every_later_ciphertext_reads_none() -> None:
    room, fac, (a, b, c) = room_of("alice", "bob", "carol")
    room.chat(a, "before")
    assert c.texts() == ["before"]
    room.remove(c)
    later = [room.chat(a, "after 1"), room.chat(b, "after 2"), room.chat(fac, "after 3")]
    later.append(room.chat(a, "after 4"))
    # Carol's codec kept all it had; a server (or a friend) hands her everything.
    for frame in later:
        assert refused(c, frame) is Why.UNKNOWN_CHAIN
    assert b.texts()[-4:] == ["after 1", "after 2", "after 3", "after 4"]


@pytest.mark.parametrize("how", ["step_out", "leave"])
def test_who_departs_cannot_read_what_follows(how: str) -> None:
    room, fac, (a, b, c) = room_of("alice", "bob", "carol")
    room.chat(a, "before")
    epochs = a.codec.chain.epoch  # type: ignore[union-attr]
    getattr(room, how)(c)
    # A new chain at least (a leave also moves the facilitator's anchor, and a
    # peer whose new vouch comes after ours is briefly untrusted: another one).
    assert a.codec.chain.epoch > epochs  # type: ignore[union-attr]
    frame = room.chat(a, "after")
    assert refused(c, frame) is Why.UNKNOWN_CHAIN
    assert b.texts()[-1] == "after" and fac.texts()[-1] == "after"


def test_coming_back_from_a_new_page_needs_a_new_vouch_and_gets_the_current_chain() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    room.step_out(b)
    room.chat(a, "while bob was away")
    trusted = [fac.codec.identity.public]  # type: ignore[union-attr]
    room.come_back(b, E2EECodec(trusted=trusted))
    assert a.codec.verified(b.pid)  # the facilitator vouched for the new keys at once
    room.chat(a, "welcome back")
    room.chat(b, "thanks")
    assert b.texts() == ["welcome back", "thanks"]
    assert a.texts()[-1] == "thanks"


def test_new_keys_without_a_departure_are_the_old_keys_departing() -> None:
    """A reconnect from a new page, or a connection that replaced the old one:
    ``presence`` true with new keys and no ``presence`` false before it."""
    room, fac, (a, b) = room_of("alice", "bob")
    room.chat(a, "before")
    old_page = b.codec
    epochs = {s.pid: s.codec.chain.epoch for s in (fac, a)}  # type: ignore[union-attr]
    trusted = [fac.codec.identity.public]  # type: ignore[union-attr]
    room.come_back(b, E2EECodec(trusted=trusted))
    for seat in (fac, a):
        assert seat.codec.chain.epoch == epochs[seat.pid] + 1  # type: ignore[union-attr]
    later = [room.chat(a, "after"), room.chat(fac, "after, too")]
    for frame in later:  # the old page still holds the chains it had: none of them serves
        with pytest.raises(CannotOpen) as caught:
            old_page.open(frame)
        assert caught.value.why is Why.UNKNOWN_CHAIN
    assert b.texts()[-2:] == ["after", "after, too"]
    # A ``joined`` that shows a present participant with other keys is the same.
    epoch = a.codec.chain.epoch  # type: ignore[union-attr]
    room.deliver(a.pid, {"t": "joined", "p": {**b.public(), "keys": E2EECodec().public_keys()}})
    assert a.codec.chain.epoch == epoch + 1  # type: ignore[union-attr]
    assert not a.codec.trusted(b.pid)


@pytest.mark.parametrize("how", ["left", "removed", "keys_reset", "welcome_again"])
def test_an_old_distribution_replayed_after_its_chain_was_dropped_is_refused(how: str) -> None:
    """The server drops a sender's chain from a client's view, brings the sender
    back (with the vouches it keeps), and replays the old distribution and
    message: the chain id was taken up once this session, and never again."""
    room, fac, (a, b) = room_of("alice", "bob")
    said = room.chat(a, "said once")
    assert b.texts() == ["said once"]
    distribution = directs(room, b, a)[-1]
    if how in ("left", "removed"):
        room.deliver(b.pid, {"t": how, "pid": a.pid, "for_good": False})
        assert a.pid not in b.codec.peers
        room.deliver(b.pid, {"t": "joined", "p": a.public()})
    elif how == "keys_reset":
        other = E2EECodec().public_keys()
        for keys in (other, a.keys):
            room.deliver(b.pid, {"t": "presence", "pid": a.pid, "present": True, "keys": keys})
        for by, (anchor, sig) in a.vouches.items():
            vouch = {"t": "vouch", "pid": a.pid, "by": by, "anchor": anchor, "sig": sig}
            room.deliver(b.pid, vouch)
    else:
        room.deliver(b.pid, room.welcome(b))
    room.pump()
    if how in ("left", "removed"):
        # A pid that left or was removed never comes back in a session (a
        # returning member gets a new one): shown again, it is not trusted.
        assert not b.codec.trusted(a.pid)
        with pytest.raises(CannotOpen) as caught:
            b.codec.accept_distribution(a.pid, distribution)
        assert caught.value.why is Why.UNTRUSTED
        room.deliver(b.pid, {"t": "direct", "from": a.pid, "payload": distribution})
        assert refused(b, said) is Why.UNTRUSTED
        return
    assert b.codec.trusted(a.pid) and b.codec.peers[a.pid].chains.current is None
    with pytest.raises(CannotOpen) as caught:
        b.codec.accept_distribution(a.pid, distribution)
    assert caught.value.why is Why.STALE
    room.deliver(b.pid, {"t": "direct", "from": a.pid, "payload": distribution})
    assert refused(b, said) is Why.UNKNOWN_CHAIN
    assert refused(b, {**said, "id": 99}) is Why.UNKNOWN_CHAIN


def test_a_distribution_that_moves_the_current_chain_ahead_is_still_taken() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    room.chat(a, "one")
    a.codec.seal("never relayed")  # alice's chain moves on; bob's copy stays at index 1
    # Bob is shown to alice coming back (same keys): her chain, as it stands.
    room.deliver(a.pid, {"t": "presence", "pid": b.pid, "present": True, "keys": b.keys})
    room.pump()
    chain = b.codec.peers[a.pid].chains.current
    assert chain is not None and chain.index == 2  # the same chain id, taken again: ahead
    # The same state once more does not move it (nor back).
    with pytest.raises(CannotOpen) as caught:
        b.codec.accept_distribution(a.pid, directs(room, b, a)[-1])
    assert caught.value.why is Why.STALE
    room.chat(a, "three")
    assert b.texts()[-1] == "three"


def test_old_keys_are_dropped_as_the_chain_moves() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    first = room.chat(a, "one")
    chain = b.codec.peers[a.pid].chains.current
    assert chain is not None
    ck_after_one = chain.ck
    room.chat(a, "two")
    assert chain.ck != ck_after_one and chain.index == 2 and not chain.kept
    # A key once used cannot be used again.
    assert refused(b, first) is Why.REPLAY
    # The sender forgot it too: its state starts at the next index.
    assert a.codec.chain.state().index == 2  # type: ignore[union-attr]


# ---- tampering ------------------------------------------------------------------------


def _parts(payload: bytes) -> tuple[int, int, int]:
    """Offsets of the signature, the commitment and the ciphertext."""
    p = RoomPayload.parse(payload)
    sig = 2 + len(p.header_bytes)
    return sig, sig + 64, sig + 96


@pytest.mark.parametrize("part", ["header", "signature", "commitment", "ciphertext", "tag"])
def test_a_flipped_bit_anywhere_is_refused_and_changes_nothing(part: str) -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    payload = a.codec.seal("hold on")
    sig, commit, ct = _parts(payload)
    at = {"header": sig - 1, "signature": sig + 5, "commitment": commit + 1, "ciphertext": ct,
          "tag": len(payload) - 1}[part]  # fmt: skip
    frame = {"t": "msg", "id": 1, "from": a.pid, "payload": flip(payload, at), "ts": 1.0}
    assert refused(b, frame) is Why.SIGNATURE
    # The genuine message still opens: the refusal left the chain as it was.
    assert b.codec.open(with_payload(frame, payload)) == Opened("hold on")


def test_a_replayed_message_is_refused() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    frame = room.chat(a, "only once")
    assert b.texts() == ["only once"]
    assert refused(b, frame) is Why.REPLAY
    assert refused(b, {**frame, "id": 99}) is Why.REPLAY


def test_a_message_moved_to_another_room_or_claimed_by_another_sender_is_refused() -> None:
    room, fac, (a, b, c) = room_of("alice", "bob", "carol")
    frame = room.chat(a, "for this room only")
    # Another session of the same group: same pids, other session id.
    other = Room(session="ffeeddccbbaa99887766554433221100")
    ofac = other.facilitator(identity=fac.codec.identity)
    oa, ob = other.member("alice"), other.member("bob")
    assert (ofac.pid, oa.pid, ob.pid) == (fac.pid, a.pid, b.pid)
    assert refused(ob, frame) is Why.CONTEXT
    assert refused(b, {**frame, "from": c.pid}) is Why.SENDER


def test_distribution_forwarded_or_reattributed_fails_to_decrypt() -> None:
    room, fac, (a, b, c) = room_of("alice", "bob", "carol")
    room.step_out(fac)  # a rekey: alice sends new chains to bob and carol
    to_bob = [
        f["payload"]
        for pid, f in room.log
        if pid == b.pid and f["t"] == "direct" and f["from"] == a.pid
    ][-1]
    with pytest.raises(CannotOpen) as forwarded:
        c.codec.accept_distribution(a.pid, to_bob)
    assert forwarded.value.why is Why.DECRYPT
    with pytest.raises(CannotOpen) as reattributed:
        b.codec.accept_distribution(c.pid, to_bob)
    assert reattributed.value.why is Why.DECRYPT


def test_a_forward_jump_beyond_the_cap_is_refused_and_one_at_the_cap_opens() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    payloads = [a.codec.seal(f"m{i}") for i in range(1002)]

    def frame(i: int) -> dict[str, object]:
        return {"t": "msg", "id": i + 1, "from": a.pid, "payload": payloads[i], "ts": 1.0}

    assert refused(b, frame(1001)) is Why.TOO_FAR  # 1001 indexes stepped over
    assert b.codec.open(frame(1000)).text == "m1000"  # exactly MAX_SKIP
    chain = b.codec.peers[a.pid].chains.current
    assert chain is not None and sorted(chain.kept) == list(range(936, 1000))  # MAX_KEPT
    assert b.codec.open(frame(999)).text == "m999"  # a kept key, once
    assert refused(b, frame(999)) is Why.REPLAY
    assert refused(b, frame(10)) is Why.REPLAY  # dropped: beyond MAX_KEPT
    assert b.codec.open(frame(1001)).text == "m1001"


# ---- admission --------------------------------------------------------------------------


def test_a_participant_without_a_valid_vouch_gets_no_keys_and_members_are_warned() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    # The server slips someone in, shown to the members but never to the facilitator.
    mole = room.inject(E2EECodec(), "mole", shown_to=[a, b])
    assert not any(f["t"] == "direct" and pid == mole.pid and f["from"] in (a.pid, b.pid)
                   for pid, f in room.log)  # fmt: skip
    assert {"code": "untrusted", "pid": mole.pid} in a.codec.warnings()
    assert not a.codec.verified(mole.pid)
    a.codec.notices()
    frame = room.chat(a, "can the mole read this?")
    assert {"code": "untrusted", "pid": mole.pid} in a.codec.notices()
    assert refused(mole, frame) is Why.UNKNOWN_CHAIN
    # What the mole sends is refused too.
    assert refused(a, room.chat(mole, "trust me")) is Why.UNTRUSTED


def test_a_forged_or_moved_vouch_does_not_make_anyone_trusted() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    mole = room.inject(E2EECodec(), "mole", shown_to=[a, b])
    fake = IdentityKey.generate()
    assert a.codec.ctx is not None
    anchor = fac.codec._anchor
    assert anchor is not None
    forged = fake.sign(a.codec.ctx, anchor, mole.pid, "member", mole.keys)
    real_for_bob = fac.codec.identity.sign(a.codec.ctx, anchor, b.pid, "member", b.keys)  # type: ignore[union-attr]
    by = fac.codec.identity.public  # type: ignore[union-attr]
    for frame in (
        {"t": "vouch", "pid": mole.pid, "by": fake.public, "anchor": anchor, "sig": forged},
        {"t": "vouch", "pid": mole.pid, "by": by, "anchor": anchor, "sig": forged},
        {"t": "vouch", "pid": mole.pid, "by": by, "anchor": anchor, "sig": real_for_bob},
    ):
        room.to_room(frame)
        room.pump()
        assert not a.codec.verified(mole.pid) and not a.codec.trusted(mole.pid)


def test_a_facilitator_never_vouches_for_other_keys_under_its_own_pid() -> None:
    room, fac, (a,) = room_of("alice")
    mole = E2EECodec().public_keys()
    fac.codec.outgoing(), fac.codec.notices()
    fac.codec.on_frame({"t": "joined", "p": {**fac.public(), "keys": mole, "vouches": []}})
    fac.codec.on_frame({"t": "presence", "pid": fac.pid, "present": True, "keys": mole})
    assert fac.codec.outgoing() == []
    assert fac.codec.notices() == [mismatch(fac.pid), mismatch(fac.pid)]
    assert fac.codec.verified(fac.pid)  # its own entry keeps its own keys
    # Its own keys, shown back to it, are no news.
    fac.codec.on_frame({"t": "joined", "p": fac.public()})
    assert fac.codec.outgoing() == [] and fac.codec.notices() == []

    # A welcome that lists other keys under the facilitator's pid: no vouch.
    identity = fac.codec.identity
    assert identity is not None
    welcome = room.welcome(fac)
    welcome["roster"] = [
        {**e, "keys": mole, "vouches": []} if e["pid"] == fac.pid else e for e in welcome["roster"]
    ]
    same_keys = {"x_priv": fac.codec._x_priv, "s_priv": fac.codec._s_priv}
    fresh = E2EECodec.facilitator(identity, **same_keys)
    fresh.on_frame(welcome)
    # (A new codec has a new anchor: it vouches for alice again, never for the mole's keys.)
    assert [f["pid"] for f in fresh.outgoing() if f["t"] == "vouch"] == [a.pid]
    assert mismatch(fac.pid) in fresh.notices()
    # The honest welcome (before its vouch is stored): a vouch for its own keys.
    welcome = room.welcome(fac)
    welcome["roster"] = [
        {**e, "vouches": []} if e["pid"] == fac.pid else e for e in welcome["roster"]
    ]
    honest = E2EECodec.facilitator(identity, **same_keys)
    honest.on_frame(welcome)
    vouches = [f for f in honest.outgoing() if f["t"] == "vouch" and f["pid"] == fac.pid]
    assert len(vouches) == 1 and honest.ctx is not None
    sig, anchor, keys = vouches[0]["sig"], vouches[0]["anchor"], honest.public_keys()
    assert verify_vouch(identity.public, sig, honest.ctx, anchor, fac.pid, "facilitator", keys)


def test_a_member_is_warned_when_the_server_shows_other_keys_under_its_pid() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    mole = E2EECodec().public_keys()
    a.codec.notices()
    a.codec.on_frame({"t": "joined", "p": {**a.public(), "keys": mole}})
    a.codec.on_frame({"t": "presence", "pid": a.pid, "present": True, "keys": mole})
    assert a.codec.notices() == [mismatch(a.pid), mismatch(a.pid)]
    assert a.codec.verified(a.pid)  # what it knows of itself did not change
    trusted = [fac.codec.identity.public]  # type: ignore[union-attr]
    fresh = E2EECodec(trusted=trusted, x_priv=a.codec._x_priv, s_priv=a.codec._s_priv)
    welcome = room.welcome(a)
    welcome["roster"] = [{**e, "keys": mole} if e["pid"] == a.pid else e for e in welcome["roster"]]
    fresh.on_frame(welcome)
    assert mismatch(a.pid) in fresh.notices() and not fresh.verified(a.pid)


def test_a_bundle_with_a_low_order_key_is_never_trusted_and_blocks_no_one() -> None:
    room, fac, (a,) = room_of("alice")
    bad = room.inject(low_order(E2EECodec()), "bad", shown_to=[fac, a])
    b, c = room.member("bob"), room.member("carol")
    assert not any(f["t"] == "vouch" and f["pid"] == bad.pid for _, f in room.log)
    for seat in (fac, a, b, c):
        assert not seat.codec.trusted(bad.pid) and not seat.codec.verified(bad.pid)
    room.leave(c)  # everyone's new chain goes round the roster, past the bad bundle
    room.chat(a, "after carol left")
    room.chat(fac, "and from the host")
    assert b.texts()[-2:] == ["after carol left", "and from the host"]
    assert {"code": "untrusted", "pid": bad.pid} in a.codec.warnings()


def test_one_peer_whose_keys_fail_does_not_stop_anyone_else_getting_keys() -> None:
    """Should a bad key get past the check on arrival, each loop still serves the rest."""
    room = Room()
    f1 = room.facilitator("Alex")
    f2 = room.facilitator("Sam", co_facilitators=[f1.codec.identity.public])  # type: ignore[union-attr]
    a, b, c, d = (room.member(n) for n in ("alice", "bob", "carol", "dave"))
    for pid in (f1.pid, b.pid):  # as alice sees them: agreement with them now fails
        peer = a.codec.peers[pid]
        assert peer.bundle is not None
        peer.bundle = Bundle(bytes(32), peer.bundle.s_pub)
    room.leave(c)  # alice's new chain: to f1 (fails), f2, b (fails), d
    room.chat(a, "still heard")
    assert d.texts()[-1] == "still heard" and f2.texts()[-1] == "still heard"
    room.private(a, "to whichever facilitator can read it")
    assert f2.texts("private") == ["to whichever facilitator can read it"]
    assert f1.texts("private") == [None]


def test_a_distribution_before_the_vouch_is_held_and_taken_up_after_it() -> None:
    room, fac, (a,) = room_of("alice")
    trusted = [fac.codec.identity.public]  # type: ignore[union-attr]
    b = room.inject(E2EECodec(trusted=trusted), "bob", shown_to=[a])
    # Nobody has vouched for bob: he trusts nobody yet (he does not know the
    # facilitator's anchor), and alice does not trust him.
    assert not b.codec.trusted(a.pid) and b.codec._sent == set()
    # The facilitator learns of bob and vouches; bob gets the vouch first.
    room.deliver(fac.pid, {"t": "joined", "p": b.public()})
    vouch = next(f for f in fac.codec.outgoing() if f["t"] == "vouch")
    relayed = {"t": "vouch", **{k: vouch[k] for k in ("pid", "by", "anchor", "sig")}}
    b.vouches[vouch["by"]] = (vouch["anchor"], vouch["sig"])
    room.deliver(b.pid, relayed)
    room.pump()
    assert a.pid in b.codec._sent  # bob handed alice his chain
    assert a.codec.peers[b.pid].held is not None
    assert a.codec.peers[b.pid].chains.current is None
    room.deliver(a.pid, relayed)  # now alice gets it too
    room.pump()
    assert a.codec.peers[b.pid].held is None
    room.chat(b, "hi alice")
    assert a.texts() == ["hi alice"]


def test_an_unverified_link_trusts_everyone_and_says_so_on_every_send() -> None:
    room = Room()
    fac = room.facilitator()
    a = room.member("alice", link_keys=[])
    b = room.member("bob")
    assert a.codec.unverified and {"code": "unverified_link"} in a.codec.warnings()
    assert {"code": "unverified_link"} in a.codec.notices()  # at once
    room.chat(a, "one")
    assert {"code": "unverified_link"} in a.codec.notices()
    room.chat(a, "two")
    assert {"code": "unverified_link"} in a.codec.notices()
    assert b.texts() == ["one", "two"] and fac.texts() == ["one", "two"]
    assert not a.codec.verified(b.pid) and a.codec.trusted(b.pid)
    assert b.codec.notices() == []


def test_a_facilitator_trusts_configured_co_facilitators_only() -> None:
    room = Room()
    f1 = room.facilitator("Alex")
    f2_identity = IdentityKey.generate()
    f2 = room.facilitator("Sam", identity=f2_identity, co_facilitators=[f1.codec.identity.public])  # type: ignore[union-attr]
    a = room.member("alice")  # its link names both
    assert f2.codec.verified(f1.pid) and not f1.codec.verified(f2.pid)
    assert a.codec.verified(f1.pid) and a.codec.verified(f2.pid)
    assert {"code": "untrusted", "pid": f2.pid} in f1.codec.warnings()
    room.chat(a, "to everyone")
    assert f1.texts() == ["to everyone"] and f2.texts() == ["to everyone"]
    room.private(a, "to both facilitators")
    assert f1.texts("private") == ["to both facilitators"]
    assert f2.texts("private") == ["to both facilitators"]


def test_a_server_that_changes_a_role_breaks_the_vouch() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    entry = {**b.public(), "role": "facilitator"}
    a.codec.on_frame({"t": "left", "pid": b.pid})
    a.codec.on_frame({"t": "joined", "p": entry})
    assert not a.codec.trusted(b.pid)


# ---- messages to the facilitators, and reports --------------------------------------------


def test_a_private_message_reaches_the_facilitators_only_once() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    frame = room.private(a, "can we talk later?")
    assert fac.texts("private") == ["can we talk later?"]
    assert refused(fac, frame) is Why.NONCE_REPLAY
    assert refused(b, frame) is Why.NOT_FOR_ME
    assert refused(fac, {**frame, "from": b.pid}) is Why.DECRYPT


def test_a_facilitator_replies_into_one_members_thread_and_only_they_read_it() -> None:
    room = Room()
    one, two = IdentityKey.generate(), IdentityKey.generate()
    fac = room.facilitator("Alex", one, co_facilitators=[two.public])
    co = room.facilitator("Sam", two, co_facilitators=[one.public])
    a, b = room.member("alice"), room.member("bob")
    payload = fac.codec.seal_private("I am here for you", to=a.pid)
    room.pump()
    frame = {"t": "private", "from": fac.pid, "thread": a.pid, "payload": payload, "ts": 1.0}
    assert a.codec.open(frame).text == "I am here for you"
    assert co.codec.open(frame).text == "I am here for you"  # the co-facilitator sees it
    assert refused(b, frame) is Why.NOT_FOR_ME  # the server handing it on learns nothing


def test_a_member_cannot_be_written_to_privately_by_anyone_but_a_facilitator() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    with pytest.raises(CannotSeal):  # a member's client never seals to another member
        b.codec.seal_private("psst", to=a.pid)
    # A compromised client (or the server with a member's keys) seals one anyway:
    # alice's client refuses it, for only a facilitator writes into her thread.
    ctx, x_priv = b.codec.ctx, b.codec._x_priv
    assert ctx is not None and a.codec.peers[a.pid].bundle is not None
    bundle = b.codec.peers[a.pid].bundle
    assert bundle is not None
    forged = seal_private(
        KIND_PRIVATE, ctx, b.pid, x_priv, [Recipient(a.pid, bundle.x_pub, os.urandom(12))],
        text_body("this is the facilitator, trust me"),
    )  # fmt: skip
    frame = {"t": "private", "from": b.pid, "thread": a.pid, "payload": forged, "ts": 1.0}
    assert refused(a, frame) is Why.UNTRUSTED


def test_no_private_message_without_a_trusted_facilitator_present() -> None:
    room, fac, (a,) = room_of("alice")
    room.step_out(fac)
    with pytest.raises(CannotSeal) as caught:
        a.codec.seal_private("anyone?")
    assert caught.value.why is Why.NO_RECIPIENT


def test_a_genuine_report_is_verified() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    msg = room.chat(a, "something hurtful")
    room.report(b, msg["id"], "this hurt")
    opened = fac.last()
    assert isinstance(opened, Opened)
    assert opened.text == "this hurt" and opened.verified is True
    assert opened.reported is not None
    assert (opened.reported.sender, opened.reported.text) == (a.pid, "something hurtful")


def test_a_report_of_the_facilitators_own_message_is_verified() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    msg = room.chat(fac, "words of the host")
    room.report(b, msg["id"], "about the host")
    opened = fac.last()
    assert isinstance(opened, Opened) and opened.verified is True
    assert opened.reported is not None
    assert (opened.reported.sender, opened.reported.text) == (fac.pid, "words of the host")


def test_a_report_whose_body_names_another_message_than_the_frame_is_not_verified() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    first = room.chat(a, "something hurtful")["id"]
    second = room.chat(a, "something kind")["id"]
    for frame_msg in (second, None, True):
        payload = b.codec.seal_report(first, "look")
        frame = {"t": "report", "from": b.pid, "msg": frame_msg, "payload": payload}
        opened = fac.codec.open(frame)
        assert opened.verified is False and opened.reported is not None
        assert opened.reported.msg == first
    payload = b.codec.seal_report(first, "look")
    opened = fac.codec.open({"t": "report", "from": b.pid, "msg": first, "payload": payload})
    assert opened.verified is True


def test_a_report_survives_the_sender_leaving() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    msg = room.chat(a, "something hurtful")
    room.remove(a)
    room.report(b, msg["id"], "they said this before leaving")
    opened = fac.last()
    assert isinstance(opened, Opened) and opened.verified is True


def _forged_report(room: Room, liar: Seat, x_priv: bytes, msg_id: int, **changes: bytes) -> Opened:
    """A report as a lying reporter makes it: the real message, with ``changes``."""
    got = liar.codec._received[msg_id]
    fields = {"key": got.key.raw, "body": got.body, **changes}
    body = ReportBody(msg_id, got.sender, got.payload, fields["key"], fields["body"], "see this")
    fac = next(s for s in room.seats.values() if s.role == "facilitator")
    to = Recipient(fac.pid, Bundle.parse(fac.keys).x_pub, os.urandom(12))
    assert liar.codec.ctx is not None
    payload = seal_private(KIND_REPORT, liar.codec.ctx, liar.pid, x_priv, [to], body.encode())
    room.to_facilitators({"t": "report", "from": liar.pid, "msg": msg_id, "payload": payload})
    opened = fac.last()
    assert isinstance(opened, Opened)
    return opened


def test_a_report_with_altered_text_or_key_is_not_verified() -> None:
    room = Room()
    room.facilitator()
    a = room.member("alice")
    x_priv = os.urandom(32)
    b = room.member("bob", x_priv=x_priv)
    msg_id = room.chat(a, "I am fine, thanks")["id"]
    assert _forged_report(room, b, x_priv, msg_id).verified is True  # the forger's path is sound
    altered = _forged_report(room, b, x_priv, msg_id, body=text_body("I will hurt you"))
    assert altered.verified is False and altered.reported is not None
    assert altered.reported.text == "I will hurt you"
    key = b.codec._received[msg_id].key.raw
    assert _forged_report(room, b, x_priv, msg_id, key=flip(key, 3)).verified is False
    assert _forged_report(room, b, x_priv, msg_id, key=key[:40]).verified is False
    other = room.chat(a, "another message")["id"]
    swapped = b.codec._received[other].key.raw
    assert _forged_report(room, b, x_priv, msg_id, key=swapped).verified is False


def test_a_report_of_a_message_never_read_cannot_be_made() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    with pytest.raises(CannotSeal) as caught:
        b.codec.seal_report(42, "what?")
    assert caught.value.why is Why.UNKNOWN_MESSAGE


# ---- content warnings (docs/e2ee.md section 5) ------------------------------------------------


def test_a_content_warning_travels_inside_the_encrypted_body_to_everyone() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    frame = room.chat(a, "my father died last spring", cw="  loss and grief ")
    assert b"loss" not in frame["payload"]  # sealed, like the text
    for seat in (fac, a, b):  # a: its own echo, opened from what it sealed
        opened = seat.last()
        assert opened == Opened("my father died last spring", cw="loss and grief")
    room.chat(a, "and no warning here")
    assert b.last() == Opened("and no warning here")
    assert isinstance(b.last(), Opened) and b.last().cw is None  # type: ignore[union-attr]


def test_a_content_warning_over_80_characters_is_refused_and_nothing_moves() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    assert a.codec.chain is not None
    index = a.codec.chain.index
    with pytest.raises(CannotSeal) as caught:
        a.codec.seal("words", "w" * 81)
    assert caught.value.why is Why.CW_TOO_LONG
    assert a.codec.chain.index == index and not a.codec._own and a.codec.outgoing() == []
    room.chat(a, "words", cw="w" * 80)  # exactly 80 is fine
    assert b.last() == Opened("words", cw="w" * 80)


def test_a_body_whose_cw_is_not_a_string_is_refused_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import msgpack

    room, fac, (a, b) = room_of("alice", "bob")
    monkeypatch.setattr(
        "clients.e2ee.codec.text_body",
        lambda text, cw=None: msgpack.packb({"text": text, "cw": 7}),
    )
    bad = room.chat(a, "with a number for a warning")
    monkeypatch.undo()
    assert isinstance(b.last(), CannotOpen) and b.last().why is Why.MALFORMED  # type: ignore[union-attr]
    chain = b.codec.peers[a.pid].chains.current
    assert chain is not None and chain.index == 0  # the chain did not move
    assert bad["id"] not in b.codec._received  # nor can it be reported
    room.chat(a, "next", cw="ok")
    assert b.last() == Opened("next", cw="ok")


def test_a_report_shows_the_reported_messages_content_warning() -> None:
    room, fac, (a, b) = room_of("alice", "bob")
    msg = room.chat(a, "something hurtful", cw="insults")
    room.report(b, msg["id"], "this hurt")
    opened = fac.last()
    assert isinstance(opened, Opened) and opened.verified is True and opened.reported is not None
    assert (opened.reported.text, opened.reported.cw) == ("something hurtful", "insults")
    # The cw is inside the proven body: changing it breaks the proof.
    x_priv = os.urandom(32)
    liar = room.member("liar", x_priv=x_priv)
    msg_id = room.chat(a, "the real words", cw="real")["id"]
    forged = _forged_report(room, liar, x_priv, msg_id, body=text_body("the real words", "fake"))
    assert forged.verified is False and forged.reported is not None
    assert forged.reported.cw == "fake"


def test_private_messages_carry_no_content_warning() -> None:
    import msgpack

    room, fac, (a,) = room_of("alice")
    frame = room.private(a, "for you only")
    assert fac.last() == Opened("for you only")
    # One that does has an unknown key there: ignored, like any other.
    ctx, me = a.codec.ctx, a.pid
    assert ctx is not None
    to = Recipient(fac.pid, Bundle.parse(fac.keys).x_pub, os.urandom(12))
    x_priv = a.codec._x_priv
    body = msgpack.packb({"text": "hi", "cw": 7})
    payload = seal_private(KIND_PRIVATE, ctx, me, x_priv, [to], body)
    room.to_facilitators({**frame, "payload": payload})
    assert fac.last() == Opened("hi")


def test_the_plain_codec_refuses_a_content_warning_rather_than_drop_it() -> None:
    codec = PlainCodec()
    assert codec.seal("hi") == b"hi"
    with pytest.raises(ValueError, match="content warning"):
        codec.seal("hi", "loss")


# ---- readiness, the end ---------------------------------------------------------------------


def test_ready_means_keys_went_both_ways() -> None:
    room = Room()
    fac = room.facilitator()
    codec = E2EECodec(trusted=[fac.codec.identity.public])  # type: ignore[union-attr]
    assert not codec.ready()
    a = room.member("alice")
    assert a.codec.ready() and a.codec.ready([fac.pid]) and fac.codec.ready([a.pid])
    mole = room.inject(E2EECodec(), "mole", shown_to=[a])
    assert a.codec.ready()  # an untrusted participant is not waited for...
    assert not a.codec.ready([mole.pid])  # ...unless asked for by name


def test_the_end_of_the_session_wipes_every_key() -> None:
    room, fac, (a,) = room_of("alice")
    room.chat(fac, "kept for a report until the end")
    assert a.codec._received
    a.codec.on_frame({"t": "ended", "reason": "ended_by_facilitator"})
    assert a.codec.chain is None and not a.codec.peers and a.codec.ctx is None
    assert not a.codec._received and not a.codec._own and not a.codec._taken
    assert a.codec._x_priv == b"" and a.codec._s_priv == b""
    with pytest.raises(CannotSeal):
        a.codec.seal("after the end")
    # The codec is spent: a welcome does not bring it back.
    a.codec.on_frame(room.welcome(a))
    assert a.codec.ctx is None and a.codec.outgoing() == []
    with pytest.raises(CannotSeal):
        a.codec.seal("after the end")


def test_only_the_last_200_messages_read_are_kept_for_reports() -> None:
    assert MESSAGES_REMEMBERED == 200
    room, fac, (a, b) = room_of("alice", "bob")
    ids = [room.chat(a, f"m{i}")["id"] for i in range(201)]
    assert len(b.codec._received) == 200 and ids[0] not in b.codec._received
    with pytest.raises(CannotSeal) as caught:
        b.codec.seal_report(ids[0], "too old")
    assert caught.value.why is Why.UNKNOWN_MESSAGE
    room.report(b, ids[1], "still here")
    assert isinstance(fac.last(), Opened) and fac.last().verified is True  # type: ignore[union-attr]


# ---- the lock binds the facilitator's client (issue 14) ----------------------------------


def test_past_a_locked_door_the_facilitators_client_vouches_only_for_whom_it_let_in() -> None:
    room, fac, (a,) = room_of("alice")
    assert a.codec.verified(a.pid) or a.codec.trusted(fac.pid)
    fac.codec.door(False)  # the facilitator pressed start: the door is locked
    fac.codec.notices()
    sneaked = room.member("mallory")  # the server lets in someone who never knocked
    assert not a.codec.trusted(sneaked.pid)  # alice's client gives mallory nothing
    assert {"code": "not_admitted", "pid": sneaked.pid} in fac.codec.notices()
    msg = room.chat(a, "only for those let in")
    assert sneaked.texts() == [None]
    # The server's word cannot open the door again; the facilitator's own acts can.
    room.deliver(fac.pid, {"t": "state", "state": "lobby", "paused": False,
                           "started_at": None, "slow_mode_seconds": 0.0})  # fmt: skip
    later = room.member("eve")
    assert not a.codec.trusted(later.pid)
    fac.codec.letting_in(f"p{room._pids + 1}")  # the facilitator admits a knocker
    knocked = room.member("bob")
    assert a.codec.trusted(knocked.pid)
    fac.codec.vouch_for(sneaked.pid)  # and may still vouch for someone by hand
    room.pump()
    assert a.codec.trusted(sneaked.pid)
    assert msg["id"] == 1


def test_a_facilitator_back_on_a_new_page_past_its_lock_remembers_whom_it_let_in(
    tmp_path: Path,
) -> None:
    """The terminal client restarted mid-session: its anchor and admissions were kept."""
    identity = IdentityKey.generate()
    kept = AnchorFile(tmp_path / "alex.anchors")
    room = Room()
    fac = room.facilitator(identity=identity, memory=kept)
    a, b = room.member("alice"), room.member("bob")
    fac.codec.door(False)
    room.state = "live_locked"
    anchor = fac.codec._anchor
    assert (tmp_path / "alex.anchors").stat().st_mode & 0o777 == 0o600
    room.come_back(fac, E2EECodec.facilitator(identity, memory=AnchorFile(kept.path)))
    assert fac.codec._anchor == anchor
    assert [n for n in fac.codec.notices() if n["code"] == "not_admitted"] == []
    assert all(x.codec.trusted(y.pid) for x in (a, b, fac) for y in (a, b, fac) if x is not y)
    room.chat(fac, "still here")
    assert a.texts()[-1] == b.texts()[-1] == "still here"


def test_without_its_memory_a_facilitator_past_its_lock_vouches_for_nobody_by_itself() -> None:
    identity = IdentityKey.generate()
    room = Room()
    fac = room.facilitator(identity=identity)
    a = room.member("alice")
    fac.codec.door(False)
    room.state = "live_locked"
    room.come_back(fac, E2EECodec.facilitator(identity))  # another device, no memory
    assert {"code": "not_admitted", "pid": a.pid} in fac.codec.notices()
    assert not a.codec.trusted(fac.pid)  # its new keys, under an anchor alice never saw
    fac.codec.vouch_for(a.pid)  # the facilitator knows alice: one vouch and all is well
    room.pump()
    assert a.codec.trusted(fac.pid) and fac.codec.trusted(a.pid)


def test_a_kept_anchor_is_forgotten_when_the_session_ends_or_grows_old(tmp_path: Path) -> None:
    kept = AnchorFile(tmp_path / "f.anchors")
    kept.save(b"ctx", SessionMemory(b"a" * 16, {"p2"}, set()))
    assert kept.load(b"ctx") == SessionMemory(b"a" * 16, {"p2"}, set())
    assert kept.load(b"other") is None
    data = json.loads(kept.path.read_text())
    assert "ctx" not in kept.path.read_text() and len(data) == 1  # only a digest names it
    data[next(iter(data))]["at"] -= 13 * 3600
    kept.path.write_text(json.dumps(data))
    assert kept.load(b"ctx") is None  # a server reusing the id next week finds nothing
    kept.save(b"ctx", SessionMemory(b"a" * 16))
    kept.forget(b"ctx")
    assert kept.load(b"ctx") is None
    kept.path.write_text("not json")
    assert kept.load(b"ctx") is None  # a damaged file is started afresh
