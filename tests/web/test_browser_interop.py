"""Live interoperability: Python and browser (headless Chromium) members in one room.

A facilitator and a member on the Python client, two members in separate
Chromium contexts running clients/web/client.js with WebCrypto, and a
latecomer: everyone reads everyone, and the latecomer cannot read what was
said before it came.
"""

from __future__ import annotations

from typing import Any

import pytest
from chromium import needs_chromium, open_page
from conftest import Env
from playwright.async_api import Browser, Page

from clients.client import ChatClient
from clients.e2ee import IdentityKey

JOIN = """async ([link, name]) => {
    const m = await import('/__tests__/browser_member.mjs');
    return await m.join(link, name);
}"""
READY = "async () => { await globalThis.member.client.keysReady(undefined, 10000); }"
SEND = "async (text) => await globalThis.member.client.send(text)"
WAIT_FOR = """async (text) => {
    const m = await import('/__tests__/browser_member.mjs');
    await m.until((seen) => seen.msgs.some((x) => x.text === text));
    return globalThis.member.seen.msgs.find((x) => x.text === text);
}"""
TEXTS = "() => globalThis.member.seen.msgs.map((x) => x.text)"


async def browser_member(browser: Browser, server: Env, link: str, name: str) -> Page:
    page = await open_page(browser, server.url, "/healthz")
    await page.evaluate(JOIN, [link, name])
    return page


async def python_reads(client: ChatClient, text: str, sender: str) -> None:
    while True:
        event = await client.next("msg", timeout=10)
        if event["from"] == sender:
            assert event.text == text
            return


@needs_chromium
async def test_python_and_browser_members_read_each_other(server: Env, browser: Browser) -> None:
    gid = await server.group()
    fac = await server.host(gid, e2ee=True, identity=IdentityKey.generate())
    assert fac.identity is not None

    async def link() -> str:
        return await server.link(gid)  # carries the key the facilitator's client registered

    robin = await server.member(await link(), "Robin", e2ee=True)
    sam = await browser_member(browser, server, await link(), "Sam")
    kim = await browser_member(browser, server, await link(), "Kim")
    for page in (sam, kim):
        await page.evaluate(READY)
    await fac.keys_ready()
    await robin.keys_ready()
    sam_pid = robin.pid_of("Sam")
    kim_pid = robin.pid_of("Kim")
    assert sam_pid and kim_pid
    assert robin.roster[sam_pid]["verified"] and fac.roster[kim_pid]["verified"]

    # Python to browser.
    await robin.send("hello from Python")
    for page in (sam, kim):
        got: dict[str, Any] = await page.evaluate(WAIT_FOR, "hello from Python")
        assert got["from"] == robin.pid
    await python_reads(fac, "hello from Python", robin.pid)

    # Browser to Python (and to the other browser).
    await sam.evaluate(SEND, "hello from Chromium")
    await python_reads(robin, "hello from Chromium", sam_pid)
    await python_reads(fac, "hello from Chromium", sam_pid)
    await kim.evaluate(WAIT_FOR, "hello from Chromium")
    earlier = [e for e in robin.history if e.type == "msg"]
    assert len(earlier) >= 2

    # The fifth comes late: it reads what follows, never what came before.
    lee = await server.member(await link(), "Lee", e2ee=True)
    await lee.keys_ready()
    for page in (sam, kim):
        await page.evaluate(READY)
    await robin.keys_ready()
    for event in earlier:
        with pytest.raises(ValueError):
            lee.codec.open(event.fields)
    await kim.evaluate(SEND, "Lee, welcome")
    await python_reads(lee, "Lee, welcome", kim_pid)
    await lee.send("thank you")
    for page in (sam, kim):
        await page.evaluate(WAIT_FOR, "thank you")
    # No page saw anything it could not read, or an error from the server.
    for page in (sam, kim):
        texts = await page.evaluate(TEXTS)
        assert None not in texts, texts
        assert await page.evaluate("globalThis.member.seen.errors") == []
        assert page.errors == []  # type: ignore[attr-defined]
