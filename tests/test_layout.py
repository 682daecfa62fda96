"""The house rule of DESIGN.md section 2, read from the sources.

``rooms/`` and ``moderation/`` are the pure core: they import no I/O and
nothing of the shell or the clients. ``chatserver/`` and ``clients/`` share
only ``rooms`` (the wire schema, links, errors) and never import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "rooms": {"chatserver", "clients", "starlette", "uvicorn", "redis", "asyncio", "websockets"},
    "moderation": {"chatserver", "clients", "starlette", "uvicorn", "redis", "asyncio"},
    "chatserver": {"clients"},
    "clients": {"chatserver"},
}


def imported_packages(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_what_its_layer_may(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, "no sources found: the path is wrong"
    wrong = {
        str(f.relative_to(ROOT)): sorted(imported_packages(f) & FORBIDDEN[package]) for f in files
    }
    assert {f: names for f, names in wrong.items() if names} == {}


def test_the_reader_sees_imports() -> None:
    # The check above would pass on a reader that finds nothing.
    assert {"rooms", "starlette"} <= imported_packages(ROOT / "chatserver" / "ws.py")
