"""One `newsbot run` per PostgreSQL database and shard: the advisory locks that keep a second out."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import AlreadyRunning, StoreError
from bot.store.postgres.connection import connect
from bot.store.postgres.shardlock import holder_name, running_alone
from bot.store.target import PostgresTarget, parse_postgres_url

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def target(postgres_url: str) -> PostgresTarget:
    return parse_postgres_url(postgres_url)


async def test_a_second_run_on_the_same_database_is_refused_naming_the_first(
    target: PostgresTarget,
) -> None:
    async with running_alone(target):
        with pytest.raises(AlreadyRunning) as refused:
            async with running_alone(target):
                pass
        assert str(refused.value) == (
            f"another newsbot run (pid {os.getpid()} on {socket.gethostname()}) is serving "
            f"{target.redacted}; two would post the same articles twice. Stop the other one "
            "first, or give each its own NEWSBOT_SHARD_IDS."
        )
    async with running_alone(target):  # released on the way out
        pass


@pytest.mark.parametrize(
    ("first", "second", "allowed"),
    [
        (None, (0,), False),  # every shard, then one of them
        ((0,), None, False),
        ((0, 1), (1, 2), False),  # shard 1 twice
        ((0, 1), (2, 3), True),  # disjoint shards side by side
    ],
)
async def test_shards_may_run_side_by_side_only_when_they_do_not_overlap(
    target: PostgresTarget,
    first: tuple[int, ...] | None,
    second: tuple[int, ...] | None,
    allowed: bool,
) -> None:
    async with running_alone(target, first):
        if allowed:
            async with running_alone(target, second):
                pass
        else:
            with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()} on .* is serving"):
                async with running_alone(target, second):
                    pass


async def test_an_overlapping_shard_is_named(target: PostgresTarget) -> None:
    async with running_alone(target, [2, 5]):
        with pytest.raises(AlreadyRunning, match=f"is serving shard 5 of {target.redacted};"):
            async with running_alone(target, [4, 5]):
                pass


async def test_a_holder_killed_outright_leaves_no_lock_behind(
    target: PostgresTarget, postgres_url: str
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import asyncio, sys\n"
            "from bot.store.postgres.shardlock import running_alone\n"
            "from bot.store.target import parse_postgres_url\n"
            "async def hold():\n"
            "    async with running_alone(parse_postgres_url(sys.argv[1]), [3]):\n"
            "        print('locked', flush=True); await asyncio.sleep(60)\n"
            "asyncio.run(hold())\n"
        ), postgres_url],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and await asyncio.to_thread(holder.stdout.readline) == (
            "locked\n"
        )
        with pytest.raises(AlreadyRunning, match=f"pid {holder.pid} on "):
            async with running_alone(target, [3]):
                pass
    finally:
        holder.kill()  # SIGKILL: no clean-up of its own
        await asyncio.to_thread(holder.wait, 30)
    # The server ends the session when it sees the connection close: a moment, not a time-out.
    for _ in range(50):
        try:
            async with running_alone(target, [3]):
                return
        except AlreadyRunning:
            await asyncio.sleep(0.1)
    pytest.fail("the lock of a process killed with SIGKILL was still held 5 s later")


async def test_a_holder_whose_session_ended_finds_out(target: PostgresTarget) -> None:
    async with running_alone(target, [1]) as lock:
        await lock.check()
        admin = await connect(target)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                holder_name(),
            )
        finally:
            await admin.close()
        with pytest.raises(StoreError, match=r"^lost the connection holding the run locks of "):
            await lock.check()


def test_the_holder_name_fits_what_postgresql_keeps() -> None:
    name = holder_name(4194304, "a-very-long-host-name." * 5)
    assert name.startswith("newsbot pid 4194304 on a-very-long-host-name.")
    assert len(name.encode()) == 63


async def test_locks_lost_with_a_server_restart_are_taken_again_before_posting(
    target: PostgresTarget,
) -> None:
    async with running_alone(target, [1]) as lock:
        await terminate(target, holder_name())  # what a server restart does to the session
        await lock.confirm()  # takes them again on a new session
        await lock.check()
        with pytest.raises(AlreadyRunning):  # and holds them: another is refused
            async with running_alone(target, [1]):
                pass


async def test_locks_another_process_took_meanwhile_are_not_taken_back(
    target: PostgresTarget,
) -> None:
    async with running_alone(target, [1]) as lock:
        await terminate(target, holder_name())
        async with running_alone(target, [1]):  # a replacement started while ours was gone
            with pytest.raises(AlreadyRunning, match="is serving shard 1"):
                await lock.confirm()


async def terminate(target: PostgresTarget, application_name: str) -> None:
    """End the sessions of ``application_name`` from another connection, as a restart would."""
    admin = await connect(target)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            application_name,
        )
    finally:
        await admin.close()
