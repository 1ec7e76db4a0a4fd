"""The posting pipeline on its own, with an in-memory sender: due rules, caps, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.alerts import Alerts
from bot.articles import Article
from bot.errors import (
    AlreadyRunning,
    ChannelForbidden,
    ChannelGone,
    DeliveryFailed,
    MessageRefused,
    RunInProgress,
    StoreError,
)
from bot.parsing import build_draft
from bot.posting import Poster, Scope, explain, message_nonce, owns_guild_for
from bot.store import Store
from bot.subscriptions import PLAIN, DeliveryStyle, OutboxMessage
from tests.backends import sqlite_only
from tests.factories import article_fields

GUILD, OTHER_GUILD = 1 << 22, 2 << 22  # shards 1 and 0 of 2... (1 % 2, 2 % 2)


class Killed(BaseException):
    """The process dying at a chosen point: not an error the code could handle."""


@dataclass
class MemorySender:
    """A Discord stand-in: records messages and, like Discord, honours nonces."""

    sent: list[tuple[int, tuple[int, ...], str]] = field(default_factory=list)
    by_nonce: dict[str, int] = field(default_factory=dict)
    forbidden: set[int] = field(default_factory=set)
    gone: set[int] = field(default_factory=set)
    failing: set[int] = field(default_factory=set)
    refused: set[int] = field(default_factory=set)  # article ids Discord will not take
    unreadable: set[int] = field(default_factory=set)  # channels without Read Message History
    searched: list[int] = field(default_factory=list)
    styles: dict[str, DeliveryStyle] = field(default_factory=dict)  # by nonce
    lacking: dict[int, tuple[str, ...]] = field(default_factory=dict)  # a 403's missing names
    notices: list[tuple[int, str]] = field(default_factory=list)  # alerts posted
    notify_tries: list[int] = field(default_factory=list)  # channels an alert was tried in
    gate: asyncio.Event | None = None

    async def send(
        self, channel_id: int, articles: Sequence[Article], nonce: str, style: DeliveryStyle = PLAIN
    ) -> int:
        if self.gate is not None:
            await self.gate.wait()
        if channel_id in self.gone:
            raise ChannelGone("Unknown Channel")
        if channel_id in self.forbidden:
            raise ChannelForbidden("Missing Access", missing=self.lacking.get(channel_id, ()))
        if channel_id in self.failing:
            raise DeliveryFailed("503 Service Unavailable")
        if self.refused & {a.id for a in articles}:
            raise MessageRefused("Invalid Form Body (Discord error 50035)")
        if nonce in self.by_nonce:
            return self.by_nonce[nonce]
        self.by_nonce[nonce] = 1000 + len(self.sent)
        self.styles[nonce] = style
        self.sent.append((channel_id, tuple(a.id for a in articles), nonce))
        return self.by_nonce[nonce]

    async def can_post(self, channel_id: int) -> bool:
        if channel_id in self.gone:
            raise ChannelGone("Unknown Channel")
        return channel_id not in self.forbidden

    async def notify(self, channel_id: int, text: str) -> int:
        self.notify_tries.append(channel_id)
        if channel_id in self.gone:
            raise ChannelGone("Unknown Channel")
        if channel_id in self.forbidden:
            raise ChannelForbidden("Missing Access")
        if channel_id in self.failing:
            raise DeliveryFailed("503 Service Unavailable")
        self.notices.append((channel_id, text))
        return 5000 + len(self.notices)

    async def find_sent(
        self,
        channel_id: int,
        articles: Sequence[Article],
        since: datetime,
        style: DeliveryStyle = PLAIN,
    ) -> int | None:
        self.searched.append(channel_id)
        if channel_id in self.unreadable:
            raise ChannelForbidden("Missing Access")
        wanted = tuple(a.id for a in articles)
        for number, (channel, ids, _) in enumerate(self.sent):
            if (channel, ids) == (channel_id, wanted):
                return 1000 + number
        return None

    def forget_nonces(self) -> None:
        """Do what Discord does after a few minutes: a nonce no longer finds its message."""
        self.by_nonce.clear()

    def articles_in(self, channel_id: int) -> list[int]:
        return [i for channel, ids, _ in self.sent if channel == channel_id for i in ids]


async def add(store: Store, number: int, **fields: Any) -> int:
    draft = build_draft(article_fields(number, **fields))
    await store.articles.save([(draft, None)])
    article = await store.articles.by_url(draft.url)
    assert article is not None
    return article.id


async def subscribe(
    store: Store, channel: int, topic: str = "AI", guild: int = GUILD, **kw: Any
) -> None:
    await store.subscriptions.subscribe(
        guild_id=guild, channel_id=channel, topic=topic, min_quality=kw.pop("min_quality", 50), **kw
    )


@pytest.fixture
def sender() -> MemorySender:
    return MemorySender()


@pytest.fixture
def poster(store: Store, sender: MemorySender) -> Poster:
    return Poster(store, sender, max_per_run=5)


async def test_due_means_topic_unpublished_good_enough_and_new(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    old = await add(store, 1, quality=90)  # loaded before the subscription: backlog
    await subscribe(store, 10, min_quality=60)
    good = await add(store, 2, quality=60)
    await add(store, 3, quality=59)  # under the threshold
    await add(store, 4, quality=None)  # unknown quality never passes
    await add(store, 5, quality=95, published=True)  # already published at the source
    await add(store, 6, quality=95, topics=["Climate"])  # another topic
    shouted = await add(store, 7, quality=80, topics=["ai"])  # same topic, other case
    report = await poster.run()
    assert sender.articles_in(10) == [shouted, good]  # best first
    assert old not in sender.articles_in(10)
    assert report.posted == 2
    assert [d.article_id for d in await store.ledger.deliveries(10)] == [shouted, good]


async def test_nothing_is_posted_twice(store: Store, sender: MemorySender, poster: Poster) -> None:
    await subscribe(store, 10)
    await add(store, 1)
    await poster.run()
    second = await poster.run()
    assert len(sender.sent) == 1
    assert second.posted == 0 and second.channels[0].skipped == "nothing due"


async def test_a_new_subscription_gets_only_a_small_backfill(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    backlog = [await add(store, n, quality=50 + n) for n in range(1, 11)]
    await subscribe(store, 10, backfill=3)
    await poster.run()
    assert sender.articles_in(10) == backlog[::-1][:3]  # the three best of the recent backlog


async def test_each_run_posts_at_most_the_cap_best_quality_then_newest(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10)
    ids = {
        n: await add(store, n, quality=q)
        for n, q in enumerate([60, 90, 90, 70, 80, 55, 65], start=1)
    }
    await poster.run()
    assert sender.articles_in(10) == [
        ids[3],
        ids[2],
        ids[5],
        ids[4],
        ids[7],
    ]  # 90 (newer), 90, 80, 70, 65
    await poster.run()
    assert sender.articles_in(10)[5:] == [ids[1], ids[6]]


async def test_digest_mode_sends_one_message_with_up_to_ten_articles(
    store: Store, sender: MemorySender
) -> None:
    poster = Poster(store, sender, max_per_run=12)
    await subscribe(store, 10, mode="digest")
    for n in range(12):
        await add(store, n)
    await poster.run()
    assert [len(ids) for _, ids, _ in sender.sent] == [10, 2]


async def test_an_article_on_two_subscribed_topics_is_posted_once(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10, "AI")
    await subscribe(store, 10, "Space")
    await add(store, 1, topics=["AI", "Space"])
    await poster.run()
    assert len(sender.sent) == 1


async def test_channels_are_independent_audiences(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10)
    await subscribe(store, 20, guild=OTHER_GUILD)
    article = await add(store, 1)
    await poster.run()
    assert sender.articles_in(10) == sender.articles_in(20) == [article]


async def test_a_process_serves_only_its_shards_guilds(store: Store, sender: MemorySender) -> None:
    await subscribe(store, 10, guild=GUILD)  # shard 1 of 2
    await subscribe(store, 20, guild=OTHER_GUILD)  # shard 0 of 2
    await add(store, 1)
    await Poster(store, sender, owns_guild=owns_guild_for(2, [0])).run()
    assert [channel for channel, _, _ in sender.sent] == [20]
    await Poster(store, sender, owns_guild=owns_guild_for(2, [1])).run()
    assert sorted(channel for channel, _, _ in sender.sent) == [10, 20]


async def test_a_process_that_lost_its_shards_posts_nothing(
    store: Store, sender: MemorySender
) -> None:
    await subscribe(store, 10)
    await add(store, 1, topics=["AI"], quality=90)

    async def taken_over() -> None:
        raise AlreadyRunning("another newsbot run (pid 7 on b) is serving shard 0 of db")

    with pytest.raises(AlreadyRunning):
        await Poster(store, sender, guard=taken_over).run()
    assert sender.sent == [] and await store.ledger.outbox() == []
    await Poster(store, sender).run()  # its shards back: the article is still due
    assert sender.articles_in(10) != []


async def test_scope_limits_a_manual_run_to_a_topic_or_channel(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10, "AI")
    await subscribe(store, 10, "Climate")
    await subscribe(store, 20, "AI")
    ai = await add(store, 1, topics=["AI"])
    climate = await add(store, 2, topics=["Climate"])
    await poster.run(Scope(guild_id=GUILD, channel_id=10, topic="climate"))
    assert sender.articles_in(10) == [climate] and sender.articles_in(20) == []
    await poster.run(Scope(guild_id=GUILD))
    assert sender.articles_in(10) == [climate, ai] and sender.articles_in(20) == [ai]


async def test_preview_sends_and_records_nothing(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10)
    article = await add(store, 1)
    planned = await poster.preview()
    assert [(m.channel_id, [a.id for a in m.articles]) for m in planned] == [(10, [article])]
    assert (
        sender.sent == []
        and await store.ledger.deliveries(10) == []
        and await store.ledger.outbox() == []
    )


async def test_forbidden_pauses_the_channel_and_resumes_when_permissions_return(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10)
    await subscribe(store, 20)
    article = await add(store, 1)
    sender.forbidden.add(10)
    report = await poster.run()
    (paused,) = [s for s in await store.subscriptions.in_guild(GUILD) if not s.active]
    assert paused.channel_id == 10 and paused.paused_reason == "Missing Access"
    assert sender.articles_in(20) == [article]  # the other channel is not affected
    assert {c.channel_id: c.skipped for c in report.channels}[10] == "paused: Missing Access"
    await poster.run()
    assert sender.articles_in(10) == []  # still forbidden: still paused
    sender.forbidden.clear()
    resumed = await poster.run()
    assert [s.channel_id for s in resumed.resumed] == [10]
    assert sender.articles_in(10) == [article]
    assert all(s.active for s in await store.subscriptions.in_guild(GUILD))


async def test_unknown_channel_removes_its_subscriptions(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10)
    await subscribe(store, 20)
    await add(store, 1)
    sender.gone.add(10)
    await poster.run()
    assert [s.channel_id for s in await store.subscriptions.in_guild(GUILD)] == [20]
    assert await store.ledger.outbox() == []


async def test_a_failed_send_stays_due_and_is_retried_without_duplicates(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10)
    await subscribe(store, 20)
    article = await add(store, 1)
    sender.failing.add(10)
    await poster.run()
    assert sender.articles_in(20) == [article]
    (waiting,) = await store.ledger.outbox(10)
    assert waiting.attempts == 1
    sender.failing.clear()
    await poster.run()
    assert sender.articles_in(10) == [article]
    assert await store.ledger.outbox() == []
    await poster.run()
    assert sender.articles_in(10) == [article]


async def test_a_crash_between_sending_and_recording_is_finished_once(
    store: Store, sender: MemorySender, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribe(store, 10)
    first, second = await add(store, 1, quality=90), await add(store, 2, quality=80)
    real_record = store.ledger.record_delivery
    calls = 0

    async def crash_on_second(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Killed  # the process dies after Discord accepted message 2
        await real_record(*args)

    monkeypatch.setattr(store.ledger, "record_delivery", crash_on_second)
    with pytest.raises(Killed):
        await Poster(store, sender).run()
    monkeypatch.setattr(store.ledger, "record_delivery", real_record)
    third = await add(store, 3, quality=99)  # arrives before the restart
    await Poster(store, sender).run()  # the restarted process
    assert sender.articles_in(10) == [first, second, third]  # each exactly once
    assert [d.article_id for d in await store.ledger.deliveries(10)] == [first, second, third]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def _unconfirmed(store: Store, sender: MemorySender) -> tuple[int, Clock]:
    """Subscribe channel 10, add an article, and die after Discord made its message but
    before it was recorded; return the article and the clock of that run."""
    await subscribe(store, 10)
    article = await add(store, 1, quality=90)
    clock = Clock()

    async def killed(*args: Any) -> None:
        raise Killed

    real_record = store.ledger.record_delivery
    store.ledger.record_delivery = killed  # type: ignore[method-assign]
    try:
        with pytest.raises(Killed):
            await Poster(store, sender, clock=clock).run()
    finally:
        store.ledger.record_delivery = real_record  # type: ignore[method-assign]
    return article, clock


async def test_an_unconfirmed_message_found_in_the_channel_after_the_nonce_window_is_not_sent_again(
    store: Store, sender: MemorySender
) -> None:
    article, clock = await _unconfirmed(store, sender)
    clock.now += timedelta(minutes=15)  # the next run: Discord forgot the nonce meanwhile
    sender.forget_nonces()
    report = await Poster(store, sender, clock=clock).run()
    assert sender.searched == [10]
    assert sender.articles_in(10) == [article]  # once
    assert [d.article_id for d in await store.ledger.deliveries(10)] == [article]
    # It was posted by the first run:
    assert await store.ledger.outbox() == [] and report.posted == 0


async def test_an_unconfirmed_message_not_in_the_channel_is_sent_once(
    store: Store, sender: MemorySender
) -> None:
    await subscribe(store, 10)
    article = await add(store, 1, quality=90)
    clock = Clock()
    sender.failing.add(10)  # 503: Discord made nothing
    await Poster(store, sender, clock=clock).run()
    sender.failing.clear()
    clock.now += timedelta(minutes=15)
    await Poster(store, sender, clock=clock).run()
    assert sender.searched == [10] and sender.articles_in(10) == [article]


async def test_within_the_nonce_window_the_nonce_alone_decides(
    store: Store, sender: MemorySender
) -> None:
    article, clock = await _unconfirmed(store, sender)
    clock.now += timedelta(seconds=30)  # a quick restart
    await Poster(store, sender, clock=clock).run()
    assert sender.searched == [] and sender.articles_in(10) == [article]


async def test_a_channel_whose_history_cannot_be_read_gets_the_message_again(
    store: Store, sender: MemorySender, caplog: pytest.LogCaptureFixture
) -> None:
    article, clock = await _unconfirmed(store, sender)
    clock.now += timedelta(minutes=15)
    sender.forget_nonces()
    sender.unreadable.add(10)  # no Read Message History: the price is a possible repeat
    await Poster(store, sender, clock=clock).run()
    assert sender.articles_in(10) == [article, article]
    assert "cannot look for an unconfirmed message" in caplog.text
    assert await store.ledger.outbox() == []


async def test_a_channel_that_fails_does_not_end_the_run_for_the_others(
    store: Store, sender: MemorySender, poster: Poster, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribe(store, 10)
    await subscribe(store, 20)
    article = await add(store, 1, quality=90)
    real_add_outbox = store.ledger.add_outbox

    async def locked_for_10(message: OutboxMessage) -> None:
        if message.channel_id == 10:
            raise StoreError("cannot write to newsbot.db: database is locked")
        await real_add_outbox(message)

    monkeypatch.setattr(store.ledger, "add_outbox", locked_for_10)
    report = await poster.run()  # returns only once every channel is done
    by_channel = {c.channel_id: c for c in report.channels}
    assert by_channel[10].skipped == (
        "failed (cannot write to newsbot.db: database is locked); retried next run"
    )
    assert [a.id for a in by_channel[20].posted] == [article]
    assert [d.article_id for d in await store.ledger.deliveries(20)] == [article]
    monkeypatch.setattr(store.ledger, "add_outbox", real_add_outbox)
    await poster.run()
    assert sender.articles_in(10) == sender.articles_in(20) == [article]


async def test_concurrent_runs_never_overlap(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10)
    await add(store, 1)
    sender.gate = asyncio.Event()
    scheduled = asyncio.create_task(poster.run())
    await asyncio.sleep(0.01)
    assert poster.running
    with pytest.raises(RunInProgress):
        await poster.run(wait=False)  # a manual run says a run is under way
    waiting = asyncio.create_task(poster.run())  # another scheduled run waits its turn
    sender.gate.set()
    await asyncio.gather(scheduled, waiting)
    assert len(sender.sent) == 1


async def test_an_article_discord_refuses_never_blocks_the_channel(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10)
    bad = await add(store, 1, quality=99)
    good = await add(store, 2, quality=60)
    sender.refused.add(bad)
    await poster.run()
    assert sender.articles_in(10) == [good]
    assert await store.ledger.refusal(bad, 10) == "Invalid Form Body (Discord error 50035)"
    later = await add(store, 3, quality=70)
    await poster.run()
    assert sender.articles_in(10) == [good, later]  # the refused one is not tried again
    article = await store.articles.get(bad)
    assert article is not None
    (why,) = await explain(poster.planner, article, GUILD)
    assert why.reason == "refused"


def test_nonce_depends_on_channel_and_articles_only() -> None:
    assert message_nonce(1, [2, 3]) == message_nonce(1, [2, 3])
    assert message_nonce(1, [2, 3]) != message_nonce(1, [3, 2]) != message_nonce(2, [2, 3])
    assert len(message_nonce(123456789012345678, list(range(10)))) == 25


def test_delivery_time_comes_from_the_clock() -> None:
    moment = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert Poster(None, MemorySender(), clock=lambda: moment).clock() == moment  # type: ignore[arg-type]


@sqlite_only()  # a PostgreSQL database has no file to remove (its check_file does nothing)
async def test_nothing_is_posted_once_the_database_file_was_removed(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await subscribe(store, 10)
    await add(store, 1, quality=90)
    for suffix in ("", "-wal", "-shm"):  # `rm newsbot.db*` while the bot runs
        Path(f"{store.path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(StoreError, match="was removed or replaced while newsbot ran"):
        await poster.run()
    assert sender.sent == []  # deliveries recorded in a deleted file would be forgotten


ALERTS = 99  # the home server's alert channel


@pytest.fixture
async def alerting(store: Store, sender: MemorySender) -> Poster:
    """A poster that alerts the home server (GUILD) in channel ``ALERTS``."""
    await store.alerts.set_channel(GUILD, ALERTS, set_by=7)
    return Poster(store, sender, max_per_run=5, alerts=Alerts(store.alerts, sender))


async def test_a_pause_is_alerted_once_and_the_resume_once(
    store: Store, sender: MemorySender, alerting: Poster
) -> None:
    await subscribe(store, 10, "AI")
    await subscribe(store, 10, "Chips")
    await subscribe(store, 20, guild=OTHER_GUILD)  # a server without an alert channel
    await add(store, 1, topics=["AI", "Chips"])
    sender.forbidden |= {10, 20}
    sender.lacking[10] = ("Embed Links",)
    await alerting.run()
    assert sender.notices == [
        (ALERTS, "Paused posting in <#10> (**AI**, **Chips**): the bot lacks Embed Links there. "
                 "Grant it and posting resumes by itself."),
    ]  # fmt: skip
    await alerting.run()  # still forbidden: no change, no alert
    assert len(sender.notices) == 1
    sender.forbidden.clear()
    await alerting.run()
    await alerting.run()
    assert sender.notices[1:] == [(ALERTS, "Resumed posting in <#10> (**AI**, **Chips**).")]
    assert sender.notify_tries == [ALERTS, ALERTS]


async def test_a_pause_without_named_permissions_says_what_discord_said(
    store: Store, sender: MemorySender, alerting: Poster
) -> None:
    await subscribe(store, 10, "AI")
    await add(store, 1)
    sender.forbidden.add(10)
    await alerting.run()
    assert sender.notices == [
        (ALERTS, "Paused posting in <#10> (**AI**): Discord refused the bot there "
                 "(Missing Access). Check its permissions there; posting resumes by itself "
                 "once it can post."),
    ]  # fmt: skip


async def test_a_resume_that_discord_refuses_again_alerts_nothing(
    store: Store, sender: MemorySender, alerting: Poster, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribe(store, 10)
    await add(store, 1)
    sender.forbidden.add(10)
    await alerting.run()
    assert len(sender.notices) == 1

    async def stale_cache(channel_id: int) -> bool:
        return True  # the bot's cache says it may post; Discord still says 403

    monkeypatch.setattr(sender, "can_post", stale_cache)
    report = await alerting.run()
    assert report.resumed and report.deliveries()["paused"] == 1
    assert len(sender.notices) == 1  # paused before, paused after: no change to report


@pytest.mark.parametrize("while_paused", [False, True])
async def test_a_channel_gone_is_alerted_once(
    store: Store, sender: MemorySender, alerting: Poster, while_paused: bool
) -> None:
    await subscribe(store, 10, "AI")
    await subscribe(store, 10, "Chips")
    await add(store, 1)
    if while_paused:  # found out when checking whether the paused channel can resume
        sender.forbidden.add(10)
        await alerting.run()
        sender.notices.clear()
    sender.gone.add(10)
    await alerting.run()
    await alerting.run()
    assert sender.notices == [
        (ALERTS, "Stopped posting in <#10> (**AI**, **Chips**): the channel is gone; "
                 "removed 2 subscriptions."),
    ]  # fmt: skip
    assert await store.subscriptions.in_guild(GUILD) == []


async def test_an_article_discord_refuses_is_alerted_once(
    store: Store, sender: MemorySender, alerting: Poster
) -> None:
    await subscribe(store, 10)
    bad = await add(store, 1, quality=99)
    await add(store, 2, quality=60)
    sender.refused.add(bad)
    await alerting.run()
    await alerting.run()
    article = await store.articles.get(bad)
    assert article is not None
    assert sender.notices == [
        (ALERTS, f"Discord refused <{article.link}> in <#10> in every form "
                 "(Invalid Form Body (Discord error 50035)); it will not be retried there."),
    ]  # fmt: skip
    assert len(sender.sent) == 1  # the other article


async def test_an_alert_channel_the_bot_cannot_post_in_is_recorded_and_tried_once_per_change(
    store: Store, sender: MemorySender, alerting: Poster, caplog: pytest.LogCaptureFixture
) -> None:
    await subscribe(store, 10)
    await subscribe(store, 20)
    article = await add(store, 1)
    sender.forbidden |= {10, ALERTS}
    report = await alerting.run()
    assert sender.articles_in(20) == [article]  # the run goes on
    assert report.deliveries()["paused"] == 1
    alert = await store.alerts.channel(GUILD)
    assert alert is not None and alert.failure == "Missing Access" and alert.failed_at
    assert f"cannot post an alert in channel {ALERTS} (Missing Access)" in caplog.text
    await alerting.run()
    await alerting.run()
    assert sender.notify_tries == [ALERTS]  # one change, one try: never a retry loop
    sender.forbidden.discard(ALERTS)  # the alert channel works again
    sender.forbidden.add(20)
    await add(store, 2)
    await alerting.run()
    assert [channel for channel, _ in sender.notices] == [ALERTS]
    alert = await store.alerts.channel(GUILD)
    assert alert is not None and alert.failure is None


async def test_an_alert_that_cannot_be_read_or_sent_never_stops_a_run(
    store: Store, sender: MemorySender, alerting: Poster, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribe(store, 10)
    await subscribe(store, 20)
    article = await add(store, 1)
    sender.forbidden.add(10)

    async def unreadable(guild_id: int) -> None:
        raise StoreError("cannot read newsbot.db: database is locked")

    monkeypatch.setattr(store.alerts, "channel", unreadable)
    report = await alerting.run()
    assert sender.articles_in(20) == [article]
    assert {c.channel_id: c.skipped for c in report.channels}[10] == "paused: Missing Access"


async def test_without_an_alert_channel_nothing_is_alerted(
    store: Store, sender: MemorySender
) -> None:
    poster = Poster(store, sender, alerts=Alerts(store.alerts, sender))
    await subscribe(store, 10)
    await add(store, 1)
    sender.forbidden.add(10)
    await poster.run()
    sender.forbidden.clear()
    await poster.run()
    assert sender.notify_tries == [] and sender.articles_in(10) != []
    await store.alerts.set_channel(GUILD, ALERTS, set_by=None)
    assert await store.alerts.clear(GUILD)  # /alerts off
    sender.gone.add(10)
    await poster.run()
    assert sender.notify_tries == []
