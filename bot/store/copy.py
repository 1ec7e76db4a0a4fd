"""Copy a whole database into another, SQLite or PostgreSQL either way: ``newsbot copy``.

The copy goes through a dump that neither backend owns: ``TABLES`` are the base tables, in
an order where every row comes after the rows it refers to, each with the one column list
that both its reader and its writer are built from. Rows are tuples of Python values in
that order: aware datetimes, parsed JSON, booleans, lists of ids, ints and text. What a
database derives from those rows is not copied but rebuilt by the target: article counts
of providers, topics and qualities, topic spellings, and the full-text index.

Each backend has a reader and a writer (``bot.store.sqlite.dump``,
``bot.store.postgres.dump``). The reader reads one snapshot, so copying a database that
``newsbot run`` writes to is safe. The writer refuses a target that already holds newsbot
data before writing anything, writes everything in one transaction, and counts the rows
of every table against the source's snapshot before it commits.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, get_args

from bot.errors import StoreError
from bot.store.target import DatabaseTarget, PostgresTarget

# How a column's values are held in the dump, and so how each backend converts them:
# "time" an aware datetime, "json" a parsed document, "bool" a bool, "ids" a list of ints.
Kind = Literal["int", "text", "time", "json", "bool", "ids"]

CHUNK = 1000  # rows a reader yields, and a writer inserts, at a time


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a base table, and the kind of value it holds."""

    name: str
    kind: Kind


@dataclass(frozen=True, slots=True)
class Table:
    """A base table: its name, its primary key, and its columns in dump order."""

    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Return the column names, in dump order."""
        return tuple(column.name for column in self.columns)

    @property
    def identity(self) -> bool:
        """Tell whether the table's key is an id the database hands out (kept by the copy)."""
        return self.key == ("id",)


def _table(name: str, key: str, columns: str) -> Table:
    """Build a table from ``"name:kind ..."``; the key's columns are space-separated."""
    parsed = []
    for spec in columns.split():
        column, kind = spec.split(":")
        if kind not in get_args(Kind):
            raise ValueError(f"{name}.{column}: unknown kind {kind!r}")
        parsed.append(Column(column, cast(Kind, kind)))
    table = Table(name, tuple(key.split()), tuple(parsed))
    if not set(table.key) <= set(table.names):
        raise ValueError(f"{name}: the key {table.key} is not among the columns")
    return table


# Not here, because the target derives them: providers.article_count, topics.article_count,
# topic_spellings, quality_counts, topic_quality_counts and the full-text index. A topic's
# name is copied: it is the most used spelling only while the topic has articles. Nor a
# subscription's compiled filters (include_match, exclude_match): each backend compiles
# the queries its own way, and the target does so from the copied queries.
# Nor PostgreSQL's send_turns: the next second's schedule of sends, not data.
TABLES: tuple[Table, ...] = (
    _table("providers", "id", "id:int domain:text name:text"),
    _table(
        "articles",
        "id",
        "id:int url:text original_url:text web_url:text title:text excerpt:text "
        "category:text type:text published_at:time quality:int heat:int "
        "source_published:bool provider_id:int images:json secured:text extra:json "
        "body:text source_path:text loaded_at:time updated_at:time",
    ),
    _table("topics", "id", "id:int key:text name:text"),
    _table(
        "article_topics",
        "article_id topic_id",
        "article_id:int topic_id:int position:int spelling:text published_at:time quality:int",
    ),
    _table(
        "related",
        "article_id position",
        "article_id:int position:int title:text url:text excerpt:text published_at:time "
        "provider:json quality:int type:text amp_url:text cdn_amp_url:text images:json "
        "story_url:text",
    ),
    _table("source_files", "path", "path:text size:int mtime_ns:int digest:text url:text"),
    _table(
        "subscriptions",
        "id",
        "id:int guild_id:int channel_id:int topic_key:text topic_name:text min_quality:int "
        "created_at:time created_by:int paused_reason:text paused_at:time mode:text "
        "include_query:text exclude_query:text mention_role_id:int same_story:text "
        "max_per_day:int style:text thread:bool",
    ),
    _table(
        "subscription_providers",
        "subscription_id rule domain",
        "subscription_id:int rule:text domain:text",
    ),
    _table("state", "key", "key:text value:text"),
    _table(
        "deliveries",
        "article_id channel_id",
        "article_id:int channel_id:int guild_id:int message_id:int delivered_at:time",
    ),
    _table(
        "outbox",
        "nonce",
        "nonce:text guild_id:int channel_id:int article_ids:ids created_at:time attempts:int "
        "style:json",
    ),
    _table("backfill", "subscription_id article_id", "subscription_id:int article_id:int"),
    _table(
        "refusals",
        "article_id channel_id",
        "article_id:int channel_id:int reason:text refused_at:time",
    ),
    _table(
        "candidates",
        "channel_id article_id subscription_id",
        "channel_id:int article_id:int subscription_id:int",
    ),
    _table(
        "alert_channels",
        "guild_id",
        "guild_id:int channel_id:int set_by:int failure:text failed_at:time",
    ),
)

Row = tuple[Any, ...]


def same(value: Any) -> Any:
    """Return ``value``: the conversion of a kind a backend holds as the dump does."""
    return value


def converter(table: Table, kinds: dict[Kind, Callable[[Any], Any]]) -> Callable[[Row], Row]:
    """Return the function that converts a row of ``table`` column by column (NULL stays)."""
    steps = [kinds[column.kind] for column in table.columns]
    return lambda row: tuple(
        None if value is None else step(value) for step, value in zip(steps, row, strict=True)
    )


class DumpReader(Protocol):
    """A database's base tables, read from one snapshot."""

    def rows(self, table: Table) -> AsyncGenerator[Sequence[Row], None]:
        """Yield a table's rows (in ``table.names`` order, by key) a chunk at a time."""
        ...

    async def count(self, table: Table) -> int:
        """Return how many rows a table has in the snapshot."""
        ...


class DumpWriter(Protocol):
    """An empty database being filled in one transaction, which its context commits on
    leaving without an error, once ``finish`` has checked it (and otherwise rolls back)."""

    async def write(self, table: Table, rows: Sequence[Row]) -> None:
        """Insert rows of ``table``, keeping their ids."""
        ...

    async def finish(self, expected: dict[str, int]) -> None:
        """Rebuild what the database derives and check every table's row count.

        Raise ``StoreError`` when a count is not ``expected``'s: nothing is committed then.
        """
        ...


def held_tables_query(names: Sequence[str] | None = None) -> str:
    """Return SQL naming those of the tables ``names`` (default: all) that hold a row.

    The same text works in SQLite and PostgreSQL.
    """
    return " UNION ALL ".join(
        f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})"
        for name in (names if names is not None else [table.name for table in TABLES])
    )


def refuse_filled(target: DatabaseTarget, tables: Sequence[str]) -> StoreError:
    """Return the error that refuses a target already holding rows in ``tables``."""
    return StoreError(
        f"cannot copy into {target.redacted}: it already holds newsbot data "
        f"({', '.join(tables)}); copy into a new file or an empty database"
    )


def check_counts(target: DatabaseTarget, expected: dict[str, int], found: dict[str, int]) -> None:
    """Raise ``StoreError`` naming each table whose row count in the target is not expected."""
    wrong = [
        f"{name} has {found.get(name, 0):,} rows instead of {count:,}"
        for name, count in expected.items()
        if found.get(name, 0) != count
    ]
    if wrong:
        raise StoreError(
            f"the copy into {target.redacted} did not verify, so nothing was kept: "
            + "; ".join(wrong)
        )


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What a copy did: where from, where to, the rows of each table, and how long it took."""

    source: str
    target: str
    tables: dict[str, int]
    seconds: float

    def as_json(self) -> dict[str, object]:
        """Return the report as ``newsbot copy --json`` prints it (URLs without passwords)."""
        return {
            "source": self.source,
            "target": self.target,
            "tables": self.tables,
            "seconds": round(self.seconds, 3),
        }


# Called with a table's name and how many of its rows are copied so far, after each chunk.
Progress = Callable[[str, int], None]


def reading(source: DatabaseTarget) -> AbstractAsyncContextManager[DumpReader]:
    """Return the reader of ``source``'s snapshot, opened as a context."""
    if isinstance(source, PostgresTarget):
        from bot.store.postgres import dump as postgres_dump

        return postgres_dump.reading(source)
    from bot.store.sqlite import dump as sqlite_dump

    return sqlite_dump.reading(source.path)


def filling(target: DatabaseTarget) -> AbstractAsyncContextManager[DumpWriter]:
    """Return the writer into ``target``, opened as a context; refuse a target with data."""
    if isinstance(target, PostgresTarget):
        from bot.store.postgres import dump as postgres_dump

        return postgres_dump.filling(target)
    from bot.store.sqlite import dump as sqlite_dump

    return sqlite_dump.filling(target.path)


async def copy_database(
    source: DatabaseTarget, target: DatabaseTarget, progress: Progress | None = None
) -> CopyReport:
    """Copy every base table of ``source`` into the empty ``target``, or raise ``StoreError``.

    The target gets all of it or, on any failure, nothing; its row counts are checked
    against the source's before it is committed.
    """
    started = time.perf_counter()
    copied: dict[str, int] = {}
    async with reading(source) as reader, filling(target) as writer:
        for table in TABLES:
            copied[table.name] = 0
            async with aclosing(reader.rows(table)) as chunks:  # closed on a write's failure too
                async for chunk in chunks:
                    await writer.write(table, chunk)
                    copied[table.name] += len(chunk)
                    if progress:
                        progress(table.name, copied[table.name])
            if progress and not copied[table.name]:
                progress(table.name, 0)
        # The target's rows are counted against the source's, not only against those read.
        await writer.finish({table.name: await reader.count(table) for table in TABLES})
    return CopyReport(source.redacted, target.redacted, copied, time.perf_counter() - started)
