"""``NEWSBOT_HTTP``: /metrics, /healthz and /readyz of a running bot, through the fake Discord."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.chat.bot import NewsBot
from bot.config import Settings
from bot.errors import ConfigError
from bot.monitoring import Monitoring
from bot.store import Store
from bot.store.postgres.store import PostgresStore
from bot.store.sqlite import SqliteStore
from tests.chat.conftest import World
from tests.factories import write_article


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def monitored(world: World) -> AsyncIterator[str]:
    """The world's bot with its listener on a free loopback port; yield its base URL."""
    monitoring = Monitoring(world.bot)
    port = free_port()
    await monitoring.start("127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await monitoring.stop()


async def get(url: str, method: str = "GET") -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.request(method, url) as response:
        return response.status, await response.text()


async def samples(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text = await get(f"{base}/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_counters_move_as_commands_are_answered_and_articles_posted(
    world: World, monitored: str, tmp_path: Path
) -> None:
    before = await samples(monitored)
    assert before[("newsbot_articles", ())] == 49  # the shipped articles
    assert before[("newsbot_deliveries_total", (("outcome", "sent"),))] == 0
    for _ in range(2):
        await world.answer("news topics")
    await world.answer("news topic", topic="no such topic")  # an error answer
    home = world.home
    await world.store.subscriptions.subscribe(
        guild_id=home.guild.id, channel_id=home.channel.id, topic="AI", min_quality=0
    )
    data = tmp_path / "new-articles"
    data.mkdir()
    for n in (1, 2):
        write_article(data, f"{n}.md", n, title=f"Story {n}", topics=["AI"], quality=90)
    world.bot.settings = replace(world.bot.settings, data_dir=data)
    await world.bot.rescan()  # two new articles, due in the subscribed channel
    await world.bot.poster.run()
    after = await samples(monitored)
    command = (("command", "news topics"),)
    assert after[("newsbot_command_duration_seconds_count", command)] == 2
    assert after[("newsbot_command_errors_total", (("command", "news topic"),))] == 1
    assert after[("newsbot_files_loaded_total", (("outcome", "added"),))] == 2
    assert after[("newsbot_articles", ())] == 51
    assert after[("newsbot_deliveries_total", (("outcome", "sent"),))] == 2
    assert after[("newsbot_subscriptions", (("state", "active"),))] == 1
    assert after[("newsbot_outbox_messages", ())] == 0
    assert after[("newsbot_posting_run_finished_timestamp_seconds", ())] > 0
    assert ("newsbot_gateway_latency_seconds", (("shard", "0"),)) in after
    allowed = {"command", "outcome", "state", "scope", "shard", "le"}
    assert {name for _, labels in after for name, _ in labels} <= allowed  # no ids, no topics


async def test_readiness_follows_discord_and_the_database(
    world: World, monitored: str, bot_store: Store, tmp_path: Path
) -> None:
    status, body = await get(f"{monitored}/readyz")
    assert status == 200, body
    assert '"ready": true' in body and "shards connected" in body
    assert (await get(f"{monitored}/healthz"))[0] == 200
    assert (await get(f"{monitored}/nothing"))[0] == 404
    assert (await get(f"{monitored}/metrics", "POST"))[0] == 405
    await lose_database(bot_store)  # removed under the running bot
    status, body = await get(f"{monitored}/readyz")
    assert status == 503 and '"database": {"ok": false' in body
    assert (await get(f"{monitored}/healthz"))[0] == 200  # alive, only not ready


async def test_not_ready_before_the_bot_is_connected(bot_store: Store) -> None:
    bot = NewsBot(bot_store, Settings())  # never started: nothing to close
    monitoring = Monitoring(bot)
    port = free_port()
    await monitoring.start("127.0.0.1", port)
    try:
        status, body = await get(f"http://127.0.0.1:{port}/readyz")
    finally:
        await monitoring.stop()
    assert status == 503 and "not connected to Discord yet" in body


async def test_an_address_in_use_is_one_clear_error(bot_store: Store) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = NewsBot(bot_store, Settings())  # never started: nothing to close
        with pytest.raises(
            ConfigError, match=f"^NEWSBOT_HTTP: cannot listen on 127.0.0.1:{port}: "
        ):
            await Monitoring(bot).start("127.0.0.1", port)


async def test_discords_429s_are_counted_by_scope(world: World, monitored: str) -> None:
    home = world.home
    await world.store.subscriptions.subscribe(
        guild_id=home.guild.id, channel_id=home.channel.id, topic="AI", min_quality=0, backfill=1
    )
    messages = "/channels/{channel_id}/messages"
    world.fake.inject_fault("POST", messages, status=429, is_global=True, retry_after=0.05)
    world.fake.inject_fault("POST", messages, status=429, retry_after=0.05)
    report = await world.bot.poster.run()
    assert report.posted == 1  # both 429s were waited out
    after = await samples(monitored)
    assert after[("newsbot_discord_rate_limited_total", (("scope", "global"),))] == 1
    assert after[("newsbot_discord_rate_limited_total", (("scope", "user"),))] == 1
    assert after[("newsbot_discord_rate_limited_total", (("scope", "shared"),))] == 0


async def lose_database(store: Store) -> None:
    """Remove the store's database under the running bot, as an admin's mistake would."""
    if isinstance(store, SqliteStore):
        Path(store.path).unlink()
        return
    assert isinstance(store, PostgresStore)
    target = store.target
    admin = await asyncpg.connect(
        host=target.host, port=target.port, user=target.user, database="postgres"
    )
    try:
        await admin.execute(f'DROP DATABASE "{target.database}" WITH (FORCE)')
    finally:
        await admin.close()
