"""What a facilitator's client can ask of the room: one method per command.

A part of ``ChatClient`` (clients/client.py), which sends the frames; each
command is one frame and its result arrives as events. The door commands
and admissions also tell an encrypting codec what this facilitator did, so
that whom it vouches for by itself follows the facilitator's own acts, not
the server's word (docs/e2ee.md section 3).
"""

from __future__ import annotations

import asyncio
from typing import Any

from clients.payload import PayloadCodec


class FacilitatorCommands:
    codec: PayloadCodec
    _sending: asyncio.Lock

    async def _send(self, kind: str, /, **fields: Any) -> int:
        raise NotImplementedError  # ChatClient's

    async def _send_queued(self) -> None:
        raise NotImplementedError  # ChatClient's

    async def open(self) -> int:
        self.codec.door(True)
        return await self._send("open")

    async def start(self) -> int:
        self.codec.door(False)
        return await self._send("start")

    async def lock(self) -> int:
        self.codec.door(False)
        return await self._send("lock")

    async def vouch_for(self, pid: str) -> None:
        """Vouch by hand for ``pid``, whom the server let in past this facilitator's lock."""
        async with self._sending:
            self.codec.vouch_for(pid)
            await self._send_queued()

    async def unlock(self) -> int:
        self.codec.door(True)
        return await self._send("unlock")

    async def pause(self) -> int:
        return await self._send("pause")

    async def resume(self) -> int:
        return await self._send("resume")

    async def end(self) -> int:
        return await self._send("end")

    async def admit(self, pid: str) -> int:
        self.codec.letting_in(pid)
        return await self._send("admit", pid=pid)

    async def refuse(self, pid: str) -> int:
        return await self._send("refuse", pid=pid)

    async def mute(self, pid: str) -> int:
        return await self._send("mute", pid=pid)

    async def unmute(self, pid: str) -> int:
        return await self._send("unmute", pid=pid)

    async def time_out(self, pid: str, seconds: int) -> int:
        return await self._send("timeout", pid=pid, seconds=seconds)

    async def remove(self, pid: str, for_good: bool = False) -> int:
        """Remove ``pid``; our device signs it, so every client bars their keys (e2ee 3.3)."""
        proof = self.codec.removal_proof(pid, for_good)
        return await self._send("remove", pid=pid, for_good=for_good, **proof)

    async def delete(self, msg_id: int) -> int:
        return await self._send("delete", msg=msg_id)

    async def slow_mode(self, seconds: float) -> int:
        return await self._send("slow", seconds=seconds)
