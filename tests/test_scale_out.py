"""Several ``newsbot run`` processes sharing one database, each serving its own shards.

Real processes against the loopback fake Discord, on SQLite (one machine, file locks) and
on PostgreSQL (many hosts, advisory locks): each posts only for the servers of its shards,
an overlapping process is refused, and a process killed with SIGKILL mid-run frees its
shards for a replacement that finishes its work with nothing posted twice.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from bot.store import open_store
from tests.backends import BACKENDS
from tests.chat.conftest import Server, make_server
from tests.factories import write_article
from tests.fake_discord import FakeDiscord
from tests.fake_discord.state import FakeMessage
from tests.test_app import bot_env, is_post, run_newsbot

SHARDS = 2
STORIES = 3


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``NEWSBOT_DB`` of the processes: a SQLite file, or a PostgreSQL database's URL."""
    if request.param == "sqlite":
        return str(tmp_path / "bot.db")
    return str(request.getfixturevalue("postgres_url"))


def guild_id_on_shard(shard: int, seed: int = 1_500_000_000_000_000_000) -> int:
    """Return a realistic snowflake whose guild Discord routes to ``shard``."""
    timestamp = (seed >> 22) - ((seed >> 22) % SHARDS) + shard
    return (timestamp << 22) | 0x21000


async def subscribed_servers(fake: FakeDiscord, db: str, data: Path) -> list[Server]:
    """One server per shard, each subscribed to AI, then STORIES new AI articles."""
    servers = [
        make_server(fake, f"shard{shard}", guild_id_on_shard(shard)) for shard in range(SHARDS)
    ]
    async with await open_store(db) as store:
        for server in servers:
            await store.subscriptions.subscribe(
                guild_id=server.guild.id, channel_id=server.channel.id, topic="AI", min_quality=0
            )
    for n in range(1, STORIES + 1):  # loaded after the subscriptions: all due
        write_article(data, f"{n}.md", n, title=f"Story {n}", topics=["AI"], quality=90 - n)
    return servers


def posted_titles(fake: FakeDiscord, server: Server) -> list[str]:
    """Return the titles of every article posted to the server's channel, repeats included."""
    messages: list[FakeMessage] = [m for m in fake.messages_in(server.channel) if is_post(m)]
    return sorted(embed["title"] for message in messages for embed in message.embeds)


async def stop(process: asyncio.subprocess.Process) -> str:
    """Stop a bot with SIGTERM and return its log."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    return stderr.decode()


async def test_processes_with_disjoint_shards_post_everything_once_and_refuse_an_overlap(
    tmp_path: Path, database: str
) -> None:
    data = tmp_path / "articles"
    data.mkdir()
    async with FakeDiscord() as fake:
        servers = await subscribed_servers(fake, database, data)
        base = bot_env(
            tmp_path, DISCORD_TOKEN=fake.token, NEWSBOT_DATA_DIR=str(data), NEWSBOT_DB=database,
            NEWSBOT_SHARD_COUNT=str(SHARDS), **fake.env(),
        )  # fmt: skip
        bots = [
            await run_newsbot(tmp_path, {**base, "NEWSBOT_SHARD_IDS": str(shard)})
            for shard in range(SHARDS)
        ]
        try:
            await fake.wait_for_shards(SHARDS, timeout=30)
            overlap = await run_newsbot(tmp_path, {**base, "NEWSBOT_SHARD_IDS": "0,1"})
            _, refusal = await asyncio.wait_for(overlap.communicate(), 30)
            assert overlap.returncode == 2
            assert f"(pid {bots[0].pid}" in refusal.decode()  # names the holder of shard 0
            for server in servers:  # each server's /post now reaches the process of its shard
                handle = await fake.send_command(
                    server.guild, server.channel, server.admin, "post now"
                )
                report = await handle.followup(timeout=30)
                assert report.content.startswith(f"Posted {STORIES} articles.")
        finally:
            logs = [await stop(bot) for bot in bots]
        for server in servers:
            assert posted_titles(fake, server) == [f"Story {n}" for n in range(1, STORIES + 1)]
    assert all("Traceback" not in log for log in logs), logs
    async with await open_store(database) as store:
        for server in servers:
            assert len(await store.ledger.deliveries(server.channel.id)) == STORIES
        assert await store.ledger.outbox() == []


async def test_a_process_killed_mid_run_frees_its_shards_for_a_replacement(
    tmp_path: Path, database: str
) -> None:
    data = tmp_path / "articles"
    data.mkdir()
    async with FakeDiscord() as fake:
        servers = await subscribed_servers(fake, database, data)
        victim = servers[1]
        base = bot_env(
            tmp_path, DISCORD_TOKEN=fake.token, NEWSBOT_DATA_DIR=str(data), NEWSBOT_DB=database,
            NEWSBOT_SHARD_COUNT=str(SHARDS), **fake.env(),
        )  # fmt: skip
        shard1 = {**base, "NEWSBOT_SHARD_IDS": "1"}
        # Discord makes shard 1's first message but answers only after a minute.
        fake.inject_fault(
            "POST", f"/channels/{victim.channel.id}/messages", delay_answer=60, times=1
        )
        other = await run_newsbot(tmp_path, {**base, "NEWSBOT_SHARD_IDS": "0"})
        doomed = await run_newsbot(tmp_path, shard1)
        try:
            await fake.wait_for_shards(SHARDS, timeout=30)
            await fake.send_command(victim.guild, victim.channel, victim.admin, "post now")
            await fake.wait_for_message(victim.channel, is_post, timeout=30)
            doomed.kill()  # SIGKILL in the middle of the run: no clean-up of any kind
            await doomed.communicate()
            replacement = await run_newsbot(tmp_path, shard1)  # not refused: shard 1 is free
            try:
                await fake.wait_for_shards(SHARDS, timeout=30)
                handle = await fake.send_command(
                    victim.guild, victim.channel, victim.admin, "post now"
                )
                report = await handle.followup(timeout=30)
                assert report.content.startswith(f"Posted {STORIES} articles.")
            finally:
                replacement_log = await stop(replacement)
        finally:
            other_log = await stop(other)
        assert posted_titles(fake, victim) == [f"Story {n}" for n in range(1, STORIES + 1)]
        assert posted_titles(fake, servers[0]) == []  # nothing asked shard 0 to post
    assert "Traceback" not in replacement_log + other_log
    async with await open_store(database) as store:
        assert len(await store.ledger.deliveries(victim.channel.id)) == STORIES
        assert await store.ledger.outbox() == []
