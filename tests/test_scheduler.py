"""The scheduled jobs: a failure or a shutdown is one log line, and the next run still comes."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.errors import StoreError
from bot.scheduler import _logged


async def test_a_known_failure_is_one_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def full_disk() -> None:
        raise StoreError("cannot write to newsbot.db: database or disk is full")

    await _logged(full_disk, "rescan")()
    (record,) = caplog.records
    assert record.getMessage() == (
        "rescan job failed: cannot write to newsbot.db: database or disk is full; "
        "it runs again at its next interval"
    )
    assert record.exc_info is None


async def test_a_job_cancelled_by_shutdown_ends_quietly(caplog: pytest.LogCaptureFixture) -> None:
    started = asyncio.Event()

    async def long_run() -> None:
        started.set()
        await asyncio.sleep(60)

    caplog.set_level(logging.INFO)
    task = asyncio.create_task(_logged(long_run, "posting")())
    await started.wait()
    task.cancel()  # what asyncio.run does to running jobs when the bot stops
    await task
    assert [r.getMessage() for r in caplog.records] == ["posting job stopped: the bot is closing"]
    assert all(r.levelno < logging.WARNING for r in caplog.records)
