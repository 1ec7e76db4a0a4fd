"""The PostgreSQL schema: numbered ``.sql`` migrations applied when a database is opened.

Each migration runs in its own transaction under an advisory lock, so processes that open
one database at the same moment migrate it once, in turn. The versions applied are rows
of ``newsbot_schema``; a database migrated by a newer newsbot is refused, not touched.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.errors import StoreError
from bot.store.migrations import numbered_migrations
from bot.store.postgres.keys import MIGRATING, NAMESPACE
from bot.store.target import PostgresTarget

if TYPE_CHECKING:
    from typing import TypeAlias

    import asyncpg
    from asyncpg.pool import PoolConnectionProxy

    # A connection of its own, or one lent by a pool.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]

VERSION_TABLE = "newsbot_schema"
# 13: the first whose unaccent extension a database owner may create (a trusted extension).
MINIMUM_SERVER = 13


MIGRATIONS = numbered_migrations("bot.store.postgres")
SCHEMA_VERSION = len(MIGRATIONS)


async def schema_version(connection: Connection) -> int:
    """Return the newest migration applied to the connection's database (0: none)."""
    # From pg_tables, not to_regclass(): a session that waited for another to create the
    # table could find it missing in its cache of names until it next locks a table.
    exists = await connection.fetchval(
        "SELECT EXISTS (SELECT FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename = $1)",
        VERSION_TABLE,
    )
    if not exists:
        return 0
    return int(await connection.fetchval(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}"))


async def migrate(connection: Connection, target: PostgresTarget) -> None:
    """Bring the database up to ``SCHEMA_VERSION``, or raise ``StoreError`` saying why not."""
    import asyncpg

    server = connection.get_server_version()
    if server.major < MINIMUM_SERVER:
        raise StoreError(
            f"{target.redacted} runs PostgreSQL {server.major}.{server.minor}; newsbot needs "
            f"{MINIMUM_SERVER} or newer"
        )
    try:
        # Checked before taking the lock: opening an up-to-date database writes nothing,
        # so a role that may only read and write rows can open it.
        if _checked(await schema_version(connection), target) == SCHEMA_VERSION:
            return
        while True:
            async with connection.transaction():
                await connection.execute(
                    "SELECT pg_advisory_xact_lock($1, $2)", NAMESPACE, MIGRATING
                )
                version = _checked(await schema_version(connection), target)
                if version == SCHEMA_VERSION:  # done, possibly by a process we waited for
                    return
                number, name, sql = MIGRATIONS[version]
                try:
                    if version == 0:
                        await connection.execute(
                            f"CREATE TABLE {VERSION_TABLE} (version integer PRIMARY KEY, "
                            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
                        )
                    await connection.execute(sql)
                    await connection.execute(
                        f"INSERT INTO {VERSION_TABLE} (version, name) VALUES ($1, $2)", number, name
                    )
                except asyncpg.PostgresError as exc:
                    raise StoreError(
                        f"cannot apply migration {name} to {target.redacted}: {exc}"
                    ) from None
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise StoreError(f"cannot migrate {target.redacted}: {exc}") from None


def _checked(version: int, target: PostgresTarget) -> int:
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database {target.redacted} has schema version {version}, newer than this newsbot "
            f"understands ({SCHEMA_VERSION}); upgrade newsbot or use another --db"
        )
    return version
