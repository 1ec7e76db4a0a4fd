"""``/alerts channel`` and ``/alerts off``: where the bot tells a server about posting trouble."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.replies import permission_names, send
from bot.errors import UserError
from bot.store import Store

log = logging.getLogger(__name__)

#: What the bot needs in an alert channel: alerts are plain lines.
ALERT_PERMISSIONS = ("view_channel", "send_messages")


def _server(interaction: discord.Interaction[Any]) -> discord.Guild:
    """Return the interaction's server; refuse direct messages (``guild_only`` is a hint)."""
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    return interaction.guild


class AlertsCog(commands.Cog):
    """Slash commands that name (or stop) a server's alert channel."""

    alerts = app_commands.Group(
        name="alerts",
        description="Where the bot reports posting trouble in this server",
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, store: Store) -> None:
        self.store = store

    @alerts.command(name="channel", description="Report posting trouble in this channel")
    @app_commands.describe(channel="The text channel for the bot's alerts")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def channel(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel
    ) -> None:
        """Send this server's alerts to a channel the bot can post in."""
        guild = _server(interaction)
        if channel.guild.id != guild.id:
            raise UserError("That channel is not in this server.")
        have = channel.permissions_for(guild.me)
        missing = [name for name in ALERT_PERMISSIONS if not getattr(have, name)]
        if missing:
            them = "it" if len(missing) == 1 else "them"
            raise UserError(
                f"I cannot post in {channel.mention}: I am missing {permission_names(missing)}. "
                f"Grant {them} to me in that channel and try again."
            )
        await self.store.alerts.set_channel(guild.id, channel.id, interaction.user.id)
        log.info("guild %s: alerts go to channel %s (set by %s)",
                 guild.id, channel.id, interaction.user.id)  # fmt: skip
        await send(
            interaction,
            f"Alerts go to {channel.mention}: channels paused, resumed or gone, "
            "and articles Discord refused.",
        )

    @alerts.command(name="off", description="Stop reporting posting trouble")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def off(self, interaction: discord.Interaction[Any]) -> None:
        """Stop this server's alerts."""
        guild = _server(interaction)
        if not await self.store.alerts.clear(guild.id):
            raise UserError("No alert channel is set here. Name one with `/alerts channel`.")
        log.info("guild %s: alerts stopped by %s", guild.id, interaction.user.id)
        await send(interaction, "Alerts are off; `/subscriptions` shows what is paused and why.")
