"""The posting job: select what is due, send it, record it. No discord.py in here.

Exactly once, per (article, channel):

1. the message is written to the outbox, with a nonce derived from its channel and articles;
2. it is sent through a ``Sender`` with that nonce;
3. only after Discord answered with the message id are the deliveries recorded (and the
   outbox entry removed), in one transaction.

A crash between 2 and 3 leaves the outbox entry: the next run resends the same message with
the same nonce, and Discord's nonce enforcement returns the message it already created
instead of posting it again. An unknown outcome (5xx, time-out) is treated the same way.
Discord remembers a nonce for a few minutes only, so an entry older than ``NONCE_TRUSTED``
is first looked for among the channel's recent messages, and recorded if it is there.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from bot import alerts as alert
from bot.alerts import Alerts
from bot.articles import Article
from bot.errors import (
    ChannelForbidden,
    ChannelGone,
    DeliveryError,
    DeliveryFailed,
    MessageRefused,
    RunInProgress,
)
from bot.logs import tag_task
from bot.store import Store
from bot.store.due import Reason
from bot.store.rows import story_url
from bot.subscriptions import PLAIN, DeliveryStyle, DueArticle, OutboxMessage, Subscription

log = logging.getLogger(__name__)

DIGEST_SIZE = 10  # embeds per digest message: Discord's limit per message
NONCE_TRUSTED = timedelta(minutes=2)  # Discord deduplicates a nonce for "a few minutes"
CHANNELS_AT_ONCE = 128  # channels served concurrently; the sender paces the whole bot
STORY_SLACK = 5  # due articles planned beyond a run's room, for those of one story


class Sender(Protocol):
    """Where messages go: Discord in production, a list in tests."""

    async def send(
        self, channel_id: int, articles: Sequence[Article], nonce: str, style: DeliveryStyle = PLAIN
    ) -> int:
        """Post one message showing ``articles`` in ``style``; return its id.

        Raise ``ChannelForbidden`` (403), ``ChannelGone`` (404), ``MessageRefused`` (400 in
        every form) or ``DeliveryFailed`` (5xx, time-out: the outcome is unknown).
        """
        ...

    async def can_post(self, channel_id: int) -> bool:
        """Tell whether the bot may post in the channel now (to resume a paused one)."""
        ...

    async def notify(self, channel_id: int, text: str) -> int:
        """Post one plain line that pings nobody (an alert), once; return its id.

        Raise as ``send`` does.
        """
        ...

    async def find_sent(
        self,
        channel_id: int,
        articles: Sequence[Article],
        since: datetime,
        style: DeliveryStyle = PLAIN,
    ) -> int | None:
        """Return the id of a message the bot posted in the channel since ``since`` showing
        exactly ``articles``, or None; raise a ``DeliveryError`` when it cannot look."""
        ...


def message_nonce(channel_id: int, article_ids: Sequence[int]) -> str:
    """Return the nonce of a message: the same channel and articles give the same nonce."""
    key = f"{channel_id}:{','.join(map(str, article_ids))}"
    return hashlib.sha256(key.encode()).hexdigest()[:25]  # Discord accepts up to 25 characters


def owns_guild_for(
    shard_count: int | None, shard_ids: Sequence[int] | None
) -> Callable[[int], bool]:
    """Return whether this process serves a guild: ``(guild_id >> 22) % shard_count``."""
    if not shard_count or shard_ids is None:
        return lambda guild_id: True
    mine = frozenset(shard_ids)
    return lambda guild_id: (guild_id >> 22) % shard_count in mine


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    """One message a run would send to a channel."""

    channel_id: int
    guild_id: int
    articles: tuple[Article, ...]
    since: datetime | None = None  # of an earlier, unconfirmed send: when it was first tried
    style: DeliveryStyle = PLAIN

    @property
    def resend(self) -> bool:
        """Tell whether this is an outbox message from an earlier, unconfirmed send."""
        return self.since is not None


@dataclass(slots=True)
class ChannelOutcome:
    """What a run did in one channel."""

    guild_id: int
    channel_id: int
    posted: list[Article] = field(default_factory=list)
    skipped: str | None = None  # why nothing (more) was posted
    # Messages by what became of them: sent, retried, paused, removed, refused.
    messages: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class RunReport:
    """What a run did, channel by channel."""

    channels: list[ChannelOutcome] = field(default_factory=list)
    resumed: list[Subscription] = field(default_factory=list)

    @property
    def posted(self) -> int:
        """Return how many articles were delivered."""
        return sum(len(c.posted) for c in self.channels)

    def deliveries(self) -> Counter[str]:
        """Return how many messages were sent, retried, paused, removed or refused."""
        return sum((c.messages for c in self.channels), Counter())

    def summary(self) -> str:
        """Return one line for the log."""
        skipped = sum(1 for c in self.channels if c.skipped)
        return f"posted {self.posted} articles to {len(self.channels)} channels ({skipped} skipped)"


@dataclass(frozen=True, slots=True)
class Scope:
    """Which subscriptions a run serves: all of this process's, or one server's part."""

    guild_id: int | None = None
    channel_id: int | None = None
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a run keeps an article that is due for a later run."""

    reason: Literal["same_story_in_run", "daily_cap", "max_per_run"]
    other: Article | None = None  # same_story_in_run: the article of the story that goes
    cap: int | None = None  # daily_cap: the channel's posts per day


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What planning reads once for every channel: unconfirmed messages, and the channels
    that have candidates (``bot.store.due``): a channel with neither has nothing to send."""

    outbox: dict[int, list[OutboxMessage]]
    pending: frozenset[int]


@dataclass(slots=True)
class ChannelPlan:
    """What a run sends to one channel, and which due articles it keeps for later."""

    messages: list[PlannedMessage] = field(default_factory=list)
    held: dict[int, Hold] = field(default_factory=dict)


class Planner:
    """Decides what a run sends to a channel: the store's due articles, then the run's own
    choices (one article per story, the daily cap, ``max_per_run``).

    Runs, previews, dry runs and ``/news why`` all plan through here.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_per_run: int = 5,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.max_per_run = max_per_run
        self.clock = clock

    async def snapshot(self) -> Snapshot:
        """Read what planning every channel needs once."""
        outbox: dict[int, list[OutboxMessage]] = defaultdict(list)
        for message in await self.store.ledger.outbox():
            outbox[message.channel_id].append(message)
        return Snapshot(dict(outbox), frozenset(await self.store.ledger.candidate_channels()))

    async def plan(
        self,
        channel_id: int,
        subs: Sequence[Subscription],
        topic: str | None = None,
        *,
        forget_stale: bool = False,
        snapshot: Snapshot | None = None,
        complete: bool = False,
    ) -> ChannelPlan:
        """Return what a run would send to a channel with these (active) subscriptions;
        ``complete`` also finds every due article it holds back, and why."""
        guild_id = subs[0].guild_id
        plan = ChannelPlan()
        if snapshot is None:
            outbox = await self.store.ledger.outbox(channel_id)
        elif channel_id in snapshot.pending or channel_id in snapshot.outbox:
            outbox = snapshot.outbox.get(channel_id, [])
        else:
            return plan  # no message waits, no candidate: nothing to send
        for message in outbox:
            articles = tuple(await self.store.articles.many(message.article_ids))
            if articles:
                plan.messages.append(
                    PlannedMessage(channel_id, guild_id, articles, message.created_at,
                                   message.style)
                )  # fmt: skip
        room = self.max_per_run - sum(len(m.articles) for m in plan.messages)
        by_id = {sub.id: sub for sub in subs}
        sent = [a for m in plan.messages for a in m.articles]
        # What a run can send, and a few more in case some are the same story (more if
        # that was not enough). Planning everything (``complete``: what /news why asks)
        # checks every candidate's filter queries.
        limit = None if complete else max(room, 0) + STORY_SLACK
        while True:
            due = await self.store.ledger.due_articles(
                channel_id, topic=topic, forget_stale=forget_stale, limit=limit
            )
            plan.held = {}
            chosen = await self._choose(due, by_id, room, sent, plan.held)
            if limit is None or len(chosen) >= room or len(due) < limit:
                break
            limit *= 2
        if not chosen:
            return plan
        messages = [
            PlannedMessage(channel_id, guild_id, articles, style=style)
            for articles, style in _messages(chosen, by_id)
        ]
        caps = [s.options.max_per_day for s in subs if s.options.max_per_day is not None]
        if caps:
            cap = min(caps)
            midnight = self.clock().astimezone(UTC).replace(hour=0, minute=0, second=0,
                                                           microsecond=0)  # fmt: skip
            posted = await self.store.ledger.posts_since(channel_id, midnight)
            left = max(0, cap - posted - len(plan.messages))
            for over in messages[left:]:
                for article in over.articles:
                    plan.held[article.id] = Hold("daily_cap", cap=cap)
            messages = messages[:left]
        plan.messages.extend(messages)
        return plan

    async def _choose(
        self,
        due: Sequence[DueArticle],
        subs: dict[int, Subscription],
        room: int,
        sent: Sequence[Article],
        held: dict[int, Hold],
    ) -> list[tuple[DueArticle, Article]]:
        """Return the due articles a run sends (best first), one per story; note the rest."""
        loaded: dict[int, Article] = {}
        chosen: list[tuple[DueArticle, Article]] = []
        going = list(sent)
        for index, item in enumerate(due):
            if item.subscription_id not in subs:
                continue
            if len(chosen) >= room:
                held[item.article_id] = Hold("max_per_run")
                continue
            if item.article_id not in loaded:  # as many as there is room for, then more
                wanted = [d.article_id for d in due[index : index + room - len(chosen)]]
                loaded.update((a.id, a) for a in await self.store.articles.many(wanted))
            article = loaded.get(item.article_id)
            if article is None:  # gone since it was found due
                continue
            if subs[item.subscription_id].options.same_story == "skip":
                other = next((o for o in going if same_story(o, article)), None)
                if other is not None:
                    held[item.article_id] = Hold("same_story_in_run", other=other)
                    continue
            chosen.append((item, article))
            going.append(article)
        return chosen


def same_story(one: Article, other: Article) -> bool:
    """Tell whether two articles are the same story: one lists the other as related coverage."""
    return other.url in _story_urls(one) or one.url in _story_urls(other)


def _story_urls(article: Article) -> set[str]:
    return {story_url(item.url) for item in article.related}


class Poster:
    """Runs the posting pipeline; one run at a time per process."""

    def __init__(
        self,
        store: Store,
        sender: Sender,
        *,
        max_per_run: int = 5,
        owns_guild: Callable[[int], bool] = lambda guild_id: True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        channels_at_once: int = CHANNELS_AT_ONCE,
        guard: Callable[[], Awaitable[None]] | None = None,
        observe: Callable[[RunReport, float], None] | None = None,
        alerts: Alerts | None = None,
    ) -> None:
        self.store = store
        self.alerts = alerts  # tells each server of a channel paused, resumed, removed, refused
        self.guard = guard
        self.observe = observe
        self.sender = sender
        self.planner = Planner(store, max_per_run=max_per_run, clock=clock)
        self.owns_guild = owns_guild
        self.clock = clock
        self.channels_at_once = channels_at_once
        self._running = asyncio.Lock()
        self._snapshot: Snapshot | None = None  # the run's, read once for all its channels

    @property
    def running(self) -> bool:
        """Tell whether a run is under way."""
        return self._running.locked()

    async def run(self, scope: Scope = Scope(), *, wait: bool = True) -> RunReport:
        """Post what is due in ``scope``; with ``wait=False``, refuse while a run is under way."""
        if not wait and self._running.locked():
            raise RunInProgress("A posting run is under way right now; try again in a minute.")
        async with self._running:
            started = time.monotonic()
            self.store.check_file()  # never post what the database would not remember
            if self.guard is not None:  # nor while another process may hold this one's shards
                await self.guard()
            report = RunReport()
            subscriptions = await self._subscriptions(scope)
            report.resumed = await self._resume_paused(subscriptions)
            by_channel = _by_channel(s for s in subscriptions if s.active or s in report.resumed)
            limit = asyncio.Semaphore(self.channels_at_once)
            self._snapshot = await self.planner.snapshot()

            async def serve(channel_id: int) -> ChannelOutcome:
                subs = by_channel[channel_id]
                tag_task(guild_id=subs[0].guild_id, channel_id=channel_id)  # this task's records
                async with limit:
                    try:
                        return await self._serve_channel(channel_id, subs, scope)
                    except Exception as exc:  # this channel only: the others finish their sends
                        log.exception("channel %s: posting failed; retried next run", channel_id)
                        outcome = ChannelOutcome(subs[0].guild_id, channel_id)
                        outcome.skipped = f"failed ({exc}); retried next run"
                        return outcome

            # Every channel ends before the run does, so that the next run never plans a
            # channel whose sends are still under way.
            report.channels = list(await asyncio.gather(*(serve(c) for c in by_channel)))
            log.info("posting run: %s", report.summary())
            if self.observe is not None:
                self.observe(report, time.monotonic() - started)
            return report

    async def preview(self, scope: Scope = Scope()) -> list[PlannedMessage]:
        """Return what a run would send now, without sending or recording anything."""
        planned: list[PlannedMessage] = []
        subscriptions = await self._subscriptions(scope)
        snapshot = await self.planner.snapshot()
        for channel_id, subs in _by_channel(s for s in subscriptions if s.active).items():
            plan = await self.planner.plan(channel_id, subs, scope.topic, snapshot=snapshot)
            planned.extend(plan.messages)
        return planned

    async def _subscriptions(self, scope: Scope) -> list[Subscription]:
        return [
            s
            for s in await self.store.subscriptions.all()
            if self.owns_guild(s.guild_id)
            and scope.guild_id in (None, s.guild_id)
            and scope.channel_id in (None, s.channel_id)
        ]

    async def _resume_paused(self, subscriptions: list[Subscription]) -> list[Subscription]:
        resumed = []
        checked: dict[int, bool] = {}
        for sub in subscriptions:
            if sub.active:
                continue
            if sub.channel_id not in checked:
                try:
                    checked[sub.channel_id] = await self.sender.can_post(sub.channel_id)
                except ChannelGone:
                    same = [s for s in subscriptions if s.channel_id == sub.channel_id]
                    await self._forget_channel(same, "channel no longer exists")
                    checked[sub.channel_id] = False
                except DeliveryFailed:
                    checked[sub.channel_id] = False
            if checked[sub.channel_id]:
                await self.store.subscriptions.resume(sub.id)
                log.info("channel %s: permissions are back, resuming %r", sub.channel_id, sub.topic)
                resumed.append(sub)
        return resumed

    async def _serve_channel(
        self, channel_id: int, subs: list[Subscription], scope: Scope
    ) -> ChannelOutcome:
        outcome = ChannelOutcome(subs[0].guild_id, channel_id)
        resuming = [s for s in subs if not s.active]  # resumed by this run: alerted once it posts
        plan = await self.planner.plan(
            channel_id, subs, scope.topic, forget_stale=True, snapshot=self._snapshot
        )
        messages = plan.messages
        if not messages:
            outcome.skipped = "nothing due"
        for message in messages:
            ids = tuple(a.id for a in message.articles)
            nonce = message_nonce(channel_id, ids)
            if not message.resend:
                await self.store.ledger.add_outbox(
                    OutboxMessage(
                        nonce, message.guild_id, channel_id, ids, self.clock(), style=message.style
                    )
                )
            elif (found := await self._sent_earlier(message)) is not None:
                await self.store.ledger.record_delivery(nonce, found, self.clock())
                log.info("channel %s: articles %s were posted after all (message %s)",
                         channel_id, ids, found)  # fmt: skip
                continue
            try:
                message_id = await self.sender.send(
                    channel_id, message.articles, nonce, message.style
                )
            except ChannelForbidden as exc:
                if not message.resend:  # refused, so never made; a resend's first try may have
                    await self.store.ledger.drop_outbox(nonce)  # been: it waits for the resume
                for sub in subs:
                    await self.store.subscriptions.pause(sub.id, str(exc))
                log.warning("channel %s: paused %d subscriptions: %s", channel_id, len(subs), exc)
                if self.alerts is not None and len(resuming) < len(subs):  # not a false resume
                    topics = [s.topic for s in subs]
                    await self.alerts.report(
                        outcome.guild_id, alert.paused(channel_id, topics, str(exc), exc.missing)
                    )
                outcome.skipped = f"paused: {exc}"
                outcome.messages["paused"] += 1
                break
            except ChannelGone:
                await self._forget_channel(subs, "Discord says the channel is gone")
                outcome.skipped = "channel deleted: subscriptions removed"
                outcome.messages["removed"] += 1
                break
            except MessageRefused as exc:
                await self.store.ledger.record_refusal(nonce, str(exc), self.clock())
                log.error("channel %s refused articles %s for good: %s", channel_id, ids, exc)
                if self.alerts is not None:
                    links = [a.link for a in message.articles]
                    await self.alerts.report(
                        outcome.guild_id, alert.refused(channel_id, links, str(exc))
                    )
                outcome.messages["refused"] += 1
                continue  # one bad article never blocks the channel
            except DeliveryFailed as exc:
                await self.store.ledger.count_outbox_attempt(nonce)
                log.warning("channel %s: will retry later: %s", channel_id, exc)
                outcome.skipped = f"Discord did not confirm the message ({exc}); retried next run"
                outcome.messages["retried"] += 1
                break
            await self.store.ledger.record_delivery(nonce, message_id, self.clock())
            outcome.posted.extend(message.articles)
            outcome.messages["sent"] += 1
        stopped = outcome.messages["paused"] or outcome.messages["removed"]
        if self.alerts is not None and resuming and not stopped:
            topics = [s.topic for s in resuming]
            await self.alerts.report(outcome.guild_id, alert.resumed(channel_id, topics))
        return outcome

    async def _sent_earlier(self, message: PlannedMessage) -> int | None:
        """Return the id of an unconfirmed message that Discord made after all, if it did.

        Within ``NONCE_TRUSTED`` of the first try, sending again with the same nonce is safe:
        Discord returns the message it already made. Later it may have forgotten the nonce,
        so the channel's recent messages are searched first.
        """
        if message.since is None or self.clock() - message.since < NONCE_TRUSTED:
            return None
        try:
            return await self.sender.find_sent(
                message.channel_id, message.articles, message.since, message.style
            )
        except DeliveryError as exc:  # no Read Message History, or Discord trouble
            log.warning("channel %s: cannot look for an unconfirmed message (%s); sending it "
                        "again, which could show it twice", message.channel_id, exc)  # fmt: skip
            return None

    async def _forget_channel(self, subs: Sequence[Subscription], why: str) -> None:
        channel_id = subs[0].channel_id
        removed = await self.store.subscriptions.remove_channel(channel_id)
        log.warning("channel %s: %s; removed %d subscriptions", channel_id, why, removed)
        if self.alerts is not None and removed:
            topics = [s.topic for s in subs]
            gone = alert.channel_gone(f"<#{channel_id}>", removed, topics)
            await self.alerts.report(subs[0].guild_id, gone)


#: Why an article did or did not go to a subscription's channel: a rule it fails
#: (``bot.store.due``), a run's choice (``Hold``), or "waiting" (it goes next run).
Verdict = (
    Reason | Literal["waiting", "same_story_in_run", "daily_cap", "max_per_run", "not_planned"]
)


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why one subscription did or did not get one article."""

    subscription: Subscription
    reason: Verdict
    when: datetime | None = None  # delivered at / loaded at / the story's article posted at
    other_url: str | None = None  # the same story's article, delivered or going first
    cap: int | None = None  # daily_cap: the channel's posts per day


async def explain(planner: Planner, article: Article, guild_id: int) -> list[Explanation]:
    """Say why each of a server's subscriptions to the article's topics got it or not.

    The rules are checked in the database, as a run's selection is (``bot.store.due``);
    an article that holds every rule is then planned as a run would plan it.
    """
    store = planner.store
    verdicts = await store.ledger.verdicts(article.id, guild_id)
    subs = {s.id: s for s in await store.subscriptions.in_guild(guild_id)}
    plans: dict[int, ChannelPlan] = {}
    found = []
    for sub_id, reason in verdicts.items():
        sub = subs[sub_id]
        if reason == "delivered":
            delivery = await store.ledger.delivery(article.id, sub.channel_id)
            found.append(Explanation(sub, reason, delivery.delivered_at if delivery else None))
        elif reason == "before_subscription":
            found.append(Explanation(sub, reason, await store.articles.loaded_at(article.id)))
        elif reason == "same_story":
            story = await store.ledger.story_delivery(article.id, sub.channel_id)
            if story is None:
                found.append(Explanation(sub, reason))
            else:
                url, delivery = story
                found.append(Explanation(sub, reason, delivery.delivered_at, url))
        elif reason is not None:
            found.append(Explanation(sub, reason))
        else:
            if sub.channel_id not in plans:
                active = [s for s in subs.values() if s.channel_id == sub.channel_id and s.active]
                plans[sub.channel_id] = await planner.plan(sub.channel_id, active, complete=True)
            plan = plans[sub.channel_id]
            hold = plan.held.get(article.id)
            if any(article.id == a.id for m in plan.messages for a in m.articles):
                found.append(Explanation(sub, "waiting"))
            elif hold is None:  # every rule holds, yet it is no candidate: never expected
                found.append(Explanation(sub, "not_planned"))
            else:
                other = hold.other.link if hold.other else None
                found.append(Explanation(sub, hold.reason, other_url=other, cap=hold.cap))
    return found


def _by_channel(subscriptions: Iterable[Subscription]) -> dict[int, list[Subscription]]:
    grouped: dict[int, list[Subscription]] = defaultdict(list)
    for sub in subscriptions:
        grouped[sub.channel_id].append(sub)
    return dict(grouped)


def _messages(
    chosen: Sequence[tuple[DueArticle, Article]], subs: dict[int, Subscription]
) -> list[tuple[tuple[Article, ...], DeliveryStyle]]:
    """Group chosen articles (best first) into messages: one each, or digests of up to ten
    articles shown the same way."""
    messages: list[tuple[list[Article], DeliveryStyle]] = []
    digests: dict[DeliveryStyle, list[Article]] = {}
    for item, article in chosen:
        style = subs[item.subscription_id].style
        if item.mode == "each":
            messages.append(([article], style))
            continue
        digest = digests.get(style)
        if digest is None or len(digest) == DIGEST_SIZE:
            digest = digests[style] = []
            messages.append((digest, style))
        digest.append(article)
    return [(tuple(articles), style) for articles, style in messages]
