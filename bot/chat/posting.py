"""``/post now`` and ``/post preview``: admins run the posting job by hand, or look ahead."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.embeds import MAX_FIELDS, MESSAGE_EMBED_CHARS, NEWS_COLOUR, clip
from bot.chat.news import quote, topic_choices, topic_hint
from bot.chat.replies import NO_MENTIONS
from bot.chat.subscriptions import GuildChannel, in_a_server
from bot.errors import UserError
from bot.posting import Poster, RunReport, Scope
from bot.store import Store

log = logging.getLogger(__name__)

PREVIEW_TITLES = 5  # per channel


def report_lines(report: RunReport) -> list[str]:
    """Return what a run did, one line per channel, for the admin who asked for it."""
    lines = []
    for outcome in report.channels:
        if outcome.posted:
            line = f"<#{outcome.channel_id}>: posted {len(outcome.posted)}"
            if outcome.skipped:
                line += f", then stopped: {outcome.skipped}"
        else:
            line = f"<#{outcome.channel_id}>: nothing posted — {outcome.skipped}"
        lines.append(line)
    for sub in report.resumed:
        lines.append(f"<#{sub.channel_id}>: permissions are back, **{quote(sub.topic)}** resumed")
    return lines


class PostingCog(commands.Cog):
    """Admin commands around the posting job."""

    post = app_commands.Group(
        name="post",
        description="Post subscribed news now, or preview the next run",
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, store: Store, poster: Poster) -> None:
        self.store = store
        self.poster = poster

    @post.command(name="now", description="Post what is due in this server now")
    @app_commands.describe(topic="Only this topic", channel="Only this channel")
    @app_commands.checks.has_permissions(manage_guild=True)
    @app_commands.check(in_a_server)
    async def now(
        self,
        interaction: discord.Interaction[Any],
        topic: app_commands.Range[str, 1, 100] | None = None,
        channel: GuildChannel | None = None,
    ) -> None:
        """Run the posting job for this server (or one topic or channel of it)."""
        assert interaction.guild_id is not None
        if topic is not None and await self.store.articles.topic(topic) is None:
            raise UserError(await topic_hint(self.store.articles, topic))
        scope = Scope(interaction.guild_id, channel.id if channel else None, topic)
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.poster.run(scope, wait=False)
        log.info("manual run in guild %s by %s: %s",
                 interaction.guild_id, interaction.user.id, report.summary())  # fmt: skip
        lines = report_lines(report)
        if not report.channels:
            lines = ["No active subscription matches. See `/subscriptions`."]
        heading = f"Posted {report.posted} article{'s' if report.posted != 1 else ''}."
        await interaction.followup.send(
            clip("\n".join([heading, *lines]), 2000), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @now.autocomplete("topic")
    async def _now_topic(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await topic_choices(self.store.articles, current)

    @post.command(name="preview", description="What the next run would post here")
    @app_commands.describe(channel="Only this channel")
    @app_commands.checks.has_permissions(manage_guild=True)
    @app_commands.check(in_a_server)
    async def preview(
        self, interaction: discord.Interaction[Any], channel: GuildChannel | None = None
    ) -> None:
        """Show, per channel, the articles the next run would post, without posting them."""
        assert interaction.guild_id is not None
        scope = Scope(interaction.guild_id, channel.id if channel else None)
        planned = await self.poster.preview(scope)
        by_channel: dict[int, list[str]] = {}
        for message in planned:
            titles = by_channel.setdefault(message.channel_id, [])
            for article in message.articles:
                quality = "?" if article.quality is None else article.quality
                titles.append(f"• [{quote(article.title, 90)}]({article.link}) (quality {quality})")
        paused = [s for s in await self.store.subscriptions.in_guild(interaction.guild_id)
                  if not s.active and scope.channel_id in (None, s.channel_id)]  # fmt: skip
        if not by_channel and not paused:
            await interaction.response.send_message(
                "Nothing is due: the next run would post nothing here.",
                ephemeral=True, allowed_mentions=NO_MENTIONS,
            )  # fmt: skip
            return
        fields: list[tuple[str, str]] = []
        for channel_id, titles in by_channel.items():
            shown = titles[:PREVIEW_TITLES]
            more = f"\n…and {len(titles) - len(shown)} more" if len(titles) > len(shown) else ""
            fields.append((f"#{_channel_name(interaction, channel_id)}", "\n".join(shown) + more))
        fields += [
            (f"#{_channel_name(interaction, s.channel_id)} (paused)",
             f"**{quote(s.topic)}**: {s.paused_reason}")
            for s in paused
        ]  # fmt: skip
        embed = discord.Embed(title="Next posting run", colour=NEWS_COLOUR)
        room = MESSAGE_EMBED_CHARS - len(embed) - 100  # kept for the footer below
        for name, value in fields[:MAX_FIELDS]:
            name, value = clip(name, 256), clip(value, 1024)
            if len(name) + len(value) > room:
                break
            embed.add_field(name=name, value=value, inline=False)
            room -= len(name) + len(value)
        if left := len(fields) - len(embed.fields):
            embed.set_footer(
                text=f"…and {left} more channel{'s' if left > 1 else ''}: "
                "give the channel option to see one."
            )
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS
        )


def _channel_name(interaction: discord.Interaction[Any], channel_id: int) -> str:
    channel = interaction.guild.get_channel(channel_id) if interaction.guild else None
    return channel.name if channel else str(channel_id)
