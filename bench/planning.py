"""Planning benchmark: what one posting run costs to plan, with moderators' rules and without.

On the lookup benchmark's synthetic archive (``bench/lookups.py`` builds it once and caches
it), copied to a scratch file and migrated: 10,000 subscriptions in 1,000 servers (five
channels each, two topics per channel, topics drawn as often as articles carry them), half
of them with an include or exclude query and a provider list; then 1,000 new articles are
stored through the store, as a load would. Planning a run is ``Poster.preview()``: for every
channel, what the next run would send, every rule applied, nothing sent or written.

In one process, alternating, the same plan is timed with the rules in place and with them
set aside (the same subscriptions and candidates, the options emptied): the ratio of the
two is what the rules cost a plan. The rules' filter queries are checked when an article
is stored, so the same run is also made from the start with no rule at all, on another
copy: storing the new articles and planning, each against the run with rules. The same
is done on a 100,000-article archive with the same subscriptions and new articles: the
ratio of the two archives' times shows whether planning follows what is new or the
archive. Last, one channel on the largest topic with
nothing due is planned as the earlier rule planned it (a scan of the topic's articles) and
as now (its candidates).

    .venv/bin/python bench/planning.py [--archives 100000,1000000] [--rounds 3] [--json]

Run it from the repository root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lookups import OUT, Corpus, build, cached_build
from machine import describe

from bot.articles import ArticleDraft, Provider
from bot.posting import Poster
from bot.store import open_store
from bot.store.interfaces import Store
from bot.subscriptions import PLAIN, DeliveryStyle, SubscriptionOptions

SEED = 1
SERVERS = 1_000
CHANNELS_PER_SERVER = 5
TOPICS_PER_CHANNEL = 2
NEW_ARTICLES = 1_000
RULES_TARGET = 2.0  # planning with rules: at most twice the same plan without
SCALE_TARGET = 1.2  # planning at 1M stored articles over planning at 100k

# The selection before candidates (newsbot before issue 10): every article of the channel's
# topics, then everything that rules them out. Kept here to measure what it cost.
ARCHIVE_SCAN = """
SELECT a.id AS article_id, s.id AS subscription_id, s.mode FROM subscriptions AS s
JOIN topics AS t ON t.key = s.topic_key
JOIN article_topics AS at ON at.topic_id = t.id
JOIN articles AS a ON a.id = at.article_id
WHERE s.channel_id = ? AND s.paused_reason IS NULL
  AND NOT a.source_published
  AND a.quality IS NOT NULL AND a.quality >= s.min_quality
  AND (a.loaded_at >= s.created_at OR EXISTS (
        SELECT 1 FROM backfill AS b
        WHERE b.subscription_id = s.id AND b.article_id = a.id))
  AND NOT EXISTS (
        SELECT 1 FROM deliveries AS d
        WHERE d.article_id = a.id AND d.channel_id = s.channel_id)
  AND NOT EXISTS (
        SELECT 1 FROM refusals AS r
        WHERE r.article_id = a.id AND r.channel_id = s.channel_id)
  AND NOT EXISTS (
        SELECT 1 FROM outbox AS o, json_each(o.article_ids) AS j
        WHERE o.channel_id = s.channel_id AND j.value = a.id)
ORDER BY a.quality DESC, a.published_at DESC, a.id, s.id
"""


class NoSender:
    """A sender for previews: planning never sends."""

    async def send(
        self, channel_id: int, articles: Sequence[Any], nonce: str, style: DeliveryStyle = PLAIN
    ) -> int:
        raise AssertionError("planning does not send")

    async def can_post(self, channel_id: int) -> bool:
        return True

    async def find_sent(
        self,
        channel_id: int,
        articles: Sequence[Any],
        since: datetime,
        style: DeliveryStyle = PLAIN,
    ) -> int | None:
        return None


@dataclass(frozen=True, slots=True)
class Plan:
    """The subscriptions and new articles, the same on every archive."""

    subscriptions: list[tuple[int, int, str, int, SubscriptionOptions]]
    articles: list[ArticleDraft]


def make_plan(corpus: Corpus) -> Plan:
    """Return 10,000 subscriptions (half with rules) and 1,000 new articles, from a fixed seed."""
    rng = random.Random(f"planning:{SEED}")
    topics = range(len(corpus.topics))
    common = corpus.words[50:3000]  # words that are neither everywhere nor nowhere
    big_providers = [domain for domain, _ in corpus.providers[:60]]
    subscriptions = []
    for server in range(SERVERS):
        guild_id = (server + 1) << 22
        for channel in range(CHANNELS_PER_SERVER):
            channel_id = guild_id + channel + 1
            picks = set()
            while len(picks) < TOPICS_PER_CHANNEL:
                picks.add(rng.choices(topics, cum_weights=corpus.topic_weights)[0])
            for topic in sorted(picks):
                options = SubscriptionOptions()
                if len(subscriptions) % 2:  # half of them shaped
                    query = " OR ".join(rng.sample(common, rng.randint(1, 3)))
                    listed = tuple(rng.sample(big_providers, 3))
                    if rng.random() < 0.5:
                        options = SubscriptionOptions(include=query, providers=listed)
                    else:
                        options = SubscriptionOptions(exclude=query, exclude_providers=listed)
                quality = rng.choice((0, 30, 50, 70))
                subscriptions.append((guild_id, channel_id, corpus.topics[topic], quality, options))
    articles = []
    now = datetime.now(UTC)
    for number in range(NEW_ARTICLES):
        domain, name = corpus.providers[
            rng.choices(range(len(corpus.providers)), cum_weights=corpus.provider_weights)[0]
        ]
        words = corpus.draw(rng, rng.randint(6, 13))
        picks = rng.choices(topics, cum_weights=corpus.topic_weights, k=rng.randint(1, 3))
        articles.append(
            ArticleDraft(
                url=f"https://www.{domain}/new/{number}-{'-'.join(words[:6])}",
                title=" ".join(words).capitalize(),
                excerpt=corpus.sentences(rng, rng.randint(40, 75)),
                published_at=now - timedelta(minutes=rng.randrange(600)),
                provider=Provider(name=name, domain=domain),
                topics=tuple(dict.fromkeys(corpus.topics[t] for t in picks)),
                quality=rng.randint(0, 100),
                source_published=rng.random() < 0.1,
            )
        )
    return Plan(subscriptions, articles)


def archive(articles: int, corpus: Corpus) -> Path:
    """Return the cached synthetic archive of ``articles`` articles, building it if needed."""
    db = (OUT / f"lookups-{articles}-s{SEED}.db").resolve()
    if cached_build(db, articles, SEED) is None:
        print(f"building the {articles:,}-article archive (once)...", file=sys.stderr)
        build(db, corpus, articles)
    return db


async def prepare(store: Store, plan: Plan) -> dict[str, Any]:
    """Subscribe, then store the new articles; return what was made."""
    started = time.perf_counter()
    for guild_id, channel_id, topic, quality, options in plan.subscriptions:
        await store.subscriptions.subscribe(
            guild_id=guild_id, channel_id=channel_id, topic=topic, min_quality=quality,
            options=options,
        )  # fmt: skip
    subscribed = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, len(plan.articles), 100):  # as the loader's batches
        await store.articles.save([(draft, None) for draft in plan.articles[start : start + 100]])
    return {"subscribe_seconds": round(subscribed, 1),
            "store_new_seconds": round(time.perf_counter() - started, 2)}  # fmt: skip


class RuleSwitch:
    """Set the subscriptions' rules aside and back, on a second connection to the file."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)
        self.connection.executescript("""
            CREATE TABLE bench_rules AS SELECT id, include_query, include_match, exclude_query,
                exclude_match FROM subscriptions;
            CREATE TABLE bench_providers AS SELECT * FROM subscription_providers;
        """)

    def off(self) -> None:
        self.connection.executescript("""
            BEGIN;
            UPDATE subscriptions SET include_query = NULL, include_match = NULL,
                exclude_query = NULL, exclude_match = NULL;
            DELETE FROM subscription_providers;
            COMMIT;
        """)

    def on(self) -> None:
        self.connection.executescript("""
            BEGIN;
            UPDATE subscriptions SET (include_query, include_match, exclude_query, exclude_match)
                = (SELECT include_query, include_match, exclude_query, exclude_match
                   FROM bench_rules WHERE bench_rules.id = subscriptions.id);
            DELETE FROM subscription_providers;
            INSERT INTO subscription_providers SELECT * FROM bench_providers;
            COMMIT;
        """)


async def time_plan(poster: Poster) -> tuple[float, int, int]:
    """Plan a run; return the seconds, the messages and the articles it would send."""
    started = time.perf_counter()
    planned = await poster.preview()
    seconds = time.perf_counter() - started
    return seconds, len(planned), sum(len(m.articles) for m in planned)


async def measure(db: Path, plan: Plan, rounds: int, corpus: Corpus) -> dict[str, Any]:
    """Measure one archive: planning with and without rules, and one idle channel."""
    with tempfile.TemporaryDirectory(prefix="newsbot-planning-", dir=OUT) as scratch:
        work = Path(scratch) / db.name
        copied = time.perf_counter()
        shutil.copyfile(db, work)
        print(f"{db.name}: copied in {time.perf_counter() - copied:.0f} s", file=sys.stderr)
        migrated = time.perf_counter()
        async with await open_store(work) as store:
            migrate_seconds = time.perf_counter() - migrated
            made = await prepare(store, plan)
            print(f"{db.name}: migrated in {migrate_seconds:.1f} s, {made}", file=sys.stderr)
            # A channel on the largest topic, subscribed after the new articles: nothing due.
            idle = (SERVERS + 1) << 22
            await store.subscriptions.subscribe(
                guild_id=idle, channel_id=idle + 1, topic=corpus.topics[0], min_quality=0
            )
            switch = RuleSwitch(work)
            poster = Poster(store, NoSender(), max_per_run=5)
            await time_plan(poster)  # warm the caches once
            times: dict[str, list[float]] = {"rules": [], "none": []}
            sizes: dict[str, tuple[int, int]] = {}
            for _ in range(rounds):
                for kind in ("rules", "none"):
                    (switch.on if kind == "rules" else switch.off)()
                    seconds, messages, articles = await time_plan(poster)
                    times[kind].append(seconds)
                    sizes[kind] = (messages, articles)
            switch.on()
            candidates = switch.connection.execute("SELECT count(*) FROM candidates").fetchone()[0]
            topic_size = switch.connection.execute(
                "SELECT article_count FROM topics WHERE key = lower(?)", [corpus.topics[0]]
            ).fetchone()[0]
            idle_scan, idle_now = [], []
            subs = [s for s in await store.subscriptions.all() if s.channel_id == idle + 1]
            for _ in range(rounds):
                started = time.perf_counter()
                rows = switch.connection.execute(ARCHIVE_SCAN, [idle + 1]).fetchall()
                idle_scan.append(time.perf_counter() - started)
                assert rows == []
                started = time.perf_counter()
                found = await poster.planner.plan(idle + 1, subs)
                idle_now.append(time.perf_counter() - started)
                assert not found.messages
            switch.connection.close()
    channels = SERVERS * CHANNELS_PER_SERVER
    return {
        "archive_articles": int(db.name.split("-")[1]),
        "migrate_seconds": round(migrate_seconds, 1),
        **made,
        "channels": channels,
        "subscriptions": len(plan.subscriptions),
        "new_articles": len(plan.articles),
        "candidates": candidates,
        "planned": {kind: {"messages": m, "articles": a} for kind, (m, a) in sizes.items()},
        "rules_seconds": times["rules"],
        "none_seconds": times["none"],
        "rules_median": statistics.median(times["rules"]),
        "none_median": statistics.median(times["none"]),
        "rules_ratio": statistics.median(times["rules"]) / statistics.median(times["none"]),
        "idle_topic_articles": topic_size,
        "idle_scan_ms": 1000 * statistics.median(idle_scan),
        "idle_candidates_ms": 1000 * statistics.median(idle_now),
    }


async def unshaped(db: Path, plan: Plan, rounds: int) -> dict[str, Any]:
    """Measure the same run made with no rules at all: storing the new articles, planning."""
    bare = Plan([(g, c, t, q, SubscriptionOptions()) for g, c, t, q, _ in plan.subscriptions],
                plan.articles)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="newsbot-planning-", dir=OUT) as scratch:
        work = Path(scratch) / db.name
        shutil.copyfile(db, work)
        async with await open_store(work) as store:
            made = await prepare(store, bare)
            poster = Poster(store, NoSender(), max_per_run=5)
            await time_plan(poster)  # warm the caches once
            times = [(await time_plan(poster))[0] for _ in range(rounds)]
            candidates = sqlite3.connect(work).execute("SELECT count(*) FROM candidates")
            count = candidates.fetchone()[0]
    return {**made, "candidates": count, "plan_seconds": times,
            "plan_median": statistics.median(times)}  # fmt: skip


def print_report(figures: dict[str, Any]) -> None:
    """Print the figures as the Markdown table docs/benchmarks.md shows."""
    print("| archive | candidates | plan with rules (s) | without (s) | ratio | target |")
    print("|---:|---:|---:|---:|---:|:-:|")
    for run in figures["archives"]:
        met = "met" if run["rules_ratio"] <= RULES_TARGET else "MISSED"
        print(f"| {run['archive_articles']:,} | {run['candidates']:,} | "
              f"{run['rules_median']:.2f} | {run['none_median']:.2f} | "
              f"{run['rules_ratio']:.2f} | ≤ {RULES_TARGET} {met} |")  # fmt: skip
    print("\n| archive | made with no rules: candidates | storing 1,000 new (s) | plan (s) |"
          " with rules: storing (s) | plan (s) | plan ratio |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for run in figures["archives"]:
        bare = run["unshaped"]
        print(f"| {run['archive_articles']:,} | {bare['candidates']:,} | "
              f"{bare['store_new_seconds']:.2f} | {bare['plan_median']:.2f} | "
              f"{run['store_new_seconds']:.2f} | {run['rules_median']:.2f} | "
              f"{run['unshaped_ratio']:.2f} |")  # fmt: skip
    if (scale := figures.get("scale")) is not None:
        met = "met" if scale <= SCALE_TARGET else "MISSED"
        print(f"\nplanning with rules, largest archive ÷ smallest: {scale:.2f} "
              f"(≤ {SCALE_TARGET} {met})")  # fmt: skip
    print("\n| archive | idle channel's topic | archive scan (ms) | candidates (ms) |")
    print("|---:|---:|---:|---:|")
    for run in figures["archives"]:
        print(f"| {run['archive_articles']:,} | {run['idle_topic_articles']:,} articles | "
              f"{run['idle_scan_ms']:.1f} | {run['idle_candidates_ms']:.2f} |")  # fmt: skip


def main() -> int:
    """Measure every archive, print the report; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archives", default="100000,1000000", help="(%(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="(%(default)s)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    corpus = Corpus(SEED)
    plan = make_plan(corpus)
    runs = []
    for size in sorted(int(n) for n in args.archives.split(",")):
        db = archive(size, corpus)
        run = asyncio.run(measure(db, plan, args.rounds, corpus))
        run["unshaped"] = asyncio.run(unshaped(db, plan, args.rounds))
        run["unshaped_ratio"] = run["rules_median"] / run["unshaped"]["plan_median"]
        runs.append(run)
    figures: dict[str, Any] = {"machine": describe(), "archives": runs}
    if len(runs) > 1:
        figures["scale"] = runs[-1]["rules_median"] / runs[0]["rules_median"]
    print_report(figures)
    if args.json:
        print(json.dumps(figures, indent=2))
    met = [run["rules_ratio"] <= RULES_TARGET for run in runs]
    met += [run["unshaped_ratio"] <= RULES_TARGET for run in runs]
    met.append(figures.get("scale", 0) <= SCALE_TARGET)
    return 0 if all(met) else 1


if __name__ == "__main__":
    raise SystemExit(main())
