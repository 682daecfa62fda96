"""The wire schema: inbound checking and the outbound frame builders."""

from __future__ import annotations

from typing import Any

import pytest

from rooms import wire
from rooms.errors import REASONS, Code, ProtocolViolation, SafespaceError
from rooms.wire import FACILITATOR_ONLY, INBOUND, Close, Inbound, check_inbound

GOOD_VALUE: dict[Any, Any] = {str: "x", int: 7, bytes: b"\x01\x02", bool: True, (int, float): 2.5}
# A value of the wrong type for each declared type.
WRONG_VALUE: dict[Any, Any] = {str: 1, int: "7", bytes: "bytes?", bool: 1, (int, float): "2"}


def fields_of(kind: str, *, optional: bool) -> dict[str, Any]:
    return {
        name: GOOD_VALUE[typ]
        for name, (typ, required) in INBOUND[kind].items()
        if required or optional
    }


ALL_FIELDS = [(kind, name) for kind, spec in INBOUND.items() for name in spec]
REQUIRED_FIELDS = [(k, n) for k, spec in INBOUND.items() for n, (_, req) in spec.items() if req]
INT_FIELDS = [
    (k, n) for k, spec in INBOUND.items() for n, (t, _) in spec.items() if t in (int, (int, float))
]


def test_all_declared_types_are_covered() -> None:
    for spec in INBOUND.values():
        for typ, _ in spec.values():
            assert typ in GOOD_VALUE


@pytest.mark.parametrize("kind", sorted(INBOUND))
def test_good_frame_with_required_fields(kind: str) -> None:
    fields = fields_of(kind, optional=False)
    assert check_inbound({"t": kind, **fields}) == Inbound(kind, fields, None)


@pytest.mark.parametrize("kind", sorted(INBOUND))
def test_good_frame_with_all_fields_and_ref(kind: str) -> None:
    fields = fields_of(kind, optional=True)
    got = check_inbound({"t": kind, "ref": 12, **fields})
    assert got == Inbound(kind, fields, 12)


def test_slow_takes_int_or_float() -> None:
    assert check_inbound({"t": "slow", "seconds": 3}).fields == {"seconds": 3}
    assert check_inbound({"t": "slow", "seconds": 3.5}).fields == {"seconds": 3.5}


def test_unknown_fields_are_dropped_and_optional_none_is_omitted() -> None:
    got = check_inbound({"t": "remove", "pid": "p2", "for_good": None, "extra": "zzz"})
    assert got == Inbound("remove", {"pid": "p2"}, None)


@pytest.mark.parametrize("frame", [[], ["t", "chat"], b"\x80", "chat", 3, None, ("t", "chat")])
def test_non_map_is_a_protocol_violation(frame: object) -> None:
    with pytest.raises(ProtocolViolation) as info:
        check_inbound(frame)
    assert info.value.code is Code.BAD_FRAME
    assert info.value.close_code == Close.PROTOCOL == 4400
    assert isinstance(info.value, SafespaceError)


@pytest.mark.parametrize(
    "frame", [{}, {"t": "nope"}, {"t": 3}, {"t": None}, {"t": b"chat"}, {"type": "chat"}]
)
def test_unknown_type_is_an_error_not_a_close(frame: dict[str, Any]) -> None:
    with pytest.raises(SafespaceError) as info:
        check_inbound(frame)
    assert not isinstance(info.value, ProtocolViolation)
    assert info.value.code is Code.UNKNOWN_TYPE


def test_unknown_type_echoes_ref() -> None:
    with pytest.raises(SafespaceError) as info:
        check_inbound({"t": "nope", "ref": 9})
    assert wire.error(info.value) == {
        "t": "error",
        "code": "unknown_type",
        "message": REASONS[Code.UNKNOWN_TYPE],
        "ref": 9,
    }


@pytest.mark.parametrize(("kind", "name"), REQUIRED_FIELDS)
def test_missing_required_field(kind: str, name: str) -> None:
    frame = {"t": kind, "ref": 5, **fields_of(kind, optional=False)}
    del frame[name]
    with pytest.raises(SafespaceError) as info:
        check_inbound(frame)
    assert not isinstance(info.value, ProtocolViolation)
    assert info.value.code is Code.BAD_FIELD
    assert name in info.value.reason
    out = wire.error(info.value)
    assert out["t"] == "error" and out["code"] == "bad_field" and out["ref"] == 5


@pytest.mark.parametrize(("kind", "name"), REQUIRED_FIELDS)
def test_required_field_set_to_none_counts_as_missing(kind: str, name: str) -> None:
    frame = {"t": kind, **fields_of(kind, optional=False), name: None}
    with pytest.raises(SafespaceError) as info:
        check_inbound(frame)
    assert info.value.code is Code.BAD_FIELD


@pytest.mark.parametrize(("kind", "name"), ALL_FIELDS)
def test_wrong_type(kind: str, name: str) -> None:
    typ = INBOUND[kind][name][0]
    frame = {"t": kind, "ref": 3, **fields_of(kind, optional=True), name: WRONG_VALUE[typ]}
    with pytest.raises(SafespaceError) as info:
        check_inbound(frame)
    assert info.value.code is Code.BAD_FIELD
    assert name in info.value.reason
    # The reason never echoes the offending value.
    assert repr(WRONG_VALUE[typ]) not in info.value.reason
    assert wire.error(info.value)["ref"] == 3


@pytest.mark.parametrize(("kind", "name"), INT_FIELDS)
@pytest.mark.parametrize("value", [True, False])
def test_bool_where_a_number_is_expected(kind: str, name: str, value: bool) -> None:
    frame = {"t": kind, **fields_of(kind, optional=True), name: value}
    with pytest.raises(SafespaceError) as info:
        check_inbound(frame)
    assert info.value.code is Code.BAD_FIELD


def test_int_fields_are_found() -> None:
    assert ("timeout", "seconds") in INT_FIELDS
    assert ("slow", "seconds") in INT_FIELDS
    assert ("report", "msg") in INT_FIELDS
    assert ("hello", "v") in INT_FIELDS


def test_bytearray_is_not_bytes() -> None:
    with pytest.raises(SafespaceError) as info:
        check_inbound({"t": "chat", "payload": bytearray(b"x")})
    assert info.value.code is Code.BAD_FIELD


@pytest.mark.parametrize("ref", [True, False, "1", 1.5, None, [1]])
def test_a_ref_that_is_not_an_int_is_ignored(ref: object) -> None:
    assert check_inbound({"t": "leave", "ref": ref}).ref is None
    with pytest.raises(SafespaceError) as info:
        check_inbound({"t": "chat", "ref": ref})
    assert "ref" not in wire.error(info.value)


def test_error_frame_shape() -> None:
    err = SafespaceError(Code.SLOW_MODE, retry_after=2.0, ignored=None)
    assert wire.error(err) == {
        "t": "error",
        "code": "slow_mode",
        "message": REASONS[Code.SLOW_MODE],
        "detail": {"retry_after": 2.0},
    }
    assert wire.error(err, ref=4)["ref"] == 4


def test_error_explicit_ref_wins_over_detail_ref() -> None:
    err = SafespaceError(Code.BAD_FIELD, ref=1)
    out = wire.error(err, ref=2)
    assert out["ref"] == 2
    assert "detail" not in out


def test_outbound_builders() -> None:
    assert wire.message(3, "p2", b"ct", 10.5) == {
        "t": "msg",
        "id": 3,
        "from": "p2",
        "payload": b"ct",
        "ts": 10.5,
    }
    assert wire.frame("knocking") == {"t": "knocking"}
    assert wire.frame("hand", pid="p1", up=True) == {"t": "hand", "pid": "p1", "up": True}


def test_schema_constants() -> None:
    assert wire.SUBPROTOCOL == "safespace.v1"
    assert set(INBOUND) >= FACILITATOR_ONLY
    assert {"chat", "private", "hand", "step_out", "leave"}.isdisjoint(FACILITATOR_ONLY)
    assert wire.Audience.ROOM != wire.Audience.FACILITATORS
    codes = [v for k, v in vars(Close).items() if k.isupper()]
    assert len(codes) == len(set(codes))


def test_each_error_says_how_the_shells_answer_it() -> None:
    from rooms.errors import AuthError, DomainError, Invalid, NotFound, Rejected

    assert NotFound().http_status == 404
    assert Invalid("title", "A title, please.").http_status == 400
    assert AuthError(Code.LOGIN_FAILED).http_status == 401
    assert SafespaceError(Code.RATE_LIMITED).http_status == 429
    assert DomainError(Code.CONFLICT).http_status == 409
    # Refused at the door: closed as a refused entry, unless the frame itself was wrong.
    assert AuthError(Code.ROOM_FULL).close_code == Close.AUTH
    assert Rejected(Code.NOT_IN_ROOM).close_code == Close.AUTH
    assert ProtocolViolation(Code.BAD_FRAME, Close.PROTOCOL).close_code == Close.PROTOCOL


def test_a_client_reads_only_frames_of_the_protocol() -> None:
    from rooms.codec import decode, encode

    frame = {"t": "direct", "from": "p1", "payload": b"\x00\xff", "extra": 1}
    assert wire.check_outbound(decode(encode(frame))) == frame  # unknown fields stay
    for bad in (encode([1, 2]), encode("hello"), b"\xc1", encode({"t": "x"})[:-1]):
        with pytest.raises(ProtocolViolation) as caught:
            wire.check_outbound(decode(bad))
        assert caught.value.close_code == Close.PROTOCOL


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"t": "from_a_newer_server"}, Code.UNKNOWN_TYPE),
        ({"payload": b"x"}, Code.UNKNOWN_TYPE),
        ({"t": "direct", "payload": b"x"}, Code.BAD_FIELD),  # no from
        ({"t": "direct", "from": 7, "payload": b"x"}, Code.BAD_FIELD),
        ({"t": "muted", "pid": "p1"}, Code.BAD_FIELD),  # until must be there, nil or a time
        ({"t": "hand", "pid": "p1", "up": 1}, Code.BAD_FIELD),  # an int is not a bool
        ({"t": "joined", "p": {"pid": "p1"}}, Code.BAD_FIELD),  # a participant without a name
        ({"t": "rules", "group": {"id": "g", "title": "T"}, "rules": ["a", 2],
          "digest": "d", "crisis_resources": []}, Code.BAD_FIELD),
    ],
)  # fmt: skip
def test_a_malformed_frame_from_the_server_is_refused_whole(
    frame: dict[str, Any], code: Code
) -> None:
    with pytest.raises(SafespaceError) as caught:
        wire.check_outbound(frame)
    assert caught.value.code is code


def test_nil_is_a_value_only_where_declared() -> None:
    assert wire.check_outbound({"t": "muted", "pid": "p1", "until": None})
    assert wire.check_outbound({"t": "muted", "pid": "p1", "until": 12})  # a whole float
    with pytest.raises(SafespaceError):
        wire.check_outbound({"t": "left", "pid": None})


def test_the_server_builds_only_declared_frames() -> None:
    assert wire.frame("hand", pid="p1", up=True) == {"t": "hand", "pid": "p1", "up": True}
    with pytest.raises(ValueError, match="undeclared"):
        wire.frame("hands", pid="p1")
    with pytest.raises(ValueError, match="undeclared"):
        wire.frame("hand", pid="p1", up=True, secret=b"x")
    with pytest.raises(ValueError, match="does not fit"):
        wire.frame("hand", pid="p1")
    with pytest.raises(ValueError) as caught:
        wire.frame("direct", **{"from": "p1", "payload": "not bytes, words of a member"})
    assert "words of a member" not in str(caught.value)  # never a value in the message


def test_the_hot_path_message_fits_its_declaration() -> None:
    built = wire.message(3, "p1", b"ct", 1.5)
    assert wire.check_outbound(built) == built
    assert built.keys() - {"t"} == wire.OUTBOUND["msg"].keys()


def test_error_frames_fit_their_declaration() -> None:
    err = SafespaceError(Code.TOO_LARGE, limit=10, ref=4)
    assert wire.check_outbound(wire.error(err)) == {
        "t": "error", "code": "too_large", "message": err.reason, "detail": {"limit": 10}, "ref": 4
    }  # fmt: skip


@pytest.mark.parametrize(
    "data",
    [
        b"\xd4\x01\x00",  # fixext 1
        b"\xc7\x00\x05",  # ext 8 of length zero, alone
        b"\x82\xa1t\xa4chat\xa1e\xc7\x00\x05",  # ... and as a field's value
        b"\x82\xa1t\xa4chat\xc4\x01k\x01",  # a bin key beside the type
        b"\x82\xa1t\xa4chat\xa1m\x91\x81\xc4\x01k\x01",  # a bin key in a nested map
    ],
)
def test_the_codec_refuses_extension_types_and_non_string_keys(data: bytes) -> None:
    from rooms.codec import decode

    with pytest.raises(ProtocolViolation) as caught:
        decode(data)
    assert (caught.value.code, caught.value.close_code) == (Code.BAD_FRAME, Close.PROTOCOL)


def test_a_full_rooms_welcome_stays_below_what_clients_accept() -> None:
    """The largest welcome the limits allow, built through the session and measured."""
    from rooms.alerts import MAX_OPEN
    from rooms.arrivals import MAX_FACILITATORS, MAX_KNOCKS
    from rooms.codec import encode
    from rooms.group import MAX_CAPACITY, MAX_SHOWN_BYTES, MAX_TUNING_CHARS, Group
    from rooms.session import Session

    facilitators = tuple(f"fac{n}" for n in range(MAX_FACILITATORS))
    resource = "☎" * 100
    group = Group(
        id="g1",
        title="T",
        capacity=MAX_CAPACITY,
        facilitators=facilitators,
        crisis_resources=(resource,) * ((MAX_SHOWN_BYTES - 1) // len(resource.encode())),
        content_rules={"tuning": "x" * MAX_TUNING_CHARS, "by": "b" * 43, "sig": "s" * 86},
    )
    s = Session(group)
    bundle = b"k" * wire.MAX_KEYS_BYTES

    def name(n: int) -> str:
        return f"{n:02}" + "😀" * (wire.MAX_NAME_CHARS - 2)

    facs = [s.join_facilitator(a, name(n), bundle)[0].pid for n, a in enumerate(facilitators)]
    s.open(facs[0])
    # One seat left, so that the door's queue can fill too (a full room takes no knocks).
    members = [
        s.join_member(f"seat{n}", name(10 + n), bundle, group.rules_digest())[0].pid
        for n in range(MAX_CAPACITY - 1)
    ]
    for pid in facs + members:
        for v in range(wire.MAX_VOUCHES):
            s.vouch(facs[0], pid, bytes([v]) * 32, b"a" * 16, b"s" * 64)
    s.start(facs[0], 1.0)
    for n in range(MAX_KNOCKS):
        s.join_member(f"late{n}", name(50 + n), bundle, group.rules_digest())
    with pytest.raises(SafespaceError):  # the door's queue is full too
        s.join_member("one_more", "X", bundle, group.rules_digest())
    for n in range(MAX_OPEN):
        s.alert(members[n % len(members)], "content", f"c{n:02}" + "x" * 37, 2.0)
    size = len(encode(s.welcome(s.participants[facs[0]])))
    print(f"\nthe largest welcome: {size:,} bytes (clients accept {wire.MAX_SERVER_FRAME_BYTES:,})")
    assert size <= wire.MAX_SERVER_FRAME_BYTES
    assert size > wire.MAX_FRAME_BYTES  # why clients accept more than they may send
