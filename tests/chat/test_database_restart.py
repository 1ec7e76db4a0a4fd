"""PostgreSQL going away under the running bot: commands say "try again shortly" while it
is down, the bot reconnects by itself, and posting resumes with nothing lost or twice."""

from __future__ import annotations

import asyncio

import pytest

from tests.chat.conftest import World
from tests.postgres import Server

TRY_AGAIN = "My database is not answering right now; please try again shortly."


@pytest.mark.parametrize("bot_store", ["postgres"], indirect=True)
async def test_a_postgresql_restart_while_the_bot_runs(
    world: World, postgres_server: Server
) -> None:
    if postgres_server.folder is None:
        pytest.skip("NEWSBOT_TEST_POSTGRES names a server this session may not restart")
    home = world.home
    await world.store.subscriptions.subscribe(
        guild_id=home.guild.id, channel_id=home.channel.id, topic="AI", min_quality=0, backfill=2
    )
    assert (await world.answer("news topics")).embeds

    await asyncio.to_thread(postgres_server.pg_ctl, "stop", "-m", "fast")
    try:
        down = await world.answer("news topics")
        refused = await world.answer("subscribe", user=home.moderator, topic="Space")
        failed_run = await (await world.ask("post now", user=home.admin)).followup()
    finally:
        await asyncio.to_thread(postgres_server.pg_ctl, "start")
    assert down.content == TRY_AGAIN and down.ephemeral
    assert refused.content == TRY_AGAIN
    assert failed_run.content == TRY_AGAIN  # (after "thinking")

    answer = await world.answer("news topics")  # reconnected by itself
    assert answer.embeds and answer.embeds[0]["title"].startswith("Topics")
    assert "Space" in (await world.answer("subscribe", user=home.moderator, topic="Space")).content
    due = len(await world.store.ledger.due_articles(home.channel.id))
    first = await world.bot.poster.run()
    again = await world.bot.poster.run()
    assert due >= 2 and (first.posted, again.posted) == (due, 0)  # every due article, once
    assert len(await world.store.ledger.deliveries(home.channel.id)) == due
