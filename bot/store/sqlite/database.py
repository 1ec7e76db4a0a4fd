"""One SQLite database file: its connections, schema migrations and write transactions.

Every concern of the SQLite backend (articles, subscriptions, the ledger, state, files)
shares one ``Database``: a writer connection, and a read-only reader connection that reads
outside a write transaction go to. Which one a read uses is decided by a context variable,
so a task's reads inside its own transaction see what it wrote.

What is SQLite's alone lives here and is named: the ``BEGIN IMMEDIATE`` write lock, the
pragmas, ``PRAGMA user_version`` as the schema version, ``?`` placeholders with a cap on
their number, and times kept as sortable UTC text.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot.errors import StoreError
from bot.store.migrations import numbered_migrations
from bot.store.rows import format_time

CHUNK = 500  # values per "IN (...)" list, well under SQLite's variable limit
_IN_TRANSACTION: ContextVar[bool] = ContextVar("newsbot_in_transaction", default=False)

Row = sqlite3.Row


MIGRATIONS = numbered_migrations("bot.store.sqlite")
SCHEMA_VERSION = len(MIGRATIONS)


def db_time(moment: datetime) -> str:
    """Return ``moment`` as a time column holds it: sortable UTC text."""
    return format_time(moment)


def now_text() -> str:
    """Return the current time as a time column holds it."""
    return format_time(datetime.now(UTC))


def parse_time(text: str) -> datetime:
    """Return the aware datetime of a time column's UTC text."""
    return datetime.fromisoformat(text).astimezone(UTC)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """Yield ``items`` in slices short enough to bind as one ``IN (...)`` list."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(count: int) -> str:
    """Return ``count`` comma-separated ``?`` placeholders, for an ``IN (...)`` list."""
    return ",".join("?" * count)


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino


class Writer:
    """The writer connection as a transaction sees it: the only way to change the database."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Cursor:
        """Run one statement in the transaction."""
        return await self._connection.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each parameter row, in the transaction."""
        await self._connection.executemany(sql, rows)


class Database:
    """An open SQLite database file: the writer, the reader, and the write lock they share."""

    def __init__(self, connection: aiosqlite.Connection, path: Path) -> None:
        self._db = connection  # writes, and the reads inside a write transaction
        # Reads outside a transaction go to a second connection: in WAL mode they never wait
        # for a writer, not even one waiting out another process's lock (busy_timeout).
        self._reader = connection
        self.path = path
        self._identity = _file_identity(path)
        # One connection serves many coroutines: their transactions must take turns.
        self._writing = asyncio.Lock()

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
        database = cls(connection, path)
        try:
            await database._configure()
            await database._migrate()
            database._reader = await aiosqlite.connect(path, isolation_level=None)
            database._reader.row_factory = sqlite3.Row
            for pragma in ("busy_timeout = 10000", "cache_size = -65536", "query_only = ON"):
                await database._reader.execute(f"PRAGMA {pragma}")
        except BaseException as exc:
            await database.close()
            if isinstance(exc, sqlite3.DatabaseError):
                raise StoreError(f"cannot use database {path}: {exc}") from None
            raise
        return database

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

    async def _configure(self) -> None:
        self._db.row_factory = sqlite3.Row
        await self._db.execute("PRAGMA busy_timeout = 10000")
        mode = await self.scalar("PRAGMA journal_mode = WAL")
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot use database {self.path}: WAL journal mode unavailable")
        await self._db.execute("PRAGMA synchronous = NORMAL")
        await self._db.execute("PRAGMA foreign_keys = ON")
        # 64 MiB of page cache (default 2 MiB): a load inserts into four b-trees and the FTS
        # index in no particular order, and re-reads pages evicted from the small default.
        await self._db.execute("PRAGMA cache_size = -65536")

    async def schema_version(self) -> int:
        """Return the schema version recorded in the database file."""
        return int(await self.scalar("PRAGMA user_version"))

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
    async def transaction(self) -> AsyncIterator[Writer]:
        """Run the body as one write transaction: all of it is stored, or none of it.

        A database that cannot take the write (disk full, read-only, locked by another
        process past the busy timeout, damaged) raises ``StoreError`` saying so.
        """
        async with self._writing:
            writing = _IN_TRANSACTION.set(True)  # this task's reads see what it writes
            try:
                # IMMEDIATE takes SQLite's write lock now, so what the body reads stays true.
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield Writer(self._db)
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

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Return every row of a query (rows are read by column name)."""
        # One hop to aiosqlite's thread, not three (execute, fetchall, close).
        db = self._db if _IN_TRANSACTION.get() else self._reader
        try:
            return list(await db.execute_fetchall(sql, params))
        except sqlite3.DatabaseError as exc:  # damaged, or changed behind newsbot's back
            raise StoreError(f"cannot use database {self.path}: {exc}") from exc

    async def first(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Return a query's first row: for a key, a count, a ``LIMIT 1``."""
        rows = await self.rows(sql, params)
        return rows[0] if rows else None

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Return the first column of a query's first row, or None without a row."""
        row = await self.first(sql, params)
        return None if row is None else row[0]
