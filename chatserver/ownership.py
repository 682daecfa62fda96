"""One owner node per live room, under a lease fenced by an epoch (issue 15).

With several nodes on one Redis, each live room has exactly one owner: the
node whose memory holds its ``Session`` and runs its moderation pipeline.
Ownership is a lease in Redis (``ss:{g:ID}:owner`` = ``node|epoch``, with a
PX expiry) that the owner renews. The epoch is the fencing token
(martin.kleppmann.com/2016/02/08/how-to-do-distributed-locking.html): every
write the owner makes to the room's keys goes through a Redis function that
first checks the lease still names that node and epoch, so an owner that was
paused past its lease (a SIGSTOP, a long GC, a partition) and comes back has
every write refused, even before it notices.

Epochs only ever rise: a claim takes ``max(last + 1, Redis TIME in ms)``,
so even a Redis restarted empty (which forgets ``last``) hands out a higher
epoch than any before it, and the edges, which drop records below the
highest epoch they saw, are never fooled by an old owner.

The functions are one Lua library (``LIBRARY``), loaded on every connect
(``FUNCTION LOAD REPLACE``) and again whenever Redis answers that it does not
know them (a restart that lost them). Every key a function touches is passed
as a key and carries the room's hash tag, so a room's keys live together.

Keys per room (all removed when the session ends):

| key | value | expiry |
|---|---|---|
| ``ss:{g:ID}:owner`` | ``node|epoch`` | the lease (default 6 s), renewed |
| ``ss:{g:ID}:epoch`` | the last epoch handed out | none |
| ``ss:{g:ID}:snap`` | the session's snapshot (rooms/snapshot.py) | 30 min, from each commit |
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

LEASE_MS = 6000
# The owner stops acting this long before its lease runs out by Redis' clock,
# counted from when it *sent* the renew: clocks and delays differ between
# machines, and it must give up before anyone else can take over.
SAFETY_MS = 1000
SNAPSHOT_TTL_MS = 30 * 60 * 1000

LIBRARY = """#!lua name=safespace_rooms

-- KEYS: owner, epoch.  ARGV: node, lease_ms.  The new epoch, or false if held.
local function claim(keys, args)
  if redis.call('EXISTS', keys[1]) == 1 then return false end
  local t = redis.call('TIME')
  local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local last = tonumber(redis.call('GET', keys[2]) or '0')
  local epoch = math.max(last + 1, now_ms)
  redis.call('SET', keys[2], string.format('%d', epoch))
  redis.call('SET', keys[1], args[1] .. '|' .. string.format('%d', epoch), 'PX', args[2])
  return epoch
end

local function holds(owner_key, node, epoch)
  return redis.call('GET', owner_key) == node .. '|' .. epoch
end

-- KEYS: owner.  ARGV: node, epoch, lease_ms.  1 if still ours (and renewed).
local function renew(keys, args)
  if not holds(keys[1], args[1], args[2]) then return 0 end
  redis.call('PEXPIRE', keys[1], args[3])
  return 1
end

-- KEYS: owner, snap.  ARGV: node, epoch, snapshot, ttl_ms.  1 if written.
local function commit(keys, args)
  if not holds(keys[1], args[1], args[2]) then return 0 end
  redis.call('SET', keys[2], args[3], 'PX', args[4])
  return 1
end

-- KEYS: owner.  ARGV: node, epoch.  1 if it was ours and is now free.
local function release(keys, args)
  if not holds(keys[1], args[1], args[2]) then return 0 end
  redis.call('DEL', keys[1])
  return 1
end

-- KEYS: owner, snap, epoch.  ARGV: node, epoch.  The session ended: nothing is left.
local function finish(keys, args)
  if not holds(keys[1], args[1], args[2]) then return 0 end
  redis.call('DEL', keys[1], keys[2], keys[3])
  return 1
end

redis.register_function('ss_claim', claim)
redis.register_function('ss_renew', renew)
redis.register_function('ss_commit', commit)
redis.register_function('ss_release', release)
redis.register_function('ss_finish', finish)
"""


def room_keys(room: str) -> tuple[str, str, str]:
    """The owner, epoch and snapshot keys of ``room``, under one hash tag."""
    tag = f"ss:{{g:{room}}}"
    return f"{tag}:owner", f"{tag}:epoch", f"{tag}:snap"


@dataclass
class Lease:
    """This node's hold on one room, while ``valid``."""

    room: str
    node: str
    epoch: int
    # time.monotonic() after which this node must not act for the room.
    deadline: float

    def valid(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.deadline


class Ownership:
    """Claims, renews and fenced writes of rooms for node ``node``."""

    def __init__(self, client: aioredis.Redis, node: str, lease_ms: int = LEASE_MS) -> None:
        if lease_ms <= SAFETY_MS:
            raise ValueError("the lease must be longer than its safety margin")
        self.client, self.node, self.lease_ms = client, node, lease_ms

    async def load(self) -> None:
        """Load (or reload) the function library: on connect, and after Redis lost it."""
        await self.client.function_load(LIBRARY, replace=True)

    async def _call(self, name: str, keys: list[str], args: list[str | bytes | int]) -> object:
        try:
            return await self.client.fcall(name, len(keys), *keys, *args)
        except ResponseError as e:
            if "function not found" not in str(e).lower():
                raise
        await self.load()  # Redis restarted empty: the library went with it
        return await self.client.fcall(name, len(keys), *keys, *args)

    def _deadline(self, sent: float) -> float:
        return sent + (self.lease_ms - SAFETY_MS) / 1000

    async def claim(self, room: str) -> Lease | None:
        """Take ``room`` if nobody holds it: a lease with a new, higher epoch."""
        owner, epoch_key, _ = room_keys(room)
        sent = time.monotonic()
        epoch = await self._call("ss_claim", [owner, epoch_key], [self.node, self.lease_ms])
        if not epoch:
            return None
        return Lease(room, self.node, int(epoch), self._deadline(sent))  # type: ignore[call-overload]

    async def renew(self, lease: Lease) -> bool:
        """Extend ``lease``; False (and the lease is no longer valid) if it was lost."""
        owner, _, _ = room_keys(lease.room)
        sent = time.monotonic()
        ok = await self._call("ss_renew", [owner], [lease.node, lease.epoch, self.lease_ms])
        lease.deadline = self._deadline(sent) if ok == 1 else 0.0
        return ok == 1

    async def commit(self, lease: Lease, snapshot: bytes, ttl_ms: int = SNAPSHOT_TTL_MS) -> bool:
        """Write the room's snapshot, only while ``lease`` still holds (the fence)."""
        owner, _, snap = room_keys(lease.room)
        args: list[str | bytes | int] = [lease.node, lease.epoch, snapshot, ttl_ms]
        return await self._call("ss_commit", [owner, snap], args) == 1

    async def release(self, lease: Lease) -> bool:
        """Give the room up (a graceful stop): another node may claim it at once."""
        owner, _, _ = room_keys(lease.room)
        ok = await self._call("ss_release", [owner], [lease.node, lease.epoch]) == 1
        lease.deadline = 0.0
        return ok

    async def finish(self, lease: Lease) -> bool:
        """The session ended: the room's keys go, all of them."""
        owner, epoch_key, snap = room_keys(lease.room)
        ok = await self._call("ss_finish", [owner, snap, epoch_key], [lease.node, lease.epoch])
        lease.deadline = 0.0
        return ok == 1

    async def owner(self, room: str) -> tuple[str, int] | None:
        """Who holds ``room`` now, by Redis' account."""
        raw = await self.client.get(room_keys(room)[0])
        if raw is None:
            return None
        node, _, epoch = (raw.decode() if isinstance(raw, bytes) else str(raw)).rpartition("|")
        return node, int(epoch)

    async def snapshot(self, room: str) -> bytes | None:
        raw = await self.client.get(room_keys(room)[2])
        return raw.encode() if isinstance(raw, str) else raw
