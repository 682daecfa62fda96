"""A live session as data, and back: what another node needs to carry it on.

A room's owner node keeps its ``Session`` in memory; when that node dies,
another takes the room over from the last snapshot (issue 15,
../shared/SCALEOUT.md). ``snapshot`` turns a session into plain data that
msgpack carries (no text of any message: the session never holds one; only
the live metadata: the lifecycle, the roster with keys and vouches, the door
and its knocks, mutes and time-outs, bars, reminders, open support requests,
the last message id). ``restore`` builds the session again, for the group as
the store has it now.

Not carried, on purpose: per-seat rate state and entry times (they start
afresh on the new owner, as on a reconnect within their windows) and "empty
since" (the new owner starts its own idle clock). Connections are the
shell's: every participant comes back as not connected, and the new owner
marks each one connected as its socket re-attaches.

Message ids keep rising across a takeover: ``restore`` adds ``id_gap`` to
the last id, so that ids the dead owner issued after its last snapshot are
never issued again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rooms.alerts import Alert, Status
from rooms.errors import Code, Invalid
from rooms.group import Group
from rooms.lifecycle import State
from rooms.roster import Participant, Role
from rooms.session import Session

FORMAT = 1


def snapshot(s: Session) -> dict[str, Any]:
    """The session as msgpack-able data (str keys, lists, no sets)."""
    return {
        "format": FORMAT,
        "group": s.group.id,
        "id": s.id,
        "state": str(s.state),
        "paused": s.paused,
        "started_at": s.started_at,
        "slow_mode_seconds": s.slow_mode_seconds,
        "last_msg_id": s.last_msg_id,
        "pids_issued": s._pids_issued,
        "participants": [_participant(p) for p in s.participants.values()],
        "knocks": [_participant(p) for p in s.knocks.values()],
        "pid_of_seat": dict(s._pid_of_seat),
        "barred": {seat: str(code) for seat, code in s._barred.items()},
        "mutes": dict(s._mutes),
        "reminders": list(s._reminders),
        "alerts": [_alert(a) for a in s.alerts.open.values()],
        "alerts_last_id": s.alerts.last_id,
    }


def restore(group: Group, data: object, *, id_gap: int = 0, now: float | None = None) -> Session:
    """The session ``snapshot`` made, for ``group``; ``Invalid`` if it is not one.

    ``now``: nobody is connected yet, so the idle clock starts then (a
    session nobody comes back to ends as any empty one does).
    """
    try:
        if not isinstance(data, dict) or data["format"] != FORMAT or data["group"] != group.id:
            raise Invalid("snapshot", "This snapshot is not of this group's session.")
        s = Session(group)
        s.id = str(data["id"])
        s.state = State(data["state"])
        s.paused = bool(data["paused"])
        s.started_at = data["started_at"]
        s.slow_mode_seconds = float(data["slow_mode_seconds"])
        s.last_msg_id = int(data["last_msg_id"]) + id_gap
        s._pids_issued = int(data["pids_issued"])
        s.participants = _participants(data["participants"])
        s.knocks = _participants(data["knocks"])
        s._pid_of_seat = {str(k): str(v) for k, v in data["pid_of_seat"].items()}
        s._barred = {str(k): Code(v) for k, v in data["barred"].items()}
        s._mutes = {str(k): float(v) for k, v in data["mutes"].items()}
        s._reminders = [int(m) for m in data["reminders"]]
        for raw in data["alerts"]:
            alert = Alert(
                int(raw["id"]),
                str(raw["pid"]),
                str(raw["kind"]),
                raw["category"],
                float(raw["ts"]),
                int(raw["count"]),
                Status(raw["status"]),
            )
            s.alerts.open[alert.id] = alert
        s.alerts.last_id = int(data["alerts_last_id"])
        if now is not None:
            s._empty_since = now
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise Invalid("snapshot", "This snapshot is damaged.") from e
    return s


def _participant(p: Participant) -> dict[str, Any]:
    return {
        "pid": p.pid,
        "name": p.name,
        "role": str(p.role),
        "seat": p.seat,
        "keys": p.keys,
        "present": p.present,
        "hand": p.hand,
        "on_break": p.on_break,
        "muted_until": p.muted_until,
        # A list, not a map: msgpack map keys are strings in this protocol.
        "vouches": [[by, anchor, sig] for by, (anchor, sig) in p.vouches.items()],
    }


def _participants(raw: Sequence[dict[str, Any]]) -> dict[str, Participant]:
    out = {}
    for r in raw:
        p = Participant(str(r["pid"]), str(r["name"]), Role(r["role"]), str(r["seat"]))
        p.keys = bytes(r["keys"])
        p.present, p.hand, p.on_break = bool(r["present"]), bool(r["hand"]), bool(r["on_break"])
        p.connected = False  # until its socket re-attaches to the new owner
        until = r["muted_until"]
        p.muted_until = None if until is None else float(until)
        p.vouches = {bytes(by): (bytes(a), bytes(sig)) for by, a, sig in r["vouches"]}
        out[p.pid] = p
    return out


def _alert(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "pid": a.pid,
        "kind": a.kind,
        "category": a.category,
        "ts": a.ts,
        "count": a.count,
        "status": str(a.status),
    }
