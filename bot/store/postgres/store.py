"""The PostgreSQL backend's ``Store``: one database, one object per concern sharing its pool."""

from __future__ import annotations

from typing import Self

from bot.store.alerts import SqlAlerts
from bot.store.postgres.articles import PostgresArticles
from bot.store.postgres.database import Database
from bot.store.postgres.files import PostgresSourceFiles
from bot.store.postgres.ledger import PostgresLedger
from bot.store.postgres.subscriptions import DIALECT as SUBSCRIPTIONS
from bot.store.postgres.subscriptions import PostgresSubscriptions
from bot.store.postgres.turns import PostgresTurns
from bot.store.state import SqlState
from bot.store.target import PostgresTarget


class PostgresStore:
    """``Store`` on one PostgreSQL database. Open it with ``PostgresStore.open(target)``."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.articles = PostgresArticles(database)
        self.subscriptions = PostgresSubscriptions(database)
        self.ledger = PostgresLedger(database)
        self.alerts = SqlAlerts(database, SUBSCRIPTIONS)
        self.state = SqlState(database)
        self.files = PostgresSourceFiles(database)
        self.send_turns = PostgresTurns(database)

    @classmethod
    async def open(cls, target: PostgresTarget) -> Self:
        """Open a pool to ``target``'s database, migrating it; or raise ``StoreError``."""
        return cls(await Database.open(target))

    @property
    def target(self) -> PostgresTarget:
        """The database."""
        return self.database.target

    def check_file(self) -> None:
        """Do nothing: a PostgreSQL database has no file to be removed or replaced.

        A database dropped or out of reach fails every statement with ``StoreError``, so
        nothing written is silently lost; the check a SQLite file needs is not needed here.
        """

    async def schema_version(self) -> int:
        """Return the newest migration applied to the database."""
        return await self.database.schema_version()

    async def close(self) -> None:
        """Close the pool's connections."""
        await self.database.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
