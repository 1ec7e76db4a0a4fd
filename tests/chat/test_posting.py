"""Posting through the fake Discord: delivery, Discord's errors, admin commands."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.chat.bot import NewsBot
from bot.chat.delivery import DiscordSender
from bot.config import Settings
from bot.parsing import build_draft
from bot.posting import RunReport
from bot.scheduler import POST_JOB
from bot.store import Store
from tests.chat.conftest import World, eventually, make_server
from tests.factories import article_fields, write_article
from tests.fake_discord import FakeDiscord, running_bot
from tests.fake_discord.ratelimit import RateLimitHit
from tests.fake_discord.state import FakeChannel, FakeMessage, Perm

MESSAGES = "/channels/{channel_id}/messages"


async def new_articles(
    world: World, count: int, topic: str = "AI", start: int = 500, **fields: Any
) -> list[int]:
    """Store articles that arrive after the subscriptions were made; return their ids."""
    ids = []
    for number in range(start, start + count):
        draft = build_draft(article_fields(number, topics=[topic], quality=fields.get("quality", 60 + number % 40),
                                           title=f"Fresh story {number}"))  # fmt: skip
        await world.store.articles.save([(draft, None)])
        article = await world.store.articles.by_url(draft.url)
        assert article is not None
        ids.append(article.id)
    return ids


async def subscribe(
    world: World, channel: FakeChannel | None = None, topic: str = "AI", **options: Any
) -> None:
    answer = await world.answer(
        "subscribe", user=world.home.admin, topic=topic, channel=channel, **options
    )
    assert not answer.ephemeral, answer.content


def posts(world: World, channel: FakeChannel) -> list[FakeMessage]:
    """Return what the posting job sent to a channel (not the answers to commands)."""
    return [
        m
        for m in world.fake.messages_in(channel)
        if m.interaction_metadata is None and m.webhook_id is None
    ]


def titles(world: World, channel: FakeChannel) -> list[str]:
    return [e["title"] for m in posts(world, channel) for e in m.embeds]


async def test_due_articles_reach_every_subscribed_channel_once(world: World) -> None:
    other = await world.fake.create_channel(world.home.guild, "more-news")
    await subscribe(world)
    await subscribe(world, other, min_quality=80)
    await new_articles(world, 3)  # qualities 60 + n % 40: 80, 81, 82 for n = 500..502
    report = await world.bot.poster.run()
    backfill = 3  # the best recent AI articles from before /subscribe
    assert len(posts(world, world.home.channel)) == min(backfill + 3, 5)
    assert {"Fresh story 502", "Fresh story 501", "Fresh story 500"} <= set(titles(world, other))
    assert report.posted == len(posts(world, world.home.channel)) + len(posts(world, other))
    for request in world.fake.find_requests("POST", MESSAGES):
        assert request.json["allowed_mentions"] == {"parse": []}
        assert request.json["enforce_nonce"] is True and request.json["nonce"]
    await world.bot.poster.run()
    await world.bot.poster.run()
    everything = titles(world, world.home.channel)
    assert len(everything) == len(set(everything))  # never twice


async def test_the_scheduler_runs_the_posting_job(world: World) -> None:
    await subscribe(world)
    job = world.bot.scheduler.scheduler.get_job(POST_JOB)
    assert job is not None
    assert job.trigger.interval.total_seconds() == 15 * 60
    assert job.coalesce is True and job.max_instances == 1
    job.modify(next_run_time=datetime.now(UTC))  # instead of waiting a quarter of an hour
    await world.fake.wait_for_message(
        world.home.channel, lambda m: m.interaction_metadata is None, timeout=5
    )


async def test_forbidden_channel_is_paused_then_resumes_by_itself(world: World) -> None:
    other = await world.fake.create_channel(world.home.guild, "locked")
    await subscribe(world)
    await subscribe(world, other)
    fresh = await new_articles(world, 1, quality=99)
    await world.fake.set_permission_overwrite(other, world.fake.bot, deny=Perm.SEND_MESSAGES)
    await world.bot.poster.run()
    assert "Fresh story 500" in titles(world, world.home.channel)  # others are not affected
    (paused,) = [
        s for s in await world.store.subscriptions.in_guild(world.home.guild.id) if not s.active
    ]
    assert paused.channel_id == other.id
    assert paused.paused_reason == "Missing Permissions (Discord error 50013)"
    listing = await world.answer("subscriptions")
    assert (
        "**paused**: Missing Permissions (Discord error 50013)" in listing.embeds[0]["description"]
    )
    await world.bot.poster.run()
    assert posts(world, other) == []
    await world.fake.remove_permission_overwrite(other, world.fake.bot.id)
    await asyncio.sleep(0.05)  # the CHANNEL_UPDATE reaches the bot's cache
    report = await world.bot.poster.run()
    assert [s.channel_id for s in report.resumed] == [other.id]
    assert "Fresh story 500" in titles(world, other)
    assert fresh[0] in [d.article_id for d in await world.store.ledger.deliveries(other.id)]


async def test_unknown_channel_removes_its_subscription(world: World) -> None:
    await subscribe(world)
    await new_articles(world, 1)
    world.fake.inject_fault(
        "POST", f"/channels/{world.home.channel.id}/messages", status=404, code=10003, times=None
    )
    report = await world.bot.poster.run()
    assert report.channels[0].skipped == "channel deleted: subscriptions removed"
    assert await world.store.subscriptions.in_guild(world.home.guild.id) == []


async def test_rate_limits_are_waited_out_without_losing_or_doubling(world: World) -> None:
    await subscribe(world)
    world.fake.inject_fault("POST", MESSAGES, status=429, retry_after=0.05, times=2)
    await world.bot.poster.run()
    sent = titles(world, world.home.channel)
    assert len(sent) == 3 and len(set(sent)) == 3  # the backfill, each once


async def test_a_server_error_is_retried_without_doubling(world: World) -> None:
    await subscribe(world)
    world.fake.inject_fault("POST", MESSAGES, status=500, times=1)  # discord.py retries after 1 s
    await world.bot.poster.run()
    assert len(titles(world, world.home.channel)) == 3


async def test_a_server_error_that_outlasts_the_retries_is_sent_again_next_run(
    world: World,
) -> None:
    # 503 is not among the statuses discord.py retries, so it raises at once, as it does
    # for a 500 after its five tries.
    await subscribe(world)
    world.fake.inject_fault("POST", MESSAGES, status=503, code=0, message="Unavailable", times=None)
    first = await world.bot.poster.run()
    assert first.posted == 0 and titles(world, world.home.channel) == []
    assert first.channels[0].skipped is not None and "retried next run" in first.channels[0].skipped
    (waiting,) = await world.store.ledger.outbox()
    (subscription,) = await world.store.subscriptions.in_guild(world.home.guild.id)
    assert subscription.paused_reason is None  # Discord's trouble, not the channel's
    world.fake.clear_faults()
    second = await world.bot.poster.run()
    sent = titles(world, world.home.channel)
    assert second.posted == 3 and len(sent) == len(set(sent)) == 3
    assert waiting.nonce in [r.json["nonce"] for r in world.fake.find_requests("POST", MESSAGES)]
    assert await world.store.ledger.outbox() == []


async def test_an_article_discord_refuses_to_render_is_posted_without_the_extras(
    world: World,
) -> None:
    await subscribe(world, topic="Computer Vision", min_quality=0)
    world.fake.inject_fault(
        "POST", MESSAGES, status=400, code=50035, message="Invalid Form Body", times=1
    )
    await world.bot.poster.run()
    refused, accepted = world.fake.find_requests("POST", MESSAGES)[:2]
    assert refused.status == 400 and accepted.status == 200
    assert refused.json["nonce"] == accepted.json["nonce"]
    before, after = refused.json["embeds"][0], accepted.json["embeds"][0]
    assert "thumbnail" in before or before.get("fields")  # the extras were there
    assert "thumbnail" not in after and not after.get("fields")  # and are left out
    assert after["title"] == before["title"] and after["url"] == before["url"]
    assert len(posts(world, world.home.channel)) == 3


async def test_an_article_refused_in_every_form_is_skipped_and_the_rest_posted(
    world: World,
) -> None:
    await subscribe(world)
    world.fake.inject_fault(
        "POST", MESSAGES, status=400, code=50035, message="Invalid Form Body", times=3
    )
    await world.bot.poster.run()
    requests = world.fake.find_requests("POST", MESSAGES)
    assert [r.status for r in requests[:3]] == [400, 400, 400]
    assert "content" in requests[2].json and "embeds" not in requests[2].json  # the bare-link form
    assert len(posts(world, world.home.channel)) == 2  # the other two articles still go out
    await world.bot.poster.run()
    assert len(posts(world, world.home.channel)) == 2  # and the refused one is not retried


async def test_a_send_that_times_out_is_resent_with_its_nonce_and_posted_once(world: World) -> None:
    await subscribe(world)
    sender = world.bot.poster.sender
    assert isinstance(sender, DiscordSender)
    sender.timeout = 0.3
    world.fake.inject_delay("POST", MESSAGES, 1.0, times=1)
    first = await world.bot.poster.run()
    assert (
        first.channels[0].skipped
        == "Discord did not confirm the message (no answer within 0.3 s); retried next run"
    )
    (waiting,) = await world.store.ledger.outbox()
    await asyncio.sleep(1.0)  # the slow request lands meanwhile
    await world.bot.poster.run()
    sent = titles(world, world.home.channel)
    assert len(sent) == len(set(sent)) == 3
    nonces = [r.json["nonce"] for r in world.fake.find_requests("POST", MESSAGES)]
    assert nonces.count(waiting.nonce) == 2  # the same message, sent twice, made once
    assert await world.store.ledger.outbox() == []


async def lose_an_answer(world: World) -> DiscordSender:
    """Run once with Discord making the message but its answer arriving too late."""
    sender = world.bot.poster.sender
    assert isinstance(sender, DiscordSender)
    sender.timeout = 0.3
    world.fake.inject_fault("POST", MESSAGES, delay_answer=1.0, times=1)
    await world.bot.poster.run()
    await asyncio.sleep(1.0)  # the late answer lands: the message exists
    return sender


async def test_a_lost_answer_retried_after_discord_forgot_the_nonce_posts_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribe(world)
    await lose_an_answer(world)
    (waiting,) = await world.store.ledger.outbox()
    world.fake.nonce_window = 0  # the next run is 15 minutes later: the nonce is forgotten
    later = datetime.now(UTC) + timedelta(minutes=15)
    monkeypatch.setattr(world.bot.poster, "clock", lambda: later)
    await world.bot.poster.run()
    sent = titles(world, world.home.channel)
    assert len(sent) == len(set(sent)) == 3  # the lost one found in the channel, not resent
    assert await world.store.ledger.outbox() == []
    delivered = {d.article_id for d in await world.store.ledger.deliveries(world.home.channel.id)}
    assert set(waiting.article_ids) <= delivered


async def test_a_channel_refused_while_a_send_was_unconfirmed_gets_it_once_after_resuming(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = world.home.channel
    await subscribe(world, min_quality=99)
    await new_articles(world, 1, quality=99)
    sender = await lose_an_answer(world)
    await world.fake.set_permission_overwrite(channel, world.fake.bot, deny=Perm.SEND_MESSAGES)
    await eventually(lambda: sender.can_post(channel.id), lambda can: not can)
    await world.bot.poster.run()  # the resend is refused (403): paused, the entry kept
    (subscription,) = await world.store.subscriptions.in_guild(world.home.guild.id)
    assert not subscription.active and len(await world.store.ledger.outbox()) == 1
    world.fake.nonce_window = 0  # permissions come back hours later
    later = datetime.now(UTC) + timedelta(hours=3)
    monkeypatch.setattr(world.bot.poster, "clock", lambda: later)
    await world.fake.remove_permission_overwrite(channel, world.fake.bot.id)
    await eventually(lambda: sender.can_post(channel.id), bool)
    report = await world.bot.poster.run()
    assert report.resumed and titles(world, channel).count("Fresh story 500") == 1
    assert await world.store.ledger.outbox() == []


async def test_admin_runs_posting_now_and_sees_what_happened(world: World) -> None:
    await subscribe(world)
    answer = await (await world.ask("post now", user=world.home.admin)).followup()
    assert answer.ephemeral
    assert answer.content.startswith("Posted 3 articles.\n")
    assert f"<#{world.home.channel.id}>: posted 3" in answer.content
    again = await (await world.ask("post now", user=world.home.admin)).followup()
    assert (
        again.content
        == f"Posted 0 articles.\n<#{world.home.channel.id}>: nothing posted — nothing due"
    )


async def test_post_now_for_one_topic(world: World) -> None:
    await subscribe(world, topic="AI")
    await subscribe(world, topic="Space")
    answer = await (await world.ask("post now", user=world.home.admin, topic="space")).followup()
    sent = posts(world, world.home.channel)
    assert answer.content.startswith(f"Posted {len(sent)} article")
    assert all("Space" in m.embeds[0]["footer"]["text"] for m in sent)


async def test_admin_commands_need_manage_server(world: World) -> None:
    for name in ("post now", "post preview"):
        answer = await world.answer(name, user=world.home.moderator)
        assert answer.ephemeral
        assert answer.content == "You need the Manage Server permission for this."


async def test_preview_shows_the_next_run_without_posting(world: World) -> None:
    await subscribe(world)
    answer = await world.answer("post preview", user=world.home.admin)
    (embed,) = answer.embeds
    assert embed["title"] == "Next posting run"
    assert embed["fields"][0]["name"] == "#news"
    assert embed["fields"][0]["value"].count("• [") == 3
    assert posts(world, world.home.channel) == []


async def test_a_preview_of_many_busy_channels_fits_one_embed_and_says_what_is_left(
    world: World,
) -> None:
    for n in range(30):
        channel = await world.fake.create_channel(world.home.guild, f"news-{n:02d}")
        await subscribe(world, channel=channel, min_quality=0)  # each gets a backfill of 3
    answer = await world.answer("post preview", user=world.home.admin)
    assert answer.ephemeral and "Sorry" not in (answer.content or "")
    (embed,) = answer.embeds
    shown = len(embed["fields"])
    assert 0 < shown < 30
    assert embed["footer"]["text"] == (
        f"…and {30 - shown} more channels: give the channel option to see one."
    )


async def test_a_manual_run_during_a_scheduled_one_says_so(world: World) -> None:
    await subscribe(world)
    world.fake.inject_delay("POST", MESSAGES, 1.0, times=1)
    scheduled = asyncio.create_task(world.bot.poster.run())
    await eventually(lambda: _true(world.bot.poster.running), bool)
    handle = await world.ask("post now", user=world.home.admin)
    answer = await handle.followup()
    assert answer.content == "A posting run is under way right now; try again in a minute."
    await scheduled
    sent = titles(world, world.home.channel)
    assert len(sent) == len(set(sent)) == 3


async def _true(value: bool) -> bool:
    return value


async def test_news_why_explains_each_subscription(world: World) -> None:
    other = await world.fake.create_channel(world.home.guild, "picky")
    await subscribe(world)
    await subscribe(world, other, min_quality=95)
    (fresh,) = await new_articles(world, 1, quality=90)
    article = await world.store.articles.get(fresh)
    assert article is not None
    before = await world.answer("news why", article=article.link)
    lines = before.embeds[0]["fields"][0]["value"].split("\n")
    assert lines == [
        f"<#{world.home.channel.id}> · **AI**: due: it goes out with the next posting run (best quality first).",
        f"<#{other.id}> · **AI**: not posted: quality 90 is under this channel's minimum 95.",
    ]
    await world.bot.poster.run()
    after = await world.answer("news why", article=article.link)
    assert (
        after.embeds[0]["fields"][0]["value"]
        .split("\n")[0]
        .startswith(f"<#{world.home.channel.id}> · **AI**: posted <t:")
    )


async def test_news_why_for_an_article_with_a_big_embed_still_explains(world: World) -> None:
    topics = [f"Topic number {i} " + "x" * 60 for i in range(40)] + ["AI"]
    draft = build_draft(article_fields(901, topics=topics, title="T" * 300, excerpt="E " * 3000))
    await world.store.articles.save([(draft, None)])
    answer = await world.answer("news why", article=draft.url)
    assert answer.ephemeral and "Sorry" not in (answer.content or "")
    (embed,) = answer.embeds
    assert embed["fields"][-1]["name"] == "Here"


async def test_news_why_for_old_published_and_unknown_articles(world: World) -> None:
    await subscribe(world, topic="Open Source", min_quality=0)
    published = await world.store.articles.by_url(
        "https://secureline.example.com/2026/11/supply-chain-attack-logging-library"
    )
    assert published is not None and published.source_published
    answer = await world.answer("news why", article=published.link)
    assert (
        "not posted: the source had already published it." in answer.embeds[0]["fields"][0]["value"]
    )
    missing = await world.answer("news why", article="https://nowhere.example.com/x")
    assert missing.ephemeral and missing.content.startswith(
        "I have no article at <https://nowhere.example.com/x>."
    )
    unfollowed = await world.store.articles.by_url(
        "https://www.securityweek.com/france-slaps-fine-face-recognition-firm-clearview-ai"
    )
    assert unfollowed is not None
    nobody = await world.answer("news why", article=unfollowed.link)
    assert nobody.embeds[0]["fields"][0]["value"] == (
        "No channel here follows **Computer Vision**, **AI**. `/subscribe` one to get such articles."
    )


async def test_digest_subscription_posts_one_message(world: World) -> None:
    await subscribe(world, mode="digest")
    await new_articles(world, 4)
    await world.bot.poster.run()
    (message,) = posts(world, world.home.channel)
    assert len(message.embeds) == 5  # the cap: at most five articles per run


@pytest.mark.parametrize("mode", ["each", "digest"])
async def test_subscribe_mode_is_shown(world: World, mode: str) -> None:
    await subscribe(world, mode=mode)
    listing = await world.answer("subscriptions")
    assert (" · digest · " in listing.embeds[0]["description"]) == (mode == "digest")


async def test_commands_keep_answering_during_a_large_rescan(
    bot_store: Store, tmp_path: Path
) -> None:
    data = tmp_path / "incoming"
    for n in range(3000):
        write_article(data, f"{n // 500}/{n}.md", 10_000 + n, topics=["Bulk"])
    settings = Settings(min_quality=50, data_dir=data, load_workers=1)
    async with FakeDiscord() as fake:
        home = make_server(fake, "home")
        async with running_bot(fake, NewsBot(bot_store, settings, guild_ready_timeout=0.05)) as bot:
            rescan = asyncio.create_task(bot.rescan())
            await eventually(
                lambda: bot_store.articles.count(), lambda n: n > 49
            )  # loading has begun
            answer = await (
                await fake.send_command(home.guild, home.channel, home.member, "news topics")
            ).response()
            assert answer.embeds[0]["title"].startswith("Topics (")
            assert not rescan.done(), "the answer came while the load was still running"
            report = await rescan
    assert report.added == 3000


async def test_the_jobs_start_when_ready_and_stop_with_the_bot(bot_store: Store) -> None:
    async with FakeDiscord() as fake:
        make_server(fake, "home")
        bot = NewsBot(bot_store, Settings(), guild_ready_timeout=0.05)
        assert not bot.scheduler.scheduler.running
        async with running_bot(fake, bot):
            assert bot.scheduler.scheduler.running
            jobs = {job.id: job for job in bot.scheduler.scheduler.get_jobs()}
            assert set(jobs) == {"post", "rescan"}
            assert jobs["rescan"].trigger.interval.total_seconds() == 5 * 60
        assert not bot.scheduler.scheduler.running


async def run_under_rate_limits(
    world: World, channels: Sequence[FakeChannel]
) -> tuple[RunReport, list[RateLimitHit]]:
    """Subscribe ``channels`` to AI, store one article due in each, and run the posting job
    with the fake's rate limits on; return its report and the global 429s it drew."""
    for channel in channels:
        await world.store.subscriptions.subscribe(
            guild_id=world.home.guild.id, channel_id=channel.id, topic="AI", min_quality=50
        )
    await new_articles(world, 1, quality=99)
    world.fake.rate_limits.enabled = True
    report = await world.bot.poster.run()
    return report, [hit for hit in world.fake.rate_limits.hits if hit.scope == "global"]


async def test_a_run_to_many_channels_stays_under_the_global_rate_limit(world: World) -> None:
    channels = [world.fake.add_text_channel(world.home.guild, f"feed-{n}") for n in range(60)]
    report, global_429s = await run_under_rate_limits(world, channels)
    assert global_429s == []
    assert report.posted == 60 and all(len(posts(world, channel)) == 1 for channel in channels)


async def test_every_request_of_a_run_counts_toward_the_global_rate_limit(world: World) -> None:
    # A forum post is two requests: a look for the post an unconfirmed try may have made,
    # then the post. Both count toward Discord's global limit, and both wait their turn.
    forums = [await world.fake.create_forum_channel(world.home.guild, f"f-{n}") for n in range(40)]
    await eventually(lambda: asyncio.sleep(0, world.bot.get_channel(forums[-1].id)), bool)
    report, global_429s = await run_under_rate_limits(world, forums)
    assert global_429s == []
    assert report.posted == 40 and all(len(world.fake.threads_in(f)) == 1 for f in forums)
    looks = world.fake.find_requests("GET", "/guilds/{guild_id}/threads/active")
    assert len(looks) >= 40  # the looks were made, and paced


async def test_a_429_that_discord_py_gives_up_on_is_waited_out(world: World) -> None:
    await subscribe(world)
    world.fake.inject_fault(
        "POST", MESSAGES, status=429, retry_after=0.01, times=7
    )  # five, then two
    report = await world.bot.poster.run()
    assert report.posted == 3 and len(titles(world, world.home.channel)) == 3


async def test_post_now_for_an_unknown_topic_gets_a_hint(world: World) -> None:
    await subscribe(world)
    answer = await world.answer("post now", user=world.home.admin, topic="Spcae")
    assert answer.ephemeral
    assert answer.content.startswith("No articles on the topic **Spcae**. Did you mean **Space**?")
    assert posts(world, world.home.channel) == []
