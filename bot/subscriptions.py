"""Channel subscriptions: a channel follows a topic, above a minimum quality."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
    paused_reason: str | None = None
    paused_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Tell whether articles are posted to this subscription."""
        return self.paused_reason is None
