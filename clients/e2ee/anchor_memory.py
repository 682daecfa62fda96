"""What a facilitator's device remembers of a session it is in (docs/e2ee.md section 3.1).

A facilitator's client chooses an anchor per session and vouches under it.
If the device forgot it (the terminal client restarted mid-session, a laptop
that crashed), its new page would have to choose a new one, and past its own
locked door it vouches by itself for nobody it does not remember admitting:
every member would show as "entered without your admission". So the device
keeps, per session, the anchor and the pids it vouched for or let in, beside
its identity key and as private as it (mode 0600). No names, no text: pids
are the server's per-session numbers.

``AnchorMemory`` is what the codec needs; ``InMemory`` keeps it for one
process (the default), ``AnchorFile`` in a file for a restart.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from clients.e2ee import primitives
from rooms.links import b64u_decode, b64u_encode

SESSIONS_KEPT = 16  # the most recent sessions remembered; older ones are dropped
# A session lasts about 70 minutes. A memory older than this is not used even
# if the device never saw that session end: a server reusing a session id next
# week must not find the old anchor still in force.
KEPT_SECONDS = 12 * 3600


@dataclass
class SessionMemory:
    anchor: bytes
    vouched: set[str] = field(default_factory=set)
    letting_in: set[str] = field(default_factory=set)

    def copy(self) -> SessionMemory:
        return SessionMemory(self.anchor, set(self.vouched), set(self.letting_in))


class AnchorMemory(Protocol):
    def load(self, ctx: bytes) -> SessionMemory | None:
        """What was kept for the session ``ctx`` names, if anything."""
        ...

    def save(self, ctx: bytes, memory: SessionMemory) -> None:
        """Keep ``memory`` for the session ``ctx`` names (replacing what was kept)."""
        ...

    def forget(self, ctx: bytes) -> None:
        """The session ended: nothing of it is kept."""
        ...


def _key(ctx: bytes) -> str:
    # The session's ctx names group and session; a digest keeps even the ids out of the file.
    return primitives.sha256(ctx).hex()


class InMemory:
    """Kept for as long as the process runs."""

    def __init__(self) -> None:
        self._kept: dict[str, SessionMemory] = {}

    def load(self, ctx: bytes) -> SessionMemory | None:
        kept = self._kept.get(_key(ctx))
        return None if kept is None else kept.copy()

    def save(self, ctx: bytes, memory: SessionMemory) -> None:
        self._kept[_key(ctx)] = memory.copy()

    def forget(self, ctx: bytes) -> None:
        self._kept.pop(_key(ctx), None)


class AnchorFile:
    """Kept in a JSON file readable by its owner only; a damaged file is started afresh."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, dict[str, object]]:
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                return data
        return {}

    def _write(self, data: dict[str, dict[str, object]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), 0o600)
            json.dump(data, f)
        os.replace(tmp, self.path)

    def load(self, ctx: bytes) -> SessionMemory | None:
        entry = self._read().get(_key(ctx))
        try:
            assert isinstance(entry, dict)
            assert time.time() - float(entry["at"]) < KEPT_SECONDS  # type: ignore[arg-type]
            anchor = b64u_decode(str(entry["anchor"]))
            vouched = {str(p) for p in entry.get("vouched", [])}  # type: ignore[attr-defined]
            letting_in = {str(p) for p in entry.get("letting_in", [])}  # type: ignore[attr-defined]
        except (AssertionError, KeyError, TypeError, ValueError):
            return None
        return SessionMemory(anchor, vouched, letting_in)

    def save(self, ctx: bytes, memory: SessionMemory) -> None:
        data = self._read()
        data.pop(_key(ctx), None)
        data[_key(ctx)] = {
            "anchor": b64u_encode(memory.anchor),
            "vouched": sorted(memory.vouched),
            "letting_in": sorted(memory.letting_in),
            "at": time.time(),
        }
        while len(data) > SESSIONS_KEPT:
            data.pop(next(iter(data)))
        with contextlib.suppress(OSError):  # a device that cannot keep it just forgets
            self._write(data)

    def forget(self, ctx: bytes) -> None:
        data = self._read()
        if data.pop(_key(ctx), None) is not None:
            with contextlib.suppress(OSError):
                self._write(data)
