"""Channel subscriptions in PostgreSQL: the shared SQL of ``bot.store.sql``.

PostgreSQL's own here: ``strpos`` (SQLite's ``instr``) in suggestions, and times bound
and read as datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from bot.articles import topic_key
from bot.store import limits, sql
from bot.store.postgres.database import Database, utc
from bot.subscriptions import Mode, Subscription

if TYPE_CHECKING:
    from bot.store.postgres.database import Row


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        topic=row["topic_name"],
        min_quality=row["min_quality"],
        created_at=utc(row["created_at"]),
        created_by=row["created_by"],
        mode=row["mode"],
        paused_reason=row["paused_reason"],
        paused_at=utc(row["paused_at"]) if row["paused_at"] else None,
    )


class PostgresSubscriptions:
    """``SubscriptionStore`` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def subscribe(
        self,
        *,
        guild_id: int,
        channel_id: int,
        topic: str,
        min_quality: int,
        created_by: int | None = None,
        mode: Mode = "each",
        backfill: int = 0,
    ) -> tuple[Subscription, bool]:
        """Subscribe a channel to a topic, or update its threshold and mode; tell if it is new.

        A new subscription gets the ``backfill`` best of the topic's recent postable
        articles from the backlog; everything loaded later is due for it anyway.
        """
        key = topic_key(topic)
        # Taking turns, as SQLite's writers do: whether it is new stays true until the end.
        async with self._db.transaction(take_turns=True) as writer:
            existing = await self._db.scalar(sql.SUBSCRIPTION_ID, [channel_id, key])
            await writer.execute(
                sql.SUBSCRIBE,
                [guild_id, channel_id, key, topic, min_quality, datetime.now(UTC), created_by,
                 mode],
            )  # fmt: skip
            if existing is None and backfill > 0:
                await writer.execute(
                    sql.PICK_BACKFILL,
                    [key, min_quality, limits.BACKLOG_WINDOW, channel_id, key, backfill],
                )
        found = await self.get(guild_id=guild_id, channel_id=channel_id, topic=topic)
        assert found is not None
        return found, existing is None

    async def get(self, *, guild_id: int, channel_id: int, topic: str) -> Subscription | None:
        """Return one subscription of a server's channel to a topic."""
        row = await self._db.first(
            f"{sql.SUBSCRIPTIONS} WHERE guild_id = ? AND channel_id = ? AND topic_key = ?",
            [guild_id, channel_id, topic_key(topic)],
        )
        return None if row is None else _subscription(row)

    async def unsubscribe(self, *, guild_id: int, channel_id: int, topic: str) -> bool:
        """Remove a server's channel subscription to a topic; tell whether there was one."""
        async with self._db.transaction() as writer:
            removed = await writer.execute(
                sql.UNSUBSCRIBE, [guild_id, channel_id, topic_key(topic)]
            )
        return removed > 0

    async def in_guild(self, guild_id: int) -> list[Subscription]:
        """Return a server's subscriptions, by channel then topic."""
        rows = await self._db.rows(
            f"{sql.SUBSCRIPTIONS} WHERE guild_id = ? ORDER BY channel_id, topic_key", [guild_id]
        )
        return [_subscription(row) for row in rows]

    async def all(self) -> list[Subscription]:
        """Return every subscription of every server, active or paused."""
        rows = await self._db.rows(f"{sql.SUBSCRIPTIONS} ORDER BY guild_id, channel_id, topic_key")
        return [_subscription(row) for row in rows]

    async def suggest_topics(
        self, guild_id: int, text: str, limit: int = limits.MAX_SUGGESTIONS
    ) -> list[str]:
        """Return the topics a server subscribes to that start with, then contain, ``text``."""
        key = topic_key(text)
        # The name shown: any subscription's (SQLite's bare column in GROUP BY), here the
        # first by id.
        rows = await self._db.rows(
            "SELECT (array_agg(topic_name ORDER BY id))[1] AS topic_name FROM subscriptions "
            "WHERE guild_id = ? AND strpos(topic_key, ?) > 0 "
            "GROUP BY topic_key ORDER BY strpos(topic_key, ?) != 1, count(*) DESC, topic_key "
            "LIMIT ?",
            [guild_id, key, key, min(limit, limits.MAX_SUGGESTIONS)],
        )
        return [row["topic_name"] for row in rows]

    async def pause(self, subscription_id: int, reason: str) -> None:
        """Stop posting to a subscription for ``reason`` (shown by ``/subscriptions``)."""
        async with self._db.transaction() as writer:
            await writer.execute(sql.PAUSE, [reason, datetime.now(UTC), subscription_id])

    async def resume(self, subscription_id: int) -> None:
        """Post to a paused subscription again."""
        async with self._db.transaction() as writer:
            await writer.execute(sql.RESUME, [subscription_id])

    async def remove_channel(self, channel_id: int) -> int:
        """Remove every subscription (and unsent message) of a deleted channel."""
        return await self._remove("channel_id", channel_id)

    async def remove_guild(self, guild_id: int) -> int:
        """Remove every subscription (and unsent message) of a server the bot left."""
        return await self._remove("guild_id", guild_id)

    async def _remove(self, column: Literal["channel_id", "guild_id"], value: int) -> int:
        async with self._db.transaction() as writer:
            await writer.execute(sql.REMOVE_OUTBOX_OF.format(column=column), [value])
            return await writer.execute(sql.REMOVE_SUBSCRIPTIONS_OF.format(column=column), [value])
