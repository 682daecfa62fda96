"""A support request in the browser, from the member's page to the console and back.

docs/protocol.md section 5a: the server holds a request until a facilitator
marks it handled, and tells the member where it stands. The member's page must
say exactly that, in every state (the safety rule: every sentence shown is
true in the state the person is in), and the console must show every open
alert, say by itself that it shows it, and close it for everyone.

The facilitator is a console page and the member a room page, each in a
browser context of its own. "No facilitator in the room" is the console
having left the room (its seat is kept, stepped out).
"""

from __future__ import annotations

import re
from pathlib import Path

from chromium import console_link, enter, needs_chromium, open_page, say
from conftest import PASSWORD, Env
from playwright.async_api import Browser, Page, expect

pytestmark = needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

WAITING = (
    "No facilitator is in the room right now. "
    "Your request will reach the first facilitator who comes back."
)
SEEN = "A facilitator has your request on their screen."
HANDLED = "A facilitator has seen your request and marked it as handled."
SEEN_AWAY = "A facilitator has seen your request. No facilitator is in the room right now."
CONTENT_WAITING = (
    "No facilitator is in the room right now; "
    "the alert will reach the first facilitator who comes back."
)
CRISIS = "Call 116 123 (Samaritans, free, 24/7)"
BLOCKED = "I took 30 paracetamol last night"  # method_detail: block and alert


async def console_in_room(browser: Browser, server: Env, gid: str) -> tuple[Page, str]:
    """The console logged in, a seat link made, the room opened; the link."""
    console = await open_page(browser, server.url, "/console")
    await console.get_by_label("Name").fill("alex")
    await console.get_by_label("Password").fill(PASSWORD)
    await console.get_by_role("button", name="Log in").click()
    await console.locator(f'[data-testid="group"][data-gid="{gid}"]').click()
    link = await console_link(console, "seat 1")
    await console.get_by_role("button", name="Go to the session").click()
    await console.get_by_role("button", name="Open the room").click()
    await expect(console.get_by_test_id("session-state")).to_have_text("Open")
    return console, link


async def shoot(page: Page, name: str) -> None:
    """For a look by eye (test-artifacts/, gitignored): desktop and phone."""
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in (("desktop", (1280, 800)), ("phone", (390, 844))):
        await page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
        await page.screenshot(path=str(ARTIFACTS / f"alerts-{name}-{size}.png"))
    await page.set_viewport_size({"width": 1280, "height": 800})


async def into_room(member: Page, name: str) -> None:
    await enter(member, name)
    await expect(member.get_by_test_id("room")).to_be_visible()


async def test_a_support_request_waits_for_a_facilitator_then_is_seen_and_handled(
    server: Env, browser: Browser
) -> None:
    gid = await server.group("alex")
    console, link = await console_in_room(browser, server, gid)
    member = await open_page(browser, server.url, link.removeprefix(server.url))
    await into_room(member, "Blue Heron")
    person = console.locator('[data-testid="person"][data-name="Blue Heron"]')
    await expect(person).to_be_visible()

    support = member.get_by_role("button", name="I need support now")
    dialog = member.get_by_test_id("support-dialog")
    status = dialog.get_by_test_id("support-status")
    confirm = dialog.get_by_test_id("support-confirm")
    line = member.get_by_test_id("support-line")
    line_crisis = member.get_by_test_id("support-line-crisis")
    open_alerts = console.get_by_test_id("open-alert")

    # One question first. Cancel sends nothing and leaves the crisis resources in view.
    await support.click()
    await expect(confirm).to_contain_text("Send an alert to the facilitators?")
    await expect(dialog.get_by_test_id("crisis-resources")).to_contain_text(CRISIS)
    await expect(dialog.get_by_role("button", name="Send", exact=True)).to_be_focused()
    await shoot(member, "member-confirm")
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(confirm).to_be_hidden()
    await expect(status).to_have_text("No alert was sent.")
    await expect(dialog.get_by_test_id("crisis-resources")).to_contain_text(CRISIS)
    await dialog.get_by_role("button", name="Close").click()
    await expect(line).to_be_hidden()
    # Frames arrive in order: once a later one (a hand) is on the console, an
    # alert sent before it would be too.
    await member.get_by_role("button", name="Raise hand").click()
    await expect(person).to_contain_text("hand raised")
    await expect(open_alerts).to_have_count(0)
    assert server.hub.rooms[gid].session.alerts.open == {}

    # The facilitator leaves the room: nobody is there to be told.
    await console.get_by_role("button", name="Leave the console").click()
    facilitator = member.get_by_test_id("person").filter(has_text="alex")
    await expect(facilitator).to_contain_text("Stepped out")

    await support.click()
    await dialog.get_by_role("button", name="Send", exact=True).click()
    await expect(status).to_have_text(WAITING)
    await expect(dialog.get_by_test_id("crisis-resources")).to_contain_text(CRISIS)
    # Writing is still offered: it waits on the page, and the page says so.
    await dialog.get_by_role("button", name="Write to the facilitators").click()
    private = member.get_by_role("dialog", name="Message the facilitators")
    await private.get_by_label("Your message").fill("Is anyone there?")
    await private.get_by_role("button", name="Send privately").click()
    await expect(member.get_by_test_id("private-state")).to_contain_text(
        "waits on this page and is sent when one arrives"
    )
    await expect(line).to_have_text(WAITING)  # stays after the dialog is closed
    await expect(line_crisis).to_contain_text(CRISIS)

    # A content rule's alert waits as well, and the member is told so.
    await say(member, BLOCKED)
    await expect(
        member.get_by_test_id("notice").filter(has_text=CONTENT_WAITING).first
    ).to_be_visible()

    # A reload forgets the page (the tab keeps only the name and the rules
    # accepted, so it comes straight back); the server's open alerts bring the line back.
    await member.reload()
    await expect(member.get_by_test_id("room")).to_be_visible()
    await expect(line).to_have_text(WAITING)
    await expect(line_crisis).to_contain_text(CRISIS)
    await shoot(member, "member-waiting")

    # A facilitator comes back: the console shows both alerts, and says so by itself.
    await console.get_by_role("button", name="Go to the session").click()
    request = open_alerts.filter(has_text="Blue Heron needs support now")
    await expect(request).to_have_attribute("data-kind", "support")
    await expect(request.get_by_test_id("alert-meta")).to_have_text(
        re.compile(
            r"^Support request · raised at \d\d?:\d\d.* · status: seen: on a facilitator's screen$"
        )
    )
    content = console.locator('[data-testid="open-alert"][data-kind="content"]')
    # About the member's own safety: a priority alert, like a support request.
    await expect(content).to_contain_text("Urgent: Blue Heron · method_detail, a safety category")
    await expect(content).to_contain_text("method_detail")
    await expect(content).to_have_class(re.compile("is-urgent"))
    await expect(content).not_to_contain_text("paracetamol")
    await expect(line).to_have_text(SEEN)
    await expect(line_crisis).to_be_hidden()
    await shoot(console, "console")

    # Seen stays seen when the facilitator goes, but it is on nobody's screen then.
    await console.get_by_role("button", name="Leave the console").click()
    await expect(line).to_have_text(SEEN_AWAY)
    await expect(line_crisis).to_contain_text(CRISIS)
    await console.get_by_role("button", name="Go to the session").click()
    await expect(line).to_have_text(SEEN)

    # Marked handled: gone from the console, and the member reads that.
    await request.get_by_role("button", name="Mark handled: Blue Heron needs support now").click()
    await expect(line).to_have_text(HANDLED)
    await expect(request).to_have_count(0)
    await expect(open_alerts).to_have_count(1)  # the content alert is still open
    assert [a.kind for a in server.hub.rooms[gid].session.alerts.open.values()] == ["content"]

    # Nowhere a promise nobody made.
    for page in (member, console):
        assert "reach out" not in await page.content()
