"""Pages for the browser tests (the ``browser`` fixture is in tests/conftest.py).

Never a browser build of Playwright's own (this machine cannot fetch one, and
CI installs Debian's package through the Makefile). Pages are served from
127.0.0.1 by the test's own server, which makes them a secure context, the
only place WebCrypto exists.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import CHROMIUM, OPENED_PAGES
from playwright.async_api import Browser, Locator, Page, Route, expect

from clients.client import ChatClient, Event

TESTS_WEB = Path(__file__).resolve().parent
# Test-only modules (vector runners) are answered by the browser itself from
# this folder, so the server never has to serve tests.
TEST_PREFIX = "/__tests__/"

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),  # CI must run them
    reason="needs Debian's chromium (make test installs it)",
)


async def _serve_test_file(route: Route) -> None:
    name = route.request.url.split(TEST_PREFIX, 1)[1].split("?", 1)[0]
    path = (TESTS_WEB / name).resolve()
    if TESTS_WEB not in path.parents or not path.is_file():
        await route.fulfill(status=404, body="not found")
        return
    kind = "text/javascript" if path.suffix in (".js", ".mjs") else mimetypes.guess_type(path)[0]
    await route.fulfill(status=200, body=path.read_bytes(), content_type=kind or "text/plain")


async def open_page(
    browser: Browser, base_url: str, path: str = "/join", **context_options: Any
) -> Page:
    """A page of its own (own context: own storage) on the test's server.

    ``context_options`` go to ``browser.new_context`` (``bypass_csp=True`` lets
    the accessibility tests inject axe-core past the page's strict CSP).
    """
    context = await browser.new_context(**context_options)
    page = await context.new_page()
    await page.route(f"**{TEST_PREFIX}**", _serve_test_file)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    OPENED_PAGES.append(page)
    await page.goto(base_url + path)
    return page


# ---- shared steps of the browser tests --------------------------------------------------


async def console_link(console: Page, label: str, hours: str | None = None) -> str:
    """A new seat link, made on the console's groups page (logged in, a group chosen)."""
    url = console.locator("#new-link-url")
    # The field still shows the link made before until the new one arrives:
    # wait for a different one, or a second seat would get the first's link.
    before = await url.input_value() if await url.count() else ""
    await console.get_by_label("Label").fill(label)
    if hours is not None:
        await console.get_by_label("Expires in (hours)").fill(hours)
    await console.get_by_role("button", name="Create link").click()
    if before:
        await expect(url).not_to_have_value(before)
    await expect(url).to_have_value(re.compile(r"/join#seat=.*&f="))
    return await url.input_value()


async def enter(page: Page, name: str) -> None:
    """From the landing: agree to the ground rules, pick ``name``, go in."""
    await page.get_by_role("button", name="I agree, continue").click()
    await page.get_by_label("Display name").fill(name)
    await page.get_by_role("button", name="Enter the room").click()


def compose(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message to the group")


async def say(page: Page, text: str) -> None:
    await compose(page).fill(text)
    await compose(page).press("Enter")


def message(page: Page, text: str) -> Locator:
    return page.get_by_test_id("message").filter(has_text=text)


async def until(
    client: ChatClient, kind: str, pred: Callable[[Event], bool] = lambda e: True
) -> Event:
    """The Python client's next ``kind`` event that satisfies ``pred`` (others are skipped)."""
    async with asyncio.timeout(10):
        while True:
            event = await client.next(kind, timeout=10)
            if pred(event):
                return event


async def keys_with_facilitators(client: ChatClient, *also: str) -> None:
    """Keys exchanged with every facilitator present (and with the pids in ``also``).

    A member trusts nobody until a facilitator's vouch for its own keys names
    that facilitator's anchor (docs/e2ee.md section 3.2), so right after
    joining ``keys_ready()`` alone may find nobody to wait for.
    """
    facilitators = [
        pid for pid, p in client.roster.items() if p["role"] == "facilitator" and p["present"]
    ]
    assert facilitators, "no facilitator in the room"
    await client.keys_ready([*facilitators, *also], timeout=10)
