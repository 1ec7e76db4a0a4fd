"""The posting ledger, once for both databases: due articles, outbox, deliveries, refusals.

The statements are the shared SQL of ``bot.store.sql`` and the rules of ``bot.store.due``.
What the databases hold differently (times; an outbox message's article ids and style;
full-text matching) each backend names in its ``LedgerDialect``
(``bot.store.sqlite.ledger``, ``bot.store.postgres.ledger``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.articles import topic_key
from bot.store import due, sql
from bot.subscriptions import Delivery, DeliveryStyle, DueArticle, OutboxMessage


class Writer(Protocol):
    """A write transaction of either backend."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement in the transaction."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each parameter row, in the transaction."""
        ...


class Database(Protocol):
    """The part of either backend's database object the shared concerns use."""

    def transaction(self) -> AbstractAsyncContextManager[Writer]:
        """Run the body as one write transaction."""
        ...

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """Return every row of a query (read by column name)."""
        ...

    async def first(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Return a query's first row, or None."""
        ...

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Return the first column of a query's first row, or None."""
        ...


@dataclass(frozen=True, slots=True)
class LedgerDialect:
    """How one database spells and holds what the ledger keeps differently."""

    due: due.Dialect
    time_param: Callable[[datetime], Any]
    time_from: Callable[[Any], datetime]
    ids_param: Callable[[Sequence[int]], Any]
    ids_from: Callable[[Any], tuple[int, ...]]
    style_param: Callable[[DeliveryStyle], Any]
    style_from: Callable[[Any], DeliveryStyle]


class SqlLedger:
    """``Ledger`` on a database of either kind."""

    def __init__(self, database: Database, dialect: LedgerDialect) -> None:
        self._db = database
        self._dialect = dialect
        self._due = due.statements(dialect.due)
        outbox_articles = dialect.due.outbox_articles
        self._record_delivery = sql.RECORD_DELIVERY.format(outbox_articles=outbox_articles)
        self._record_refusal = sql.RECORD_REFUSAL.format(outbox_articles=outbox_articles)
        self._forget_sent = due.FORGET_SENT.format(outbox_articles=outbox_articles)

    @property
    def rules(self) -> tuple[due.Rule, ...]:
        """The rules that make an article due, in the order ``/news why`` checks them."""
        return self._due.rules

    async def due_articles(
        self,
        channel_id: int,
        *,
        topic: str | None = None,
        forget_stale: bool = False,
        limit: int | None = None,
    ) -> list[DueArticle]:
        """Return what a channel's subscriptions make due, best quality first (at most
        ``limit``).

        Due: every rule of ``bot.store.due`` holds, for one of the channel's candidates.
        With ``forget_stale``, candidates found to fail a lasting rule are dropped for good.
        """
        if topic is None:
            rows = await self._db.rows(self._due.plan, [channel_id])
        else:
            rows = await self._db.rows(self._due.plan_of_topic, [channel_id, topic_key(topic)])
        found: dict[int, DueArticle] = {}
        stale = []
        for row in rows:
            article_id, subscription_id = row["article_id"], row["subscription_id"]
            if not row["lasting"]:
                stale.append((channel_id, article_id, subscription_id))
            elif (
                row["passing"]
                and article_id not in found  # an article on two topics: once
                and (limit is None or len(found) < limit)
            ):
                found[article_id] = DueArticle(article_id, subscription_id, row["mode"])
        if forget_stale and stale:
            async with self._db.transaction() as writer:
                await writer.executemany(due.FORGET_CANDIDATE, stale)
        return list(found.values())

    async def candidate_channels(self) -> set[int]:
        """Return the channels that have candidates: only they can have something due."""
        rows = await self._db.rows("SELECT DISTINCT channel_id FROM candidates")
        return {row["channel_id"] for row in rows}

    async def verdicts(self, article_id: int, guild_id: int) -> dict[int, due.Reason | None]:
        """Return, for each of a server's subscriptions on the article's topics, the first
        rule the article fails for it (None: it holds every rule)."""
        rows = await self._db.rows(self._due.verdicts, [article_id, guild_id])
        verdicts: dict[int, due.Reason | None] = {}
        for row in rows:
            failed = (rule.reason for i, rule in enumerate(self.rules) if not row[f"r{i}"])
            verdicts[row["subscription_id"]] = next(failed, None)
        return verdicts

    async def posts_since(self, channel_id: int, since: datetime) -> int:
        """Return how many messages the channel got since ``since``."""
        when = self._dialect.time_param(since)
        count = await self._db.scalar(due.POSTS_SINCE, [channel_id, when])
        return int(count or 0)

    async def story_delivery(self, article_id: int, channel_id: int) -> tuple[str, Delivery] | None:
        """Return the first article of the same story delivered to the channel: URL, delivery."""
        row = await self._db.first(
            due.STORY_DELIVERY, [channel_id, article_id, article_id, article_id]
        )
        return None if row is None else (row["url"], self._delivery(row))

    async def outbox(self, channel_id: int | None = None) -> list[OutboxMessage]:
        """Return the messages whose sending was not confirmed (all, or one channel's)."""
        where, params = ("WHERE channel_id = ?", [channel_id]) if channel_id else ("", [])
        rows = await self._db.rows(f"{sql.OUTBOX} {where} ORDER BY created_at, nonce", params)
        return [self._outbox_message(row) for row in rows]

    async def outbox_size(self) -> int:
        """Return how many messages wait for Discord to confirm them."""
        return int(await self._db.scalar("SELECT count(*) FROM outbox") or 0)

    async def add_outbox(self, message: OutboxMessage) -> None:
        """Remember a message before it is sent, so a crash cannot make it be sent twice."""
        dialect = self._dialect
        async with self._db.transaction() as writer:
            await writer.execute(
                sql.ADD_OUTBOX,
                [message.nonce, message.guild_id, message.channel_id,
                 dialect.ids_param(message.article_ids), dialect.time_param(message.created_at),
                 dialect.style_param(message.style)],
            )  # fmt: skip

    async def record_delivery(self, nonce: str, message_id: int, delivered_at: datetime) -> None:
        """Record that Discord accepted an outbox message: its articles are delivered."""
        when = self._dialect.time_param(delivered_at)
        async with self._db.transaction() as writer:
            await writer.execute(self._record_delivery, [message_id, when, nonce])
            await writer.execute(self._forget_sent, [nonce, nonce])
            await writer.execute(sql.DROP_OUTBOX, [nonce])

    async def record_refusal(self, nonce: str, reason: str, refused_at: datetime) -> None:
        """Record that Discord refused an outbox message in every form: never retry it."""
        when = self._dialect.time_param(refused_at)
        async with self._db.transaction() as writer:
            await writer.execute(self._record_refusal, [reason, when, nonce])
            await writer.execute(self._forget_sent, [nonce, nonce])
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
        return None if row is None else self._delivery(row)

    async def deliveries(self, channel_id: int) -> list[Delivery]:
        """Return everything delivered to a channel, oldest first."""
        rows = await self._db.rows(
            f"{sql.DELIVERIES} WHERE channel_id = ? ORDER BY delivered_at, message_id, article_id",
            [channel_id],
        )
        return [self._delivery(row) for row in rows]

    async def refusal(self, article_id: int, channel_id: int) -> str | None:
        """Return why Discord refused an article in a channel, if it did."""
        value = await self._db.scalar(sql.REFUSAL, [article_id, channel_id])
        return None if value is None else str(value)

    async def in_backfill(self, subscription_id: int, article_id: int) -> bool:
        """Tell whether an article was picked from the backlog for a new subscription."""
        return bool(await self._db.scalar(sql.IN_BACKFILL, [subscription_id, article_id]))

    def _outbox_message(self, row: Any) -> OutboxMessage:
        return OutboxMessage(
            nonce=row["nonce"],
            guild_id=row["guild_id"],
            channel_id=row["channel_id"],
            article_ids=self._dialect.ids_from(row["article_ids"]),
            created_at=self._dialect.time_from(row["created_at"]),
            attempts=row["attempts"],
            style=self._dialect.style_from(row["style"]),
        )

    def _delivery(self, row: Any) -> Delivery:
        return Delivery(
            article_id=row["article_id"],
            channel_id=row["channel_id"],
            guild_id=row["guild_id"],
            message_id=row["message_id"],
            delivered_at=self._dialect.time_from(row["delivered_at"]),
        )
