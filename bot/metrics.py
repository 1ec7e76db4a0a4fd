"""What ``/metrics`` tells Prometheus about a running bot.

The metrics live in a registry of their own (one per bot, not the library's global one),
follow Prometheus' naming conventions (``newsbot_`` prefix, ``_total`` counters,
``_seconds`` units) and carry only bounded labels: an outcome, a command name, a shard,
a rate-limit scope; never a guild, channel or article id, nor topic text.

Counters move as things happen; what the database knows (articles, outbox, subscriptions)
and what discord.py measures (gateway latency) is read when Prometheus scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from types import SimpleNamespace
from typing import TYPE_CHECKING

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from bot.loader import LoadReport
    from bot.posting import RunReport
    from bot.store import Store

FILE_OUTCOMES = ("added", "updated", "unchanged", "rejected")
DELIVERY_OUTCOMES = ("sent", "retried", "paused", "removed", "refused")
RATE_LIMIT_SCOPES = ("user", "global", "shared")
#: Slash commands answer within Discord's 3 s or not at all: buckets around that.
COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)


class Metrics:
    """newsbot's Prometheus metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.articles = Gauge("newsbot_articles", "Articles stored.", registry=registry)
        self.files_loaded = Counter(
            "newsbot_files_loaded",
            "Article files considered by loads and rescans, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.command_seconds = Histogram(
            "newsbot_command_duration_seconds",
            "Time from a slash command's arrival to the end of its handling, by command.",
            ["command"],
            buckets=COMMAND_BUCKETS,
            registry=registry,
        )
        self.command_errors = Counter(
            "newsbot_command_errors",
            "Slash commands that ended in an error answer, by command.",
            ["command"],
            registry=registry,
        )
        self.deliveries = Counter(
            "newsbot_deliveries",
            "Messages the posting job tried to deliver, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.outbox = Gauge(
            "newsbot_outbox_messages",
            "Messages written to the outbox whose delivery Discord has not confirmed yet.",
            registry=registry,
        )
        self.subscriptions = Gauge(
            "newsbot_subscriptions",
            "Subscriptions, active or paused.",
            ["state"],
            registry=registry,
        )
        self.run_seconds = Gauge(
            "newsbot_posting_run_duration_seconds",
            "How long the last posting run took.",
            registry=registry,
        )
        self.run_finished = Gauge(
            "newsbot_posting_run_finished_timestamp_seconds",
            "When the last posting run finished (Unix time).",
            registry=registry,
        )
        self.rate_limited = Counter(
            "newsbot_discord_rate_limited",
            "429 answers from Discord, by the scope Discord gave.",
            ["scope"],
            registry=registry,
        )
        self.gateway_latency = Gauge(
            "newsbot_gateway_latency_seconds",
            "Time between a gateway heartbeat and its acknowledgement, by shard.",
            ["shard"],
            registry=registry,
        )
        self.last_run_finished: float | None = None  # Unix time
        for outcome in FILE_OUTCOMES:  # every series exists from the start, at 0
            self.files_loaded.labels(outcome)
        for outcome in DELIVERY_OUTCOMES:
            self.deliveries.labels(outcome)
        for scope in RATE_LIMIT_SCOPES:
            self.rate_limited.labels(scope)
        for state in ("active", "paused"):
            self.subscriptions.labels(state)

    def count_load(self, report: LoadReport) -> None:
        """Count the files a load or rescan considered."""
        counts = {
            "added": report.added,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": len(report.rejected),
        }
        for outcome, count in counts.items():
            self.files_loaded.labels(outcome).inc(count)

    def observe_run(self, report: RunReport, seconds: float) -> None:
        """Record a finished posting run: its deliveries, duration and end."""
        for outcome, count in report.deliveries().items():
            self.deliveries.labels(outcome).inc(count)
        self.last_run_finished = time.time()
        self.run_seconds.set(seconds)
        self.run_finished.set(self.last_run_finished)

    def observe_command(self, command: str, seconds: float, *, failed: bool) -> None:
        """Record one slash command's handling."""
        self.command_seconds.labels(command).observe(seconds)
        if failed:
            self.command_errors.labels(command).inc()

    def http_trace(self) -> aiohttp.TraceConfig:
        """Return a trace for discord.py's HTTP session that counts Discord's 429s by scope."""
        trace = aiohttp.TraceConfig()

        async def on_request_end(
            session: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            if params.response.status == 429:
                scope = params.response.headers.get("X-RateLimit-Scope", "user").lower()
                self.rate_limited.labels(scope if scope in RATE_LIMIT_SCOPES else "user").inc()

        trace.on_request_end.append(on_request_end)
        return trace

    async def refresh(self, store: Store, latencies: Iterable[tuple[int, float]]) -> None:
        """Read what the database and the gateway know now, for a scrape."""
        self.articles.set(await store.articles.count())
        self.outbox.set(await store.ledger.outbox_size())
        active, paused = await store.subscriptions.count()
        self.subscriptions.labels("active").set(active)
        self.subscriptions.labels("paused").set(paused)
        for shard, latency in latencies:
            if latency == latency and latency != float("inf"):  # nan/inf until the first ACK
                self.gateway_latency.labels(str(shard)).set(latency)
