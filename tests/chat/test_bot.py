"""Start-up: command sync only when definitions changed, to the dev guild when set."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from bot.chat.bot import NewsBot, bot_intents
from bot.config import Settings
from bot.store import Store
from tests.chat.conftest import BOT_OPERATIONS, make_server
from tests.fake_discord import FakeDiscord, running_bot
from tests.fake_discord.openapi import ApiDescription

SETTINGS = Settings(min_quality=50)


async def start(fake: FakeDiscord, store: Store, settings: Settings = SETTINGS) -> None:
    async with running_bot(fake, NewsBot(store, settings, guild_ready_timeout=0.05)):
        pass


async def test_commands_are_synced_once_and_again_only_when_they_change(bot_store: Store) -> None:
    async with FakeDiscord() as fake:
        make_server(fake, "home")
        await start(fake, bot_store)
        assert fake.sync_count == 1
        await start(fake, bot_store)  # a restart with the same commands
        assert fake.sync_count == 1
        await bot_store.state.set(f"command-sync:{fake.application_id}:global", "an older hash")
        await start(fake, bot_store)
        assert fake.sync_count == 2


async def test_a_dev_guild_gets_the_commands_instantly_instead_of_everyone(
    bot_store: Store,
) -> None:
    async with FakeDiscord() as fake:
        home = make_server(fake, "home")
        await start(fake, bot_store, replace(SETTINGS, dev_guild=home.guild.id))
        assert fake.commands() == []
        assert {c["name"] for c in fake.commands(home.guild)} == {
            "news",
            "subscribe",
            "unsubscribe",
            "subscriptions",
            "post",
            "alerts",
        }
        assert fake.find_requests(
            "PUT", f"/applications/{fake.application_id}/guilds/{home.guild.id}/commands"
        )


async def test_a_failed_sync_is_logged_and_retried_at_the_next_start(
    bot_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeDiscord() as fake:
        make_server(fake, "home")
        fake.inject_fault(
            "PUT", "/applications/{application_id}/commands", status=403, code=50001, times=1
        )
        with caplog.at_level(logging.ERROR, logger="bot.chat.bot"):
            await start(fake, bot_store)
        assert "could not sync slash commands" in caplog.text
        assert fake.commands() == []
        await start(fake, bot_store)
        assert len(fake.commands()) == 6


async def test_the_bot_asks_for_no_privileged_intents() -> None:
    intents = bot_intents()
    assert intents.guilds
    assert not intents.message_content and not intents.members and not intents.presences


async def test_configured_shards_are_used(bot_store: Store) -> None:
    async with FakeDiscord() as fake:
        make_server(fake, "home")
        bot = NewsBot(
            bot_store, replace(SETTINGS, shard_count=2, shard_ids=(1,)), guild_ready_timeout=0.05
        )
        async with running_bot(fake, bot):
            assert sorted(bot.shards) == [1]
            assert bot.shard_count == 2


def test_every_discord_operation_the_bot_calls_is_in_discords_api_description() -> None:
    described = {operation.operation_id for operation in ApiDescription.load().operations.values()}
    assert BOT_OPERATIONS.keys() - described == set(), "retired or misspelt: update the bot"
    served = {route.operation.operation_id for route in FakeDiscord().router.routes}
    assert BOT_OPERATIONS.keys() - served == set(), "the fake must serve what the bot calls"
