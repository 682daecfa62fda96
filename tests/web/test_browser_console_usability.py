"""Running a session on the console the way facilitators expect to (issue 17, the console).

What the facilitator sees and can do, at desktop (1280x800) and phone (390x844)
where layout matters: one compact alert strip that never covers the
participants' controls; the ended state after "End for everyone", with the
next session a click away; a delete that can be undone and a Remove dialog
whose milder choice comes first; knocks that change the tab's title, may beep,
and can all be let in at once; hands in the order they went up, and "Lower
all hands". Screenshots go to test-artifacts/console-usability-*.png.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from pathlib import Path

from chromium import console_link, keys_with_facilitators, needs_chromium
from chromium import until as next_event
from conftest import Env
from playwright.async_api import Browser, Page, ViewportSize, expect
from test_browser_console import console, log_in

from clients.client import ChatClient

pytestmark = needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
SIZES = (("desktop", DESKTOP), ("phone", PHONE))
BASE_TITLE = "safespace · facilitator console"
BLOCKED = "I took 30 paracetamol last night"  # method_detail: an alert on the console's own check

# Every participant control wholly on screen whose centre is not the control itself
# (something is drawn over it), at the page's current scroll.
COVERED = """(sel) => {
    const out = [];
    for (const b of document.querySelectorAll(sel)) {
        const r = b.getBoundingClientRect();
        if (!r.width || r.top < 0 || r.bottom > innerHeight) continue; // wholly on screen only
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        if (!(hit === b || b.contains(hit))) {
            const over = hit ? hit.outerHTML.slice(0, 60) : "nothing";
            out.push(`${b.getAttribute("aria-label")} under ${over}`);
        }
    }
    return out;
}"""
CONTROLS = '[data-testid="person"] .row-actions button'


async def shoot(page: Page, name: str, *, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in SIZES:
        await page.set_viewport_size(viewport)
        await page.screenshot(
            path=str(ARTIFACTS / f"console-usability-{name}-{size}.png"), full_page=full_page
        )
    await page.set_viewport_size(DESKTOP)


def person(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'[data-testid="person"][data-name="{name}"]')


async def in_open_room(
    page: Page, server: Env, labels: list[str], **group: object
) -> tuple[str, list[str]]:
    """The group made, logged in, a link per label, the room opened: (group id, links)."""
    gid = await server.group("alex", **group)
    await log_in(page)
    links = [await console_link(page, label, "24") for label in labels]
    await page.get_by_role("button", name="Go to the session").click()
    await page.get_by_role("button", name="Open the room").click()
    await expect(page.get_by_test_id("session-state")).to_have_text("Open")
    return gid, links


async def never_covered(page: Page) -> None:
    """At every scroll position, no participant control has anything drawn over it."""
    for size, viewport in SIZES:
        await page.set_viewport_size(viewport)
        position = await page.locator("#alert-strip").evaluate(
            "(n) => getComputedStyle(n).position"
        )
        assert position == "static", size  # in the page's flow: it cannot follow the scroll
        height = await page.evaluate("() => document.documentElement.scrollHeight")
        for y in range(0, height, 120):
            await page.evaluate(f"() => window.scrollTo(0, {y})")
            assert await page.evaluate(COVERED, CONTROLS) == [], (size, y)
        # Each member's controls brought to the top of the screen are not under anything either.
        for row in await page.locator('[data-testid="person"] .row-actions').all():
            await row.evaluate("(n) => n.scrollIntoView({block: 'start'})")
            assert await page.evaluate(COVERED, CONTROLS) == [], size
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.set_viewport_size(DESKTOP)


async def not_seen(client: ChatClient, within: float) -> list[str]:
    """The statuses the member is told within ``within`` seconds; never "seen"."""
    told: list[str] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while True:
                told.append((await client.next("alert_status", timeout=within))["status"])
    assert "seen" not in told
    return told


async def test_one_compact_alert_strip_newest_first_that_never_covers_the_controls(
    server: Env, browser: Browser
) -> None:
    page = await console(browser, server)
    _, links = await in_open_room(page, server, ["seat 1", "seat 2", "seat 3", "seat 4"])
    names = ["Robin", "Kim", "Lee", "Sam"]
    members = [
        await server.member(link, name, e2ee=True) for link, name in zip(links, names, strict=True)
    ]
    robin, kim, lee, sam = members
    for m in members:
        await keys_with_facilitators(m)
    for name in names:
        await expect(person(page, name).get_by_role("button", name=f"Mute {name}")).to_be_visible()

    strip = page.get_by_test_id("alert-strip")
    rows = page.locator("#alerts > *")
    await expect(strip).to_be_hidden()  # nothing open: no strip at all

    await robin.alert("support")
    await expect(page.get_by_test_id("alert-count")).to_have_text("1")
    await expect(strip).to_contain_text("1 open alert")
    await kim.alert("content", "insults")
    await expect(rows.first).to_contain_text("Content alert: Kim · insults")  # newest first
    await expect(rows.first).to_have_attribute("data-status", "seen")
    await page.get_by_role("button", name="Mark handled: Content alert: Kim · insults").click()
    await expect(page.get_by_test_id("alert-count")).to_have_text("1")

    # Three alerts while the console is out of the room: back in, all four at once.
    await page.get_by_role("button", name="Leave the console").click()
    for m in (kim, lee, sam):
        await m.alert("content", "insults")
        await next_event(m, "alert_status", lambda e: e["status"] == "waiting")
    await page.get_by_role("button", name="Go to the session").click()
    await expect(page.get_by_test_id("alert-count")).to_have_text("4")
    await expect(strip).to_contain_text("4 open alerts")
    await expect(strip).to_contain_text("newest first")
    texts = [await r.locator(".alert-title").inner_text() for r in await rows.all()]
    assert texts == [
        "Content alert: Sam · insults",
        "Content alert: Lee · insults",
        "Content alert: Kim · insults",
        "Robin needs support now",
    ]
    # Folded past the first two, except a support request, which is never folded away.
    kim_row = page.locator('[data-testid="open-alert"]').filter(has_text="Kim")
    robin_row = page.locator('[data-testid="open-alert"]').filter(
        has_text="Robin needs support now"
    )
    await expect(kim_row).to_be_hidden()
    await expect(robin_row).to_be_visible()
    await expect(robin_row).to_have_attribute("data-status", "seen")
    for m in (lee, sam):
        await next_event(m, "alert_status", lambda e: e["status"] == "seen")
    # A folded alert is not on the facilitator's screen, and the console does not say it is.
    assert await not_seen(kim, within=0.6) == ["sent"]  # reached the console, not shown on it
    assert await kim_row.get_attribute("data-status") in ("waiting", "sent")
    await expect(page).to_have_title(re.compile(r"^\(4\) alerts · "))

    # Compact, and never over Mute / Time-out / Remove, on a desktop or a phone.
    for size, viewport in SIZES:
        await page.set_viewport_size(viewport)
        box = await strip.bounding_box()
        assert box and box["height"] < viewport["height"] * (0.3 if size == "desktop" else 0.5), (
            size
        )
    await shoot(page, "alerts-folded")
    await never_covered(page)

    # Expanded on demand: every alert, and now the folded one is on screen (seen).
    toggle = page.get_by_role("button", name="Show all 4")
    await toggle.click()
    await expect(kim_row).to_be_visible()
    await expect(kim_row).to_have_attribute("data-status", "seen")
    await next_event(kim, "alert_status", lambda e: e["status"] == "seen")
    await expect(page.get_by_role("button", name="Show fewer")).to_have_attribute(
        "aria-expanded", "true"
    )
    await shoot(page, "alerts-expanded")
    await never_covered(page)
    await page.get_by_role("button", name="Show fewer").click()
    await expect(kim_row).to_be_hidden()

    # Marked handled: the strip counts down and the page does not jump.
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.get_by_role("button", name="Mark handled: Content alert: Sam · insults").click()
    await expect(page.get_by_test_id("alert-count")).to_have_text("3")
    await expect(kim_row).to_be_visible()  # one fewer above it: unfolded
    assert await page.evaluate("() => window.scrollY") == 0
    await expect(page.get_by_role("button", name=re.compile("^Show all"))).to_be_hidden()

    # This console's own alert (its check of a message) joins the strip; "Mark all
    # read" takes it off, as it says, and is not offered when nothing is unread.
    mark_all = page.get_by_role("button", name="Mark all read")
    await expect(mark_all).to_be_hidden()
    # (Lee's and Sam's own checks turned off: their pages raise no alert, the console's check does.)
    lee.content = sam.content = None
    await lee.send(BLOCKED)
    banner = page.get_by_test_id("alert-banner")
    await expect(banner).to_contain_text("Content alert: Lee")
    await expect(rows.first).to_have_attribute("data-testid", "alert-banner")  # newest first
    await expect(page.get_by_test_id("alert-count")).to_have_text("4")
    await expect(page.locator("#inbox-badge")).to_have_text("1 new in the inbox")
    await mark_all.click()
    await expect(banner).to_have_count(0)
    await expect(page.get_by_test_id("alert-count")).to_have_text("3")
    await expect(page.locator("#inbox-badge")).to_be_hidden()
    await expect(page.locator('[data-testid="inbox-item"][data-kind="alert"]')).to_have_count(1)
    await expect(page.locator("#inbox-list .is-unread")).to_have_count(0)
    await expect(mark_all).to_be_hidden()
    # "Dismiss" on the strip marks the inbox item read; the item stays in the inbox.
    await sam.send(BLOCKED)
    await expect(banner).to_contain_text("Content alert: Sam")
    await page.get_by_role("button", name=re.compile("^Dismiss: Content alert: Sam")).click()
    await expect(banner).to_have_count(0)
    await expect(page.locator("#inbox-list .is-unread")).to_have_count(0)
    await expect(page.locator('[data-testid="inbox-item"][data-kind="alert"]')).to_have_count(2)
    assert await page.evaluate("() => window.scrollY") == 0

    # Everything handled: no strip, the title as it was.
    for title in (
        "Robin needs support now",
        "Content alert: Lee · insults",
        "Content alert: Kim · insults",
    ):
        await page.get_by_role("button", name=f"Mark handled: {title}").click()
    await expect(strip).to_be_hidden()
    await expect(page).to_have_title(BASE_TITLE)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_after_end_for_everyone_the_console_says_ended_and_offers_the_next_session(
    server: Env, browser: Browser
) -> None:
    page = await console(browser, server)
    _, (link,) = await in_open_room(page, server, ["seat 1"], duration_minutes=70)
    robin = await server.member(link, "Robin", e2ee=True)
    await page.get_by_role("button", name="Start the session (locks the door)").click()
    state = page.get_by_test_id("session-state")
    clock = page.get_by_test_id("clock")
    await expect(clock).to_contain_text("min left of 70")

    await page.get_by_role("button", name="End for everyone…").click()
    await page.get_by_role("dialog").get_by_role("button", name="End for everyone").click()
    assert await robin.closed() == 4000
    await expect(state).to_have_text("Ended")
    await expect(page.locator("#session-state-hint")).to_have_text(
        "Nothing of this session is kept."
    )
    await expect(clock).to_have_text(re.compile(r"^Ended after 0:0\d · planned 70 minutes$"))
    stopped = await clock.inner_text()
    await asyncio.sleep(2.2)
    assert await clock.inner_text() == stopped  # stopped, and says so
    await expect(page.locator("#over-text")).to_contain_text("The session has ended for everyone")
    # What cannot work now is not offered: no door, no pause, no end, no re-entry into this one.
    for name in ("End for everyone…", "Pause everyone", "Lock the door", "Enter the room again"):
        await expect(page.get_by_role("button", name=name)).to_be_hidden()
    await expect(page.get_by_role("button", name="Back to your groups")).to_be_focused()
    next_session = page.get_by_role("button", name="Open the next session")
    await expect(next_session).to_be_visible()
    await shoot(page, "ended")

    await next_session.click()
    await expect(state).to_have_text("Open")
    await expect(clock).to_have_text("Not started · planned 70 minutes")
    await expect(
        page.get_by_role("button", name="Start the session (locks the door)")
    ).to_be_visible()
    robin = await server.member(link, "Robin", e2ee=True)
    await expect(person(page, "Robin")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


async def test_delete_can_be_undone_and_remove_puts_the_milder_choice_first(
    server: Env, browser: Browser
) -> None:
    page = await console(browser, server)
    gid, (link,) = await in_open_room(page, server, ["seat 1"])
    robin = await server.member(link, "Robin", e2ee=True)
    await keys_with_facilitators(robin)
    await robin.send("first from Robin")
    message = page.get_by_test_id("message").filter(has_text="first from Robin")
    await expect(message).to_be_visible()
    msg_id = await message.get_attribute("data-id")

    # "Delete": it waits, says so, and "Undo" keeps the message for everyone.
    await page.get_by_role(
        "button", name=f"Delete message {msg_id} from Robin for everyone"
    ).click()
    pending = message.get_by_test_id("delete-pending")
    await expect(pending).to_have_text(re.compile(r"^Deleting for everyone in [1-4] s$"))
    undo = page.get_by_role("button", name=f"Undo: keep message {msg_id} from Robin")
    await expect(undo).to_be_focused()
    await shoot(page, "delete-undo")
    await undo.click()
    await expect(pending).to_have_count(0)
    await robin.nothing("deleted", within=5)
    await expect(message).to_contain_text("first from Robin")
    # Not undone: gone for everyone after the wait.
    await page.get_by_role(
        "button", name=f"Delete message {msg_id} from Robin for everyone"
    ).click()
    started = time.monotonic()
    assert (await robin.next("deleted", timeout=8))["id"] == int(msg_id or 0)
    assert time.monotonic() - started > 2.5
    deleted = page.locator(f'[data-testid="message"][data-id="{msg_id}"]')
    await expect(deleted).to_contain_text("Deleted for everyone")
    await expect(deleted.get_by_role("button")).to_have_count(0)  # nothing left to delete or undo

    # The Remove dialog: "Remove for this session" is the main button and has the focus;
    # "Remove for good" is the secondary one and says what it does.
    await page.get_by_role("button", name="Remove… Robin").click()
    dialog = page.get_by_role("dialog")
    mild = dialog.get_by_role("button", name="Remove for this session")
    hard = dialog.get_by_role("button", name="Remove for good (revoke their link)")
    await expect(mild).to_be_focused()
    await expect(mild).to_have_class(re.compile(r"\bprimary\b"))
    await expect(hard).not_to_have_class(re.compile(r"(^|\s)(primary|danger)(\s|$)"))
    await expect(dialog).to_contain_text("their link is revoked as well")
    await shoot(page, "remove-dialog")
    await page.keyboard.press("Enter")  # the default is the milder choice
    assert await robin.closed() == 4001
    await expect(person(page, "Robin")).to_have_count(0)
    seats = {s.label: s.public(time.time())["status"] for s in await server.store.seats(gid)}
    assert seats == {"seat 1": "active"}
    assert page.errors == []  # type: ignore[attr-defined]


BEEPS = """() => {
    window.__beeps = 0;
    const make = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () {
        window.__beeps += 1;
        return make.call(this);
    };
}"""


async def test_knocks_change_the_title_may_beep_and_can_all_be_let_in(
    server: Env, browser: Browser
) -> None:
    page = await console(browser, server)
    _, links = await in_open_room(page, server, ["seat 1", "seat 2", "seat 3"])
    await page.get_by_role("button", name="Start the session (locks the door)").click()
    await expect(page.get_by_test_id("session-state")).to_have_text("Started · door locked")
    await page.evaluate(BEEPS)

    # The sound: off until turned on, and the button says which it is.
    sound = page.get_by_test_id("knock-sound")
    await expect(sound).to_have_text("Sound for a knock: off")
    await expect(sound).to_have_attribute("aria-pressed", "false")
    await expect(page.locator("#knock-sound-hint")).to_have_text(
        "A short beep when someone knocks. Kept for this tab until it reloads."
    )
    lee = await server.member(links[0], "Lee", e2ee=True)
    assert not lee.admitted
    await expect(page.get_by_test_id("knock")).to_have_count(1)
    await expect(page).to_have_title(f"(1) knocking · {BASE_TITLE}")
    assert await page.evaluate("() => window.__beeps") == 0  # off: no sound
    # One knocker: "Let in" beside them, no "Let all in".
    await expect(page.locator("#admit-all")).to_be_hidden()

    await sound.click()
    await expect(sound).to_have_text("Sound for a knock: on")
    await expect(sound).to_have_attribute("aria-pressed", "true")
    beeps = await page.evaluate("() => window.__beeps")
    assert beeps > 0  # the beep it will make, made once as it is turned on
    sam = await server.member(links[1], "Sam", e2ee=True)
    await expect(page.get_by_test_id("knock")).to_have_count(2)
    await expect(page).to_have_title(f"(2) knocking · {BASE_TITLE}")
    assert await page.evaluate("() => window.__beeps") == 2 * beeps
    await expect(page.get_by_role("button", name="2 waiting to come in")).to_be_visible()
    await shoot(page, "knocks")

    await page.get_by_role("button", name="Let all 2 in").click()
    await lee.next("welcome")
    await sam.next("welcome")
    await expect(page.get_by_test_id("knock")).to_have_count(0)
    await expect(page).to_have_title(BASE_TITLE)
    await expect(page.locator("#admit-all")).to_be_hidden()
    await expect(person(page, "Lee")).to_be_visible()
    await expect(person(page, "Sam")).to_be_visible()

    # Kept for the tab: out of the room and back, still on.
    await page.get_by_role("button", name="Leave the console").click()
    await page.get_by_role("button", name="Go to the session").click()
    await expect(page.get_by_test_id("session-state")).to_have_text("Started · door locked")
    await expect(sound).to_have_text("Sound for a knock: on")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_hands_show_their_order_and_can_all_be_lowered(server: Env, browser: Browser) -> None:
    page = await console(browser, server)
    _, links = await in_open_room(page, server, ["seat 1", "seat 2", "seat 3"])
    robin, kim, lee = [
        await server.member(link, name, e2ee=True)
        for link, name in zip(links, ["Robin", "Kim", "Lee"], strict=True)
    ]
    hands = page.get_by_test_id("hands")
    await expect(person(page, "Lee")).to_be_visible()
    await expect(hands).to_be_hidden()  # no hand up: no list, no "Lower all"

    for who, name in ((kim, "Kim"), (robin, "Robin"), (lee, "Lee")):
        await who.hand(True)
        await expect(person(page, name)).to_contain_text("hand raised")
    order = page.get_by_test_id("hand")
    await expect(order).to_have_text(["1. Kim", "2. Robin", "3. Lee"])
    await expect(person(page, "Kim")).to_contain_text("hand raised · 1 of 3")
    await expect(person(page, "Lee")).to_contain_text("hand raised · 3 of 3")
    await expect(
        page.locator("#hands-hint")
    ).to_be_hidden()  # the order is known: all seen going up
    await shoot(page, "hands")

    await robin.hand(False)
    await expect(order).to_have_text(["1. Kim", "2. Lee"])
    await page.get_by_role("button", name="Lower all 2 hands").click()
    await expect(hands).to_be_hidden()
    for name in ("Kim", "Lee"):
        await expect(person(page, name)).not_to_contain_text("hand raised")

    # Raised while the console was out of the room: their order is not known, and it says so.
    await page.get_by_role("button", name="Leave the console").click()
    await kim.hand(True)
    await lee.hand(True)
    await asyncio.sleep(0.3)
    await page.get_by_role("button", name="Go to the session").click()
    await expect(order).to_have_count(2)
    await expect(page.locator("#hands-hint")).to_have_text(
        "Hands already up when you came in are listed first, in no particular order."
    )
    await robin.hand(True)
    await expect(order.nth(2)).to_have_text("3. Robin")
    assert page.errors == []  # type: ignore[attr-defined]
