"""``newsbot run``: build the dependencies once, start the bot, stop cleanly on a signal."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from contextlib import suppress

import aiohttp
import discord
import yarl

from bot.chat.bot import NewsBot
from bot.config import Settings
from bot.errors import ConfigError, DiscordUnreachable
from bot.monitoring import Monitoring
from bot.runlock import RunLock, run_locks
from bot.store import open_store

log = logging.getLogger(__name__)

TOKEN_HELP = (
    "Put DISCORD_TOKEN=<your bot token> in .env (see .env.example) or in the environment; "
    "the README says where to get one."
)
UNREACHABLE_HELP = (
    "check the network (and NEWSBOT_DISCORD_API if set). newsbot does not retry at start-up: "
    "run it under a supervisor that restarts it (systemd, Docker)."
)


def point_discord_at(settings: Settings) -> None:
    """Send REST calls and the gateway where the settings say (a proxy, or a test server)."""
    if settings.discord_api:
        discord.http.Route.BASE = settings.discord_api.rstrip("/")
    if settings.discord_gateway:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway)


async def run_bot(settings: Settings) -> int:
    """Load the articles, connect to Discord and serve until a signal; return the exit status."""
    if not settings.discord_token:
        raise ConfigError(f"DISCORD_TOKEN is not set. {TOKEN_HELP}")
    point_discord_at(settings)
    async with run_locks(settings.db, settings.shard_ids) as run_lock:
        return await _serve(settings, settings.discord_token, run_lock)


async def _serve(settings: Settings, token: str, run_lock: RunLock) -> int:
    async with await open_store(settings.db) as store:
        bot = NewsBot(store, settings, run_lock=run_lock)
        monitoring = Monitoring(bot)
        if settings.http is not None:
            await monitoring.start(*settings.http)
            log.info("serving /metrics, /healthz and /readyz on %s:%d", *settings.http)
        try:
            return await _run(bot, settings, token)
        finally:
            await monitoring.stop()


async def _run(bot: NewsBot, settings: Settings, token: str) -> int:
    """Load new article files, then connect and serve until a signal."""
    report = await bot.rescan()
    log.info("loaded %s: %s", settings.data_dir, report.summary())
    async with bot:
        stop_on_signals(bot)
        try:
            await bot.start(token)
        except discord.LoginFailure:
            raise ConfigError(f"Discord refused DISCORD_TOKEN. {TOKEN_HELP}") from None
        except discord.PrivilegedIntentsRequired:
            raise ConfigError("Discord refused the bot's intents.") from None
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            # Once logged in, discord.py reconnects by itself: only the login gets here.
            if not bot.is_closed():  # (closed: a signal stopped it while it logged in)
                raise DiscordUnreachable(_unreachable(exc)) from None
    log.info("stopped")
    return 0


def _unreachable(exc: Exception) -> str:
    if isinstance(exc, discord.HTTPException):  # a 5xx that outlasted discord.py's retries
        return f"Discord answered {exc.status} to the login; {UNREACHABLE_HELP}"
    return f"cannot reach Discord at {discord.http.Route.BASE} ({exc}); {UNREACHABLE_HELP}"


def stop_on_signals(bot: NewsBot) -> Callable[[int], None]:
    """Close cleanly on the first SIGINT or SIGTERM; exit at once on the second."""
    loop = asyncio.get_running_loop()
    stopping = False
    closing: set[asyncio.Task[None]] = set()  # keeps the close task referenced until done

    def stop(signum: int) -> None:
        nonlocal stopping
        name = signal.Signals(signum).name
        if stopping:
            log.warning("second %s: exiting now", name)
            os._exit(128 + signum)
        stopping = True
        log.info("%s: closing the Discord connection and the database", name)
        task = loop.create_task(bot.close())
        closing.add(task)
        task.add_done_callback(closing.discard)

    for signum in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):  # not on this platform or thread
            loop.add_signal_handler(signum, stop, signum)
    return stop
