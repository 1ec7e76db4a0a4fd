"""Alert channels, once for both databases: where each server hears about posting trouble."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.store.ledger import Database
from bot.store.subscriptions import SubscriptionDialect
from bot.subscriptions import AlertChannel

_ALERT_CHANNEL = (
    "SELECT guild_id, channel_id, set_by, failure, failed_at FROM alert_channels WHERE guild_id = ?"
)
_SET = (
    "INSERT INTO alert_channels (guild_id, channel_id, set_by) VALUES (?, ?, ?) "
    "ON CONFLICT (guild_id) DO UPDATE SET channel_id = excluded.channel_id, "
    "set_by = excluded.set_by, failure = NULL, failed_at = NULL"
)
_CLEAR = "DELETE FROM alert_channels WHERE guild_id = ?"
_FAILED = "UPDATE alert_channels SET failure = ?, failed_at = ? WHERE guild_id = ?"


class SqlAlerts:
    """``AlertStore`` on a database of either kind."""

    def __init__(self, database: Database, dialect: SubscriptionDialect) -> None:
        self._db = database
        self._dialect = dialect

    async def channel(self, guild_id: int) -> AlertChannel | None:
        """Return where a server's alerts go, if it named a channel."""
        row = await self._db.first(_ALERT_CHANNEL, [guild_id])
        return None if row is None else self._alert_channel(row)

    async def set_channel(self, guild_id: int, channel_id: int, set_by: int | None) -> None:
        """Send a server's alerts to a channel (forgetting an earlier failure)."""
        async with self._db.transaction() as writer:
            await writer.execute(_SET, [guild_id, channel_id, set_by])

    async def clear(self, guild_id: int) -> bool:
        """Stop a server's alerts; tell whether it had an alert channel."""
        async with self._db.transaction() as writer:
            result = await writer.execute(_CLEAR, [guild_id])
        return self._dialect.rowcount(result) > 0

    async def record_failure(self, guild_id: int, failure: str | None) -> None:
        """Remember why the last alert could not be posted (None: it was posted)."""
        when = None if failure is None else self._dialect.time_param(datetime.now(UTC))
        async with self._db.transaction() as writer:
            await writer.execute(_FAILED, [failure, when, guild_id])

    def _alert_channel(self, row: Any) -> AlertChannel:
        return AlertChannel(
            guild_id=row["guild_id"],
            channel_id=row["channel_id"],
            set_by=row["set_by"],
            failure=row["failure"],
            failed_at=self._dialect.time_from(row["failed_at"]) if row["failed_at"] else None,
        )
