"""The console replies privately to one member, and survives a reload of its tab.

A reply is sealed to that member and the facilitators only (docs/e2ee.md
section 8): the Python member it is for reads it, another reads nothing, and
the server never holds the text. A reload comes back into the room with the
open alerts (welcome.alerts), asks before leaving a live session, and keeps
nothing in sessionStorage but the login token, the group's id and its codec's
anchor for the session (docs/e2ee.md section 3.1).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from chromium import console_link, keys_with_facilitators, needs_chromium
from chromium import until as next_event
from conftest import Env
from playwright.async_api import Browser, Dialog, Page, expect
from test_browser_console import console, log_in

# The recorder of every frame the server decoded or encoded (tests/clients/test_e2ee_live.py).
_spec = importlib.util.spec_from_file_location(
    "e2ee_live", Path(__file__).resolve().parents[1] / "clients" / "test_e2ee_live.py"
)
assert _spec and _spec.loader
_live = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_live)
Wire = _live.Wire

REPLY = "I am here for you, Robin. REPLY-MARKER-7f3a"
ANCHOR = "safespace.console.anchor"

STORED = """() => Object.fromEntries(
    Object.keys(sessionStorage).map((k) => [k, sessionStorage.getItem(k)])
)"""
RELOADED = (
    "Earlier private messages and reports were sealed to this page's previous keys"
    " and cannot be shown again."
)
# A beforeunload that a listener cancels is one the browser asks about.
ASKS_BEFORE_LEAVING = """() => {
    const ev = new Event("beforeunload", { cancelable: true });
    dispatchEvent(ev);
    return ev.defaultPrevented;
}"""


def person(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[data-testid="person"][data-name="{name}"]')


async def into_open_room(page: Page, links: list[str]) -> list[str]:
    """Seat links made on the groups page, then into the session, the room opened."""
    made = [await console_link(page, label, "24") for label in links]
    await page.get_by_role("button", name="Go to the session").click()
    await page.get_by_role("button", name="Open the room").click()
    await expect(page.get_by_test_id("session-state")).to_have_text("Open")
    return made


@needs_chromium
async def test_console_replies_privately_to_one_member_only(
    server: Env, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = Wire(monkeypatch)
    await server.group("alex")
    page = await console(browser, server)
    await log_in(page)
    robin_link, kim_link = await into_open_room(page, ["seat 1", "seat 2"])
    robin = await server.member(robin_link, "Robin", e2ee=True)
    kim = await server.member(kim_link, "Kim", e2ee=True)
    await keys_with_facilitators(robin)
    await keys_with_facilitators(kim)

    # On a break (present, not gone): still offered, and they still read it.
    await robin.step_out()
    await expect(person(page, "Robin")).to_contain_text("stepped out")
    await person(page, "Robin").get_by_role("button", name="Reply privately to Robin").click()
    await expect(page.get_by_test_id("reply-panel")).to_contain_text("Private reply to Robin")
    await page.locator("#reply-text").fill(REPLY)
    await page.get_by_role("button", name="Send privately").click()
    got = await next_event(robin, "private")
    assert got.text == REPLY and got["thread"] == robin.pid
    await kim.nothing("private", within=0.5)
    assert not wire.holds(REPLY.encode())

    # The thread, in the inbox: Robin's words and the replies, by thread.
    await robin.back()
    await robin.private("Thank you, that helps.")
    thread = page.locator('[data-testid="inbox-item"][data-thread]')
    await expect(thread).to_have_count(1)
    await expect(thread).to_contain_text("Private with Robin")
    await expect(thread.get_by_test_id("private-line")).to_have_count(2)
    lines = thread.get_by_test_id("private-line")
    await expect(lines.nth(0)).to_contain_text(f"You: {REPLY}")
    await expect(lines.nth(1)).to_contain_text("Robin: Thank you, that helps.")
    await expect(thread.get_by_role("button", name="Reply privately to Robin")).to_be_visible()

    # Gone (not connected): not offered, and said so.
    await kim.close()
    await expect(person(page, "Kim")).to_contain_text("Kim is not connected")
    offered = person(page, "Kim").get_by_role("button", name=re.compile("Reply privately"))
    await expect(offered).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


@needs_chromium
async def test_console_reload_comes_back_into_the_room_and_asks_first(
    server: Env, browser: Browser
) -> None:
    gid = await server.group("alex")
    page = await console(browser, server)
    await log_in(page)
    assert await page.evaluate(STORED) == {
        "safespace.console.token": await page.evaluate(
            "() => sessionStorage.getItem('safespace.console.token')"
        )
    }
    (link,) = await into_open_room(page, ["seat 1"])
    robin = await server.member(link, "Robin", e2ee=True)
    await keys_with_facilitators(robin)
    await robin.private("Something private, never stored.")
    thread = page.locator('[data-testid="inbox-item"][data-thread]')
    await expect(thread).to_contain_text("Something private")
    await robin.alert("support")
    alert_title = "Robin needs support now"
    alert = page.get_by_test_id("open-alert").filter(has_text=alert_title)
    await expect(alert).to_be_visible()
    await expect(alert.get_by_role("button", name="Reply privately to Robin")).to_be_visible()

    # Only the token, the group's id and the codec's anchor memory (docs/e2ee.md
    # section 3.1: its session, anchor and the pids it vouched for) are kept for
    # the tab; nothing else of the session.
    stored = await page.evaluate(STORED)
    assert set(stored) == {ANCHOR, "safespace.console.token", "safespace.console.group"}
    assert stored["safespace.console.group"] == gid
    assert re.fullmatch(r"[\w.~-]+", stored["safespace.console.token"])
    anchor = json.loads(stored[ANCHOR])
    assert set(anchor) == {"group", "session", "anchor", "vouched"}
    assert anchor["group"] == gid and robin.pid in anchor["vouched"]
    assert "Robin" not in str(stored) and "private" not in str(stored)

    # Leaving a live session asks first.
    assert await page.evaluate(ASKS_BEFORE_LEAVING) is True
    dialogs: list[str] = []

    async def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        await dialog.accept()

    page.on("dialog", accept)
    await page.reload()
    assert dialogs in ([], ["beforeunload"])  # headless asks only after a user gesture

    # Back in the room, without logging in: the open alert comes back, the sealed past does not.
    await expect(page.get_by_test_id("session-state")).to_have_text("Open")
    await expect(page.get_by_test_id("open-alert").filter(has_text=alert_title)).to_be_visible()
    await expect(page.get_by_test_id("restore-note")).to_have_text(RELOADED)
    await expect(page.locator('[data-testid="inbox-item"]')).to_have_count(0)
    await expect(person(page, "Robin")).to_be_visible()
    # The same anchor: Robin, vouched for under it, stays verified with no new vouch,
    # and trusts the reloaded console as soon as its vouch for its new keys arrives.
    assert json.loads((await page.evaluate(STORED))[ANCHOR])["anchor"] == anchor["anchor"]
    await expect(person(page, "Robin")).not_to_contain_text("not verified")
    await keys_with_facilitators(robin)

    # Back to the groups: not in a room any more, nothing to ask; logging out keeps nothing.
    # (The anchor stays while the session lasts: the console may come back into it.)
    await page.get_by_role("button", name="Leave the console").click()
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible()
    assert set(await page.evaluate(STORED)) == {"safespace.console.token", ANCHOR}
    assert await page.evaluate(ASKS_BEFORE_LEAVING) is False
    await page.reload()
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible()
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert await page.evaluate(STORED) == {}
    await page.reload()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]
