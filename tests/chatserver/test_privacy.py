"""No message text anywhere on the server side: logs, database, metrics, errors."""

from __future__ import annotations

import logging

import pytest
from conftest import Env

MARKER = "PRIVATE-MARKER-7f3a91"


async def test_message_text_reaches_no_log_row_metric_or_error(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gid, fac, (a, b) = await env.room(2)
    await a.send(f"chat {MARKER}")
    msg = await b.next("msg")
    await a.private(f"private {MARKER}")
    await fac.next("private")
    await b.report(msg["id"], f"report {MARKER}")
    await fac.next("report")
    await fac.mute(a.pid)
    await a.next("muted")
    await a.send(f"muted {MARKER}")  # refused: the error must not echo it
    errors = [await a.next("error")]
    await fac.unmute(a.pid)
    await a.next("unmuted")
    await a.send((MARKER * 2000)[:20000])  # too large: refused without echo
    errors.append(await a.next("error"))
    assert [e["code"] for e in errors] == ["muted", "too_large"]
    await fac.end()
    await fac.closed()

    await env.assert_no_trace(MARKER, caplog.text, errors)
    # ...while the members did read it: the marker really went through.
    assert msg.text == f"chat {MARKER}"
