"""The posting ledger in SQLite: due articles, the outbox, deliveries, refusals, backfill.

The statements are the shared SQL of ``bot.store.sql``. SQLite's own here, and named: an
outbox message keeps its article ids as a JSON list, read back as rows with ``json_each``
(``_OUTBOX_ARTICLES``); PostgreSQL keeps an array (``bot.store.postgres.ledger``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.articles import topic_key
from bot.store import sql
from bot.store.sqlite.database import Database, Row, db_time, parse_time
from bot.subscriptions import Delivery, DueArticle, OutboxMessage

# Each article of each outbox message, as rows (o: the message, j.value: an article id).
_OUTBOX_ARTICLES = "outbox AS o, json_each(o.article_ids) AS j"

_DUE = sql.DUE.format(outbox_articles=_OUTBOX_ARTICLES, topic_filter="{topic_filter}")
_RECORD_DELIVERY = sql.RECORD_DELIVERY.format(outbox_articles=_OUTBOX_ARTICLES)
_RECORD_REFUSAL = sql.RECORD_REFUSAL.format(outbox_articles=_OUTBOX_ARTICLES)


def _outbox_message(row: Row) -> OutboxMessage:
    return OutboxMessage(
        nonce=row["nonce"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        article_ids=tuple(json.loads(row["article_ids"])),
        created_at=parse_time(row["created_at"]),
        attempts=row["attempts"],
    )


def _delivery(row: Row) -> Delivery:
    return Delivery(
        article_id=row["article_id"],
        channel_id=row["channel_id"],
        guild_id=row["guild_id"],
        message_id=row["message_id"],
        delivered_at=parse_time(row["delivered_at"]),
    )


class SqliteLedger:
    """``Ledger`` on SQLite."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def due_articles(
        self, channel_id: int, *, topic: str | None = None, limit: int | None = None
    ) -> list[DueArticle]:
        """Return what a channel's active subscriptions make due, best quality first.

        Due: on the subscription's topic, not published at the source, of known quality at
        least the subscription's minimum, loaded after it was made (or picked as its
        backfill), never delivered to the channel, and not waiting in the outbox.
        """
        params: list[Any] = [channel_id]
        topic_filter = ""
        if topic is not None:
            topic_filter = sql.DUE_TOPIC_FILTER
            params.append(topic_key(topic))
        rows = await self._db.rows(_DUE.format(topic_filter=topic_filter), params)
        due: dict[int, DueArticle] = {}
        for row in rows:  # an article on two topics: once
            article_id = row["article_id"]
            due.setdefault(article_id, DueArticle(article_id, row["subscription_id"], row["mode"]))
        return list(due.values())[:limit]

    async def outbox(self, channel_id: int | None = None) -> list[OutboxMessage]:
        """Return the messages whose sending was not confirmed (all, or one channel's)."""
        where, params = ("WHERE channel_id = ?", [channel_id]) if channel_id else ("", [])
        rows = await self._db.rows(
            f"{sql.OUTBOX} {where} ORDER BY created_at, nonce",
            params,
        )
        return [_outbox_message(row) for row in rows]

    async def add_outbox(self, message: OutboxMessage) -> None:
        """Remember a message before it is sent, so a crash cannot make it be sent twice."""
        async with self._db.transaction() as writer:
            await writer.execute(
                sql.ADD_OUTBOX,
                [message.nonce, message.guild_id, message.channel_id,
                 json.dumps(list(message.article_ids)), db_time(message.created_at)],
            )  # fmt: skip

    async def record_delivery(self, nonce: str, message_id: int, delivered_at: datetime) -> None:
        """Record that Discord accepted an outbox message: its articles are delivered."""
        async with self._db.transaction() as writer:
            await writer.execute(_RECORD_DELIVERY, [message_id, db_time(delivered_at), nonce])
            await writer.execute(sql.DROP_OUTBOX, [nonce])

    async def record_refusal(self, nonce: str, reason: str, refused_at: datetime) -> None:
        """Record that Discord refused an outbox message in every form: never retry it."""
        async with self._db.transaction() as writer:
            await writer.execute(_RECORD_REFUSAL, [reason, db_time(refused_at), nonce])
            await writer.execute(sql.DROP_OUTBOX, [nonce])

    async def drop_outbox(self, nonce: str) -> None:
        """Forget a message that Discord refused: its articles are due again."""
        async with self._db.transaction() as writer:
            await writer.execute(sql.DROP_OUTBOX, [nonce])

    async def count_outbox_attempt(self, nonce: str) -> None:
        """Count a send whose outcome is unknown (5xx, time-out): it is resent later."""
        async with self._db.transaction() as writer:
            await writer.execute(sql.COUNT_OUTBOX_ATTEMPT, [nonce])

    async def delivery(self, article_id: int, channel_id: int) -> Delivery | None:
        """Return when an article was delivered to a channel, if it was."""
        row = await self._db.first(
            f"{sql.DELIVERIES} WHERE article_id = ? AND channel_id = ?", [article_id, channel_id]
        )
        return None if row is None else _delivery(row)

    async def deliveries(self, channel_id: int) -> list[Delivery]:
        """Return everything delivered to a channel, oldest first."""
        rows = await self._db.rows(
            f"{sql.DELIVERIES} WHERE channel_id = ? ORDER BY delivered_at, message_id, article_id",
            [channel_id],
        )
        return [_delivery(row) for row in rows]

    async def refusal(self, article_id: int, channel_id: int) -> str | None:
        """Return why Discord refused an article in a channel, if it did."""
        value = await self._db.scalar(sql.REFUSAL, [article_id, channel_id])
        return None if value is None else str(value)

    async def in_backfill(self, subscription_id: int, article_id: int) -> bool:
        """Tell whether an article was picked from the backlog for a new subscription."""
        return bool(await self._db.scalar(sql.IN_BACKFILL, [subscription_id, article_id]))
