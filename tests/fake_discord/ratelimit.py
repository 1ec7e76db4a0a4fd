"""Optional Discord-style rate limiting with the real ``X-RateLimit-*`` headers.

Off by default. When on:

* ``POST /channels/{channel_id}/messages`` has a per-channel bucket of
  ``message_limit`` requests per ``message_window`` seconds (5 per 5 s);
* every other bot route has a per-route, per-major-parameter bucket of
  ``default_limit`` per ``default_window`` seconds;
* all bot-authenticated requests share a global limit of ``global_limit``
  per second (50); interaction callbacks and webhook requests are exempt,
  as on Discord.

Buckets use fixed windows that start with their first request, which is how
Discord's ``X-RateLimit-Reset-After`` behaves, so discord.py's own pacing
(wait when ``Remaining`` hits 0) avoids 429s and a bot that ignores the
headers gets them.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field

from .routing import Reply

#: Path parameters that make up a route's "major" parameter, as in discord.py.
MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "webhook_token")


@dataclass
class Bucket:
    """A fixed-window counter."""

    limit: int
    window: float
    count: int = 0
    reset_at: float = 0.0

    def roll(self, now: float) -> None:
        """Start a new window if the current one is over."""
        if now >= self.reset_at:
            self.count = 0
            self.reset_at = now + self.window

    def remaining(self) -> int:
        """Requests left in this window."""
        return max(0, self.limit - self.count)


@dataclass
class RateLimitHit:
    """One 429 the fake answered."""

    method: str
    path: str
    scope: str
    retry_after: float
    at: float = field(default_factory=time.monotonic)


@dataclass
class RateLimiter:
    """Decides whether a request is over a limit and which headers to send."""

    enabled: bool = False
    message_limit: int = 5
    message_window: float = 5.0
    default_limit: int = 50
    default_window: float = 1.0
    global_limit: int = 50
    global_window: float = 1.0
    hits: list[RateLimitHit] = field(default_factory=list)
    _buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    _global: Bucket | None = None

    def reset(self) -> None:
        """Forget all counters and recorded hits."""
        self._buckets.clear()
        self._global = None
        self.hits.clear()

    @staticmethod
    def bucket_hash(method: str, template: str) -> str:
        """A stable, opaque bucket id per route, like Discord's."""
        return hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:16]

    def _limits_for(self, method: str, template: str) -> tuple[int, float]:
        if method == "POST" and template == "/channels/{channel_id}/messages":
            return self.message_limit, self.message_window
        return self.default_limit, self.default_window

    def check(
        self,
        method: str,
        path: str,
        template: str,
        params: dict[str, str],
        *,
        exempt_from_global: bool,
    ) -> tuple[Reply | None, dict[str, str]]:
        """Count a request; return a 429 reply if over a limit, and the headers to send."""
        if not self.enabled:
            return None, {}
        now = time.monotonic()
        if not exempt_from_global:
            if self._global is None:
                self._global = Bucket(self.global_limit, self.global_window)
            self._global.roll(now)
            if self._global.remaining() == 0:
                retry_after = max(0.001, self._global.reset_at - now)
                self.hits.append(RateLimitHit(method, path, "global", retry_after))
                return self._too_many(retry_after, None, "global", is_global=True), {}
        major = ":".join(params.get(name, "") for name in MAJOR_PARAMETERS)
        bucket_id = self.bucket_hash(method, template)
        key = (bucket_id, major)
        bucket = self._buckets.get(key)
        if bucket is None:
            limit, window = self._limits_for(method, template)
            bucket = self._buckets[key] = Bucket(limit, window)
        bucket.roll(now)
        if bucket.remaining() == 0:
            retry_after = max(0.001, bucket.reset_at - now)
            self.hits.append(RateLimitHit(method, path, "user", retry_after))
            return self._too_many(retry_after, (bucket_id, bucket), "user", is_global=False), {}
        bucket.count += 1
        if not exempt_from_global and self._global is not None:
            self._global.count += 1
        return None, self._headers(bucket_id, bucket, now)

    @staticmethod
    def _headers(bucket_id: str, bucket: Bucket, now: float) -> dict[str, str]:
        reset_after = max(0.0, bucket.reset_at - now)
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(bucket.remaining()),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket_id,
        }

    def _too_many(
        self,
        retry_after: float,
        bucket: tuple[str, Bucket] | None,
        scope: str,
        *,
        is_global: bool,
    ) -> Reply:
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": scope,
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        if bucket is not None:
            bucket_id, b = bucket
            headers.update(self._headers(bucket_id, b, time.monotonic()))
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
            "code": 0,
        }
        return Reply(429, body, headers)
