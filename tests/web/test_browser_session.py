"""A whole session in the browser, as issue 6 tells it: every person on a page.

The facilitator runs it from the console (/console); three members and a
latecomer use the member room (/join), each in a browser context of its own
(own storage, own keys). Everything goes through the real UI, the real server
and end-to-end encryption made in each page by WebCrypto.
"""

from __future__ import annotations

import re
from pathlib import Path

from chromium import console_link, enter, message, needs_chromium, open_page, say
from conftest import PASSWORD, Env
from playwright.async_api import Browser, Locator, Page, expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
STORAGE = """async () => ({
    local: localStorage.length,
    session: Object.keys(sessionStorage),
    idb: (await indexedDB.databases()).map((d) => d.name),
    cookie: document.cookie,
})"""
SAID = [
    "Hello everyone, Robin here.",
    "Welcome, all of you.",
    "Sam: it was a hard week.",
    "Kim: I hear you, Sam.",
    "Lee made it, sorry I am late.",
    "Sam: you always say that, idiot.",
]


async def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for size, viewport in SIZES.items():
        await page.set_viewport_size(viewport)  # type: ignore[arg-type]
        await page.screenshot(path=str(ARTIFACTS / f"session-{name}-{size}.png"), full_page=True)
    await page.set_viewport_size(SIZES["desktop"])  # type: ignore[arg-type]


async def open_link(browser: Browser, server: Env, link: str) -> Page:
    page = await open_page(browser, server.url, link.removeprefix(server.url))
    await expect(page.get_by_test_id("landing")).to_be_visible()
    return page


def person(console: Page, name: str) -> Locator:
    return console.locator(f'[data-testid="person"][data-name="{name}"]')


async def verified_by(page: Page, *names: str) -> None:
    """The member's page shows each of ``names`` present and not marked unverified."""
    for name in names:
        entry = page.get_by_test_id("person").filter(has_text=name)
        await expect(entry).to_be_visible()
        await expect(entry.get_by_test_id("unverified")).to_have_count(0)


@needs_chromium
async def test_a_whole_session_in_the_browser(server: Env, browser: Browser) -> None:
    await server.facilitator("alex")
    gid = await server.group("alex", title="Thursday circle")

    # The facilitator logs in, which makes (and registers) the console's key,
    # and makes one link per seat; each carries that key in its fragment.
    console = await open_page(browser, server.url, "/console")
    await console.set_viewport_size(SIZES["desktop"])  # type: ignore[arg-type]
    await console.get_by_label("Name").fill("alex")
    await console.get_by_label("Password").fill(PASSWORD)
    await console.get_by_role("button", name="Log in").click()
    await console.locator(f'[data-testid="group"][data-gid="{gid}"]').click()
    links = {n: await console_link(console, f"seat {n}") for n in ("Robin", "Sam", "Kim")}
    late_link = await console_link(console, "seat Lee")
    assert len({*links.values(), late_link}) == 4
    await console.get_by_role("button", name="Go to the session").click()
    await console.get_by_role("button", name="Open the room").click()
    await expect(console.get_by_test_id("session-state")).to_have_text("Open")

    # Three members accept the rules and come in.
    members: dict[str, Page] = {}
    for name, link in links.items():
        page = await open_link(browser, server, link)
        await expect(page.get_by_test_id("rules")).to_contain_text("What is said here stays here.")
        await expect(page.get_by_test_id("confidentiality")).to_be_visible()
        await enter(page, name)
        await expect(page.get_by_test_id("room")).to_be_visible()
        members[name] = page
        await expect(person(console, name)).to_be_visible()
    robin, sam, kim = members["Robin"], members["Sam"], members["Kim"]
    for page in members.values():
        await verified_by(page, "Robin", "Sam", "Kim")

    # Chat both ways: members and the console read each other.
    transcript = console.locator("#transcript")
    await say(robin, SAID[0])
    await expect(transcript).to_contain_text(SAID[0])
    for page in (sam, kim):
        await expect(message(page, SAID[0])).to_be_visible()
    await console.get_by_label("Message to the room").fill(SAID[1])
    await console.get_by_label("Message to the room").press("Enter")
    for page in members.values():
        await expect(message(page, SAID[1])).to_be_visible()
    await say(sam, SAID[2])
    await say(kim, SAID[3])
    await expect(transcript).to_contain_text(SAID[3])
    await expect(message(robin, SAID[2])).to_be_visible()

    # The facilitator starts: the door locks, and a latecomer knocks.
    await console.get_by_role("button", name="Start the session (locks the door)").click()
    await expect(console.get_by_test_id("session-state")).to_have_text("Started · door locked")
    lee = await open_link(browser, server, late_link)
    await enter(lee, "Lee")
    await expect(lee.get_by_test_id("waiting")).to_contain_text(
        "so you are knocking. Please wait for a facilitator to answer."
    )
    await expect(console.get_by_test_id("knock")).to_contain_text("Lee")
    await console.get_by_role("button", name="Let Lee in").click()
    await expect(lee.get_by_test_id("room")).to_be_visible()
    members["Lee"] = lee
    await verified_by(lee, "Robin", "Sam", "Kim")
    await verified_by(robin, "Lee")
    await say(lee, SAID[4])
    for page in (robin, sam, kim):
        await expect(message(page, SAID[4])).to_be_visible()
    # Lee came after the first messages: its page holds none of them.
    for text in SAID[:4]:
        await expect(message(lee, text)).to_have_count(0)
    await shoot(robin, "member-room")
    await shoot(console, "console")

    # A member is muted, and sees it.
    await console.get_by_role("button", name="Mute Kim").click()
    await expect(kim.get_by_test_id("banner-muted")).to_contain_text("A facilitator has muted you")
    await expect(kim.get_by_role("textbox", name="Message to the group")).to_be_disabled()

    # A member reports a message; the facilitator sees it, verified.
    await say(sam, SAID[5])
    hurtful = message(robin, SAID[5])
    await expect(hurtful).to_be_visible()
    await hurtful.get_by_role("button", name="Report").click()
    dialog = robin.get_by_role("dialog", name="Report this message")
    await dialog.get_by_label("What worries you about it?").fill("That was unkind to Kim.")
    await dialog.get_by_role("button", name="Send report").click()
    report = console.locator('[data-testid="inbox-item"][data-kind="report"]')
    await expect(report.get_by_test_id("report-verdict")).to_have_text("Verified")
    await expect(report).to_contain_text(SAID[5])
    await expect(report).to_contain_text("That was unkind to Kim.")

    # A member asks for support now: crisis resources for them, an alert for the
    # facilitator, who has it on screen, and then marks it handled.
    await robin.get_by_role("button", name="I need support now").click()
    await expect(robin.get_by_test_id("crisis-resources")).to_contain_text("116 123")
    await robin.get_by_test_id("support-send").click()
    request = console.get_by_test_id("open-alert")
    await expect(request).to_contain_text("Robin needs support now")
    line = robin.get_by_test_id("support-line")
    await expect(line).to_have_text("A facilitator has your request on their screen.")
    await robin.get_by_test_id("support-close").click()
    await request.get_by_role("button", name="Mark handled: Robin needs support now").click()
    await expect(request).to_have_count(0)
    await expect(line).to_have_text("A facilitator has seen your request and marked it as handled.")

    # A member is removed for good, and cannot come back with the same link.
    await console.get_by_role("button", name="Remove… Sam").click()
    await console.get_by_role("dialog").get_by_role("button", name="Remove for good").click()
    await expect(sam.get_by_test_id("final-title")).to_have_text("You are no longer in this group")
    again = await open_page(browser, server.url, links["Sam"].removeprefix(server.url))
    await expect(again.get_by_test_id("room")).to_be_hidden()
    await expect(again.get_by_test_id("landing")).to_be_hidden()
    await expect(again.locator("body")).to_contain_text(re.compile("link", re.IGNORECASE))

    # The facilitator ends the session: every page says so and holds no text.
    await console.get_by_role("button", name="End for everyone…").click()
    await console.get_by_role("dialog").get_by_role("button", name="End for everyone").click()
    for name, page in members.items():
        if name == "Sam":
            continue
        await expect(page.get_by_test_id("final-title")).to_have_text("The session has ended")
    await expect(console.locator("#session-over")).to_be_visible()
    for name, page in [*members.items(), ("console", console)]:
        html = await page.content()
        for text in SAID:
            assert text not in html, (name, text)
        assert "That was unkind to Kim." not in html, name
        storage = await page.evaluate(STORAGE)
        assert storage["local"] == 0 and storage["cookie"] == ""
        # The console's tab keeps its login token for a reload, and nothing else
        # (no group either: the session is over for it).
        kept = ["safespace.console.token"] if name == "console" else []
        assert storage["session"] == kept, name
        # The console keeps its identity key (a key, never text) in IndexedDB;
        # a member's page keeps nothing at all.
        assert storage["idb"] == (["safespace-console"] if name == "console" else []), name
        assert page.errors == []  # type: ignore[attr-defined]
