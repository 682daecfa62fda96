"""The console's checked links and versioned rules, in headless Chromium.

A link the server makes carries every facilitator key it knows of; the
console replaces them with exactly the keys this device trusts (its own and
the co-facilitators' entered here), and says so when the server's link came
with one it does not know. The co-facilitators' keys are added and removed on
the groups page. Content rules the console signs carry a version one above
the group's (docs/e2ee.md section 11).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from chromium import console_link, needs_chromium
from conftest import Env
from playwright.async_api import Browser, expect
from test_browser_console import console, log_in

from clients.e2ee import IdentityKey
from clients.e2ee.content_rules import checked_rules
from rooms.links import b64u_encode

NOTICE = "This link came with a key this device does not know; it was replaced by yours."


def link_keys(url: str) -> list[str]:
    return parse_qs(urlsplit(url).fragment).get("f", [])


@needs_chromium
async def test_links_carry_exactly_this_devices_keys_and_say_when_one_was_replaced(
    server: Env, browser: Browser
) -> None:
    await server.facilitator("bo")
    gid = await server.group("alex", facilitators=["alex", "bo"])
    bo = b64u_encode(IdentityKey.generate().public)  # bo's key, as the server has it
    await server.store.set_identity("bo", IdentityKey.generate().public)  # not bo's real one
    page = await console(browser, server)
    await log_in(page)
    own = b64u_encode((await server.store.identities(["alex"]))["alex"])
    server_url = (await server.admin.create_link("alex", gid, "by the server"))[1]
    assert len(link_keys(server_url)) == 2  # the server put in a key of its choosing

    # The console's link: its own key only, and the facilitator is told.
    await expect(page.get_by_test_id("cofac-list")).to_be_empty()
    url = await console_link(page, "seat 1")
    assert link_keys(url) == [own]
    await expect(page.get_by_test_id("new-link-keys")).to_have_text(NOTICE)

    # Keys that are not 32 bytes of base64url, or its own, are refused where typed.
    key_field = page.get_by_label("A co-facilitator's identity key")
    for bad in ("not a key", bo[:-1], own):
        await key_field.fill(bad)
        await page.get_by_role("button", name="Add key").click()
        await expect(page.get_by_test_id("cofac-error")).not_to_be_empty()
        await expect(page.get_by_test_id("cofac")).to_have_count(0)

    # bo's real key, entered on this device: listed, and in the next link.
    await key_field.fill(f"f={bo}")
    await page.get_by_role("button", name="Add key").click()
    await expect(page.get_by_test_id("cofac")).to_have_count(1)
    await expect(page.get_by_test_id("cofac")).to_contain_text(bo)
    await expect(page.get_by_test_id("cofac-error")).to_be_empty()
    url = await console_link(page, "seat 2")
    assert link_keys(url) == [own, bo]
    # The server's key for bo is still not bo's: replaced, and said.
    await expect(page.get_by_test_id("new-link-keys")).to_have_text(NOTICE)

    # Kept on this device across a reload; removed again.
    await page.reload()  # the tab keeps its login (console-keep.js)
    await expect(page.get_by_role("heading", name="Your groups")).to_be_visible()
    await expect(page.get_by_test_id("cofac")).to_have_count(1)
    await page.get_by_role("button", name=f"Remove the key {bo[:8]}…").click()
    await expect(page.get_by_test_id("cofac")).to_have_count(0)
    url = await console_link(page, "seat 3")
    assert link_keys(url) == [own]
    assert page.errors == []  # type: ignore[attr-defined]


@needs_chromium
async def test_the_console_signs_each_tuning_one_version_up(server: Env, browser: Browser) -> None:
    gid = await server.group("alex")
    page = await console(browser, server)
    await log_in(page)
    keys = list((await server.store.identities(["alex"])).values())
    versions = []
    for action in ("block", "cw"):
        await page.get_by_label("What happens: Insults").select_option(action)
        await page.get_by_role("button", name="Save content rules").click()
        await expect(page.get_by_test_id("rules-state")).to_have_text(
            "This group uses its own content rules, signed by you."
        )
        rules = (await server.store.group(gid)).content_rules
        while (
            rules is None
            or json.loads(rules["tuning"])["categories"]["insults"]["action"] != action
        ):
            await page.wait_for_timeout(50)
            rules = (await server.store.group(gid)).content_rules
        checked = checked_rules(rules, gid, keys)
        assert checked is not None
        versions.append(checked.version)
        assert checked.signed_at == rules["signed_at"] > 1_700_000_000_000  # ms, now
    assert versions == [1, 2]
    # Back to the standard rules, then a tuning again: it still sorts above the last.
    await page.get_by_role("button", name="Back to the standard rules").click()
    await expect(page.get_by_test_id("rules-state")).to_have_text(
        "This group uses the standard content rules."
    )
    await page.get_by_label("What happens: Insults").select_option("block")
    await page.get_by_role("button", name="Save content rules").click()
    await expect(page.get_by_test_id("rules-state")).to_have_text(
        "This group uses its own content rules, signed by you."
    )
    rules = (await server.store.group(gid)).content_rules
    assert rules is not None and rules["version"] == 3
    assert page.errors == []  # type: ignore[attr-defined]
