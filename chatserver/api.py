"""The HTTP side: health, metrics, facilitator login and the group/link JSON API.

Errors are JSON ``{"error": {"code", "message", "field"?}}`` with the same
stable codes as the websocket protocol (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from chatserver.admin import Admin
from chatserver.origins import origin_allowed
from chatserver.ws import Services
from rooms.errors import AuthError, Code, SafespaceError, StoreUnavailable
from rooms.group import Group
from rooms.links import b64u_decode, b64u_encode

MAX_BODY_BYTES = 64 * 1024

Endpoint = Callable[[Request], Awaitable[Response]]


def _services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def _admin(request: Request) -> Admin:
    return request.app.state.admin  # type: ignore[no-any-return]


def error_response(err: SafespaceError) -> JSONResponse:
    body: dict[str, Any] = {"code": str(err.code), "message": err.reason}
    body.update({k: v for k, v in err.detail.items() if v is not None})
    headers = {}
    if "retry_after" in err.detail:
        headers["Retry-After"] = str(max(1, int(float(str(err.detail["retry_after"])) + 0.999)))
    return JSONResponse({"error": body}, status_code=err.http_status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405, in the API's JSON shape under /api/."""
    status = getattr(exc, "status_code", 500)
    if not request.url.path.startswith("/api/"):
        return PlainTextResponse(getattr(exc, "detail", "Error"), status_code=status)
    code = Code.METHOD_NOT_ALLOWED if status == 405 else Code.NOT_FOUND
    response = error_response(SafespaceError(code))
    response.headers.update(getattr(exc, "headers", None) or {})  # Allow, on a 405
    return response


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def guarded(handler: Endpoint) -> Endpoint:
    """Turn every ``SafespaceError`` into its JSON error response.

    A request that changes something must come from no page at all (a
    script, the CLI) or from one of the server's own origins: a foreign page
    could otherwise post logins from a visitor's browser and spend the
    visitor's address's login attempts (chatserver/origins.py).
    """

    async def run(request: Request) -> Response:
        try:
            if request.method not in SAFE_METHODS:
                config = _services(request).config
                headers = request.headers
                if not origin_allowed(
                    headers.get("origin"),
                    headers.get("host", ""),
                    config.public_url,
                    config.allowed_origins,
                ):
                    raise SafespaceError(Code.FOREIGN_ORIGIN)
            return await handler(request)
        except SafespaceError as e:
            return error_response(e)

    return run


async def _json(request: Request) -> dict[str, Any]:
    # A body only as JSON: a form or text/plain body is what a foreign page
    # can send without the browser asking the server first (CORS preflight).
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    declared_body = request.headers.get("content-length", "0") != "0"
    if (declared_body or "transfer-encoding" in request.headers) and media != "application/json":
        raise SafespaceError(Code.INVALID, "The request body must be sent as application/json.")
    too_large = SafespaceError(Code.INVALID, "The request body is too large.")
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_BODY_BYTES:
        raise too_large
    body = b""
    async for chunk in request.stream():  # bounded even if the header lied
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise too_large
    try:
        data = json.loads(body or b"{}")
        # JSON may spell lone surrogates ("\ud800") that no store can hold.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except ValueError:  # UnicodeEncodeError is one
        raise SafespaceError(Code.INVALID, "The request body must be JSON in UTF-8.") from None
    if not isinstance(data, dict):
        raise SafespaceError(Code.INVALID, "The request body must be a JSON object.")
    return data


async def facilitator(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError(Code.UNAUTHENTICATED)
    svc = _services(request)
    return await svc.auth.facilitator_for(token.strip(), svc.hub.clock())


async def healthz(request: Request) -> Response:
    """The process answers (liveness): a load balancer's check of the node itself."""
    return JSONResponse({"status": "ok"})


# How long /readyz waits for the store: a hung Redis or a stuck disk must turn
# the answer to 503 within a few seconds, never hang the check.
READY_TIMEOUT_SECONDS = 2.0


async def readyz(request: Request) -> Response:
    """Ready to serve (readiness): this node and the store it needs both answer.

    503 ``store_unavailable`` (with Retry-After) while the store does not,
    within ``READY_TIMEOUT_SECONDS``: a hung Redis, a database that cannot be read.
    """
    svc = _services(request)
    try:
        await asyncio.wait_for(svc.store.ready(), READY_TIMEOUT_SECONDS)
    except (TimeoutError, SafespaceError):
        return error_response(StoreUnavailable())
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    svc = _services(request)
    # Counts say when groups meet and how busy they are: an operator may keep
    # them for the scraper alone.
    wanted = svc.config.metrics_token
    given = request.headers.get("authorization", "").encode("latin-1", "replace")
    if wanted and not secrets.compare_digest(given, f"Bearer {wanted}".encode()):
        return error_response(AuthError(Code.UNAUTHENTICATED))
    return PlainTextResponse(
        svc.metrics.render(len(svc.hub.rooms)), media_type="text/plain; version=0.0.4"
    )


async def login(request: Request) -> Response:
    data = await _json(request)
    name, password = data.get("name"), data.get("password")
    if not isinstance(name, str) or not isinstance(password, str):
        raise SafespaceError(Code.INVALID, "name and password are required.")
    svc = _services(request)
    now = svc.hub.clock()
    client = request.client.host if request.client else "unknown"
    account = await svc.auth.login(name, password, client, now)
    token, expires = await svc.auth.issue_token(account, now)
    return JSONResponse({"token": token, "expires_at": expires, "facilitator": account})


async def logout(request: Request) -> Response:
    await facilitator(request)
    token = request.headers["authorization"].partition(" ")[2].strip()
    await _services(request).auth.revoke_token(token)
    return Response(status_code=204)


async def list_groups(request: Request) -> Response:
    who = await facilitator(request)
    groups = await _services(request).store.groups_of(who)
    return JSONResponse({"groups": [g.public() for g in groups]})


async def _group_view(request: Request, who: str, group: Group) -> dict[str, Any]:
    """A group as the API shows it: its settings and its facilitators' identity keys."""
    keys = await _admin(request).facilitator_keys(who, group.id)
    return {**group.public(), "facilitator_keys": {n: b64u_encode(k) for n, k in keys.items()}}


async def create_group(request: Request) -> Response:
    who = await facilitator(request)
    group = await _admin(request).create_group(who, await _json(request))
    return JSONResponse(await _group_view(request, who, group), status_code=201)


async def get_group(request: Request) -> Response:
    who = await facilitator(request)
    group = await _admin(request).group_of(who, request.path_params["gid"])
    return JSONResponse(await _group_view(request, who, group))


async def set_identity(request: Request) -> Response:
    """The caller's identity key, so links made for its groups carry it (docs/e2ee.md)."""
    who = await facilitator(request)
    raw = (await _json(request)).get("key")
    key = _key(raw) if isinstance(raw, str) else None
    await _admin(request).set_identity(who, key)
    return Response(status_code=204)


def _key(text: str) -> bytes | None:
    # Any length is Admin.set_identity's to refuse, with the sentence it gives.
    if len(text) > 64:
        return None
    try:
        return b64u_decode(text)
    except ValueError:
        return None


async def edit_group(request: Request) -> Response:
    who = await facilitator(request)
    changes = await _json(request)
    group = await _admin(request).edit_group(who, request.path_params["gid"], changes)
    return JSONResponse(await _group_view(request, who, group))


async def create_link(request: Request) -> Response:
    who = await facilitator(request)
    data = await _json(request)
    seat, url = await _admin(request).create_link(
        who, request.path_params["gid"], data.get("label"), data.get("expires_in_hours")
    )
    now = _services(request).hub.clock()
    return JSONResponse({**seat.public(now), "url": url}, status_code=201)


async def list_links(request: Request) -> Response:
    who = await facilitator(request)
    links = await _admin(request).links(who, request.path_params["gid"])
    return JSONResponse({"links": links})


async def revoke_link(request: Request) -> Response:
    who = await facilitator(request)
    p = request.path_params
    return JSONResponse(await _admin(request).revoke_link(who, p["gid"], p["lid"]))


ROUTES = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics),
    Route("/api/login", guarded(login), methods=["POST"]),
    Route("/api/logout", guarded(logout), methods=["POST"]),
    Route("/api/me/identity", guarded(set_identity), methods=["PUT"]),
    Route("/api/groups", guarded(list_groups), methods=["GET"]),
    Route("/api/groups", guarded(create_group), methods=["POST"]),
    Route("/api/groups/{gid}", guarded(get_group), methods=["GET"]),
    Route("/api/groups/{gid}", guarded(edit_group), methods=["PATCH"]),
    Route("/api/groups/{gid}/links", guarded(list_links), methods=["GET"]),
    Route("/api/groups/{gid}/links", guarded(create_link), methods=["POST"]),
    Route("/api/groups/{gid}/links/{lid}", guarded(revoke_link), methods=["DELETE"]),
]
