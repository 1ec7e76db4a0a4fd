"""Fan-out benchmark: one posting run to 1,000 channels under Discord's rate limits.

In one process: the fake Discord (``tests.fake_discord``) with its rate limits on (5
messages per 5 s per channel, 50 requests per second for the whole bot), a real
``NewsBot`` logged into it on a fresh SQLite store, 50 guilds of 20 text channels all
subscribed to one topic, then 20 new articles on that topic, so that every one is due in
every channel. The bench times ``bot.poster.run()`` (what the scheduler calls) and reports
the messages per second the bot reached against the ceiling the fake's limits allow for
this workload, the 429s it received, and checks that every due (article, channel) is in
the channel exactly once and in the delivery ledger exactly once.

A run posts at most ``max_per_run`` (5) articles per channel, one message each: 5,000
messages, about 100 s at 50 per second. ``--all`` runs until every article is delivered
(4 runs, 20,000 messages, about 400 s); ``--runs N`` runs N times.

    .venv/bin/python bench/fanout.py [--guilds 50] [--channels-per-guild 20] [--articles 20]
        [--max-per-run 5] [--runs 1 | --all] [--channels-at-once N] [--profile FILE] [--json]
        [--processes N [--backend postgres|sqlite]]

``--processes 2`` then runs the same workload through two real ``newsbot run`` processes
sharing one database (PostgreSQL by default: NEWSBOT_BENCH_POSTGRES's server or a throwaway
one), each with its own NEWSBOT_SHARD_IDS and the same NEWSBOT_SHARD_COUNT, so each takes
its shards' share of the send rate; it reports their combined rate against the same
ceiling, the global 429s, exactly once as above, and the ratio to the in-process run.

Run it from the repository root. Exit status 1 when a delivery is missing or doubled, or
when the rate is under 90% of the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import logging
import math
import os
import pstats
import re
import shlex
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.fake_discord and tests.factories

import aiohttp  # noqa: E402
import discord  # noqa: E402
import pgserver  # noqa: E402
from machine import describe, stop_process  # noqa: E402

from bot.articles import Article  # noqa: E402
from bot.chat.bot import NewsBot  # noqa: E402
from bot.chat.pacing import GLOBAL_RATE  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.monitoring import Monitoring  # noqa: E402
from bot.parsing import build_draft  # noqa: E402
from bot.posting import CHANNELS_AT_ONCE  # noqa: E402
from bot.store import Store, open_store  # noqa: E402
from bot.store.target import SqliteTarget, redact_url  # noqa: E402
from tests.factories import article_fields  # noqa: E402
from tests.fake_discord import FakeDiscord, running_bot  # noqa: E402
from tests.fake_discord.recording import RecordedRequest  # noqa: E402

TOPIC = "Fanout"
MIN_QUALITY = 50
MESSAGES_ROUTE = "/channels/{channel_id}/messages"
TARGET_RATIO = 0.90
PROGRESS_EVERY = 10.0  # seconds between progress lines on stderr
POST_INTERVAL = 30  # seconds: NEWSBOT_POST_INTERVAL of the processes (--processes)
RUN_TIMEOUT = 900.0  # seconds a process may take to log the end of its first run
PG_DATABASE = "newsbot_bench_fanout"


# -- the world ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Channel:
    """One subscribed channel."""

    guild_id: int
    channel_id: int


def build_guilds(fake: FakeDiscord, guilds: int, per_guild: int) -> list[Channel]:
    """Create the guilds and their text channels in the fake (before login: no events)."""
    channels = []
    for g in range(guilds):
        guild = fake.add_guild(f"fanout-{g:03d}")
        for c in range(per_guild):
            channel = fake.add_text_channel(guild, f"news-{c:03d}")
            channels.append(Channel(guild.id, channel.id))
    return channels


async def subscribe_all(store: Store, channels: Sequence[Channel]) -> None:
    """Subscribe every channel to the topic, without backfill: only new articles are due."""
    for channel in channels:
        await store.subscriptions.subscribe(
            guild_id=channel.guild_id, channel_id=channel.channel_id, topic=TOPIC,
            min_quality=MIN_QUALITY, backfill=0,
        )  # fmt: skip


async def save_new_articles(store: Store, count: int) -> list[Article]:
    """Store ``count`` unpublished articles on the topic; return them in posting order.

    Qualities are distinct (99, 98, ... for up to 50 articles), so the order of delivery
    (best first) is known.
    """
    drafts = []
    for number in range(count):
        fields = article_fields(
            10_000 + number, topics=[TOPIC], quality=max(MIN_QUALITY, 99 - number),
            title=f"Fan-out story {number}", published=False,
            originalUrl=f"https://news.example.com/fanout/story-{number}",
        )  # fmt: skip
        drafts.append(build_draft(fields))
    await store.articles.save([(draft, None) for draft in drafts])
    articles = []
    for draft in drafts:
        article = await store.articles.by_url(draft.url)
        assert article is not None, draft.url
        articles.append(article)
    articles.sort(key=lambda a: (-(a.quality or 0), -a.published_at.timestamp(), a.id))
    return articles


async def prepare(
    store: Store, channels: Sequence[Channel], count: int
) -> tuple[list[Article], dict[str, float]]:
    """Subscribe every channel and store ``count`` new articles; return them and the
    seconds each step took."""
    setup: dict[str, float] = {}
    mark = time.perf_counter()
    await subscribe_all(store, channels)
    setup["subscribe"] = time.perf_counter() - mark
    mark = time.perf_counter()
    articles = await save_new_articles(store, count)
    setup["articles"] = time.perf_counter() - mark
    return articles, setup


# -- measuring ----------------------------------------------------------------------------


@dataclass(slots=True)
class RunFigures:
    """What one ``poster.run()`` did and took."""

    number: int
    seconds: float
    cpu_seconds: float  # this process's CPU time: the bot, the fake and SQLite's thread
    messages: int  # message POSTs the fake accepted during the run
    articles_posted: int  # the run report's count
    global_429s: int  # 429s for the global limit
    route_429s: int  # 429s for a per-channel (per-route) limit
    other_global_requests: int  # bot requests other than message POSTs (count globally)
    skipped: dict[str, int]  # why channels stopped early, and how many
    lead_in: float  # seconds from the start of the run to the first accepted POST
    tail: float  # seconds from the last accepted POST to the end of the run

    @property
    def rate(self) -> float:
        """Return messages per second of wall time."""
        return self.messages / self.seconds if self.seconds else 0.0


def _is_message_post(request: RecordedRequest) -> bool:
    return request.method == "POST" and request.route == MESSAGES_ROUTE


def other_global_requests(fake: FakeDiscord, requests: Sequence[RecordedRequest]) -> int:
    """Count the requests other than message POSTs that the global limit counted.

    That is every answered bot request but a 429; interaction callbacks and webhook
    follow-ups are exempt, as on Discord.
    """
    exempt = {(r.method, r.template) for r in fake.router.routes if r.interaction}
    return sum(
        1
        for r in requests
        if r.route is not None
        and (r.method, r.route) not in exempt
        and r.status not in (None, 429)
        and not _is_message_post(r)
    )


async def progress(fake: FakeDiscord, start_index: int, started: float) -> None:
    """Print the messages accepted so far every few seconds (stderr)."""
    index, accepted = start_index, 0
    while True:
        await asyncio.sleep(PROGRESS_EVERY)
        requests = fake.requests
        for request in requests[index:]:
            if _is_message_post(request) and request.status == 200:
                accepted += 1
        index = len(requests)
        elapsed = time.perf_counter() - started
        print(
            f"  {elapsed:6.1f} s: {accepted:,} messages ({accepted / elapsed:.1f}/s), "
            f"{len(fake.rate_limits.hits):,} 429s in all",
            file=sys.stderr, flush=True,
        )  # fmt: skip


async def timed_run(bot: NewsBot, fake: FakeDiscord, number: int) -> RunFigures:
    """Run the posting job once and count what reached the fake meanwhile."""
    first_request, first_hit = len(fake.requests), len(fake.rate_limits.hits)
    started, started_at = time.perf_counter(), time.monotonic()  # fake: time.monotonic
    cpu = time.process_time()
    reporter = asyncio.create_task(progress(fake, first_request, started))
    try:
        report = await bot.poster.run()
    finally:
        reporter.cancel()
    seconds, ended_at = time.perf_counter() - started, time.monotonic()
    cpu = time.process_time() - cpu
    requests = fake.requests[first_request:]
    hits = fake.rate_limits.hits[first_hit:]
    posts = [r for r in requests if _is_message_post(r) and r.status == 200]
    skipped = Counter(c.skipped for c in report.channels if c.skipped)
    return RunFigures(
        number=number,
        seconds=seconds,
        cpu_seconds=cpu,
        messages=len(posts),
        articles_posted=report.posted,
        global_429s=sum(1 for h in hits if h.scope == "global"),
        route_429s=sum(1 for h in hits if h.scope != "global"),
        other_global_requests=other_global_requests(fake, requests),
        skipped={str(reason): n for reason, n in skipped.items()},
        lead_in=posts[0].at - started_at if posts else seconds,
        tail=ended_at - posts[-1].at if posts else 0.0,
    )


# -- exactly once -------------------------------------------------------------------------


@dataclass(slots=True)
class Ledger:
    """The comparison of what Discord shows with what the store recorded."""

    expected: int = 0  # due (article, channel) pairs the runs should have delivered
    in_discord: int = 0  # (article, channel) pairs found in the channels' bot messages
    in_ledger: int = 0  # delivery rows
    missing: int = 0  # due pairs not both in Discord and in the ledger
    duplicates: int = 0  # pairs more than once in Discord or in the ledger
    missing_in_discord: int = 0
    missing_in_ledger: int = 0
    duplicated_in_discord: int = 0  # extra copies of an article in a channel
    duplicated_in_ledger: int = 0
    unexpected: int = 0  # posted or recorded although not (yet) due
    wrong_message_id: int = 0  # ledger row naming a message that does not show the article
    unrecognised_messages: int = 0  # bot messages whose articles could not be told
    outbox_left: int = 0  # unconfirmed messages still waiting
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether every due delivery arrived exactly once and nothing else did."""
        return not (
            self.missing or self.duplicates or self.unexpected or self.wrong_message_id
            or self.unrecognised_messages or self.outbox_left
        )  # fmt: skip

    def note(self, text: str) -> None:
        """Keep a few examples of what went wrong."""
        if len(self.examples) < 10:
            self.examples.append(text)


async def check_exactly_once(
    fake: FakeDiscord,
    store: Store,
    channels: Sequence[Channel],
    articles: Sequence[Article],
    due: Sequence[Article],
) -> Ledger:
    """Compare each channel's posted messages with the store's deliveries and the due set.

    ``due`` are the articles the runs should have delivered to every channel (the best
    ``runs x max_per_run``); any other of ``articles`` found is unexpected.
    """
    by_link = {a.link: a.id for a in articles}
    expected = {a.id for a in due}
    ledger = Ledger(outbox_left=len(await store.ledger.outbox()))
    for channel in channels:
        shown: Counter[int] = Counter()
        messages_of: dict[int, set[int]] = {}
        for message in fake.messages_in(channel.channel_id):
            if message.interaction_metadata is not None or message.webhook_id is not None:
                continue  # an answer to a command, not a post
            ids = [by_link.get(str(e.get("url"))) for e in message.embeds]
            ids += [by_link.get(url) for url in re.findall(r"<(\S+)>", message.content)]
            found = [i for i in ids if i is not None]
            if not found:
                ledger.unrecognised_messages += 1
                ledger.note(f"channel {channel.channel_id}: message {message.id} shows no article")
            shown.update(found)
            messages_of[message.id] = set(found)
        deliveries = await store.ledger.deliveries(channel.channel_id)
        recorded = Counter(d.article_id for d in deliveries)
        for delivery in deliveries:
            if delivery.article_id not in messages_of.get(delivery.message_id, set()):
                ledger.wrong_message_id += 1
                ledger.note(f"channel {channel.channel_id}: ledger row {delivery} mismatched")
        ledger.expected += len(expected)
        ledger.in_discord += sum(shown.values())
        ledger.in_ledger += sum(recorded.values())
        ledger.missing += len(expected - (shown.keys() & recorded.keys()))
        ledger.duplicates += len({a for c in (shown, recorded) for a, n in c.items() if n > 1})
        ledger.missing_in_discord += len(expected - shown.keys())
        ledger.missing_in_ledger += len(expected - recorded.keys())
        ledger.duplicated_in_discord += sum(n - 1 for n in shown.values() if n > 1)
        ledger.duplicated_in_ledger += sum(n - 1 for n in recorded.values() if n > 1)
        ledger.unexpected += len((shown.keys() | recorded.keys()) - expected)
        for article_id in sorted((shown + recorded).keys() - expected):
            ledger.note(f"channel {channel.channel_id}: article {article_id} was not due")
        for article_id, n in sorted((shown | recorded).items()):
            if n > 1:
                ledger.note(f"channel {channel.channel_id}: article {article_id} {n} times")
        if expected - shown.keys() or expected - recorded.keys():
            ledger.note(
                f"channel {channel.channel_id}: missing in Discord "
                f"{sorted(expected - shown.keys())}, in the ledger "
                f"{sorted(expected - recorded.keys())}"
            )
    return ledger


# -- the benchmark ------------------------------------------------------------------------


@dataclass(slots=True)
class Figures:
    """Everything the benchmark measured."""

    command: str
    machine: dict[str, Any]
    guilds: int
    channels: int
    articles: int
    max_per_run: int
    channels_at_once: int
    ceiling: float
    ceiling_why: str
    setup_seconds: dict[str, float]
    runs: list[RunFigures]
    ledger: Ledger
    load_after: list[float]
    profile: str | None = None
    scrapes: int = 0  # /metrics fetches during the runs (--http)

    @property
    def messages(self) -> int:
        """Return messages accepted over all measured runs."""
        return sum(r.messages for r in self.runs)

    @property
    def seconds(self) -> float:
        """Return the wall time of all measured runs."""
        return sum(r.seconds for r in self.runs)

    @property
    def rate(self) -> float:
        """Return messages per second over all measured runs."""
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        """Return the rate as a fraction of the ceiling."""
        return self.rate / self.ceiling

    @property
    def met(self) -> bool:
        """Tell whether the rate target is met."""
        return self.ratio >= TARGET_RATIO

    def to_json(self) -> dict[str, Any]:
        """Return the figures as plain data."""
        data = asdict(self)
        data["ledger"]["ok"] = self.ledger.ok
        for run, figures in zip(data["runs"], self.runs, strict=True):
            run["rate"] = figures.rate
        data.update(messages=self.messages, seconds=self.seconds, rate=self.rate,
                    ratio=self.ratio, target_ratio=TARGET_RATIO, met=self.met)  # fmt: skip
        return data


def ceiling_for(fake: FakeDiscord, channels: int) -> tuple[float, str]:
    """Return the most messages per second the fake's limits allow, and which limit binds."""
    limits = fake.rate_limits
    global_rate = limits.global_limit / limits.global_window
    channel_rate = channels * limits.message_limit / limits.message_window
    if global_rate <= channel_rate:
        why = (f"global limit {limits.global_limit}/{limits.global_window:g} s binds "
               f"(per channel {limits.message_limit}/{limits.message_window:g} s x {channels:,} "
               f"channels = {channel_rate:,.0f}/s)")  # fmt: skip
        return global_rate, why
    why = (f"per-channel limit {limits.message_limit}/{limits.message_window:g} s x {channels:,} "
           f"channels binds (global {global_rate:,.0f}/s)")  # fmt: skip
    return channel_rate, why


async def bench(args: argparse.Namespace, command: str, *, http: bool = False) -> Figures:
    """Set up the fake, the bot and the store, run the posting job, check the deliveries.

    With ``http``, the bot's /metrics listener runs too, scraped every second (a
    Prometheus scrape is every 15 s or more: this is the harsher case).
    """
    with tempfile.TemporaryDirectory(prefix="newsbot-fanout-") as tmp:
        started = time.perf_counter()
        store = await open_store(Path(tmp) / "fanout.db")
        try:
            async with FakeDiscord(rate_limits=True) as fake:
                channels = build_guilds(fake, args.guilds, args.channels_per_guild)
                settings = Settings(
                    db=SqliteTarget(Path(tmp) / "fanout.db"), data_dir=Path(tmp) / "no-articles",
                    max_per_run=args.max_per_run, post_interval=timedelta(days=1),
                    rescan_interval=timedelta(days=1), send_rate=args.send_rate,
                )  # fmt: skip  # the scheduler must not run a job during the measurement
                bot = NewsBot(store, settings, guild_ready_timeout=0.05)
                async with running_bot(fake, bot, timeout=120), scraped(bot, on=http) as scrapes:
                    assert len(bot.guilds) == args.guilds, f"{len(bot.guilds)} guilds ready"
                    login = time.perf_counter() - started
                    figures = await measure(args, fake, bot, store, channels)
                    figures.scrapes = scrapes[0]
                    figures.command = command
                    figures.setup_seconds = {"login": login, **figures.setup_seconds}
                    return figures
        finally:
            await store.close()


@contextlib.asynccontextmanager
async def scraped(bot: NewsBot, *, on: bool) -> AsyncIterator[list[int]]:
    """Serve the bot's /metrics on a free loopback port and fetch it every second."""
    count = [0]
    if not on:
        yield count
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monitoring = Monitoring(bot)
    await monitoring.start("127.0.0.1", port)

    async def scrape() -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
                    assert answer.status == 200
                    await answer.read()
                count[0] += 1
                await asyncio.sleep(1.0)

    scraper = asyncio.create_task(scrape())
    try:
        yield count
    finally:
        scraper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await scraper
        await monitoring.stop()


async def measure(
    args: argparse.Namespace,
    fake: FakeDiscord,
    bot: NewsBot,
    store: Store,
    channels: Sequence[Channel],
) -> Figures:
    """Subscribe, store the articles, time the posting runs and check the deliveries."""
    if args.channels_at_once:
        bot.poster.channels_at_once = args.channels_at_once
    articles, setup = await prepare(store, channels, args.articles)
    runs = max(1, math.ceil(args.articles / args.max_per_run)) if args.all else args.runs
    ceiling, why = ceiling_for(fake, len(channels))
    print(
        f"{len(channels):,} channels in {args.guilds} guilds, {args.articles} articles due in "
        f"each, {runs} run(s) of at most {args.max_per_run} per channel; ceiling {ceiling:g} "
        "messages/s",
        file=sys.stderr, flush=True,
    )  # fmt: skip
    info = describe(  # the load average just before the runs
        **{"discord.py": discord.__version__},
        aiohttp=version("aiohttp"),
        aiosqlite=version("aiosqlite"),
    )
    profiler = cProfile.Profile() if args.profile else None
    timed: list[RunFigures] = []
    for number in range(1, runs + 1):
        if profiler is not None:
            profiler.enable()
        run = await timed_run(bot, fake, number)
        if profiler is not None:
            profiler.disable()
        timed.append(run)
        print(f"run {number}: {run.messages:,} messages in {run.seconds:.1f} s", file=sys.stderr)
    delivered = articles[: min(len(articles), runs * args.max_per_run)]
    ledger = await check_exactly_once(fake, store, channels, articles, delivered)
    profile = None
    if profiler is not None:
        profiler.dump_stats(args.profile)
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(25)
        profile = text.getvalue()
    return Figures(
        command="", machine=info, guilds=args.guilds, channels=len(channels),
        articles=args.articles, max_per_run=args.max_per_run,
        channels_at_once=bot.poster.channels_at_once, ceiling=ceiling, ceiling_why=why,
        setup_seconds=setup, runs=timed, ledger=ledger,
        load_after=[round(x, 2) for x in os.getloadavg()], profile=profile,
    )  # fmt: skip


# -- several newsbot run processes on one shared database --------------------------------

SHARD_SEED = 1_500_000_000_000_000_000  # a realistic snowflake to derive guild ids from


def guild_id(number: int, shard: int, shards: int) -> int:
    """Return a distinct snowflake whose guild Discord routes to ``shard`` of ``shards``."""
    timestamp = (SHARD_SEED >> 22) - ((SHARD_SEED >> 22) % shards) + shards * number + shard
    return (timestamp << 22) | 0x21000


def build_sharded_guilds(
    fake: FakeDiscord, guilds: int, per_guild: int, shards: int
) -> tuple[list[Channel], dict[int, int]]:
    """Create the guilds, spread evenly over ``shards``; return the channels and each
    guild's shard."""
    channels, shard_of = [], {}
    for g in range(guilds):
        shard = g % shards
        guild = fake.add_guild(f"fanout-{g:03d}", id=guild_id(g // shards, shard, shards))
        shard_of[guild.id] = shard
        for c in range(per_guild):
            channel = fake.add_text_channel(guild, f"news-{c:03d}")
            channels.append(Channel(guild.id, channel.id))
    return channels, shard_of


def process_cpu_seconds(pid: int) -> float:
    """Return the CPU time a live process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(slots=True)
class ProcessFigures:
    """What one ``newsbot run`` process did in its posting run."""

    shard_ids: str
    messages: int  # message POSTs the fake accepted in its guilds' channels
    first_post: float  # seconds from the processes' start
    last_post: float
    send_rate: float  # its share of NEWSBOT_SEND_RATE
    global_429s: int  # global 429s answered to its messages
    cpu_seconds: float
    summary: str  # its "posting run:" log line
    tracebacks: int

    @property
    def rate(self) -> float:
        """Return messages per second from its first accepted POST to its last."""
        span = self.last_post - self.first_post
        return self.messages / span if span > 0 else 0.0


@dataclass(slots=True)
class SharedFigures:
    """Everything a run of several processes on one database measured."""

    command: str
    machine: dict[str, Any]
    database: str  # what NEWSBOT_DB was (redacted)
    server: dict[str, Any] | None
    processes: list[ProcessFigures]
    guilds: int
    channels: int
    articles: int
    max_per_run: int
    ceiling: float
    ceiling_why: str
    setup_seconds: dict[str, float]
    messages: int
    first_post: float
    last_post: float
    global_429s: int
    route_429s: int
    server_cpu_seconds: float | None
    ledger: Ledger
    load_after: list[float]
    global_429_windows: list[str]  # the first few global 429s, and what came before each

    @property
    def rate(self) -> float:
        """Return messages per second from the first accepted POST of any process to the last."""
        span = self.last_post - self.first_post
        return self.messages / span if span > 0 else 0.0

    @property
    def ratio(self) -> float:
        """Return the rate as a fraction of the ceiling."""
        return self.rate / self.ceiling

    @property
    def met(self) -> bool:
        """Tell whether the rate target is met, without a global 429."""
        return self.ratio >= TARGET_RATIO and self.global_429s == 0

    def to_json(self) -> dict[str, Any]:
        """Return the figures as plain data."""
        data = asdict(self)
        data["ledger"]["ok"] = self.ledger.ok
        for process, figures in zip(data["processes"], self.processes, strict=True):
            process["rate"] = figures.rate
        data.update(rate=self.rate, ratio=self.ratio, target_ratio=TARGET_RATIO, met=self.met)
        return data


async def watch_log(
    process: asyncio.subprocess.Process, log: list[str], finished: asyncio.Event
) -> None:
    """Keep a process's log lines; set ``finished`` at its first "posting run:" line."""
    assert process.stderr is not None
    async for raw in process.stderr:
        line = raw.decode(errors="replace").rstrip()
        log.append(line)
        if "posting run:" in line:
            finished.set()


@contextlib.contextmanager
def no_collector_pauses() -> Iterator[None]:
    """Keep this process's garbage collector from pausing the fake Discord while bots post.

    The fake stands in for Discord's servers, whose clock does not stop for this Python
    heap. With the collector on, a full collection of the fake's heap (every request it
    recorded) froze it for 531 ms in one run: the requests that queued behind the pause
    reached its rate limiter together, 50 in one second, and it answered global 429s that
    the bots' spacing had not earned. The heap of the set-up is frozen and the collector is
    off until the processes are done (a run allocates a few hundred megabytes at most).
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def shared_bench(
    args: argparse.Namespace, command: str, database: str, server: Any = None
) -> SharedFigures:
    """Run ``args.processes`` ``newsbot run`` processes on ``database``, one shard each.

    The subscriptions and the new articles are stored first; each process then starts with
    a posting interval of ``POST_INTERVAL``, so their first runs start together, one
    interval after start-up (within the scheduler's jitter of a second). A process is
    stopped as soon as it logs the end of its first run: one run each, as in the
    in-process benchmark.
    """
    shards = args.processes
    with tempfile.TemporaryDirectory(prefix="newsbot-fanout-") as tmp:
        data = Path(tmp) / "articles"
        data.mkdir()
        started = time.perf_counter()
        async with FakeDiscord(rate_limits=True) as fake:
            channels, shard_of = build_sharded_guilds(
                fake, args.guilds, args.channels_per_guild, shards
            )
            async with await open_store(database) as store:
                articles, setup = await prepare(store, channels, args.articles)
            ceiling, why = ceiling_for(fake, len(channels))
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
                "DISCORD_TOKEN": fake.token, "NEWSBOT_DB": database,
                "NEWSBOT_DATA_DIR": str(data), "NEWSBOT_SHARD_COUNT": str(shards),
                "NEWSBOT_POST_INTERVAL": f"{POST_INTERVAL}s",
                "NEWSBOT_RESCAN_INTERVAL": "168h", "NEWSBOT_MAX_PER_RUN": str(args.max_per_run),
                "NEWSBOT_SEND_RATE": str(args.send_rate),
                **fake.env(),
            }  # fmt: skip
            info = describe(**{"discord.py": discord.__version__}, aiohttp=version("aiohttp"))
            server_cpu = pgserver.server_cpu_seconds(server) if server is not None else None
            first_request = len(fake.requests)
            launched = time.monotonic()  # the fake stamps requests with time.monotonic
            processes, finished, watchers = [], [], []
            logs: list[list[str]] = []  # each process's log lines (watch_log)
            for shard in range(shards):
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", cwd=tmp,
                    env={**env, "NEWSBOT_SHARD_IDS": str(shard)},
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                processes.append(process)
                logs.append([])
                finished.append(asyncio.Event())
                watchers.append(asyncio.create_task(watch_log(process, logs[-1], finished[-1])))
            cpu = [0.0] * shards
            with no_collector_pauses():  # the fake's, from here to the processes' end
                try:
                    ready = asyncio.ensure_future(fake.wait_for_shards(shards, timeout=120))
                    exits = [asyncio.ensure_future(p.wait()) for p in processes]
                    await asyncio.wait({ready, *exits}, return_when=asyncio.FIRST_COMPLETED)
                    for waiter in exits:
                        waiter.cancel()
                    if not ready.done():
                        ready.cancel()
                        raise SystemExit(
                            "a process exited before every shard was ready:\n"
                            + "\n\n".join("\n".join(log[-20:]) for log in logs)
                        )
                    ready.result()
                    setup["login"] = time.perf_counter() - started - sum(setup.values())
                    print(
                        f"{shards} processes logged in; their runs start about {POST_INTERVAL} s "
                        "after their start",
                        file=sys.stderr, flush=True,
                    )  # fmt: skip
                    began = time.perf_counter()
                    reporter = asyncio.create_task(progress(fake, first_request, began))
                    try:
                        for shard, process in enumerate(processes):
                            waiting = asyncio.ensure_future(finished[shard].wait())
                            exited = asyncio.ensure_future(process.wait())
                            await asyncio.wait(
                                {waiting, exited}, timeout=RUN_TIMEOUT,
                                return_when=asyncio.FIRST_COMPLETED,
                            )  # fmt: skip
                            waiting.cancel()
                            exited.cancel()
                            if not finished[shard].is_set():
                                raise SystemExit(
                                    f"process {shard} did not finish a run:\n"
                                    + "\n".join(logs[shard][-30:])
                                )
                            cpu[shard] = process_cpu_seconds(process.pid)
                            process.send_signal(signal.SIGTERM)
                    finally:
                        reporter.cancel()
                finally:
                    for process in processes:
                        await stop_process(process)
                    for watcher in watchers:
                        with contextlib.suppress(asyncio.CancelledError):
                            await watcher
            used = None
            if server is not None and server_cpu is not None:
                after = pgserver.server_cpu_seconds(server)
                used = None if after is None else after - server_cpu
            requests = fake.requests[first_request:]
            posts = [r for r in requests if _is_message_post(r) and r.status == 200]
            guild_of = {c.channel_id: c.guild_id for c in channels}
            hit_shards = Counter(
                shard_of.get(guild_of.get(int(m.group(1)), 0), -1)
                for h in fake.rate_limits.hits
                if h.scope == "global" and (m := re.search(r"/channels/(\d+)/messages", h.path))
            )
            figures = []
            send_rate = args.send_rate / shards  # NEWSBOT_SEND_RATE, split by shard share
            for shard in range(shards):
                mine = [
                    r for r in posts
                    if shard_of[guild_of[int(r.params["channel_id"])]] == shard
                ]  # fmt: skip
                summary = next((x for x in logs[shard] if "posting run:" in x), "")
                figures.append(ProcessFigures(
                    shard_ids=str(shard), messages=len(mine),
                    first_post=mine[0].at - launched if mine else 0.0,
                    last_post=mine[-1].at - launched if mine else 0.0,
                    send_rate=send_rate, global_429s=hit_shards[shard], cpu_seconds=cpu[shard],
                    summary=summary.split("posting run:", 1)[-1].strip(),
                    tracebacks=sum("Traceback" in x for x in logs[shard]),
                ))  # fmt: skip
            hits = fake.rate_limits.hits
            windows = [_window_before(fake.requests, h.at, launched) for h in hits
                       if h.scope == "global"][:MAX_WINDOWS_SHOWN]  # fmt: skip
            runs = 1
            delivered = articles[: min(len(articles), runs * args.max_per_run)]
            async with await open_store(database) as store:
                ledger = await check_exactly_once(fake, store, channels, articles, delivered)
            return SharedFigures(
                command=command, machine=info, database=redact_url(database),
                server=pgserver.run(pgserver.settings(server)) if server is not None else None,
                processes=figures, guilds=args.guilds, channels=len(channels),
                articles=args.articles, max_per_run=args.max_per_run, ceiling=ceiling,
                ceiling_why=why, setup_seconds=setup, messages=len(posts),
                first_post=posts[0].at - launched if posts else 0.0,
                last_post=posts[-1].at - launched if posts else 0.0,
                global_429s=sum(1 for h in hits if h.scope == "global"),
                route_429s=sum(1 for h in hits if h.scope != "global"),
                server_cpu_seconds=used, ledger=ledger,
                load_after=[round(x, 2) for x in os.getloadavg()], global_429_windows=windows,
            )  # fmt: skip


MAX_WINDOWS_SHOWN = 5


def _window_before(requests: Sequence[Any], at: float, launched: float) -> str:
    """Describe the requests of the second before a global 429: when, how many, of what."""
    held = Counter(
        f"{r.method} {r.route}" for r in requests if at - 1.0 <= r.at < at and r.status != 429
    )
    listed = ", ".join(f"{count} {what}" for what, count in held.most_common())
    return f"at {at - launched:.2f} s, the second before held {sum(held.values())}: {listed}"


def print_shared(figures: SharedFigures) -> None:
    """Print a run of several processes: each process, the total against the ceiling."""
    print(f"date:      {figures.machine['date']}")
    print(f"database:  {figures.database}")
    if figures.server:
        s = figures.server
        print(f"server:    PostgreSQL {s['server_version']} ({s['where']}, shared_buffers "
              f"{s['shared_buffers']}, fsync {s['fsync']})")  # fmt: skip
    setup = ", ".join(f"{k} {v:.1f} s" for k, v in figures.setup_seconds.items())
    print(
        f"workload:  {figures.channels:,} channels in {figures.guilds} guilds over "
        f"{len(figures.processes)} processes (one shard each), {figures.articles} new articles "
        f"due in each channel, at most {figures.max_per_run} per channel per run; setup: {setup}"
    )
    print(f"ceiling:   {figures.ceiling:g} messages/s: {figures.ceiling_why}; load "
          f"{figures.machine['load_average']} before, {figures.load_after} after\n")  # fmt: skip
    # On PostgreSQL the processes take turns from one schedule at the whole rate; on SQLite
    # each paces its shards' share.
    pace = "its share of one schedule," if figures.server else "its own pace,"
    for p in figures.processes:
        print(
            f"  process shard {p.shard_ids}: {p.messages:,} messages from {p.first_post:.1f} s to "
            f"{p.last_post:.1f} s = {p.rate:.2f}/s ({pace} {p.send_rate:g}/s), "
            f"{p.global_429s} global 429s, CPU "
            f"{p.cpu_seconds:.1f} s, {p.tracebacks} tracebacks; {p.summary}"
        )
    server_cpu = figures.server_cpu_seconds
    print(
        f"\ntotal:     {figures.messages:,} messages from the first POST "
        f"({figures.first_post:.1f} s) to the last ({figures.last_post:.1f} s) = "
        f"{figures.rate:.2f} messages/s = "
        f"{figures.ratio:.1%} of the {figures.ceiling:g}/s ceiling; {figures.global_429s} global "
        f"429s, {figures.route_429s} route 429s; database server CPU "
        f"{'-' if server_cpu is None else f'{server_cpu:.1f} s'}  -> >= {TARGET_RATIO:.0%} "
        f"with 0 global 429s {_verdict(figures.met)}"
    )
    for window in figures.global_429_windows:
        print(f"  global 429 {window}")
    ledger = figures.ledger
    print(
        f"exactly once: {ledger.expected:,} due deliveries; {ledger.in_discord:,} in Discord, "
        f"{ledger.in_ledger:,} in the ledger; missing {ledger.missing}, duplicated "
        f"{ledger.duplicates}, unexpected {ledger.unexpected}, wrong message id "
        f"{ledger.wrong_message_id}, unrecognised {ledger.unrecognised_messages}, outbox left "
        f"{ledger.outbox_left}  -> {_verdict(ledger.ok)}"
    )
    for example in ledger.examples:
        print(f"    {example}")


def compare_shared(args: argparse.Namespace, command: str) -> int:
    """Run the in-process SQLite benchmark, then the processes on one shared database."""
    single = asyncio.run(bench(args, command))
    print("== one process (in-process NewsBot), SQLite ==")
    print_report(single)
    window = sum(r.seconds - r.lead_in - r.tail for r in single.runs)
    single_rate = single.messages / window if window > 0 else 0.0
    print(
        f"first POST to last: {single.messages:,} messages in {window:.1f} s = "
        f"{single_rate:.2f}/s = {single_rate / single.ceiling:.1%} of the ceiling"
    )
    with contextlib.ExitStack() as stack:
        if args.backend == "postgres":
            server = stack.enter_context(pgserver.server())
            database: str = pgserver.run(pgserver.fresh_database(server, PG_DATABASE))
        else:
            server = None
            database = str(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "shared.db")
        shared = asyncio.run(shared_bench(args, command, database, server))
        if server is not None:
            pgserver.run(pgserver.drop_database(server, PG_DATABASE))
    print(f"\n== {args.processes} newsbot run processes, {args.backend} ==")
    print_shared(shared)
    print(
        f"\n{args.processes} processes on {args.backend} / one process on SQLite (first POST to "
        f"last): {shared.rate:.2f} / {single_rate:.2f} = {shared.rate / single_rate:.3f}"
    )
    if args.json:
        print(json.dumps({"single": single.to_json(), "shared": shared.to_json()}, indent=2))
    ok = single.met and single.ledger.ok and shared.met and shared.ledger.ok
    return 0 if ok and all(p.tracebacks == 0 for p in shared.processes) else 1


# -- report -------------------------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "PASS" if met else "FAIL"


def print_report(figures: Figures) -> None:
    """Print the machine, the runs, the totals against the ceiling and the ledger check."""
    info = figures.machine
    print(f"date:      {info['date']}")
    print(f"command:   {figures.command}")
    print(
        f"machine:   {info['cpu']}, {info['cores_allowed']}/{info['cores']} cores, "
        f"{info['platform']}; load {info['load_average']} before the runs, "
        f"{figures.load_after} after"
    )
    print(
        f"           Python {info['python']}, discord.py {info['discord.py']}, aiohttp "
        f"{info['aiohttp']}, aiosqlite {info['aiosqlite']}, SQLite {info['sqlite']}"
    )
    setup = ", ".join(f"{k} {v:.1f} s" for k, v in figures.setup_seconds.items())
    print(
        f"workload:  {figures.channels:,} channels in {figures.guilds} guilds, "
        f"{figures.articles} new articles due in each, at most {figures.max_per_run} per channel "
        f"per run, channels_at_once {figures.channels_at_once}; setup: {setup}"
    )
    print(f"ceiling:   {figures.ceiling:g} messages/s: {figures.ceiling_why}\n")
    columns = ("run", "messages", "seconds", "msg/s", "of ceiling", "CPU s", "lead-in", "tail",
               "429 global", "429 route", "other req")  # fmt: skip
    widths = (3, 9, 8, 7, 10, 6, 7, 5, 10, 9, 9)
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)), " skipped")
    for run in figures.runs:
        cells = (
            f"{run.number}", f"{run.messages:,}", f"{run.seconds:.1f}", f"{run.rate:.2f}",
            f"{run.rate / figures.ceiling:.1%}", f"{run.cpu_seconds:.1f}", f"{run.lead_in:.2f}",
            f"{run.tail:.2f}", f"{run.global_429s:,}", f"{run.route_429s:,}",
            f"{run.other_global_requests:,}",
        )  # fmt: skip
        skipped = "; ".join(f"{n} x {why}" for why, n in run.skipped.items()) or "-"
        print(" ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)), "", skipped)
    hits = sum(r.global_429s + r.route_429s for r in figures.runs)
    print(
        f"\ntotal:     {figures.messages:,} messages in {figures.seconds:.1f} s = "
        f"{figures.rate:.2f} messages/s = {figures.ratio:.1%} of the {figures.ceiling:g}/s "
        f"ceiling; {hits:,} 429s  -> >= {TARGET_RATIO:.0%} {_verdict(figures.met)}"
    )
    ledger = figures.ledger
    print(
        f"exactly once: {ledger.expected:,} due deliveries; {ledger.in_discord:,} in Discord, "
        f"{ledger.in_ledger:,} in the ledger; missing {ledger.missing} "
        f"({ledger.missing_in_discord} in Discord, {ledger.missing_in_ledger} in the ledger), "
        f"duplicated {ledger.duplicates} ({ledger.duplicated_in_discord} extra copies in "
        f"Discord, {ledger.duplicated_in_ledger} in the ledger), unexpected {ledger.unexpected}, "
        f"wrong message id {ledger.wrong_message_id}, unrecognised messages "
        f"{ledger.unrecognised_messages}, outbox left {ledger.outbox_left}  -> "
        f"{_verdict(ledger.ok)}"
    )
    for example in ledger.examples:
        print(f"    {example}")
    if figures.profile:
        print(f"\nprofile of the runs (cProfile, by own time):\n{figures.profile}")


def main() -> int:
    """Measure, print the report; exit 1 if a delivery is wrong or the rate under target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guilds", type=int, default=50, help="(%(default)s)")
    parser.add_argument("--channels-per-guild", type=int, default=20, help="(%(default)s)")
    parser.add_argument("--articles", type=int, default=20, help="new articles (%(default)s)")
    parser.add_argument("--max-per-run", type=int, default=5, help="(%(default)s)")
    runs = parser.add_mutually_exclusive_group()
    runs.add_argument("--runs", type=int, default=1, help="posting runs to time (%(default)s)")
    runs.add_argument("--all", action="store_true", help="run until every article is delivered")
    parser.add_argument(
        "--channels-at-once", type=int, default=0,
        help=f"set the Poster's concurrency (default: its own, {CHANNELS_AT_ONCE})",
    )  # fmt: skip
    parser.add_argument("--profile", metavar="FILE", help="cProfile the runs into FILE")
    parser.add_argument("--verbose", action="store_true", help="log discord.py's 429 warnings")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--http", action="store_true",
        help="run twice in this process: without the /metrics listener, then with it scraped "
        "every second; report the ratio of the rates",
    )  # fmt: skip
    parser.add_argument(
        "--send-rate", type=int, default=int(GLOBAL_RATE), help="NEWSBOT_SEND_RATE (%(default)s)"
    )
    parser.add_argument(
        "--processes", type=int, default=0,
        help="after the in-process SQLite run, run N `newsbot run` processes (one shard each, "
        "taking turns from one send schedule on PostgreSQL) on one shared database, and compare",
    )  # fmt: skip
    parser.add_argument(
        "--backend", choices=("postgres", "sqlite"), default="postgres",
        help="the shared database of --processes (%(default)s: NEWSBOT_BENCH_POSTGRES's "
        "server or a throwaway one)",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # one warning per 429: counted by the fake instead
        logging.getLogger("discord.http").setLevel(logging.ERROR)
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    if args.http:
        return compare_http(args, command)
    if args.processes:
        return compare_shared(args, command)
    figures = asyncio.run(bench(args, command))
    print_report(figures)
    if args.json:
        print(json.dumps(figures.to_json(), indent=2))
    return 0 if figures.met and figures.ledger.ok else 1


def compare_http(args: argparse.Namespace, command: str) -> int:
    """Run without and with the metrics listener; print both and the ratio of the rates."""
    off = asyncio.run(bench(args, command))
    on = asyncio.run(bench(args, command, http=True))
    for label, figures in (("listener off", off), ("listener on", on)):
        print(f"== {label} ==")
        print_report(figures)
    rate_off = sum(r.messages for r in off.runs) / sum(r.seconds for r in off.runs)
    rate_on = sum(r.messages for r in on.runs) / sum(r.seconds for r in on.runs)
    print(
        f"\nrate with the listener scraped every second ({on.scrapes} scrapes) / without: "
        f"{rate_on:.2f} / {rate_off:.2f} = {rate_on / rate_off:.4f} (target >= 0.95)"
    )
    return 0 if off.ledger.ok and on.ledger.ok and rate_on / rate_off >= 0.95 else 1


if __name__ == "__main__":
    raise SystemExit(main())
