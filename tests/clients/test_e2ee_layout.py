"""Where the cryptography lives: one Python module, and WebCrypto alone in the browser."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("chatserver", "rooms", "moderation", "clients", "bench")


def test_cryptography_is_imported_in_exactly_one_module() -> None:
    importers = sorted(
        str(path.relative_to(ROOT))
        for folder in SOURCE_DIRS
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"^\s*(from|import)\s+cryptography\b", path.read_text(), re.MULTILINE)
    )
    assert importers == ["clients/e2ee/primitives.py"]


def test_the_browser_modules_import_nothing_but_each_other_and_msgpack() -> None:
    web = ROOT / "clients" / "web"
    imports = {
        (path.name, spec)
        for path in web.glob("*.js")
        for spec in re.findall(r"""^\s*import\b[^'"]*['"]([^'"]+)['"]""", path.read_text(), re.M)
    }
    assert imports, "no imports found: the pattern is wrong"
    for name, spec in imports:
        assert spec.startswith("./"), (name, spec)
        target = (web / spec).resolve()
        assert target.parent in (web, web / "vendor" / "msgpack"), (name, spec)
    assert not any("crypto" in spec.lower() for _, spec in imports)
