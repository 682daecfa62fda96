"""Facilitator administration shared by the HTTP API and the CLI.

Creating and editing groups, and creating, listing and revoking seat links.
Every check that a facilitator may touch a group is made here, once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chatserver.store import Store
from moderation.content import RulesError, tuned_policy
from rooms import links, seats
from rooms.errors import Invalid, NotFound
from rooms.group import Group, edited, new_group
from rooms.seats import SeatLink

MAX_LABEL_CHARS = 80


def _check_content_rules(group: Group) -> None:
    """A tuning every client can apply, or none: refused here, not in eight browsers."""
    if group.content_rules is None:
        return
    try:
        tuned_policy(group.content_rules["tuning"])
    except RulesError as e:
        # ``where`` can hold a category id the caller made up: named only if
        # it looks like a path of setting names, like any echoed field.
        ok = len(e.where) <= 80 and all(c.isalnum() or c in "._[]" for c in e.where)
        raise Invalid(
            "content_rules",
            f"content_rules.tuning is not a valid tuning ({e.where if ok else '?'}).",
        ) from None


class Admin:
    def __init__(
        self,
        store: Store,
        public_url: str,
        on_group_changed: Callable[[Group], None] = lambda g: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.public_url = public_url
        self.on_group_changed = on_group_changed
        self.clock = clock

    async def group_of(self, facilitator: str, group_id: str) -> Group:
        """The group if ``facilitator`` runs it; otherwise "not found", revealing nothing."""
        group = await self.store.group(group_id)
        if not group.run_by(facilitator):
            raise NotFound("There is no such group.")
        return group

    async def create_group(self, facilitator: str, settings: dict[str, Any]) -> Group:
        extra = settings.pop("facilitators", None)
        group = new_group(seats.new_id("g"), facilitator, settings)
        _check_content_rules(group)
        if extra is not None:
            group = await self._with_facilitators(group, extra, must_include=facilitator)
        await self.store.save_group(group)
        return group

    async def edit_group(self, facilitator: str, group_id: str, changes: dict[str, Any]) -> Group:
        group = await self.group_of(facilitator, group_id)
        extra = changes.pop("facilitators", None)
        group = edited(group, changes)
        _check_content_rules(group)
        if extra is not None:
            group = await self._with_facilitators(group, extra, must_include=None)
        await self.store.save_group(group)
        self.on_group_changed(group)
        return group

    async def _with_facilitators(
        self, group: Group, names: object, must_include: str | None
    ) -> Group:
        if not isinstance(names, list) or not names or len(names) > 4:
            raise Invalid("facilitators", "facilitators must list 1 to 4 facilitator names.")
        known = set(await self.store.facilitators())
        for name in names:
            if not isinstance(name, str) or name not in known:
                raise Invalid("facilitators", "Every facilitator must have an account.")
        if must_include is not None and must_include not in names:
            names = [must_include, *names]
        return Group(**{**group.__dict__, "facilitators": tuple(dict.fromkeys(names))})

    async def create_link(
        self, facilitator: str, group_id: str, label: object = None, hours: object = None
    ) -> tuple[SeatLink, str]:
        """A new seat link; the URL (with the token) is returned now and never again."""
        group = await self.group_of(facilitator, group_id)
        if label is None:
            label = ""
        if not isinstance(label, str) or len(label) > MAX_LABEL_CHARS:
            raise Invalid("label", f"label must be text of at most {MAX_LABEL_CHARS} characters.")
        now = self.clock()
        token = seats.new_token()
        seat = SeatLink(
            id=seats.new_id("s"),
            group_id=group.id,
            token_hash=seats.hash_token(token),
            label=label.strip(),
            created_at=now,
            expires_at=seats.expiry(now, hours),
        )
        await self.store.add_seat(seat)
        known = await self.store.identities(group.facilitators)
        keys = [known[name] for name in group.facilitators if name in known]
        return seat, links.link_url(self.public_url, token, keys)

    async def facilitator_keys(self, facilitator: str, group_id: str) -> dict[str, bytes]:
        """The identity keys the group's facilitators' clients registered."""
        group = await self.group_of(facilitator, group_id)
        return await self.store.identities(group.facilitators)

    async def set_identity(self, facilitator: str, key: object) -> None:
        if not isinstance(key, bytes) or len(key) != links.IDENTITY_KEY_BYTES:
            raise Invalid("key", "An identity key is 32 bytes (43 characters of base64url).")
        await self.store.set_identity(facilitator, key)

    async def links(self, facilitator: str, group_id: str) -> list[dict[str, Any]]:
        group = await self.group_of(facilitator, group_id)
        now = self.clock()
        return [s.public(now) for s in await self.store.seats(group.id)]

    async def revoke_link(self, facilitator: str, group_id: str, link_id: str) -> dict[str, Any]:
        group = await self.group_of(facilitator, group_id)
        seat = await self.store.seat(link_id)
        if seat.group_id != group.id:
            raise NotFound("There is no such seat link.")
        return (await self.store.revoke_seat(link_id, self.clock())).public(self.clock())
