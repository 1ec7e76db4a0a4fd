"""Channel subscriptions: a channel follows a topic, above a minimum quality, with options."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Mode = Literal["each", "digest"]
MODES: tuple[Mode, ...] = ("each", "digest")
SameStory = Literal["skip", "post"]
SAME_STORY: tuple[SameStory, ...] = ("skip", "post")
Style = Literal["embed", "compact"]
STYLES: tuple[Style, ...] = ("embed", "compact")
MAX_PROVIDERS = 25  # per list: as many as Discord shows choices
MAX_PER_DAY = 100


@dataclass(frozen=True, slots=True)
class SubscriptionOptions:
    """What a moderator shaped: which articles a subscription takes, and how they show.

    Every option but the style ones decides whether an article is due; the store checks
    them in the database (``bot.store.due``).
    """

    include: str | None = None  # a filter query (bot.store.fulltext): only matching articles
    exclude: str | None = None  # a filter query: never matching articles
    providers: tuple[str, ...] = ()  # only these providers' articles (domains)
    exclude_providers: tuple[str, ...] = ()  # never these providers' articles (domains)
    mention_role_id: int | None = None  # the one role each post pings
    same_story: SameStory = "skip"  # skip articles of a story the channel already got
    max_per_day: int | None = None  # posts per channel per UTC day (the lowest cap wins)
    style: Style = "embed"  # or one line per article, with Discord's link preview
    thread: bool = False  # open a thread on each post (text channels)

    def style_of(self, topic: str) -> DeliveryStyle:
        """Return how this subscription's articles are posted."""
        return DeliveryStyle(
            mention_role_id=self.mention_role_id,
            compact=self.style == "compact",
            thread=self.thread,
            forum_tag=topic,
        )


#: A subscription as ``/subscribe`` makes it when given no option.
DEFAULT_OPTIONS = SubscriptionOptions()


@dataclass(frozen=True, slots=True)
class Subscription:
    """One channel following one topic in one server."""

    id: int
    guild_id: int
    channel_id: int
    topic: str  # the topic's name as shown when subscribing
    min_quality: int
    created_at: datetime
    created_by: int | None = None
    mode: Mode = "each"  # one message per article, or one digest message per run
    paused_reason: str | None = None
    paused_at: datetime | None = None
    options: SubscriptionOptions = DEFAULT_OPTIONS

    @property
    def style(self) -> DeliveryStyle:
        """Return how articles are posted for this subscription."""
        return self.options.style_of(self.topic)

    @property
    def active(self) -> bool:
        """Tell whether articles are posted to this subscription."""
        return self.paused_reason is None


@dataclass(frozen=True, slots=True)
class DeliveryStyle:
    """How articles are shown in a channel: whom they ping, embeds or lines, a thread.

    Whether the channel is a forum is not part of it: that is the channel's own kind,
    which the sender learns from Discord.
    """

    mention_role_id: int | None = None  # the one role each post pings; nothing else can ping
    compact: bool = False  # one line per article, with Discord's link preview, not an embed
    thread: bool = False  # open a thread on each posted message (text channels)
    forum_tag: str | None = None  # in a forum: apply the tag of this name (any case), if any


#: Embeds that ping nobody, no thread: how articles were always posted.
PLAIN = DeliveryStyle()


@dataclass(frozen=True, slots=True)
class Delivery:
    """An article posted to a channel: the ledger row that makes posting exactly-once."""

    article_id: int
    channel_id: int
    guild_id: int
    message_id: int
    delivered_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message about to be sent (or whose send was not confirmed): resent with its nonce."""

    nonce: str
    guild_id: int
    channel_id: int
    article_ids: tuple[int, ...]
    created_at: datetime
    attempts: int = 0
    style: DeliveryStyle = PLAIN  # how it shows: a resend shows as the first try


@dataclass(frozen=True, slots=True)
class DueArticle:
    """An article due in a channel, and the subscription that makes it due."""

    article_id: int
    subscription_id: int
    mode: Mode


@dataclass(frozen=True, slots=True)
class AlertChannel:
    """Where a server hears that posting stopped or resumed somewhere (``/alerts``)."""

    guild_id: int
    channel_id: int
    set_by: int | None = None
    failure: str | None = None  # why the last alert could not be posted; None: it was
    failed_at: datetime | None = None
