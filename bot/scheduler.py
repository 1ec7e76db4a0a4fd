"""The recurring jobs: post what is due, and rescan the data directory for new files.

APScheduler 3's ``AsyncIOScheduler`` runs both on the bot's event loop. Each job coalesces
missed runs and never runs twice at once; the loader parses in worker threads or
processes and the store writes in its own thread, so commands keep answering meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.errors import NewsbotError

log = logging.getLogger(__name__)

POST_JOB = "post"
RESCAN_JOB = "rescan"


class NewsScheduler:
    """Start and stop the posting and rescanning jobs."""

    def __init__(
        self,
        *,
        post: Callable[[], Awaitable[object]],
        rescan: Callable[[], Awaitable[object]],
        post_interval: timedelta,
        rescan_interval: timedelta,
    ) -> None:
        self.scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )
        jitter = max(1, int(post_interval.total_seconds() * 0.05))  # spread the load a little
        self.scheduler.add_job(
            _logged(post, "posting"), "interval", id=POST_JOB, jitter=jitter,
            seconds=post_interval.total_seconds(),
        )  # fmt: skip
        self.scheduler.add_job(
            _logged(rescan, "rescan"), "interval", id=RESCAN_JOB,
            seconds=rescan_interval.total_seconds(),
        )  # fmt: skip

    def start(self) -> None:
        """Start the jobs (on the running event loop); their first runs are one interval away."""
        if not self.scheduler.running:
            self.scheduler.start()
            log.info(
                "scheduler started: %s", ", ".join(str(job) for job in self.scheduler.get_jobs())
            )

    def shutdown(self) -> None:
        """Stop the jobs; a job under way is cancelled with the event loop's tasks."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


def _logged(job: Callable[[], Awaitable[object]], name: str) -> Callable[[], Awaitable[None]]:
    """Wrap a job so that a failure is logged and the next run still happens."""

    async def run() -> None:
        try:
            await job()
        except NewsbotError as exc:  # a known condition (a full disk, say): its message is enough
            log.error("%s job failed: %s; it runs again at its next interval", name, exc)
        except Exception:
            log.exception("%s job failed; it runs again at its next interval", name)
        except asyncio.CancelledError:  # the bot is stopping (a signal): not a failure
            log.info("%s job stopped: the bot is closing", name)

    run.__name__ = f"{name}_job"
    return run
