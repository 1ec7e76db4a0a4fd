"""Channel subscriptions in SQLite."""

from __future__ import annotations

from typing import Literal

from bot.articles import topic_key
from bot.store import limits, sql
from bot.store.sqlite.database import Database, Row, now_text, parse_time
from bot.subscriptions import Mode, Subscription


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row["id"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        topic=row["topic_name"],
        min_quality=row["min_quality"],
        created_at=parse_time(row["created_at"]),
        created_by=row["created_by"],
        mode=row["mode"],
        paused_reason=row["paused_reason"],
        paused_at=parse_time(row["paused_at"]) if row["paused_at"] else None,
    )


class SqliteSubscriptions:
    """``SubscriptionStore`` on SQLite."""

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
        async with self._db.transaction() as writer:
            existing = await self._db.scalar(sql.SUBSCRIPTION_ID, [channel_id, key])
            await writer.execute(
                sql.SUBSCRIBE,
                [guild_id, channel_id, key, topic, min_quality, now_text(), created_by, mode],
            )
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
        rows = await self._db.rows(
            f"{sql.SUBSCRIPTIONS} WHERE guild_id = ? AND channel_id = ? AND topic_key = ?",
            [guild_id, channel_id, topic_key(topic)],
        )
        return _subscription(rows[0]) if rows else None

    async def unsubscribe(self, *, guild_id: int, channel_id: int, topic: str) -> bool:
        """Remove a server's channel subscription to a topic; tell whether there was one."""
        async with self._db.transaction() as writer:
            cursor = await writer.execute(
                sql.UNSUBSCRIBE,
                [guild_id, channel_id, topic_key(topic)],
            )
        return cursor.rowcount > 0

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
        # instr: SQLite's position of a substring (PostgreSQL: strpos).
        rows = await self._db.rows(
            "SELECT topic_name FROM subscriptions WHERE guild_id = ? AND instr(topic_key, ?) > 0 "
            "GROUP BY topic_key ORDER BY instr(topic_key, ?) != 1, count(*) DESC, topic_key "
            "LIMIT ?",
            [guild_id, key, key, min(limit, limits.MAX_SUGGESTIONS)],
        )
        return [row["topic_name"] for row in rows]

    async def pause(self, subscription_id: int, reason: str) -> None:
        """Stop posting to a subscription for ``reason`` (shown by ``/subscriptions``)."""
        async with self._db.transaction() as writer:
            await writer.execute(sql.PAUSE, [reason, now_text(), subscription_id])

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
            cursor = await writer.execute(
                sql.REMOVE_SUBSCRIPTIONS_OF.format(column=column), [value]
            )
        return cursor.rowcount
