"""The Starlette application: HTTP routes, the websocket route, security headers."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from chatserver import api, web, ws
from chatserver.admin import Admin
from chatserver.attempts import open_attempts
from chatserver.auth import Authenticator
from chatserver.backend import open_backend
from chatserver.config import Config
from chatserver.connection import Outbox
from chatserver.hub import Hub
from chatserver.metrics import Metrics
from chatserver.redis_store import RedisStore, RedisTooOld
from chatserver.store import Store, open_store
from chatserver.waiting import WaitingLimits
from chatserver.web import WebFiles
from moderation.content.policy import DEFAULT_RULES
from rooms.errors import StoreUnavailable

log = logging.getLogger(__name__)

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
]


class WebSocketShortcut:
    """Upgrades to /ws go straight to the websocket endpoint.

    Routing and exception handling have nothing to do for them, and their
    suspended frames would be kept for the whole life of every connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws":
            await ws.endpoint(WebSocket(scope, receive, send))
        else:
            await self.app(scope, receive, send)


class SecurityHeaders:
    """Strict headers on every HTTP response: nothing framed or referred, nothing stored.

    Except a response that says how it may be cached: the public static files
    (chatserver/web.py: /web/, the favicon, the content rules), kept and
    revalidated on every use.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                own_cache = any(name.lower() == b"cache-control" for name, _ in headers)
                message["headers"] = headers + [
                    h for h in SECURITY_HEADERS if not (own_cache and h[0] == b"cache-control")
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


async def content_rules(request: Request) -> Response:
    """The shipped rules file: public, compressed, kept and revalidated like /web/."""
    return await web.file_response(request, DEFAULT_RULES)


def _page(name: str) -> Callable[[Request], Awaitable[Response]]:
    """A page of clients/web: gzipped, its modules preloaded, never stored."""

    async def page(request: Request) -> Response:
        return await web.page_response(request, name)

    return page


async def favicon(request: Request) -> Response:
    """The icon where browsers look for one by default (the pages name it too)."""
    return await web.file_response(request, web.WEB_DIR / "favicon.svg")


def create_app(
    config: Config | None = None,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    config = config or Config.from_env()
    store = store or open_store(config.store_url)
    backend = open_backend(config.backend_url)
    metrics = Metrics()
    hub = Hub(store, backend, metrics, clock, entries_per_minute=config.entries_per_minute)
    services = ws.Services(
        config=config,
        store=store,
        hub=hub,
        auth=Authenticator(
            store,
            config.login_attempts_per_minute,
            config.api_token_hours,
            open_attempts(store, "login", config.login_attempts_per_minute),
        ),
        links=open_attempts(store, "link", config.link_attempts_per_minute),
        metrics=metrics,
        outbox=Outbox(),
        waiting=WaitingLimits(config.waiting_per_address, config.rules_per_link),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if isinstance(store, RedisStore):
            # A Redis too old stops the start here (RedisTooOld); one that is
            # down does not: requests get 503 until it is back.
            try:
                await store.check()
            except RedisTooOld:
                raise
            except StoreUnavailable:
                log.warning("The store's Redis is unreachable at start: 503s until it is back.")
        await backend.start()
        restored = await hub.restore_kept()
        if restored:
            log.info("%d live session(s) kept at the last stop are live again.", restored)
        try:
            yield
        finally:
            await hub.shutdown()
            await backend.stop()
            await store.close()

    app = Starlette(
        routes=[
            *api.ROUTES,
            # Someone who arrives at the bare address: what this is, where to go.
            Route("/", _page("index.html")),
            # The member room (the private link opens it; the page reads the
            # fragment) and the facilitators' console.
            Route("/join", _page("room.html")),
            Route("/console", _page("console.html")),
            Route("/favicon.ico", favicon),
            # The shipped content rules, for the browser's engine (the Python
            # clients read the same file from moderation/content).
            Route("/content-rules.json", content_rules),
            Mount("/web", WebFiles(), name="web"),
            WebSocketRoute("/ws", ws.endpoint),
        ],
        lifespan=lifespan,
        exception_handlers={404: api.http_error, 405: api.http_error},
    )
    app.state.services = services
    app.state.admin = Admin(store, config.public_url, hub.group_changed, clock)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(WebSocketShortcut)  # added last: the outermost of these
    return app
