"""The member room (clients/web/room.*) in headless Chromium, driven through its UI.

Each test opens the private link the way a member does (/join#seat=...&f=...),
reads the ground rules, picks a name and talks with a facilitator on the
Python client (end-to-end encrypted, identity key in the link). Locators go by
role and label where a person would, by test id where the page has several of
a kind. Screenshots of the room go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from chromium import compose, enter, message, needs_chromium, open_page, say, until
from conftest import Env
from playwright.async_api import Browser, Page, expect

from clients.client import ChatClient
from clients.e2ee import IdentityKey

pytestmark = needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

STORAGE = """async () => ({
    local: localStorage.length,
    session: Object.fromEntries(Object.entries(sessionStorage)),
    idb: (await indexedDB.databases()).length,
    cookie: document.cookie,
})"""


# ---- helpers --------------------------------------------------------------------------


async def facilitated(server: Env, **settings: Any) -> tuple[str, ChatClient]:
    """A group, and its facilitator in the opened room; links made now carry its key."""
    gid = await server.group(**settings)
    fac = await server.host(gid, e2ee=True, identity=IdentityKey.generate())
    return gid, fac


async def land(browser: Browser, server: Env, gid: str) -> Page:
    """Open a fresh private link: the landing with the ground rules."""
    link = await server.link(gid)
    page = await open_page(browser, server.url, link.removeprefix(server.url))
    await expect(page.get_by_test_id("landing")).to_be_visible()
    return page


async def join(browser: Browser, server: Env, gid: str, name: str = "Blue Heron") -> Page:
    page = await land(browser, server, gid)
    await enter(page, name)
    await expect(page.get_by_test_id("room")).to_be_visible()
    return page


async def pid_in_room(fac: ChatClient, name: str) -> str:
    async with asyncio.timeout(10):
        while (pid := fac.pid_of(name)) is None or pid not in fac.roster:
            await fac.next()
    return pid


async def keys_with(client: ChatClient, name: str) -> str:
    """Wait until ``client`` and the member ``name`` hold each other's keys; their pid."""
    pid = await pid_in_room(client, name)
    await client.keys_ready([pid])
    return pid


async def assert_no_storage(page: Page) -> None:
    """Nothing in browser storage but, for a reload of the tab, the name and the rules' digest."""
    kept = await page.evaluate(STORAGE)
    session = kept.pop("session")
    assert kept == {"local": 0, "idb": 0, "cookie": ""}
    assert set(session) <= {"safespace.room"}
    for value in session.values():
        assert set(json.loads(value)) == {"link", "name", "digest"}


async def assert_wiped(page: Page, *texts: str) -> None:
    """Nothing the room said is left in the DOM (hidden or not)."""
    html = await page.content()
    for text in texts:
        assert text not in html
    assert await page.get_by_test_id("message").count() == 0
    assert await page.get_by_test_id("person").count() == 0


# ---- landing, name, chat ---------------------------------------------------------------


async def test_landing_accept_name_then_chat_both_ways(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    page = await land(browser, server, gid)

    # The landing: title, ground rules, confidentiality notes, crisis resources.
    await expect(page.get_by_role("heading", level=1)).to_have_text("Tuesday evening group")
    await expect(page.get_by_test_id("rules")).to_contain_text("Be kind.")
    notes = page.get_by_test_id("confidentiality")
    for words in (
        "stays here",
        "record, screenshot or save",
        "private place",
        "listen without talking",
        "step out and come back",
    ):
        await expect(notes).to_contain_text(words)
    await expect(page.get_by_test_id("landing")).to_contain_text("Call 116 123")
    # Reading the rules entered nothing.
    await fac.nothing("joined", "knock", within=0.3)
    assert len(fac.roster) == 1

    await page.get_by_role("button", name="I agree, continue").click()
    name = page.get_by_label("Display name")
    await expect(name).to_be_focused()
    suggested = await name.input_value()
    assert 3 <= len(suggested) <= 40 and " " in suggested  # e.g. "Blue Heron"
    await page.get_by_role("button", name="Suggest another").click()
    assert await name.input_value() != suggested
    await name.fill("Blue Heron")
    await page.get_by_role("button", name="Enter the room").click()
    await expect(page.get_by_test_id("room")).to_be_visible()
    joined = await until(fac, "joined", lambda e: e["p"]["name"] == "Blue Heron")
    pid = joined["p"]["pid"]

    # Participants: the facilitator marked, me marked.
    people = page.get_by_test_id("person")
    await expect(people.filter(has_text="alex")).to_contain_text("Facilitator")
    await expect(people.filter(has_text="Blue Heron")).to_contain_text("You")

    await fac.keys_ready([pid])
    await fac.send("Welcome, take your time.")
    await expect(message(page, "Welcome, take your time.")).to_contain_text("alex")
    await expect(message(page, "Welcome, take your time.")).to_contain_text("Facilitator")

    # Shift+Enter is a new line; Enter sends.
    await compose(page).fill("Hello,")
    await compose(page).press("Shift+Enter")
    await compose(page).press_sequentially("it is my first time")
    await compose(page).press("Enter")
    got = await until(fac, "msg", lambda e: e["from"] == pid)
    assert got.text == "Hello,\nit is my first time"
    await expect(message(page, "it is my first time")).to_contain_text("You")
    await expect(compose(page)).to_have_value("")
    # The Send button works too.
    await compose(page).fill("and thank you")
    await page.get_by_role("button", name="Send", exact=True).click()
    assert (await until(fac, "msg", lambda e: e["from"] == pid)).text == "and thank you"

    await assert_no_storage(page)
    assert "Blue Heron" not in page.url and "Hello" not in page.url


FOCUS_RING = "() => getComputedStyle(document.activeElement).boxShadow"


async def test_keyboard_alone_from_the_landing_to_a_message(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    page = await land(browser, server, gid)
    # The crisis number on the landing is a link (tel:), then the answer.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="116 123")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="I agree, continue")).to_be_focused()
    assert await page.evaluate(FOCUS_RING) != "none"  # the focus can be seen
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Display name")).to_be_focused()
    await page.keyboard.press("ControlOrMeta+a")
    await page.keyboard.type("Keyboard Wren")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("room")).to_be_visible()
    pid = await keys_with(fac, "Keyboard Wren")
    # The order: the log, the message box, then support and the hand. An alert
    # is never the first Tab stop into the room.
    await page.keyboard.press("Tab")
    await expect(page.get_by_test_id("messages")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(compose(page)).to_be_focused()
    await page.keyboard.type("typed without a mouse")
    await page.keyboard.press("Enter")
    assert (await until(fac, "msg", lambda e: e["from"] == pid)).text == "typed without a mouse"
    for _ in range(5):
        await page.keyboard.press("Tab")
        if await page.get_by_role("button", name="I need support now").evaluate(
            "el => el === document.activeElement"
        ):
            break
    await expect(page.get_by_role("button", name="I need support now")).to_be_focused()
    await expect(page.get_by_role("button", name="Raise hand")).to_be_visible()


async def test_waits_for_the_room_to_open(server: Env, browser: Browser) -> None:
    gid = await server.group()
    link = await server.link(gid)
    page = await open_page(browser, server.url, link.removeprefix(server.url))
    await expect(page.get_by_role("heading", name="The room is not open yet")).to_be_visible()
    await server.host(gid)  # the facilitator opens the room
    await page.get_by_role("button", name="Try again now").click()
    await expect(page.get_by_test_id("landing")).to_be_visible()


async def test_a_link_without_a_facilitator_key_warns(server: Env, browser: Browser) -> None:
    gid = await server.group()
    link = await server.link(gid)  # made before any facilitator registered a key
    assert "&f=" not in link
    await server.host(gid, e2ee=True, identity=IdentityKey.generate())
    page = await open_page(browser, server.url, link.removeprefix(server.url))
    await enter(page, "Blue Heron")
    await expect(page.get_by_test_id("banner-warning")).to_contain_text(
        "carries no facilitator key"
    )


async def test_a_refused_name_lets_the_member_pick_again(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    await server.member(await server.link(gid), "Robin", e2ee=True)
    page = await land(browser, server, gid)
    await enter(page, "robin")
    error = page.get_by_test_id("name-error")
    await expect(error).to_contain_text("already uses that name")
    await expect(page.get_by_label("Display name")).to_be_focused()
    await page.get_by_label("Display name").fill("Sam")
    await page.get_by_role("button", name="Enter the room").click()
    await expect(page.get_by_test_id("room")).to_be_visible()
    await until(fac, "joined", lambda e: e["p"]["name"] == "Sam")


# ---- waiting: lobby, knocking ----------------------------------------------------------


async def test_lobby_then_the_session_starts(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid)
    lobby = page.get_by_test_id("banner-lobby")
    await expect(lobby).to_have_text("The session has not started yet; you can say hello.")
    await fac.start()
    await expect(lobby).to_be_hidden()
    await expect(
        page.get_by_test_id("notice").filter(has_text="The session has started.")
    ).to_be_visible()


async def test_knocking_when_locked_until_a_facilitator_admits(
    server: Env, browser: Browser
) -> None:
    gid, fac = await facilitated(server)
    await fac.start()
    page = await land(browser, server, gid)
    await enter(page, "Late Sparrow")
    waiting = page.get_by_test_id("waiting")
    await expect(waiting).to_be_visible()
    await expect(waiting).to_contain_text(
        "The session has started, so you are knocking. Please wait for a facilitator to answer."
    )
    knock = await until(fac, "knock")
    assert knock["p"]["name"] == "Late Sparrow"
    await fac.admit(knock["p"]["pid"])
    await expect(page.get_by_test_id("room")).to_be_visible()
    await expect(page.get_by_test_id("banner-lobby")).to_be_hidden()
    await keys_with(fac, "Late Sparrow")
    await fac.send("Come in, welcome.")
    await expect(message(page, "Come in, welcome.")).to_be_visible()


async def test_a_refused_knock_says_so_and_wipes(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    await fac.start()
    page = await land(browser, server, gid)
    await enter(page, "Late Sparrow")
    knock = await until(fac, "knock")
    await fac.refuse(knock["p"]["pid"])
    await expect(page.get_by_test_id("final-title")).to_have_text(
        "You could not be let in this time"
    )
    await expect(page.get_by_test_id("final")).to_contain_text("Call 116 123")


# ---- moderation states ----------------------------------------------------------------


async def test_muted_timed_out_and_paused_disable_the_composer(
    server: Env, browser: Browser
) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid)
    pid = await pid_in_room(fac, "Blue Heron")
    banner = page.get_by_test_id("banner-muted")

    await fac.mute(pid)
    await expect(banner).to_contain_text("A facilitator has muted you")
    await expect(compose(page)).to_be_disabled()
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    # Still possible: the facilitators, a hand, support.
    await expect(page.get_by_role("button", name="Raise hand")).to_be_enabled()
    await expect(page.get_by_role("button", name="Message the facilitators")).to_be_enabled()
    await expect(page.get_by_test_id("person").filter(has_text="Blue Heron")).to_contain_text(
        "Muted"
    )

    await fac.unmute(pid)
    await expect(banner).to_be_hidden()
    await expect(compose(page)).to_be_enabled()

    await fac.time_out(pid, 600)
    await expect(banner).to_contain_text("time-out, until")
    await expect(compose(page)).to_be_disabled()
    await fac.unmute(pid)
    await expect(compose(page)).to_be_enabled()

    await fac.pause()
    await expect(page.get_by_test_id("banner-paused")).to_have_text(
        "The facilitator has paused the conversation for a moment."
    )
    await expect(compose(page)).to_be_disabled()
    await fac.resume()
    await expect(page.get_by_test_id("banner-paused")).to_be_hidden()
    await expect(compose(page)).to_be_enabled()


async def test_raise_and_lower_the_hand(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid)
    pid = await pid_in_room(fac, "Blue Heron")
    await page.get_by_role("button", name="Raise hand").click()
    assert (await until(fac, "hand"))["up"] is True
    await expect(page.get_by_role("button", name="Lower hand")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.get_by_test_id("person").filter(has_text="Blue Heron")).to_contain_text(
        "Hand raised"
    )
    # A facilitator may lower it.
    await fac.hand(False, pid=pid)
    await expect(page.get_by_role("button", name="Raise hand")).to_have_attribute(
        "aria-pressed", "false"
    )


async def test_participants_not_verified_are_marked(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid)
    # A client without keys: no facilitator can vouch for it, so nobody's page trusts it.
    await server.member(await server.link(gid), "Plain Pat")
    people = page.get_by_test_id("person")
    await expect(people.filter(has_text="Plain Pat").get_by_test_id("unverified")).to_be_visible()
    await expect(people.filter(has_text="alex").get_by_test_id("unverified")).to_have_count(0)
    await keys_with(fac, "Blue Heron")
    await say(page, "hello")
    await expect(page.get_by_test_id("compose-note")).to_contain_text(
        "Plain Pat is not verified by a facilitator and cannot read this."
    )


async def test_removed_member_sees_why_and_the_page_is_wiped(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid)
    pid = await keys_with(fac, "Blue Heron")
    await fac.send("something said before")
    await expect(message(page, "something said before")).to_be_visible()
    await fac.remove(pid)
    await expect(page.get_by_test_id("final-title")).to_have_text(
        "You are no longer in this session"
    )
    await assert_wiped(page, "something said before", "Blue Heron")


# ---- to the facilitators: report, support, private --------------------------------------


async def test_report_dialog_sends_a_verified_report(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    robin = await server.member(await server.link(gid), "Robin", e2ee=True)
    page = await join(browser, server, gid)
    await keys_with(robin, "Blue Heron")
    await robin.send("a hurtful thing")
    msg = message(page, "a hurtful thing")
    await expect(msg).to_be_visible()

    await msg.get_by_role("button", name="Report").click()
    dialog = page.get_by_role("dialog", name="Report this message")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("a hurtful thing")
    await expect(dialog.get_by_label("What worries you about it?")).to_be_focused()
    await dialog.get_by_label("What worries you about it?").fill("This felt unkind to me.")
    await dialog.get_by_role("button", name="Send report").click()
    await expect(dialog).to_be_hidden()

    report = await until(fac, "report")
    assert report.verified is True
    assert report.reported is not None
    assert report.reported.sender == robin.pid and report.reported.text == "a hurtful thing"
    assert report.text == "This felt unkind to me."
    await expect(
        page.get_by_test_id("notice").filter(has_text="Your report went to the facilitators")
    ).to_be_visible()

    # Cancel (or Escape) sends nothing.
    await msg.get_by_role("button", name="Report").click()
    await dialog.get_by_label("What worries you about it?").fill("never mind")
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await fac.nothing("report", within=0.5)


async def test_support_button_shows_crisis_resources_and_alerts(
    server: Env, browser: Browser
) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid)
    pid = await pid_in_room(fac, "Blue Heron")
    await page.get_by_role("button", name="I need support now").click()
    dialog = page.get_by_test_id("support-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.get_by_test_id("crisis-resources")).to_contain_text(
        "Call 116 123 (Samaritans, free, 24/7)"
    )
    await expect(dialog.get_by_test_id("support-confirm")).to_contain_text(
        "Send an alert to the facilitators?"
    )
    await fac.nothing("alert", within=0.3)  # not before the member says so
    await dialog.get_by_role("button", name="Send", exact=True).click()
    alert = await until(fac, "alert")
    assert alert["kind"] == "support" and alert["from"] == pid
    # A facilitator is in the room (this one never says it shows it): on its way.
    sent = "Your request is on its way to the facilitators in the room."
    await expect(page.get_by_test_id("support-status")).to_have_text(sent)
    await expect(page.get_by_test_id("support-line")).to_have_text(sent)
    await expect(page.get_by_test_id("support-line-crisis")).to_be_hidden()

    # From there, a private word to the facilitators.
    await dialog.get_by_role("button", name="Write to the facilitators").click()
    private = page.get_by_role("dialog", name="Message the facilitators")
    await expect(private).to_be_visible()
    await private.get_by_label("Your message").fill("I am finding this hard today.")
    await private.get_by_role("button", name="Send privately").click()
    await expect(private).to_be_hidden()
    got = await until(fac, "private")
    assert got.text == "I am finding this hard today." and got["from"] == pid
    await expect(page.get_by_test_id("private-sent")).to_contain_text("To the facilitators only")


# ---- content warnings, hiding ----------------------------------------------------------


async def test_a_content_warning_collapses_the_message_until_revealed(
    server: Env, browser: Browser
) -> None:
    gid, fac = await facilitated(server)
    robin = await server.member(await server.link(gid), "Robin", e2ee=True)
    page = await join(browser, server, gid)
    await keys_with(robin, "Blue Heron")

    await robin.send("my father died last spring", cw="loss")
    msg = message(page, "my father died last spring")
    await expect(msg.get_by_test_id("cw")).to_contain_text("loss")
    text = msg.get_by_text("my father died last spring")
    await expect(text).to_be_hidden()
    reveal = msg.get_by_role("button", name="Show message")
    await expect(reveal).to_have_attribute("aria-expanded", "false")
    await reveal.click()
    await expect(text).to_be_visible()
    await msg.get_by_role("button", name="Hide message").click()
    await expect(text).to_be_hidden()


async def test_member_adds_a_content_warning(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    writer = await join(browser, server, gid, "Blue Heron")
    if not await writer.get_by_role("button", name="Add content warning").is_visible():
        pytest.skip("clients/web codec cannot put a cw in the body yet (textBody(text, cw))")
    reader = await join(browser, server, gid, "Quiet River")
    await writer.get_by_role("button", name="Add content warning").click()
    await writer.get_by_label("Content warning").fill("self-harm")
    await say(writer, "some hard words")
    msg = message(reader, "some hard words")
    await expect(msg.get_by_test_id("cw")).to_contain_text("self-harm")
    await expect(msg.get_by_text("some hard words")).to_be_hidden()


async def test_hide_a_member_locally_and_show_again(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    robin = await server.member(await server.link(gid), "Robin", e2ee=True)
    page = await join(browser, server, gid)
    await keys_with(robin, "Blue Heron")
    await robin.send("first from Robin")
    msg = message(page, "first from Robin")
    await expect(msg.get_by_text("first from Robin")).to_be_visible()

    await page.get_by_role("button", name="Hide messages from Robin").click()
    await expect(msg.get_by_text("first from Robin")).to_be_hidden()
    await expect(msg).to_contain_text("You hid this person's messages")
    await robin.send("second from Robin")
    await expect(message(page, "second from Robin").get_by_text("second from Robin")).to_be_hidden()
    await expect(page.get_by_role("button", name="Show messages from Robin")).to_have_attribute(
        "aria-pressed", "true"
    )

    await msg.get_by_role("button", name="Show their messages").click()
    await expect(msg.get_by_text("first from Robin")).to_be_visible()
    await expect(
        message(page, "second from Robin").get_by_text("second from Robin")
    ).to_be_visible()


# ---- leaving, the end, connections ---------------------------------------------------------


async def test_leave_asks_first_then_wipes_the_transcript(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid)
    pid = await keys_with(fac, "Blue Heron")
    await fac.send("a private story")
    await expect(message(page, "a private story")).to_be_visible()

    await page.get_by_role("button", name="Leave", exact=True).click()
    dialog = page.get_by_role("dialog", name="Leave this session?")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Stay").click()
    await expect(dialog).to_be_hidden()
    await expect(message(page, "a private story")).to_be_visible()

    await page.get_by_role("button", name="Leave", exact=True).click()
    await dialog.get_by_role("button", name="Leave the session").click()
    await expect(page.get_by_test_id("final-title")).to_have_text("You have left the session")
    assert (await until(fac, "left"))["pid"] == pid
    await assert_wiped(page, "a private story", "Blue Heron")
    await assert_no_storage(page)


async def test_the_end_shows_the_ended_state_and_wipes(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid)
    await keys_with(fac, "Blue Heron")
    await fac.send("what was said in the room")
    await say(page, "what I said in the room")
    await expect(message(page, "what I said in the room")).to_be_visible()
    await expect(message(page, "what was said in the room")).to_be_visible()
    # A facilitator deletes a message for everyone.
    deleted = await until(fac, "msg", lambda e: e.text == "what was said in the room")
    await fac.delete(deleted["id"])
    await expect(message(page, "what was said in the room")).to_have_count(0)
    await expect(page.get_by_test_id("notice").filter(has_text="removed a message")).to_be_visible()
    await fac.end()
    await expect(page.get_by_test_id("final-title")).to_have_text("The session has ended")
    await expect(page.get_by_test_id("final")).to_contain_text("Call 116 123")
    await assert_wiped(page, "what was said in the room", "what I said in the room", "Blue Heron")
    await assert_no_storage(page)
    await asyncio.sleep(0.7)  # and it does not try to come back
    await expect(page.get_by_test_id("final")).to_be_visible()


AWAY = "You have stepped out"
PRIVATE_ONLY = "Only you and the facilitators can read this."
QUEUED = (
    "No facilitator is in the room right now. Your message waits on this page and is sent when"
    " one arrives; if you close the page first, it is not sent."
)


async def step_out(page: Page, fac: ChatClient, pid: str) -> None:
    """The member steps out from the page: a break, still connected."""
    await page.get_by_role("button", name="Step out").click()
    away = await until(fac, "presence", lambda e: e["pid"] == pid)
    assert away["present"] is False and away["connected"] is True
    await expect(page.get_by_test_id("away")).to_contain_text(AWAY)


async def test_step_out_is_a_break_and_come_back(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    await fac.start()  # locked: coming back must not knock
    page = await land(browser, server, gid)
    await enter(page, "Blue Heron")
    knock = await until(fac, "knock")
    await fac.admit(knock["p"]["pid"])
    pid = await keys_with(fac, "Blue Heron")
    await fac.send("before the break")
    await expect(message(page, "before the break")).to_be_visible()
    conn = server.hub.rooms[gid].conns[pid]

    await step_out(page, fac, pid)
    away = page.get_by_test_id("away")
    await expect(away).to_contain_text(
        "On your break you can still message the facilitators, ask for support,"
        " and see the crisis numbers."
    )
    # The conversation is hidden, and what only works in it is not offered.
    await expect(page.get_by_test_id("messages")).to_be_hidden()
    await expect(compose(page)).to_be_hidden()
    await expect(page.get_by_role("button", name="Raise hand")).to_be_hidden()
    await expect(page.get_by_role("button", name="Step out")).to_be_hidden()
    # What still works on a break is there.
    await expect(page.get_by_role("button", name="I need support now")).to_be_visible()
    await expect(page.get_by_role("button", name="Message the facilitators")).to_be_enabled()
    await expect(page.get_by_role("button", name="Crisis numbers")).to_be_visible()

    said = ["while away one", "while away two", "while away three"]
    for text in said:
        await fac.send(text)
    await until(fac, "msg", lambda e: e.text == said[-1])
    await fac.nothing("presence", within=0.3)  # still connected: no drop, no reconnect
    assert server.hub.rooms[gid].conns[pid] is conn

    await page.get_by_role("button", name="Come back").click()
    back = await until(fac, "presence", lambda e: e["pid"] == pid)
    assert back["present"] is True and back["connected"] is True
    assert server.hub.rooms[gid].conns[pid] is conn  # the same connection: `back`, no hello
    await expect(away).to_be_hidden()
    await expect(
        page.get_by_test_id("notice").filter(
            has_text="3 messages came while you were away; they were sealed for those in the"
            " room and cannot be shown here."
        )
    ).to_be_visible()
    for text in said:
        await expect(message(page, text)).to_have_count(0)
    await expect(message(page, "before the break")).to_be_visible()  # the page keeps it
    await expect(compose(page)).to_be_enabled()
    await keys_with(fac, "Blue Heron")
    await say(page, "I am back")
    assert (await until(fac, "msg", lambda e: e["from"] == pid)).text == "I am back"


async def test_on_a_break_support_and_the_private_thread_work(
    server: Env, browser: Browser
) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid, "Blue Heron")
    other = await join(browser, server, gid, "Quiet River")
    pid = await keys_with(fac, "Blue Heron")
    await step_out(page, fac, pid)

    await page.get_by_role("button", name="I need support now").click()
    dialog = page.get_by_test_id("support-dialog")
    await dialog.get_by_role("button", name="Send", exact=True).click()
    alert = await until(fac, "alert")
    assert alert["kind"] == "support" and alert["from"] == pid
    status = page.get_by_test_id("support-status")
    await expect(status).to_have_text("Your request is on its way to the facilitators in the room.")
    await fac.alert_seen(alert["id"])
    await expect(status).to_have_text("A facilitator has your request on their screen.")

    await dialog.get_by_role("button", name="Write to the facilitators").click()
    private = page.get_by_role("dialog", name="Message the facilitators")
    await private.get_by_label("Your message").fill("I stepped out, it got too much.")
    await private.get_by_role("button", name="Send privately").click()
    got = await until(fac, "private")
    assert got.text == "I stepped out, it got too much."
    assert got["from"] == pid and got["thread"] == pid
    panel = page.get_by_test_id("private-panel")
    await expect(panel).to_contain_text(PRIVATE_ONLY)
    await expect(panel.get_by_test_id("private-sent")).to_contain_text("it got too much")
    await expect(panel.get_by_test_id("private-state")).to_have_text("Sent.")

    await fac.private("I am here. Take all the time you need.", to=pid)
    reply = panel.get_by_test_id("private-reply")
    await expect(reply).to_contain_text("I am here. Take all the time you need.")
    await expect(reply).to_contain_text("alex")
    await fac.handled(alert["id"])
    await expect(page.get_by_test_id("support-line")).to_have_text(
        "A facilitator has seen your request and marked it as handled."
    )
    await expect(page.get_by_test_id("away")).to_be_visible()  # all of it on the break
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "room-away-desktop.png"))
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(ARTIFACTS / "room-away-phone.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390

    # Never in the room's conversation, and nothing of it on the other member's page.
    await page.get_by_role("button", name="Come back").click()
    await expect(compose(page)).to_be_enabled()
    await expect(message(page, "Take all the time you need")).to_have_count(0)
    await expect(page.get_by_test_id("messages")).not_to_contain_text("got too much")
    await expect(other.get_by_test_id("private-reply")).to_have_count(0)
    html = await other.content()
    assert "Take all the time you need" not in html and "got too much" not in html


async def test_crisis_numbers_on_every_screen_alert_nobody(server: Env, browser: Browser) -> None:
    resources = ["Call 116 123 (Samaritans, free, 24/7)", "<b>Text</b> SHOUT to 85258"]
    gid, fac = await facilitated(server, crisis_resources=resources)

    async def crisis_numbers(page: Page) -> None:
        await page.get_by_role("button", name="Crisis numbers").click()
        dialog = page.get_by_role("dialog", name="Crisis numbers")
        await expect(dialog).to_contain_text("Nobody is told that you looked at these.")
        await expect(dialog.get_by_role("listitem")).to_have_text(resources)
        await expect(dialog.get_by_role("link", name="116 123")).to_have_attribute(
            "href", "tel:116123"
        )
        await expect(dialog.get_by_role("link", name="85258")).to_have_attribute(
            "href", "tel:85258"
        )
        await expect(dialog.locator("b")).to_have_count(0)  # the group's text stays text
        await dialog.get_by_role("button", name="Close").click()
        await expect(dialog).to_be_hidden()

    page = await land(browser, server, gid)
    await crisis_numbers(page)  # the ground rules
    await enter(page, "Blue Heron")
    await expect(page.get_by_test_id("room")).to_be_visible()
    pid = await pid_in_room(fac, "Blue Heron")
    await crisis_numbers(page)  # the room
    await step_out(page, fac, pid)
    await crisis_numbers(page)  # the break
    await fac.nothing("alert", within=0.3)
    assert server.hub.rooms[gid].session.alerts.open == {}
    await fac.end()
    await expect(page.get_by_test_id("final-title")).to_have_text("The session has ended")
    await crisis_numbers(page)  # the end


async def test_before_the_link_is_checked_the_crisis_dialog_says_what_is_true(
    server: Env, browser: Browser
) -> None:
    """A link that does not work: no group is known, so no group's numbers, but the way to help."""
    page = await open_page(browser, server.url, "/join#seat=no-such-link")
    await page.get_by_role("button", name="Crisis numbers").click()
    dialog = page.get_by_role("dialog", name="Crisis numbers")
    unknown = dialog.get_by_text("once your link has been checked")
    await expect(unknown).to_be_visible()
    await expect(unknown).to_contain_text("call your local emergency number")
    await expect(dialog.get_by_role("listitem")).to_have_count(0)
    # Not "your group has not listed any": nothing is known of the group yet.
    await expect(dialog.get_by_text("has not listed crisis contacts")).to_be_hidden()


@pytest.mark.parametrize(
    ("fragment", "title"),
    [
        ("", "This page needs your private link"),
        ("#f=" + "A" * 43, "This link is incomplete"),  # the seat part cut off
        ("#seat=abc&f=not-a-key", "This link is damaged"),
    ],
)
async def test_a_broken_link_says_what_is_wrong_with_it(
    server: Env, browser: Browser, fragment: str, title: str
) -> None:
    page = await open_page(browser, server.url, "/join" + fragment)
    await expect(page.get_by_test_id("final-title")).to_have_text(title)
    await expect(page.get_by_role("button", name="Crisis numbers")).to_be_visible()


async def test_a_private_message_waits_for_a_facilitator(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid)
    await pid_in_room(fac, "Blue Heron")
    await fac.step_out()  # no facilitator in the room now
    facilitator = page.get_by_test_id("person").filter(has_text="alex")
    await expect(facilitator).to_contain_text("Stepped out")

    await page.get_by_role("button", name="Message the facilitators").click()
    private = page.get_by_role("dialog", name="Message the facilitators")
    await private.get_by_label("Your message").fill("Is anyone there?")
    await private.get_by_role("button", name="Send privately").click()
    await expect(private).to_be_hidden()
    panel = page.get_by_test_id("private-panel")
    state = panel.get_by_test_id("private-state")
    await expect(state).to_have_text(QUEUED)
    await expect(panel.get_by_test_id("private-sent")).to_contain_text("Is anyone there?")
    await fac.nothing("private", within=0.3)
    await assert_no_storage(page)

    await fac.back()  # a facilitator arrives
    got = await until(fac, "private")
    assert got.text == "Is anyone there?"
    await expect(state).to_have_text("Sent.")


async def test_reconnects_by_itself_after_the_connection_drops(
    server: Env, browser: Browser
) -> None:
    gid, fac = await facilitated(server)
    await fac.start()
    page = await land(browser, server, gid)
    await enter(page, "Blue Heron")
    knock = await until(fac, "knock")
    pid = knock["p"]["pid"]
    await fac.admit(pid)
    await keys_with(fac, "Blue Heron")
    await fac.send("said before the drop")
    await expect(message(page, "said before the drop")).to_be_visible()

    # The network goes: the server's end of the socket is torn down, no close frame.
    room = server.hub.rooms[gid]
    room.conns[pid].outlet.transport.abort()
    banner = page.get_by_test_id("banner-connection")
    await expect(banner).to_contain_text("Reconnecting")
    await expect(banner).to_contain_text("Back")  # same seat, no knock
    presence = await until(fac, "presence", lambda e: e["present"] is True)
    assert presence["pid"] == pid
    await expect(message(page, "said before the drop")).to_be_visible()  # the transcript stays

    await keys_with(fac, "Blue Heron")
    await fac.send("said after the drop")
    await expect(message(page, "said after the drop")).to_be_visible()
    await say(page, "I am still here")
    assert (await until(fac, "msg", lambda e: e["from"] == pid)).text == "I am still here"


async def test_a_break_goes_on_through_a_dropped_connection(server: Env, browser: Browser) -> None:
    """The network drops during a break: the page reconnects and the member is still away.

    Nobody is shown them back in the room for a moment, and the facilitator's
    private reply reaches the new connection's keys.
    """
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid, "Blue Heron")
    pid = await keys_with(fac, "Blue Heron")
    await step_out(page, fac, pid)
    server.hub.rooms[gid].conns[pid].outlet.transport.abort()
    back = await until(fac, "presence", lambda e: e["pid"] == pid and e["connected"] is True)
    assert back["present"] is False  # still on the break, from a new page
    await expect(page.get_by_test_id("away")).to_be_visible()
    await fac.nothing("presence", within=0.5)  # and never shown back in the room
    for _ in range(200):  # the new page's keys, vouched for (no chain: it is not in the room)
        if fac.codec.trusted(pid):  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.05)
    await fac.private("Still here for you.", to=pid)
    reply = page.get_by_test_id("private-panel").get_by_test_id("private-reply")
    await expect(reply).to_contain_text("Still here for you.")
    await page.get_by_role("button", name="Come back").click()
    returned = await until(fac, "presence", lambda e: e["pid"] == pid)
    assert returned["present"] is True
    await expect(compose(page)).to_be_enabled()


async def test_a_reload_comes_straight_back_with_the_name_and_no_rules_again(
    server: Env, browser: Browser
) -> None:
    gid, fac = await facilitated(server)
    await fac.start()  # locked: coming back must not knock
    page = await land(browser, server, gid)
    await enter(page, "Sam")
    knock = await until(fac, "knock")
    pid = knock["p"]["pid"]
    await fac.admit(pid)
    await expect(page.get_by_test_id("room")).to_be_visible()
    started = time.monotonic()
    await page.reload()
    await expect(page.get_by_test_id("room")).to_be_visible()
    print(f"\nreload to the room: {time.monotonic() - started:.2f} s")
    back = await until(fac, "presence", lambda e: e["pid"] == pid and e["present"] is True)
    assert back["name"] == "Sam"  # the same name, the same seat, no knock
    await fac.nothing("knock", within=0.3)
    await assert_no_storage(page)
    # Leaving forgets it: the next load of the link starts at the rules.
    await page.get_by_role("button", name="Leave").click()
    await page.get_by_role("dialog").get_by_role("button", name="Leave").click()
    await expect(page.get_by_test_id("final")).to_be_visible()
    assert (await page.evaluate(STORAGE))["session"] == {}


async def test_slow_mode_is_shown_with_a_countdown_before_anything_is_refused(
    server: Env, browser: Browser
) -> None:
    gid, fac = await facilitated(server)
    page = await join(browser, server, gid, "Sam")
    await keys_with(fac, "Sam")
    await fac.slow_mode(30)
    slow = page.get_by_test_id("compose-slow")
    await expect(slow).to_have_text("Slow mode: one message every 30 seconds.")
    await say(page, "first")
    first = await until(fac, "msg")
    assert first.text == "first"
    await expect(slow).to_contain_text("You can send again in")
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_disabled()
    await page.get_by_test_id("compose-text").fill("second, too soon")
    await page.get_by_test_id("compose-text").press("Enter")
    await fac.nothing("msg", within=0.5)  # nothing refused: nothing was sent
    await expect(page.get_by_test_id("compose-error")).to_be_hidden()
    await fac.slow_mode(0)
    await expect(slow).to_be_hidden()
    await expect(page.get_by_role("button", name="Send", exact=True)).to_be_enabled()


# ---- how it looks --------------------------------------------------------------------------


async def test_screenshots_of_the_room(server: Env, browser: Browser) -> None:
    gid, fac = await facilitated(server)
    robin = await server.member(await server.link(gid), "Robin", e2ee=True)
    page = await join(browser, server, gid, "Blue Heron")
    await fac.start()
    await until(fac, "state")
    await keys_with(fac, "Blue Heron")
    await keys_with(robin, "Blue Heron")

    async def shown(client: ChatClient, text: str) -> None:
        await client.send(text)
        await expect(message(page, text)).to_be_visible()

    await shown(fac, "Welcome, everyone. Let's take a moment to settle in.")
    await shown(robin, "Hi all. It has been a long week, but I am glad to be here.")
    await robin.send("My mother passed away in March.", cw="grief")
    await expect(message(page, "My mother passed away in March.")).to_be_visible()
    await robin.hand(True)
    await say(page, "Hello. I will mostly listen today, if that is all right.")
    await expect(message(page, "if that is all right")).to_be_visible()
    await shown(fac, "Of course. Listening is welcome here.")
    await expect(page.get_by_test_id("person").filter(has_text="Robin")).to_contain_text(
        "Hand raised"
    )
    await compose(page).blur()

    ARTIFACTS.mkdir(exist_ok=True)
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.screenshot(path=str(ARTIFACTS / "room-desktop.png"))
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(ARTIFACTS / "room-phone.png"))
    await page.screenshot(path=str(ARTIFACTS / "room-phone-full.png"), full_page=True)
    await page.set_viewport_size({"width": 360, "height": 740})
    await page.screenshot(path=str(ARTIFACTS / "room-phone-360.png"))
    # Nothing wider than the screen on the smallest phone.
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360

    landing = await land(browser, server, gid)
    await landing.set_viewport_size({"width": 390, "height": 844})
    await landing.screenshot(path=str(ARTIFACTS / "landing-phone.png"), full_page=True)
    await landing.set_viewport_size({"width": 1280, "height": 800})
    await landing.screenshot(path=str(ARTIFACTS / "landing-desktop.png"))
