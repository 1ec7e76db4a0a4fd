"""The ``Store``: every SQL statement newsbot runs lives in this module."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Self

import aiosqlite

from bot.articles import (
    Article,
    ArticleDraft,
    ArticlePage,
    Image,
    Provider,
    ProviderCount,
    RelatedItem,
    TopicCount,
    canonical_url,
    is_web_url,
    pickled_as_tuple,
    topic_key,
    url_host,
)
from bot.errors import StoreError
from bot.store.fulltext import match_expression, search_terms
from bot.store.rows import ArticleRows, article_rows, format_time
from bot.subscriptions import Delivery, DueArticle, Mode, OutboxMessage, Subscription

MAX_SUGGESTIONS = 25
SEARCH_CAP = 1000  # a search counts, and ranks by relevance, at most this many matches
COMMON_SAMPLE = 1000  # newest articles that tell whether a search word is too common
BACKLOG_WINDOW = 20  # a new subscription's backfill is the best of this many newest articles
_CHUNK = 500  # rows per "IN (...)" list, well under SQLite's variable limit
_IN_TRANSACTION: ContextVar[bool] = ContextVar("newsbot_in_transaction", default=False)


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class SourceFile:
    """What the store remembers of a loaded file, to skip it while it stays the same."""

    path: str
    size: int
    mtime_ns: int
    digest: str


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    """What saving one article did; ``duplicate_of`` names another file holding the same URL."""

    url: str
    status: Literal["added", "updated"]
    duplicate_of: str | None = None


def _migrations() -> list[tuple[int, str, str]]:
    """Return the schema migrations as (version, name, SQL), in order."""
    folder = resources.files("bot.store.sqlite") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    if [version for version, _, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps: {found}")
    return found


MIGRATIONS = _migrations()
SCHEMA_VERSION = len(MIGRATIONS)


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


def parse_time(text: str) -> datetime:
    """Return the aware datetime of the store's UTC text."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


def _images(items: list[dict[str, Any]]) -> tuple[Image, ...]:
    return tuple(
        Image(
            url=item["url"],
            width=item.get("width"),
            height=item.get("height"),
            is_cached=bool(item.get("isCached")),
        )
        for item in items
    )


class Store:
    """The article database. Open it with ``Store.open(path)`` and close it when done."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._db = connection  # writes, and the reads inside a write transaction
        # Reads outside a transaction go to a second connection: in WAL mode they never wait
        # for a writer, not even one waiting out another process's lock (busy_timeout).
        self._reader = connection
        self.path = path
        self._identity = _file_identity(path)
        # One connection serves many coroutines: their transactions must take turns.
        self._writing = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    async def open(cls, path: str | Path) -> Self:
        """Open (creating or migrating) the database at ``path``, or raise ``StoreError``."""
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"cannot open database {path}: it is a directory")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from None
        store = cls(connection, path)
        try:
            await store._configure()
            await store._migrate()
            store._reader = await aiosqlite.connect(path, isolation_level=None)
            store._reader.row_factory = sqlite3.Row
            for pragma in ("busy_timeout = 10000", "cache_size = -65536", "query_only = ON"):
                await store._reader.execute(f"PRAGMA {pragma}")
        except BaseException as exc:
            await store.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"cannot use database {path}: {exc}") from None
            raise
        return store

    def check_file(self) -> None:
        """Raise ``StoreError`` if the database file was removed or replaced since it was
        opened: what this store writes would be lost, and the jobs must not go on."""
        if _file_identity(self.path) != self._identity:
            raise StoreError(
                f"the database file {self.path} was removed or replaced while newsbot ran; "
                "restart newsbot (nothing is posted until then)"
            )

    async def close(self) -> None:
        """Close the database connections."""
        if self._reader is not self._db:
            await self._reader.close()
        await self._db.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _configure(self) -> None:
        self._db.row_factory = sqlite3.Row
        await self._db.execute("PRAGMA busy_timeout = 10000")
        mode = await self._scalar("PRAGMA journal_mode = WAL")
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot use database {self.path}: WAL journal mode unavailable")
        await self._db.execute("PRAGMA synchronous = NORMAL")
        await self._db.execute("PRAGMA foreign_keys = ON")
        # 64 MiB of page cache (default 2 MiB): a load inserts into four b-trees and the FTS
        # index in no particular order, and re-reads pages evicted from the small default.
        await self._db.execute("PRAGMA cache_size = -65536")

    async def schema_version(self) -> int:
        """Return the schema version recorded in the database file."""
        return int(await self._scalar("PRAGMA user_version"))

    async def _migrate(self) -> None:
        version = await self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this newsbot "
                f"understands ({SCHEMA_VERSION}); upgrade newsbot or use another --db"
            )
        for number, name, sql in MIGRATIONS[version:]:
            try:
                # executescript commits first, so the whole migration is one explicit transaction.
                await self._db.executescript(
                    f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    await self._db.rollback()
                raise StoreError(f"cannot apply migration {name} to {self.path}: {exc}") from None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """Run the body as one write transaction: all of it is stored, or none of it.

        A database that cannot take the write (disk full, read-only, locked by another
        process past the busy timeout, damaged) raises ``StoreError`` saying so.
        """
        async with self._writing:
            writing = _IN_TRANSACTION.set(True)  # this task's reads see what it writes
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                    await self._db.commit()
                except BaseException:
                    with suppress(sqlite3.Error):  # SQLite may have rolled back already
                        await self._db.rollback()
                    raise
            except sqlite3.IntegrityError:
                raise  # newsbot's own mistake, not the database's condition
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"cannot write to {self.path}: {exc}") from exc
            finally:
                _IN_TRANSACTION.reset(writing)

    async def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = await self._first(sql, params)
        return None if row is None else row[0]

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # One hop to aiosqlite's thread, not three (execute, fetchall, close).
        db = self._db if _IN_TRANSACTION.get() else self._reader
        try:
            return list(await db.execute_fetchall(sql, params))
        except sqlite3.DatabaseError as exc:  # damaged, or changed behind newsbot's back
            raise StoreError(f"cannot use database {self.path}: {exc}") from exc

    # -- loading --------------------------------------------------------------------------

    async def source_files(self, paths: Sequence[str] | None = None) -> dict[str, SourceFile]:
        """Return what the store remembers of the files at ``paths`` (default: all), by path.

        The loader asks only for the files it found: with a million files remembered, all
        of them would take half a gigabyte.
        """
        if paths is None:
            rows = await self._rows("SELECT path, size, mtime_ns, digest FROM source_files")
            return {row[0]: SourceFile(row[0], row[1], row[2], row[3]) for row in rows}
        found: dict[str, SourceFile] = {}
        for chunk in _chunks(paths):
            rows = await self._rows(
                "SELECT path, size, mtime_ns, digest FROM source_files "
                f"WHERE path IN ({_placeholders(len(chunk))})",
                chunk,
            )
            found.update({row[0]: SourceFile(row[0], row[1], row[2], row[3]) for row in rows})
        return found

    async def touch_source_files(self, files: Sequence[SourceFile]) -> None:
        """Record new sizes and times of files whose content did not change."""
        if not files:
            return
        async with self._transaction():
            await self._db.executemany(
                "UPDATE source_files SET size = ?, mtime_ns = ? WHERE path = ?",
                [(f.size, f.mtime_ns, f.path) for f in files],
            )

    async def save_articles(
        self, items: Sequence[tuple[ArticleDraft | ArticleRows, SourceFile | None]]
    ) -> list[SaveOutcome]:
        """Insert or update articles (and remember their files) in one transaction.

        An article is identified by its canonical URL: saving it again replaces its fields,
        topics and related coverage and never duplicates it. The loader passes ``ArticleRows``
        built in its worker processes; anything else may pass drafts.
        """
        if not items:
            return []
        now = format_time(datetime.now(UTC))
        rows = [
            (item if isinstance(item, ArticleRows) else article_rows(item), source)
            for item, source in items
        ]
        async with self._transaction():  # what is known is read under the write lock
            known = await self._known_articles([article.url for article, _ in rows])
            outcomes: list[SaveOutcome] = []
            latest: dict[str, tuple[ArticleRows, str | None]] = {}
            for article, source in rows:
                url, path = article.url, source.path if source else None
                previous = latest.get(url)
                other = previous[1] if previous is not None else known.get(url, (0, None))[1]
                status: Literal["added", "updated"] = (
                    "updated" if previous is not None or url in known else "added"
                )
                duplicate_of = other if other is not None and other != path else None
                outcomes.append(SaveOutcome(url, status, duplicate_of))
                latest[url] = (article, path)
            await self._write_articles(latest, now, [url for url in latest if url in known])
            await self._db.executemany(
                "INSERT INTO source_files (path, size, mtime_ns, digest, url) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size = excluded.size, "
                "mtime_ns = excluded.mtime_ns, digest = excluded.digest, url = excluded.url",
                [(s.path, s.size, s.mtime_ns, s.digest, a.url) for a, s in rows if s is not None],
            )
        return outcomes

    async def _known_articles(self, urls: Sequence[str]) -> dict[str, tuple[int, str | None]]:
        """Map each stored URL among ``urls`` to its id and the live file it came from."""
        known: dict[str, tuple[int, str | None]] = {}
        unique = list(dict.fromkeys(urls))
        for chunk in _chunks(unique):
            rows = await self._rows(
                "SELECT a.url, a.id, sf.path FROM articles AS a "
                "LEFT JOIN source_files AS sf ON sf.path = a.source_path AND sf.url = a.url "
                f"WHERE a.url IN ({_placeholders(len(chunk))})",
                chunk,
            )
            known.update({row[0]: (row[1], row[2]) for row in rows})
        return known

    async def _write_articles(
        self, articles: dict[str, tuple[ArticleRows, str | None]], now: str, replace: list[str]
    ) -> None:
        db = self._db
        await db.executemany(
            "INSERT INTO providers (domain, name) VALUES (?, ?) "
            "ON CONFLICT (domain) DO UPDATE SET name = excluded.name "
            "WHERE name IS NOT excluded.name",
            list({a.provider_domain: a.provider_name for a, _ in articles.values()}.items()),
        )
        await db.executemany(
            """
            INSERT INTO articles (
                url, original_url, web_url, title, excerpt, category, type, published_at,
                quality, heat, source_published, provider_id, images, secured, extra, body,
                source_path, loaded_at, updated_at
            ) VALUES (
                ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                (SELECT id FROM providers WHERE domain = ?), ?, ?, ?, ?, ?, ?, ?
            )
            ON CONFLICT (url) DO UPDATE SET
                original_url = excluded.original_url, web_url = excluded.web_url,
                title = excluded.title, excerpt = excluded.excerpt,
                category = excluded.category, type = excluded.type,
                published_at = excluded.published_at, quality = excluded.quality,
                heat = excluded.heat, source_published = excluded.source_published,
                provider_id = excluded.provider_id, images = excluded.images,
                secured = excluded.secured, extra = excluded.extra, body = excluded.body,
                source_path = excluded.source_path, updated_at = excluded.updated_at
            """,
            [(*a.article, path, now, now) for a, path in articles.values()],
        )
        if replace:
            await db.executemany(
                "DELETE FROM article_topics WHERE article_id = "
                "(SELECT id FROM articles WHERE url = ?)",
                [(url,) for url in replace],
            )
            await db.executemany(
                "DELETE FROM related WHERE article_id = (SELECT id FROM articles WHERE url = ?)",
                [(url,) for url in replace],
            )
        topics = [row for a, _ in articles.values() for row in a.topics]
        await db.executemany(
            "INSERT INTO topics (key, name) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            list({key: spelling for _, key, _, spelling, _, _ in topics}.items()),
        )
        await db.executemany(
            "INSERT INTO article_topics "
            "(article_id, topic_id, position, spelling, published_at, quality) "
            "VALUES ((SELECT id FROM articles WHERE url = ?), "
            "(SELECT id FROM topics WHERE key = ?), ?, ?, ?, ?)",
            topics,
        )
        await self._count_topics(topics)
        await db.executemany(
            "INSERT INTO related (article_id, position, title, url, excerpt, published_at, "
            "provider, quality, type, amp_url, cdn_amp_url, images) VALUES ("
            "(SELECT id FROM articles WHERE url = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [row for a, _ in articles.values() for row in a.related],
        )

    async def _count_topics(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Add newly inserted article topics (``TOPIC_COLUMNS`` rows) to the kept counts.

        One statement per topic, spelling or (topic, quality) of the batch instead of four
        trigger statements per row (migration 0005); deletes still count by trigger.
        """
        topics: Counter[str] = Counter()
        spellings: Counter[tuple[str, str]] = Counter()
        qualities: Counter[tuple[str, int]] = Counter()
        for _, key, _, spelling, _, quality in rows:
            topics[key] += 1
            spellings[key, spelling] += 1
            if quality is not None:
                qualities[key, quality] += 1
        db = self._db
        await db.executemany(
            "UPDATE topics SET article_count = article_count + ? WHERE key = ?",
            [(count, key) for key, count in topics.items()],
        )
        await db.executemany(
            "INSERT INTO topic_spellings (topic_id, spelling, uses) "
            "VALUES ((SELECT id FROM topics WHERE key = ?), ?, ?) "
            "ON CONFLICT (topic_id, spelling) DO UPDATE SET uses = uses + excluded.uses",
            [(key, spelling, uses) for (key, spelling), uses in spellings.items()],
        )
        await db.executemany(  # the displayed name: the most used spelling, ties alphabetical
            "UPDATE topics SET name = (SELECT spelling FROM topic_spellings "
            "WHERE topic_id = topics.id ORDER BY uses DESC, spelling LIMIT 1) WHERE key = ?",
            [(key,) for key in topics],
        )
        await db.executemany(
            "INSERT INTO topic_quality_counts (topic_id, quality, article_count) "
            "VALUES ((SELECT id FROM topics WHERE key = ?), ?, ?) ON CONFLICT (topic_id, quality) "
            "DO UPDATE SET article_count = article_count + excluded.article_count",
            [(key, quality, count) for (key, quality), count in qualities.items()],
        )

    # -- reading articles -----------------------------------------------------------------

    async def _articles(self, ids: Sequence[int]) -> list[Article]:
        """Return the articles with ``ids``, complete with topics and related, in that order."""
        if not ids:
            return []
        rows = await self._rows(
            _ARTICLES_IN_ORDER.format(page="SELECT value, key FROM json_each(?)", total="NULL"),
            [json.dumps(list(ids))],
        )
        return [_article(row) for row in rows]

    async def _page(
        self, ids_sql: str, count_sql: str, params: Sequence[Any], limit: int, offset: int
    ) -> ArticlePage:
        """Return one page of ``ids_sql``'s articles and ``count_sql``'s total, in one statement."""
        limit, offset = max(0, limit), max(0, offset)
        page = f"SELECT *, row_number() OVER () FROM ({ids_sql} LIMIT ? OFFSET ?)"
        rows = await self._rows(
            _ARTICLES_IN_ORDER.format(page=page, total=count_sql),
            [*params, limit, offset, *params],
        )
        # Past the last page (or with no match at all) there is no row to carry the total.
        total = int(rows[0]["total"] if rows else await self._scalar(count_sql, params))
        return ArticlePage(tuple(_article(row) for row in rows), total, offset, limit)

    async def article(self, article_id: int) -> Article | None:
        """Return one article by its id."""
        found = await self._articles([article_id])
        return found[0] if found else None

    async def article_by_url(self, url: str) -> Article | None:
        """Return one article by any of its URLs (tracking parameters and case do not matter)."""
        try:
            key = canonical_url(url)
        except ValueError:
            return None
        article_id = await self._scalar(
            "SELECT id FROM articles WHERE url = ? OR original_url = ? OR web_url = ? LIMIT 1",
            [key, url.strip(), url.strip()],
        )
        return None if article_id is None else await self.article(article_id)

    async def topic(self, name: str) -> TopicCount | None:
        """Return the topic called ``name`` (any case), or None when no article has it."""
        row = await self._first(
            "SELECT name, article_count FROM topics WHERE key = ? AND article_count > 0",
            [topic_key(name)],
        )
        return None if row is None else TopicCount(row[0], row[1])

    async def articles_by_topic(
        self, topic: str, *, min_quality: int | None = None, limit: int = 10, offset: int = 0
    ) -> ArticlePage:
        """Return a topic's articles, newest first, optionally of at least ``min_quality``."""
        where = "topic_id = (SELECT id FROM topics WHERE key = ?)"
        params: list[Any] = [topic_key(topic)]
        # Totals come from the kept counts (migrations 0004, 0005), not from counting rows.
        total = "SELECT coalesce(sum(article_count), 0) FROM topics WHERE key = ?"
        if min_quality is not None:
            where += " AND quality >= ?"
            params.append(min_quality)
            total = (
                f"SELECT coalesce(sum(article_count), 0) FROM topic_quality_counts WHERE {where}"
            )
        return await self._page(
            f"SELECT article_id FROM article_topics WHERE {where} "
            "ORDER BY published_at DESC, article_id DESC",
            total,
            params,
            limit,
            offset,
        )

    async def provider_ids(self, name_or_domain: str) -> list[int]:
        """Return the providers whose name or domain is ``name_or_domain``, in any case."""
        text = name_or_domain.strip()
        domain = url_host(text) if is_web_url(text) else text.lower().removeprefix("www.")
        rows = await self._rows(
            "SELECT id FROM providers WHERE (domain = ? OR name = ? COLLATE NOCASE) "
            "AND article_count > 0",
            [domain, text],
        )
        return [row[0] for row in rows]

    async def articles_by_provider(
        self,
        provider: str,
        *,
        min_quality: int | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> ArticlePage:
        """Return a provider's articles (matched by name or domain), newest first."""
        ids = await self.provider_ids(provider)
        marks = _placeholders(len(ids))
        where = f"provider_id IN ({marks})"
        params: list[Any] = list(ids)
        total = f"SELECT coalesce(sum(article_count), 0) FROM providers WHERE id IN ({marks})"
        if min_quality is not None:
            where += " AND quality >= ?"
            params.append(min_quality)
            total = f"SELECT count(*) FROM articles WHERE {where}"
        return await self._page(
            f"SELECT id FROM articles WHERE {where} ORDER BY published_at DESC, id DESC",
            total,
            params,
            limit,
            offset,
        )

    async def latest_articles(
        self, *, min_quality: int | None = None, limit: int = 10, offset: int = 0
    ) -> ArticlePage:
        """Return the newest articles, optionally of at least ``min_quality``."""
        where, params = ("quality >= ?", [min_quality]) if min_quality is not None else ("1", [])
        total = (
            "SELECT coalesce(sum(article_count), 0) FROM quality_counts WHERE quality >= ?"
            if min_quality is not None
            else "SELECT coalesce(sum(article_count), 0) FROM providers"
        )
        return await self._page(
            f"SELECT id FROM articles WHERE {where} ORDER BY published_at DESC, id DESC",
            total,
            params,
            limit,
            offset,
        )

    async def search(self, text: str, *, limit: int = 10, offset: int = 0) -> ArticlePage:
        """Return the articles matching the words of ``text``, best match first (bm25).

        Any text is safe: FTS syntax is never passed through. When no article has every
        word, articles with any of them are returned instead.
        """
        terms = search_terms(text)
        if not terms:
            return ArticlePage((), 0, max(0, offset), max(0, limit))
        common = await self._common_words(terms)
        words = [term for term in terms if term not in common] or terms
        # bm25 weighs a word in most articles at about zero, yet reads its whole posting
        # list to find that out (~25-45 ms per such word at a million articles): when
        # every word is that common, relevance cannot tell the matches apart; newest first.
        newest_first = len(common) == len(terms)
        page = await self._search(match_expression(words), limit, offset, newest_first)
        if page.total == 0 and len(terms) > 1:
            page = await self._search(match_expression(terms, any_term=True), limit, offset)
        return page

    async def _common_words(self, terms: list[str]) -> set[str]:
        """Return the words in more than half of the newest articles.

        bm25 gives such a word no weight (its IDF is clamped to about zero) yet reads its
        whole posting list to find that out: "the" in a million articles costs ~30 ms.
        """
        newest = await self._scalar("SELECT max(id) FROM articles") or 0
        common = set()
        for term in terms:
            share = await self._scalar(
                "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ? AND rowid > ?",
                [match_expression([term]), newest - COMMON_SAMPLE],
            )
            if share * 2 > COMMON_SAMPLE:
                common.add(term)
        return common

    async def _search(
        self, expression: str, limit: int, offset: int, newest_first: bool = False
    ) -> ArticlePage:
        # bm25 costs every match it ranks, so a search ranks at most SEARCH_CAP matches: all
        # of them, or, for a broader search, the SEARCH_CAP newest (news goes stale); its
        # total is then a lower bound ("1,000+").
        limit, offset = max(0, limit), max(0, offset)
        total = int(
            await self._scalar(
                "SELECT count(*) FROM (SELECT 1 FROM articles_fts WHERE articles_fts MATCH ? "
                "LIMIT ?)",
                [expression, SEARCH_CAP + 1],
            )
        )
        oldest = 0
        if total > SEARCH_CAP:
            oldest = await self._scalar(
                "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? "
                "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
                [expression, SEARCH_CAP - 1],
            )
        # Titles weigh more than excerpts: a word in the headline is what the story is about.
        order = "rowid DESC" if newest_first else "bm25(articles_fts, 4.0, 1.0)"
        rows = await self._rows(
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? AND rowid >= ? "
            f"ORDER BY {order} LIMIT ? OFFSET ?",
            [expression, oldest, limit, offset],
        )
        articles = await self._articles([row[0] for row in rows])
        if total > SEARCH_CAP:
            return ArticlePage(tuple(articles), SEARCH_CAP, offset, limit, total_exact=False)
        return ArticlePage(tuple(articles), total, offset, limit)

    # -- topics and providers -------------------------------------------------------------

    async def _first(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._rows(sql, params)  # callers ask for one row: a key, a count, LIMIT 1
        return rows[0] if rows else None

    async def topics(self) -> list[TopicCount]:
        """Return every topic with its article count, most covered first."""
        rows = await self._rows(
            "SELECT name, article_count FROM topics WHERE article_count > 0 "
            "ORDER BY article_count DESC, key"
        )
        return [TopicCount(row[0], row[1]) for row in rows]

    async def providers(self) -> list[ProviderCount]:
        """Return every provider with its article count, most prolific first."""
        rows = await self._rows(
            "SELECT name, domain, article_count FROM providers WHERE article_count > 0 "
            "ORDER BY article_count DESC, name COLLATE NOCASE"
        )
        return [ProviderCount(row[0], row[1], row[2]) for row in rows]

    async def suggest_topics(self, text: str, limit: int = MAX_SUGGESTIONS) -> list[TopicCount]:
        """Return topics starting with ``text``, then containing it, by article count."""
        key = topic_key(text)
        rows = await self._rows(
            "SELECT name, article_count FROM topics "
            "WHERE article_count > 0 AND instr(key, ?) > 0 "
            "ORDER BY instr(key, ?) != 1, article_count DESC, key LIMIT ?",
            [key, key, min(limit, MAX_SUGGESTIONS)],
        )
        return [TopicCount(row[0], row[1]) for row in rows]

    async def suggest_providers(
        self, text: str, limit: int = MAX_SUGGESTIONS
    ) -> list[ProviderCount]:
        """Return providers whose name or domain starts with ``text``, then contains it."""
        needle = " ".join(text.split()).lower()
        rows = await self._rows(
            "SELECT name, domain, article_count FROM providers "
            "WHERE article_count > 0 AND (instr(lower(name), ?) > 0 OR instr(domain, ?) > 0) "
            "ORDER BY (instr(lower(name), ?) != 1 AND instr(domain, ?) != 1), "
            "article_count DESC, name COLLATE NOCASE LIMIT ?",
            [needle, needle, needle, needle, min(limit, MAX_SUGGESTIONS)],
        )
        return [ProviderCount(row[0], row[1], row[2]) for row in rows]

    async def article_count(self) -> int:
        """Return how many articles are stored."""
        return int(await self._scalar("SELECT count(*) FROM articles"))

    # -- subscriptions --------------------------------------------------------------------

    async def subscribe(
        self,
        *,
        guild_id: int,
        channel_id: int,
        topic: str,
        min_quality: int,
        created_by: int | None = None,
        mode: Mode = "each",
        backfill: int = 0,
    ) -> tuple[Subscription, bool]:
        """Subscribe a channel to a topic, or update its threshold and mode; tell if it is new.

        A new subscription gets the ``backfill`` best of the topic's recent postable
        articles from the backlog; everything loaded later is due for it anyway.
        """
        key = topic_key(topic)
        async with self._transaction():
            existing = await self._scalar(
                "SELECT id FROM subscriptions WHERE channel_id = ? AND topic_key = ?",
                [channel_id, key],
            )
            await self._db.execute(
                "INSERT INTO subscriptions (guild_id, channel_id, topic_key, topic_name, "
                "min_quality, created_at, created_by, mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (channel_id, topic_key) DO UPDATE SET "
                "min_quality = excluded.min_quality, topic_name = excluded.topic_name, "
                "mode = excluded.mode",
                [guild_id, channel_id, key, topic, min_quality, format_time(datetime.now(UTC)),
                 created_by, mode],
            )  # fmt: skip
            if existing is None and backfill > 0:
                await self._db.execute(
                    """
                    INSERT INTO backfill (subscription_id, article_id)
                    SELECT s.id, recent.id FROM subscriptions AS s, (
                        SELECT a.id, a.quality, a.published_at
                        FROM article_topics AS at JOIN articles AS a ON a.id = at.article_id
                        WHERE at.topic_id = (SELECT id FROM topics WHERE key = ?)
                          AND a.source_published = 0 AND a.quality >= ?
                        ORDER BY a.published_at DESC LIMIT ?
                    ) AS recent
                    WHERE s.channel_id = ? AND s.topic_key = ?
                    ORDER BY recent.quality DESC, recent.published_at DESC LIMIT ?
                    """,
                    [key, min_quality, BACKLOG_WINDOW, channel_id, key, backfill],
                )
        found = await self.subscription(guild_id=guild_id, channel_id=channel_id, topic=topic)
        assert found is not None
        return found, existing is None

    async def subscription(
        self, *, guild_id: int, channel_id: int, topic: str
    ) -> Subscription | None:
        """Return one subscription of a server's channel to a topic."""
        rows = await self._rows(
            f"{_SUBSCRIPTION_SELECT} WHERE guild_id = ? AND channel_id = ? AND topic_key = ?",
            [guild_id, channel_id, topic_key(topic)],
        )
        return _subscription(rows[0]) if rows else None

    async def unsubscribe(self, *, guild_id: int, channel_id: int, topic: str) -> bool:
        """Remove a server's channel subscription to a topic; tell whether there was one."""
        async with self._transaction():
            cursor = await self._db.execute(
                "DELETE FROM subscriptions WHERE guild_id = ? AND channel_id = ? AND topic_key = ?",
                [guild_id, channel_id, topic_key(topic)],
            )
        return cursor.rowcount > 0

    async def subscriptions(self, guild_id: int) -> list[Subscription]:
        """Return a server's subscriptions, by channel then topic."""
        rows = await self._rows(
            f"{_SUBSCRIPTION_SELECT} WHERE guild_id = ? ORDER BY channel_id, topic_key",
            [guild_id],
        )
        return [_subscription(row) for row in rows]

    async def suggest_subscribed_topics(
        self, guild_id: int, text: str, limit: int = MAX_SUGGESTIONS
    ) -> list[str]:
        """Return the topics a server subscribes to that start with, then contain, ``text``."""
        key = topic_key(text)
        rows = await self._rows(
            "SELECT topic_name FROM subscriptions WHERE guild_id = ? AND instr(topic_key, ?) > 0 "
            "GROUP BY topic_key ORDER BY instr(topic_key, ?) != 1, count(*) DESC, topic_key "
            "LIMIT ?",
            [guild_id, key, key, min(limit, MAX_SUGGESTIONS)],
        )
        return [row[0] for row in rows]

    async def pause_subscription(self, subscription_id: int, reason: str) -> None:
        """Stop posting to a subscription for ``reason`` (shown by ``/subscriptions``)."""
        async with self._transaction():
            await self._db.execute(
                "UPDATE subscriptions SET paused_reason = ?, paused_at = ? WHERE id = ?",
                [reason, format_time(datetime.now(UTC)), subscription_id],
            )

    async def resume_subscription(self, subscription_id: int) -> None:
        """Post to a paused subscription again."""
        async with self._transaction():
            await self._db.execute(
                "UPDATE subscriptions SET paused_reason = NULL, paused_at = NULL WHERE id = ?",
                [subscription_id],
            )

    async def remove_channel_subscriptions(self, channel_id: int) -> int:
        """Remove every subscription (and unsent message) of a deleted channel."""
        return await self._remove_subscriptions("channel_id", channel_id)

    async def remove_guild_subscriptions(self, guild_id: int) -> int:
        """Remove every subscription (and unsent message) of a server the bot left."""
        return await self._remove_subscriptions("guild_id", guild_id)

    async def _remove_subscriptions(
        self, column: Literal["channel_id", "guild_id"], value: int
    ) -> int:
        async with self._transaction():
            await self._db.execute(f"DELETE FROM outbox WHERE {column} = ?", [value])
            cursor = await self._db.execute(
                f"DELETE FROM subscriptions WHERE {column} = ?", [value]
            )
        return cursor.rowcount

    async def all_subscriptions(self) -> list[Subscription]:
        """Return every subscription of every server, active or paused."""
        rows = await self._rows(f"{_SUBSCRIPTION_SELECT} ORDER BY guild_id, channel_id, topic_key")
        return [_subscription(row) for row in rows]

    # -- posting --------------------------------------------------------------------------

    async def due_articles(
        self, channel_id: int, *, topic: str | None = None, limit: int | None = None
    ) -> list[DueArticle]:
        """Return what a channel's active subscriptions make due, best quality first.

        Due: on the subscription's topic, not published at the source, of known quality at
        least the subscription's minimum, loaded after it was made (or picked as its
        backfill), never delivered to the channel, and not waiting in the outbox.
        """
        params: list[Any] = [channel_id]
        topic_filter = ""
        if topic is not None:
            topic_filter = "AND s.topic_key = ?"
            params.append(topic_key(topic))
        rows = await self._rows(
            f"""
            SELECT a.id, s.id, s.mode FROM subscriptions AS s
            JOIN topics AS t ON t.key = s.topic_key
            JOIN article_topics AS at ON at.topic_id = t.id
            JOIN articles AS a ON a.id = at.article_id
            WHERE s.channel_id = ? AND s.paused_reason IS NULL {topic_filter}
              AND a.source_published = 0
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
            """,
            params,
        )
        due: dict[int, DueArticle] = {}
        for article_id, subscription_id, mode in rows:  # an article on two topics: once
            due.setdefault(article_id, DueArticle(article_id, subscription_id, mode))
        return list(due.values())[:limit]

    async def articles(self, ids: Sequence[int]) -> list[Article]:
        """Return the articles with ``ids``, in that order (unknown ids are left out)."""
        found: list[Article] = []
        for chunk in _chunks(list(ids)):
            found.extend(await self._articles(chunk))
        return found

    async def outbox(self, channel_id: int | None = None) -> list[OutboxMessage]:
        """Return the messages whose sending was not confirmed (all, or one channel's)."""
        where, params = ("WHERE channel_id = ?", [channel_id]) if channel_id else ("", [])
        rows = await self._rows(
            "SELECT nonce, guild_id, channel_id, article_ids, created_at, attempts "
            f"FROM outbox {where} ORDER BY created_at, nonce",
            params,
        )
        return [
            OutboxMessage(row[0], row[1], row[2], tuple(json.loads(row[3])), parse_time(row[4]),
                          row[5])
            for row in rows
        ]  # fmt: skip

    async def add_outbox(self, message: OutboxMessage) -> None:
        """Remember a message before it is sent, so a crash cannot make it be sent twice."""
        async with self._transaction():
            await self._db.execute(
                "INSERT INTO outbox (nonce, guild_id, channel_id, article_ids, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (nonce) DO NOTHING",
                [message.nonce, message.guild_id, message.channel_id,
                 json.dumps(list(message.article_ids)), format_time(message.created_at)],
            )  # fmt: skip

    async def record_delivery(self, nonce: str, message_id: int, delivered_at: datetime) -> None:
        """Record that Discord accepted an outbox message: its articles are delivered."""
        async with self._transaction():
            await self._db.execute(
                """
                INSERT INTO deliveries (article_id, channel_id, guild_id, message_id, delivered_at)
                SELECT j.value, o.channel_id, o.guild_id, ?, ?
                FROM outbox AS o, json_each(o.article_ids) AS j
                WHERE o.nonce = ? AND EXISTS (SELECT 1 FROM articles WHERE id = j.value)
                ON CONFLICT (article_id, channel_id) DO NOTHING
                """,
                [message_id, format_time(delivered_at), nonce],
            )
            await self._db.execute("DELETE FROM outbox WHERE nonce = ?", [nonce])

    async def record_refusal(self, nonce: str, reason: str, refused_at: datetime) -> None:
        """Record that Discord refused an outbox message in every form: never retry it."""
        async with self._transaction():
            await self._db.execute(
                """
                INSERT INTO refusals (article_id, channel_id, reason, refused_at)
                SELECT j.value, o.channel_id, ?, ?
                FROM outbox AS o, json_each(o.article_ids) AS j
                WHERE o.nonce = ? AND EXISTS (SELECT 1 FROM articles WHERE id = j.value)
                ON CONFLICT (article_id, channel_id) DO NOTHING
                """,
                [reason, format_time(refused_at), nonce],
            )
            await self._db.execute("DELETE FROM outbox WHERE nonce = ?", [nonce])

    async def refusal(self, article_id: int, channel_id: int) -> str | None:
        """Return why Discord refused an article in a channel, if it did."""
        value = await self._scalar(
            "SELECT reason FROM refusals WHERE article_id = ? AND channel_id = ?",
            [article_id, channel_id],
        )
        return None if value is None else str(value)

    async def drop_outbox(self, nonce: str) -> None:
        """Forget a message that Discord refused: its articles are due again."""
        async with self._transaction():
            await self._db.execute("DELETE FROM outbox WHERE nonce = ?", [nonce])

    async def count_outbox_attempt(self, nonce: str) -> None:
        """Count a send whose outcome is unknown (5xx, time-out): it is resent later."""
        async with self._transaction():
            await self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1 WHERE nonce = ?", [nonce]
            )

    async def delivery(self, article_id: int, channel_id: int) -> Delivery | None:
        """Return when an article was delivered to a channel, if it was."""
        row = await self._first(
            "SELECT article_id, channel_id, guild_id, message_id, delivered_at FROM deliveries "
            "WHERE article_id = ? AND channel_id = ?",
            [article_id, channel_id],
        )
        if row is None:
            return None
        return Delivery(row[0], row[1], row[2], row[3], parse_time(row[4]))

    async def deliveries(self, channel_id: int) -> list[Delivery]:
        """Return everything delivered to a channel, oldest first."""
        rows = await self._rows(
            "SELECT article_id, channel_id, guild_id, message_id, delivered_at FROM deliveries "
            "WHERE channel_id = ? ORDER BY delivered_at, message_id, article_id",
            [channel_id],
        )
        return [Delivery(r[0], r[1], r[2], r[3], parse_time(r[4])) for r in rows]

    async def loaded_at(self, article_id: int) -> datetime | None:
        """Return when an article was first stored."""
        value = await self._scalar("SELECT loaded_at FROM articles WHERE id = ?", [article_id])
        return None if value is None else parse_time(value)

    async def in_backfill(self, subscription_id: int, article_id: int) -> bool:
        """Tell whether an article was picked from the backlog for a new subscription."""
        return bool(
            await self._scalar(
                "SELECT 1 FROM backfill WHERE subscription_id = ? AND article_id = ?",
                [subscription_id, article_id],
            )
        )

    # -- small persistent state -----------------------------------------------------------

    async def get_state(self, key: str) -> str | None:
        """Return a remembered value, such as the hash of the last command sync."""
        value = await self._scalar("SELECT value FROM state WHERE key = ?", [key])
        return None if value is None else str(value)

    async def set_state(self, key: str, value: str) -> None:
        """Remember a value across restarts."""
        async with self._transaction():
            await self._db.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )


# Every article a query shows, with its provider, topics and related coverage, in one
# statement (one trip to the database thread): {page} yields (article id, rank).
_ARTICLES_IN_ORDER = """
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


def _article(row: sqlite3.Row) -> Article:
    return Article(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        excerpt=row["excerpt"],
        published_at=parse_time(row["published_at"]),
        provider=Provider(name=row["provider_name"], domain=row["provider_domain"]),
        quality=row["quality"],
        heat=row["heat"],
        source_published=bool(row["source_published"]),
        topics=tuple(json.loads(row["topics"])),
        images=_images(json.loads(row["images"])),
        related=tuple(_related_item(item) for item in json.loads(row["related"])),
        original_url=row["original_url"],
        web_url=row["web_url"],
        category=row["category"],
        type=row["type"],
    )


_SUBSCRIPTION_SELECT = (
    "SELECT id, guild_id, channel_id, topic_name, min_quality, created_at, created_by, mode, "
    "paused_reason, paused_at FROM subscriptions"
)


def _subscription(row: sqlite3.Row) -> Subscription:
    return Subscription(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        topic=row["topic_name"],
        min_quality=row["min_quality"],
        created_at=parse_time(row["created_at"]),
        created_by=row["created_by"],
        mode=row["mode"],
        paused_reason=row["paused_reason"],
        paused_at=parse_time(row["paused_at"]) if row["paused_at"] else None,
    )


def _related_item(item: list[Any]) -> RelatedItem:
    """Build a related item from its JSON array (the column order of ``_ARTICLES_IN_ORDER``)."""
    title, url, excerpt, published_at, provider, quality, kind, amp, cdn_amp, images = item
    return RelatedItem(
        title=title,
        url=url,
        excerpt=excerpt,
        published_at=parse_time(published_at) if published_at else None,
        provider=Provider(provider["name"], provider["domain"]) if provider else None,
        quality=quality,
        type=kind,
        amp_url=amp,
        cdn_amp_url=cdn_amp,
        images=tuple(
            Image(i["url"], i.get("width"), i.get("height"), bool(i.get("isCached")))
            for i in images
        ),
    )
