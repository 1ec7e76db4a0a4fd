"""Upgrading a database made before subscription options: what was due stays due, once.

The database is made by the migrations of the earlier version, filled with rows as that
version wrote them, then opened by this newsbot, which migrates it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.posting import Poster
from bot.store import Store, open_store
from bot.store.postgres.connection import connect
from bot.store.postgres.schema import MIGRATIONS as POSTGRES_MIGRATIONS
from bot.store.postgres.schema import VERSION_TABLE
from bot.store.sqlite.database import MIGRATIONS as SQLITE_MIGRATIONS
from bot.store.target import parse_postgres_url
from bot.subscriptions import SubscriptionOptions
from tests.backends import BACKENDS
from tests.postgres import Server, create_database, database_name, drop_database
from tests.test_posting import MemorySender

SQLITE_BEFORE = 5  # 0006_rules.sql came with subscription options
POSTGRES_BEFORE = 1  # 0002_rules.sql


def _time(day: int) -> str:
    return f"2026-11-{day:02d}T00:00:00.000000Z"


def _article(number: int, title: str, quality: int, loaded_day: int) -> str:
    return (
        f"({number}, 'https://news.example.com/{number}', '{title}', '{_time(1)}', {quality}, "
        f"FALSE, 1, '{_time(loaded_day)}', '{_time(loaded_day)}')"
    )


# Rows as the earlier version stored them: one subscription (made on day 2) and four
# articles on its topic: one loaded before it, one delivered, one due, one under its minimum.
EARLIER_ROWS = f"""
INSERT INTO providers (id, domain, name) VALUES (1, 'news.example.com', 'Example News');
INSERT INTO topics (id, key, name) VALUES (1, 'ai', 'AI');
INSERT INTO articles (id, url, title, published_at, quality, source_published, provider_id,
    loaded_at, updated_at) VALUES
    {_article(1, "Before", 80, 1)}, {_article(2, "Delivered", 80, 3)},
    {_article(3, "Due", 80, 3)}, {_article(4, "Low", 10, 3)};
INSERT INTO article_topics (article_id, topic_id, position, spelling, published_at, quality)
    VALUES (1, 1, 0, 'AI', '{_time(1)}', 80), (2, 1, 0, 'AI', '{_time(1)}', 80),
    (3, 1, 0, 'AI', '{_time(1)}', 80), (4, 1, 0, 'AI', '{_time(1)}', 10);
INSERT INTO related (article_id, position, title, url)
    VALUES (3, 0, 'Elsewhere', 'https://other.example.com/story');
INSERT INTO subscriptions (id, guild_id, channel_id, topic_key, topic_name, min_quality,
    created_at, mode) VALUES (1, 1, 10, 'ai', 'AI', 50, '{_time(2)}', 'each');
INSERT INTO deliveries (article_id, channel_id, guild_id, message_id, delivered_at)
    VALUES (2, 10, 1, 99, '{_time(4)}');
"""


async def _earlier_sqlite(tmp_path: Path) -> str:
    path = tmp_path / "earlier.db"
    connection = sqlite3.connect(path)
    for number, _, sql in SQLITE_MIGRATIONS[:SQLITE_BEFORE]:
        connection.executescript(sql)
        connection.execute(f"PRAGMA user_version = {number}")
    connection.executescript(EARLIER_ROWS)
    connection.commit()
    connection.close()
    return str(path)


async def _earlier_postgres(url: str) -> str:
    connection = await connect(parse_postgres_url(url))
    try:
        await connection.execute(
            f"CREATE TABLE {VERSION_TABLE} (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for number, name, sql in POSTGRES_MIGRATIONS[:POSTGRES_BEFORE]:
            await connection.execute(sql)
            await connection.execute(
                f"INSERT INTO {VERSION_TABLE} (version, name) VALUES ($1, $2)", number, name
            )
        await connection.execute(EARLIER_ROWS)
    finally:
        await connection.close()
    return url


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
async def earlier(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of the version before subscription options, with rows in it."""
    if request.param == "sqlite":
        yield await _earlier_sqlite(tmp_path)
        return
    server: Server = request.getfixturevalue("postgres_server")  # only PostgreSQL's runs
    name = database_name("earlier")
    await create_database(server, name)
    try:
        yield await _earlier_postgres(server.url(name))
    finally:
        await drop_database(server, name)


async def test_what_was_due_stays_due_and_is_posted_once_after_the_upgrade(earlier: str) -> None:
    store: Store
    async with await open_store(earlier) as store:
        (subscription,) = await store.subscriptions.all()
        assert subscription.options == SubscriptionOptions()  # same_story: skip
        assert [d.article_id for d in await store.ledger.due_articles(10)] == [3]
        sender = MemorySender()
        poster = Poster(store, sender)
        await poster.run()
        await poster.run()
        assert sender.articles_in(10) == [3]
        article = await store.articles.get(3)
        assert article is not None
        assert [r.url for r in article.related] == ["https://other.example.com/story"]
