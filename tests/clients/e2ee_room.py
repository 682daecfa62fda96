"""A room in memory that plays the server's part for the encryption tests.

It keeps the roster (with vouches), numbers messages and relays frames with
the shapes of docs/protocol.md and rooms/session.py: ``welcome``, ``joined``,
``presence``, ``left``, ``removed``, ``vouch``, ``direct``, ``msg``,
``private`` and ``report``. Delivery is synchronous and in order, so the
tests need neither an event loop nor a network. Like a client, it sends a
codec's queued frames before the payload sealed after them.

Being the server, it can also misbehave on purpose: ``inject`` shows a
participant to some clients only, ``deliver`` hands anyone any frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from clients.e2ee import E2EECodec, IdentityKey
from clients.payload import Opened
from rooms.links import b64u_encode

GROUP = "g_3f9a1c2b7d4e"
SESSION = "00112233445566778899aabbccddeeff"


@dataclass
class Seat:
    pid: str
    name: str
    role: str
    codec: E2EECodec
    present: bool = True
    vouches: dict[bytes, tuple[bytes, bytes]] = field(default_factory=dict)  # by: (anchor, sig)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    # What each text frame opened to: (frame, Opened) or (frame, the exception).
    got: list[tuple[dict[str, Any], Opened | Exception]] = field(default_factory=list)

    @property
    def keys(self) -> bytes:
        return self.codec.public_keys()

    def public(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "name": self.name,
            "role": self.role,
            "present": self.present,
            "hand": False,
            "muted": False,
            "until": None,
            "keys": self.keys,
            "vouches": [
                {"by": by, "anchor": anchor, "sig": sig}
                for by, (anchor, sig) in self.vouches.items()
            ],
        }

    def texts(self, kind: str = "msg") -> list[str | None]:
        """What this participant could read of each frame of ``kind``, in order."""
        return [
            got.text if isinstance(got, Opened) else None
            for frame, got in self.got
            if frame["t"] == kind
        ]

    def last(self) -> Opened | Exception:
        return self.got[-1][1]


class Room:
    def __init__(self, group: str = GROUP, session: str = SESSION) -> None:
        self.group, self.session = group, session
        self.seats: dict[str, Seat] = {}
        self.last_msg = 0
        self.state = "lobby"  # what welcomes say (a facilitator's client reads its door from it)
        self._pids = 0
        self.log: list[tuple[str, dict[str, Any]]] = []  # (recipient, frame) in order

    # ---- people ------------------------------------------------------------------

    def facilitator(
        self, name: str = "Alex", identity: IdentityKey | None = None, **kw: Any
    ) -> Seat:
        codec = E2EECodec.facilitator(identity or IdentityKey.generate(), **kw)
        return self.join(codec, name, role="facilitator")

    def member(self, name: str, link_keys: Iterable[bytes] | None = None, **kw: Any) -> Seat:
        """A member whose link names ``link_keys`` (default: every facilitator's so far)."""
        if link_keys is None:
            link_keys = [
                s.codec.identity.public
                for s in self.seats.values()
                if s.role == "facilitator" and s.codec.identity is not None
            ]
        fragment = "&".join(f"f={b64u_encode(k)}" for k in link_keys)
        link = f"https://chat.example/join#seat=TOKEN{'&' + fragment if fragment else ''}"
        return self.join(E2EECodec.member(link, **kw), name)

    def join(self, codec: E2EECodec, name: str, role: str = "member") -> Seat:
        self._pids += 1
        seat = Seat(f"p{self._pids}", name, role, codec)
        self.seats[seat.pid] = seat
        self.deliver(seat.pid, self.welcome(seat))
        self.to_room({"t": "joined", "p": seat.public()})
        self.pump()
        return seat

    def inject(self, codec: E2EECodec, name: str, shown_to: Iterable[Seat]) -> Seat:
        """A participant the server adds, telling only ``shown_to`` (never the facilitator)."""
        self._pids += 1
        seat = Seat(f"p{self._pids}", name, "member", codec)
        self.seats[seat.pid] = seat
        self.deliver(seat.pid, self.welcome(seat))
        for other in shown_to:
            self.deliver(other.pid, {"t": "joined", "p": seat.public()})
        self.pump()
        return seat

    def welcome(self, seat: Seat) -> dict[str, Any]:
        return {
            "t": "welcome",
            "you": seat.pid,
            "role": seat.role,
            "session": self.session,
            "state": self.state,
            "paused": False,
            "started_at": None,
            "slow_mode_seconds": 0.0,
            "last_msg": self.last_msg,
            "group": {"id": self.group, "title": "T", "capacity": 8},
            "roster": [s.public() for s in self.seats.values()],
        }

    def step_out(self, seat: Seat) -> None:
        seat.present = False
        self.to_room({"t": "presence", "pid": seat.pid, "present": False})
        self.pump()

    def come_back(self, seat: Seat, codec: E2EECodec) -> None:
        """Back from a new page: new keys, so the old vouches are dropped."""
        if codec.public_keys() != seat.keys:
            seat.vouches.clear()
        seat.codec, seat.present = codec, True
        self.deliver(seat.pid, self.welcome(seat))
        self.to_room(
            {
                "t": "presence",
                "pid": seat.pid,
                "present": True,
                "name": seat.name,
                "keys": seat.keys,
            }
        )
        self.pump()

    def leave(self, seat: Seat) -> None:
        del self.seats[seat.pid]
        self.to_room({"t": "left", "pid": seat.pid})
        self.pump()

    def remove(self, seat: Seat, by: Seat | None = None, for_good: bool = False) -> None:
        """``seat`` is removed; ``by`` (a facilitator's seat) signs the removal."""
        proof = by.codec.removal_proof(seat.pid, for_good) if by is not None else {}
        del self.seats[seat.pid]
        self.to_room({"t": "removed", "pid": seat.pid, "for_good": for_good, **proof})
        self.pump()

    # ---- frames ------------------------------------------------------------------

    def deliver(self, pid: str, frame: dict[str, Any]) -> None:
        seat = self.seats[pid]
        if not seat.present:
            return
        self.log.append((pid, frame))
        seat.inbox.append(frame)
        seat.codec.on_frame(frame)
        if frame["t"] in ("msg", "private", "report"):
            try:
                seat.got.append((frame, seat.codec.open(frame)))
            except ValueError as e:
                seat.got.append((frame, e))

    def to_room(self, frame: dict[str, Any]) -> None:
        for pid in list(self.seats):
            self.deliver(pid, frame)

    def to_facilitators(self, frame: dict[str, Any]) -> None:
        for seat in list(self.seats.values()):
            if seat.role == "facilitator":
                self.deliver(seat.pid, frame)

    def pump(self) -> None:
        """Send every queued frame (and what they cause) until all codecs are quiet."""
        busy = True
        while busy:
            busy = False
            for seat in list(self.seats.values()):
                for frame in seat.codec.outgoing():
                    busy = True
                    self.inbound(seat, frame)

    def inbound(self, sender: Seat, frame: dict[str, Any]) -> None:
        """A frame from a client, handled as rooms/session.py does."""
        kind = frame["t"]
        if kind == "vouch":
            assert sender.role == "facilitator"
            target = self.seats.get(frame["pid"])
            signed = (frame["anchor"], frame["sig"])
            if target is None or target.vouches.get(frame["by"]) == signed:
                return
            target.vouches[frame["by"]] = signed
            self.to_room(
                {
                    "t": "vouch",
                    "pid": frame["pid"],
                    "by": frame["by"],
                    "anchor": frame["anchor"],
                    "sig": frame["sig"],
                }
            )
        elif kind == "direct":
            if frame["to"] in self.seats:
                self.deliver(
                    frame["to"], {"t": "direct", "from": sender.pid, "payload": frame["payload"]}
                )
        else:
            raise AssertionError(f"unexpected frame from a codec: {kind}")

    def chat(self, seat: Seat, text: str, cw: str | None = None) -> dict[str, Any]:
        """``seat`` sends ``text`` (behind content warning ``cw``); the ``msg`` frame sent."""
        payload = seat.codec.seal(text, cw)
        self.pump()
        return self.relay_msg(seat.pid, payload)

    def relay_msg(self, sender: str, payload: bytes) -> dict[str, Any]:
        self.last_msg += 1
        frame = {"t": "msg", "id": self.last_msg, "from": sender, "payload": payload, "ts": 1.0}
        self.to_room(frame)
        return frame

    def private(self, seat: Seat, text: str) -> dict[str, Any]:
        payload = seat.codec.seal_private(text)
        self.pump()
        frame = {"t": "private", "from": seat.pid, "payload": payload, "ts": 1.0}
        self.to_facilitators(frame)
        return frame

    def report(self, seat: Seat, msg_id: int, note: str) -> dict[str, Any]:
        payload = seat.codec.seal_report(msg_id, note)
        self.pump()
        frame = {"t": "report", "from": seat.pid, "msg": msg_id, "payload": payload, "ts": 1.0}
        self.to_facilitators(frame)
        return frame

    def open_as(self, seat: Seat, frame: dict[str, Any]) -> Opened:
        """Hand ``seat`` any frame, as a malicious server could; what it opens to."""
        return seat.codec.open(frame)
