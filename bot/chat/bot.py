"""``NewsBot``: the discord.py client, its command tree and the command sync."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.alerts import Alerts
from bot.chat.alerts import AlertsCog
from bot.chat.delivery import DiscordSender
from bot.chat.news import NewsCog
from bot.chat.pacing import GlobalPacer
from bot.chat.posting import PostingCog
from bot.chat.replies import NO_MENTIONS, reply_error
from bot.chat.subscriptions import SubscriptionsCog
from bot.chat.views import answer_expired_buttons
from bot.config import Settings
from bot.loader import LoadReport, load_articles
from bot.logs import tag_task
from bot.metrics import Metrics
from bot.posting import Poster, owns_guild_for
from bot.runlock import FileLocks, RunLock
from bot.scheduler import NewsScheduler
from bot.store import Store

log = logging.getLogger(__name__)


def bot_intents() -> discord.Intents:
    """Return the least the features need: guild and channel events, no message content."""
    return discord.Intents(guilds=True)


@dataclass(frozen=True, slots=True)
class CommandSync:
    """The slash commands of this version, and where they are synced."""

    guild: discord.Object | None  # NEWSBOT_DEV_GUILD, or None: every server
    definitions: list[dict[str, Any]]
    digest: str  # of the definitions: what the last sync stored in the state
    key: str  # the state key holding the digest of the last sync


class NewsCommandTree(app_commands.CommandTree["NewsBot"]):
    """The command tree; every command error is answered here."""

    async def on_error(
        self, interaction: discord.Interaction[NewsBot], error: app_commands.AppCommandError
    ) -> None:
        """Answer a failed command: the reason for a user error, an apology for a bug."""
        await reply_error(interaction, error)
        interaction.client.observe_command(interaction, failed=True)

    async def interaction_check(self, interaction: discord.Interaction[NewsBot]) -> bool:
        """Tag what the command logs with its server, channel and shard; let every one run."""
        interaction.extras["started"] = time.monotonic()
        tag_task(
            guild_id=interaction.guild_id,
            channel_id=interaction.channel_id,
            shard=interaction.guild.shard_id if interaction.guild else None,
        )
        return True


class NewsBot(commands.AutoShardedBot):
    """The news bot: one process, many guilds, the shards Discord (or the settings) choose."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        run_lock: RunLock | None = None,
        **options: Any,
    ) -> None:
        self.metrics = Metrics()
        # The bot token's requests, from every process of the bot, under its global limit.
        self.pacer = GlobalPacer(
            settings.send_rate,
            own_rate=settings.process_send_rate,
            turns=store.send_turns,
            bot_id=lambda: self.user.id if self.user else 0,
        )
        sharding: dict[str, Any] = {}
        if settings.shard_count is not None:
            sharding["shard_count"] = settings.shard_count
        if settings.shard_ids is not None:
            sharding["shard_ids"] = list(settings.shard_ids)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=bot_intents(),
            allowed_mentions=NO_MENTIONS,
            help_command=None,
            tree_cls=NewsCommandTree,
            http_trace=self.pacer.pace(self.metrics.http_trace()),
            **sharding,
            **options,
        )
        self.store = store
        self.settings = settings
        self.live_pagers: set[str] = set()  # tokens of the pagers whose buttons still work
        sender = DiscordSender(self)
        self.alerts = Alerts(store.alerts, sender)  # the posting job's, and /subscribe's
        self.poster = Poster(
            store,
            sender,
            max_per_run=settings.max_per_run,
            owns_guild=owns_guild_for(settings.shard_count, settings.shard_ids),
            clock=clock,
            guard=(run_lock or FileLocks()).confirm,
            observe=self.metrics.observe_run,
            alerts=self.alerts,
        )
        self.scheduler = NewsScheduler(
            post=self.poster.run,
            rescan=self.rescan,
            post_interval=settings.post_interval,
            rescan_interval=settings.rescan_interval,
        )

    async def setup_hook(self) -> None:
        """Add the cogs and sync the commands if they changed since the last sync."""
        await self.add_cogs()
        await self.sync_commands()

    async def add_cogs(self) -> None:
        """Add the command groups: news lookups, subscriptions, posting, alerts."""
        await self.add_cog(NewsCog(self.poster.planner, self.settings, self.live_pagers))
        await self.add_cog(SubscriptionsCog(self.store, self.settings, self.alerts))
        await self.add_cog(PostingCog(self.store, self.poster))
        await self.add_cog(AlertsCog(self.store))

    def command_sync(self) -> CommandSync:
        """Return where the commands go, what they are now, and the key of the last sync."""
        guild = discord.Object(id=self.settings.dev_guild) if self.settings.dev_guild else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        definitions = [
            command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)
        ]
        digest = hashlib.sha256(json.dumps(definitions, sort_keys=True).encode()).hexdigest()
        key = f"command-sync:{self.application_id}:{guild.id if guild else 'global'}"
        return CommandSync(guild, definitions, digest, key)

    async def on_app_command_completion(
        self, interaction: discord.Interaction[Any], command: object
    ) -> None:
        """Count a slash command answered without error."""
        self.observe_command(interaction, failed=False)

    def observe_command(self, interaction: discord.Interaction[Any], *, failed: bool) -> None:
        """Record how long a slash command took, and whether it failed."""
        started = interaction.extras.get("started")
        if interaction.command is not None and started is not None:
            name = interaction.command.qualified_name
            self.metrics.observe_command(name, time.monotonic() - started, failed=failed)

    async def on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        """Answer presses of page buttons that outlived their pager (or the last restart)."""
        await answer_expired_buttons(interaction, self.live_pagers)

    async def rescan(self) -> LoadReport:
        """Load new and changed article files from the data directory."""
        self.store.check_file()
        if not self.settings.data_dir.is_dir():
            log.warning("no data directory %s: no new articles", self.settings.data_dir)
            return LoadReport()
        report = await load_articles(
            self.store, [self.settings.data_dir], workers=self.settings.workers,
            max_bytes=self.settings.max_file_bytes,
        )  # fmt: skip
        self.metrics.count_load(report)
        if report.added or report.updated or report.rejected:
            log.info("rescan of %s: %s", self.settings.data_dir, report.summary())
        for rejection in report.rejected:
            log.warning("rejected %s: %s", rejection.path, rejection.reason)
        return report

    async def close(self) -> None:
        """Stop the jobs, then close the Discord connection."""
        self.scheduler.shutdown()
        await super().close()

    async def sync_commands(self) -> bool:
        """Sync the slash commands when their definitions changed; tell whether it synced.

        To ``NEWSBOT_DEV_GUILD`` only when set (instant), globally otherwise. Discord
        rate-limits syncs, so the hash of what was last synced is kept in the store.
        """
        sync = self.command_sync()
        guild = sync.guild
        if await self.store.state.get(sync.key) == sync.digest:
            log.info("slash commands unchanged since the last sync; not syncing")
            return False
        try:
            synced = await self.tree.sync(guild=guild)
        except discord.HTTPException as exc:
            log.error("could not sync slash commands (%s); the old ones stay in place", exc)
            return False
        await self.store.state.set(sync.key, sync.digest)
        where = f"guild {guild.id}" if guild else "all guilds"
        log.info("synced %d slash commands to %s", len(synced), where)
        return True

    async def on_ready(self) -> None:
        """Start the jobs once connected, and say who the bot is and where it is."""
        self.scheduler.start()
        assert self.user is not None
        log.info(
            "ready as %s (%s) in %d guilds, shards %s",
            self.user, self.user.id, len(self.guilds), sorted(self.shards),
        )  # fmt: skip
