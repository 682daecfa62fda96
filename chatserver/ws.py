"""The websocket endpoint: Origin check, hello, ground rules, then the frame loop.

The handshake is short and strict: the first frame must be a ``hello`` within
``hello_timeout_seconds``. A member is shown the group's ground rules and
enters only after an ``accept`` that names exactly those rules. Anything that
refuses entry sends an error frame and closes with ``Close.AUTH``; anything
that is not the protocol closes with ``Close.PROTOCOL`` (or 1003 / 1009).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from starlette.websockets import WebSocket

from chatserver.attempts import Attempts
from chatserver.auth import Authenticator
from chatserver.config import Config
from chatserver.connection import Connection, Outbox, Outgoing
from chatserver.hub import Hub
from chatserver.metrics import Metrics
from chatserver.origins import origin_allowed
from chatserver.store import Store
from chatserver.waiting import WaitingLimits
from rooms import wire
from rooms.codec import decode
from rooms.door import Accepted, Answer, Door, Event, FacilitatorHello, Goodbye, Hello, MemberHello
from rooms.errors import (
    AuthError,
    Code,
    NotFound,
    ProtocolViolation,
    SafespaceError,
    StoreUnavailable,
)
from rooms.roster import clean_name
from rooms.wire import SUBPROTOCOL, Close, check_inbound

WRITER_GRACE_SECONDS = 5.0


log = logging.getLogger(__name__)


class Disconnected(Exception):
    """The peer closed the socket."""


@dataclass
class Services:
    config: Config
    store: Store
    hub: Hub
    auth: Authenticator
    links: Attempts
    metrics: Metrics
    outbox: Outbox
    waiting: WaitingLimits


async def endpoint(websocket: WebSocket) -> None:
    svc: Services = websocket.app.state.services
    headers = websocket.headers
    if not origin_allowed(
        headers.get("origin"),
        headers.get("host", ""),
        svc.config.public_url,
        svc.config.allowed_origins,
    ):
        svc.metrics.closes[Close.ORIGIN] += 1
        await websocket.close(Close.ORIGIN)  # before accept: an HTTP 403
        return
    offered = SUBPROTOCOL in websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol=SUBPROTOCOL if offered else None)
    # Nothing reads the upgrade's headers again (Origin is checked above).
    if isinstance(websocket.scope.get("headers"), list):
        websocket.scope["headers"].clear()
    conn = Connection(
        websocket,
        svc.metrics,
        svc.config.queue_frames,
        svc.config.queue_bytes,
        Door(svc.config.hello_timeout_seconds),
        svc.outbox,
    )
    svc.metrics.connections += 1
    try:
        if not offered:
            raise ProtocolViolation(
                Code.BAD_FRAME,
                Close.PROTOCOL,
                f"Connect with the websocket subprotocol {SUBPROTOCOL}.",
            )
        with svc.waiting.at_door(conn.client):
            entered = await _handshake(svc, conn)
        if entered:
            await _frame_loop(svc, conn)
    except SafespaceError as e:
        _close_refused(svc, conn, e, e.close_code or Close.AUTH)
    except Disconnected:
        pass
    except asyncio.CancelledError:
        if not conn.lagged:  # not our own wake-up call for a laggard
            raise
        asyncio.current_task().uncancel()  # type: ignore[union-attr]
    finally:
        conn.door.close()
        svc.metrics.connections -= 1
        await svc.hub.detach(conn)
        if not conn.closing:
            conn.close(Close.NORMAL)
        await conn.finished(WRITER_GRACE_SECONDS)


def _refused(svc: Services, conn: Connection, err: SafespaceError, ref: int | None) -> None:
    """An error frame for a refused frame, or a close for a client that keeps at it."""
    svc.metrics.rejections[str(err.code)] += 1
    if conn.refused(svc.hub.clock()):
        conn.close(Close.FLOODING, Outgoing.of(wire.error(err, ref)))
    else:
        conn.send_frame(wire.error(err, ref))


def _take_now(svc: Services, conn: Connection, data: bytes) -> bool:
    """The outlet's inbound shortcut: a chat frame relayed as it is read.

    Anything else (and anything malformed) goes the ordinary way, through the
    ASGI queue to the frame loop, which then also gives any error.
    """
    if conn.busy or conn.closing:
        return False
    try:
        msg = check_inbound(decode(data))
    except SafespaceError:
        return False
    if msg.type != "chat":
        return False
    svc.metrics.frames_received += 1
    try:
        svc.hub.receive(conn, msg)  # a chat frame leaves nothing to await
    except SafespaceError as e:
        _refused(svc, conn, e, msg.ref)
    return True


def _close_refused(svc: Services, conn: Connection, err: SafespaceError, close_code: int) -> None:
    svc.metrics.rejections[str(err.code)] += 1
    conn.close(close_code, Outgoing.of(wire.error(err)))


async def _next(conn: Connection, metrics: Metrics, timeout: float | None = None) -> object:
    """The next binary frame, decoded (not yet checked against the schema)."""
    if timeout is None:
        message = await conn.websocket.receive()
    else:
        message = await asyncio.wait_for(conn.websocket.receive(), timeout)
    if message["type"] == "websocket.disconnect":
        raise Disconnected
    data = message.get("bytes")
    if data is None:
        raise ProtocolViolation(
            Code.BAD_FRAME, Close.UNSUPPORTED, "This protocol speaks binary frames only."
        )
    metrics.frames_received += 1
    return decode(data)


async def _at_door(svc: Services, conn: Connection) -> Hello | Answer:
    """The next frame the door reads, within the door's time for its stage."""
    door = conn.door
    try:
        frame = await _next(conn, svc.metrics, door.timeout())
    except TimeoutError:
        raise door.timed_out() from None
    return door.read(frame)


async def _handshake(svc: Services, conn: Connection) -> bool:
    """Bring the connection into its room; False if it left politely on the way."""
    hello = await _at_door(svc, conn)
    if isinstance(hello, MemberHello):
        return await _member_hello(svc, conn, hello)
    assert isinstance(hello, FacilitatorHello)
    await _facilitator_hello(svc, conn, hello)
    return True


async def _member_hello(svc: Services, conn: Connection, hello: MemberHello) -> bool:
    door, now = conn.door, svc.hub.clock()
    await svc.links.check(conn.client, now)
    try:
        token_hash = hello.token_hash()
        seat = await svc.store.seat_by_token_hash(token_hash)
        if seat is None:
            raise AuthError(Code.LINK_UNKNOWN)
    except AuthError:
        await svc.links.fail(conn.client, now)
        raise
    seat.check(now)
    svc.hub.check_seat(seat.id)
    room = svc.hub.rooms.get(seat.group_id)
    if room is None:
        raise AuthError(Code.ROOM_NOT_OPEN)
    room.session.check_door(seat.id, now)
    with svc.waiting.reading_rules(token_hash):
        door.go(Event.SHOW_RULES)
        conn.send_frame(room.session.rules_frame())
        answer = await _at_door(svc, conn)
    if isinstance(answer, Goodbye):
        conn.close(Close.NORMAL)
        return False
    assert isinstance(answer, Accepted)
    # Minutes may have passed: the link may have been revoked or have expired,
    # and the session may have ended.
    seat = await svc.store.seat_by_token_hash(token_hash)
    if seat is None:
        raise AuthError(Code.LINK_UNKNOWN)
    seat.check(svc.hub.clock())
    svc.hub.check_seat(seat.id)
    room = svc.hub.rooms.get(seat.group_id)
    if room is None:
        raise AuthError(Code.SESSION_ENDED)
    p, outcomes = room.session.join_member(
        seat.id, hello.name, hello.keys, answer.digest, svc.hub.clock()
    )
    door.go(Event.KNOCK if room.session.is_knocking(p.pid) else Event.ENTER)
    await svc.hub.attach(room, p, conn, outcomes)
    return True


async def _facilitator_hello(svc: Services, conn: Connection, hello: FacilitatorHello) -> None:
    now = svc.hub.clock()
    if hello.token is not None:
        account = await svc.auth.facilitator_for(hello.token, now)
    else:
        assert hello.user is not None and hello.password is not None
        account = await svc.auth.login(hello.user, hello.password, conn.client, now)
    try:
        group = await svc.store.group(hello.group_id())
    except NotFound:
        raise AuthError(Code.GROUP_UNKNOWN) from None
    if not group.run_by(account):
        raise AuthError(Code.NOT_FACILITATOR)
    if hello.identity is not None:
        # Kept so that links made later for this account's groups carry the
        # key (rooms/links.link_url). A busy store must not keep a facilitator
        # out of the room: the key is registered on their next arrival.
        try:
            await svc.store.set_identity(account, hello.identity)
        except StoreUnavailable:
            log.warning("A facilitator's identity key was not registered: the store is busy.")
    name = clean_name(hello.name or account)  # before a room exists for nothing
    room = await svc.hub.room_for(group)
    p, outcomes = room.session.join_facilitator(account, name, hello.keys)
    conn.door.go(Event.ENTER)
    await svc.hub.attach(room, p, conn, outcomes)


async def _frame_loop(svc: Services, conn: Connection) -> None:
    outlet = conn.outlet
    if outlet is not None:
        outlet.inbound = lambda data: _take_now(svc, conn, data)
    try:
        while not conn.closing:
            ref = None
            try:
                msg = check_inbound(await _next(conn, svc.metrics))
                conn.busy = True
                ref = msg.ref
                await svc.hub.handle(conn, msg)
            except ProtocolViolation:
                raise
            except SafespaceError as e:
                _refused(svc, conn, e, ref)
            finally:
                conn.busy = False
    finally:
        if outlet is not None:
            outlet.inbound = None  # the closure holds the connection
