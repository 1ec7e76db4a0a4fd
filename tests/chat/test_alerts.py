"""/alerts through the fake Discord: where posting trouble is reported, once per change."""

from __future__ import annotations

import asyncio

import pytest

from bot.chat.delivery import DiscordSender
from bot.parsing import build_draft
from tests.chat.conftest import World, eventually
from tests.factories import article_fields
from tests.fake_discord.state import FakeChannel, FakeMessage, Perm


def sender_of(world: World) -> DiscordSender:
    sender = world.bot.poster.sender
    assert isinstance(sender, DiscordSender)
    return sender


def alert_posts(world: World, channel: FakeChannel) -> list[FakeMessage]:
    """Return what the bot posted in the alert channel (commands are answered elsewhere)."""
    return [m for m in world.fake.messages_in(channel) if m.interaction_metadata is None]


def alert_tries(world: World, channel: FakeChannel) -> int:
    """Return how many messages the bot tried to post in a channel, refused or not."""
    return len(world.fake.find_requests("POST", f"/channels/{channel.id}/messages"))


async def alerts_in_new_channel(world: World) -> FakeChannel:
    """Make a channel and name it with ``/alerts channel`` as the home server's admin."""
    channel = await world.fake.create_channel(world.home.guild, "bot-alerts")
    answer = await world.answer("alerts channel", user=world.home.admin, channel=channel)
    assert answer.content == (
        f"Alerts go to <#{channel.id}>: channels paused, resumed or gone, "
        "and articles Discord refused."
    )
    return channel


async def subscribe_news(world: World) -> None:
    """Subscribe the home server's news channel to AI, and add a due article."""
    answer = await world.answer("subscribe", user=world.home.admin, topic="AI")
    assert not answer.ephemeral, answer.content
    draft = build_draft(article_fields(600, topics=["AI"], quality=99, title="Fresh story"))
    await world.store.articles.save([(draft, None)])


async def lose_send_messages(world: World, channel: FakeChannel) -> None:
    await world.fake.set_permission_overwrite(channel, world.fake.bot, deny=Perm.SEND_MESSAGES)
    await eventually(lambda: sender_of(world).can_post(channel.id), lambda can: not can)


async def test_a_paused_channel_is_reported_in_the_alert_channel_once_then_its_resume(
    world: World,
) -> None:
    alerts = await alerts_in_new_channel(world)
    news = world.home.channel
    await subscribe_news(world)
    await lose_send_messages(world, news)
    await world.bot.poster.run()
    (paused,) = alert_posts(world, alerts)
    assert paused.content == (
        f"Paused posting in <#{news.id}> (**AI**): the bot lacks Send Messages, Embed Links "
        "there. Grant them and posting resumes by itself."
    )
    request = world.fake.last_request("POST", f"/channels/{alerts.id}/messages")
    assert request.json["allowed_mentions"] == {"parse": []}
    await world.bot.poster.run()  # still paused: nothing new to say
    assert len(alert_posts(world, alerts)) == 1
    await world.fake.remove_permission_overwrite(news, world.fake.bot.id)
    await eventually(lambda: sender_of(world).can_post(news.id), bool)
    await world.bot.poster.run()
    await world.bot.poster.run()
    assert [m.content for m in alert_posts(world, alerts)][1:] == [
        f"Resumed posting in <#{news.id}> (**AI**)."
    ]


async def test_alerts_off_stops_them(world: World) -> None:
    alerts = await alerts_in_new_channel(world)
    await subscribe_news(world)
    answer = await world.answer("alerts off", user=world.home.admin)
    assert answer.content == "Alerts are off; `/subscriptions` shows what is paused and why."
    await lose_send_messages(world, world.home.channel)
    await world.bot.poster.run()
    assert alert_tries(world, alerts) == 0
    (subscription,) = await world.store.subscriptions.in_guild(world.home.guild.id)
    assert not subscription.active  # /subscriptions still shows it, as before alerts
    again = await world.answer("alerts off", user=world.home.admin)
    assert again.ephemeral
    assert again.content == "No alert channel is set here. Name one with `/alerts channel`."


async def test_an_alert_channel_the_bot_cannot_post_in_is_refused(world: World) -> None:
    channel = await world.fake.create_channel(world.home.guild, "read-only")
    await world.fake.set_permission_overwrite(channel, world.fake.bot, deny=Perm.SEND_MESSAGES)
    answer = await world.answer("alerts channel", user=world.home.admin, channel=channel)
    assert answer.ephemeral
    assert answer.content == (
        f"I cannot post in <#{channel.id}>: I am missing Send Messages. "
        "Grant it to me in that channel and try again."
    )
    assert await world.store.alerts.channel(world.home.guild.id) is None


async def test_alerts_need_manage_server(world: World) -> None:
    for name, options in (("alerts channel", {"channel": world.home.channel}), ("alerts off", {})):
        answer = await world.answer(name, user=world.home.moderator, **options)
        assert answer.ephemeral
        assert answer.content == "You need the Manage Server permission for this."
    assert await world.store.alerts.channel(world.home.guild.id) is None


async def test_an_alert_channel_that_became_unpostable_is_recorded_and_not_retried(
    world: World,
) -> None:
    alerts = await alerts_in_new_channel(world)
    await subscribe_news(world)
    await lose_send_messages(world, alerts)
    await lose_send_messages(world, world.home.channel)
    report = await world.bot.poster.run()
    assert report.deliveries()["paused"] == 1
    assert alert_tries(world, alerts) == 1 and alert_posts(world, alerts) == []
    alert = await world.store.alerts.channel(world.home.guild.id)
    assert alert is not None
    assert alert.failure == "Missing Permissions (Discord error 50013)"
    await world.bot.poster.run()
    await world.bot.poster.run()
    assert alert_tries(world, alerts) == 1  # tried once for the one change: no retry loop


@pytest.mark.parametrize(
    ("status", "code", "failure"),
    [
        (404, 10003, "Unknown Channel (Discord error 10003)"),
        (503, 0, "Unavailable (HTTP 503)"),
    ],
)
async def test_an_alert_discord_does_not_take_is_recorded_and_tried_once(
    world: World, status: int, code: int, failure: str
) -> None:
    alerts = await alerts_in_new_channel(world)
    await subscribe_news(world)
    world.fake.inject_fault("POST", f"/channels/{alerts.id}/messages", status=status, code=code,
                            message=failure.split(" (")[0], times=None)  # fmt: skip
    await lose_send_messages(world, world.home.channel)
    await world.bot.poster.run()
    await world.bot.poster.run()
    assert alert_tries(world, alerts) == 1
    alert = await world.store.alerts.channel(world.home.guild.id)
    assert alert is not None and alert.failure == failure


async def test_a_deleted_channel_is_reported_with_its_name(world: World) -> None:
    alerts = await alerts_in_new_channel(world)
    doomed = await world.fake.create_channel(world.home.guild, "doomed")
    answer = await world.answer("subscribe", user=world.home.admin, topic="AI", channel=doomed)
    assert not answer.ephemeral, answer.content
    await world.fake.delete_channel(doomed)
    await eventually(lambda: asyncio.sleep(0, alert_posts(world, alerts)), bool)
    assert [m.content for m in alert_posts(world, alerts)] == [
        "Stopped posting in #doomed: the channel is gone; removed 1 subscription."
    ]
    await world.bot.poster.run()
    assert len(alert_posts(world, alerts)) == 1
