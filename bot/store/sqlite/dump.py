"""The neutral dump of ``bot.store.copy`` read from, and written into, a SQLite file.

SQLite's own here, and named: times as sortable UTC text, JSON documents and outbox id
lists as JSON text, booleans as 0/1; the snapshot is one read transaction (WAL lets it
read while ``newsbot run`` writes); the counts that the store keeps in Python
(``_count_topics``) are recomputed by SQL after the rows are in.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import StoreError
from bot.store import sql
from bot.store.copy import (
    CHUNK,
    TABLES,
    Kind,
    Row,
    Table,
    check_counts,
    converter,
    held_tables_query,
    refuse_filled,
    same,
)
from bot.store.rows import format_time
from bot.store.sqlite.database import Database, Writer, parse_time, placeholders
from bot.store.sqlite.subscriptions import DIALECT as SUBSCRIPTIONS
from bot.store.subscriptions import filter_update
from bot.store.target import SqliteTarget

_READ: dict[Kind, Callable[[Any], Any]] = {
    "int": same,
    "text": same,
    "time": parse_time,
    "json": json.loads,
    "bool": bool,
    "ids": json.loads,
}
# json.dumps writes the same text the store writes (bot.store.rows), so a SQLite to SQLite
# copy keeps every byte.
_WRITTEN: dict[Kind, Callable[[Any], Any]] = {
    "int": same,
    "text": same,
    "time": format_time,
    "json": json.dumps,
    "bool": int,
    "ids": lambda ids: json.dumps(list(ids)),
}


class SqliteReader:
    """``DumpReader`` over one read transaction of a SQLite file."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._connection = connection
        self._path = path

    async def rows(self, table: Table) -> AsyncGenerator[Sequence[Row], None]:
        """Yield a table's rows (in ``table.names`` order, by key) a chunk at a time."""
        convert = converter(table, _READ)
        sql = f"SELECT {', '.join(table.names)} FROM {table.name} ORDER BY {', '.join(table.key)}"
        try:
            async with self._connection.execute(sql) as cursor:
                while chunk := await cursor.fetchmany(CHUNK):
                    yield [convert(tuple(row)) for row in chunk]
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {table.name} from {self._path}: {exc}") from None

    async def count(self, table: Table) -> int:
        """Return how many rows a table has in the snapshot."""
        try:
            rows = await self._connection.execute_fetchall(f"SELECT count(*) FROM {table.name}")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot count {table.name} in {self._path}: {exc}") from None
        return int(next(iter(rows))[0])


@asynccontextmanager
async def reading(path: Path) -> AsyncIterator[SqliteReader]:
    """Open a snapshot of the SQLite file at ``path`` for reading, or raise ``StoreError``."""
    if not path.is_file():
        raise StoreError(f"cannot copy {path}: there is no database file there")
    # As every command does: an older file is migrated, a newer one refused, a bad one named.
    await (await Database.open(path)).close()
    try:
        connection = await aiosqlite.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from None
    try:
        try:
            await connection.execute("PRAGMA busy_timeout = 10000")
            await connection.execute("PRAGMA query_only = ON")
            # A read transaction's snapshot is taken by its first read: take it now, so
            # every table is read as it was at this moment, whatever writers do meanwhile.
            await connection.execute("BEGIN")
            await connection.execute_fetchall("SELECT count(*) FROM sqlite_schema")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {path}: {exc}") from None
        yield SqliteReader(connection, path)
    finally:
        with suppress(sqlite3.Error):
            await connection.rollback()
        await connection.close()


# Derived data, recomputed from the base tables once they are in. Inserting articles keeps
# the full-text index, provider and quality counts by trigger already; the topics' counts
# are kept by the store's own code (migration 0005), so they are computed here. Counting
# everything again costs little next to the inserts and makes the target right by itself.
_RECOUNT = (
    "UPDATE providers SET article_count = "
    "(SELECT count(*) FROM articles WHERE provider_id = providers.id)",
    "DELETE FROM quality_counts",
    "INSERT INTO quality_counts (quality, article_count) "
    "SELECT quality, count(*) FROM articles WHERE quality IS NOT NULL GROUP BY quality",
    "UPDATE topics SET article_count = "
    "(SELECT count(*) FROM article_topics WHERE topic_id = topics.id)",
    "DELETE FROM topic_spellings",
    "INSERT INTO topic_spellings (topic_id, spelling, uses) "
    "SELECT topic_id, spelling, count(*) FROM article_topics GROUP BY topic_id, spelling",
    "DELETE FROM topic_quality_counts",
    "INSERT INTO topic_quality_counts (topic_id, quality, article_count) "
    "SELECT topic_id, quality, count(*) FROM article_topics WHERE quality IS NOT NULL "
    "GROUP BY topic_id, quality",
)


class SqliteWriter:
    """``DumpWriter`` into a SQLite file, inside the write transaction ``filling`` opened."""

    def __init__(self, database: Database, writer: Writer, target: SqliteTarget) -> None:
        self._database = database
        self._writer = writer
        self._target = target
        self.finished = False

    async def write(self, table: Table, rows: Sequence[Row]) -> None:
        """Insert rows of ``table``, keeping their ids."""
        convert = converter(table, _WRITTEN)
        sql = (
            f"INSERT INTO {table.name} ({', '.join(table.names)}) "
            f"VALUES ({placeholders(len(table.names))})"
        )
        try:
            await self._writer.executemany(sql, [convert(row) for row in rows])
        except sqlite3.Error as exc:
            raise StoreError(f"cannot copy {table.name} into {self._target}: {exc}") from None

    async def finish(self, expected: dict[str, int]) -> None:
        """Recompute the derived counts and check every table's row count."""
        try:
            for statement in _RECOUNT:
                await self._writer.execute(statement)
            await _compile_filters(self._database, self._writer)
            found = {
                table.name: int(await self._database.scalar(f"SELECT count(*) FROM {table.name}"))
                for table in TABLES
            }
        except sqlite3.Error as exc:
            raise StoreError(f"cannot finish the copy into {self._target}: {exc}") from None
        check_counts(self._target, expected, found)
        self.finished = True


def _existing_file_refusal(path: Path) -> StoreError | None:
    """Return why the existing file at ``path`` cannot be copied into, or None if it can.

    Only an empty file, or a newsbot database without data, can; nothing is written here.
    """
    target = SqliteTarget(path)
    if path.is_dir():
        return StoreError(f"cannot copy into {path}: it is a directory")
    try:
        connection = sqlite3.connect(path, timeout=10)
    except sqlite3.Error as exc:
        return StoreError(f"cannot copy into {path}: {exc}")
    try:
        connection.execute("PRAGMA query_only = ON")
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema")}
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if tables and not version:
            return StoreError(f"cannot copy into {path}: it is a database of another program")
        ours = [table.name for table in TABLES if table.name in tables]
        held = [row[0] for row in connection.execute(held_tables_query(ours))] if ours else []
    except sqlite3.Error as exc:
        return StoreError(f"cannot copy into {path}: it is not a newsbot database ({exc})")
    finally:
        connection.close()
    return refuse_filled(target, held) if held else None


def _remove(path: Path) -> None:
    """Remove a partial database file and SQLite's files beside it."""
    for leftover in (path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))):
        with suppress(FileNotFoundError):
            leftover.unlink()


@asynccontextmanager
async def filling(path: Path) -> AsyncIterator[SqliteWriter]:
    """Open the SQLite file ``path`` for a copy to fill, or refuse it (``StoreError``).

    A new file is written as ``path.partial`` and takes its name only once the copy is
    committed, so a copy that dies never leaves a file that looks complete. An existing
    file without newsbot data is filled in place, in one transaction.
    """
    target = SqliteTarget(path)
    if path.exists() or path.is_symlink():
        if refusal := _existing_file_refusal(path):
            raise refusal
        into = path
    else:
        into = path.with_name(path.name + ".partial")
        _remove(into)  # what a killed copy left
    committed = False
    try:
        database = await Database.open(into)
        try:
            async with database.transaction() as transaction:
                # Again under the write lock: a process may have written since the look.
                if held := [row[0] for row in await database.rows(held_tables_query())]:
                    raise refuse_filled(target, held)
                writer = SqliteWriter(database, transaction, target)
                yield writer
                if not writer.finished:
                    raise RuntimeError("a copy must be finished before it is committed")
        finally:
            await database.close()  # the last connection: SQLite folds its WAL into the file
        committed = True
        if into != path:
            _take_name(into, path)
    finally:
        if into != path and not committed:
            _remove(into)


def _take_name(partial: Path, path: Path) -> None:
    """Give the committed ``partial`` file the name ``path``, never replacing a file there."""
    try:
        os.link(partial, path)  # unlike a rename, fails if the name was taken meanwhile
    except FileExistsError:
        raise StoreError(
            f"{path} appeared while the copy ran; the copy is kept as {partial}"
        ) from None
    except OSError:  # a file system without hard links: rename, having looked first
        if path.exists():
            raise StoreError(
                f"{path} appeared while the copy ran; the copy is kept as {partial}"
            ) from None
        partial.rename(path)
        return
    partial.unlink()


async def _compile_filters(database: Database, writer: Writer) -> None:
    """Compile the copied subscriptions' filter queries for FTS5 (copy.TABLES says why)."""
    for row in await database.rows(sql.FILTERED_SUBSCRIPTIONS):
        await writer.execute(
            *filter_update(
                SUBSCRIPTIONS.compile_filter, row["id"], row["include_query"], row["exclude_query"]
            )
        )
