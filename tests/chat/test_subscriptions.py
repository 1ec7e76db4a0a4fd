"""/subscribe, /unsubscribe, /subscriptions through the fake Discord: what moderators see."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest

from bot.store.postgres.store import PostgresStore
from tests.backends import sqlite_only
from tests.chat.conftest import World, eventually
from tests.fake_discord.state import ChannelType, Perm


async def test_a_moderator_subscribes_this_channel(world: World) -> None:
    home = world.home
    answer = await world.answer("subscribe", user=home.moderator, topic="ai")
    assert not answer.ephemeral
    assert (
        answer.content
        == f"<#{home.channel.id}> now gets new **AI** articles of quality 50 or more."
    )
    assert answer.allowed_mentions == {"parse": []}
    (subscription,) = await world.store.subscriptions.in_guild(home.guild.id)
    assert (subscription.channel_id, subscription.topic, subscription.min_quality) == (
        home.channel.id,
        "AI",
        50,
    )
    assert subscription.created_by == home.moderator.id and subscription.active


async def test_subscribing_again_updates_the_threshold_and_never_duplicates(world: World) -> None:
    home = world.home
    await world.answer("subscribe", user=home.moderator, topic="AI")
    again = await world.answer("subscribe", user=home.moderator, topic="ai", min_quality=70)
    assert (
        again.content
        == f"Updated: <#{home.channel.id}> already followed **AI**; its minimum quality is now 70."
    )
    (subscription,) = await world.store.subscriptions.in_guild(home.guild.id)
    assert subscription.min_quality == 70


async def test_subscribe_a_channel_created_while_running(world: World) -> None:
    home = world.home
    other = await world.fake.create_channel(home.guild, "space-news")
    answer = await world.answer(
        "subscribe", user=home.moderator, topic="Space", channel=other, min_quality=0
    )
    assert answer.content == f"<#{other.id}> now gets new **Space** articles of quality 0 or more."
    assert {s.channel_id for s in await world.store.subscriptions.in_guild(home.guild.id)} == {
        other.id
    }


async def test_members_without_manage_channels_are_refused(world: World) -> None:
    answer = await world.answer("subscribe", user=world.home.member, topic="AI")
    assert answer.ephemeral
    assert answer.content == "You need the Manage Channels permission for this."
    refused = await world.answer("unsubscribe", user=world.home.member, topic="AI")
    assert refused.content == "You need the Manage Channels permission for this."
    assert await world.store.subscriptions.in_guild(world.home.guild.id) == []


async def test_subscribe_is_refused_in_direct_messages(world: World) -> None:
    handle = await world.fake.send_command(
        None, None, world.home.moderator, "subscribe", options={"topic": "AI"}
    )
    answer = await handle.response()
    assert answer.ephemeral
    assert answer.content == "This command works in a server only."


@pytest.mark.parametrize(
    ("denied", "names"),
    [
        (Perm.EMBED_LINKS, "Embed Links"),
        (Perm.READ_MESSAGE_HISTORY, "Read Message History"),
        (Perm.SEND_MESSAGES, "Send Messages, Embed Links"),  # no sending: no embeds either
        (
            Perm.VIEW_CHANNEL,
            "View Channel, Send Messages, Embed Links, Read Message History",
        ),  # no view: nothing
    ],
)
async def test_subscribe_names_the_permissions_the_bot_lacks(
    world: World, denied: int, names: str
) -> None:
    home = world.home
    await world.fake.set_permission_overwrite(home.channel, world.fake.bot, deny=denied)
    answer = await world.answer("subscribe", user=home.moderator, topic="AI")
    assert answer.ephemeral
    assert answer.content == (
        f"I cannot post in <#{home.channel.id}>: I am missing {names}. "
        "Grant them to me in that channel and try again."
    )
    assert await world.store.subscriptions.in_guild(home.guild.id) == []


async def test_subscribe_to_an_unknown_topic_gets_a_hint(world: World) -> None:
    answer = await world.answer("subscribe", user=world.home.moderator, topic="Cybersecurty")
    assert answer.ephemeral
    assert answer.content.startswith(
        "No articles on the topic **Cybersecurty**. Did you mean **Cybersecurity**?"
    )


async def test_out_of_range_threshold_is_refused(world: World) -> None:
    answer = await world.answer(
        "subscribe", user=world.home.moderator, topic="AI", min_quality=1000
    )
    assert (
        answer.ephemeral and answer.content == "`min_quality` must be from 0 to 100; you gave 1000."
    )


async def test_unsubscribe(world: World) -> None:
    home = world.home
    await world.answer("subscribe", user=home.moderator, topic="AI")
    await world.answer("subscribe", user=home.moderator, topic="Space")
    answer = await world.answer("unsubscribe", user=home.moderator, topic="ai")
    assert answer.content == f"<#{home.channel.id}> no longer gets **AI** articles."  # as shown
    assert [s.topic for s in await world.store.subscriptions.in_guild(home.guild.id)] == ["Space"]
    again = await world.answer("unsubscribe", user=home.moderator, topic="AI")
    assert again.ephemeral
    assert (
        again.content
        == f"<#{home.channel.id}> does not follow **AI**. See `/subscriptions` for this server's subscriptions."
    )


async def test_unsubscribe_autocomplete_offers_only_this_servers_topics(world: World) -> None:
    await world.answer("subscribe", user=world.home.moderator, topic="AI")
    await world.answer("subscribe", user=world.away.moderator, topic="Space", server=world.away)
    home_choices = await world.fake.send_autocomplete(
        world.home.guild, world.home.channel, world.home.moderator, "unsubscribe", focused="topic",
        options={"topic": ""},
    )  # fmt: skip
    assert home_choices == [{"name": "AI", "value": "AI"}]


async def test_subscriptions_list_channel_topic_threshold_since_and_status(world: World) -> None:
    home = world.home
    await world.answer("subscribe", user=home.moderator, topic="AI", min_quality=70)
    await world.answer("subscribe", user=home.moderator, topic="Space")
    answer = await world.answer("subscriptions")  # any member may look
    assert answer.ephemeral
    (embed,) = answer.embeds
    assert embed["title"] == "Subscriptions in home (2)"
    lines = embed["description"].split("\n")
    assert lines[0].startswith(f"<#{home.channel.id}> · **AI** · quality ≥ 70 · since <t:")
    assert lines[0].endswith(":R> · active")
    assert " · **Space** · quality ≥ 50 · " in lines[1]


async def test_subscriptions_show_why_one_is_paused(world: World) -> None:
    home = world.home
    await world.answer("subscribe", user=home.moderator, topic="AI")
    (subscription,) = await world.store.subscriptions.in_guild(home.guild.id)
    await world.store.subscriptions.pause(subscription.id, "Missing Access in the channel")
    answer = await world.answer("subscriptions")
    assert answer.embeds[0]["description"].endswith("**paused**: Missing Access in the channel")


async def test_no_subscriptions_yet(world: World) -> None:
    answer = await world.answer("subscriptions")
    assert answer.ephemeral
    assert answer.content == "No channel here follows a topic yet. Start with `/subscribe`."


async def test_servers_never_see_or_change_each_others_subscriptions(world: World) -> None:
    home, away = world.home, world.away
    await world.answer("subscribe", user=home.moderator, topic="AI")
    listing = await world.answer("subscriptions", server=away, user=away.member)
    assert listing.content == "No channel here follows a topic yet. Start with `/subscribe`."
    attempt = await world.answer("unsubscribe", server=away, user=away.moderator, topic="AI")
    assert attempt.ephemeral
    assert len(await world.store.subscriptions.in_guild(home.guild.id)) == 1
    await world.answer("subscribe", server=away, user=away.moderator, topic="AI", min_quality=90)
    (home_sub,) = await world.store.subscriptions.in_guild(home.guild.id)
    assert home_sub.min_quality == 50


async def test_a_deleted_channel_loses_its_subscriptions(world: World) -> None:
    home = world.home
    doomed = await world.fake.create_channel(home.guild, "doomed")
    await world.answer("subscribe", user=home.moderator, topic="AI", channel=doomed)
    await world.answer("subscribe", user=home.moderator, topic="AI")
    await world.fake.delete_channel(doomed)
    await eventually(
        lambda: world.store.subscriptions.in_guild(home.guild.id), lambda subs: len(subs) == 1
    )
    assert [s.channel_id for s in await world.store.subscriptions.in_guild(home.guild.id)] == [
        home.channel.id
    ]


async def test_leaving_a_server_removes_its_subscriptions(world: World) -> None:
    await world.answer("subscribe", user=world.home.moderator, topic="AI")
    await world.answer("subscribe", server=world.away, user=world.away.moderator, topic="AI")
    await world.fake.remove_bot_from_guild(world.home.guild)
    await eventually(
        lambda: world.store.subscriptions.in_guild(world.home.guild.id), lambda subs: not subs
    )
    assert await world.store.subscriptions.in_guild(world.home.guild.id) == []
    assert len(await world.store.subscriptions.in_guild(world.away.guild.id)) == 1


# SQLite's writer made read-only (PRAGMA query_only); PostgreSQL's twin follows.
@sqlite_only("bot_store")
async def test_a_database_that_cannot_take_writes_gets_a_plain_answer_and_changes_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # Writes now fail, as on a full disk.
    await world.store.database._db.execute("PRAGMA query_only = ON")
    with caplog.at_level(logging.ERROR):
        answer = await world.answer("subscribe", user=world.home.moderator, topic="AI")
    assert answer.ephemeral
    assert answer.content == (
        "I cannot use my database right now, so nothing was changed. "
        "The bot's admin can see why in its log; please try again later."
    )
    assert any(
        "database error" in r.getMessage() and str(world.store.path) in r.getMessage()
        for r in caplog.records
    )
    await world.store.database._db.execute("PRAGMA query_only = OFF")
    assert await world.store.subscriptions.in_guild(world.home.guild.id) == []
    again = await world.answer("subscribe", user=world.home.moderator, topic="AI")
    assert not again.ephemeral


@pytest.mark.parametrize("bot_store", ["postgres"], indirect=True)
async def test_a_postgresql_database_that_cannot_take_writes_gets_a_plain_answer(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    store = world.store
    assert isinstance(store, PostgresStore)
    name = store.target.database

    # Writes now fail, as on a standby or a database an admin made read-only.
    async with store.database.transaction() as writer:
        await writer.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    await store.database._pool.expire_connections()  # new sessions take the setting
    with caplog.at_level(logging.ERROR):
        answer = await world.answer("subscribe", user=world.home.moderator, topic="AI")
    assert answer.ephemeral
    assert answer.content == (
        "I cannot use my database right now, so nothing was changed. "
        "The bot's admin can see why in its log; please try again later."
    )
    assert any(
        "database error" in r.getMessage() and store.target.redacted in r.getMessage()
        for r in caplog.records
    )
    async with store.database._pool.acquire() as connection:  # a session that may write
        await connection.execute("SET default_transaction_read_only = off")
        await connection.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    await store.database._pool.expire_connections()
    assert await store.subscriptions.in_guild(world.home.guild.id) == []
    again = await world.answer("subscribe", user=world.home.moderator, topic="AI")
    assert not again.ephemeral


@pytest.mark.parametrize("kind", [ChannelType.GUILD_VOICE, ChannelType.GUILD_CATEGORY])
async def test_a_channel_that_cannot_hold_news_gets_a_plain_answer(
    world: World, kind: ChannelType
) -> None:
    odd = await world.fake.create_channel(world.home.guild, "odd", type=kind)
    answer = await world.answer("subscribe", user=world.home.admin, topic="AI", channel=odd)
    assert answer.ephemeral
    assert answer.content == "Pick a text or forum channel of this server for that option."
    assert await world.store.subscriptions.in_guild(world.home.guild.id) == []


async def test_a_channel_of_another_server_gets_a_plain_answer(world: World) -> None:
    answer = await world.answer(
        "subscribe", user=world.home.admin, topic="AI", channel=world.away.channel
    )
    assert answer.ephemeral and "AppCommandChannel" not in answer.content
    assert await world.store.subscriptions.in_guild(world.home.guild.id) == []


@sqlite_only("bot_store")  # another process holding SQLite's write lock on the file
async def test_subscribe_while_another_process_holds_the_database_says_thinking_then_answers(
    world: World,
) -> None:
    other = sqlite3.connect(world.store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # a long `newsbot load` batch, say

    async def release_later() -> None:
        await asyncio.sleep(3.0)  # past Discord's 3 s for a first answer
        other.execute("ROLLBACK")

    releasing = asyncio.create_task(release_later())
    handle = await world.ask("subscribe", user=world.home.moderator, topic="AI")
    first = await handle.response(timeout=5)
    assert first.type == 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: "thinking"
    answer = await handle.followup(timeout=10)
    assert answer.content == (
        f"<#{world.home.channel.id}> now gets new **AI** articles of quality 50 or more."
    )
    await releasing
    other.close()
    assert [s.topic for s in await world.store.subscriptions.in_guild(world.home.guild.id)] == [
        "AI"
    ]
