"""Delivery in a real browser (issue 17): what a member's browser downloads, and how soon
the ground rules show after the link is opened.

Figures are measured with the DevTools protocol (bytes as received, headers
included) and the page's own clock (``performance.now()`` counts from the
moment the link was opened), on loopback, and printed (``pytest -s``):

* the room's first load (empty cache) and a reload (the browser's cache:
  every file revalidated, a 304 each): the reload must stay under 100 KB;
* "link opened -> rules visible", p50 over 5 links opened in fresh browsers
  (empty cache) and over 5 opened again in the same browser, printed with the
  machine's load beside it (the issue's target is 500 ms; speed is judged
  from the printed figures, never by a timed assertion on a shared machine);
* every module the room and the console load is named by a modulepreload
  link in the page, and nothing else is (the list cannot rot);
* /, the room and the console load with no console error and no failed
  request (the favicon included), desktop and phone sizes, screenshots of /.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from chromium import needs_chromium
from conftest import OPENED_PAGES, PASSWORD, Env
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    ViewportSize,
    expect,
)

from chatserver.admin import Admin
from chatserver.auth import hash_password
from chatserver.sqlite_store import SqliteStore
from clients.client import ChatClient
from clients.e2ee import IdentityKey

pytestmark = needs_chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
RELOAD_BUDGET = 100_000
RULES_P50_BUDGET_MS = 500
LOADS = 5


# ``chatserver serve`` itself, as an operator runs it (uvloop, its own
# process), for the figures: the tests' in-process server shares the event
# loop with Playwright's client, and on the stdlib loop its sockets go
# without TCP_NODELAY (each small response then waits ~40 ms for a delayed
# ACK), which would make the figures the test rig's, not the server's.
CHATSERVER = Path(sys.executable).parent / "chatserver"


@dataclass
class Served:
    """A real ``chatserver serve``, a group and its facilitator in the open room."""

    url: str
    admin: Admin
    gid: str

    async def link(self, gid: str) -> str:
        _, url = await self.admin.create_link("alex", gid, None, None)
        return url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    db = tmp_path / "db.sqlite3"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    store = SqliteStore(str(db))
    await store.add_facilitator("alex", hash_password(PASSWORD))
    admin = Admin(store, url)
    group = await admin.create_group(
        "alex",
        {
            "title": "Tuesday evening group",
            "ground_rules": ["What is said here stays here.", "Be kind."],
            "crisis_resources": ["Call 116 123 (Samaritans, free, 24/7)"],
        },
    )
    env = {k: v for k, v in os.environ.items() if k not in {"BACKEND_URL", "REDIS_URL", "PORT"}}
    env.update(STORE_URL=f"sqlite:///{db}", PUBLIC_URL=url)
    proc = subprocess.Popen(
        [str(CHATSERVER), "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    fac: ChatClient | None = None
    try:
        async with httpx.AsyncClient(base_url=url, timeout=1) as http:
            for _ in range(200):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        fac = await ChatClient.facilitate(
            url, group.id, user="alex", password=PASSWORD, identity=IdentityKey.generate()
        )
        await fac.open()
        await fac.next("state")
        yield Served(url, admin, group.id)
    finally:
        if fac is not None:
            await fac.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        await store.close()


# Notes the moment the ground rules are on screen, on the page's own clock
# (0 = the navigation's start, i.e. the link opened). Injected by the test
# through DevTools, so the page's CSP does not apply to it.
RULES_CLOCK = """(() => {
  const note = () => {
    if (window.__rulesVisibleAt !== undefined) return;
    const landing = document.getElementById("landing");
    if (landing && !landing.hidden && document.querySelector("#rules-list li")) {
      window.__rulesVisibleAt = performance.now();
    }
  };
  new MutationObserver(note).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["hidden"],
  });
})();"""


@dataclass
class Traffic:
    """What the network brought one page, per the DevTools protocol."""

    bytes: int = 0
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        self.bytes = 0
        self.requests.clear()

    @property
    def statuses(self) -> list[int]:
        return [r["status"] for r in self.requests.values() if "status" in r]

    def figures(self) -> str:
        not_modified = self.statuses.count(304)
        return (
            f"{len(self.requests)} requests, {self.bytes / 1000:.1f} KB transferred "
            f"({not_modified} answered 304)"
        )


async def watched(context: BrowserContext) -> tuple[Page, Traffic]:
    """A page whose traffic is counted and whose errors fail the test."""
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors  # type: ignore[attr-defined]
    OPENED_PAGES.append(page)
    traffic = Traffic()
    cdp = await context.new_cdp_session(page)

    def response(event: dict[str, Any]) -> None:
        r = event["response"]
        traffic.requests.setdefault(event["requestId"], {}).update(
            url=r["url"], status=r["status"], cached=r.get("fromDiskCache", False)
        )

    def finished(event: dict[str, Any]) -> None:
        traffic.bytes += int(event["encodedDataLength"])
        traffic.requests.setdefault(event["requestId"], {})["bytes"] = event["encodedDataLength"]

    cdp.on("Network.responseReceived", response)
    cdp.on("Network.loadingFinished", finished)
    await cdp.send("Network.enable")
    await page.add_init_script(RULES_CLOCK)
    return page, traffic


async def rules_shown(page: Page) -> float:
    """Wait for the ground rules; ms from the link opened to their showing."""
    await expect(page.get_by_test_id("landing")).to_be_visible()
    await expect(page.get_by_test_id("rules").locator("li").first).to_be_visible()
    await page.wait_for_function("window.__rulesVisibleAt !== undefined")
    return float(await page.evaluate("window.__rulesVisibleAt"))


async def facilitated(server: Env) -> str:
    """A group whose facilitator is in the open room: its links carry the key."""
    gid = await server.group()
    await server.host(gid, e2ee=True, identity=IdentityKey.generate())
    return str(gid)


async def open_link(server: Env | Served, page: Page, gid: str) -> tuple[float, float]:
    """Open a fresh private link; (page clock, test's wall clock) ms to the rules.

    From a blank page: links differ only in their fragment, and going from one
    to the next on the same page would not load the page again.
    """
    link = await server.link(gid)
    if page.url != "about:blank":
        await page.goto("about:blank")
    started = time.perf_counter()
    await page.goto(link)
    on_page = await rules_shown(page)
    return on_page, (time.perf_counter() - started) * 1000


def p50(values: list[float]) -> float:
    return statistics.median(values)


# ---- page weight ------------------------------------------------------------------------


async def test_a_reload_of_the_room_moves_little(browser: Browser, served: Served) -> None:
    server, gid = served, served.gid
    context = await browser.new_context(viewport=DESKTOP)
    page, traffic = await watched(context)

    await open_link(server, page, gid)
    first = traffic.bytes
    first_figures = traffic.figures()
    files = [r for r in traffic.requests.values() if "/web/" in r.get("url", "")]
    assert files and all(r["status"] == 200 for r in files)

    traffic.reset()
    await page.reload()
    await rules_shown(page)
    reload = traffic.bytes
    reload_figures = traffic.figures()
    # (The favicon is Chrome's own fetch, outside the page's cache rules: left out.)
    again = [
        r
        for r in traffic.requests.values()
        if "/web/" in r.get("url", "") and "favicon" not in r["url"]
    ]

    await page.goto("about:blank")
    traffic.reset()
    await page.goto(await server.link(gid))
    await rules_shown(page)
    another_figures = traffic.figures()
    another = traffic.bytes

    print(
        "\n[delivery] room page weight:"
        f"\n  first load (empty cache):        {first_figures}"
        f"\n  reload (the browser's cache):     {reload_figures}"
        f"\n  another link, same browser:       {another_figures}"
    )
    await context.close()

    # Every file came back as a 304 (or straight from the cache): no body again.
    fetched = [r["url"] for r in again if not (r["status"] == 304 or r["cached"])]
    assert again and not fetched, fetched
    assert reload < RELOAD_BUDGET, reload
    assert another < RELOAD_BUDGET, another
    assert reload < first / 2
    # The first load is compressed: the files alone are ~330 KB as they are.
    raw = sum(p.stat().st_size for p in (ARTIFACTS.parent / "clients" / "web").glob("*.js"))
    assert first < raw / 2, (first, raw)


# ---- link opened -> rules visible ----------------------------------------------------------


async def test_the_rules_show_soon_after_the_link_is_opened(
    browser: Browser, served: Served
) -> None:
    server, gid = served, served.gid
    # A first load to get the server's files read and compressed (a real
    # server has done that long before); not counted.
    context = await browser.new_context(viewport=DESKTOP)
    page, _ = await watched(context)
    await open_link(server, page, gid)
    await context.close()

    cold: list[float] = []
    cold_wall: list[float] = []
    for _ in range(LOADS):
        context = await browser.new_context(viewport=DESKTOP)
        page, _ = await watched(context)
        on_page, wall = await open_link(server, page, gid)
        cold.append(on_page)
        cold_wall.append(wall)
        await context.close()

    warm: list[float] = []
    context = await browser.new_context(viewport=DESKTOP)
    page, _ = await watched(context)
    await open_link(server, page, gid)
    for _ in range(LOADS):
        on_page, _ = await open_link(server, page, gid)
        warm.append(on_page)
    await context.close()

    load, cpus = os.getloadavg()[0], os.cpu_count() or 1

    def row(values: list[float]) -> str:
        return f"p50 {p50(values):.0f} ms (each: {', '.join(f'{v:.0f}' for v in values)})"

    print(
        "\n[delivery] link opened -> rules visible, loopback:"
        f"\n  fresh browser (empty cache):      {row(cold)}"
        f"\n    as the test saw it (goto to visible): {row(cold_wall)}"
        f"\n  link opened again, same browser:  {row(warm)}"
        f"\n  machine: load average {load:.1f} on {cpus} CPU(s) during the loads"
    )
    print(f"  target p50 {RULES_P50_BUDGET_MS} ms (docs/performance.md)")
    assert len(cold) == len(warm) == 5  # every link opened showed its rules


# ---- modulepreload: the whole graph, nothing else ----------------------------------------


@pytest.mark.parametrize(
    "path, entry, ready",
    [
        ("/join", "/web/room.js", "landing"),
        ("/console", "/web/console.js", "login"),
    ],
)
async def test_the_page_preloads_every_module_it_loads(
    browser: Browser, server: Env, path: str, entry: str, ready: str
) -> None:
    gid = await facilitated(server)
    url = await server.link(gid) if path == "/join" else server.url + path
    context = await browser.new_context(viewport=DESKTOP)
    page, traffic = await watched(context)
    scripts: list[str] = []
    page.on(
        "request",
        lambda r: (
            scripts.append(r.url.removeprefix(server.url)) if r.resource_type == "script" else None
        ),
    )
    await page.goto(url)
    if ready == "landing":
        await rules_shown(page)
    else:
        await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await page.wait_for_load_state("networkidle")
    preloaded = await page.eval_on_selector_all(
        'link[rel="modulepreload"]', "links => links.map(l => l.getAttribute('href'))"
    )
    await context.close()

    loaded = set(scripts) - {entry}
    print(f"\n[delivery] {path}: {len(loaded) + 1} modules, {len(preloaded)} preloaded")
    missing = sorted(loaded - set(preloaded))
    unused = sorted(set(preloaded) - loaded)
    assert not missing, f"loaded but not preloaded: {missing}"
    assert not unused, f"preloaded but never loaded: {unused}"
    # Each module fetched once: the preload is what the import uses.
    assert len(scripts) == len(set(scripts)), sorted(scripts)


# ---- /, the favicon, no console error ------------------------------------------------------


@pytest.mark.parametrize("size", ["desktop", "phone"])
async def test_every_page_loads_without_an_error(browser: Browser, server: Env, size: str) -> None:
    gid = await facilitated(server)
    viewport = DESKTOP if size == "desktop" else PHONE
    context = await browser.new_context(viewport=viewport)
    for path in ["/", "/join", "/console"]:
        page, _ = await watched(context)
        problems: list[str] = []
        icons: list[int] = []

        def console(message: ConsoleMessage, problems: list[str] = problems) -> None:
            if message.type in ("error", "warning"):
                problems.append(f"{message.type}: {message.text}")

        def response(r: Response, problems: list[str] = problems, icons: list[int] = icons) -> None:
            if "favicon" in r.url:
                icons.append(r.status)
            if r.status >= 400:
                problems.append(f"{r.status} {r.url}")

        page.on("console", console)
        page.on("response", response)
        page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))  # noqa: B023
        if path == "/join":
            await page.goto(await server.link(gid))
            await rules_shown(page)
        else:
            await page.goto(server.url + path)
        if path == "/":
            await expect(page.get_by_role("heading", level=1)).to_contain_text("support groups")
            await expect(page.get_by_text("private link your facilitator gave you")).to_be_visible()
            link = page.get_by_role("link", name="Go to the facilitator console")
            await expect(link).to_have_attribute("href", "/console")
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=ARTIFACTS / f"delivery-home-{size}.png", full_page=True)
        if path == "/console":
            await expect(page.get_by_role("button", name="Log in")).to_be_visible()
        await page.wait_for_load_state("networkidle")
        assert problems == [], (path, problems)
        assert all(status == 200 for status in icons), (path, icons)
        await page.close()
    await context.close()


async def test_the_console_link_on_the_home_page_leads_to_the_console(
    browser: Browser, server: Env
) -> None:
    context = await browser.new_context(viewport=PHONE)
    page, _ = await watched(context)
    await page.goto(server.url + "/")
    await page.get_by_role("link", name="Go to the facilitator console").click()
    await expect(page).to_have_url(server.url + "/console")
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await context.close()
