"""One PostgreSQL database: a pool of connections, write transactions, and its errors.

Every concern of the PostgreSQL backend (articles, subscriptions, the ledger, state,
files) shares one ``Database``. Reads outside a write transaction take any connection of
the pool; reads inside one use the transaction's connection (a context variable says
which), so a task's reads see what it wrote, as in SQLite.

What is PostgreSQL's own lives here and is named: ``?`` placeholders numbered ``$1``,
``$2``, ... (``numbered``), the advisory lock that writers who must take turns take
(``keys.WRITING``), and the mapping of the driver's errors to ``StoreError``. Times are
``timestamptz``: asyncpg binds and returns aware datetimes, in UTC.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NoReturn, Self

from bot.errors import DatabaseUnavailable, StoreError
from bot.store.postgres.connection import open_pool, scrub
from bot.store.postgres.keys import NAMESPACE, WRITING
from bot.store.postgres.schema import schema_version
from bot.store.target import PostgresTarget

if TYPE_CHECKING:
    from typing import TypeAlias

    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    Connection: TypeAlias = PoolConnectionProxy[asyncpg.Record]
    Row: TypeAlias = asyncpg.Record

_TRANSACTION: ContextVar[Connection | None] = ContextVar("newsbot_pg_transaction", default=None)


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """Return ``sql`` with its ``?`` placeholders numbered as PostgreSQL's ``$1``, ``$2``, ...

    newsbot's SQL has no ``?`` of its own (no string holding one, no jsonb ``?`` operator),
    so every ``?`` is a placeholder.
    """
    parts = sql.split("?")
    return "".join(f"{part}${n}" for n, part in enumerate(parts[:-1], 1)) + parts[-1]


def utc(moment: datetime) -> datetime:
    """Return a time read from a ``timestamptz`` column as the store's aware UTC datetime."""
    return moment.astimezone(UTC)


def status_count(status: str) -> int:
    """Return how many rows a statement changed, from its status ("DELETE 3" -> 3)."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class Writer:
    """The connection of a write transaction: the only way to change the database."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in the transaction; return how many rows it changed."""
        return status_count(await self._connection.execute(numbered(sql), *params))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each parameter row, in the transaction.

        Not for tables whose counts triggers keep (articles, article_topics): the triggers
        are per statement, and would run once per row. Insert those a batch at a time.
        """
        await self._connection.executemany(numbered(sql), rows)


class Database:
    """An open PostgreSQL database: its pool, and the writers' turns."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], target: PostgresTarget) -> None:
        self._pool = pool
        self.target = target

    @classmethod
    async def open(cls, target: PostgresTarget) -> Self:
        """Open a pool to ``target``'s database, migrated; or raise ``StoreError``."""
        return cls(await open_pool(target), target)

    async def close(self) -> None:
        """Close the pool's connections."""
        await self._pool.close()

    async def schema_version(self) -> int:
        """Return the newest migration applied to the database."""
        try:
            async with self._pool.acquire() as connection:
                return await schema_version(connection)
        except Exception as exc:
            await self._raise_unusable(exc, "cannot use")

    @asynccontextmanager
    async def transaction(self, *, take_turns: bool = False) -> AsyncIterator[Writer]:
        """Run the body as one write transaction: all of it is stored, or none of it.

        ``take_turns``: wait first for other writers that take turns, as all of SQLite's do.
        Saving articles must: the triggers that keep counts would otherwise have two loads
        wait on each other's count rows (and could deadlock), and what a save reads before
        writing stays true. A load's touched files and a subscription (is it new?) do too;
        the ledger's writes, which change no count, need not wait for a load's batch.
        A database that cannot take the write raises ``StoreError`` saying so.
        """
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                if take_turns:
                    await connection.execute(
                        "SELECT pg_advisory_xact_lock($1, $2)", NAMESPACE, WRITING
                    )
                token = _TRANSACTION.set(connection)
                try:
                    yield Writer(connection)
                finally:
                    _TRANSACTION.reset(token)
        except Exception as exc:
            await self._raise_unusable(exc, "cannot write to")

    async def rows(
        self, sql: str, params: Sequence[Any] = (), *, planner: Mapping[str, str] | None = None
    ) -> list[Row]:
        """Return every row of a query (rows are read by column name).

        A read outside a transaction whose session was lost (a server restart ends every
        pooled one) is tried once more on a new connection: the restart is then invisible.
        ``planner`` holds settings of PostgreSQL's planner (``enable_indexscan``: ``off``)
        for this one read, where a caller knows what the statistics cannot tell; they end
        with it (``SET LOCAL``), and a read inside a write transaction runs without them.
        """
        try:
            connection = _TRANSACTION.get()
            if connection is not None:
                return await connection.fetch(numbered(sql), *params)
            try:
                async with self._pool.acquire() as pooled:
                    return await fetch_planned(pooled, numbered(sql), params, planner)
            except Exception as exc:
                if not _session_lost(exc):
                    raise
                await self._pool.expire_connections()
            async with self._pool.acquire() as pooled:
                return await fetch_planned(pooled, numbered(sql), params, planner)
        except Exception as exc:
            await self._raise_unusable(exc, "cannot use")

    async def first(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Return a query's first row: for a key, a count, a ``LIMIT 1``."""
        rows = await self.rows(sql, params)
        return rows[0] if rows else None

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Return the first column of a query's first row, or None without a row."""
        row = await self.first(sql, params)
        return None if row is None else row[0]

    async def _raise_unusable(self, exc: Exception, doing: str) -> NoReturn:
        """Raise ``exc`` as a ``StoreError`` when it is the database's condition, else as is.

        A row that breaks a constraint, or a value the database cannot hold (a number too
        big for a bigint, a NUL character in text: SQLSTATE class 22, whether the driver or
        the server says so), is newsbot's own mistake and stays what it is, as SQLite's
        IntegrityError and OverflowError do: the loader rejects that one article. A server
        gone, a disk full, a read-only or dropped database are the database's condition:
        one plain line, without the password.
        """
        import asyncpg

        own_mistake = (
            StoreError, asyncpg.IntegrityConstraintViolationError, asyncpg.DataError, ValueError
        )  # fmt: skip
        if isinstance(exc, own_mistake) or not isinstance(
            exc, asyncpg.PostgresError | asyncpg.InterfaceError | OSError
        ):
            raise exc
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = scrub(f"{doing} {self.target.redacted}: {text}", self.target)
        if _session_lost(exc) or isinstance(exc, asyncpg.CannotConnectNowError | OSError):
            await self._pool.expire_connections()  # the next request starts on new sessions
            raise DatabaseUnavailable(message) from exc
        raise StoreError(message) from exc


async def fetch_planned(
    connection: Connection, sql: str, params: Sequence[Any], planner: Mapping[str, str] | None
) -> list[Row]:
    """Return the rows of ``sql`` (numbered), planned with ``planner``'s settings if any."""
    if not planner:
        return await connection.fetch(sql, *params)
    names = list(planner)
    settings = ", ".join(f"set_config(${n * 2 + 1}, ${n * 2 + 2}, true)" for n in range(len(names)))
    async with connection.transaction():
        await connection.execute(
            f"SELECT {settings}", *[item for name in names for item in (name, planner[name])]
        )
        return await connection.fetch(sql, *params)


def _session_lost(exc: BaseException) -> bool:
    """Tell whether ``exc`` says the session itself ended (a restart, a dropped connection)."""
    import asyncpg

    lost = (
        asyncpg.ConnectionDoesNotExistError,
        asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError,
        ConnectionError,
    )
    return isinstance(exc, lost)
