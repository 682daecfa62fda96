"""A background task of the hub that fails is logged with its traceback, never lost."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import pytest

from chatserver.backend import MemoryBackend
from chatserver.hub import Hub
from chatserver.metrics import Metrics
from chatserver.store import Store


async def test_a_failing_hub_task_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = Hub(cast(Store, None), MemoryBackend(), Metrics())

    async def broken() -> None:
        raise RuntimeError("the backend went away")

    async def cancelled() -> None:
        await asyncio.sleep(3600)

    with caplog.at_level(logging.ERROR, logger="chatserver.hub"):
        hub._spawn(broken())
        hub._spawn(cancelled())
        await asyncio.sleep(0.01)
        for task in list(hub._tasks):
            task.cancel()
        await asyncio.sleep(0.01)
    (record,) = caplog.records
    assert record.name == "chatserver.hub" and record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    assert "RuntimeError" in record.getMessage()
