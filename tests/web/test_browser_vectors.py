"""The shared E2EE vectors, run by clients/web/e2ee.js inside headless Chromium.

Node's test runner checks the same module against the same file
(tests/web/e2ee_vectors.test.mjs); this is the browser's own WebCrypto.
"""

from __future__ import annotations

import json
from pathlib import Path

from chromium import needs_chromium, open_page
from conftest import Env
from playwright.async_api import Browser

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "e2ee.json"


@needs_chromium
async def test_the_browser_produces_and_accepts_exactly_the_vectors(
    server: Env, browser: Browser
) -> None:
    vectors = json.loads(VECTORS.read_text())
    page = await open_page(browser, server.url)
    result = await page.evaluate(
        """async (vectors) => {
            const m = await import('/__tests__/e2ee_vectors.mjs');
            return await m.runVectors(vectors, {base: '/web/'});
        }""",
        vectors,
    )
    assert result["failures"] == []
    # Every section of the file was exercised, not an empty run.
    assert result["passed"] >= 50
    assert await page.evaluate("isSecureContext") is True
