"""The shared content-rule cases, run by clients/web/content.js inside headless Chromium.

Node's runner checks the same engine on the same file (tests/web/content.test.mjs),
and tests/moderation/test_content_parity.py compares it answer for answer with
the Python engine; this is the browser's own Unicode and RegExp.
"""

from __future__ import annotations

import json
from pathlib import Path

from chromium import needs_chromium, open_page
from conftest import Env
from playwright.async_api import Browser

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "moderation" / "content" / "default_rules.json"
CASES = ROOT / "tests" / "vectors" / "content.json"


@needs_chromium
async def test_the_browser_engine_passes_every_labelled_case(server: Env, browser: Browser) -> None:
    rules, cases = json.loads(RULES.read_text()), json.loads(CASES.read_text())
    page = await open_page(browser, server.url, "/healthz")
    result = await page.evaluate(
        """async ([rules, cases]) => {
            const m = await import('/__tests__/content_vectors.mjs');
            return await m.runContentVectors(rules, cases, {base: location.origin + '/web/'});
        }""",
        [rules, cases],
    )
    assert result["failures"] == []
    assert result["passed"] >= 300
