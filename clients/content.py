"""A group's content rules as one client applies them (moderation/content/README.md).

Messages are end-to-end encrypted, so the rules run on the clients: the
sender's client before sealing a room message, every receiver's client again
after opening it. ``ContentGuard`` is that logic without any I/O; the chat
client (clients/client.py) feeds it the group's rules and asks it about each
message it sends or opens.

* The policy: the shipped rules, with the group's tuning applied if a
  facilitator this client trusts signed it (docs/e2ee.md section 11). Signed
  rules that cannot be checked (no trusted identity signed them, the signature
  fails, or the link names no facilitator at all) leave the shipped rules in
  force, and the client warns ``rules_unverified``. A verified tuning older
  (by ``(version, signed_at)``) than one verified before this session is a
  replay: refused, the rules in force stay, and the client warns
  ``rules_replayed``.
* Sending: ``block`` raises ``ContentBlocked`` (the client first tells the
  facilitators each alert category); ``warn`` raises
  ``ContentNeedsConfirmation`` unless the sender confirmed; ``cw`` labels join
  the sender's own warning in the body (see ``sender_cw`` for the 80-character
  cap); alert categories are told to the facilitators, category only.
* Receiving: the body's warning and the receiver's own labels (``cw`` and
  ``block`` categories) are shown together (``union_cw``), so a modified
  sender cannot drop a label; a facilitator's client flags alert categories.

Private messages to the facilitators are never checked: a member must always
be able to tell a facilitator anything.

Errors carry categories and the rules' own messages, never the message text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from clients.e2ee.content_rules import checked_rules, valid_version
from clients.e2ee.encoding import MAX_CW_CHARS, MAX_U32, content_warning
from clients.e2ee.errors import E2EEError
from moderation.content import Policy, RulesError, default_policy, evaluate, tuned_policy
from rooms.errors import Code, SafespaceError

RULES_UNVERIFIED = "rules_unverified"  # the warning code (an Event of type "warning")
RULES_REPLAYED = "rules_replayed"  # an older verified tuning than one seen: refused
CW_SEPARATOR = ", "


# Categories about the writer's own risk: a block of one is never shown
# without the crisis resources and the truth about who is told (issue 18;
# the browser's room-compose.js and console-alerts.js name the same two).
OWN_RISK = frozenset({"self_harm", "method_detail"})


class ContentBlocked(SafespaceError):
    """The group's content rules do not allow this message: nothing was sent.

    ``categories``: the ``block`` categories that matched; ``messages``: what
    the rules tell the sender about each (in the same order); ``alerts``: the
    categories the facilitators were told about. Never the text itself.
    """

    def __init__(
        self, categories: Sequence[str], messages: Sequence[str], alerts: Sequence[str] = ()
    ) -> None:
        super().__init__(Code.CONTENT_BLOCKED, categories=tuple(categories))
        self.categories = tuple(categories)
        self.messages = tuple(messages)
        self.alerts = tuple(alerts)


class ContentNeedsConfirmation(SafespaceError):
    """The rules ask the sender to check this message first: nothing was sent.

    ``categories``: the ``warn`` categories that matched; ``messages``: what the
    rules say about each. Send again with ``confirm_warn=True`` to go on (after
    adding a warning of one's own, if wished).
    """

    def __init__(self, categories: Sequence[str], messages: Sequence[str]) -> None:
        super().__init__(Code.CONTENT_NEEDS_CONFIRMATION, categories=tuple(categories))
        self.categories = tuple(categories)
        self.messages = tuple(messages)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What the rules decided for a message that may be sent."""

    cw: str | None  # the body's warning: the sender's own, then the labels that fit
    labels: tuple[str, ...]  # every label the rules attach (a receiver adds any left out)
    alerts: tuple[str, ...]  # categories to tell the facilitators (one alert frame each)
    confirmed: tuple[str, ...]  # warn categories the sender confirmed


@dataclass(frozen=True, slots=True)
class Incoming:
    """What the rules say about a message this client opened."""

    cw: str | None  # the body's warning with the receiver's own labels added
    alerts: tuple[str, ...]


def sender_cw(own: str | None, labels: Iterable[str]) -> str | None:
    """The warning a sender's body carries: its own first, then the rules' labels.

    ``own`` is trimmed as a body's warning is (over 80 characters:
    ``CannotSeal``, as without rules). Labels follow, joined by ", ", each one
    only if the whole stays within the 80-character cap, in the rules' order;
    a label the sender's own warning already names is not repeated. A label
    that does not fit is left out of the body, never cut: every receiver's
    client adds it again when showing the message (``union_cw``).
    """
    warning = content_warning(own)
    parts = [warning] if warning else []
    named = set(warning.split(CW_SEPARATOR)) if warning else set()
    for label in labels:
        if label in named:
            continue
        candidate = CW_SEPARATOR.join([*parts, label])
        if len(candidate) <= MAX_CW_CHARS:
            parts.append(label)
            named.add(label)
    return CW_SEPARATOR.join(parts) or None


def union_cw(body_cw: str | None, labels: Iterable[str]) -> str | None:
    """The warning a receiver shows: the body's, then its own labels the body lacks.

    Shown locally only, so not capped. A label counts as present when it is
    one of the ", "-separated parts of the body's warning.
    """
    parts = [body_cw] if body_cw else []
    named = set(body_cw.split(CW_SEPARATOR)) if body_cw else set()
    for label in labels:
        if label not in named:
            parts.append(label)
            named.add(label)
    return CW_SEPARATOR.join(parts) or None


@functools.lru_cache(maxsize=16)
def _tuned(tuning: str) -> Policy:
    # Compiling costs about a fifth of a second; every client of a process
    # (tests, a bot) shares the compiled rules of a tuning it has seen.
    return tuned_policy(tuning)


class ContentGuard:
    """One client's view of its group's content rules.

    ``trusted``: the identities whose signed tuning this client applies (a
    member's link's ``f=`` keys; a facilitator's own and its co-facilitators').
    None trusted: no signed tuning can be checked.
    """

    def __init__(self, trusted: Iterable[bytes] = ()) -> None:
        self.trusted: tuple[bytes, ...] = tuple(trusted)
        self._policy: Policy | None = None
        self.tuning: str | None = None  # the tuning in force (checked), None: shipped rules
        self.unverified = False  # the group has rules this client could not check
        # The highest (version, signed_at) verified this session: never forgotten,
        # so the server cannot put back a tuning a facilitator replaced.
        self.highest: tuple[int, int] | None = None
        self.shown_version = 0  # the version the group's rules last claimed (checked or not)
        # The warning the last set_rules gave (rules_unverified, rules_replayed), if any.
        self.warning: str | None = None

    @property
    def policy(self) -> Policy:
        if self._policy is None:
            self._policy = default_policy()
        return self._policy

    def set_rules(self, group_id: str, rules: Mapping[str, object] | None) -> bool:
        """Take a group's ``content_rules`` (welcome or ``content_rules`` frame).

        True when they are in force (or there are none). False when they could
        not be checked or applied (the shipped rules are in force, and
        ``warning`` is ``rules_unverified``), or when they are a verified
        tuning older than one verified before (a replay: the rules in force
        stay, and ``warning`` is ``rules_replayed``). The caller warns
        ``warning``.
        """
        claimed = rules.get("version") if isinstance(rules, Mapping) else None
        if valid_version(claimed):
            assert isinstance(claimed, int)
            self.shown_version = max(self.shown_version, claimed)
        try:
            checked = checked_rules(rules, group_id, self.trusted)
        except E2EEError:
            return self._unverified()
        if checked is not None:
            if self.highest is not None and checked.order < self.highest:
                self.warning = RULES_REPLAYED
                return False
            self.highest = checked.order
        try:
            policy = default_policy() if checked is None else _tuned(checked.tuning)
        except RulesError:
            return self._unverified()
        self._policy, self.unverified, self.warning = policy, False, None
        self.tuning = None if checked is None else checked.tuning
        return True

    def _unverified(self) -> bool:
        self._policy, self.tuning, self.unverified = default_policy(), None, True
        self.warning = RULES_UNVERIFIED
        return False

    def next_version(self) -> int:
        """The ``version`` a tuning signed now takes: one more than any this client was shown."""
        seen = max(self.shown_version, self.highest[0] if self.highest else 0)
        return min(seen + 1, MAX_U32)

    def messages(self, categories: Iterable[str]) -> tuple[str, ...]:
        return tuple(self.policy.category(c).message for c in categories)

    def check_send(
        self, text: str, cw: str | None = None, *, confirm_warn: bool = False
    ) -> Outgoing:
        """Before sealing a room message: raise, or say how to send it.

        ``ContentBlocked`` if any category blocks it (its ``alerts`` are the
        categories to tell the facilitators even so); else
        ``ContentNeedsConfirmation`` if a ``warn`` category matched and the
        sender has not confirmed; else the ``Outgoing`` to send.
        """
        v = evaluate(text, self.policy)
        if v.block:
            raise ContentBlocked(v.block, self.messages(v.block), v.alert)
        if v.warn and not confirm_warn:
            raise ContentNeedsConfirmation(v.warn, self.messages(v.warn))
        return Outgoing(sender_cw(cw, v.cw), v.cw, v.alert, v.warn)

    def check_received(self, text: str, cw: str | None) -> Incoming:
        """After opening a room message: the warning to show it behind, and its alerts."""
        v = evaluate(text, self.policy)
        return Incoming(union_cw(cw, v.cw), v.alert)
