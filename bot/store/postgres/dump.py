"""The neutral dump of ``bot.store.copy`` read from, and written into, PostgreSQL.

PostgreSQL's own here, and named: the snapshot is one ``REPEATABLE READ READ ONLY``
transaction; up to ``WRITE_ROWS`` rows of a table are inserted by one ``INSERT ... SELECT
FROM unnest(...)``, so the statement-level triggers keep the counts once per statement:
every statement updates the count rows it touches, and in the copy's one transaction each
update leaves a row version that the next update of that row must walk past, so fewer,
larger statements keep a large copy linear; jsonb travels as text, an
outbox's ids as an array literal, since ``unnest`` takes no ragged arrays; ids are kept,
and the identity sequences moved past them at the end.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, Any

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
from bot.store.postgres.connection import connect, scrub
from bot.store.postgres.database import numbered
from bot.store.postgres.keys import NAMESPACE, WRITING
from bot.store.postgres.schema import migrate
from bot.store.postgres.subscriptions import DIALECT as SUBSCRIPTIONS
from bot.store.subscriptions import filter_update
from bot.store.target import PostgresTarget

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

WRITE_ROWS = 10_000  # rows of a table inserted by one statement
# The tables the count triggers keep, which the copy leaves bloated (``_tidy``).
COUNT_TABLES = ("topics", "topic_spellings", "topic_quality_counts", "providers", "quality_counts")


_READ: dict[Kind, Callable[[Any], Any]] = {
    "int": same,
    "text": same,
    "time": same,  # asyncpg returns timestamptz as an aware datetime
    "json": json.loads,  # and jsonb as its text
    "bool": same,
    "ids": list,
}
_WRITTEN: dict[Kind, Callable[[Any], Any]] = {
    "int": same,
    "text": same,
    "time": same,
    "json": json.dumps,
    "bool": bool,
    "ids": lambda ids: "{" + ",".join(str(int(i)) for i in ids) + "}",
}
# The array type a column's values are bound as, and the cast that stores one of them.
_BOUND_AS: dict[Kind, tuple[str, str]] = {
    "int": ("bigint[]", ""),
    "text": ("text[]", ""),
    "time": ("timestamptz[]", ""),
    "json": ("text[]", "::jsonb"),
    "bool": ("boolean[]", ""),
    "ids": ("text[]", "::bigint[]"),
}


def _insert(table: Table) -> str:
    """Return the INSERT of a chunk of ``table``'s rows, bound as one array per column."""
    arrays = ", ".join(
        f"${number}::{_BOUND_AS[column.kind][0]}"
        for number, column in enumerate(table.columns, start=1)
    )
    values = ", ".join(f"u.{column.name}{_BOUND_AS[column.kind][1]}" for column in table.columns)
    names = ", ".join(table.names)
    return (
        f"INSERT INTO {table.name} ({names}) SELECT {values} FROM unnest({arrays}) AS u ({names})"
    )


def _failure(target: PostgresTarget, doing: str, exc: BaseException) -> StoreError:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return StoreError(scrub(f"cannot {doing} {target.redacted}: {first}", target))


class PostgresReader:
    """``DumpReader`` over one repeatable-read transaction of a PostgreSQL database."""

    def __init__(
        self, connection: asyncpg.Connection[asyncpg.Record], target: PostgresTarget
    ) -> None:
        self._connection = connection
        self._target = target

    async def rows(self, table: Table) -> AsyncGenerator[Sequence[Row], None]:
        """Yield a table's rows (in ``table.names`` order, by key) a chunk at a time."""
        import asyncpg

        convert = converter(table, _READ)
        sql = f"SELECT {', '.join(table.names)} FROM {table.name} ORDER BY {', '.join(table.key)}"
        try:
            cursor = await self._connection.cursor(sql)
            while chunk := await cursor.fetch(CHUNK):
                yield [convert(tuple(record)) for record in chunk]
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _failure(self._target, f"read {table.name} from", exc) from None

    async def count(self, table: Table) -> int:
        """Return how many rows a table has in the snapshot."""
        import asyncpg

        try:
            return int(await self._connection.fetchval(f"SELECT count(*) FROM {table.name}"))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _failure(self._target, f"count {table.name} in", exc) from None


@asynccontextmanager
async def reading(target: PostgresTarget) -> AsyncIterator[PostgresReader]:
    """Open a snapshot of ``target``'s database for reading, or raise ``StoreError``."""
    import asyncpg

    connection = await connect(target)
    try:
        await migrate(connection, target)  # as every command does
        try:
            transaction = connection.transaction(isolation="repeatable_read", readonly=True)
            await transaction.start()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _failure(target, "read", exc) from None
        try:
            yield PostgresReader(connection, target)
        finally:
            with suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await transaction.rollback()
    finally:
        await connection.close()


class PostgresWriter:
    """``DumpWriter`` into a PostgreSQL database, inside the transaction ``filling`` opened."""

    def __init__(
        self, connection: asyncpg.Connection[asyncpg.Record], target: PostgresTarget
    ) -> None:
        self._connection = connection
        self._target = target
        self._topic_names: dict[int, str] = {}
        self._pending: tuple[Table, list[Row]] | None = None  # rows not inserted yet
        self.finished = False

    async def write(self, table: Table, rows: Sequence[Row]) -> None:
        """Insert rows of ``table``, keeping their ids, ``WRITE_ROWS`` at a time."""
        if self._pending is not None and self._pending[0] != table:
            await self._flush()
        if self._pending is None:
            self._pending = (table, [])
        self._pending[1].extend(rows)
        if table.name == "topics":
            self._topic_names.update((row[0], row[2]) for row in rows)
        if len(self._pending[1]) >= WRITE_ROWS:
            await self._flush()

    async def _flush(self) -> None:
        """Insert the rows written and not inserted yet, in one statement."""
        import asyncpg

        if self._pending is None:
            return
        table, rows = self._pending
        self._pending = None
        if not rows:
            return
        convert = converter(table, _WRITTEN)
        columns = [list(column) for column in zip(*map(convert, rows), strict=True)]
        try:
            await self._connection.execute(_insert(table), *columns)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _failure(self._target, f"copy {table.name} into", exc) from None

    async def finish(self, expected: dict[str, int]) -> None:
        """Put back the topics' names, move the id sequences on, check every row count."""
        import asyncpg

        await self._flush()
        try:
            # The count triggers named each topic after its most used spelling; the source
            # may have kept another name (a topic whose articles all went keeps its last).
            await self._connection.execute(
                "UPDATE topics AS t SET name = u.name "
                "FROM unnest($1::bigint[], $2::text[]) AS u (id, name) "
                "WHERE t.id = u.id AND t.name IS DISTINCT FROM u.name",
                list(self._topic_names),
                list(self._topic_names.values()),
            )
            await _compile_filters(self._connection)
            for table in TABLES:
                if table.identity:  # the next id handed out comes after the copied ones
                    await self._connection.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"coalesce(max(id), 0) + 1, false) FROM {table.name}"
                    )
            found = {
                table.name: int(
                    await self._connection.fetchval(f"SELECT count(*) FROM {table.name}")
                )
                for table in TABLES
            }
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _failure(self._target, "finish the copy into", exc) from None
        check_counts(self._target, expected, found)
        self.finished = True


async def _held_tables(connection: asyncpg.Connection[asyncpg.Record]) -> list[str]:
    """Return the newsbot tables of the connection's database that hold a row."""
    existing = {
        row[0]
        for row in await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    }
    ours = [table.name for table in TABLES if table.name in existing]
    return [row[0] for row in await connection.fetch(held_tables_query(ours))] if ours else []


@asynccontextmanager
async def filling(target: PostgresTarget) -> AsyncIterator[PostgresWriter]:
    """Open ``target``'s database for a copy to fill in one transaction, or refuse it.

    A database holding newsbot data is refused before anything is written, migrations
    included; the transaction commits only when the writer finished.
    """
    import asyncpg

    connection = await connect(target)
    try:
        try:
            if held := await _held_tables(connection):
                raise refuse_filled(target, held)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _failure(target, "look into", exc) from None
        await migrate(connection, target)
        try:
            transaction = connection.transaction()
            await transaction.start()
            # Writers that count take turns (keys.py): a load beside the copy would wait.
            await connection.execute("SELECT pg_advisory_xact_lock($1, $2)", NAMESPACE, WRITING)
            if held := await _held_tables(connection):  # written since the first look
                raise refuse_filled(target, held)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _failure(target, "write to", exc) from None
        try:
            writer = PostgresWriter(connection, target)
            yield writer
            if not writer.finished:
                raise RuntimeError("a copy must be finished before it is committed")
        except BaseException:
            with suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await transaction.rollback()
            raise
        try:
            await transaction.commit()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _failure(target, "commit the copy into", exc) from None
        await _tidy(connection, target)
    finally:
        await connection.close()


async def _tidy(connection: asyncpg.Connection[asyncpg.Record], target: PostgresTarget) -> None:
    """Compact the count tables the copy updated over and over, and gather the planner's
    statistics of the copied tables.

    Every statement of the copy updated the count rows of what it inserted, and in one
    transaction each update leaves a dead row version behind: a copy of 1,000,000 articles
    left ``topics`` and its kin many times their size (topic suggestions' p99 14 ms before
    compacting, 2 ms after). They are small, so ``VACUUM FULL`` rewrites them in moments;
    ``ANALYZE`` spares the first queries plans made without statistics. The copy is
    committed by then: a failure here is logged, and the copy stands.
    """
    import asyncpg

    try:
        await connection.execute(f"VACUUM (FULL, ANALYZE) {', '.join(COUNT_TABLES)}")
        await connection.execute("ANALYZE")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        log.warning(
            "%s; the copy is complete, but run VACUUM (FULL, ANALYZE) %s there once",
            _failure(target, "compact the count tables of", exc),
            ", ".join(COUNT_TABLES),
        )


async def _compile_filters(connection: asyncpg.Connection[asyncpg.Record]) -> None:
    """Compile the copied subscriptions' filter queries to tsqueries (copy.TABLES says why)."""
    for row in await connection.fetch(sql.FILTERED_SUBSCRIPTIONS):
        update, params = filter_update(
            SUBSCRIPTIONS.compile_filter, row["id"], row["include_query"], row["exclude_query"]
        )
        await connection.execute(numbered(update), *params)
