"""Node's test runner over tests/web/*.test.mjs, inside `make test`.

The browser modules (clients/web) are plain ES modules that Node 20 runs as
they are: their unit tests and the shared vectors run there in seconds, and
the same vectors run again in Chromium (test_browser_vectors.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "clients" / "web" / "vendor" / ".installed"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_the_browser_modules_pass_their_node_tests() -> None:
    assert VENDOR.exists(), "run `make test`: it installs clients/web's npm packages"
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "web").glob("*.test.mjs"))
    assert files, "no Node tests found"
    done = subprocess.run(
        ["node", "--test", "--test-reporter=tap", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    summary = [line for line in done.stdout.splitlines() if line.startswith("# ")]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "# fail 0" in summary
    passed = next(int(line.split()[2]) for line in summary if line.startswith("# pass "))
    assert passed >= 40
