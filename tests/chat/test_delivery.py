"""Delivery styles through the fake Discord: role pings, compact lines, forum posts, threads."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.articles import Article
from bot.chat.delivery import DiscordSender
from bot.errors import ChannelForbidden, DeliveryFailed
from bot.parsing import build_draft
from bot.store import open_store
from bot.subscriptions import DeliveryStyle
from tests.backends import backend_of
from tests.chat.conftest import World, eventually
from tests.factories import article_fields
from tests.fake_discord.state import FakeChannel, FakeMessage, Perm

MESSAGES = "/channels/{channel_id}/messages"
POSTS = "/channels/{channel_id}/threads"
HOSTILE = "Markets @everyone and <@&{other}> react to @here"


async def stored(world: World, number: int, **fields: Any) -> Article:
    """Store an article and return it as the posting job would read it."""
    draft = build_draft(article_fields(number, topics=["AI"], **fields))
    await world.store.articles.save([(draft, None)])
    article = await world.store.articles.by_url(draft.url)
    assert article is not None
    return article


def sender_of(world: World) -> DiscordSender:
    sender = world.bot.poster.sender
    assert isinstance(sender, DiscordSender)
    return sender


def posted(world: World, channel: FakeChannel) -> list[FakeMessage]:
    return [m for m in world.fake.messages_in(channel) if m.interaction_metadata is None]


async def cached(world: World, channel_id: int) -> None:
    """Wait until the bot's cache has the channel a gateway event announced."""
    await eventually(lambda: asyncio.sleep(0, world.bot.get_channel(channel_id)), bool)


async def test_a_role_mention_pings_that_role_and_nothing_an_article_says(world: World) -> None:
    guild, channel = world.home.guild, world.home.channel
    role = await world.fake.create_role(guild, "AI news", mentionable=True)
    other = await world.fake.create_role(guild, "Everybody else", mentionable=True)
    article = await stored(world, 700, title=HOSTILE.format(other=other.id))
    await eventually(lambda: asyncio.sleep(0, world.bot.get_guild(guild.id)), bool)
    for number, compact in enumerate((False, True)):
        message_id = await sender_of(world).send(
            channel.id, [article], f"ping-{number}", DeliveryStyle(role.id, compact=compact)
        )
        request = world.fake.find_requests("POST", MESSAGES)[-1]
        assert request.json["allowed_mentions"] == {"parse": [], "roles": [role.id]}
        message = world.fake.get_message(message_id)
        assert message.content.startswith(f"<@&{role.id}>\n") or message.content == f"<@&{role.id}>"
        answered = message.to_payload()
        assert answered["mention_roles"] == [str(role.id)]  # not the other role, not everyone
        assert answered["mention_everyone"] is False
    compact_line = world.fake.get_message(message_id).content.splitlines()[1]
    assert "@everyone" not in compact_line and f"<@&{other.id}>" not in compact_line


async def test_compact_style_is_one_linked_line_per_article(world: World) -> None:
    articles = [await stored(world, n, title=f"Chips *and* [satellites] {n}") for n in (701, 702)]
    message_id = await sender_of(world).send(
        world.home.channel.id, articles, "compact", DeliveryStyle(compact=True)
    )
    message = world.fake.get_message(message_id)
    assert message.embeds == []
    assert message.content.splitlines() == [
        f"[Chips \\*and\\* \\[satellites\\] {n}]({a.link}) · Example News"
        for n, a in zip((701, 702), articles, strict=True)
    ]
    assert world.fake.last_request("POST", MESSAGES).json["allowed_mentions"] == {"parse": []}


async def test_a_forum_gets_a_post_named_after_the_article_with_the_topics_tag(
    world: World,
) -> None:
    forum = await world.fake.create_forum_channel(world.home.guild, "press", tags=["Space", "AI"])
    await cached(world, forum.id)
    long_title = "A very long headline about AI " + "and more " * 20
    article = await stored(world, 703, title=long_title)
    message_id = await sender_of(world).send(
        forum.id, [article], "forum-1", DeliveryStyle(forum_tag="ai")
    )
    (post,) = world.fake.threads_in(forum)
    assert post.id == message_id and len(post.name) == 100
    assert post.name == long_title[:99].rstrip() + "…"
    (ai_tag,) = [int(t["id"]) for t in forum.available_tags if t["name"] == "AI"]
    assert post.applied_tags == [ai_tag]
    (starter,) = world.fake.messages_in(post)
    assert starter.embeds[0]["url"] == article.link
    other = await stored(world, 704)
    await sender_of(world).send(forum.id, [other], "forum-2", DeliveryStyle(forum_tag="Climate"))
    assert world.fake.threads_in(forum)[1].applied_tags == []  # no tag of that name


async def test_a_thread_is_opened_on_a_posted_message_once(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    channel = world.home.channel
    article = await stored(world, 705, title="Discuss this")
    style = DeliveryStyle(thread=True)
    first = await sender_of(world).send(channel.id, [article], "threaded", style)
    again = await sender_of(world).send(channel.id, [article], "threaded", style)  # nonce: same
    assert first == again
    (thread,) = world.fake.threads_in(channel)
    assert (thread.id, thread.name) == (first, "Discuss this")
    refused = world.fake.find_requests(
        "POST", "/channels/{channel_id}/messages/{message_id}/threads"
    )
    assert [r.status for r in refused] == [201, 400]  # the second is 160004: done already
    assert "without its thread" not in caplog.text  # which is no failure


async def test_a_forum_post_whose_answer_was_lost_is_not_made_twice(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    forum = await world.fake.create_forum_channel(world.home.guild, "press")
    await cached(world, forum.id)
    await world.store.subscriptions.subscribe(
        guild_id=world.home.guild.id, channel_id=forum.id, topic="AI", min_quality=50
    )
    await stored(world, 710, quality=99)
    await stored(world, 711, quality=98)
    sender = sender_of(world)
    sender.timeout = 0.3
    world.fake.inject_fault("POST", POSTS, delay_answer=1.0, times=1)
    report = await world.bot.poster.run()
    assert report.deliveries()["retried"] == 1, report
    await asyncio.sleep(1.0)  # the late answer lands: the post exists
    made = [t.id for t in world.fake.threads_in(forum)]
    (waiting,) = await world.store.ledger.outbox()
    await world.bot.poster.run()  # within Discord's nonce window, which a post does not have
    assert [t.id for t in world.fake.threads_in(forum)][: len(made)] == made
    starters = [world.fake.messages_in(t)[0] for t in world.fake.threads_in(forum)]
    shown = [e["url"] for m in starters for e in m.embeds]
    assert len(shown) == len(set(shown))  # every article in one post only
    delivered = {d.article_id for d in await world.store.ledger.deliveries(forum.id)}
    assert set(waiting.article_ids) <= delivered and await world.store.ledger.outbox() == []


async def test_an_unconfirmed_forum_post_is_found_later_even_archived(world: World) -> None:
    forum = await world.fake.create_forum_channel(world.home.guild, "press")
    await cached(world, forum.id)
    article = await stored(world, 706)
    sender = sender_of(world)
    since = datetime.now(UTC)
    sender.timeout = 0.3
    world.fake.inject_fault("POST", POSTS, delay_answer=1.0, times=1)
    with pytest.raises(DeliveryFailed):
        await sender.send(forum.id, [article], "lost")
    await asyncio.sleep(1.0)
    (post,) = world.fake.threads_in(forum)
    await world.fake.archive_thread(post)
    assert await sender.find_sent(forum.id, [article], since) == post.id
    assert await sender.find_sent(forum.id, [article], since + timedelta(minutes=5)) is None
    assert await sender.find_sent(forum.id, [await stored(world, 707)], since) is None


@pytest.mark.parametrize(
    ("where", "deny", "style", "reason"),
    [
        ("forum", Perm.SEND_MESSAGES, DeliveryStyle(), "(Discord error 50013): Create Posts"),
        (
            "text",
            Perm.CREATE_PUBLIC_THREADS,
            DeliveryStyle(thread=True),
            "Missing Permissions: Create Public Threads",
        ),
        ("thread", Perm.SEND_MESSAGES_IN_THREADS, DeliveryStyle(), ": Send Messages in Threads"),
        ("text", Perm.MENTION_EVERYONE, "quiet role", "Missing Permissions: Mention Everyone"),
    ],
)
async def test_a_missing_permission_is_refused_by_its_name(
    world: World, where: str, deny: int, style: DeliveryStyle | str, reason: str
) -> None:
    guild, channel = world.home.guild, world.home.channel
    if style == "quiet role":  # not mentionable: only Mention Everyone could ping it
        role = await world.fake.create_role(guild, "quiet")
        style = DeliveryStyle(mention_role_id=role.id)
    assert isinstance(style, DeliveryStyle)
    target = parent = channel
    if where == "forum":
        target = parent = await world.fake.create_forum_channel(guild, "press")
    elif where == "thread":  # a thread opened on one of the bot's posts
        host = await stored(world, 708)
        thread_id = await sender_of(world).send(
            channel.id, [host], "host", DeliveryStyle(thread=True)
        )
        target = world.fake.state.channel(thread_id)
    await cached(world, target.id)
    # The bot's role lacks these; it has them from @everyone, which the channel now denies.
    await world.fake.set_permission_overwrite(parent, guild.id, deny=deny)
    await asyncio.sleep(0.05)  # the CHANNEL_UPDATE reaches the bot's cache
    before = len(posted(world, target))
    with pytest.raises(ChannelForbidden) as caught:
        await sender_of(world).send(target.id, [await stored(world, 709)], "denied", style)
    assert str(caught.value).endswith(reason), caught.value
    assert len(posted(world, target)) == before


async def test_a_paused_forum_resumes_once_posts_can_be_made_again(world: World) -> None:
    forum = await world.fake.create_forum_channel(world.home.guild, "press")
    await cached(world, forum.id)
    sender = sender_of(world)
    assert await sender.can_post(forum.id)
    await world.fake.set_permission_overwrite(forum, world.fake.bot, deny=Perm.SEND_MESSAGES)
    await eventually(lambda: sender.can_post(forum.id), lambda can: not can)
    await world.fake.remove_permission_overwrite(forum, world.fake.bot.id)
    await eventually(lambda: sender.can_post(forum.id), bool)


async def test_a_message_found_after_a_lost_answer_gets_its_thread_once(world: World) -> None:
    channel = world.home.channel
    article = await stored(world, 712, title="Threaded but lost")
    sender = sender_of(world)
    since = datetime.now(UTC)
    sender.timeout = 0.3
    world.fake.inject_fault("POST", MESSAGES, delay_answer=1.0, times=1)
    with pytest.raises(DeliveryFailed):
        await sender.send(channel.id, [article], "lost", DeliveryStyle(thread=True))
    await asyncio.sleep(1.0)  # the message exists; its thread was never asked for
    assert world.fake.threads_in(channel) == []
    sender.timeout = 5.0
    style = DeliveryStyle(thread=True)
    found = await sender.find_sent(channel.id, [article], since, style)
    assert (
        found is not None and await sender.find_sent(channel.id, [article], since, style) == found
    )
    assert [(t.id, t.name) for t in world.fake.threads_in(channel)] == [
        (found, "Threaded but lost")
    ]


async def test_a_thread_refused_after_the_message_keeps_the_message_delivered(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    channel = world.home.channel  # the cache says threads are allowed; Discord disagrees
    world.fake.inject_fault(
        "POST", "/channels/{channel_id}/messages/{message_id}/threads", status=403, code=50013
    )
    article = await stored(world, 713)
    sent = await sender_of(world).send(
        channel.id, [article], "no-thread", DeliveryStyle(thread=True)
    )
    assert [m.id for m in posted(world, channel)] == [sent]  # delivered: never sent again
    assert world.fake.threads_in(channel) == []
    assert f"message {sent} posted without its thread" in caplog.text


async def test_sends_go_out_while_the_database_cannot_hand_out_turns(
    world: World, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # On PostgreSQL every process takes its turns from the database; on SQLite the process
    # paces itself. A database that cannot give a turn (restarting) holds no send back.
    sender, pacer = sender_of(world), world.bot.pacer
    assert pacer.turns.shared is (backend_of(world.store) == "postgres")
    gone = await open_store(postgres_url)
    await gone.close()
    pacer.turns = gone.send_turns
    article = await stored(world, 710)
    channel = world.home.channel
    sent = [await sender.send(channel.id, [article], f"no-turn-{n}") for n in range(3)]
    assert [m.id for m in posted(world, channel)][-3:] == sent
    warned = [r for r in caplog.records if "cannot take a send turn" in r.getMessage()]
    assert len(warned) == 1  # said once, not at every send


async def test_a_sends_time_out_does_not_count_its_wait_for_a_turn(world: World) -> None:
    # Behind a busy posting run a message may wait seconds for its turn: that is no sign
    # that Discord did not answer, so it is not a time-out.
    sender, pacer = sender_of(world), world.bot.pacer
    sender.timeout = 0.3
    assert world.bot.user is not None
    for _ in range(round(1.0 / pacer.interval)):  # the next second's turns are taken
        await pacer.turns.take(world.bot.user.id, pacer.interval)
    article = await stored(world, 720)
    sent = await sender.send(world.home.channel.id, [article], "behind-a-busy-run")
    assert [m.id for m in posted(world, world.home.channel)][-1] == sent
