"""The SQLite backend's ``Store``: one database file, one object per concern sharing it."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from bot.store.alerts import SqlAlerts
from bot.store.sqlite.articles import SqliteArticles
from bot.store.sqlite.database import Database
from bot.store.sqlite.files import SqliteSourceFiles
from bot.store.sqlite.ledger import SqliteLedger
from bot.store.sqlite.subscriptions import DIALECT as SUBSCRIPTIONS
from bot.store.sqlite.subscriptions import SqliteSubscriptions
from bot.store.state import SqlState
from bot.store.turns import LocalTurns


class SqliteStore:
    """``Store`` on one SQLite file. Open it with ``SqliteStore.open(path)``; close it when done."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.articles = SqliteArticles(database)
        self.subscriptions = SqliteSubscriptions(database)
        self.ledger = SqliteLedger(database)
        self.alerts = SqlAlerts(database, SUBSCRIPTIONS)
        self.state = SqlState(database)
        self.files = SqliteSourceFiles(database)
        self.send_turns = LocalTurns()

    @classmethod
    async def open(cls, path: str | Path) -> Self:
        """Open (creating or migrating) the database at ``path``, or raise ``StoreError``."""
        return cls(await Database.open(path))

    @property
    def path(self) -> Path:
        """The database file."""
        return self.database.path

    def check_file(self) -> None:
        """Raise ``StoreError`` if the database file was removed or replaced since it was
        opened: what this store writes would be lost, and the jobs must not go on."""
        self.database.check_file()

    async def schema_version(self) -> int:
        """Return the schema version recorded in the database file."""
        return await self.database.schema_version()

    async def close(self) -> None:
        """Close the database connections."""
        await self.database.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
