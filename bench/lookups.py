"""Lookup benchmark: every ``/news`` query on a large store, through the store and as bare SQL.

Builds (once, then reuses) a database of synthetic articles inserted straight into the real
schema, with its triggers maintaining the counts and the full-text index. Then, in one
process, times each lookup a command makes (topic, provider, search, latest, topic and
provider autocomplete) through the ``Store`` (aiosqlite and typed records: what the bot
pays) and as the very same SQL statements on a plain ``sqlite3`` connection, interleaved
query by query. Last, it runs ``newsbot run`` against the fake Discord on that database,
sends it interactions and reads its peak resident memory.

    .venv/bin/python bench/lookups.py [--articles 1000000] [--seed 1] [--queries 300]
        [--db PATH] [--rebuild] [--no-memory] [--json] [--backend sqlite|postgres|both]

With PostgreSQL (``--backend postgres`` or ``both``, the default), the SQLite database is
copied with ``newsbot copy`` into a database on NEWSBOT_BENCH_POSTGRES's server (reused
on the next run) or on a throwaway server (``bench/pgserver.py``), and the same queries
run through the PostgreSQL store and as its very statements on a plain asyncpg connection.

Run it from the repository root: the memory run imports ``tests.fake_discord``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import calendar
import itertools
import json
import math
import os
import random
import re
import sqlite3
import string
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from machine import describe, stop_process

from bot.articles import ArticlePage, is_web_url, topic_key, url_host
from bot.store import Store, open_store
from bot.store.fulltext import search_terms
from bot.store.limits import COMMON_SAMPLE, MAX_SUGGESTIONS, SEARCH_CAP
from bot.store.postgres.connection import POOL_SETTINGS
from bot.store.postgres.database import fetch_planned
from bot.store.rows import format_time
from bot.store.sqlite import SqliteStore
from bot.store.sqlite.articles import ARTICLES_IN_ORDER
from bot.store.sqlite.fulltext import match_expression

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
GENERATOR = 2  # bump when the synthetic data changes, so cached databases are rebuilt
BATCH = 10_000  # articles per build transaction
PAGE = 5  # articles per /news page (the commands' default limit)
LATEST_QUALITY = 50  # /news latest's threshold (NEWSBOT_MIN_QUALITY's default)
FIRST_DAY = calendar.timegm((2022, 1, 1, 0, 0, 0))
SPAN = 3 * 365 * 86_400  # published_at spreads over three years

KINDS = ("topic", "provider", "search", "latest", "topic autocomplete", "provider autocomplete")
P99_TARGET_MS = {"search": 50.0}  # every other kind: DEFAULT_P99_MS
DEFAULT_P99_MS = 10.0
RATIO_TARGET = 1.5
MEMORY_TARGET_MB = 150.0

Outcome = tuple[tuple[Any, ...], int, bool]  # what a lookup found: keys, total, total exact


# -- synthetic data -----------------------------------------------------------------------


def _cumulative_zipf(count: int, exponent: float = 1.0) -> list[float]:
    """Return the cumulative weights of ranks 1..count under Zipf's law."""
    return list(itertools.accumulate(1 / rank**exponent for rank in range(1, count + 1)))


@dataclass(slots=True)
class Batch:
    """The rows of a run of consecutive articles, one list per table."""

    articles: list[tuple[Any, ...]] = field(default_factory=list)
    topics: list[tuple[Any, ...]] = field(default_factory=list)
    related: list[tuple[Any, ...]] = field(default_factory=list)
    files: list[tuple[Any, ...]] = field(default_factory=list)


class Corpus:
    """Deterministic vocabulary, providers and topics, and the articles made of them.

    Words, providers and topics are all Zipf-distributed: a few are everywhere and most
    are rare, so full-text search meets both huge and tiny posting lists, and topic and
    provider pages both huge and small ranges.
    """

    def __init__(
        self, seed: int, *, vocabulary: int = 20_000, providers: int = 300, topics: int = 2_000
    ) -> None:
        self.seed = seed
        rng = random.Random(f"corpus:{seed}")
        words: set[str] = set()
        while len(words) < vocabulary:
            words.add("".join(self._syllable(rng) for _ in range(rng.choice((1, 2, 2, 2, 3)))))
        # Frequent words are short ones, as in real text; ties in random order.
        ranked = sorted(words)
        rng.shuffle(ranked)
        self.words = sorted(ranked, key=len)
        self.word_weights = _cumulative_zipf(vocabulary)
        self.providers = self._providers(rng, providers)  # (domain, name), by size rank
        self.provider_weights = _cumulative_zipf(providers)
        self.topics = self._topics(rng, topics)  # names, by size rank
        self.topic_weights = _cumulative_zipf(topics)

    @staticmethod
    def _syllable(rng: random.Random) -> str:
        onsets: list[str] = [
            *"bcdfghjklmnprstvwz",
            "br",
            "ch",
            "dr",
            "gr",
            "pl",
            "sh",
            "st",
            "th",
            "tr",
            "",
        ]
        vowels: list[str] = [*"aeiouaeio", "ai", "ea", "ou"]
        codas = ["", "", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng"]
        return rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)

    def _providers(self, rng: random.Random, count: int) -> list[tuple[str, str]]:
        suffixes = ["News", "Times", "Post", "Wire", "Daily", "Herald", "Journal", "Today"]
        tlds = ["com", "com", "com", "net", "org", "co.uk", "io", "news"]
        found: dict[str, str] = {}
        while len(found) < count:
            domain = f"{rng.choice(self.words)}{rng.choice(self.words)}.{rng.choice(tlds)}"
            name = f"{rng.choice(self.words).capitalize()} {rng.choice(suffixes)}"
            if len(found) % 40 == 39:  # now and then one name on two domains, like real outlets
                name = list(found.values())[rng.randrange(len(found))]
            found.setdefault(domain, name)
        return list(found.items())

    def _topics(self, rng: random.Random, count: int) -> list[str]:
        found: dict[str, str] = {}
        while len(found) < count:
            if rng.random() < 0.08:
                name = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(2, 4)))
            else:
                size = rng.choices((1, 2, 3), weights=(50, 40, 10))[0]
                name = " ".join(w.capitalize() for w in rng.sample(self.words[:8000], size))
            found.setdefault(topic_key(name), name)
        names = list(found.values())
        rng.shuffle(names)
        return names

    def draw(self, rng: random.Random, count: int) -> list[str]:
        """Return ``count`` words drawn from the Zipf distribution."""
        return rng.choices(self.words, cum_weights=self.word_weights, k=count)

    def sentences(self, rng: random.Random, count: int) -> str:
        """Return ``count`` Zipf-distributed words cut into sentences."""
        words = self.draw(rng, count)
        parts = []
        start = 0
        while start < count:
            end = start + rng.randint(6, 16)
            parts.append(" ".join(words[start:end]).capitalize() + ".")
            start = end
        return " ".join(parts)

    def batch(self, start: int, count: int) -> Batch:
        """Return the rows of articles ``start`` to ``start + count - 1`` (ids from 1)."""
        rng = random.Random(f"articles:{self.seed}:{start}")
        rows = Batch()
        providers, topics = range(len(self.providers)), range(len(self.topics))
        for number in range(start, start + count):
            article_id = number + 1
            seconds = FIRST_DAY + 60 * rng.randrange(SPAN // 60)  # sources give minutes
            when = format_time(datetime.fromtimestamp(seconds, UTC))
            loaded = format_time(datetime.fromtimestamp(seconds + rng.randrange(86_400), UTC))
            provider = rng.choices(providers, cum_weights=self.provider_weights)[0]
            domain = self.providers[provider][0]
            title_words = self.draw(rng, rng.randint(6, 13))
            title = " ".join(title_words).capitalize()
            slug = "-".join(title_words[:8])
            url = f"https://www.{domain}/{when[:4]}/{when[5:7]}/{slug}-{article_id}"
            quality = None if rng.random() < 0.1 else rng.randint(0, 100)
            heat = -1 if rng.random() < 0.6 else rng.randint(0, 5000)
            secured = f"{base64.b64encode(rng.randbytes(258)).decode()};{rng.getrandbits(96):x}"
            file_name = f"{number // 1000:04d}/{number:07d}_{rng.getrandbits(64):016x}.md"
            path = f"/srv/newsbot/data/articles/{file_name}"  # absolute, as the loader stores it
            rows.articles.append(
                (
                    article_id, url, url, url, title, self.sentences(rng, rng.randint(40, 75)),
                    "news", "article", when, quality, heat, rng.randint(0, 1), provider + 1,
                    _images(rng, domain, article_id), secured, "{}", "", path, loaded, loaded,
                )
            )  # fmt: skip
            picks = rng.choices(topics, cum_weights=self.topic_weights, k=rng.randint(1, 3))
            for position, topic in enumerate(dict.fromkeys(picks)):
                name = self.topics[topic]
                spelling = name.lower() if rng.random() < 0.03 else name
                rows.topics.append((article_id, topic + 1, position, spelling, when, quality))
            if rng.random() < 0.3:
                for position in range(rng.randint(1, 5)):
                    rows.related.append(self._related(rng, article_id, position, seconds))
            digest = f"{rng.getrandbits(128):032x}"
            rows.files.append((path, rng.randint(2500, 9000), seconds * 10**9, digest, url))
        return rows

    def _related(
        self, rng: random.Random, article_id: int, position: int, seconds: int
    ) -> tuple[Any, ...]:
        domain, name = rng.choice(self.providers)
        words = self.draw(rng, rng.randint(7, 14))
        link = f"https://{domain}/news/{article_id}-{position}-" + "-".join(words[:8])
        amp = rng.random() < 0.3
        when = format_time(datetime.fromtimestamp(seconds + 3600 * (position + 1), UTC))
        return (
            article_id, position, " ".join(words).capitalize(), link,
            self.sentences(rng, rng.randint(25, 40)), when,
            json.dumps({"name": name, "domain": domain}), rng.randint(0, 100), "article",
            f"{link}?amp" if amp else None,
            f"https://amp.example.net/c/s/{link[8:]}?amp" if amp else None,
            _images(rng, domain, article_id),
        )  # fmt: skip


def _images(rng: random.Random, domain: str, key: int) -> str:
    width, height = rng.randint(200, 3000), rng.randint(200, 3000)
    return (
        f'[{{"url": "https://img.{domain}/{width}x{height}/{key}.jpg", '
        f'"width": {width}, "height": {height}, "isCached": true}}]'
    )


# -- building the database ----------------------------------------------------------------


def sidecar(db: Path) -> Path:
    """Return the file that says a database was built completely, and how."""
    return db.with_name(db.name + ".json")


def cached_build(db: Path, articles: int, seed: int) -> dict[str, Any] | None:
    """Return the build record of ``db`` if it is complete and made of these articles."""
    try:
        record = json.loads(sidecar(db).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    wanted = {"articles": articles, "seed": seed, "generator": GENERATOR}
    if not db.is_file() or any(record.get(key) != value for key, value in wanted.items()):
        return None
    return dict(record)


async def _create_schema(db: Path) -> None:
    """Open the database once through the store, so the real migrations make the schema."""
    store = await open_store(db)
    await store.close()


def build(db: Path, corpus: Corpus, articles: int) -> dict[str, Any]:
    """Fill a new database at ``db`` with ``articles`` articles; return the build record.

    Rows go through the tables with every trigger active (counts, full-text index), in
    transactions of ``BATCH`` articles, with ``synchronous=OFF`` meanwhile; topic counts,
    which the store keeps per batch, are filled at the end by ``count_topics``.
    """
    sidecar(db).unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(_create_schema(db))
    started = time.perf_counter()
    generating = 0.0
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA cache_size = -524288")  # 512 MiB, for the index inserts
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO providers (id, domain, name) VALUES (?, ?, ?)",
        [(i + 1, domain, name) for i, (domain, name) in enumerate(corpus.providers)],
    )
    connection.executemany(
        "INSERT INTO topics (id, key, name) VALUES (?, ?, ?)",
        [(i + 1, topic_key(name), name) for i, name in enumerate(corpus.topics)],
    )
    connection.execute("COMMIT")
    for start in range(0, articles, BATCH):
        made = time.perf_counter()
        rows = corpus.batch(start, min(BATCH, articles - start))
        generating += time.perf_counter() - made
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO articles (id, url, original_url, web_url, title, excerpt, category, "
            "type, published_at, quality, heat, source_published, provider_id, images, "
            "secured, extra, body, source_path, loaded_at, updated_at) "
            f"VALUES ({','.join('?' * 20)})",
            rows.articles,
        )
        connection.executemany(
            "INSERT INTO article_topics (article_id, topic_id, position, spelling, "
            "published_at, quality) VALUES (?, ?, ?, ?, ?, ?)",
            rows.topics,
        )
        connection.executemany(
            "INSERT INTO related (article_id, position, title, url, excerpt, published_at, "
            "provider, quality, type, amp_url, cdn_amp_url, images) "
            f"VALUES ({','.join('?' * 12)})",
            rows.related,
        )
        connection.executemany(
            "INSERT INTO source_files (path, size, mtime_ns, digest, url) VALUES (?, ?, ?, ?, ?)",
            rows.files,
        )
        connection.execute("COMMIT")
        done = start + len(rows.articles)
        elapsed = time.perf_counter() - started
        print(
            f"\rbuilding: {done:,}/{articles:,} articles ({done / elapsed:,.0f}/s, "
            f"eta {(articles - done) * elapsed / done:,.0f} s)  ",
            end="", file=sys.stderr, flush=True,
        )  # fmt: skip
    print(file=sys.stderr)
    count_topics(connection)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    build_seconds = time.perf_counter() - started
    checked = time.perf_counter()
    counts = verify(connection, articles)
    connection.close()
    record = {
        "articles": articles,
        "seed": corpus.seed,
        "generator": GENERATOR,
        "build_seconds": round(build_seconds, 1),
        "generate_seconds": round(generating, 1),
        "verify_seconds": round(time.perf_counter() - checked, 1),
        "built_at": format_time(datetime.now(UTC)),
        "sqlite": sqlite3.sqlite_version,
        "counts": counts,
    }
    sidecar(db).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def count_topics(connection: sqlite3.Connection) -> None:
    """Fill the topic counts, spellings, names and quality counts from the article topics.

    The store adds these per batch as it saves (migration 0005 took the per-row triggers
    away); rows inserted directly are counted here, once, in a few set-based statements.
    """
    connection.execute("BEGIN")
    connection.execute(
        "UPDATE topics SET article_count = "
        "(SELECT count(*) FROM article_topics WHERE topic_id = topics.id)"
    )
    connection.execute(
        "INSERT INTO topic_spellings (topic_id, spelling, uses) "
        "SELECT topic_id, spelling, count(*) FROM article_topics GROUP BY topic_id, spelling"
    )
    connection.execute(
        "UPDATE topics SET name = coalesce((SELECT spelling FROM topic_spellings "
        "WHERE topic_id = topics.id ORDER BY uses DESC, spelling LIMIT 1), name)"
    )
    connection.execute(
        "INSERT INTO topic_quality_counts (topic_id, quality, article_count) "
        "SELECT topic_id, quality, count(*) FROM article_topics WHERE quality IS NOT NULL "
        "GROUP BY topic_id, quality"
    )
    connection.execute("COMMIT")


def verify(connection: sqlite3.Connection, articles: int) -> dict[str, int]:
    """Check that every kept count and copy is right; return the table sizes."""

    def scalar(sql: str) -> int:
        return int(connection.execute(sql).fetchone()[0])

    problems = {
        "articles": scalar("SELECT count(*) FROM articles") != articles,
        "topic counts": scalar(
            "SELECT count(*) FROM topics AS t WHERE article_count != "
            "(SELECT count(*) FROM article_topics WHERE topic_id = t.id)"
        ),
        "topic spellings": scalar(
            "SELECT count(*) FROM topics AS t WHERE article_count != "
            "(SELECT coalesce(sum(uses), 0) FROM topic_spellings WHERE topic_id = t.id)"
        ),
        "topic quality counts": scalar(
            "SELECT count(*) FROM (SELECT topic_id, quality, count(*) AS n FROM article_topics "
            "WHERE quality IS NOT NULL GROUP BY topic_id, quality) AS x "
            "LEFT JOIN topic_quality_counts AS c USING (topic_id, quality) "
            "WHERE c.article_count IS NOT x.n"
        ),
        "provider counts": scalar(
            "SELECT count(*) FROM providers AS p WHERE article_count != "
            "(SELECT count(*) FROM articles WHERE provider_id = p.id)"
        ),
        "topic row copies": scalar(
            "SELECT count(*) FROM article_topics AS x JOIN articles AS a ON a.id = x.article_id "
            "WHERE x.published_at != a.published_at OR x.quality IS NOT a.quality"
        ),
    }
    try:  # rank 1: compare the index with the content table, row by row
        connection.execute(
            "INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)"
        )
    except sqlite3.DatabaseError as exc:
        raise SystemExit(f"the full-text index does not match the articles: {exc}") from None
    bad = [name for name, count in problems.items() if count]
    if bad:
        raise SystemExit(f"the built database is inconsistent: {', '.join(bad)}")
    tables = ("articles", "article_topics", "topics", "topic_spellings", "providers", "related")
    return {table: scalar(f"SELECT count(*) FROM {table}") for table in tables}


# -- queries ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """One lookup as a command makes it: a kind, its text and options, and a label."""

    kind: str
    variant: str
    text: str = ""
    min_quality: int | None = None
    offset: int = 0


def _offset(rng: random.Random) -> int:
    """Return a page offset: mostly the first page, sometimes pages 2 to 5."""
    return 0 if rng.random() < 0.8 else PAGE * rng.randint(1, 4)


def _typed(rng: random.Random, name: str) -> str:
    """Return ``name`` as a person might type it."""
    return rng.choices((name, name.lower(), name.upper()), weights=(6, 3, 1))[0]


def _partial(rng: random.Random, names: Sequence[str]) -> tuple[str, str]:
    """Return (variant, text) of an autocomplete request: empty, a prefix or a substring."""
    roll = rng.random()
    name = rng.choice(names)
    if roll < 0.15:
        return "empty (menu opened)", ""
    if roll < 0.75:
        size = rng.randint(1, 3)
        return f"{size}-char prefix", _typed(rng, name[:size])
    if roll < 0.9 and len(name) > 4:
        start = rng.randrange(1, len(name) - 3)
        return "substring", name[start : start + rng.randint(3, 5)]
    return "whole name", _typed(rng, name)


class Workload:
    """The deterministic query mix of every kind, drawn from the database and the corpus."""

    def __init__(self, db: Path, corpus: Corpus) -> None:
        self.corpus = corpus
        self.rank = {word: rank for rank, word in enumerate(corpus.words, start=1)}
        connection = sqlite3.connect(db)
        self.topics = connection.execute(
            "SELECT name, article_count FROM topics WHERE article_count > 0"
        ).fetchall()
        self.providers = connection.execute(
            "SELECT name, domain, article_count FROM providers WHERE article_count > 0"
        ).fetchall()
        connection.close()
        self.topic_weights = list(itertools.accumulate(count for _, count in self.topics))
        self.provider_weights = list(itertools.accumulate(c for _, _, c in self.providers))

    def queries(self, kind: str, count: int, stream: str) -> list[Query]:
        """Return ``count`` queries of ``kind``; ``stream`` names an independent sequence."""
        rng = random.Random(f"queries:{self.corpus.seed}:{kind}:{stream}")
        make: Callable[[random.Random], Query] = {
            "topic": self._topic,
            "provider": self._provider,
            "search": self._search,
            "latest": self._latest,
            "topic autocomplete": self._topic_autocomplete,
            "provider autocomplete": self._provider_autocomplete,
        }[kind]
        return [make(rng) for _ in range(count)]

    def edge_cases(self) -> list[Query]:
        """Return queries that reach the store's rarer paths, for the SQL check only."""
        word, topic = self.corpus.words[0], self.topics[0][0]
        return [
            Query("topic", "past the last page", topic, 50, offset=10**7),  # total on its own
            Query("provider", "unknown", "no-such-provider.example"),  # no id, empty IN ()
            Query("search", "no article has every word", f"{word} qzxv"),  # any-word retry
            Query("search", "nothing matches", "qzxv"),
        ]

    def _topic(self, rng: random.Random) -> Query:
        # Mostly as used: a topic in proportion to its articles; a fifth uniformly.
        if rng.random() < 0.8:
            name, count = rng.choices(self.topics, cum_weights=self.topic_weights)[0]
        else:
            name, count = rng.choice(self.topics)
        size = "huge" if count >= 20_000 else "medium" if count >= 2_000 else "small"
        quality = rng.choice((30, 50, 60, 70, 80, 90)) if rng.random() < 0.35 else None
        offset = _offset(rng)
        variant = f"{size} topic, {'min_quality' if quality is not None else 'any quality'}"
        return Query("topic", variant, _typed(rng, name), quality, offset)

    def _provider(self, rng: random.Random) -> Query:
        if rng.random() < 0.8:
            name, domain, _ = rng.choices(self.providers, cum_weights=self.provider_weights)[0]
        else:
            name, domain, _ = rng.choice(self.providers)
        roll = rng.random()
        if roll < 0.45:
            return Query("provider", "by name", _typed(rng, name), offset=_offset(rng))
        if roll < 0.9:
            return Query("provider", "by domain", domain, offset=_offset(rng))
        return Query("provider", "by URL", f"https://www.{domain}/", offset=_offset(rng))

    def _search(self, rng: random.Random) -> Query:
        size = rng.choices((1, 2, 3), weights=(40, 40, 20))[0]
        words = self.corpus.draw(rng, size)
        commonest = min(self.rank[word] for word in words)
        band = "common" if commonest <= 100 else "mid" if commonest <= 2000 else "rare"
        typed = [w + "s" if rng.random() < 0.1 else _typed(rng, w) for w in words]
        return Query("search", f"{size} word{'s' * (size > 1)}, {band}", " ".join(typed),
                     offset=_offset(rng))  # fmt: skip

    def _latest(self, rng: random.Random) -> Query:
        offset = _offset(rng)
        variant = "first page" if offset == 0 else "pages 2-5"
        return Query("latest", variant, min_quality=LATEST_QUALITY, offset=offset)

    def _topic_autocomplete(self, rng: random.Random) -> Query:
        variant, text = _partial(rng, [name for name, _ in self.topics])
        return Query("topic autocomplete", variant, text)

    def _provider_autocomplete(self, rng: random.Random) -> Query:
        names = [name for name, domain, _ in self.providers] + [d for _, d, _ in self.providers]
        variant, text = _partial(rng, names)
        return Query("provider autocomplete", variant, text)


# -- the lookups, through the store and as bare SQL ---------------------------------------


def _page_outcome(page: ArticlePage) -> Outcome:
    return tuple(article.id for article in page.articles), page.total, page.total_exact


async def store_lookup(store: Store, query: Query) -> Outcome:
    """Make ``query``'s store calls exactly as the command does; return what was found."""
    if query.kind == "topic":
        if query.offset == 0:  # the command checks the topic; the page buttons do not
            await store.articles.topic(query.text)
        page = await store.articles.by_topic(
            query.text, min_quality=query.min_quality, limit=PAGE, offset=query.offset
        )
    elif query.kind == "provider":
        page = await store.articles.by_provider(query.text, limit=PAGE, offset=query.offset)
    elif query.kind == "search":
        page = await store.articles.search(query.text, limit=PAGE, offset=query.offset)
    elif query.kind == "latest":
        page = await store.articles.latest(
            min_quality=query.min_quality, limit=PAGE, offset=query.offset
        )
    elif query.kind == "topic autocomplete":
        topics = await store.articles.suggest_topics(query.text[:100])
        return tuple((t.name, t.count) for t in topics), len(topics), True
    else:
        providers = await store.articles.suggest_providers(query.text[:100])
        return tuple((p.name, p.domain, p.count) for p in providers), len(providers), True
    return _page_outcome(page)


def _marks(count: int) -> str:
    return ",".join("?" * count)


class Bare:
    """The store's SQL, statement for statement, on a plain ``sqlite3`` connection.

    Every statement and parameter is a copy of what ``bot/store/sqlite/`` runs for the
    same call (``check_same_sql`` compares the two, expanded, statement by statement; the
    one-statement page template ``ARTICLES_IN_ORDER`` is the store's own string), so the
    difference in time is the store layer: aiosqlite's thread hop, ``sqlite3.Row`` and the
    typed records (with the JSON they parse).
    """

    def __init__(self, db: Path) -> None:
        self.connection = sqlite3.connect(db)
        self.steps: dict[str, float] = {}  # seconds per statement of the last lookup
        self.statements: list[tuple[str, list[Any]]] = []  # of the last lookup

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()

    def _rows(self, step: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Run one statement and fetch all its rows, as ``Database.rows`` does."""
        started = time.perf_counter()
        rows = self.connection.execute(sql, params).fetchall()
        self.steps[step] = self.steps.get(step, 0.0) + time.perf_counter() - started
        self.statements.append((sql, list(params)))
        return rows

    def _scalar(self, step: str, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._rows(step, sql, params)
        return rows[0][0] if rows else None

    def lookup(self, query: Query) -> Outcome:
        """Run ``query``'s statements; return what was found."""
        self.steps, self.statements = {}, []
        if query.kind == "topic":
            key = topic_key(query.text)
            if query.offset == 0:
                self._rows(
                    "topic",
                    "SELECT name, article_count FROM topics WHERE key = ? AND article_count > 0",
                    [key],
                )
            where = "topic_id = (SELECT id FROM topics WHERE key = ?)"
            total = "SELECT coalesce(sum(article_count), 0) FROM topics WHERE key = ?"
            params: list[Any] = [key]
            if query.min_quality is not None:
                where += " AND quality >= ?"
                params.append(query.min_quality)
                total = (
                    "SELECT coalesce(sum(article_count), 0) FROM topic_quality_counts "
                    f"WHERE {where}"
                )
            ids_sql = (
                f"SELECT article_id FROM article_topics WHERE {where} "
                "ORDER BY published_at DESC, article_id DESC"
            )
            return self._page(ids_sql, total, params, query.offset)
        if query.kind == "provider":
            text = query.text.strip()
            domain = url_host(text) if is_web_url(text) else text.lower().removeprefix("www.")
            ids = self._rows(
                "provider ids",
                "SELECT id FROM providers WHERE (domain = ? OR name = ? COLLATE NOCASE) "
                "AND article_count > 0",
                [domain, text],
            )
            if not ids:  # no provider of that name: no page to read
                return (), 0, True
            marks = _marks(len(ids))
            return self._page(
                f"SELECT id FROM articles WHERE provider_id IN ({marks}) "
                "ORDER BY published_at DESC, id DESC",
                f"SELECT coalesce(sum(article_count), 0) FROM providers WHERE id IN ({marks})",
                [row[0] for row in ids],
                query.offset,
            )
        if query.kind == "search":
            terms = search_terms(query.text)
            if not terms:
                return (), 0, True
            common = self._common_words(terms)
            words = [term for term in terms if term not in common] or terms
            newest_first = len(common) == len(terms)
            found = self._search(match_expression(words), query.offset, newest_first)
            if found[1] == 0 and len(terms) > 1:
                found = self._search(match_expression(terms, any_term=True), query.offset)
            return found
        if query.kind == "latest":
            assert query.min_quality is not None  # /news latest always has its threshold
            return self._page(
                "SELECT id FROM articles WHERE quality >= ? ORDER BY published_at DESC, id DESC",
                "SELECT coalesce(sum(article_count), 0) FROM quality_counts WHERE quality >= ?",
                [query.min_quality],
                query.offset,
            )
        if query.kind == "topic autocomplete":
            key = topic_key(query.text[:100])
            rows = self._rows(
                "suggest",
                "SELECT name, article_count FROM topics "
                "WHERE article_count > 0 AND instr(key, ?) > 0 "
                "ORDER BY instr(key, ?) != 1, article_count DESC, key LIMIT ?",
                [key, key, MAX_SUGGESTIONS],
            )
            return tuple((row[0], row[1]) for row in rows), len(rows), True
        needle = " ".join(query.text[:100].split()).lower()
        rows = self._rows(
            "suggest",
            "SELECT name, domain, article_count FROM providers "
            "WHERE article_count > 0 AND (instr(lower(name), ?) > 0 OR instr(domain, ?) > 0) "
            "ORDER BY (instr(lower(name), ?) != 1 AND instr(domain, ?) != 1), "
            "article_count DESC, name COLLATE NOCASE LIMIT ?",
            [needle, needle, needle, needle, MAX_SUGGESTIONS],
        )
        return tuple((row[0], row[1], row[2]) for row in rows), len(rows), True

    def _page(self, ids_sql: str, total_sql: str, params: list[Any], offset: int) -> Outcome:
        """One page with its total in one statement, as ``SqliteArticles._page``."""
        page = f"SELECT *, row_number() OVER () FROM ({ids_sql} LIMIT ? OFFSET ?)"
        rows = self._rows(
            "page",
            ARTICLES_IN_ORDER.format(page=page, total=total_sql),
            [*params, PAGE, offset, *params],
        )
        total = rows[0][-1] if rows else self._scalar("total", total_sql, params)
        return tuple(row[0] for row in rows), int(total), True

    def _common_words(self, terms: list[str]) -> set[str]:
        newest = self._scalar("newest", "SELECT max(id) FROM articles") or 0
        common = set()
        for term in terms:
            share = self._scalar(
                "common word",
                "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ? AND rowid > ?",
                [match_expression([term]), newest - COMMON_SAMPLE],
            )
            if share * 2 > COMMON_SAMPLE:
                common.add(term)
        return common

    def _search(self, expression: str, offset: int, newest_first: bool = False) -> Outcome:
        total = self._scalar(
            "count",
            "SELECT count(*) FROM (SELECT 1 FROM articles_fts WHERE articles_fts MATCH ? LIMIT ?)",
            [expression, SEARCH_CAP + 1],
        )
        oldest = 0
        if total > SEARCH_CAP:
            oldest = self._scalar(
                "oldest",
                "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? "
                "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                [expression, SEARCH_CAP - 1],
            )
        order = "rowid DESC" if newest_first else "bm25(articles_fts, 4.0, 1.0)"
        ranked = self._rows(
            "rank",
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? AND rowid >= ? "
            f"ORDER BY {order} LIMIT ? OFFSET ?",
            [expression, oldest, PAGE, offset],
        )
        rows = []
        if ranked:
            rows = self._rows(
                "articles",
                ARTICLES_IN_ORDER.format(page="SELECT value, key FROM json_each(?)", total="NULL"),
                [json.dumps([row[0] for row in ranked])],
            )
        ids = tuple(row[0] for row in rows)
        return (ids, SEARCH_CAP, False) if total > SEARCH_CAP else (ids, total, True)

    def plan(self, sql: str, params: Sequence[Any]) -> list[str]:
        """Return the EXPLAIN QUERY PLAN of one statement as indented lines."""
        depth: dict[int, int] = {0: -1}
        lines = []
        for node, parent, _, detail in self.connection.execute(f"EXPLAIN QUERY PLAN {sql}", params):
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return lines


async def check_same_sql(store: Store, bare: Bare, queries: Iterable[Query]) -> list[str]:
    """Run ``queries`` both ways with statement tracing; return every difference found."""
    traced: dict[str, list[str]] = {"store": [], "bare": []}
    assert isinstance(store, SqliteStore), "the bare statements are SQLite's"
    # The store keeps its aiosqlite connection private; a benchmark may peek.
    reader = store.database._reader  # lookups only read
    await reader.set_trace_callback(traced["store"].append)
    bare.connection.set_trace_callback(traced["bare"].append)
    problems = []
    checked = 0
    try:
        for query in queries:
            traced["store"].clear()
            traced["bare"].clear()
            found = await store_lookup(store, query)
            expected = bare.lookup(query)
            checked += 1
            if traced["store"] != traced["bare"]:
                problems.append(f"{query}: the store ran {traced['store']}, bare {traced['bare']}")
            elif found != expected:
                problems.append(f"{query}: the store found {found}, bare {expected}")
    finally:
        await reader.set_trace_callback(None)  # type: ignore[arg-type]  # sqlite3 takes None
        bare.connection.set_trace_callback(None)
    return problems if checked else ["nothing checked"]


# -- measuring ----------------------------------------------------------------------------


@dataclass(slots=True)
class Sample:
    """One query's times both ways, the bare statements' times, and the result size."""

    query: Query
    store: float
    bare: float
    steps: dict[str, float]
    total: int


async def measure(store: Store, bare: Bare, queries: Sequence[Query]) -> list[Sample]:
    """Time every query through the store and bare, alternating which goes first."""
    samples = []
    for index, query in enumerate(queries):
        if index % 2:
            bare_seconds, expected = _time_bare(bare, query)
            store_seconds, found = await _time_store(store, query)
        else:
            store_seconds, found = await _time_store(store, query)
            bare_seconds, expected = _time_bare(bare, query)
        if found != expected:
            raise SystemExit(f"store and bare SQL disagree on {query}: {found} != {expected}")
        samples.append(Sample(query, store_seconds, bare_seconds, bare.steps, expected[1]))
    return samples


async def _time_store(store: Store, query: Query) -> tuple[float, Outcome]:
    started = time.perf_counter()
    found = await store_lookup(store, query)
    return time.perf_counter() - started, found


def _time_bare(bare: Bare, query: Query) -> tuple[float, Outcome]:
    started = time.perf_counter()
    found = bare.lookup(query)
    return time.perf_counter() - started, found


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def spread(seconds: Sequence[float]) -> dict[str, float]:
    """Return p50, p99 and max of ``seconds``, in milliseconds."""
    return {
        "p50": round(percentile(seconds, 0.5) * 1000, 3),
        "p99": round(percentile(seconds, 0.99) * 1000, 3),
        "max": round(max(seconds) * 1000, 3),
    }


def _size_band(total: int) -> str:
    for bound, label in ((100_000, ">=100k"), (10_000, "10k-100k"), (1_000, "1k-10k")):
        if total >= bound:
            return f"{label} results"
    return "<1k results"


def slowest_sample(samples: Sequence[Sample]) -> Sample:
    """Return the sample whose bare SQL took longest."""
    return max(samples, key=lambda s: s.bare)


def sqlite_plans(bare: Bare, query: Query) -> list[dict[str, Any]]:
    """Return each statement of ``query`` with its SQLite query plan."""
    bare.lookup(query)
    return [
        {"sql": sql, "params": [str(p) for p in params], "plan": bare.plan(sql, params)}
        for sql, params in bare.statements
    ]


def summarise(kind: str, samples: list[Sample], plans: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a kind's figures, verdicts, breakdowns and ``plans`` of its slowest query."""
    store_ms, bare_ms = spread([s.store for s in samples]), spread([s.bare for s in samples])
    target = P99_TARGET_MS.get(kind, DEFAULT_P99_MS)
    ratio = store_ms["p99"] / bare_ms["p99"] if bare_ms["p99"] else math.inf

    def breakdown(label: Callable[[Sample], str]) -> list[dict[str, Any]]:
        groups: dict[str, list[Sample]] = {}
        for sample in samples:
            groups.setdefault(label(sample), []).append(sample)
        return [
            {"group": name, "queries": len(group), "store": spread([s.store for s in group]),
             "bare": spread([s.bare for s in group])}
            for name, group in sorted(groups.items())
        ]  # fmt: skip

    steps: dict[str, list[float]] = {}
    for sample in samples:
        for step, seconds in sample.steps.items():
            steps.setdefault(step, []).append(seconds)
    slowest = slowest_sample(samples)
    return {
        "kind": kind,
        "queries": len(samples),
        "store_ms": store_ms,
        "bare_ms": bare_ms,
        "p99_ratio": round(ratio, 2),
        "p50_ratio": round(store_ms["p50"] / bare_ms["p50"], 2) if bare_ms["p50"] else math.inf,
        "p99_target_ms": target,
        "p99_met": store_ms["p99"] < target,
        "ratio_met": ratio <= RATIO_TARGET,
        "by_variant": breakdown(lambda s: s.query.variant),
        "by_result_size": breakdown(lambda s: _size_band(s.total)),
        "bare_steps_ms": {step: spread(values) for step, values in steps.items()},
        "slowest": {
            "query": asdict(slowest.query),
            "store_ms": round(slowest.store * 1000, 3),
            "bare_ms": round(slowest.bare * 1000, 3),
            "steps_ms": {k: round(v * 1000, 3) for k, v in slowest.steps.items()},
            "total": slowest.total,
            "plans": plans,
        },
    }


async def lookups(db: Path, workload: Workload, count: int) -> tuple[list[dict[str, Any]], int]:
    """Check the bare SQL against the store, then measure every kind; return the summaries."""
    store = await open_store(db)
    bare = Bare(db)
    try:
        checks = [q for kind in KINDS for q in workload.queries(kind, 25, "check")]
        checks += workload.edge_cases()
        problems = await check_same_sql(store, bare, checks)
        if problems:
            raise SystemExit("the bare SQL is no copy of the store's:\n" + "\n".join(problems))
        summaries = []
        for kind in KINDS:
            print(f"measuring {kind}...", file=sys.stderr, flush=True)
            await measure(store, bare, workload.queries(kind, max(20, count // 5), "warm-up"))
            samples = await measure(store, bare, workload.queries(kind, count, "measured"))
            plans = sqlite_plans(bare, slowest_sample(samples).query)
            summaries.append(summarise(kind, samples, plans))
    finally:
        bare.close()
        await store.close()
    return summaries, len(checks)


# -- the same lookups on PostgreSQL ----------------------------------------------------------

PG_GENERATOR = 1  # bump when the way the PostgreSQL copy is made changes


def pg_database_name(articles: int, seed: int) -> str:
    """Return the name of the PostgreSQL copy of the SQLite benchmark database."""
    return f"newsbot_bench_lookups_{articles}_s{seed}"


async def pg_build(server: Any, db: Path, record: dict[str, Any], name: str) -> dict[str, Any]:
    """Return the build record of the PostgreSQL copy of ``db``, copying it first if needed.

    The copy is ``newsbot copy``'s (``copy_database``: every base table in one transaction,
    the target rebuilding its counts and full-text column), then ``VACUUM ANALYZE`` so the
    planner has statistics and index-only scans a visibility map. A complete copy's record
    is kept as the database's comment, so a later run reuses it.
    """
    import asyncpg
    import pgserver

    from bot.store.copy import copy_database
    from bot.store.target import SqliteTarget, parse_postgres_url

    wanted = {"articles": record["articles"], "seed": record["seed"],
              "generator": PG_GENERATOR, "sqlite_built_at": record["built_at"]}  # fmt: skip
    comment = await pgserver.database_comment(server, name)
    try:
        found = json.loads(comment) if comment else {}
    except ValueError:
        found = {}
    if all(found.get(key) == value for key, value in wanted.items()):
        return {**found, "built_now": False}
    url = await pgserver.fresh_database(server, name)
    started = time.perf_counter()

    def progress(table: str, rows: int) -> None:
        if rows % 100_000 == 0:
            print(f"\rcopying into PostgreSQL: {table} {rows:,}   ", end="", file=sys.stderr,
                  flush=True)  # fmt: skip

    report = await copy_database(SqliteTarget(db), parse_postgres_url(url), progress)
    print(file=sys.stderr)
    copied = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("VACUUM ANALYZE")
        result = {**wanted, "copy_seconds": round(copied - started, 1),
                  "vacuum_analyze_seconds": round(time.perf_counter() - copied, 1),
                  "tables": report.tables, "built_at": format_time(datetime.now(UTC))}  # fmt: skip
        text = json.dumps(result).replace("'", "''")
        await connection.execute(f"COMMENT ON DATABASE \"{name}\" IS '{text}'")
    finally:
        await connection.close()
    return {**result, "built_now": True}


# SQL as sent, parameters, rows, the planner settings it was sent with
Statement = tuple[str, list[Any], list[tuple[Any, ...]], dict[str, str] | None]


class Recorder:
    """Records every statement a PostgreSQL store runs, with its parameters and rows.

    Every read of ``bot/store/postgres`` goes through ``Database.rows`` (``first`` and
    ``scalar`` call it); the recorder stands in for it on one store object.
    """

    def __init__(self, store: Any) -> None:
        from bot.store.postgres.database import numbered

        self._numbered = numbered
        self._database = store.database
        self._rows = store.database.rows
        self.statements: list[Statement] | None = None
        store.database.rows = self.rows

    async def rows(
        self, sql: str, params: Sequence[Any] = (), *, planner: dict[str, str] | None = None
    ) -> list[Any]:
        """Run the store's read, and remember it while recording."""
        found = await self._rows(sql, params, planner=planner)
        if self.statements is not None:
            rows = [tuple(r) for r in found]
            self.statements.append((self._numbered(sql), list(params), rows, planner))
        return found

    async def record(self, store: Store, query: Query) -> tuple[Outcome, list[Statement]]:
        """Run ``query`` through the store; return what it found and the statements it ran."""
        self.statements = []
        try:
            return await store_lookup(store, query), self.statements
        finally:
            self.statements = None


class PgBare:
    """The store's statements for a query, replayed as they were sent on a plain asyncpg
    connection: the same SQL, parameters and prepared-statement cache, without the pool,
    the store's error handling and the typed records."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.steps: dict[str, float] = {}

    async def replay(self, statements: Sequence[Statement]) -> list[list[tuple[Any, ...]]]:
        """Run ``statements``; return each one's rows."""
        self.steps = {}
        found = []
        for number, (sql, params, _, planner) in enumerate(statements, start=1):
            started = time.perf_counter()
            rows = await fetch_planned(self.connection, sql, params, planner)
            self.steps[_step_name(number, sql)] = time.perf_counter() - started
            found.append(rows)
        return [[tuple(row) for row in rows] for rows in found]

    async def plans(self, statements: Sequence[Statement]) -> list[dict[str, Any]]:
        """Return each statement with its plan, as ``EXPLAIN (ANALYZE, BUFFERS)`` shows it."""
        return [
            {"sql": sql, "params": [str(p) for p in params], "planner": planner,
             "plan": [row[0] for row in await fetch_planned(
                 self.connection, f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params, planner)]}
            for sql, params, _, planner in statements
        ]  # fmt: skip


def _step_name(number: int, sql: str) -> str:
    """Name a statement by its place and first words, for the per-statement breakdown."""
    words = " ".join(sql.split()[:4])
    return f"{number}. {words[:40]}"


async def round_trips(store: Any, connection: Any, count: int = 500) -> dict[str, Any]:
    """Time ``SELECT 1`` through the store's pool and on the bare connection, alternating.

    What a statement costs the store beyond its SQL: the pool's acquire and release (asyncpg
    resets a connection it takes back, with a statement of its own) and the store's
    error handling.
    """
    pooled, bare = [], []
    for _ in range(count):
        started = time.perf_counter()
        await store.database.scalar("SELECT 1")
        pooled.append(time.perf_counter() - started)
        started = time.perf_counter()
        await connection.fetchval("SELECT 1")
        bare.append(time.perf_counter() - started)
    return {"store_ms": spread(pooled), "bare_ms": spread(bare)}


async def pg_lookups(url: str, workload: Workload, count: int) -> tuple[list[dict[str, Any]], int]:
    """Measure every kind through the PostgreSQL store and bare; return the summaries.

    Each query first runs through the store with its statements recorded (this is the
    warm-up too), and the bare replay must return the very rows the store read. Then the
    store and the bare replay are timed, alternating which goes first.
    """
    import asyncpg

    store = await open_store(url)
    recorder = Recorder(store)
    connection = await asyncpg.connect(url, server_settings=POOL_SETTINGS)  # planned as the store
    bare = PgBare(connection)
    try:
        checks = [q for kind in KINDS for q in workload.queries(kind, 25, "check")]
        checks += workload.edge_cases()
        problems = []
        for query in checks:
            _, statements = await recorder.record(store, query)
            if await bare.replay(statements) != [rows for _, _, rows, _ in statements]:
                problems.append(f"{query}: the bare replay read other rows than the store")
        if problems:
            raise SystemExit("\n".join(problems))
        summaries: list[dict[str, Any]] = [{"select_1": await round_trips(store, connection)}]
        for kind in KINDS:
            print(f"measuring {kind} on PostgreSQL...", file=sys.stderr, flush=True)
            queries = workload.queries(kind, count, "measured")
            recorded = []
            for query in workload.queries(kind, max(20, count // 5), "warm-up") + queries:
                recorded.append(await recorder.record(store, query))
            recorded = recorded[-len(queries) :]
            samples = []
            for index, (query, (outcome, statements)) in enumerate(
                zip(queries, recorded, strict=True)
            ):
                expected = [rows for _, _, rows, _ in statements]
                if index % 2:
                    bare_seconds, replayed = await _time_replay(bare, statements)
                    store_seconds, found = await _time_store(store, query)
                else:
                    store_seconds, found = await _time_store(store, query)
                    bare_seconds, replayed = await _time_replay(bare, statements)
                if found != outcome or replayed != expected:
                    raise SystemExit(f"a PostgreSQL lookup changed between runs: {query}")
                samples.append(Sample(query, store_seconds, bare_seconds, bare.steps, outcome[1]))
            slowest = slowest_sample(samples)
            _, statements = recorded[samples.index(slowest)]
            summaries.append(summarise(kind, samples, await bare.plans(statements)))
    finally:
        await connection.close()
        await store.close()
    return summaries, len(checks)


async def _time_replay(
    bare: PgBare, statements: Sequence[Statement]
) -> tuple[float, list[list[tuple[Any, ...]]]]:
    started = time.perf_counter()
    found = await bare.replay(statements)
    return time.perf_counter() - started, found


def postgres_part(
    db: Path, record: dict[str, Any], workload: Workload, count: int
) -> dict[str, Any]:
    """Copy (or reuse) the database on a PostgreSQL server, measure; return the figures."""
    import pgserver

    name = pg_database_name(record["articles"], record["seed"])
    with pgserver.server() as server:
        built = pgserver.run(pg_build(server, db, record, name))
        summaries, checked = pgserver.run(pg_lookups(server.url(name), workload, count))
        return {
            "server": pgserver.run(pgserver.settings(server)),
            "database": {
                "name": name,
                "bytes": pgserver.run(pgserver.database_bytes(server, name)),
                "build": built,
            },
            "checked": checked,
            "select_1": summaries[0]["select_1"],
            "lookups": summaries[1:],
        }


# -- peak memory of newsbot run -----------------------------------------------------------


def _status_kib(pid: int, field_name: str) -> int:
    """Return a ``/proc/PID/status`` memory field (VmHWM, VmRSS) in KiB."""
    text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    found = re.search(rf"^{field_name}:\s*(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def interactions(workload: Workload) -> list[tuple[str, str, dict[str, Any]]]:
    """Return ~50 (kind, subcommand, options) interactions drawn from the query mix."""
    plan: list[tuple[str, str, dict[str, Any]]] = []
    for q in workload.queries("topic", 12, "memory"):
        options = {"topic": q.text} | ({"min_quality": q.min_quality} if q.min_quality else {})
        plan.append(("command", "topic", options))
    plan += [("command", "provider", {"provider": q.text})
             for q in workload.queries("provider", 6, "memory")]  # fmt: skip
    plan += [("command", "search", {"query": q.text})
             for q in workload.queries("search", 10, "memory")]  # fmt: skip
    plan += [("command", "latest", {})] * 6
    plan += [("autocomplete", "topic", {"topic": q.text})
             for q in workload.queries("topic autocomplete", 10, "memory")]  # fmt: skip
    plan += [("autocomplete", "provider", {"provider": q.text})
             for q in workload.queries("provider autocomplete", 6, "memory")]  # fmt: skip
    random.Random(workload.corpus.seed).shuffle(plan)
    return plan


async def memory_run(
    db: Path, data_dir: Path, plan: list[tuple[str, str, dict[str, Any]]]
) -> dict[str, Any]:
    """Run ``newsbot run`` on ``db`` against the fake Discord, send ``plan``, read its peak RSS."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.fake_discord import FakeDiscord

    # A fresh deployment: the bot syncs its commands, so the fake knows their options.
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM state WHERE key LIKE 'command-sync:%'")
    connection.close()
    async with FakeDiscord(interaction_ack_deadline=None, default_timeout=300) as fake:
        guild = fake.add_guild("bench")
        channel = fake.add_text_channel(guild, "news")
        member = fake.add_user("bench-member")
        fake.add_member(guild, member)
        with tempfile.TemporaryDirectory(prefix="newsbot-bench-") as work:
            log_path = Path(work) / "bot.log"
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "PYTHONPATH": str(ROOT),
                "NEWSBOT_DB": str(db),
                "NEWSBOT_DATA_DIR": str(data_dir),
                "DISCORD_TOKEN": fake.token,
                **fake.env(),
            }
            started = time.perf_counter()
            with log_path.open("wb") as log:
                process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", "run", cwd=work, env=env,
                    stdout=asyncio.subprocess.DEVNULL, stderr=log,
                )  # fmt: skip
            try:
                ready = asyncio.gather(
                    fake.wait_for_request("PUT", "/applications/{application_id}/commands"),
                    fake.wait_for_shards(1),
                )
                exited = asyncio.ensure_future(process.wait())
                either: set[asyncio.Future[Any]] = {ready, exited}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                if not ready.done():
                    ready.cancel()
                    raise SystemExit(
                        f"newsbot run exited ({process.returncode}) before it was ready:\n"
                        + log_path.read_text(errors="replace")[-3000:]
                    )
                ready.result()
                startup = time.perf_counter() - started
                ready_kib = _status_kib(process.pid, "VmHWM")
                latencies, refusals = [], []
                for kind, subcommand, options in plan:
                    sent = time.perf_counter()
                    if kind == "command":
                        handle = await fake.send_command(
                            guild, channel, member, "news", subcommand=subcommand, options=options
                        )
                        answer = await handle.response()
                        if answer.ephemeral:
                            refusals.append(f"/news {subcommand} {options}: {answer.content}")
                    else:
                        await fake.send_autocomplete(
                            guild, channel, member, "news", subcommand=subcommand,
                            focused=subcommand, options=options,
                        )  # fmt: skip
                    latencies.append(time.perf_counter() - sent)
                peak_kib = _status_kib(process.pid, "VmHWM")
                rss_kib = _status_kib(process.pid, "VmRSS")
            finally:
                await stop_process(process)
            log_text = log_path.read_text(errors="replace")
    return {
        "data_dir": "empty directory" if data_dir.is_dir() else "missing (no load)",
        "startup_seconds": round(startup, 2),
        "peak_mb_at_ready": round(ready_kib * 1024 / 1e6, 1),
        "peak_mb": round(peak_kib * 1024 / 1e6, 1),
        "rss_mb_at_end": round(rss_kib * 1024 / 1e6, 1),
        "interactions": len(plan),
        "latency_ms": spread(latencies),
        "over_3s": sum(seconds > 3 for seconds in latencies),
        "refusals": refusals,
        "exit_status": process.returncode,
        "tracebacks": log_text.count("Traceback"),
        "met": peak_kib * 1024 / 1e6 < MEMORY_TARGET_MB,
    }


# -- report -------------------------------------------------------------------------------


def _verdict(met: bool) -> str:
    return "PASS" if met else "FAIL"


def print_report(figures: dict[str, Any]) -> None:
    """Print the machine, the database, the lookup table, the breakdowns and the targets."""
    info, database = figures["machine"], figures["database"]
    print(f"date:     {info['date']}")
    print(
        f"machine:  {info['cpu']}, {info['cores_allowed']}/{info['cores']} cores, "
        f"{info['ram_gib']} GiB RAM, load {info['load_average']}, {info['platform']}"
    )
    print(f"          Python {info['python']}, SQLite {info['sqlite']}")
    built = database["build"]
    print(
        f"database: {database['path']} ({database['bytes'] / 2**30:.2f} GiB), "
        f"{built['articles']:,} articles, seed {built['seed']}, "
        f"{'built now' if database['built_now'] else 'reused; built ' + built['built_at']} "
        f"in {built['build_seconds']:,.0f} s ({built['generate_seconds']:,.0f} s generating "
        f"rows), checked in {built['verify_seconds']:,.0f} s"
    )
    print("          " + ", ".join(f"{t} {n:,}" for t, n in built["counts"].items()))
    print(
        f"queries:  {figures['queries']} per kind after a warm-up; bare SQL identical to the "
        f"store's on {figures['checked']} traced queries\n"
    )
    if figures["lookups"]:
        print_lookups(figures["lookups"])
    for run in figures["memory"]:
        print(
            f"\nnewsbot run, data dir {run['data_dir']}: peak RSS {run['peak_mb']:.1f} MB "
            f"({run['peak_mb_at_ready']:.1f} MB when ready after {run['startup_seconds']:.1f} s), "
            f"{run['interactions']} interactions: p50 {run['latency_ms']['p50']:.0f} ms, "
            f"max {run['latency_ms']['max']:.0f} ms, {run['over_3s']} over 3 s; "
            f"exit {run['exit_status']}, {run['tracebacks']} tracebacks, "
            f"{len(run['refusals'])} refusals  -> <{MEMORY_TARGET_MB:.0f} MB "
            f"{_verdict(run['met'])}"
        )
        for refusal in run["refusals"]:
            print(f"    refused: {refusal}")
    if figures["lookups"]:
        print_details(figures["lookups"])
    if figures.get("postgres"):
        print_postgres(figures["postgres"])


def print_lookups(lookups: list[dict[str, Any]]) -> None:
    """Print the table of every kind's store and bare times, ratios and verdicts."""
    head = f"{'lookup (ms)':<23}{'store p50':>10}{'p99':>8}{'max':>8}  {'bare p50':>9}{'p99':>8}"
    print(f"{head}{'max':>8}  {'p50 ratio':>9}{'p99 ratio':>10}  {'p99 target':>10}  {'ratio':>5}")
    for kind in lookups:
        s, b = kind["store_ms"], kind["bare_ms"]
        target = f"<{kind['p99_target_ms']:.0f} {_verdict(kind['p99_met'])}"
        print(
            f"{kind['kind']:<23}{s['p50']:>10.2f}{s['p99']:>8.2f}{s['max']:>8.2f}  "
            f"{b['p50']:>9.2f}{b['p99']:>8.2f}{b['max']:>8.2f}  "
            f"{kind['p50_ratio']:>9.2f}{kind['p99_ratio']:>10.2f}  {target:>10}  "
            f"{_verdict(kind['ratio_met']):>5}"
        )


def print_details(lookups: list[dict[str, Any]]) -> None:
    """Print each kind's breakdowns, and the plans of the slowest query of a missed target."""
    print("\nbreakdowns (store p50/p99, bare p50/p99, ms):")
    for kind in lookups:
        print(f"  {kind['kind']}:")
        for group in kind["by_variant"] + kind["by_result_size"]:
            s, b = group["store"], group["bare"]
            print(
                f"    {group['group']:<32}{group['queries']:>5}  {s['p50']:>8.2f}{s['p99']:>9.2f}"
                f"  {b['p50']:>8.2f}{b['p99']:>9.2f}"
            )
        steps = ", ".join(
            f"{k} {v['p50']:.2f}/{v['p99']:.2f}" for k, v in kind["bare_steps_ms"].items()
        )
        print(f"    bare statements p50/p99: {steps}")
    for kind in lookups:
        if kind["p99_met"] and kind["ratio_met"]:
            continue
        slowest = kind["slowest"]
        print(
            f"\nslowest {kind['kind']} query: {slowest['query']} -> {slowest['total']:,} results, "
            f"store {slowest['store_ms']:.1f} ms, bare {slowest['bare_ms']:.1f} ms, "
            f"statements {slowest['steps_ms']}"
        )
        for statement in slowest["plans"]:
            print(f"  {statement['sql']}  {statement['params']}")
            for line in statement["plan"]:
                print(f"      {line}")


def print_postgres(part: dict[str, Any]) -> None:
    """Print the PostgreSQL server, its copy of the database, and the same tables."""
    server, database = part["server"], part["database"]
    built = database["build"]
    made = "made now" if built["built_now"] else f"reused; made {built['built_at']}"
    print(
        f"\n== PostgreSQL {server['server_version']} ({server['where']}; shared_buffers "
        f"{server['shared_buffers']}, work_mem {server['work_mem']}, fsync {server['fsync']})"
    )
    print(
        f"database: {database['name']} ({database['bytes'] / 2**30:.2f} GiB), a newsbot copy "
        f"of the SQLite one, {made}"
        f" in {built['copy_seconds']:,.0f} s, VACUUM ANALYZE "
        f"{built['vacuum_analyze_seconds']:,.0f} s"
    )
    print(
        f"queries:  the store's statements replayed bare on asyncpg, the same rows read on "
        f"{part['checked']} checked queries\n"
    )
    print_lookups(part["lookups"])
    one = part["select_1"]
    print(
        f"\nSELECT 1 through the store's pool: p50 {one['store_ms']['p50']:.2f} ms, p99 "
        f"{one['store_ms']['p99']:.2f} ms; bare: p50 {one['bare_ms']['p50']:.2f} ms, p99 "
        f"{one['bare_ms']['p99']:.2f} ms"
    )
    print_details(part["lookups"])


def main() -> int:
    """Build or reuse the database, measure, print the report; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=1_000_000, help="(%(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="data and query seed (%(default)s)")
    parser.add_argument("--db", type=Path, help="database (default: bench/out/lookups-N-sS.db)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if complete")
    parser.add_argument("--queries", type=int, default=300, help="per kind (%(default)s)")
    parser.add_argument("--no-memory", action="store_true", help="skip the newsbot run part")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--backend", choices=("sqlite", "postgres", "both"), default="both",
        help="which stores to measure (%(default)s); PostgreSQL's server: NEWSBOT_BENCH_POSTGRES "
        "(a superuser's URL) or a throwaway one",
    )  # fmt: skip
    args = parser.parse_args()
    db = (args.db or OUT / f"lookups-{args.articles}-s{args.seed}.db").resolve()
    corpus = Corpus(args.seed)
    record = None if args.rebuild else cached_build(db, args.articles, args.seed)
    built_now = record is None
    if record is None:
        record = build(db, corpus, args.articles)
    workload = Workload(db, corpus)
    summaries, checked = [], 0
    if args.backend != "postgres":
        summaries, checked = asyncio.run(lookups(db, workload, args.queries))
    postgres = None
    if args.backend != "sqlite":
        postgres = postgres_part(db, record, workload, args.queries)
    memory = []
    if not args.no_memory and args.backend != "postgres":
        plan = interactions(workload)
        with tempfile.TemporaryDirectory(prefix="newsbot-empty-") as empty:
            for data_dir in (Path(empty), Path(empty) / "missing"):
                print(f"newsbot run, data dir {data_dir}...", file=sys.stderr, flush=True)
                memory.append(asyncio.run(memory_run(db, data_dir, plan)))
    figures = {
        "machine": describe(),
        "database": {"path": str(db), "bytes": db.stat().st_size, "built_now": built_now,
                     "build": record},
        "queries": args.queries,
        "checked": checked,
        "lookups": summaries,
        "memory": memory,
        "postgres": postgres,
    }  # fmt: skip
    print_report(figures)
    if args.json:
        print(json.dumps(figures, indent=2))
    met = [k["p99_met"] and k["ratio_met"] for k in summaries] + [m["met"] for m in memory[:1]]
    met += [k["p99_met"] and k["ratio_met"] for k in (postgres or {}).get("lookups", [])]
    return 0 if all(met) else 1


if __name__ == "__main__":
    raise SystemExit(main())
