"""The facilitator console (GET /console) in headless Chromium, driven through its UI.

Python members (the real client library, end-to-end encrypted) join with links
the console made: they trust the console's vouch because the link carries the
key this browser keeps, and everything they send arrives decrypted in the
console. Screenshots of both views at desktop and phone sizes go to
test-artifacts/ (gitignored) for a look by eye.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chromium import console_link, keys_with_facilitators, needs_chromium, open_page
from chromium import until as next_event
from conftest import PASSWORD, Env
from playwright.async_api import Browser, ConsoleMessage, Page, ViewportSize, expect

from clients.client import ChatClient, Event

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}

# The record in IndexedDB: what kind of key it is, and whether it could be read out.
STORED_KEY = """async () => {
    const db = await new Promise((ok, no) => {
        const r = indexedDB.open('safespace-console');
        r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error);
    });
    const stores = [...db.objectStoreNames];
    const all = await new Promise((ok) => {
        const r = db.transaction(stores[0]).objectStore(stores[0]).getAll();
        r.onsuccess = () => ok(r.result);
    });
    db.close();
    return all.map((rec) => ({
        fields: Object.keys(rec).sort(),
        pub: btoa(String.fromCharCode(...rec.pub))
            .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''),
        type: rec.key.type, extractable: rec.key.extractable, algorithm: rec.key.algorithm.name,
        usages: rec.key.usages,
    }));
}"""


async def console(browser: Browser, server: Env) -> Page:
    page = await open_page(browser, server.url, "/console")
    await page.set_viewport_size(DESKTOP)
    # The strict CSP (no inline script or style) would refuse anything inline, loudly.
    errors: list[str] = page.errors  # type: ignore[attr-defined]

    def csp(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            errors.append(message.text)

    page.on("console", csp)
    return page


async def log_in(page: Page, name: str = "alex") -> None:
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible()
    await expect(page.get_by_test_id("fingerprint")).to_have_text(
        re.compile(r"^[0-9a-f]{4}( [0-9a-f]{4}){3}$")
    )


def link_keys(url: str) -> list[str]:
    return parse_qs(urlsplit(url).fragment).get("f", [])


async def screenshots(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(viewport)
        path = ARTIFACTS / f"console-{name}-{size}.png"
        await page.screenshot(path=str(path), full_page=full_page)
    await page.set_viewport_size(DESKTOP)


async def next_where(client: ChatClient, kind: str, **fields: Any) -> Any:
    """The member's next ``kind`` event whose fields match ``fields``."""
    while True:
        event = await client.next(kind, timeout=5)
        if all(event.get(k) == v for k, v in fields.items()):
            return event


def support_status(status: str) -> Callable[[Event], bool]:
    """The member's ``alert_status`` for its support request, at ``status``."""
    return lambda e: e["kind"] == "support" and e["status"] == status


async def reads(client: ChatClient, text: str) -> Any:
    """The member's next room message with ``text`` (its own echoes and others skipped)."""
    while True:
        event = await client.next("msg", timeout=5)
        if event.text == text:
            return event


@needs_chromium
async def test_console_logs_in_keeps_its_key_and_manages_groups_and_links(
    server: Env, browser: Browser
) -> None:
    await server.facilitator("alex")
    page = await console(browser, server)
    await page.get_by_label("Name").fill("alex")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#login-error")).to_have_text(
        "That name and password do not match a facilitator."
    )
    await screenshots(page, "login")
    await log_in(page)

    # The identity key: non-extractable in IndexedDB, its public half registered.
    [stored] = await page.evaluate(STORED_KEY)
    assert stored["fields"] == ["key", "pub"]  # a key, nothing else
    assert stored["type"] == "private" and stored["extractable"] is False
    assert stored["algorithm"] == "Ed25519" and stored["usages"] == ["sign"]
    assert await server.store.identities(["alex"]) == {
        "alex": base64.urlsafe_b64decode(stored["pub"] + "=")
    }

    # A new group: the API's validation error is shown at its field, then fixed.
    await page.get_by_role("button", name="New group").click()
    await page.get_by_label("Title").fill("Thursday group")
    await page.get_by_label("Members (at most)").fill("99")
    await page.get_by_label("Ground rules (one per line)").fill(
        "Be kind.\n\nWhat is said here stays here."
    )
    await page.get_by_label("Crisis resources (one per line)").fill("Call 116 123")
    await page.get_by_label("Planned duration (minutes)").fill("60")
    await page.get_by_role("button", name="Create group").click()
    capacity = page.get_by_label("Members (at most)")
    await expect(capacity).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#group-capacity-error")).to_contain_text(
        "capacity must be between 1 and 32"
    )
    await capacity.fill("6")
    await page.get_by_role("button", name="Create group").click()
    await expect(page.get_by_test_id("group")).to_have_count(1)
    await expect(page.locator("#group-name")).to_have_text("Thursday group")
    [group] = await server.store.groups_of("alex")
    assert group.capacity == 6 and group.duration_minutes == 60
    assert list(group.ground_rules) == ["Be kind.", "What is said here stays here."]

    # Edit: the new title shows in the list.
    await page.get_by_label("Title").fill("Thursday evening group")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_test_id("group")).to_contain_text("Thursday evening group")

    # Seat links: each carries this console's key; listed with status; revoked.
    url = await console_link(page, "seat 1", "24")
    assert link_keys(url) == [stored["pub"]]
    await console_link(page, "seat 2", "2016")
    await expect(page.get_by_test_id("link")).to_have_count(2)
    await page.get_by_role("button", name="Copy link").click()
    await expect(page.locator("#copy-status")).not_to_be_empty()
    await page.get_by_role("button", name="Revoke link seat 1").click()
    await page.get_by_role("dialog").get_by_role("button", name="Revoke link").click()
    await expect(page.locator('[data-testid="link"][data-status="revoked"]')).to_contain_text(
        "seat 1"
    )
    await expect(page.locator('[data-testid="link"][data-status="active"]')).to_contain_text(
        "seat 2"
    )
    await screenshots(page, "groups")

    # Log out: the token is revoked and forgotten; the key stays for next time.
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await log_in(page)
    assert [k["pub"] for k in await page.evaluate(STORED_KEY)] == [stored["pub"]]
    assert page.errors == []  # type: ignore[attr-defined]


@needs_chromium
async def test_console_runs_a_session(server: Env, browser: Browser) -> None:
    gid = await server.group("alex", duration_minutes=70)
    page = await console(browser, server)
    await log_in(page)
    robin_link = await console_link(page, "seat 1", "24")
    kim_link = await console_link(page, "seat 2", "24")

    await page.get_by_role("button", name="Go to the session").click()
    state = page.get_by_test_id("session-state")
    await expect(state).to_have_text("Not open yet")
    await page.get_by_role("button", name="Open the room").click()
    await expect(state).to_have_text("Open")

    # A member comes in with a console-made link, trusts the console's vouch, and they talk.
    robin = await server.member(robin_link, "Robin", e2ee=True)
    await keys_with_facilitators(robin)
    [fac] = [pid for pid, p in robin.roster.items() if p["role"] == "facilitator"]
    assert robin.roster[fac]["verified"] and robin.roster[robin.pid]["verified"]
    await robin.send("hello from Robin")
    transcript = page.locator("#transcript")
    await expect(transcript).to_contain_text("hello from Robin")
    await page.get_by_label("Message to the room").fill("Welcome, Robin")
    await page.get_by_label("Message to the room").press("Enter")
    assert (await reads(robin, "Welcome, Robin"))["from"] == fac

    # Start (the door locks); a latecomer knocks and is let in from the queue.
    await page.get_by_role("button", name="Start the session (locks the door)").click()
    await expect(state).to_have_text("Started · door locked")
    await expect(page.get_by_test_id("clock")).to_contain_text("min left of 70")
    kim = await server.member(kim_link, "Kim", e2ee=True)
    assert not kim.admitted
    await expect(page.get_by_test_id("knock")).to_contain_text("Kim")
    await page.get_by_role("button", name="Let Kim in").click()
    await kim.next("welcome")
    await expect(page.get_by_test_id("knock")).to_have_count(0)
    await keys_with_facilitators(kim, robin.pid)
    await keys_with_facilitators(robin, kim.pid)
    assert kim.roster[fac]["verified"] and robin.roster[kim.pid]["verified"]
    await kim.send("hi all from Kim")
    kim_msg = (await reads(robin, "hi all from Kim"))["id"]
    await expect(transcript).to_contain_text("hi all from Kim")

    # Mute and unmute; a time-out of N minutes.
    await page.get_by_role("button", name="Mute Robin").click()
    assert (await robin.next("muted"))["until"] is None
    await expect(page.locator('[data-testid="person"][data-name="Robin"]')).to_contain_text("muted")
    await page.get_by_role("button", name="Unmute Robin").click()
    await robin.next("unmuted")
    await page.get_by_role("button", name="Time-out… Robin").click()
    await page.get_by_role("dialog").get_by_label("Minutes").fill("2")
    await page.get_by_role("dialog").get_by_label("Minutes").press("Enter")  # the keyboard's way
    until = (await robin.next("muted"))["until"]
    assert 100 < until - time.time() < 130
    await expect(page.locator('[data-testid="person"][data-name="Robin"]')).to_contain_text(
        "timed out until"
    )
    await page.get_by_role("button", name="Unmute Robin").click()
    await robin.next("unmuted")

    # Pause and resume everyone. The session is made to have started 61
    # minutes ago, so the pause (which re-arms the room's timer) brings the
    # server's 10-minute reminder, and the clock shows 9 minutes left.
    server.hub.rooms[gid].session.started_at -= 61 * 60
    await page.get_by_role("button", name="Pause everyone").click()
    await next_where(robin, "state", paused=True)
    await expect(state).to_have_text("Started · door locked · paused")
    await expect(page.locator("#reminder")).to_have_text("10 minutes left of the planned time.")
    clock = re.compile(r"^1:01:\d\d · 9 min left of 70$")
    await expect(page.get_by_test_id("clock")).to_have_text(clock)
    await page.get_by_role("button", name="Resume").click()
    await next_where(robin, "state", paused=False)

    # Slow mode, set live.
    await page.get_by_label("Slow mode", exact=True).select_option("10")
    await next_where(robin, "state", slow_mode_seconds=10.0)
    await page.get_by_label("Slow mode", exact=True).select_option("0")
    await next_where(robin, "state", slow_mode_seconds=0.0)

    # Unlock and lock the door again.
    await page.get_by_role("button", name="Unlock the door").click()
    await next_where(robin, "state", state="live_unlocked")
    await expect(state).to_have_text("Started · door open")
    await page.get_by_role("button", name="Lock the door").click()
    await next_where(robin, "state", state="live_locked")

    # The inbox: a private message, a verified report, a support alert.
    await robin.private("Could we talk after the session?")
    item = page.locator('[data-testid="inbox-item"][data-kind="private"]')
    await expect(item).to_contain_text("Could we talk after the session?")
    await expect(item).to_contain_text("Private with Robin")
    await robin.report(kim_msg, "This upset me.")
    report = page.locator('[data-testid="inbox-item"][data-kind="report"]')
    await expect(report).to_have_attribute("data-verified", "true")
    await expect(report.get_by_test_id("report-verdict")).to_have_text("Verified")
    await expect(report).to_contain_text("by Kim")
    await expect(report).to_contain_text("hi all from Kim")
    await expect(report).to_contain_text("This upset me.")
    # Alerts are not inbox items: each stays at the top until marked handled, and
    # the console says by itself that it shows it (the member is told "seen").
    await robin.alert("support")
    request = page.get_by_test_id("open-alert").filter(has_text="Robin needs support now")
    await expect(request).to_be_visible()
    await expect(page.get_by_test_id("open-alert")).to_have_count(1)
    await expect(page.locator("#inbox-badge")).to_have_text("2 new in the inbox")
    await next_event(robin, "alert_status", support_status("seen"))
    await robin.alert("support")  # again: the same request, counted, to be seen again
    await expect(request).to_have_attribute("data-count", "2")
    await expect(page.get_by_test_id("open-alert")).to_have_count(1)
    await next_event(robin, "alert_status", support_status("seen"))
    await kim.alert("content", "self_harm")
    content = page.locator('[data-testid="open-alert"][data-kind="content"]')
    await expect(content).to_contain_text("self_harm")
    await screenshots(page, "session")
    await request.get_by_role("button", name="Mark handled: Robin needs support now").click()
    await next_event(robin, "alert_status", support_status("handled"))
    await expect(request).to_have_count(0)
    await expect(content).to_have_count(1)

    # Delete a message for everyone.
    await page.get_by_role("button", name=f"Delete message {kim_msg} from Kim for everyone").click()
    assert (await robin.next("deleted"))["id"] == kim_msg
    await expect(page.locator(f'[data-testid="message"][data-id="{kim_msg}"]')).to_contain_text(
        "Deleted for everyone"
    )

    # Remove for good (confirmed): Kim is out, and Kim's link is revoked.
    await page.get_by_role("button", name="Remove… Kim").click()
    await screenshots(page, "dialog", full_page=False)
    await page.get_by_role("dialog").get_by_role("button", name="Remove for good").click()
    assert await kim.closed() == 4001
    removed = await next_where(robin, "removed", pid=kim.pid, for_good=True)
    # Signed by the console (docs/e2ee.md section 3.3): Robin's client bars Kim's keys.
    assert len(removed["by"]) == 32 and len(removed["proof"]) == 64
    await expect(page.locator('[data-testid="person"][data-name="Kim"]')).to_have_count(0)
    seats = {s.label: s.public(time.time())["status"] for s in await server.store.seats(gid)}
    assert seats == {"seat 1": "active", "seat 2": "revoked"}

    # End for all (confirmed): members are closed, the console keeps nothing.
    await page.get_by_role("button", name="End for everyone…").click()
    await page.get_by_role("dialog").get_by_role("button", name="End for everyone").click()
    await robin.next("ended")
    assert await robin.closed() == 4000
    await expect(page.locator("#over-text")).to_contain_text("The session has ended")
    assert await page.locator("#transcript > li").count() == 0
    assert await page.locator("#inbox-list > li").count() == 0
    assert await page.locator("#alerts > *").count() == 0
    assert page.errors == []  # type: ignore[attr-defined]
