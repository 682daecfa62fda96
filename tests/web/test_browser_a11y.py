"""Accessibility of the room and the console, checked with axe-core (issue 17).

axe-core (bench/node_modules, installed by ``make`` with ``npm ci``) is
injected into every page state a member or a facilitator meets: the room
before it opens, its landing (ground rules), name step, lobby, conversation
(with the log focused), break, a dropped connection, knock, end, a broken link
and its dialogs; the console's login, groups page and a live session with a
member. Each is checked against the WCAG 2.0/2.1/2.2 A and AA rules at desktop
(1280x800) and phone (390x844) sizes, and must have no violation (the
violations are printed when there are). A phone test checks that "Message the
facilitators", Step out, Leave and the people list are on the first screen,
not below the conversation (390x844, 360x740, 320x640), and that desktop keeps
its side column; another that the focus ring survives forced colours.
Screenshots go to test-artifacts/a11y-*.png.

The console's per-member buttons are labelled "Lower hand: Robin" (the
visible words first, WCAG 2.5.3), as "Let them in: Robin" is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import chromium
import pytest
from chromium import console_link, enter, message, needs_chromium
from chromium import until as next_event
from conftest import PASSWORD, Env
from playwright.async_api import Browser, Page, ViewportSize, expect
from test_browser_room import facilitated, keys_with, step_out

from clients.client import ChatClient

pytestmark = needs_chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE = ROOT / "bench" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
SIZES = (("desktop", DESKTOP), ("phone", PHONE))
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

RUN_AXE = """async (tags) => {
    const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
    return result.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
    }));
}"""


async def open_page(browser: Browser, base_url: str, path: str) -> Page:
    """As chromium.open_page, but the page's strict CSP lets the test inject axe-core."""
    return await chromium.open_page(browser, base_url, path, bypass_csp=True, viewport=DESKTOP)


async def no_violations(page: Page, name: str) -> None:
    """axe finds nothing at either size; a screenshot of each for a look by eye."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make` (npm ci in bench/)")
    ARTIFACTS.mkdir(exist_ok=True)
    found: dict[str, Any] = {}
    for size, viewport in SIZES:
        await page.set_viewport_size(viewport)
        await page.evaluate(
            "() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)))"
        )
        if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
            await page.add_script_tag(content=AXE.read_text())
        violations = await page.evaluate(RUN_AXE, WCAG)
        await page.screenshot(path=str(ARTIFACTS / f"a11y-{name}-{size}.png"))
        if violations:
            found[size] = violations
    await page.set_viewport_size(DESKTOP)
    if found:
        print(f"axe violations in {name}:\n{json.dumps(found, indent=2)}")
    assert not found, f"{name}: " + json.dumps(found, indent=1)


# ---- the room ---------------------------------------------------------------------------


async def land(browser: Browser, server: Env, gid: str) -> Page:
    link = await server.link(gid)
    page = await open_page(browser, server.url, link.removeprefix(server.url))
    await expect(page.get_by_test_id("landing")).to_be_visible()
    return page


async def test_every_state_of_the_room_has_no_axe_violation(server: Env, browser: Browser) -> None:
    # Before the room is open: the page waits, and says so.
    closed = await server.group(title="Wednesday group")
    waiting = await open_page(
        browser, server.url, (await server.link(closed)).removeprefix(server.url)
    )
    await expect(waiting.get_by_role("heading", name="The room is not open yet")).to_be_visible()
    await no_violations(waiting, "room-not-open")

    gid, fac = await facilitated(server)
    robin = await server.member(await server.link(gid), "Robin", e2ee=True)
    page = await land(browser, server, gid)
    await no_violations(page, "room-landing")

    await page.get_by_role("button", name="I agree, continue").click()
    await expect(page.get_by_label("Display name")).to_be_focused()
    await no_violations(page, "room-name")

    await page.get_by_label("Display name").fill("Blue Heron")
    await page.get_by_role("button", name="Enter the room").click()
    await expect(page.get_by_test_id("banner-lobby")).to_be_visible()
    pid = await keys_with(fac, "Blue Heron")
    await keys_with(robin, "Blue Heron")
    await no_violations(page, "room-lobby")

    await fac.start()
    await fac.send("Welcome, everyone. Let's take a moment to settle in.")
    await robin.send("Hi all. It has been a long week.")
    await robin.send("My mother passed away in March.", cw="grief")
    await robin.hand(True)
    await expect(message(page, "passed away in March")).to_be_visible()
    await page.get_by_role("textbox", name="Message to the group").fill("Hello, I will listen.")
    await page.get_by_role("textbox", name="Message to the group").press("Enter")
    await expect(message(page, "I will listen")).to_be_visible()
    await expect(page.get_by_test_id("hand-raised")).to_be_visible()
    await page.get_by_role("textbox", name="Message to the group").blur()
    await no_violations(page, "room-conversation")

    # The keyboard's focus ring on the log.
    await page.get_by_test_id("messages").focus()
    await no_violations(page, "room-focus-log")

    await step_out(page, fac, pid)
    await no_violations(page, "room-away")
    await page.get_by_role("button", name="Come back").click()
    await expect(page.get_by_test_id("away")).to_be_hidden()

    # The network goes (and stays away for a while): the people list is shown as
    # possibly out of date, still readable.
    await page.context.set_offline(True)
    server.hub.rooms[gid].conns[pid].outlet.transport.abort()
    banner = page.get_by_test_id("banner-connection")
    await expect(banner).to_contain_text("Reconnecting")
    await expect(page.get_by_test_id("room")).to_have_class(re.compile(r"\bis-offline\b"))
    await no_violations(page, "room-reconnecting")
    await page.context.set_offline(False)
    await expect(banner).to_contain_text("Back", timeout=20_000)
    await expect(page.get_by_test_id("room")).not_to_have_class(re.compile(r"\bis-offline\b"))

    # A latecomer knocks at the locked door.
    late = await land(browser, server, gid)
    await enter(late, "Late Sparrow")
    await expect(late.get_by_test_id("waiting")).to_be_visible()
    await no_violations(late, "room-knocking")

    await fac.end()
    await expect(page.get_by_test_id("final-title")).to_have_text("The session has ended")
    await no_violations(page, "room-ended")

    broken = await open_page(browser, server.url, "/join#seat=abc&f=not-a-key")
    await expect(broken.get_by_test_id("final-title")).to_have_text("This link is damaged")
    await no_violations(broken, "room-broken-link")


async def test_the_room_dialogs_have_no_axe_violation(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    page = await land(browser, server, gid)
    await enter(page, "Blue Heron")
    await expect(page.get_by_test_id("room")).to_be_visible()
    await keys_with(fac, "Blue Heron")
    for button, dialog in (
        ("I need support now", "support-dialog"),
        ("Message the facilitators", "private-dialog"),
        ("Crisis numbers", "crisis-dialog"),
        ("Leave", "leave-dialog"),
    ):
        await page.get_by_role("button", name=button, exact=True).click()
        await expect(page.get_by_test_id(dialog)).to_be_visible()
        await no_violations(page, f"room-{dialog}")
        await page.keyboard.press("Escape")  # a native <dialog>: Escape closes it
        await expect(page.get_by_test_id(dialog)).to_be_hidden()


# ---- the phone layout -------------------------------------------------------------------

# Where each thing is on the first screen of a phone (a page scrolled to the top).
PLACES = """() => {
    const at = (el) => {
        const r = el.getBoundingClientRect();
        return {top: Math.round(r.top), bottom: Math.round(r.bottom), height: Math.round(r.height),
                left: Math.round(r.left), right: Math.round(r.right)};
    };
    const q = (s) => document.querySelector(s);
    return {
        private: at(q("#private")), step: at(q("#step-out")), leave: at(q("#leave")),
        people: at(q("#people-title")), person: at(q("#people li")),
        conversation: at(q("#conversation")), send: at(q("#send")),
        screen: innerHeight, width: document.documentElement.scrollWidth,
    };
}"""


def on_screen(places: dict[str, Any], what: str) -> bool:
    """Wholly on the first screen."""
    return bool(places[what]["top"] >= 0 and places[what]["bottom"] <= places["screen"])


async def test_on_a_phone_the_actions_and_the_people_are_on_the_first_screen(
    server: Env, browser: Browser
) -> None:
    gid, fac = await facilitated(server)
    robin = await server.member(await server.link(gid), "Robin", e2ee=True)
    page = await land(browser, server, gid)
    await enter(page, "Blue Heron")
    await expect(page.get_by_test_id("room")).to_be_visible()
    await keys_with(fac, "Blue Heron")
    await keys_with(robin, "Blue Heron")
    await fac.start()
    await robin.send("Hello from Robin.")
    for i in range(12):  # more than a screen of conversation
        await fac.send(f"Message number {i}, long enough to wrap on a phone.")
    await expect(message(page, "Message number 11")).to_be_visible()
    await expect(message(page, "Hello from Robin.")).to_have_count(1)
    await robin.hand(True)
    await expect(page.get_by_test_id("hand-raised")).to_be_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    for viewport in (PHONE, {"width": 360, "height": 740}, {"width": 320, "height": 640}, DESKTOP):
        await page.set_viewport_size(viewport)
        await page.evaluate("() => window.scrollTo(0, 0)")
        size = f"{viewport['width']}x{viewport['height']}"
        await page.screenshot(path=str(ARTIFACTS / f"a11y-room-first-screen-{size}.png"))
        places = await page.evaluate(PLACES)
        print(viewport, json.dumps(places))
        screen = places["screen"]
        for what in ("private", "step", "leave", "people", "person", "send"):
            assert on_screen(places, what), (what, places)
        assert places["width"] <= viewport["width"], places
        for name in ("Message the facilitators", "Step out", "Leave"):
            await expect(page.get_by_role("button", name=name, exact=True)).to_be_in_viewport()
        # The conversation keeps about half of the screen, or more.
        assert places["conversation"]["height"] >= 0.45 * screen, places
        if viewport is DESKTOP:  # as it was: all of it in the column beside the conversation
            for what in ("private", "step", "leave", "people", "person"):
                assert places[what]["left"] > places["conversation"]["right"], (what, places)

    # On a break, too: the away panel is in the conversation's place.
    await page.set_viewport_size(PHONE)
    pid = fac.pid_of("Blue Heron")
    assert pid is not None
    await step_out(page, fac, pid)
    places = await page.evaluate(PLACES)
    for what in ("private", "leave", "people"):
        assert on_screen(places, what), (what, places)
    await page.screenshot(path=str(ARTIFACTS / "a11y-room-phone-away.png"))


# ---- the console ------------------------------------------------------------------------


async def test_every_state_of_the_console_has_no_axe_violation(
    server: Env, browser: Browser
) -> None:
    gid = await server.group("alex")
    page = await open_page(browser, server.url, "/console")
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await no_violations(page, "console-login")

    await page.get_by_label("Name").fill("alex")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#login-error")).to_be_visible()
    await no_violations(page, "console-login-error")

    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible()
    await page.locator(f'[data-testid="group"][data-gid="{gid}"]').click()
    link = await console_link(page, "seat 1", "24")
    await no_violations(page, "console-groups")

    await page.get_by_role("button", name="Go to the session").click()
    await page.get_by_role("button", name="Open the room").click()
    await expect(page.get_by_test_id("session-state")).to_have_text("Open")
    robin: ChatClient = await server.member(link, "Robin", e2ee=True)
    await expect(page.locator('[data-testid="person"][data-name="Robin"]')).to_be_visible()
    facilitators = [p for p, v in robin.roster.items() if v["role"] == "facilitator"]
    await robin.keys_ready(facilitators, timeout=10)
    await robin.send("hello from Robin")
    await expect(page.locator("#transcript")).to_contain_text("hello from Robin")
    await page.get_by_label("Message to the room").fill("Welcome, Robin")
    await page.get_by_label("Message to the room").press("Enter")
    await next_event(robin, "msg", lambda e: e.text == "Welcome, Robin")
    await no_violations(page, "console-session")


async def in_session(browser: Browser, server: Env) -> tuple[Page, ChatClient]:
    """The console in an open room with Robin, who has said hello."""
    gid = await server.group("alex")
    page = await open_page(browser, server.url, "/console")
    await page.get_by_label("Name").fill("alex")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.locator(f'[data-testid="group"][data-gid="{gid}"]').click()
    link = await console_link(page, "seat 1", "24")
    await page.get_by_role("button", name="Go to the session").click()
    await page.get_by_role("button", name="Open the room").click()
    await expect(page.get_by_test_id("session-state")).to_have_text("Open")
    robin: ChatClient = await server.member(link, "Robin", e2ee=True)
    await expect(page.locator('[data-testid="person"][data-name="Robin"]')).to_be_visible()
    return page, robin


async def test_the_console_with_a_raised_hand_has_no_axe_violation(
    server: Env, browser: Browser
) -> None:
    page, robin = await in_session(browser, server)
    await robin.hand(True)
    person = page.locator('[data-testid="person"][data-name="Robin"]')
    await expect(person.locator(".row-actions button", has_text="Lower hand")).to_be_visible()
    await no_violations(page, "console-session-hand")


# ---- the focus ring in forced colours ---------------------------------------------------

RING = """() => {
    const s = getComputedStyle(document.activeElement);
    return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor,
            shadow: s.boxShadow};
}"""


async def test_the_focus_ring_stays_in_forced_colours(server: Env, browser: Browser) -> None:
    """A box-shadow ring is dropped in forced colours (Windows High Contrast): an outline is not."""
    gid, _ = await facilitated(server)
    page = await land(browser, server, gid)
    await page.keyboard.press("Tab")  # the keyboard in use: focus is then drawn (:focus-visible)
    await page.get_by_role("button", name="I agree, continue").focus()
    await expect(page.get_by_role("button", name="I agree, continue")).to_be_focused()
    ring = await page.evaluate(RING)
    assert ring["shadow"] != "none"  # the ring as designed
    assert ring["style"] == "solid" and ring["width"] >= 2, ring  # and an outline under it
    await page.emulate_media(forced_colors="active")
    ring = await page.evaluate(RING)
    assert ring["style"] == "solid" and ring["width"] >= 2, ring
    assert ring["color"] not in ("transparent", "rgba(0, 0, 0, 0)"), ring
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "a11y-room-focus-forced-colours.png"))
