"""The PostgreSQL schema: migrations applied once at open, counts and search kept by it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from bot.errors import StoreError
from bot.store.postgres.connection import connect
from bot.store.postgres.schema import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version
from bot.store.target import parse_postgres_url

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


async def _tables(connection: asyncpg.Connection[asyncpg.Record]) -> set[str]:
    rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row[0] for row in rows}


async def test_migrations_apply_to_an_empty_database_and_again_do_nothing(
    empty_postgres_url: str,
) -> None:
    target = parse_postgres_url(empty_postgres_url)
    connection = await connect(target)
    try:
        assert await schema_version(connection) == 0
        await migrate(connection, target)
        assert await schema_version(connection) == SCHEMA_VERSION
        assert await _tables(connection) == {
            "newsbot_schema", "providers", "articles", "topics", "topic_spellings",
            "article_topics", "related", "source_files", "subscriptions", "state",
            "deliveries", "outbox", "backfill", "refusals", "quality_counts",
            "topic_quality_counts", "subscription_providers", "candidates", "alert_channels",
            "send_turns", "article_search",
        }  # fmt: skip
        applied = await connection.fetch("SELECT version, name FROM newsbot_schema ORDER BY 1")
        assert [tuple(row) for row in applied] == [(n, name) for n, name, _ in MIGRATIONS]

        await migrate(connection, target)  # a re-open: nothing to do, nothing done
        assert await connection.fetchval("SELECT count(*) FROM newsbot_schema") == SCHEMA_VERSION
    finally:
        await connection.close()


async def test_processes_opening_a_new_database_at_once_migrate_it_once(
    empty_postgres_url: str,
) -> None:
    target = parse_postgres_url(empty_postgres_url)
    connections = [await connect(target) for _ in range(4)]
    try:
        await asyncio.gather(*(migrate(c, target) for c in connections))
        assert await connections[0].fetchval("SELECT count(*) FROM newsbot_schema") == (
            SCHEMA_VERSION
        )
    finally:
        for connection in connections:
            await connection.close()


async def test_a_database_of_a_newer_newsbot_is_refused_untouched(postgres_url: str) -> None:
    target = parse_postgres_url(postgres_url)
    connection = await connect(target)
    try:
        newer = SCHEMA_VERSION + 1
        await connection.execute(
            "INSERT INTO newsbot_schema (version, name) VALUES ($1, 'from the future')", newer
        )
        with pytest.raises(StoreError) as refused:
            await migrate(connection, target)
        assert str(refused.value) == (
            f"database {target.redacted} has schema version {newer}, newer than this newsbot "
            f"understands ({SCHEMA_VERSION}); upgrade newsbot or use another --db"
        )
        assert await schema_version(connection) == newer
    finally:
        await connection.close()


async def test_a_migration_that_fails_is_named_and_leaves_nothing_half_done(
    empty_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.store.postgres.schema as schema

    monkeypatch.setattr(
        schema, "MIGRATIONS", [*MIGRATIONS, (SCHEMA_VERSION + 1, "9999_bad.sql", "SELEC 1")]
    )
    monkeypatch.setattr(schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    target = parse_postgres_url(empty_postgres_url)
    connection = await connect(target)
    try:
        with pytest.raises(StoreError, match=r"^cannot apply migration 9999_bad.sql to .*: syntax"):
            await migrate(connection, target)
        assert await schema_version(connection) == SCHEMA_VERSION  # the good ones stay
    finally:
        await connection.close()


# -- what the schema keeps by itself ---------------------------------------------------------


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[asyncpg.Connection[asyncpg.Record]]:
    connection = await connect(parse_postgres_url(postgres_url))
    try:
        yield connection
    finally:
        await connection.close()


async def _add_articles(
    db: asyncpg.Connection[asyncpg.Record],
    articles: list[tuple[str, str, int | None, str, str]],
) -> None:
    """Insert (url, provider domain, quality, title, excerpt) rows in one statement."""
    await db.execute(
        "INSERT INTO providers (domain, name) SELECT DISTINCT d, upper(d) FROM unnest($1::text[]) "
        "AS d ON CONFLICT (domain) DO NOTHING",
        [a[1] for a in articles],
    )
    await db.execute(
        """
        INSERT INTO articles (url, provider_id, quality, title, excerpt, published_at,
                              loaded_at, updated_at)
        SELECT u, (SELECT id FROM providers WHERE domain = d), q, t, e, $6, $6, $6
        FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[]) AS r(u, d, q, t, e)
        ON CONFLICT (url) DO UPDATE SET quality = excluded.quality,
            provider_id = excluded.provider_id, title = excluded.title
        """,
        *zip(*articles, strict=True),
        T0,
    )


async def _add_topics(
    db: asyncpg.Connection[asyncpg.Record], rows: list[tuple[str, str, str]]
) -> None:
    """Give articles topics: (article url, topic key, spelling) rows, in one statement."""
    await db.execute(
        "INSERT INTO topics (key, name) SELECT DISTINCT k, k FROM unnest($1::text[]) AS k "
        "ON CONFLICT (key) DO NOTHING",
        [key for _, key, _ in rows],
    )
    await db.execute(
        """
        INSERT INTO article_topics (article_id, topic_id, position, spelling, published_at, quality)
        SELECT a.id, t.id, 0, r.s, a.published_at, a.quality
        FROM unnest($1::text[], $2::text[], $3::text[]) AS r(u, k, s)
        JOIN articles AS a ON a.url = r.u JOIN topics AS t ON t.key = r.k
        """,
        *zip(*rows, strict=True),
    )


async def _assert_counts_match_the_rows(db: asyncpg.Connection[asyncpg.Record]) -> None:
    """Assert every kept count and name equals what counting the rows gives."""
    checks = {
        "providers": """
            SELECT id, article_count FROM providers
            EXCEPT SELECT p.id, count(a.id) FROM providers AS p
                LEFT JOIN articles AS a ON a.provider_id = p.id GROUP BY p.id""",
        "quality_counts": """
            (SELECT quality, article_count FROM quality_counts WHERE article_count <> 0
             EXCEPT SELECT quality, count(*) FROM articles WHERE quality IS NOT NULL
                GROUP BY quality)
            UNION ALL
            (SELECT quality, count(*) FROM articles WHERE quality IS NOT NULL GROUP BY quality
             EXCEPT SELECT quality, article_count FROM quality_counts)""",
        "topics": """
            SELECT id, article_count FROM topics
            EXCEPT SELECT t.id, count(at.article_id) FROM topics AS t
                LEFT JOIN article_topics AS at ON at.topic_id = t.id GROUP BY t.id""",
        "topic_spellings": """
            (SELECT topic_id, spelling, uses FROM topic_spellings
             EXCEPT SELECT topic_id, spelling, count(*) FROM article_topics GROUP BY 1, 2)
            UNION ALL
            (SELECT topic_id, spelling, count(*) FROM article_topics GROUP BY 1, 2
             EXCEPT SELECT topic_id, spelling, uses FROM topic_spellings)""",
        "topic_quality_counts": """
            (SELECT topic_id, quality, article_count FROM topic_quality_counts
                WHERE article_count <> 0
             EXCEPT SELECT topic_id, quality, count(*) FROM article_topics
                WHERE quality IS NOT NULL GROUP BY 1, 2)
            UNION ALL
            (SELECT topic_id, quality, count(*) FROM article_topics
                WHERE quality IS NOT NULL GROUP BY 1, 2
             EXCEPT SELECT topic_id, quality, article_count FROM topic_quality_counts)""",
        "topic names": """
            SELECT t.id, t.name FROM topics AS t
                JOIN topic_spellings AS s ON s.topic_id = t.id
            EXCEPT (SELECT DISTINCT ON (topic_id) topic_id, spelling FROM topic_spellings
                ORDER BY topic_id, uses DESC, spelling)""",
        "topic pages": """
            SELECT at.article_id FROM article_topics AS at JOIN articles AS a ON a.id = at.article_id
            WHERE (at.published_at, at.quality) IS DISTINCT FROM (a.published_at, a.quality)""",
    }
    wrong = {name: [tuple(r) for r in await db.fetch(sql)] for name, sql in checks.items()}
    assert {name: rows for name, rows in wrong.items() if rows} == {}


async def test_counts_follow_batch_inserts_upserts_updates_and_deletes(
    db: asyncpg.Connection[asyncpg.Record],
) -> None:
    await _add_articles(db, [
        ("https://a.example/1", "a.example", 70, "One", ""),
        ("https://a.example/2", "a.example", 70, "Two", ""),
        ("https://b.example/3", "b.example", None, "Three", ""),
    ])  # fmt: skip
    await _add_topics(db, [
        ("https://a.example/1", "ai", "AI"),
        ("https://a.example/2", "ai", "ai"),
        ("https://b.example/3", "ai", "ai"),
        ("https://b.example/3", "space", "Space"),
    ])  # fmt: skip
    await _assert_counts_match_the_rows(db)
    assert await db.fetchval("SELECT name FROM topics WHERE key = 'ai'") == "ai"  # 2 uses to 1
    assert await db.fetchval("SELECT article_count FROM topics WHERE key = 'ai'") == 3

    # Saved again: one updated (new quality, other provider), one added, in one statement.
    await _add_articles(db, [
        ("https://a.example/1", "b.example", 40, "One again", ""),
        ("https://c.example/4", "c.example", 40, "Four", ""),
    ])  # fmt: skip
    await _assert_counts_match_the_rows(db)
    assert await db.fetchval("SELECT quality FROM article_topics WHERE article_id = 1") == 40

    await db.execute("UPDATE articles SET quality = NULL, published_at = $1 WHERE id = 2", T0)
    await _assert_counts_match_the_rows(db)

    # An article's topics replaced, as a re-load does: deleted, then inserted again.
    await db.execute("DELETE FROM article_topics WHERE article_id IN (2, 3)")
    await _assert_counts_match_the_rows(db)
    assert await db.fetchval("SELECT name FROM topics WHERE key = 'ai'") == "AI"
    assert await db.fetchval("SELECT name FROM topics WHERE key = 'space'") == "Space"  # kept

    await db.execute("DELETE FROM articles WHERE url LIKE 'https://a.example/%'")  # cascades
    await _assert_counts_match_the_rows(db)
    assert await db.fetchval("SELECT sum(article_count) FROM providers") == 2


async def test_search_stems_ignores_accents_and_weighs_titles_over_excerpts(
    db: asyncpg.Connection[asyncpg.Record],
) -> None:
    await _add_articles(db, [
        ("https://a.example/1", "a.example", 50, "Markets calm", "Cafés are running out of beans"),
        ("https://a.example/2", "a.example", 50, "Café runs out of beans", "Markets calm"),
        ("https://a.example/3", "a.example", 50, "The weather", "Rain"),
    ])  # fmt: skip

    async def search(words: str) -> list[int]:
        rows = await db.fetch(
            "SELECT id FROM article_search, plainto_tsquery('newsbot_english', $1) AS query "
            "WHERE search @@ query "
            "ORDER BY ts_rank('{0, 0, 0.25, 1}', search, query) DESC, id",
            words,
        )
        return [row[0] for row in rows]

    assert await search("cafe run") == [2, 1]  # in the title first; stemmed; unaccented
    assert await search("the") == [3]  # no stop words: every word is found, as in FTS5
    assert await search("markets") == [1, 2]
    await db.execute("UPDATE articles SET title = 'Storms ahead' WHERE id = 3")
    assert (await search("storm"), await search("weather")) == ([3], [])  # kept by its trigger


async def test_a_server_too_old_for_the_schema_is_named(
    empty_postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.store.postgres.schema as schema

    monkeypatch.setattr(schema, "MINIMUM_SERVER", 99)
    target = parse_postgres_url(empty_postgres_url)
    connection = await connect(target)
    try:
        with pytest.raises(
            StoreError, match=r"runs PostgreSQL \d+\.\d+; newsbot needs 99 or newer$"
        ):
            await migrate(connection, target)
        assert await schema_version(connection) == 0
    finally:
        await connection.close()
