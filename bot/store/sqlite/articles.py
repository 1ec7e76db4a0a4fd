"""Articles, topics and providers in SQLite: saving a batch, lookups, suggestions, search.

SQLite's own here, and named: the JSON functions that assemble a page of articles in one
statement (``ARTICLES_IN_ORDER``), ``instr`` and ``COLLATE NOCASE`` in suggestions and
provider lookups, and full-text search (``bot.store.sqlite.fulltext``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.articles import (
    Article,
    ArticleDraft,
    ArticlePage,
    ProviderCount,
    TopicCount,
    canonical_url,
    is_web_url,
    topic_key,
    url_host,
)
from bot.store import due, limits, records, sql
from bot.store.fulltext import search_query, search_terms
from bot.store.interfaces import SaveOutcome, SourceFile
from bot.store.rows import (
    ARTICLE_COLUMNS,
    RELATED_COLUMNS,
    TOPIC_COLUMNS,
    ArticleRows,
    article_rows,
)
from bot.store.sqlite import fulltext
from bot.store.sqlite.database import (
    Database,
    Row,
    Writer,
    chunks,
    now_text,
    parse_time,
    placeholders,
)
from bot.store.sqlite.files import remember_files
from bot.store.sqlite.ledger import DIALECT as LEDGER


class SqliteArticles:
    """``ArticleStore`` on SQLite."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # Saving

    async def save(
        self, items: Sequence[tuple[ArticleDraft | ArticleRows, SourceFile | None]]
    ) -> list[SaveOutcome]:
        """Insert or update articles (and remember their files) in one transaction.

        An article is identified by its canonical URL: saving it again replaces its fields,
        topics and related coverage and never duplicates it. The loader passes ``ArticleRows``
        built in its worker processes; anything else may pass drafts.
        """
        if not items:
            return []
        now = now_text()
        rows = [
            (item if isinstance(item, ArticleRows) else article_rows(item), source)
            for item, source in items
        ]
        async with self._db.transaction() as writer:  # what is known is read under the lock
            known = await self._known_articles([article.url for article, _ in rows])
            outcomes, latest = records.plan_save(rows, known)
            await _write_articles(writer, latest, now, [url for url in latest if url in known])
            await remember_files(writer, [(s, a.url) for a, s in rows if s is not None])
        return outcomes

    async def _known_articles(self, urls: Sequence[str]) -> dict[str, tuple[int, str | None]]:
        """Map each stored URL among ``urls`` to its id and the live file it came from."""
        known: dict[str, tuple[int, str | None]] = {}
        unique = list(dict.fromkeys(urls))
        for chunk in chunks(unique):
            rows = await self._db.rows(
                "SELECT a.url, a.id, sf.path FROM articles AS a "
                "LEFT JOIN source_files AS sf ON sf.path = a.source_path AND sf.url = a.url "
                f"WHERE a.url IN ({placeholders(len(chunk))})",
                chunk,
            )
            known.update({row["url"]: (row["id"], row["path"]) for row in rows})
        return known

    # Reading articles

    async def _in_order(self, ids: Sequence[int]) -> list[Article]:
        """Return the articles with ``ids``, complete with topics and related, in that order."""
        if not ids:
            return []
        rows = await self._db.rows(
            ARTICLES_IN_ORDER.format(page=_IDS_IN_ORDER, total="NULL"), [json.dumps(list(ids))]
        )
        return [_article(row) for row in rows]

    async def _page(
        self, ids_sql: str, count_sql: str, params: Sequence[Any], limit: int, offset: int
    ) -> ArticlePage:
        """Return one page of ``ids_sql``'s articles and ``count_sql``'s total, in one statement."""
        limit, offset = max(0, limit), max(0, offset)
        page = f"SELECT *, row_number() OVER () FROM ({ids_sql} LIMIT ? OFFSET ?)"
        rows = await self._db.rows(
            ARTICLES_IN_ORDER.format(page=page, total=count_sql),
            [*params, limit, offset, *params],
        )
        # Past the last page (or with no match at all) there is no row to carry the total.
        total = int(rows[0]["total"] if rows else await self._db.scalar(count_sql, params))
        return ArticlePage(tuple(_article(row) for row in rows), total, offset, limit)

    async def count(self) -> int:
        """Return how many articles are stored."""
        return int(await self._db.scalar(sql.COUNT_ARTICLES))

    async def get(self, article_id: int) -> Article | None:
        """Return one article by its id."""
        found = await self._in_order([article_id])
        return found[0] if found else None

    async def by_url(self, url: str) -> Article | None:
        """Return one article by any of its URLs (tracking parameters and case do not matter)."""
        try:
            key = canonical_url(url)
        except ValueError:
            return None
        article_id = await self._db.scalar(sql.ARTICLE_ID_BY_URL, [key, url.strip(), url.strip()])
        return None if article_id is None else await self.get(article_id)

    async def many(self, ids: Sequence[int]) -> list[Article]:
        """Return the articles with ``ids``, in that order (unknown ids are left out)."""
        found: list[Article] = []
        for chunk in chunks(list(ids)):
            found.extend(await self._in_order(chunk))
        return found

    async def loaded_at(self, article_id: int) -> datetime | None:
        """Return when an article was first stored."""
        value = await self._db.scalar(sql.LOADED_AT, [article_id])
        return None if value is None else parse_time(value)

    async def by_topic(
        self, topic: str, *, min_quality: int | None = None, limit: int = 10, offset: int = 0
    ) -> ArticlePage:
        """Return a topic's articles, newest first, optionally of at least ``min_quality``."""
        key = topic_key(topic)
        if min_quality is None:
            return await self._page(sql.TOPIC_PAGE, sql.TOPIC_TOTAL, [key], limit, offset)
        return await self._page(
            sql.TOPIC_PAGE_OF_QUALITY, sql.TOPIC_TOTAL_OF_QUALITY, [key, min_quality], limit, offset
        )

    async def by_provider(
        self, provider: str, *, min_quality: int | None = None, limit: int = 10, offset: int = 0
    ) -> ArticlePage:
        """Return a provider's articles (matched by name or domain), newest first."""
        ids = await self.provider_ids(provider)
        if not ids:
            return ArticlePage((), 0, max(0, offset), max(0, limit))
        page, total = sql.provider_page(len(ids), of_quality=min_quality is not None)
        params = ids if min_quality is None else [*ids, min_quality]
        return await self._page(page, total, params, limit, offset)

    async def latest(
        self, *, min_quality: int | None = None, limit: int = 10, offset: int = 0
    ) -> ArticlePage:
        """Return the newest articles, optionally of at least ``min_quality``."""
        if min_quality is None:
            return await self._page(sql.LATEST_PAGE, sql.LATEST_TOTAL, [], limit, offset)
        return await self._page(
            sql.LATEST_PAGE_OF_QUALITY, sql.LATEST_TOTAL_OF_QUALITY, [min_quality], limit, offset
        )

    async def search(self, text: str, *, limit: int = 10, offset: int = 0) -> ArticlePage:
        """Return the articles matching the words of ``text``, best match first (bm25).

        Any text is safe: FTS syntax is never passed through. When no article has every
        word, articles with any of them are returned instead. "Phrases" and OR are read
        as in a subscription's filter queries (``bot.store.fulltext.search_query``), and
        as words when nothing matches them so.
        """
        if (query := search_query(text)) is not None:
            page = await self._search(fulltext.filter_expression(query), limit, offset)
            if page.total:  # else as words, the quotes and ORs taken for typing
                return page
        terms = search_terms(text)
        if not terms:
            return ArticlePage((), 0, max(0, offset), max(0, limit))
        common = await fulltext.common_words(self._db, terms)
        words = [term for term in terms if term not in common] or terms
        # bm25 weighs a word in most articles at about zero, yet reads its whole posting
        # list to find that out (~25-45 ms per such word at a million articles): when
        # every word is that common, relevance cannot tell the matches apart; newest first.
        newest_first = len(common) == len(terms)
        page = await self._search(fulltext.match_expression(words), limit, offset, newest_first)
        if page.total == 0 and len(terms) > 1:
            any_term = fulltext.match_expression(terms, any_term=True)
            page = await self._search(any_term, limit, offset)
        return page

    async def _search(
        self, expression: str, limit: int, offset: int, newest_first: bool = False
    ) -> ArticlePage:
        limit, offset = max(0, limit), max(0, offset)
        found = await fulltext.matches(self._db, expression, limit, offset, newest_first)
        articles = tuple(await self._in_order(found.ids))
        return ArticlePage(articles, found.total, offset, limit, total_exact=not found.capped)

    # Topics and providers

    async def topic(self, name: str) -> TopicCount | None:
        """Return the topic called ``name`` (any case), or None when no article has it."""
        row = await self._db.first(sql.TOPIC, [topic_key(name)])
        return None if row is None else records.topic_count(row)

    async def topics(self) -> list[TopicCount]:
        """Return every topic with its article count, most covered first."""
        rows = await self._db.rows(sql.TOPICS)
        return [records.topic_count(row) for row in rows]

    async def providers(self) -> list[ProviderCount]:
        """Return every provider with its article count, most prolific first."""
        rows = await self._db.rows(
            "SELECT name, domain, article_count FROM providers WHERE article_count > 0 "
            "ORDER BY article_count DESC, name COLLATE NOCASE"
        )
        return [records.provider_count(row) for row in rows]

    async def provider_ids(self, name_or_domain: str) -> list[int]:
        """Return the providers whose name or domain is ``name_or_domain``, in any case."""
        text = name_or_domain.strip()
        domain = url_host(text) if is_web_url(text) else text.lower().removeprefix("www.")
        rows = await self._db.rows(
            "SELECT id FROM providers WHERE (domain = ? OR name = ? COLLATE NOCASE) "
            "AND article_count > 0",
            [domain, text],
        )
        return [row["id"] for row in rows]

    async def suggest_topics(
        self, text: str, limit: int = limits.MAX_SUGGESTIONS
    ) -> list[TopicCount]:
        """Return topics starting with ``text``, then containing it, by article count."""
        key = topic_key(text)
        rows = await self._db.rows(
            "SELECT name, article_count FROM topics "
            "WHERE article_count > 0 AND instr(key, ?) > 0 "
            "ORDER BY instr(key, ?) != 1, article_count DESC, key LIMIT ?",
            [key, key, min(limit, limits.MAX_SUGGESTIONS)],
        )
        return [records.topic_count(row) for row in rows]

    async def suggest_providers(
        self, text: str, limit: int = limits.MAX_SUGGESTIONS
    ) -> list[ProviderCount]:
        """Return providers whose name or domain starts with ``text``, then contains it."""
        needle = " ".join(text.split()).lower()
        rows = await self._db.rows(
            "SELECT name, domain, article_count FROM providers "
            "WHERE article_count > 0 AND (instr(lower(name), ?) > 0 OR instr(domain, ?) > 0) "
            "ORDER BY (instr(lower(name), ?) != 1 AND instr(domain, ?) != 1), "
            "article_count DESC, name COLLATE NOCASE LIMIT ?",
            [needle, needle, needle, needle, min(limit, limits.MAX_SUGGESTIONS)],
        )
        return [records.provider_count(row) for row in rows]


# Writing a batch of articles. The INSERTs are built from the column lists of
# ``bot.store.rows``, so a row's values and a statement's columns cannot drift apart. The
# statements are portable SQL (ON CONFLICT ... excluded reads the same in PostgreSQL) but
# for "IS NOT", SQLite's null-safe "IS DISTINCT FROM".

_ARTICLE_ID = "(SELECT id FROM articles WHERE url = ?)"
_TOPIC_ID = "(SELECT id FROM topics WHERE key = ?)"
_PROVIDER_ID = "(SELECT id FROM providers WHERE domain = ?)"


def _insert(
    table: str, columns: Sequence[str], stored_as: dict[str, tuple[str, str]]
) -> tuple[str, list[str]]:
    """Return an INSERT of one row of ``columns`` into ``table``, and the columns it sets.

    ``stored_as`` maps a row column to the table's column and the value that stores it (an
    article's topic is stored as the topic's id, found by its key); the rest bind as is.
    """
    names, values = [], []
    for column in columns:
        name, value = stored_as.get(column, (column, "?"))
        names.append(name)
        values.append(value)
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(values)})", names


def _upsert_article() -> str:
    insert, names = _insert(
        "articles",
        (*ARTICLE_COLUMNS, "source_path", "loaded_at", "updated_at"),
        {"provider_domain": ("provider_id", _PROVIDER_ID)},
    )
    kept = {"url", "loaded_at"}  # the identity, and when it was first stored
    changed = ", ".join(f"{name} = excluded.{name}" for name in names if name not in kept)
    return f"{insert} ON CONFLICT (url) DO UPDATE SET {changed}"


_UPSERT_ARTICLE = _upsert_article()
_INSERT_TOPIC, _ = _insert(
    "article_topics",
    TOPIC_COLUMNS,
    {"url": ("article_id", _ARTICLE_ID), "key": ("topic_id", _TOPIC_ID)},
)
_INSERT_RELATED, _ = _insert(
    "related", RELATED_COLUMNS, {"url": ("article_id", _ARTICLE_ID), "related_url": ("url", "?")}
)
# Where a topic row (``TOPIC_COLUMNS``) holds what the kept counts need.
_KEY, _SPELLING, _QUALITY = (TOPIC_COLUMNS.index(c) for c in ("key", "spelling", "quality"))


async def _write_articles(
    writer: Writer,
    articles: dict[str, tuple[ArticleRows, str | None]],
    now: str,
    replace: list[str],
) -> None:
    await writer.executemany(
        "INSERT INTO providers (domain, name) VALUES (?, ?) "
        "ON CONFLICT (domain) DO UPDATE SET name = excluded.name "
        "WHERE name IS NOT excluded.name",
        list({a.provider_domain: a.provider_name for a, _ in articles.values()}.items()),
    )
    await writer.executemany(
        _UPSERT_ARTICLE, [(*a.article, path, now, now) for a, path in articles.values()]
    )
    if replace:
        await writer.executemany(
            f"DELETE FROM article_topics WHERE article_id = {_ARTICLE_ID}",
            [(url,) for url in replace],
        )
        await writer.executemany(
            f"DELETE FROM related WHERE article_id = {_ARTICLE_ID}", [(url,) for url in replace]
        )
    topics = [row for a, _ in articles.values() for row in a.topics]
    await writer.executemany(
        "INSERT INTO topics (key, name) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        list({row[_KEY]: row[_SPELLING] for row in topics}.items()),
    )
    await writer.executemany(_INSERT_TOPIC, topics)
    await _count_topics(writer, topics)
    await writer.executemany(
        _INSERT_RELATED, [row for a, _ in articles.values() for row in a.related]
    )
    await _weigh_candidates(writer, list(articles))


# The batch's own full-text index, on the writer's connection only: a subscription's filter
# query is checked against the articles just stored (bot.store.due.candidates_of_stored)
# without a lookup in the index of the whole archive, whose cost grows with it.
_BATCH_INDEX = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.batch_fts USING fts5 (title, excerpt, "
    "tokenize = 'porter unicode61 remove_diacritics 2')"
)
_IN_BATCH = due.Dialect(
    outbox_articles=LEDGER.due.outbox_articles,
    matches="EXISTS (SELECT 1 FROM temp.batch_fts WHERE batch_fts MATCH {query} "
    "AND batch_fts.rowid = a.id)",
)
_ANY_FILTER = (
    "SELECT EXISTS (SELECT 1 FROM subscriptions "
    "WHERE include_match IS NOT NULL OR exclude_match IS NOT NULL)"
)


async def _weigh_candidates(writer: Writer, urls: list[str]) -> None:
    """Make the candidates of articles just stored afresh (bot.store.due)."""
    row = await (await writer.execute(_ANY_FILTER)).fetchone()
    filtered = bool(row and row[0])
    if filtered:
        await writer.execute(_BATCH_INDEX)
        await writer.execute("DELETE FROM temp.batch_fts")
    for chunk in chunks(urls):
        batch = f"a.url IN ({placeholders(len(chunk))})"
        if filtered:
            await writer.execute(
                "INSERT INTO temp.batch_fts (rowid, title, excerpt) "
                f"SELECT a.id, a.title, a.excerpt FROM articles AS a WHERE {batch}",
                chunk,
            )
        forget, make = due.candidates_of_stored(_IN_BATCH if filtered else LEDGER.due, batch)
        await writer.execute(forget, chunk)
        await writer.execute(make, chunk)


async def _count_topics(writer: Writer, rows: Sequence[tuple[Any, ...]]) -> None:
    """Add newly inserted article topics (``TOPIC_COLUMNS`` rows) to the kept counts.

    One statement per topic, spelling or (topic, quality) of the batch instead of four
    trigger statements per row (migration 0005); deletes still count by trigger.
    """
    topics: Counter[str] = Counter()
    spellings: Counter[tuple[str, str]] = Counter()
    qualities: Counter[tuple[str, int]] = Counter()
    for row in rows:
        key, spelling, quality = row[_KEY], row[_SPELLING], row[_QUALITY]
        topics[key] += 1
        spellings[key, spelling] += 1
        if quality is not None:
            qualities[key, quality] += 1
    await writer.executemany(
        "UPDATE topics SET article_count = article_count + ? WHERE key = ?",
        [(count, key) for key, count in topics.items()],
    )
    await writer.executemany(
        "INSERT INTO topic_spellings (topic_id, spelling, uses) "
        f"VALUES ({_TOPIC_ID}, ?, ?) "
        "ON CONFLICT (topic_id, spelling) DO UPDATE SET uses = uses + excluded.uses",
        [(key, spelling, uses) for (key, spelling), uses in spellings.items()],
    )
    await writer.executemany(  # the displayed name: the most used spelling, ties alphabetical
        "UPDATE topics SET name = (SELECT spelling FROM topic_spellings "
        "WHERE topic_id = topics.id ORDER BY uses DESC, spelling LIMIT 1) WHERE key = ?",
        [(key,) for key in topics],
    )
    await writer.executemany(
        "INSERT INTO topic_quality_counts (topic_id, quality, article_count) "
        f"VALUES ({_TOPIC_ID}, ?, ?) ON CONFLICT (topic_id, quality) "
        "DO UPDATE SET article_count = article_count + excluded.article_count",
        [(key, quality, count) for (key, quality), count in qualities.items()],
    )


# Every article a query shows, with its provider, topics and related coverage, in one
# statement (one trip to the database thread): {page} yields (article id, rank). SQLite's
# JSON functions carry the lists (PostgreSQL's: bot.store.postgres.articles).
ARTICLES_IN_ORDER = """
WITH page (article_id, rank) AS ({page})
SELECT a.id, a.url, a.original_url, a.web_url, a.title, a.excerpt, a.category, a.type,
    a.published_at, a.quality, a.heat, a.source_published, a.images,
    p.name AS provider_name, p.domain AS provider_domain,
    (SELECT json_group_array(name) FROM (
        SELECT t.name FROM article_topics AS at JOIN topics AS t ON t.id = at.topic_id
        WHERE at.article_id = a.id ORDER BY at.position)) AS topics,
    (SELECT json_group_array(json_array(title, url, excerpt, published_at, json(provider),
            quality, type, amp_url, cdn_amp_url, json(images))) FROM (
        SELECT * FROM related WHERE article_id = a.id ORDER BY position)) AS related,
    ({total}) AS total
FROM page JOIN articles AS a ON a.id = page.article_id
JOIN providers AS p ON p.id = a.provider_id
ORDER BY page.rank
"""
# A list of ids bound as one JSON parameter, as (id, rank) rows: SQLite's json_each.
_IDS_IN_ORDER = "SELECT value, key FROM json_each(?)"


def _article(row: Row) -> Article:
    return records.article(
        row,
        published_at=parse_time(row["published_at"]),
        topics=json.loads(row["topics"]),
        related=json.loads(row["related"]),
    )
