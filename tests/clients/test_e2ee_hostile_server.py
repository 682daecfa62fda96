"""Admission and removal against a server that lies (issue 14, docs/e2ee.md section 3).

The in-memory room (e2ee_room.py) plays the server; here it misbehaves on
purpose: it keeps what it relayed and shows it again later (a removed
member's old entry and vouch, in the same session or in a later one that
reuses the session id), strips the signature from a removal, withholds the
facilitator's new vouches, and numbers a message differently for two people.
Each test states what an honest member's client does: who it trusts, and
that the person the server slipped in reads nothing.
"""

from __future__ import annotations

import copy
from typing import Any

from e2ee_room import Room, Seat

from clients.e2ee import E2EECodec, IdentityKey

GROUP, SESSION = "g_3f9a1c2b7d4e", "00112233445566778899aabbccddeeff"


def room_with(*names: str, identity: IdentityKey | None = None) -> tuple[Room, Seat, list[Seat]]:
    room = Room(GROUP, SESSION)
    fac = room.facilitator(identity=identity)
    return room, fac, [room.member(n) for n in names]


def replay_joined(room: Room, old: dict[str, Any], to: list[Seat]) -> None:
    """The server shows ``to`` an entry it kept (keys, pid and vouches as they were)."""
    for seat in to:
        room.deliver(seat.pid, {"t": "joined", "p": copy.deepcopy(old)})
    room.pump()


def comeback(room: Room, seat: Seat, old: dict[str, Any]) -> None:
    """The removed person, still holding their old page's keys, is put back by the server."""
    room.seats[seat.pid] = seat
    seat.present = True
    seat.vouches = {v["by"]: (v["anchor"], v["sig"]) for v in old["vouches"]}


def test_a_removed_member_replayed_in_the_same_session_is_trusted_by_nobody() -> None:
    room, fac, (a, b, mallory) = room_with("alice", "bob", "mallory")
    old = mallory.public()
    assert a.codec.trusted(mallory.pid)
    room.remove(mallory, by=fac)
    replay_joined(room, old, [a, b])
    comeback(room, mallory, old)
    assert not a.codec.trusted(mallory.pid) and not b.codec.trusted(mallory.pid)
    room.chat(a, "after the removal")
    assert mallory.texts()[-1:] == [None]  # nothing mallory can open
    assert b.texts()[-1] == "after the removal"  # the rest of the room goes on


def test_a_removal_whose_signature_the_server_strips_still_holds_through_the_new_anchor() -> None:
    room, fac, (a, mallory) = room_with("alice", "mallory")
    old = mallory.public()
    room.remove(mallory)  # the server relays the removal without its proof
    replay_joined(room, old, [a])
    comeback(room, mallory, old)
    # The facilitator's client chose a new anchor and vouched for alice under
    # it: mallory's old vouch names the old one and counts for nothing.
    assert not a.codec.trusted(mallory.pid)
    room.chat(a, "still private")
    assert mallory.texts()[-1:] == [None]


def test_the_signed_removal_bars_the_keys_even_if_the_new_vouches_are_withheld() -> None:
    room, fac, (a, mallory) = room_with("alice", "mallory")
    old = mallory.public()
    proof = fac.codec.removal_proof(mallory.pid, for_good=True)
    del room.seats[mallory.pid]
    room.deliver(a.pid, {"t": "removed", "pid": mallory.pid, "for_good": True, **proof})
    fac.codec.on_frame({"t": "removed", "pid": mallory.pid, "for_good": True, **proof})
    fac.codec.outgoing()  # the server withholds every new vouch from alice
    replay_joined(room, old, [a])
    assert not a.codec.trusted(mallory.pid)
    assert {"code": "keys_barred", "pid": mallory.pid} in a.codec.notices()
    # Under another pid, and with a fresh-looking vouch, the same keys stay barred.
    replay_joined(room, {**old, "pid": "p99"}, [a])
    assert not a.codec.trusted("p99")


def test_a_forged_or_misdirected_removal_proof_bars_nothing() -> None:
    room, fac, (a, b) = room_with("alice", "bob")
    stranger = IdentityKey.generate()
    assert a.codec.ctx is not None
    forged = stranger.sign_removal(a.codec.ctx, b.pid, b.keys, False)
    # The server claims the facilitator removed bob (it did not) with a proof
    # by another key, then brings bob "back": bob is still trusted.
    proof = {"by": fac.codec.identity.public, "proof": forged}  # type: ignore[union-attr]
    room.deliver(a.pid, {"t": "removed", "pid": b.pid, "for_good": False, **proof})
    assert b.keys not in a.codec._barred  # the forged proof barred nothing
    # (A pid the server says was removed is not trusted again under that pid:
    # the server can always make someone unreachable; it cannot make anyone trusted.)


def test_a_removed_pid_shown_again_is_never_trusted_even_before_the_new_anchor_arrives() -> None:
    """The window before a member gets its vouch under the new anchor: closed by the pid."""
    room, fac, (a, sam) = room_with("alice", "sam")
    old = sam.public()
    a.present = False  # the server withholds from alice the facilitator's new vouches
    room.remove(sam)  # and strips the removal's proof
    a.present = True
    room.deliver(a.pid, {"t": "removed", "pid": sam.pid, "for_good": False})
    replay_joined(room, old, [a])
    assert not a.codec.trusted(sam.pid)
    assert not [f for f in a.codec.outgoing() if f.get("to") == sam.pid]


def test_a_later_session_with_the_same_id_accepts_no_vouch_from_the_earlier_one() -> None:
    identity = IdentityKey.generate()
    first, _, (_, mallory) = room_with("alice", "mallory", identity=identity)
    old = mallory.public()
    # Next week: the server reuses the session id; everyone arrives on a new page.
    room, fac, (a,) = room_with("alice", identity=identity)
    replay_joined(room, old, [a])
    comeback(room, mallory, old)
    assert not a.codec.trusted(mallory.pid)
    room.chat(a, "a new week")
    assert mallory.texts()[-1:] == [None]


def test_a_member_trusts_nobody_the_facilitator_has_not_vouched_it_to() -> None:
    """Vouches copied from the roster are not enough: the signer must have seen us."""
    room, fac, (a,) = room_with("alice")
    trusted = [fac.codec.identity.public]  # type: ignore[union-attr]
    b = room.inject(E2EECodec(trusted=trusted), "bob", shown_to=[a])
    assert not b.codec.trusted(a.pid) and not b.codec.trusted(fac.pid)
    assert not a.codec.trusted(b.pid)


def test_a_facilitator_renews_its_anchor_and_the_rest_of_the_room_keeps_reading() -> None:
    room, fac, (a, b, c) = room_with("alice", "bob", "carol")
    before = fac.codec._anchor
    room.leave(c)
    assert fac.codec._anchor not in (None, before)
    assert all(s.codec.trusted(p.pid) for s in (a, b, fac) for p in (a, b, fac) if s is not p)
    room.chat(a, "after carol left")
    assert b.texts()[-1] == "after carol left" and fac.texts()[-1] == "after carol left"


def test_a_report_of_a_message_the_server_numbered_differently_is_not_verified() -> None:
    room, fac, (a, b) = room_with("alice", "bob")
    first = room.chat(a, "the first message")
    second = room.chat(a, "the second message")
    # The server told bob that the first message was number 2 (and the
    # facilitator knows number 2 as the second): bob reports "number 2".
    bob_codec = b.codec
    bob_codec._received[second["id"]] = bob_codec._received[first["id"]]
    frame = room.report(b, second["id"], "this is not ok")
    opened = fac.got[-1][1]
    assert frame["msg"] == second["id"]
    assert getattr(opened, "verified", None) is False
    assert opened.reported is not None and opened.reported.id_mismatch  # type: ignore[union-attr]
    # The same report of the message under its true number is verified.
    room.report(b, first["id"], "this is not ok")
    assert getattr(fac.got[-1][1], "verified", None) is True


def test_an_earlier_vouch_replayed_never_rolls_a_members_anchor_back() -> None:
    """The server replays the facilitator's vouch for carol from before a departure."""
    room, fac, (a, b, carol) = room_with("alice", "bob", "carol")
    old_bob, old_for_carol = b.public(), carol.public()["vouches"]
    room.leave(b)  # the facilitator's anchor moves on; bob's old vouch names the old one
    for v in old_for_carol:
        room.deliver(carol.pid, {"t": "vouch", "pid": carol.pid, **v})
    replay_joined(room, old_bob, [carol])
    comeback(room, b, old_bob)
    assert not carol.codec.trusted(b.pid)
    room.chat(carol, "after bob left")
    assert b.texts()[-1:] == [None]


def test_anchors_arriving_out_of_order_keep_the_latest() -> None:
    """Two renewals; the server hands carol the newer vouch first, then the older."""
    room, fac, (a, b, c, carol) = room_with("alice", "bob", "cy", "carol")

    def vouches_for_carol_after(leaver: Seat) -> list[dict[str, Any]]:
        carol.present = False  # the server shows carol nothing while the room moves on
        room.leave(leaver)
        carol.present = True
        return [f for _, f in room.log if f["t"] == "vouch" and f["pid"] == carol.pid][-1:]

    first = vouches_for_carol_after(b)  # anchor 1 (bob gone)
    old_c = c.public()  # cy's vouch names anchor 1
    second = vouches_for_carol_after(c)  # anchor 2 (cy gone)
    assert first and second and first != second
    for gone in (b, c):
        room.deliver(carol.pid, {"t": "left", "pid": gone.pid})
    for frame in (*second, *first):  # the later one first
        room.deliver(carol.pid, dict(frame))
    replay_joined(room, old_c, [carol])
    assert not carol.codec.trusted(c.pid)
