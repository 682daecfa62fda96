"""An asyncio client for safespace-chat: join by link, facilitate, send, receive.

    member = await ChatClient.join("http://127.0.0.1:8000/join#seat=...", "Robin")
    await member.send("hello")
    event = await member.next("msg")        # Event(type="msg", text="hello", ...)

The client keeps a live view of the room (``roster``, ``knocks``, ``state``:
``clients.room_view``) from the frames it receives, and turns every error
frame into an ``Event`` of type ``error`` (and refusals during joining into
``ClientError``).

Payloads are end-to-end encrypted by default (``clients.e2ee``, docs/e2ee.md):
a member trusts the facilitator keys in its link's fragment, which it never
sends to the server; a facilitator signs ("vouches for") whoever it admits.
The codec's own frames (key distributions, vouches) always go out before any
payload sealed after them, so a recipient holds a key before it needs it.

With encryption the group's content rules are applied too (``clients.content``,
moderation/content/README.md): ``send`` checks a room message before sealing
it (``ContentBlocked``, ``ContentNeedsConfirmation``, labels joining the
sender's warning, alerts to the facilitators), and every opened room message
is checked again, its labels added to ``Event.cw``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from clients.content import (
    RULES_UNVERIFIED,
    ContentBlocked,
    ContentGuard,
    ContentNeedsConfirmation,
)
from clients.e2ee import E2EECodec, E2EEError, IdentityKey
from clients.e2ee.anchor_memory import AnchorMemory
from clients.e2ee.peer import remember
from clients.facilitating import FacilitatorCommands
from clients.payload import PayloadCodec
from clients.room_view import Event as Event
from clients.room_view import RoomView
from rooms.codec import decode, encode
from rooms.errors import AuthError, Code, SafespaceError
from rooms.links import token_from_link
from rooms.wire import MAX_SERVER_FRAME_BYTES, SUBPROTOCOL, VERSION, check_outbound

TEXT_FRAMES = frozenset({"msg", "private", "report"})
ALERTED_REMEMBERED = 1024  # message ids a facilitator's client flagged, not to flag twice
KEY_FRAMES_REMEMBERED = 1024  # the codec's frames sent, by ref, until a refusal could name them
RETRY_CODES = frozenset({Code.FLOOD, Code.RATE_LIMITED})  # spent budgets: try again later
KEY_RETRY_MAX_SECONDS = 10.0

__all__ = [
    "ChatClient",
    "ClientError",
    "ContentBlocked",
    "ContentNeedsConfirmation",
    "Event",
    "ws_url",
]


class ClientError(SafespaceError):
    """The server refused us; ``code`` is the server's stable error code."""

    def __init__(self, code: str, message: str, close_code: int | None = None) -> None:
        try:
            known = Code(code)
        except ValueError:
            known = Code.BAD_FRAME
        super().__init__(known, message)
        self.close_code = close_code


def ws_url(link_or_server: str) -> str:
    """The websocket URL of the server a private link (or a server URL) points at."""
    parts = urlsplit(link_or_server.strip())
    scheme = {"https": "wss", "wss": "wss"}.get(parts.scheme, "ws")
    if not parts.netloc:
        raise ValueError("Give the whole link or the server's URL, e.g. http://127.0.0.1:8000")
    return f"{scheme}://{parts.netloc}/ws"


class ChatClient(FacilitatorCommands, RoomView):
    def __init__(
        self,
        ws: ClientConnection,
        codec: PayloadCodec,
        history: int = 1000,
        content_rules: bool | None = None,
    ) -> None:
        super().__init__()  # the live view: pid, role, state, roster, knocks, ...
        self.ws = ws
        self.codec = codec
        # The group's content rules: on by default with encryption only (the
        # relay's tests, with PlainCodec, send anything as it is). Trusted
        # signers of a group's tuning: the codec's trusted identities.
        if content_rules is None:
            content_rules = isinstance(codec, E2EECodec)
        self.content: ContentGuard | None = None
        if content_rules:
            trusted = codec.trusted_identities if isinstance(codec, E2EECodec) else ()
            self.content = ContentGuard(trusted)
        self._alerted: dict[int, None] = {}  # msg ids already flagged (insertion order)
        self.rules: Event | None = None
        # The last events, for a caller that wants to look back; bounded, so a
        # long session does not pile up the conversation in memory.
        self.history: deque[Event] = deque(maxlen=history)
        self.close_code: int | None = None
        self.close_reason = ""
        self.dropped = 0  # frames from the server that were not the protocol
        self._inbox: asyncio.Queue[Event] = asyncio.Queue()
        self._refs = itertools.count(1)
        # The codec's frames by ref, so that a refusal can be told to the codec.
        self._key_frames: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._retry: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._reader: asyncio.Task[None] | None = None
        # Held around "seal, send what the codec queued, send the payload", so
        # that key frames always precede the payloads that need them.
        self._sending = asyncio.Lock()
        self._progress = asyncio.Event()  # set whenever frames went out or came in
        self.identity: IdentityKey | None = None  # a facilitator's, for its links

    # ---- connecting ---------------------------------------------------------

    @classmethod
    async def _connect(
        cls,
        url: str,
        codec: PayloadCodec,
        options: dict[str, Any] | None = None,
        content_rules: bool | None = None,
    ) -> ChatClient:
        ws = await connect(
            url,
            subprotocols=[Subprotocol(SUBPROTOCOL)],
            max_size=MAX_SERVER_FRAME_BYTES,
            compression=None,
            close_timeout=2,
            **(options or {}),
        )
        return cls(ws, codec, content_rules=content_rules)

    @classmethod
    async def join(
        cls,
        link: str,
        name: str,
        *,
        accept_rules: bool | Callable[[Event], Awaitable[bool]] = True,
        codec: PayloadCodec | None = None,
        server: str | None = None,
        connect_options: dict[str, Any] | None = None,
        content_rules: bool | None = None,
    ) -> ChatClient:
        """Join as a member. Returns once admitted, or once knocking (``admitted`` False).

        The server gets only the link's seat token; the facilitator keys in its
        fragment (``f=``) are what the default codec trusts, for members' keys
        and for the group's signed content rules alike. ``connect_options``
        go to ``websockets.connect`` (a ready socket, a proxy, TLS).
        ``content_rules``: apply the group's content rules (default: with the
        encrypting codec only).
        """
        try:
            token = token_from_link(link)
            if codec is None:
                codec = E2EECodec.member(link)
        except (AuthError, E2EEError) as e:
            raise ClientError(Code.LINK_UNKNOWN, e.reason) from None
        client = await cls._connect(ws_url(server or link), codec, connect_options, content_rules)
        try:
            await client._send(
                "hello",
                v=VERSION,
                role="member",
                link=token,
                name=name,
                keys=client.codec.public_keys(),
            )
            client.rules = await client._expect("rules")
            if not isinstance(accept_rules, bool):
                accept_rules = await accept_rules(client.rules)
            if not accept_rules:
                await client._send("leave")
                raise ClientError(Code.RULES_NOT_ACCEPTED, "The ground rules were not accepted.")
            await client._send("accept", rules=client.rules["digest"])
            first = await client._expect("welcome", "knocking")
        except BaseException:
            await client.close()
            raise
        client._start()
        client._absorb(first)
        await client._flush()
        return client

    @classmethod
    async def facilitate(
        cls,
        server: str,
        group: str,
        *,
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        name: str | None = None,
        codec: PayloadCodec | None = None,
        identity: IdentityKey | None = None,
        co_facilitators: Sequence[bytes] = (),
        content_rules: bool | None = None,
        anchor_memory: AnchorMemory | None = None,
    ) -> ChatClient:
        """Join a group's room as one of its facilitators (by password or API token).

        ``identity`` is the facilitator's long-term key (see
        ``IdentityKey.save``/``load``); members' links must carry its public
        half (``identity.fragment``). Only an ``identity`` given here is
        registered with the server (``hello.identity``), so that links made
        for the group afterwards carry it. Without one, the client makes a key
        for this session only (``client.identity``) and registers nothing:
        its private half is gone with the process, and a link carrying it
        would never verify anyone again. ``co_facilitators`` are the identity
        keys of the other facilitators this one trusts (their signed content
        rules too). ``content_rules``: as for ``join``. ``anchor_memory``: where
        this device keeps its anchor and admissions per session, so that a
        restart mid-session remembers whom it let in (``AnchorFile``; default:
        this process only).
        """
        registered = identity
        if codec is None:
            identity = identity or IdentityKey.generate()
            codec = E2EECodec.facilitator(identity, co_facilitators, memory=anchor_memory)
        client = await cls._connect(ws_url(server), codec, content_rules=content_rules)
        client.identity = identity
        creds: dict[str, Any] = {"token": token} if token else {"user": user, "password": password}
        if name:
            creds["name"] = name
        if registered is not None:
            # The server keeps the public half, so that links made for this
            # group carry it; trust still comes only from the link itself.
            creds["identity"] = registered.public
        try:
            await client._send(
                "hello",
                v=VERSION,
                role="facilitator",
                group=group,
                keys=client.codec.public_keys(),
                **creds,
            )
            first = await client._expect("welcome")
        except BaseException:
            await client.close()
            raise
        client._start()
        client._absorb(first)
        await client._flush()
        return client

    async def _expect(self, *types: str) -> Event:
        """Read the handshake's next frame directly (the reader is not running yet)."""
        try:
            raw = await asyncio.wait_for(self.ws.recv(), 10)
        except ConnectionClosed as e:
            raise ClientError(
                Code.BAD_FRAME, "The server closed the connection.", e.rcvd.code if e.rcvd else None
            ) from None
        if not isinstance(raw, bytes):
            raise ClientError(Code.BAD_FRAME, "The server sent a text frame.")
        try:
            frame = check_outbound(decode(raw))
        except SafespaceError:
            raise ClientError(
                Code.BAD_FRAME, "The server sent a frame this client cannot read."
            ) from None
        if frame.get("t") == "error":
            with contextlib.suppress(Exception):
                await self.ws.wait_closed()
            code = self.ws.close_code
            raise ClientError(frame["code"], frame["message"], code)
        if frame.get("t") not in types:
            raise ClientError(Code.BAD_FRAME, f"Expected {types}, got {frame.get('t')}.")
        return Event(frame["t"], frame)

    def _start(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                try:
                    if not isinstance(raw, bytes):
                        raise SafespaceError(Code.BAD_FRAME)
                    frame = check_outbound(decode(raw))
                except SafespaceError:
                    # Not a frame of the protocol (a text frame, a broken map, a
                    # known type with a field missing or of the wrong type, a
                    # type of a newer server): dropped whole, never half-applied.
                    self.dropped += 1
                    continue
                self._absorb(Event("frame", frame))
                await self._flush()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason or ""
            self._emit(Event("closed", {"code": self.close_code, "reason": self.close_reason}))
            self._progress.set()

    # ---- the live view ------------------------------------------------------

    def _absorb(self, raw: Event) -> None:
        frame = raw.fields
        if frame.get("t") == "error" and "ref" in frame:
            self._key_frame_refused(frame)
        self.codec.on_frame(frame)
        kind = frame.get("t", "?")
        opened = None
        if kind in TEXT_FRAMES:
            with contextlib.suppress(ValueError):
                opened = self.codec.open(frame)
        self._track(frame)
        for pid, entry in self.roster.items():
            entry["verified"] = self.codec.verified(pid)
        alerts: tuple[str, ...] = ()
        if opened is None:
            self._emit(Event(kind, frame))
        else:
            cw, reported = opened.cw, opened.reported
            if self.content is not None and kind == "msg":
                checked = self.content.check_received(opened.text, cw)
                cw, alerts = checked.cw, checked.alerts
            elif self.content is not None and reported is not None and reported.text is not None:
                # A report shows the facilitators the message with its labels too.
                labels = self.content.check_received(reported.text, reported.cw).cw
                reported = dataclasses.replace(reported, cw=labels)
            self._emit(Event(kind, frame, opened.text, opened.verified, reported, cw))
        if alerts and self.role == "facilitator":
            self._flag(frame, alerts)
        if self.content is not None and kind in ("welcome", "content_rules"):
            self._content_rules(frame)
        self._warn()

    def _content_rules(self, frame: dict[str, Any]) -> None:
        """The group's content rules changed (or arrived): checked, else shipped + warning."""
        assert self.content is not None
        if self.group_id is None:
            return
        with contextlib.suppress(KeyError, TypeError):
            rules = frame["group"].get("content_rules") if "group" in frame else frame["rules"]
            if not self.content.set_rules(self.group_id, rules):
                # rules_unverified, or rules_replayed (an older tuning: the rules stay).
                self._emit(Event("warning", {"code": self.content.warning or RULES_UNVERIFIED}))

    def _flag(self, frame: dict[str, Any], alerts: tuple[str, ...]) -> None:
        """A facilitator's own alert for a room message it opened: categories, never text."""
        msg_id = frame.get("id")
        if not isinstance(msg_id, int) or msg_id in self._alerted:
            return
        self._alerted[msg_id] = None
        while len(self._alerted) > ALERTED_REMEMBERED:
            del self._alerted[next(iter(self._alerted))]
        for category in alerts:
            fields = {"kind": "content", "category": category, "from": frame.get("from")}
            self._emit(Event("alert", {**fields, "local": True, "msg": msg_id}))

    def _warn(self) -> None:
        for notice in self.codec.notices():
            self._emit(Event("warning", notice))

    def warnings(self) -> list[dict[str, Any]]:
        """What stands warned about now: unverified link or people, unchecked content rules."""
        unchecked = self.content is not None and self.content.unverified
        return self.codec.warnings() + ([{"code": RULES_UNVERIFIED}] if unchecked else [])

    def _emit(self, event: Event) -> None:
        self.history.append(event)
        self._inbox.put_nowait(event)

    # ---- receiving ----------------------------------------------------------

    async def next(self, *types: str, timeout: float = 5.0) -> Event:
        """The next event of one of ``types`` (any type if none), skipping others."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self._inbox.get()
                if not types or event.type in types:
                    return event
                if event.type == "closed":
                    raise ClientError(
                        Code.SESSION_ENDED, f"Connection closed ({event['code']}).", event["code"]
                    )

    async def nothing(self, *types: str, within: float = 0.3) -> None:
        """Assert that no event of ``types`` arrives within ``within`` seconds."""
        with contextlib.suppress(TimeoutError):
            event = await self.next(*types, timeout=within)
            raise AssertionError(f"unexpected {event.type}: {event.fields}")

    async def keys_ready(self, pids: Iterable[str] | None = None, timeout: float = 5.0) -> None:
        """Wait until keys are exchanged with ``pids`` (default: every trusted participant present).

        That is: this client holds their chains, and has sent them its own.
        Raises ``TimeoutError`` (for a participant who never becomes trusted, say).
        """
        wanted = list(pids) if pids is not None else None
        async with asyncio.timeout(timeout):
            while not (self.codec.ready(wanted) and not self._sending.locked()):
                if self.close_code is not None:
                    raise ClientError(
                        Code.SESSION_ENDED, f"Connection closed ({self.close_code}).", None
                    )
                self._progress.clear()
                await self._progress.wait()

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Wait until the server closes the connection; its close code."""
        if self._reader is None:
            await asyncio.wait_for(self.ws.wait_closed(), timeout)
            return self.ws.close_code
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        return self.close_code

    # ---- sending ------------------------------------------------------------

    async def _send(self, kind: str, /, **fields: Any) -> int:
        ref = next(self._refs)
        await self.ws.send(encode({"t": kind, "ref": ref, **fields}))
        return ref

    async def _send_queued(self) -> None:
        """Send what the codec queued, in order (the caller holds ``_sending``)."""
        for frame in self.codec.outgoing():
            fields = {k: v for k, v in frame.items() if k != "t"}
            ref = await self._send(frame["t"], **fields)
            remember(self._key_frames, ref, frame, KEY_FRAMES_REMEMBERED)

    def _key_frame_refused(self, error: dict[str, Any]) -> None:
        """The server refused one of the codec's frames: not delivered; retried later.

        A spent budget (``flood``) says when to try again (``retry_after``); the
        codec then sends what is still wanted (our current chain, a vouch for
        the same keys), once, whatever number of frames were refused meanwhile.
        """
        frame = self._key_frames.pop(error.get("ref"), None)  # type: ignore[arg-type]
        if frame is None:
            return
        self.codec.refused(frame)
        if error.get("code") not in RETRY_CODES or self._retry is not None:
            return
        detail = error.get("detail") or {}
        delay = min(max(float(detail.get("retry_after") or 1.0), 0.1), KEY_RETRY_MAX_SECONDS)
        self._retry = asyncio.get_running_loop().call_later(delay, self._retry_key_frames)

    def _retry_key_frames(self) -> None:
        self._retry = None
        self.codec.retry()
        if not self.ws.close_code:
            task = asyncio.ensure_future(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _flush(self) -> None:
        try:
            async with self._sending:
                await self._send_queued()
        except ConnectionClosed:
            pass
        finally:
            self._progress.set()

    async def _sealed(self, kind: str, seal: Callable[[], bytes], **fields: Any) -> int:
        """Seal, then send the codec's queued frames, then the payload: one step."""
        try:
            async with self._sending:
                payload = seal()
                await self._send_queued()
                return await self._send(kind, payload=payload, **fields)
        finally:
            self._progress.set()
            self._warn()

    async def send(self, text: str, cw: str | None = None, *, confirm_warn: bool = False) -> int:
        """A message to the room; ``cw``: a content warning, sealed inside its body.

        The warning is trimmed, and one of more than 80 characters is refused
        (``CannotSeal``, a ``ValueError``): nothing is sent.

        With content rules (``self.content``), the text is checked first:

        * a ``block`` category: ``ContentBlocked`` (categories and the rules'
          messages), after one ``alert`` frame {kind "content", category} per
          alert category: the facilitators learn a member may need support,
          although nobody sees the message. Nothing else is sent.
        * a ``warn`` category and not ``confirm_warn``: ``ContentNeedsConfirmation``
          with the rules' messages; nothing at all is sent (no alert either).
        * ``cw`` categories: their labels join ``cw`` in the body, after the
          sender's own warning, as many as fit in 80 characters
          (``clients.content.sender_cw``); receivers add any left out.
        * then the message, and one ``alert`` frame per alert category.
        """
        if self.content is None:
            if cw is None:
                return await self._sealed("chat", lambda: self.codec.seal(text))
            return await self._sealed("chat", lambda: self.codec.seal(text, cw))
        try:
            out = self.content.check_send(text, cw, confirm_warn=confirm_warn)
        except ContentBlocked as blocked:
            for category in blocked.alerts:
                await self.alert("content", category)
            raise
        warning = out.cw
        if warning is None:
            ref = await self._sealed("chat", lambda: self.codec.seal(text))
        else:
            ref = await self._sealed("chat", lambda: self.codec.seal(text, warning))
        for category in out.alerts:
            await self.alert("content", category)
        return ref

    async def private(self, text: str, to: str | None = None) -> int:
        """A message in a private thread: a member's to the facilitators; a
        facilitator's into member ``to``'s thread (the member and the
        facilitators read it), or without ``to`` to the facilitators only."""
        fields = {"to": to} if to is not None else {}
        return await self._sealed("private", lambda: self.codec.seal_private(text, to), **fields)

    async def report(self, msg_id: int, note: str = "") -> int:
        """Report message ``msg_id`` to the facilitators, with the proof of who wrote it."""
        return await self._sealed(
            "report", lambda: self.codec.seal_report(msg_id, note), msg=msg_id
        )

    async def alert(self, kind: str = "support", category: str | None = None) -> int:
        fields: dict[str, Any] = {"kind": kind}
        if category is not None:
            fields["category"] = category
        return await self._send("alert", **fields)

    async def alert_seen(self, alert_id: int) -> int:
        """A facilitator's client shows alert ``alert_id``: the member is told it was seen.

        Call it when a person can see the alert, not on receipt: the member is
        told a facilitator has it on their screen.
        """
        return await self._send("alert_seen", id=alert_id)

    async def handled(self, alert_id: int) -> int:
        """Mark an alert handled: it closes for every facilitator, and the member is told."""
        return await self._send("handled", id=alert_id)

    async def direct(self, pid: str, payload: bytes) -> int:
        return await self._send("direct", to=pid, payload=payload)

    async def hand(self, up: bool = True, pid: str | None = None) -> int:
        return await self._send("hand", up=up, **({"pid": pid} if pid else {}))

    async def step_out(self) -> None:
        """A break: out of the room, still connected (the private thread, support
        and reports keep working); ``back`` returns. A knocker withdraws instead,
        and the server closes."""
        await self._send("step_out")
        if not self.admitted:
            await self.closed()

    async def back(self) -> int:
        """Back in the room from a break, on the same connection."""
        return await self._send("back")

    async def leave(self) -> None:
        await self._send("leave")
        await self.closed()

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._reader, 2)
