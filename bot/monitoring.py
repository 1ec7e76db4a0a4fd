"""The HTTP listener an admin's monitoring talks to (``NEWSBOT_HTTP=host:port``).

It runs on the bot's own event loop and serves three paths, nothing else:

- ``/metrics``: the Prometheus text format (``bot.metrics``);
- ``/healthz``: 200 while the process and its event loop answer (liveness);
- ``/readyz``: 200 with a JSON body when every shard this process owns is connected, the
  database answers, and the last posting run finished within two intervals (or none is
  due yet); 503 with the same JSON, naming what is not ready, otherwise.

Any other path is a 404 and any other method a 405, from aiohttp itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from bot.errors import ConfigError, NewsbotError

if TYPE_CHECKING:
    from bot.chat.bot import NewsBot

DATABASE_TIMEOUT = 2.0  # seconds a readiness probe waits for the database


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness condition: whether it holds, and what a person should know."""

    ok: bool
    detail: str


class Monitoring:
    """``/metrics``, ``/healthz`` and ``/readyz`` for one bot."""

    def __init__(self, bot: NewsBot) -> None:
        self.bot = bot
        self.started = time.time()
        self._runner: web.AppRunner | None = None
        self._metrics = make_aiohttp_handler(bot.metrics.registry)

    def app(self) -> web.Application:
        """Return the web application with its three routes."""
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        return app

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port``, or raise ``ConfigError`` saying why it cannot."""
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(
                f"NEWSBOT_HTTP: cannot listen on {host}:{port}: {exc.strerror}"
            ) from None
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        """Serve the metrics, with what the database and gateway know refreshed first."""
        # Without the database the counters still tell; /readyz says what is wrong.
        with contextlib.suppress(NewsbotError, TimeoutError):
            await asyncio.wait_for(
                self.bot.metrics.refresh(self.bot.store, self.bot.latencies), DATABASE_TIMEOUT
            )
        return await self._metrics(request)

    async def healthz(self, request: web.Request) -> web.Response:
        """Answer 200: the process and its event loop are alive."""
        return web.json_response({"alive": True})

    async def readyz(self, request: web.Request) -> web.Response:
        """Answer 200 when ready, 503 naming what is not."""
        checks = {
            "discord": self._discord(),
            "database": await self._database(),
            "posting": self._posting(),
        }
        ready = all(check.ok for check in checks.values())
        body: dict[str, Any] = {
            "ready": ready,
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()},
        }
        return web.Response(
            status=200 if ready else 503, text=json.dumps(body), content_type="application/json"
        )

    def _discord(self) -> Check:
        shards = self.bot.shards
        if not self.bot.is_ready() or not shards:
            return Check(False, "not connected to Discord yet")
        down = sorted(shard_id for shard_id, shard in shards.items() if shard.is_closed())
        if down:
            return Check(False, f"shards {', '.join(map(str, down))} disconnected")
        return Check(True, f"{len(shards)} shards connected")

    async def _database(self) -> Check:
        try:
            self.bot.store.check_file()
            count = await asyncio.wait_for(self.bot.store.articles.count(), DATABASE_TIMEOUT)
        except TimeoutError:
            return Check(False, f"no answer within {DATABASE_TIMEOUT:.0f} s")
        except NewsbotError as exc:
            return Check(False, str(exc))
        return Check(True, f"{count} articles")

    def _posting(self) -> Check:
        interval = self.bot.settings.post_interval.total_seconds()
        finished = self.bot.metrics.last_run_finished
        now = time.time()
        if finished is None:
            if now - self.started < 2 * interval:
                return Check(True, "no posting run due yet")
            return Check(False, f"no posting run finished in {now - self.started:.0f} s")
        if now - finished > 2 * interval:
            return Check(False, f"the last posting run finished {now - finished:.0f} s ago")
        return Check(True, f"the last posting run finished {now - finished:.0f} s ago")
