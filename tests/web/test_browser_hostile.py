"""A hostile server, against the room page and the console (docs/e2ee.md 3.1 to 3.3).

The real server runs as in the other browser tests; between it and one page,
Playwright's ``route_web_socket`` puts a proxy that plays the server lying:
it records every frame both ways, may rewrite what goes to the page, and
injects frames of its own. What the page then shows, and what it sends, is
what a server that lies can get out of it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from chromium import console_link, enter, needs_chromium, open_page, say, until
from conftest import Env
from playwright.async_api import Browser, Page, WebSocketRoute, expect
from test_browser_console import console, log_in

from clients.client import ChatClient
from clients.e2ee import IdentityKey
from clients.e2ee.errors import CannotOpen
from clients.e2ee.roster import KeyRoster

pytestmark = needs_chromium

Frame = dict[str, Any]


class Proxy:
    """The page's websocket, through us: every frame decoded, `rewrite` applied to the page's."""

    def __init__(self, rewrite: Callable[[Frame], Frame] | None = None) -> None:
        self.to_page: list[Frame] = []
        self.from_page: list[Frame] = []
        self.rewrite = rewrite
        self.route: WebSocketRoute | None = None

    def attach(self, ws: WebSocketRoute) -> None:
        self.route = ws
        server = ws.connect_to_server()

        def up(message: str | bytes) -> None:
            self.from_page.append(_decode(message))
            server.send(message)

        def down(message: str | bytes) -> None:
            frame = _decode(message)
            if self.rewrite is not None:
                frame = self.rewrite(frame)
                message = _encode(frame)
            self.to_page.append(frame)
            ws.send(message)

        ws.on_message(up)
        server.on_message(down)

    def inject(self, frame: Frame) -> None:
        """A frame of the proxy's own making, as if the server sent it."""
        assert self.route is not None, "the page has not connected"
        self.to_page.append(frame)
        self.route.send(_encode(frame))

    def sent(self, kind: str, since: int = 0) -> list[Frame]:
        return [f for f in self.from_page[since:] if f.get("t") == kind]

    def received(self, kind: str) -> list[Frame]:
        return [f for f in self.to_page if f.get("t") == kind]


def _decode(message: str | bytes) -> Frame:
    data = message.encode() if isinstance(message, str) else message
    frame = msgpack.unpackb(data, raw=False)
    return frame if isinstance(frame, dict) else {}


def _encode(frame: Frame) -> bytes:
    return msgpack.packb(frame, use_bin_type=True)


async def pid_in_room(client: ChatClient, name: str) -> str:
    async with asyncio.timeout(10):
        while (pid := client.pid_of(name)) is None or pid not in client.roster:
            await client.next()
    return pid


async def eventually(check: Callable[[], bool], what: str) -> None:
    async with asyncio.timeout(10):
        while not check():
            await asyncio.sleep(0.05)
    assert check(), what


def person(page: Page, name: str) -> Any:
    return page.get_by_test_id("person").filter(has_text=name)


# ---- the room page: a removed member, replayed ----------------------------------------


@pytest.mark.parametrize("proof", ["relayed", "stripped"])
async def test_a_removed_member_replayed_to_a_page_is_not_trusted_and_reads_nothing(
    server: Env, browser: Browser, proof: str
) -> None:
    gid = await server.group()
    fac = await server.host(gid, e2ee=True, identity=IdentityKey.generate())

    def strip(frame: Frame) -> Frame:
        # A server that drops the facilitator's signature from the removal:
        # nothing is barred then, and only the anchor keeps the old vouch out.
        if proof == "stripped" and frame.get("t") == "removed":
            return {k: v for k, v in frame.items() if k not in ("by", "proof")}
        return frame

    proxy = Proxy(strip)
    link = await server.link(gid)
    page = await open_page(browser, server.url, link.removeprefix(server.url))
    await page.route_web_socket(re.compile(r"/ws$"), proxy.attach)
    await enter(page, "Robin")
    await expect(page.get_by_test_id("room")).to_be_visible()
    sam = await server.member(await server.link(gid), "Sam", e2ee=True)
    robin = await pid_in_room(fac, "Robin")
    await fac.keys_ready([robin, sam.pid])
    await sam.keys_ready([robin, fac.pid])
    await expect(person(page, "Sam")).to_have_count(1)
    await expect(person(page, "Sam").get_by_test_id("unverified")).to_have_count(0)

    # What the server kept of Sam: the entry, and the latest vouch per signer.
    [entry] = [f["p"] for f in proxy.received("joined") if f["p"]["pid"] == sam.pid]
    vouches = {bytes(v["by"]): v for v in proxy.received("vouch") if v["pid"] == sam.pid}
    kept = [{k: v[k] for k in ("by", "anchor", "sig")} for v in vouches.values()]
    old = {**entry, "vouches": kept}
    assert old["vouches"], "the page saw the facilitator's vouch for Sam"

    await fac.remove(sam.pid)
    await expect(person(page, "Sam")).to_have_count(0)
    [removed] = proxy.received("removed")
    assert ("proof" in removed) == (proof == "relayed")

    # The server shows Sam again, as before the removal.
    since = len(proxy.from_page)
    proxy.inject({"t": "joined", "p": {**old, "present": True}})
    for v in old["vouches"]:
        proxy.inject({"t": "vouch", "pid": sam.pid, **v})
    tag = person(page, "Sam").get_by_test_id("unverified")
    await expect(tag).to_be_visible()
    if proof == "relayed":
        await expect(tag).to_have_text("Not verified: removed")
        await expect(page.locator("#compose-note")).to_contain_text("someone a facilitator removed")
    else:
        await expect(tag).to_have_text("Not verified")

    # Robin writes: no chain went to Sam's pid, and Sam's old keys cannot read it.
    await say(page, "only for those still here")
    got = await until(fac, "msg", lambda e: e.text == "only for those still here")
    assert not [f for f in proxy.sent("direct", since) if f["to"] == sam.pid]
    echoed = lambda: [f for f in proxy.received("msg") if f.get("id") == got["id"]]  # noqa: E731
    await eventually(lambda: bool(echoed()), "the server echoed Robin's message to the page")
    [echo] = echoed()
    with pytest.raises(CannotOpen):
        sam.codec.open(echo)

    # And what the server sends as Sam's, sealed with Sam's old keys, is unreadable here.
    forged = sam.codec.seal("let me back in")
    proxy.inject({"t": "msg", "id": 9999, "from": sam.pid, "payload": forged, "ts": got["ts"]})
    shown = page.locator('[data-testid="message"][data-id="9999"]')
    await expect(shown).to_contain_text("no facilitator has verified its sender")
    await expect(shown).not_to_contain_text("let me back in")
    assert page.errors == []  # type: ignore[attr-defined]


# ---- the console: someone slipped past the locked door --------------------------------


async def test_the_console_does_not_vouch_for_a_member_the_server_slips_past_its_lock(
    server: Env, browser: Browser
) -> None:
    await server.group("alex")
    page = await console(browser, server)
    await log_in(page)
    robin_link = await console_link(page, "seat 1", "24")
    proxy = Proxy()
    await page.route_web_socket(re.compile(r"/ws$"), proxy.attach)
    await page.get_by_role("button", name="Go to the session").click()
    state = page.get_by_test_id("session-state")
    await expect(state).to_have_text("Not open yet")
    await page.get_by_role("button", name="Open the room").click()
    await expect(state).to_have_text("Open")

    # Robin comes in through the open door: the console vouches for Robin by itself.
    robin = await server.member(robin_link, "Robin", e2ee=True)
    await eventually(lambda: any(f["pid"] == robin.pid for f in proxy.sent("vouch")), "vouched")
    await expect(person(page, "Robin")).to_have_attribute("data-unadmitted", "false")

    await page.get_by_role("button", name="Start the session (locks the door)").click()
    await expect(state).to_have_text("Started · door locked")

    # The server lets "Kim" in past the lock: no knock, no admission.
    kim_keys = KeyRoster().public_keys()
    since = len(proxy.from_page)
    kim = {"pid": "p77", "name": "Kim", "role": "member", "present": True, "connected": True}
    kim |= {"hand": False, "muted": False, "until": None, "keys": kim_keys, "vouches": []}
    proxy.inject({"t": "joined", "p": kim})
    row = person(page, "Kim")
    await expect(row).to_have_attribute("data-unadmitted", "true")
    await expect(row).to_contain_text("entered without your admission")
    await expect(row).to_contain_text("not verified")
    await expect(row.get_by_role("button", name="Let them in: Kim")).to_be_visible()
    note = page.locator("#session-note")
    await expect(note).to_contain_text("Kim entered while your door was closed")
    await asyncio.sleep(0.3)  # anything the console would send for Kim has gone by now
    assert not [f for f in proxy.sent("vouch", since) if f["pid"] == "p77"]
    assert not [f for f in proxy.sent("direct", since) if f["to"] == "p77"]
    # Nor does a server state frame that claims the door is open change that.
    proxy.inject({"t": "state", "state": "live_unlocked", "paused": False, "started_at": None})
    kim2 = {**kim, "pid": "p78", "name": "Lee", "keys": KeyRoster().public_keys()}
    proxy.inject({"t": "joined", "p": kim2})
    await expect(person(page, "Lee")).to_have_attribute("data-unadmitted", "true")
    await asyncio.sleep(0.3)
    assert not [f for f in proxy.sent("vouch", since) if f["pid"] in ("p77", "p78")]

    # The facilitator knows Kim: "Let them in" vouches by hand, after asking.
    await row.get_by_role("button", name="Let them in: Kim").click()
    await page.get_by_role("dialog").get_by_role("button", name="Let them in").click()
    await eventually(lambda: any(f["pid"] == "p77" for f in proxy.sent("vouch", since)), "vouch")
    [vouch] = [f for f in proxy.sent("vouch", since) if f["pid"] == "p77"]
    assert len(vouch["anchor"]) == 16 and len(vouch["sig"]) == 64
    await expect(row).to_have_attribute("data-unadmitted", "false")
    await expect(row).not_to_contain_text("entered without your admission")
    assert page.errors == []  # type: ignore[attr-defined]
