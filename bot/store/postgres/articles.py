"""Articles, topics and providers in PostgreSQL: saving a batch, lookups, suggestions, search.

PostgreSQL's own here, and named:

- saving: one statement per table per batch, its rows bound as arrays and read back with
  ``unnest`` (``_insert_from_arrays``). The schema's triggers keep every count per
  statement; executemany would run them once per row, and counting here as SQLite's
  backend does would count twice. Savers take turns (``transaction(take_turns=True)``).
- a page of articles assembled in one statement with ``ARRAY(...)`` and ``json_agg``
  (``ARTICLES_IN_ORDER``), and a page's order kept by ``unnest ... WITH ORDINALITY``;
- ``strpos`` and ``lower`` where SQLite uses ``instr`` and ``COLLATE NOCASE``;
- full-text search (``bot.store.postgres.fulltext``).

The pages' ids and totals are the shared SQL of ``bot.store.sql``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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
from bot.store.postgres import fulltext
from bot.store.postgres.database import Database, Writer, utc
from bot.store.postgres.files import remember_files
from bot.store.postgres.ledger import DIALECT as LEDGER
from bot.store.rows import (
    ARTICLE_COLUMNS,
    RELATED_COLUMNS,
    TOPIC_COLUMNS,
    ArticleRows,
    article_rows,
)

IDS_PER_QUERY = 10_000  # ids bound as one array

if TYPE_CHECKING:
    from bot.store.postgres.database import Row


class PostgresArticles:
    """``ArticleStore`` on PostgreSQL."""

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
        now = datetime.now(UTC)
        rows = [
            (item if isinstance(item, ArticleRows) else article_rows(item), source)
            for item, source in items
        ]
        # Taking turns: what is known is read after any other save has committed.
        async with self._db.transaction(take_turns=True) as writer:
            known = await self._known_articles([article.url for article, _ in rows])
            outcomes, latest = records.plan_save(rows, known)
            await _write_articles(writer, latest, now, [url for url in latest if url in known])
            await remember_files(writer, [(s, a.url) for a, s in rows if s is not None])
        return outcomes

    async def _known_articles(self, urls: Sequence[str]) -> dict[str, tuple[int, str | None]]:
        """Map each stored URL among ``urls`` to its id and the live file it came from."""
        rows = await self._db.rows(
            "SELECT a.url, a.id, sf.path FROM articles AS a "
            "LEFT JOIN source_files AS sf ON sf.path = a.source_path AND sf.url = a.url "
            "WHERE a.url = ANY (?::text[])",
            [list(dict.fromkeys(urls))],
        )
        return {row["url"]: (row["id"], row["path"]) for row in rows}

    # Reading articles

    async def _in_order(self, ids: Sequence[int]) -> list[Article]:
        """Return the articles with ``ids``, complete with topics and related, in that order."""
        if not ids:
            return []
        rows = await self._db.rows(
            ARTICLES_IN_ORDER.format(page=_IDS_IN_ORDER, total="NULL"), [list(ids)]
        )
        return [_article(row) for row in rows]

    async def _page(
        self, ids_sql: str, count_sql: str, params: Sequence[Any], limit: int, offset: int
    ) -> ArticlePage:
        """Return one page of ``ids_sql``'s articles and ``count_sql``'s total, in one statement."""
        limit, offset = max(0, limit), max(0, offset)
        page = f"SELECT * FROM unnest(ARRAY({ids_sql} LIMIT ? OFFSET ?)) WITH ORDINALITY"
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
        for start in range(0, len(ids), IDS_PER_QUERY):
            found.extend(await self._in_order(list(ids[start : start + IDS_PER_QUERY])))
        return found

    async def loaded_at(self, article_id: int) -> datetime | None:
        """Return when an article was first stored."""
        value = await self._db.scalar(sql.LOADED_AT, [article_id])
        return None if value is None else utc(value)

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
        """Return the articles matching the words of ``text``, best match first (ts_rank).

        Any text is safe: no tsquery syntax is passed through. When no article has every
        word, articles with any of them are returned instead. "Phrases" and OR are read
        as in a subscription's filter queries (``bot.store.fulltext.search_query``), and
        as words when nothing matches them so.
        """
        if (query := search_query(text)) is not None:
            page = await self._search(*fulltext.filter_tsquery(query), limit, offset)
            if page.total:  # else as words, the quotes and ORs taken for typing
                return page
        terms = search_terms(text)
        if not terms:
            return ArticlePage((), 0, max(0, offset), max(0, limit))
        sampled = await fulltext.sample(self._db, fulltext.word_queries(terms))
        common = fulltext.common_words(terms, sampled)
        shares = dict(zip(terms, sampled.shares, strict=True))
        words = [term for term in terms if term not in common] or terms
        # When every word is in most articles, relevance cannot tell the matches apart:
        # newest first, as in SQLite.
        newest_first = len(common) == len(terms)
        page = await self._search(
            fulltext.query_expression(len(words)), words, limit, offset,
            share=fulltext.combined_share([shares[word] for word in words]),
            newest=sampled.newest, newest_first=newest_first,
        )  # fmt: skip
        if page.total == 0 and len(terms) > 1:
            page = await self._search(
                fulltext.query_expression(len(terms), any_term=True), terms, limit, offset,
                share=fulltext.combined_share(sampled.shares, any_term=True),
                newest=sampled.newest,
            )  # fmt: skip
        return page

    async def _search(
        self,
        query: str,
        params: list[str],
        limit: int,
        offset: int,
        *,
        share: float | None = None,
        newest: int = 0,
        newest_first: bool = False,
    ) -> ArticlePage:
        """Return one page of the articles matching the tsquery ``query`` (``params``)."""
        limit, offset = max(0, limit), max(0, offset)
        found = await fulltext.query_matches(
            self._db, query, params, limit, offset, share=share, newest=newest,
            newest_first=newest_first,
        )  # fmt: skip
        articles = tuple(await self._in_order(found.ids))
        return ArticlePage(articles, found.total, offset, limit, total_exact=not found.capped)

    # Topics and providers

    async def topic(self, name: str) -> TopicCount | None:
        """Return the topic called ``name`` (any case), or None when no article has it."""
        row = await self._db.first(sql.TOPIC, [topic_key(name)])
        return None if row is None else records.topic_count(row)

    async def topics(self) -> list[TopicCount]:
        """Return every topic with its article count, most covered first."""
        return [records.topic_count(row) for row in await self._db.rows(sql.TOPICS)]

    async def providers(self) -> list[ProviderCount]:
        """Return every provider with its article count, most prolific first."""
        # lower() of a COLLATE "C" column folds ASCII letters only, as SQLite's NOCASE.
        rows = await self._db.rows(
            "SELECT name, domain, article_count FROM providers WHERE article_count > 0 "
            "ORDER BY article_count DESC, lower(name)"
        )
        return [records.provider_count(row) for row in rows]

    async def provider_ids(self, name_or_domain: str) -> list[int]:
        """Return the providers whose name or domain is ``name_or_domain``, in any case."""
        text = name_or_domain.strip()
        domain = url_host(text) if is_web_url(text) else text.lower().removeprefix("www.")
        rows = await self._db.rows(
            # COLLATE "C": lower() folds ASCII letters only on both sides, as SQLite's NOCASE.
            "SELECT id FROM providers "
            'WHERE (domain = ? OR lower(name) = lower(?::text COLLATE "C")) AND article_count > 0',
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
            "WHERE article_count > 0 AND strpos(key, ?) > 0 "
            "ORDER BY strpos(key, ?) != 1, article_count DESC, key LIMIT ?",
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
            "WHERE article_count > 0 AND (strpos(lower(name), ?) > 0 OR strpos(domain, ?) > 0) "
            "ORDER BY (strpos(lower(name), ?) != 1 AND strpos(domain, ?) != 1), "
            "article_count DESC, lower(name) LIMIT ?",
            [needle, needle, needle, needle, min(limit, limits.MAX_SUGGESTIONS)],
        )
        return [records.provider_count(row) for row in rows]


# Writing a batch of articles: each table's rows bound as one array per column, in the
# column order of ``bot.store.rows``, so a row's values and a statement's columns cannot
# drift apart. The rows carry times and JSON as text; the casts read them.

# The PostgreSQL type of a row column bound as an array (text unless named here), and
# how the table stores it (as is unless named here).
_ARRAY_TYPES = {"quality": "integer", "heat": "bigint", "source_published": "integer",
                "position": "integer"}  # fmt: skip
_STORED_AS = {"published_at": "{}::timestamptz", "loaded_at": "{}::timestamptz",
              "updated_at": "{}::timestamptz", "source_published": "{}::integer::boolean",
              "images": "{}::jsonb", "extra": "{}::jsonb", "provider": "{}::jsonb"}  # fmt: skip
_ARTICLE_ID = "(SELECT id FROM articles WHERE url = u.url)"
_PROVIDER_ID = "(SELECT id FROM providers WHERE domain = u.provider_domain)"


def _insert_from_arrays(
    table: str, columns: Sequence[str], stored_as: dict[str, tuple[str, str]]
) -> tuple[str, list[str]]:
    """Return an INSERT into ``table`` of rows bound as one array per column, and its columns.

    ``stored_as`` maps a row column to the table's column and the value that stores it
    (an article's topic is stored as the topic's id, found by its key); the rest are
    stored as they are, or cast as ``_STORED_AS`` says.
    """
    names, values = [], []
    for column in columns:
        default = _STORED_AS.get(column, "{}").format(f"u.{column}")
        name, value = stored_as.get(column, (column, default))
        names.append(name)
        values.append(value)
    arrays = ", ".join(f"?::{_ARRAY_TYPES.get(column, 'text')}[]" for column in columns)
    insert = (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} "
        f"FROM unnest({arrays}) AS u ({', '.join(columns)})"
    )
    return insert, names


def _upsert_articles() -> str:
    insert, names = _insert_from_arrays(
        "articles",
        (*ARTICLE_COLUMNS, "source_path", "loaded_at", "updated_at"),
        {"provider_domain": ("provider_id", _PROVIDER_ID)},
    )
    kept = {"url", "loaded_at"}  # the identity, and when it was first stored
    changed = ", ".join(f"{name} = excluded.{name}" for name in names if name not in kept)
    return f"{insert} ON CONFLICT (url) DO UPDATE SET {changed}"


_UPSERT_ARTICLES = _upsert_articles()
_INSERT_TOPICS, _ = _insert_from_arrays(
    "article_topics",
    TOPIC_COLUMNS,
    {
        "url": ("article_id", _ARTICLE_ID),
        "key": ("topic_id", "(SELECT id FROM topics WHERE key = u.key)"),
    },
)
_INSERT_RELATED, _ = _insert_from_arrays(
    "related",
    RELATED_COLUMNS,
    {"url": ("article_id", _ARTICLE_ID), "related_url": ("url", "u.related_url")},
)
_CANDIDATES_OF_STORED = due.candidates_of_stored(LEDGER.due, "a.url = ANY (?::text[])")
# Where a topic row (``TOPIC_COLUMNS``) holds the topic's key and spelling.
_KEY, _SPELLING = (TOPIC_COLUMNS.index(c) for c in ("key", "spelling"))


def _arrays(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Return ``rows`` as one list per column (``width`` of them, even without a row)."""
    return [list(column) for column in zip(*rows, strict=True)] or [[] for _ in range(width)]


async def _write_articles(
    writer: Writer,
    articles: dict[str, tuple[ArticleRows, str | None]],
    now: datetime,
    replace: list[str],
) -> None:
    """Write a batch: one statement per table, whatever the number of articles."""
    providers = {a.provider_domain: a.provider_name for a, _ in articles.values()}
    await writer.execute(
        "INSERT INTO providers (domain, name) SELECT * FROM unnest(?::text[], ?::text[]) "
        "ON CONFLICT (domain) DO UPDATE SET name = excluded.name "
        "WHERE providers.name IS DISTINCT FROM excluded.name",
        [list(providers), list(providers.values())],
    )
    stamp = now.isoformat()
    await writer.execute(
        _UPSERT_ARTICLES,
        _arrays(
            [(*a.article, path, stamp, stamp) for a, path in articles.values()],
            len(ARTICLE_COLUMNS) + 3,
        ),
    )
    if replace:  # the statement triggers take the old rows off the counts
        for table in ("article_topics", "related"):
            await writer.execute(
                f"DELETE FROM {table} WHERE article_id IN "
                "(SELECT id FROM articles WHERE url = ANY (?::text[]))",
                [replace],
            )
    topics = [row for a, _ in articles.values() for row in a.topics]
    names = {row[_KEY]: row[_SPELLING] for row in topics}
    await writer.execute(
        "INSERT INTO topics (key, name) SELECT * FROM unnest(?::text[], ?::text[]) "
        "ON CONFLICT (key) DO NOTHING",
        [list(names), list(names.values())],
    )
    if topics:  # the statement triggers add them to the counts
        await writer.execute(_INSERT_TOPICS, _arrays(topics, len(TOPIC_COLUMNS)))
    related = [row for a, _ in articles.values() for row in a.related]
    if related:
        await writer.execute(_INSERT_RELATED, _arrays(related, len(RELATED_COLUMNS)))
    for statement in _CANDIDATES_OF_STORED:  # made afresh: bot.store.due
        await writer.execute(statement, [list(articles)])


# Every article a query shows, with its provider, topics and related coverage, in one
# statement: {page} yields (article id, rank). Topic names come as a text array; related
# items as JSON arrays in the order ``records.related_item`` reads (a time in JSON is ISO
# 8601 with its offset).
ARTICLES_IN_ORDER = """
WITH page (article_id, rank) AS ({page})
SELECT a.id, a.url, a.original_url, a.web_url, a.title, a.excerpt, a.category, a.type,
    a.published_at, a.quality, a.heat, a.source_published, a.images::text AS images,
    p.name AS provider_name, p.domain AS provider_domain,
    ARRAY(SELECT t.name FROM article_topics AS at JOIN topics AS t ON t.id = at.topic_id
          WHERE at.article_id = a.id ORDER BY at.position) AS topics,
    (SELECT coalesce(json_agg(json_build_array(r.title, r.url, r.excerpt, r.published_at,
            r.provider, r.quality, r.type, r.amp_url, r.cdn_amp_url, r.images)
            ORDER BY r.position), '[]')
     FROM related AS r WHERE r.article_id = a.id)::text AS related,
    ({total}) AS total
FROM page JOIN articles AS a ON a.id = page.article_id
JOIN providers AS p ON p.id = a.provider_id
ORDER BY page.rank
"""
# A list of ids bound as one array, as (id, rank) rows.
_IDS_IN_ORDER = "SELECT * FROM unnest(?::bigint[]) WITH ORDINALITY"


def _article(row: Row) -> Article:
    return records.article(
        row,
        published_at=utc(row["published_at"]),
        topics=row["topics"],
        related=json.loads(row["related"]),
    )
