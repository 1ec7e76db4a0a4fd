"""Alerts: a server hears, in the channel it named with ``/alerts``, that posting changed state.

One plain line per change (a channel paused, resumed, removed; an article Discord refused),
tried once. An alert channel the bot cannot post in is logged and remembered in the store
(``AlertChannel.failure``), never retried in a loop: the next change tries again, once.
No discord.py in here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Protocol

from bot.errors import DeliveryError
from bot.store.interfaces import AlertStore

log = logging.getLogger(__name__)

_MARKDOWN = re.compile(r"([\\*_`~|>\[\]])")


class Notifier(Protocol):
    """Where alert lines go: Discord in production, a list in tests."""

    async def notify(self, channel_id: int, text: str) -> int:
        """Post one plain line that pings nobody; return its id.

        Raise ``ChannelForbidden`` (403), ``ChannelGone`` (404), ``MessageRefused`` (400) or
        ``DeliveryFailed`` (5xx, time-out), as ``Sender.send`` does.
        """
        ...


class Alerts:
    """Post a server's alerts in its alert channel, once each, never raising."""

    def __init__(self, store: AlertStore, notifier: Notifier) -> None:
        self.store = store
        self.notifier = notifier

    async def report(self, guild_id: int, text: str) -> bool:
        """Post one alert line for a server, if it named an alert channel; tell whether it did.

        A refusal is logged and recorded for ``/subscriptions``; nothing here raises, so
        that an alert never stops the posting run that raised it.
        """
        try:
            alert = await self.store.channel(guild_id)
            if alert is None:
                return False
            try:
                await self.notifier.notify(alert.channel_id, text)
            except DeliveryError as exc:
                log.warning("guild %s: cannot post an alert in channel %s (%s); not retried",
                            guild_id, alert.channel_id, exc)  # fmt: skip
                await self.store.record_failure(guild_id, str(exc))
                return False
            if alert.failure is not None:
                await self.store.record_failure(guild_id, None)
            return True
        except Exception:
            log.exception("guild %s: could not alert: %s", guild_id, text)
            return False


def paused(channel_id: int, topics: Sequence[str], reason: str, missing: Sequence[str]) -> str:
    """Return the alert for a channel whose subscriptions were paused (Discord said 403)."""
    where = f"Paused posting in <#{channel_id}>{_topics(topics)}"
    if missing:
        them = "it" if len(missing) == 1 else "them"
        return (
            f"{where}: the bot lacks {', '.join(missing)} there. "
            f"Grant {them} and posting resumes by itself."
        )
    return (
        f"{where}: Discord refused the bot there ({reason}). "
        "Check its permissions there; posting resumes by itself once it can post."
    )


def resumed(channel_id: int, topics: Sequence[str]) -> str:
    """Return the alert for a paused channel the bot can post in again."""
    return f"Resumed posting in <#{channel_id}>{_topics(topics)}."


def channel_gone(where: str, removed: int, topics: Sequence[str] = ()) -> str:
    """Return the alert for a deleted channel (``where``: ``#name``, or its mention)."""
    plural = "" if removed == 1 else "s"
    return (
        f"Stopped posting in {where}{_topics(topics)}: the channel is gone; "
        f"removed {removed} subscription{plural}."
    )


def refused(channel_id: int, links: Sequence[str], reason: str) -> str:
    """Return the alert for a message Discord refused in every form."""
    shown = ", ".join(f"<{link}>" for link in links)
    return (
        f"Discord refused {shown} in <#{channel_id}> in every form ({reason}); "
        "it will not be retried there."
    )


def _topics(topics: Sequence[str]) -> str:
    if not topics:
        return ""
    return " (" + ", ".join(f"**{_escape(topic)}**" for topic in topics) + ")"


def _escape(text: str) -> str:
    """Return text that shows as written in Discord's markdown."""
    return _MARKDOWN.sub(r"\\\1", text)
