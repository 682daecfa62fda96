"""docs/protocol.md lists exactly the frames, fields, types, codes and close codes of rooms/.

The tables of the document are read as data: a frame, field or code added to
the schema without its line in the document (or the other way round) fails
here, so that the protocol a client author reads is the one the server speaks.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rooms import wire
from rooms.errors import Close, Code

DOC = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text(encoding="utf-8")

# How the document writes a type, as the set of Python types the schema allows.
_NIL = type(None)
DOC_TYPES: dict[str, set[type]] = {
    "str": {str},
    "bool": {bool},
    "int": {int},
    "float": {float, int},
    "int or float": {int, float},
    "bin": {bytes},
    "map": {dict},
    "object": {dict},
    "participant object": {dict},
    "list": {list},
}
_TYPE = "|".join(sorted(DOC_TYPES, key=len, reverse=True))
FIELD = re.compile(rf"`(\w+)` ({_TYPE})( or nil)?")
INBOUND_FIELD = re.compile(rf"`(\w+)` ({_TYPE})[^;]*?, (required|optional)")


def section(title: str) -> str:
    start = DOC.index(f"\n## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end]


def rows(text: str) -> dict[str, list[str]]:
    """Table rows keyed by their first cell's backticked name: the other cells."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        m = re.match(r"\| `([\w.]+)` \|(.*)\|\s*$", line)
        if m:
            assert m.group(1) not in out, f"{m.group(1)} is listed twice"
            out[m.group(1)] = [c.strip() for c in m.group(2).split(" | ")]
    return out


def allowed(typ: Any) -> set[type]:
    """The Python types a schema entry allows, as DOC_TYPES writes them."""
    if isinstance(typ, dict):
        return {dict}
    if isinstance(typ, wire.ListOf):
        return {list}
    return set(typ) if isinstance(typ, tuple) else {typ}


def documented(cell: str, pattern: re.Pattern[str] = FIELD) -> dict[str, set[type]]:
    fields: dict[str, set[type]] = {}
    for m in pattern.finditer(cell):
        types = set(DOC_TYPES[m.group(2)])
        if pattern is FIELD and m.group(3):
            types.add(_NIL)
        fields.setdefault(m.group(1), types)
    return fields


OUTBOUND_ROWS = rows(section("5. Outbound frames").split("### 5a.")[0])
INBOUND_ROWS = rows(section("4. Inbound frames"))


def test_every_outbound_frame_is_documented_and_nothing_else() -> None:
    assert set(OUTBOUND_ROWS) == set(wire.OUTBOUND)


@pytest.mark.parametrize("kind", sorted(set(wire.OUTBOUND) - {"error"}))
def test_each_outbound_frames_fields_and_types_are_the_documented_ones(kind: str) -> None:
    fields = documented(OUTBOUND_ROWS[kind][0])
    declared = {name: allowed(typ) for name, (typ, _) in wire.OUTBOUND[kind].items()}
    assert fields == declared


def test_the_error_frame_fields_are_the_documented_ones() -> None:
    cell = OUTBOUND_ROWS["error"][0]
    names = {m.group(1): bool(m.group(2)) for m in re.finditer(r"`(\w+)(\?)?`", cell)}
    spec = wire.OUTBOUND["error"]
    assert names == {name: not required for name, (_, required) in spec.items()}


def test_the_participant_object_is_the_documented_one() -> None:
    table = rows(section("6. The participant object"))
    doc = {name: cells[0] for name, cells in table.items()}
    assert set(doc) == set(wire.PARTICIPANT)
    for name, (typ, _) in wire.PARTICIPANT.items():
        words = doc[name].removesuffix(" or nil")
        expected = {list} if words.startswith("list") else DOC_TYPES[words]
        nil = {_NIL} if doc[name].endswith(" or nil") else set()
        assert allowed(typ) == expected | nil, name


def test_every_inbound_frame_is_documented_and_nothing_else() -> None:
    assert set(INBOUND_ROWS) == set(wire.INBOUND)


@pytest.mark.parametrize("kind", sorted(wire.INBOUND))
def test_each_inbound_frames_fields_types_and_requirement_are_the_documented_ones(
    kind: str,
) -> None:
    cell = INBOUND_ROWS[kind][0]
    doc = {
        m.group(1): (DOC_TYPES[m.group(2)], m.group(3) == "required")
        for m in INBOUND_FIELD.finditer(cell)
    }
    declared = {name: (allowed(typ), req) for name, (typ, req) in wire.INBOUND[kind].items()}
    assert doc == declared
    if not declared:
        assert cell == "—"


def test_facilitator_only_frames_are_the_documented_facilitator_commands() -> None:
    commands = rows(section("4. Inbound frames").split("### Facilitator commands")[1])
    assert set(commands) == wire.FACILITATOR_ONLY


def test_every_error_code_is_documented_and_nothing_else() -> None:
    assert set(rows(section("9. Error codes"))) == {str(c) for c in Code}


def test_every_close_code_is_documented_with_its_name() -> None:
    text = section("10. Close codes").split("Codes a client may also see")[0]
    doc = dict(re.findall(r"^\| (\d{4}) \| `(\w+)` \|", text, flags=re.M))
    ours = {str(v): k for k, v in vars(Close).items() if k.isupper()}
    assert doc == ours
