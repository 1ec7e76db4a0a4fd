"""``/subscribe``, ``/unsubscribe``, ``/subscriptions``: wire channels to topics.

Subscriptions belong to a server: every query is scoped by the interaction's guild id,
so nothing done in one server reads or changes another's.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.alerts import report_channel_gone
from bot.chat.embeds import NEWS_COLOUR, clip
from bot.chat.news import check_range, quote, topic_choices, topic_hint
from bot.chat.permissions import missing_posting_permissions
from bot.chat.replies import NO_MENTIONS, permission_names, send, within_deadline
from bot.config import Settings
from bot.errors import UserError
from bot.store import Store
from bot.subscriptions import MODES, Mode

log = logging.getLogger(__name__)

GuildChannel = discord.TextChannel


def in_a_server(interaction: discord.Interaction[Any]) -> bool:
    """Refuse direct messages at run time: ``guild_only`` is only a hint to Discord."""
    if interaction.guild is None:
        raise app_commands.NoPrivateMessage()
    return True


def _guild_and_member(
    interaction: discord.Interaction[Any],
) -> tuple[discord.Guild, discord.Member]:
    guild, member = interaction.guild, interaction.user
    if guild is None or not isinstance(member, discord.Member):
        raise app_commands.NoPrivateMessage()
    return guild, member


def _target(interaction: discord.Interaction[Any], channel: GuildChannel | None) -> GuildChannel:
    """Return the channel an option names, or the one the command was used in."""
    if channel is not None:
        return channel
    if isinstance(interaction.channel, discord.TextChannel):
        return interaction.channel
    raise UserError("Name a text channel with the `channel` option: I cannot post here.")


def _managed_target(
    interaction: discord.Interaction[Any], channel: GuildChannel | None
) -> tuple[discord.Guild, discord.Member, GuildChannel]:
    """Return the server, the member and the channel they may manage, or refuse."""
    guild, member = _guild_and_member(interaction)
    target = _target(interaction, channel)
    if target.guild.id != guild.id:
        raise UserError("That channel is not in this server.")
    if not target.permissions_for(member).manage_channels:
        raise UserError(f"You need the Manage Channels permission in {target.mention}.")
    return guild, member, target


class SubscriptionsCog(commands.Cog):
    """Slash commands for moderators to subscribe channels to topics."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    @app_commands.command(name="subscribe", description="Post new articles on a topic here")
    @app_commands.describe(
        topic="The topic to follow",
        channel="Where to post (default: this channel)",
        min_quality="Only articles of at least this quality (0-100)",
        mode="One message per article (each), or one digest message per run (digest)",
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_channels=True)
    @app_commands.checks.has_permissions(manage_channels=True)
    @app_commands.check(in_a_server)
    async def subscribe(
        self,
        interaction: discord.Interaction[Any],
        topic: app_commands.Range[str, 1, 100],
        channel: GuildChannel | None = None,
        min_quality: app_commands.Range[int, 0, 100] | None = None,
        mode: Mode = "each",
    ) -> None:
        """Subscribe a channel to a topic, or change its minimum quality."""
        check_range("min_quality", min_quality, 0, 100)
        if mode not in MODES:
            raise UserError(f"`mode` must be one of {', '.join(MODES)}.")
        guild, member, target = _managed_target(interaction, channel)
        missing = missing_posting_permissions(target, guild.me)
        if missing:
            raise UserError(
                f"I cannot post in {target.mention}: I am missing "
                f"{permission_names(missing)}. Grant them to me in that channel and try again."
            )
        found = await self.store.articles.topic(topic)
        if found is None:
            raise UserError(await topic_hint(self.store.articles, topic))
        threshold = self.settings.min_quality if min_quality is None else min_quality
        subscription, created = await within_deadline(
            interaction,
            self.store.subscriptions.subscribe(
                guild_id=guild.id,
                channel_id=target.id,
                topic=found.name,
                min_quality=threshold,
                created_by=member.id,
                mode=mode,
                backfill=self.settings.backfill,
            ),
        )
        log.info(
            "guild %s channel %s %s to %r (quality >= %s) by %s",
            guild.id, target.id, "subscribed" if created else "updated", found.name, threshold,
            member.id,
        )  # fmt: skip
        how = " as a digest" if mode == "digest" else ""
        if created:
            message = (
                f"{target.mention} now gets new **{quote(found.name)}** articles "
                f"of quality {threshold} or more{how}."
            )
        else:
            message = (
                f"Updated: {target.mention} already followed **{quote(found.name)}**; "
                f"its minimum quality is now {threshold}{how}."
            )
        if subscription.paused_reason:
            message += f" (Paused: {subscription.paused_reason})"
        await send(interaction, message)

    @subscribe.autocomplete("topic")
    async def _subscribe_topic(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await topic_choices(self.store.articles, current)

    @app_commands.command(name="unsubscribe", description="Stop posting a topic's articles here")
    @app_commands.describe(topic="The topic to stop", channel="Which channel (default: this one)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_channels=True)
    @app_commands.checks.has_permissions(manage_channels=True)
    @app_commands.check(in_a_server)
    async def unsubscribe(
        self,
        interaction: discord.Interaction[Any],
        topic: app_commands.Range[str, 1, 100],
        channel: GuildChannel | None = None,
    ) -> None:
        """Remove a channel's subscription to a topic."""
        guild, member, target = _managed_target(interaction, channel)
        existing = await self.store.subscriptions.get(
            guild_id=guild.id, channel_id=target.id, topic=topic
        )
        removed = await within_deadline(
            interaction,
            self.store.subscriptions.unsubscribe(
                guild_id=guild.id, channel_id=target.id, topic=topic
            ),
        )
        if existing is None or not removed:
            raise UserError(
                f"{target.mention} does not follow **{quote(topic)}**. "
                "See `/subscriptions` for this server's subscriptions."
            )
        log.info("guild %s channel %s unsubscribed from %r by %s",
                 guild.id, target.id, existing.topic, member.id)  # fmt: skip
        await send(
            interaction, f"{target.mention} no longer gets **{quote(existing.topic)}** articles."
        )

    @unsubscribe.autocomplete("topic")
    async def _unsubscribe_topic(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        names = await self.store.subscriptions.suggest_topics(interaction.guild_id, current[:100])
        return [app_commands.Choice(name=clip(name, 100), value=name[:100]) for name in names]

    @app_commands.command(name="subscriptions", description="This server's topic subscriptions")
    @app_commands.guild_only()
    @app_commands.check(in_a_server)
    async def subscriptions(self, interaction: discord.Interaction[Any]) -> None:
        """List this server's subscriptions: channel, topic, threshold, since, status."""
        guild, _ = _guild_and_member(interaction)
        subscriptions = await self.store.subscriptions.in_guild(guild.id)
        if not subscriptions:
            raise UserError("No channel here follows a topic yet. Start with `/subscribe`.")
        lines = []
        for sub in subscriptions:
            since = discord.utils.format_dt(sub.created_at, "R")
            status = "active" if sub.active else f"**paused**: {sub.paused_reason}"
            digest = " · digest" if sub.mode == "digest" else ""
            lines.append(
                f"<#{sub.channel_id}> · **{quote(sub.topic)}** · quality ≥ {sub.min_quality}"
                f"{digest} · since {since} · {status}"
            )
        embed = discord.Embed(
            title=f"Subscriptions in {clip(guild.name, 200)} ({len(subscriptions)})",
            description=clip("\n".join(lines), 4096),
            colour=NEWS_COLOUR,
        )
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """Forget the subscriptions of a deleted channel."""
        removed = await self.store.subscriptions.remove_channel(channel.id)
        if removed:
            log.info("channel %s deleted: removed %d subscriptions", channel.id, removed)
            await report_channel_gone(self.store, channel, removed)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Forget the subscriptions of a server the bot was removed from."""
        removed = await self.store.subscriptions.remove_guild(guild.id)
        if removed:
            log.info("left guild %s: removed %d subscriptions", guild.id, removed)
