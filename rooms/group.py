"""A group: the durable settings a weekly meeting runs under.

Validation lives here so that the HTTP API, the CLI and the stores all accept
exactly the same groups and refuse the rest with the same ``Invalid`` errors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from rooms.errors import Invalid

DEFAULT_CAPACITY = 8
MAX_CAPACITY = 32
DEFAULT_DURATION_MINUTES = 70
MAX_TEXT = 2000
MAX_ITEMS = 30
MAX_SHOWN_BYTES = 16 * 1024


@dataclass(frozen=True)
class Group:
    """What a facilitator sets up once and reuses every week.

    ``capacity`` counts members only: facilitators never take a seat.
    ``slow_mode_seconds`` is the least gap between two messages of one member
    (0 = off); ``flood_messages`` within ``flood_window_seconds`` is the most a
    member may send before being asked to let others talk.
    """

    id: str
    title: str
    capacity: int = DEFAULT_CAPACITY
    ground_rules: tuple[str, ...] = ()
    crisis_resources: tuple[str, ...] = ()
    duration_minutes: int = DEFAULT_DURATION_MINUTES
    slow_mode_seconds: float = 0.0
    flood_messages: int = 5
    flood_window_seconds: float = 10.0
    max_payload_bytes: int = 16 * 1024
    facilitators: tuple[str, ...] = field(default=())
    # A facilitator's tuning of the content rules, signed by its identity key
    # (docs/e2ee.md section 11): {"tuning": JSON text, "by": key, "sig": sig,
    # "version": int, "signed_at": ms}, key and sig base64url. The server stores
    # and relays it; clients check and apply it (and refuse an older one).
    content_rules: dict[str, Any] | None = None

    def run_by(self, account: str) -> bool:
        """Is ``account`` one of this group's facilitators, by the group's current list?

        The one place that decides it: the websocket's hello, the session's
        facilitator commands and the API all ask here.
        """
        return account in self.facilitators

    def rules_digest(self) -> str:
        """A short fingerprint of the ground rules a member must accept.

        The member echoes it back, so an acceptance always refers to the rules
        the member was actually shown, even if a facilitator edits them meanwhile.
        """
        h = hashlib.sha256()
        for rule in self.ground_rules:
            data = rule.encode()
            h.update(len(data).to_bytes(4, "big"))  # length-prefixed: no two lists alike
            h.update(data)
        return h.hexdigest()[:16]

    def public(self) -> dict[str, Any]:
        """The group as the API and the stores hand it out."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


EDITABLE = (
    "title",
    "capacity",
    "ground_rules",
    "crisis_resources",
    "duration_minutes",
    "slow_mode_seconds",
    "flood_messages",
    "flood_window_seconds",
    "content_rules",
)
MAX_TUNING_CHARS = 8192
_B64U = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _text(name: str, value: object, *, limit: int = MAX_TEXT, empty: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid(name, f"{name} must be text.")
    value = value.strip()
    if not value and not empty:
        raise Invalid(name, f"{name} must not be empty.")
    if len(value) > limit:
        raise Invalid(name, f"{name} must be at most {limit} characters.")
    return value


def _texts(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [line for line in value.splitlines() if line.strip()]
    if not isinstance(value, list | tuple) or len(value) > MAX_ITEMS:
        raise Invalid(name, f"{name} must be a list of at most {MAX_ITEMS} texts.")
    return tuple(_text(name, item) for item in value)


def _number(name: str, value: object, lo: float, hi: float, *, whole: bool) -> Any:
    ok_type = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_type):
        raise Invalid(name, f"{name} must be a {'whole ' if whole else ''}number.")
    if not lo <= value <= hi:
        raise Invalid(name, f"{name} must be between {lo:g} and {hi:g}.")
    return value


def _b64u(name: str, value: object, length: int) -> str:
    # base64url without padding of ``length`` bytes has exactly this many characters.
    chars = (length * 8 + 5) // 6
    if not isinstance(value, str) or len(value) != chars or not set(value) <= _B64U:
        raise Invalid(name, f"{name} must be {length} bytes in base64url without padding.")
    return value


MAX_RULES_VERSION = 0xFFFF_FFFF  # a u32 in the signed statement
MAX_RULES_SIGNED_AT = 2**53  # milliseconds; every integer up to here is exact in JavaScript


def _whole(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise Invalid("content_rules", f"content_rules.{name} must be a whole number {lo} to {hi}.")
    return value


def _content_rules(value: object) -> dict[str, Any] | None:
    """The shape only: whether the tuning is valid rules is the engine's to say
    (chatserver/admin.py asks it), and whether the signature holds, the clients'.

    ``{tuning, by, sig, version, signed_at}`` (docs/e2ee.md section 11); the
    two numbers may be left out together (an older signer's rules, which
    clients no longer verify), never one alone.
    """
    if value is None:
        return None
    name = "content_rules"
    shapes = ({"tuning", "by", "sig"}, {"tuning", "by", "sig", "version", "signed_at"})
    if not isinstance(value, dict) or set(value) not in shapes:
        raise Invalid(
            name,
            "content_rules must be {tuning, by, sig, version, signed_at} "
            "(or null for the defaults).",
        )
    tuning = value["tuning"]
    if not isinstance(tuning, str) or not 0 < len(tuning) <= MAX_TUNING_CHARS:
        raise Invalid(
            name,
            f"content_rules.tuning must be JSON text of at most {MAX_TUNING_CHARS} characters.",
        )
    out: dict[str, Any] = {
        "tuning": tuning,
        "by": _b64u(name, value["by"], 32),
        "sig": _b64u(name, value["sig"], 64),
    }
    if "version" in value:
        out["version"] = _whole("version", value["version"], 1, MAX_RULES_VERSION)
        out["signed_at"] = _whole("signed_at", value["signed_at"], 0, MAX_RULES_SIGNED_AT)
    return out


_CHECKS: dict[str, Callable[[object], Any]] = {
    "title": lambda v: _text("title", v, limit=120),
    "capacity": lambda v: _number("capacity", v, 1, MAX_CAPACITY, whole=True),
    "ground_rules": lambda v: _texts("ground_rules", v),
    "crisis_resources": lambda v: _texts("crisis_resources", v),
    "duration_minutes": lambda v: _number("duration_minutes", v, 5, 600, whole=True),
    "slow_mode_seconds": lambda v: float(_number("slow_mode_seconds", v, 0, 600, whole=False)),
    "flood_messages": lambda v: _number("flood_messages", v, 1, 10_000, whole=True),
    "flood_window_seconds": lambda v: float(
        _number("flood_window_seconds", v, 1, 600, whole=False)
    ),
    "content_rules": _content_rules,
}


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Check a partial group (from the API or the CLI); unknown keys are refused."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        # The key is the client's text: named only if it looks like a setting name.
        shown = unknown[0] if unknown[0].isidentifier() and len(unknown[0]) <= 40 else "?"
        raise Invalid(shown, "That is not a group setting.")
    return {k: _CHECKS[k](v) for k, v in changes.items()}


def _fits(group: Group) -> Group:
    """Rules, resources and title travel in one frame to every member: keep it small."""
    texts = (group.title, *group.ground_rules, *group.crisis_resources)
    if sum(len(t.encode()) for t in texts) > MAX_SHOWN_BYTES:
        raise Invalid(
            "ground_rules",
            f"Title, ground rules and crisis resources together must fit in "
            f"{MAX_SHOWN_BYTES // 1024} KiB.",
        )
    return group


def new_group(group_id: str, facilitator: str, settings: dict[str, Any]) -> Group:
    """A group created by ``facilitator``; ``title`` is the one required setting."""
    if "title" not in settings:
        raise Invalid("title", "title is required.")
    return _fits(Group(id=group_id, facilitators=(facilitator,), **validate_changes(settings)))


def edited(group: Group, changes: dict[str, Any]) -> Group:
    return _fits(replace(group, **validate_changes(changes)))
