"""Channel subscriptions, once for both databases: topics, thresholds and options.

The statements are the shared SQL of ``bot.store.sql``. What the databases spell
differently (times, compiled filter queries, substring positions in suggestions, the count
a write reports) each backend names in its ``SubscriptionDialect``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from bot.articles import topic_key
from bot.store import due, limits, sql
from bot.store.fulltext import FilterQuery, parse_filter
from bot.store.ledger import Database, Writer
from bot.subscriptions import DEFAULT_OPTIONS, Mode, Subscription, SubscriptionOptions


@dataclass(frozen=True, slots=True)
class SubscriptionDialect:
    """How one database spells what the subscriptions keep differently."""

    due: due.Dialect
    time_param: Callable[[datetime], Any]
    time_from: Callable[[Any], datetime]
    # A filter query as an SQL value for include_match/exclude_match, and its parameters.
    compile_filter: Callable[[FilterQuery], tuple[str, list[Any]]]
    # The topics a server subscribes to containing a key. Parameters: guild id, key, key,
    # limit.
    suggest_topics: str
    # How many rows a write changed, from what the backend's execute returned.
    rowcount: Callable[[Any], int]
    # A transaction whose reads stay true until it commits (PostgreSQL takes turns).
    subscribing: Callable[[Any], AbstractAsyncContextManager[Writer]]


class SqlSubscriptions:
    """``SubscriptionStore`` on a database of either kind."""

    def __init__(self, database: Database, dialect: SubscriptionDialect) -> None:
        self._db = database
        self._dialect = dialect
        self._due = due.statements(dialect.due)

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
        options: SubscriptionOptions | None = None,
    ) -> tuple[Subscription, bool]:
        """Subscribe a channel to a topic, or update its threshold, mode and options; tell
        if it is new. ``options`` None keeps an existing subscription's.

        A new subscription gets the ``backfill`` best of the topic's recent postable
        articles from the backlog; everything loaded later is due for it anyway. When the
        threshold or an option that decides what is due changes, the topic's articles are
        weighed again: what the new options let through since the subscription was made
        becomes due, as it would have been with them from the start.
        """
        key = topic_key(topic)
        now = self._dialect.time_param(datetime.now(UTC))
        async with self._dialect.subscribing(self._db) as writer:
            before = await self._get(channel_id, key)
            await writer.execute(
                sql.SUBSCRIBE,
                [guild_id, channel_id, key, topic, min_quality, now, created_by, mode],
            )
            subscription_id = await self._db.scalar(sql.SUBSCRIPTION_ID, [channel_id, key])
            if before is None or options is not None:
                await self._set_options(writer, subscription_id, options or DEFAULT_OPTIONS)
            if before is None:
                if backfill > 0:
                    await writer.execute(
                        sql.PICK_BACKFILL,
                        [key, min_quality, limits.BACKLOG_WINDOW, channel_id, key, backfill],
                    )
                await writer.execute(self._due.fill_new, [subscription_id])
            elif _weighs_differently(before, min_quality, options):
                await writer.execute(self._due.forget, [subscription_id])
                await writer.execute(self._due.fill, [subscription_id])
        found = await self.get(guild_id=guild_id, channel_id=channel_id, topic=topic)
        assert found is not None
        return found, before is None

    async def _set_options(
        self, writer: Writer, subscription_id: int, options: SubscriptionOptions
    ) -> None:
        await writer.execute(
            sql.SET_OPTIONS,
            [options.include, options.exclude, options.mention_role_id, options.same_story,
             options.max_per_day, options.style, options.thread, subscription_id],
        )  # fmt: skip
        await writer.execute(
            *filter_update(
                self._dialect.compile_filter, subscription_id, options.include, options.exclude
            )
        )
        await writer.execute(sql.CLEAR_PROVIDERS, [subscription_id])
        for rule, domains in (("only", options.providers), ("never", options.exclude_providers)):
            for domain in domains:
                await writer.execute(sql.ADD_PROVIDER, [subscription_id, rule, domain])

    async def _get(self, channel_id: int, key: str) -> Subscription | None:
        found = await self._select("WHERE channel_id = ? AND topic_key = ?", [channel_id, key])
        return found[0] if found else None

    async def get(self, *, guild_id: int, channel_id: int, topic: str) -> Subscription | None:
        """Return one subscription of a server's channel to a topic."""
        found = await self._select(
            "WHERE guild_id = ? AND channel_id = ? AND topic_key = ?",
            [guild_id, channel_id, topic_key(topic)],
        )
        return found[0] if found else None

    async def unsubscribe(self, *, guild_id: int, channel_id: int, topic: str) -> bool:
        """Remove a server's channel subscription to a topic; tell whether there was one."""
        async with self._db.transaction() as writer:
            result = await writer.execute(sql.UNSUBSCRIBE, [guild_id, channel_id, topic_key(topic)])
        return self._dialect.rowcount(result) > 0

    async def in_guild(self, guild_id: int) -> list[Subscription]:
        """Return a server's subscriptions, by channel then topic."""
        return await self._select("WHERE guild_id = ? ORDER BY channel_id, topic_key", [guild_id])

    async def all(self) -> list[Subscription]:
        """Return every subscription of every server, active or paused."""
        return await self._select("ORDER BY guild_id, channel_id, topic_key", [])

    async def _select(self, where: str, params: Sequence[Any]) -> list[Subscription]:
        rows = await self._db.rows(f"{sql.SUBSCRIPTIONS} {where}", params)
        if not rows:
            return []
        providers = await self._providers([row["id"] for row in rows])
        return [self._subscription(row, providers.get(row["id"], {})) for row in rows]

    async def _providers(self, ids: list[int]) -> dict[int, dict[str, list[str]]]:
        """Return the provider lists of subscriptions: id -> rule -> domains."""
        where = "" if len(ids) > 100 else f"WHERE subscription_id IN ({sql.in_list(len(ids))})"
        rows = await self._db.rows(
            f"{sql.SUBSCRIPTION_PROVIDERS} {where} ORDER BY subscription_id, rule, domain",
            [] if len(ids) > 100 else ids,
        )
        found: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            found[row["subscription_id"]][row["rule"]].append(row["domain"])
        return found

    def _subscription(self, row: Any, providers: dict[str, list[str]]) -> Subscription:
        time_from = self._dialect.time_from
        return Subscription(
            id=row["id"],
            guild_id=row["guild_id"],
            channel_id=row["channel_id"],
            topic=row["topic_name"],
            min_quality=row["min_quality"],
            created_at=time_from(row["created_at"]),
            created_by=row["created_by"],
            mode=row["mode"],
            paused_reason=row["paused_reason"],
            paused_at=time_from(row["paused_at"]) if row["paused_at"] else None,
            options=SubscriptionOptions(
                include=row["include_query"],
                exclude=row["exclude_query"],
                providers=tuple(providers.get("only", ())),
                exclude_providers=tuple(providers.get("never", ())),
                mention_role_id=row["mention_role_id"],
                same_story=row["same_story"],
                max_per_day=row["max_per_day"],
                style=row["style"],
                thread=bool(row["thread"]),
            ),
        )

    async def count(self) -> tuple[int, int]:
        """Return how many subscriptions are active and how many are paused."""
        row = await self._db.first(
            "SELECT count(*) AS total, "
            "coalesce(sum(CASE WHEN paused_reason IS NULL THEN 0 ELSE 1 END), 0) AS paused "
            "FROM subscriptions"
        )
        return int(row["total"]) - int(row["paused"]), int(row["paused"])

    async def suggest_topics(
        self, guild_id: int, text: str, limit: int = limits.MAX_SUGGESTIONS
    ) -> list[str]:
        """Return the topics a server subscribes to that start with, then contain, ``text``."""
        key = topic_key(text)
        rows = await self._db.rows(
            self._dialect.suggest_topics,
            [guild_id, key, key, min(limit, limits.MAX_SUGGESTIONS)],
        )
        return [row["topic_name"] for row in rows]

    async def pause(self, subscription_id: int, reason: str) -> None:
        """Stop posting to a subscription for ``reason`` (shown by ``/subscriptions``)."""
        now = self._dialect.time_param(datetime.now(UTC))
        async with self._db.transaction() as writer:
            await writer.execute(sql.PAUSE, [reason, now, subscription_id])

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
            result = await writer.execute(
                sql.REMOVE_SUBSCRIPTIONS_OF.format(column=column), [value]
            )
        return self._dialect.rowcount(result)


def filter_update(
    compile_filter: Callable[[FilterQuery], tuple[str, list[Any]]],
    subscription_id: int,
    include: str | None,
    exclude: str | None,
) -> tuple[str, list[Any]]:
    """Return the UPDATE that stores a subscription's filter queries compiled, and its
    parameters: what subscribing does, and what a copy's target does with copied queries."""
    compiled = [
        ("NULL", []) if query is None else compile_filter(parse_filter(query))
        for query in (include, exclude)
    ]
    (include_sql, include_params), (exclude_sql, exclude_params) = compiled
    return (
        sql.SET_FILTERS.format(include=include_sql, exclude=exclude_sql),
        [*include_params, *exclude_params, subscription_id],
    )


def _weighs_differently(
    before: Subscription, min_quality: int, options: SubscriptionOptions | None
) -> bool:
    """Tell whether a change of threshold or options changes which articles are due."""
    if min_quality != before.min_quality:
        return True
    if options is None:
        return False
    old, new = before.options, options
    return (old.include, old.exclude, old.providers, old.exclude_providers, old.same_story) != (
        new.include, new.exclude, new.providers, new.exclude_providers, new.same_story
    )  # fmt: skip
