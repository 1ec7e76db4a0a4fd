"""Small key/value state, once for both databases: the shared SQL of ``bot.store.sql``."""

from __future__ import annotations

from bot.store import sql
from bot.store.ledger import Database


class SqlState:
    """``StateStore`` on a database of either kind."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, key: str) -> str | None:
        """Return a remembered value, such as the hash of the last command sync."""
        value = await self._db.scalar(sql.STATE_GET, [key])
        return None if value is None else str(value)

    async def set(self, key: str, value: str) -> None:
        """Remember a value across restarts."""
        async with self._db.transaction() as writer:
            await writer.execute(sql.STATE_SET, [key, value])
