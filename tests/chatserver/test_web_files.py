"""The browser side's files: served from clients/web as modules, nothing else."""

from __future__ import annotations

import pytest
from conftest import Env


async def test_a_module_is_served_as_javascript_with_the_strict_headers(env: Env) -> None:
    async with env.http() as http:
        r = await http.get("/web/vendor/msgpack/index.mjs")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "export" in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/web/package.json",
        "/web/package-lock.json",
        "/web/node_modules/@msgpack/msgpack/package.json",
        "/web/node_modules/@msgpack/msgpack/dist.esm/index.mjs",
        "/web/../../pyproject.toml",
        "/web/%2e%2e/%2e%2e/pyproject.toml",
        "/web/vendor/.installed",
        "/web/nothing-here.js",
    ],
)
async def test_anything_else_is_not_found(env: Env, path: str) -> None:
    async with env.http() as http:
        r = await http.get(path)
    assert r.status_code == 404
    assert "msgpack" not in r.text and "[project]" not in r.text
