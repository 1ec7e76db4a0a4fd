"""What storage offers the rest of newsbot: one typed ``Protocol`` per concern, and ``Store``.

The jobs, the cogs and the command line depend on these, never on a database: the SQLite
backend (``bot.store.sqlite``) and the PostgreSQL one (``bot.store.postgres``) implement them.
``Store`` is the facade a caller opens (``bot.store.open_store``): one attribute per concern,
and the lifecycle of the database behind them.

Every method returns the domain's frozen records (``bot.articles``, ``bot.subscriptions``)
or the two records below; none returns a database row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, Self

from bot.articles import (
    Article,
    ArticleDraft,
    ArticlePage,
    ProviderCount,
    TopicCount,
    pickled_as_tuple,
)
from bot.store.due import Reason
from bot.store.limits import MAX_SUGGESTIONS
from bot.store.rows import ArticleRows
from bot.store.turns import Turn
from bot.subscriptions import (
    AlertChannel,
    Delivery,
    DueArticle,
    Mode,
    OutboxMessage,
    Subscription,
    SubscriptionOptions,
)


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class SourceFile:
    """What the store remembers of a loaded file, to skip it while it stays the same."""

    path: str
    size: int
    mtime_ns: int
    digest: str


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    """What saving one article did; ``duplicate_of`` names another file holding the same URL."""

    url: str
    status: Literal["added", "updated"]
    duplicate_of: str | None = None


class ArticleStore(Protocol):
    """Articles with their topics and providers: saving, lookups, suggestions and search."""

    async def save(
        self, items: Sequence[tuple[ArticleDraft | ArticleRows, SourceFile | None]]
    ) -> list[SaveOutcome]:
        """Insert or update articles (and remember their files) in one transaction.

        An article is identified by its canonical URL: saving it again replaces its fields,
        topics and related coverage and never duplicates it. The loader passes ``ArticleRows``
        built in its worker processes; anything else may pass drafts.
        """
        ...

    async def count(self) -> int:
        """Return how many articles are stored."""
        ...

    async def get(self, article_id: int) -> Article | None:
        """Return one article by its id."""
        ...

    async def by_url(self, url: str) -> Article | None:
        """Return one article by any of its URLs (tracking parameters and case do not matter)."""
        ...

    async def many(self, ids: Sequence[int]) -> list[Article]:
        """Return the articles with ``ids``, in that order (unknown ids are left out)."""
        ...

    async def loaded_at(self, article_id: int) -> datetime | None:
        """Return when an article was first stored."""
        ...

    async def by_topic(
        self, topic: str, *, min_quality: int | None = None, limit: int = 10, offset: int = 0
    ) -> ArticlePage:
        """Return a topic's articles, newest first, optionally of at least ``min_quality``."""
        ...

    async def by_provider(
        self, provider: str, *, min_quality: int | None = None, limit: int = 10, offset: int = 0
    ) -> ArticlePage:
        """Return a provider's articles (matched by name or domain), newest first."""
        ...

    async def latest(
        self, *, min_quality: int | None = None, limit: int = 10, offset: int = 0
    ) -> ArticlePage:
        """Return the newest articles, optionally of at least ``min_quality``."""
        ...

    async def search(self, text: str, *, limit: int = 10, offset: int = 0) -> ArticlePage:
        """Return the articles matching the words of ``text``, best match first.

        Any text is safe: no query syntax is passed through. When no article has every
        word, articles with any of them are returned instead.
        """
        ...

    async def topic(self, name: str) -> TopicCount | None:
        """Return the topic called ``name`` (any case), or None when no article has it."""
        ...

    async def topics(self) -> list[TopicCount]:
        """Return every topic with its article count, most covered first."""
        ...

    async def providers(self) -> list[ProviderCount]:
        """Return every provider with its article count, most prolific first."""
        ...

    async def provider_ids(self, name_or_domain: str) -> list[int]:
        """Return the providers whose name or domain is ``name_or_domain``, in any case."""
        ...

    async def suggest_topics(self, text: str, limit: int = MAX_SUGGESTIONS) -> list[TopicCount]:
        """Return topics starting with ``text``, then containing it, by article count."""
        ...

    async def suggest_providers(
        self, text: str, limit: int = MAX_SUGGESTIONS
    ) -> list[ProviderCount]:
        """Return providers whose name or domain starts with ``text``, then contains it."""
        ...


class SubscriptionStore(Protocol):
    """Channels following topics."""

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
        weighed again.
        """
        ...

    async def get(self, *, guild_id: int, channel_id: int, topic: str) -> Subscription | None:
        """Return one subscription of a server's channel to a topic."""
        ...

    async def unsubscribe(self, *, guild_id: int, channel_id: int, topic: str) -> bool:
        """Remove a server's channel subscription to a topic; tell whether there was one."""
        ...

    async def in_guild(self, guild_id: int) -> list[Subscription]:
        """Return a server's subscriptions, by channel then topic."""
        ...

    async def all(self) -> list[Subscription]:
        """Return every subscription of every server, active or paused."""
        ...

    async def count(self) -> tuple[int, int]:
        """Return how many subscriptions are active and how many are paused."""
        ...

    async def suggest_topics(
        self, guild_id: int, text: str, limit: int = MAX_SUGGESTIONS
    ) -> list[str]:
        """Return the topics a server subscribes to that start with, then contain, ``text``."""
        ...

    async def pause(self, subscription_id: int, reason: str) -> None:
        """Stop posting to a subscription for ``reason`` (shown by ``/subscriptions``)."""
        ...

    async def resume(self, subscription_id: int) -> None:
        """Post to a paused subscription again."""
        ...

    async def remove_channel(self, channel_id: int) -> int:
        """Remove every subscription (and unsent message) of a deleted channel."""
        ...

    async def remove_guild(self, guild_id: int) -> int:
        """Remove every subscription (and unsent message) of a server the bot left."""
        ...


class Ledger(Protocol):
    """What is due where, and what was sent: the outbox, deliveries, refusals and backfill."""

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
        ...

    async def candidate_channels(self) -> set[int]:
        """Return the channels that have candidates: only they can have something due."""
        ...

    async def verdicts(self, article_id: int, guild_id: int) -> dict[int, Reason | None]:
        """Return, for each of a server's subscriptions on the article's topics, the first
        rule the article fails for it (None: it holds every rule)."""
        ...

    async def posts_since(self, channel_id: int, since: datetime) -> int:
        """Return how many messages the channel got since ``since``."""
        ...

    async def story_delivery(self, article_id: int, channel_id: int) -> tuple[str, Delivery] | None:
        """Return the first article of the same story delivered to the channel: URL, delivery."""
        ...

    async def outbox(self, channel_id: int | None = None) -> list[OutboxMessage]:
        """Return the messages whose sending was not confirmed (all, or one channel's)."""
        ...

    async def outbox_size(self) -> int:
        """Return how many messages wait for Discord to confirm them."""
        ...

    async def add_outbox(self, message: OutboxMessage) -> None:
        """Remember a message before it is sent, so a crash cannot make it be sent twice."""
        ...

    async def record_delivery(self, nonce: str, message_id: int, delivered_at: datetime) -> None:
        """Record that Discord accepted an outbox message: its articles are delivered."""
        ...

    async def record_refusal(self, nonce: str, reason: str, refused_at: datetime) -> None:
        """Record that Discord refused an outbox message in every form: never retry it."""
        ...

    async def drop_outbox(self, nonce: str) -> None:
        """Forget a message that Discord refused: its articles are due again."""
        ...

    async def count_outbox_attempt(self, nonce: str) -> None:
        """Count a send whose outcome is unknown (5xx, time-out): it is resent later."""
        ...

    async def delivery(self, article_id: int, channel_id: int) -> Delivery | None:
        """Return when an article was delivered to a channel, if it was."""
        ...

    async def deliveries(self, channel_id: int) -> list[Delivery]:
        """Return everything delivered to a channel, oldest first."""
        ...

    async def refusal(self, article_id: int, channel_id: int) -> str | None:
        """Return why Discord refused an article in a channel, if it did."""
        ...

    async def in_backfill(self, subscription_id: int, article_id: int) -> bool:
        """Tell whether an article was picked from the backlog for a new subscription."""
        ...


class AlertStore(Protocol):
    """Where each server hears that posting stopped or resumed somewhere (``/alerts``)."""

    async def channel(self, guild_id: int) -> AlertChannel | None:
        """Return where a server's alerts go, if it named a channel."""
        ...

    async def set_channel(self, guild_id: int, channel_id: int, set_by: int | None) -> None:
        """Send a server's alerts to a channel (forgetting an earlier failure)."""
        ...

    async def clear(self, guild_id: int) -> bool:
        """Stop a server's alerts; tell whether it had an alert channel."""
        ...

    async def record_failure(self, guild_id: int, failure: str | None) -> None:
        """Remember why the last alert could not be posted (None: it was posted)."""
        ...


class StateStore(Protocol):
    """Small values kept across restarts, such as the hash of the last command sync."""

    async def get(self, key: str) -> str | None:
        """Return a remembered value."""
        ...

    async def set(self, key: str, value: str) -> None:
        """Remember a value across restarts."""
        ...


class SendTurns(Protocol):
    """Turns to start Discord sends, shared by the processes that share them (``shared``)."""

    shared: bool  # every process of the bot takes its turns here (else: this process only)

    async def take(self, bot_id: int, interval: float) -> Turn:
        """Take ``bot_id``'s next turn, ``interval`` seconds after the one before."""
        ...


class SourceFileStore(Protocol):
    """The files articles were loaded from, so that a load skips what did not change."""

    async def known(self, paths: Sequence[str] | None = None) -> dict[str, SourceFile]:
        """Return what the store remembers of the files at ``paths`` (default: all), by path.

        The loader asks only for the files it found: with a million files remembered, all
        of them would take half a gigabyte.
        """
        ...

    async def touch(self, files: Sequence[SourceFile]) -> None:
        """Record new sizes and times of files whose content did not change."""
        ...


class Store(Protocol):
    """An open database: one attribute per concern, and its lifecycle."""

    @property
    def articles(self) -> ArticleStore:
        """Articles, topics, providers and search."""
        ...

    @property
    def subscriptions(self) -> SubscriptionStore:
        """Channels following topics."""
        ...

    @property
    def ledger(self) -> Ledger:
        """The posting ledger."""
        ...

    @property
    def alerts(self) -> AlertStore:
        """Where servers hear about posting trouble."""
        ...

    @property
    def state(self) -> StateStore:
        """Small values kept across restarts."""
        ...

    @property
    def files(self) -> SourceFileStore:
        """The loaded source files."""
        ...

    @property
    def send_turns(self) -> SendTurns:
        """Turns to start Discord sends (Discord's global limit is per bot, not process)."""
        ...

    def check_file(self) -> None:
        """Raise ``StoreError`` if the database is no longer the one that was opened.

        What this store writes would be lost, and the jobs must not go on.
        """
        ...

    async def schema_version(self) -> int:
        """Return the schema version the database records."""
        ...

    async def close(self) -> None:
        """Close the database connections."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: object) -> None: ...
