"""PATCH /api/groups with versioned content rules (docs/e2ee.md section 11).

The server stores a tuning's ``version`` and ``signed_at`` with it and hands
them on untouched (clients sign and check them); a malformed one is refused
with 400 ``invalid`` (field ``content_rules``) and changes nothing.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import Env
from test_http_api import api_token, bearer, make_group

from clients.e2ee import IdentityKey, sign_content_rules

TUNING = '{"format": "safespace-content-tuning/1", "categories": {"insults": {"action": "block"}}}'
http_only = pytest.mark.parametrize("env", ["fast"], indirect=True)

MALFORMED: list[tuple[str, Any]] = [
    ("version", 0),
    ("version", -1),
    ("version", 2**32),
    ("version", 1.5),
    ("version", "2"),
    ("version", True),
    ("version", None),
    ("signed_at", -1),
    ("signed_at", 2**53 + 1),
    ("signed_at", 1.5),
    ("signed_at", "0"),
    ("signed_at", False),
    ("signed_at", [1]),
]


@http_only
async def test_version_and_signed_at_are_stored_and_malformed_ones_refused(env: Env) -> None:
    gid = await make_group(env)
    fac = IdentityKey.generate()
    now = time.time_ns() // 1_000_000
    rules = sign_content_rules(fac, gid, TUNING, 7, now)
    async with env.http() as http:
        token = await api_token(env)
        path = f"/api/groups/{gid}"
        r = await http.patch(path, headers=bearer(token), json={"content_rules": rules})
        assert r.status_code == 200, r.text
        assert r.json()["content_rules"] == rules
        assert (await http.get(path, headers=bearer(token))).json()["content_rules"] == rules
        # The largest values both sides can hold go through.
        top = sign_content_rules(fac, gid, TUNING, 2**32 - 1, 2**53)
        r = await http.patch(path, headers=bearer(token), json={"content_rules": top})
        assert r.status_code == 200, r.text
        assert r.json()["content_rules"] == top
        for field, value in MALFORMED:
            bad = {**rules, field: value}
            r = await http.patch(path, headers=bearer(token), json={"content_rules": bad})
            assert r.status_code == 400, (field, value)
            error = r.json()["error"]
            assert error["code"] == "invalid" and error["field"] == "content_rules"
        # One without the other is malformed too.
        for field in ("version", "signed_at"):
            bad = {k: v for k, v in rules.items() if k != field}
            r = await http.patch(path, headers=bearer(token), json={"content_rules": bad})
            assert r.status_code == 400 and r.json()["error"]["code"] == "invalid", field
        # Nothing refused was stored.
        assert (await http.get(path, headers=bearer(token))).json()["content_rules"] == top
