"""The group's content rules in the browser pages (issue 5), driven through their UI.

The member room checks a message before sealing it (block, warn, cw, alert)
and again after opening it; the console tunes the rules, signs the tuning
with its identity key, and saves it. Texts come from tests/vectors/content.json,
so the category and action each one trips are known:

* "I took 30 paracetamol last night": method_detail, block, alert
* "I feel suicidal tonight": self_harm, cw, alert
* "you idiot", "fuck off": insults, warn
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable

from chromium import compose, console_link, message, needs_chromium, open_page, say, until
from conftest import PASSWORD, Env
from playwright.async_api import Browser, Page, expect

from clients.client import ChatClient, Event
from clients.e2ee import IdentityKey
from clients.e2ee.content_rules import checked_tuning

pytestmark = needs_chromium

BLOCKED = "I took 30 paracetamol last night"
CW = "I feel suicidal tonight"
INSULT = "you idiot"
SELF_HARM = "Suicide or self-harm"
UNVERIFIED = "could not be checked as coming from its facilitators"


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def facilitated(server: Env) -> tuple[str, ChatClient, IdentityKey]:
    gid = await server.group()
    identity = IdentityKey.generate()
    fac = await server.host(gid, e2ee=True, identity=identity)
    return gid, fac, identity


async def join_link(browser: Browser, server: Env, link: str, name: str) -> Page:
    page = await open_page(browser, server.url, link.removeprefix(server.url))
    await page.get_by_role("button", name="I agree, continue").click()
    await page.get_by_label("Display name").fill(name)
    await page.get_by_role("button", name="Enter the room").click()
    await expect(page.get_by_test_id("room")).to_be_visible()
    return page


async def join(browser: Browser, server: Env, gid: str, name: str = "Blue Heron") -> Page:
    return await join_link(browser, server, await server.link(gid), name)


async def keys_with(client: ChatClient, name: str) -> str:
    async with asyncio.timeout(10):
        while (pid := client.pid_of(name)) is None or pid not in client.roster:
            await client.next()
    await client.keys_ready([pid])
    return pid


def member_alert(pid: str) -> Callable[[Event], bool]:
    """An alert frame a member's page sent (not the Python client's own local one)."""
    return lambda e: e.get("from") == pid and not e.get("local")


# ---- the member room -------------------------------------------------------------------


async def test_a_blocked_message_never_leaves_the_page_but_alerts(
    server: Env, browser: Browser
) -> None:
    gid, fac, _ = await facilitated(server)
    page = await join(browser, server, gid)
    pid = await keys_with(fac, "Blue Heron")

    await say(page, BLOCKED)
    check = page.get_by_test_id("content-check")
    await expect(check).to_contain_text("This message was not sent.")
    await expect(check).to_contain_text("does not share details of ways to self-harm")
    await expect(compose(page)).to_have_value(BLOCKED)  # kept, to rephrase
    alert = await until(fac, "alert", member_alert(pid))
    assert alert["kind"] == "content" and alert["category"] == "method_detail"
    assert alert.text is None and "paracetamol" not in json.dumps(alert.fields)
    await fac.nothing("msg", within=0.5)
    assert await message(page, BLOCKED).count() == 0
    # About the writer's own safety: the crisis numbers at once, and the truth
    # about who is told (a facilitator is in the room here).
    care = page.get_by_test_id("content-care")
    await expect(care).to_contain_text("An alert is on its way to the facilitators in the room")
    await expect(care.get_by_role("listitem").first).to_be_visible()
    # With no facilitator in the room, it says that instead.
    await fac.step_out()
    await page.get_by_test_id("compose-text").press("Enter")
    await expect(care).to_contain_text("No facilitator is in the room right now")


async def test_a_cw_message_arrives_behind_its_label(server: Env, browser: Browser) -> None:
    gid, fac, _ = await facilitated(server)
    writer = await join(browser, server, gid, "Blue Heron")
    reader = await join(browser, server, gid, "Quiet River")
    pid = await keys_with(fac, "Blue Heron")
    await keys_with(fac, "Quiet River")

    await say(writer, CW)
    await expect(writer.get_by_test_id("content-check")).to_contain_text(
        f"Sent behind a content warning: {SELF_HARM}."
    )
    await expect(message(writer, CW).get_by_test_id("cw")).to_contain_text(SELF_HARM)
    shown = message(reader, CW)
    await expect(shown.get_by_test_id("cw")).to_contain_text(SELF_HARM)
    await expect(shown.get_by_text(CW)).to_be_hidden()
    await shown.get_by_role("button", name="Show message").click()
    await expect(shown.get_by_text(CW)).to_be_visible()

    got = await until(fac, "msg", lambda e: e["from"] == pid)
    assert got.text == CW
    if hasattr(got, "cw"):
        assert SELF_HARM in (got.cw or "")
    alert = await until(fac, "alert", member_alert(pid))
    assert alert["category"] == "self_harm" and alert.text is None


async def test_a_warn_asks_first_then_sends(server: Env, browser: Browser) -> None:
    gid, fac, _ = await facilitated(server)
    page = await join(browser, server, gid)
    pid = await keys_with(fac, "Blue Heron")

    await say(page, INSULT)
    check = page.get_by_test_id("content-check")
    await expect(check).to_contain_text("might read as an insult")
    await expect(page.get_by_role("button", name="Add a content warning")).to_be_focused()
    await fac.nothing("msg", within=0.3)
    await page.keyboard.press("Tab")  # "Send as it is", by keyboard
    await expect(page.get_by_role("button", name="Send as it is")).to_be_focused()
    await page.keyboard.press("Enter")
    assert (await until(fac, "msg", lambda e: e["from"] == pid)).text == INSULT
    await expect(check).to_be_hidden()

    # Or a warning of one's own words, then Enter.
    await say(page, "fuck off")
    await page.get_by_role("button", name="Add a content warning").click()
    await expect(page.get_by_label("Content warning")).to_be_focused()
    await page.get_by_label("Content warning").fill("swearing")
    await page.get_by_label("Content warning").press("Enter")
    got = await until(fac, "msg", lambda e: e["from"] == pid)
    assert got.text == "fuck off"
    if hasattr(got, "cw"):
        assert "swearing" in (got.cw or "")


async def test_console_tuning_is_signed_and_takes_effect_on_a_member_page(
    server: Env, browser: Browser
) -> None:
    gid = await server.group()
    console = await open_page(browser, server.url, "/console")
    await console.get_by_label("Name").fill("alex")
    await console.get_by_label("Password").fill(PASSWORD)
    await console.get_by_role("button", name="Log in").click()
    link = await console_link(console, "seat 1")
    await console.get_by_role("button", name="Go to the session").click()
    await console.get_by_role("button", name="Open the room").click()
    page = await join_link(browser, server, link, "Blue Heron")

    # The console checks what it opens too: behind the label, and one alert (the
    # member's page sent one as well: noted on the first, not added twice), no text.
    await say(page, CW)
    await expect(console.locator("#transcript .message-cw summary")).to_have_text(
        f"Content warning: {SELF_HARM}"
    )
    alerts = console.locator('[data-testid="open-alert"][data-category="self_harm"]')
    await expect(alerts).to_contain_text("This console's own check of the message found it too.")
    await expect(alerts).to_have_count(1)
    await expect(
        console.locator('[data-testid="inbox-item"][data-category="self_harm"]')
    ).to_have_count(0)
    await expect(console.locator("#inbox-list")).not_to_contain_text("suicidal")
    await expect(console.get_by_test_id("alerts")).not_to_contain_text("suicidal")

    # Back to the group's settings (the room stays open): insults are now blocked.
    await console.get_by_role("button", name="Leave the console").click()
    await console.get_by_label("What happens: Insults").select_option("block")
    await console.get_by_label("Add words or phrases: Insults").fill("numpty")
    await console.get_by_role("button", name="Save content rules").click()
    await expect(console.get_by_test_id("rules-state")).to_have_text(
        "This group uses its own content rules, signed by you."
    )
    # Stored as signed: the Python side checks the signature against the console's key.
    group = await server.store.group(gid)
    keys = list((await server.store.identities(["alex"])).values())
    tuning = checked_tuning(group.content_rules, gid, keys)
    assert json.loads(tuning or "{}")["categories"] == {
        "insults": {"action": "block", "add_words": ["numpty"]}
    }

    # The member page got the signed rules mid-session, checked them, and applies them.
    await expect(
        page.get_by_test_id("notice").filter(has_text="content rules were updated")
    ).to_be_visible()
    await say(page, "what a numpty")
    await expect(page.get_by_test_id("content-check")).to_contain_text("This message was not sent.")
    await expect(page.get_by_test_id("banner-rules")).to_be_hidden()
    await expect(compose(page)).to_have_value("what a numpty")


async def test_a_tuning_with_a_bad_signature_warns_and_uses_the_shipped_rules(
    server: Env, browser: Browser
) -> None:
    gid, fac, identity = await facilitated(server)
    tuning = json.dumps(
        {"format": "safespace-content-tuning/1", "categories": {"insults": {"action": "block"}}}
    )
    rules = {"tuning": tuning, "by": b64u(identity.public), "sig": b64u(bytes(64))}
    async with server.http() as http:
        r = await http.post("/api/login", json={"name": "alex", "password": PASSWORD})
        token = r.json()["token"]
        r = await http.patch(
            f"/api/groups/{gid}",
            json={"content_rules": rules},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text

    page = await join(browser, server, gid)
    await keys_with(fac, "Blue Heron")
    await expect(page.get_by_test_id("banner-rules")).to_contain_text(UNVERIFIED)
    await say(page, INSULT)  # shipped rules: a warn, not a block
    await expect(page.get_by_test_id("content-check")).to_contain_text("might read as an insult")
    await expect(page.get_by_role("button", name="Send as it is")).to_be_visible()
