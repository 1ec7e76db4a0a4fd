"""``/subscribe``, ``/unsubscribe``, ``/subscriptions``: wire channels to topics.

Subscriptions belong to a server: every query is scoped by the interaction's guild id,
so nothing done in one server reads or changes another's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.alerts import Alerts, channel_gone
from bot.articles import closest_names
from bot.chat.embeds import NEWS_COLOUR, clip
from bot.chat.news import check_range, quote, topic_choices, topic_hint
from bot.chat.permissions import ArticleChannel, missing_delivery_permissions
from bot.chat.replies import NO_MENTIONS, send, within_deadline
from bot.config import Settings
from bot.errors import UserError
from bot.store import Store
from bot.store.fulltext import QueryError, parse_filter
from bot.subscriptions import (
    DEFAULT_OPTIONS,
    MAX_PER_DAY,
    MAX_PROVIDERS,
    MODES,
    SAME_STORY,
    STYLES,
    AlertChannel,
    Mode,
    SameStory,
    Style,
    Subscription,
    SubscriptionOptions,
)

log = logging.getLogger(__name__)

#: Where a subscription posts: a text channel (a message each), or a forum (a post each).
GuildChannel = ArticleChannel

#: What ``clear`` takes: each option's name, and the field of ``SubscriptionOptions`` it sets.
CLEARABLE = {
    "include": "include",
    "exclude": "exclude",
    "providers": "providers",
    "exclude_providers": "exclude_providers",
    "mention": "mention_role_id",
    "same_story": "same_story",
    "max_per_day": "max_per_day",
    "style": "style",
    "thread": "thread",
}
CLEAR_ALL = "all"
FILTER_HINT = 'Write words, "phrases" or OR, e.g. `nvidia OR "ai chips"`.'


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
    raise UserError("Name a text or forum channel with the `channel` option: I cannot post here.")


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


def option_parts(options: SubscriptionOptions) -> list[str]:
    """Return each option that differs from the default, as ``/subscriptions`` shows it."""
    parts = []
    if options.include is not None:
        parts.append(f"include {quote(options.include, 200)}")
    if options.exclude is not None:
        parts.append(f"exclude {quote(options.exclude, 200)}")
    if options.providers:
        parts.append(f"only {quote(', '.join(options.providers), 2000)}")
    if options.exclude_providers:
        parts.append(f"never {quote(', '.join(options.exclude_providers), 2000)}")
    if options.mention_role_id is not None:
        parts.append(f"pings <@&{options.mention_role_id}>")
    if options.same_story != DEFAULT_OPTIONS.same_story:
        parts.append(f"same story: {options.same_story}")
    if options.max_per_day is not None:
        parts.append(f"≤ {options.max_per_day}/day")
    if options.style != DEFAULT_OPTIONS.style:
        parts.append(options.style)
    if options.thread:
        parts.append("thread")
    return parts


def clear_names(text: str) -> list[str]:
    """Return the option names ``clear`` lists (comma separated), or refuse an unknown one."""
    names = [name.casefold() for name in listed_names(text)]
    unknown = [name for name in names if name not in CLEARABLE and name != CLEAR_ALL]
    if unknown or not names:
        given = f"not {quote(unknown[0], 40)}" if unknown else "you gave none"
        raise UserError(
            f"`clear` takes option names separated by commas ({', '.join(CLEARABLE)}, or "
            f"{CLEAR_ALL}), {given}."
        )
    return list(CLEARABLE) if CLEAR_ALL in names else names


def merged(
    before: SubscriptionOptions, given: dict[str, Any], clear: str | None
) -> SubscriptionOptions:
    """Return ``before`` with the options ``clear`` names back to default, then ``given`` set."""
    if clear is None:
        return replace(before, **given)
    fields = [CLEARABLE[name] for name in clear_names(clear)]
    both = [name for name in listed_names(clear.casefold()) if CLEARABLE.get(name) in given]
    if both:
        raise UserError(f"`{both[0]}` is both given and cleared: do one or the other.")
    defaults = {field: getattr(DEFAULT_OPTIONS, field) for field in fields}
    return replace(before, **{**defaults, **given})  # with clear:all, a fresh start


def filter_query(option: str, text: str) -> str:
    """Return the query ``text`` as stored, or refuse it saying what is wrong and how."""
    try:
        return parse_filter(text).text
    except QueryError as error:
        raise UserError(f"`{option}` {error}. {FILTER_HINT}") from None


def listed_names(text: str) -> list[str]:
    """Return the names of a comma-separated list, each once (any case), in order."""
    names: dict[str, str] = {}
    for name in text.split(","):
        names.setdefault(" ".join(name.split()).casefold(), " ".join(name.split()))
    names.pop("", None)
    return list(names.values())


def checked_role(role: discord.Role, guild: discord.Guild, target: GuildChannel) -> discord.Role:
    """Return this server's role to ping, or refuse one that cannot or must not be pinged."""
    if role.is_default():
        raise UserError(
            "`mention` cannot be @everyone: pick a role that the people who want these "
            "articles take."
        )
    own = guild.get_role(role.id)
    if own is None:
        raise UserError("That role is not in this server: pick one of this server's roles.")
    if not own.mentionable and not target.permissions_for(guild.me).mention_everyone:
        raise UserError(
            f'I cannot ping {own.mention} in {target.mention}: turn on "Allow anyone to '
            f"@mention this role\" in the role's settings, or grant me Mention Everyone there."
        )
    return own


def alert_field(alert: AlertChannel) -> str:
    """Return where the server's alerts go, and why the last one could not be posted."""
    line = f"Alerts about posting go to <#{alert.channel_id}>."
    if alert.failure:
        when = f" {discord.utils.format_dt(alert.failed_at, 'R')}" if alert.failed_at else ""
        line += f" The last one could not be posted{when}: {quote(alert.failure, 300)}"
    return clip(line, 1024)


def subscription_line(sub: Subscription) -> str:
    """Return one subscription as ``/subscriptions`` lists it: channel, topic, options, status."""
    since = discord.utils.format_dt(sub.created_at, "R")
    status = "active" if sub.active else f"**paused**: {sub.paused_reason}"
    parts = [f"<#{sub.channel_id}>", f"**{quote(sub.topic)}**", f"quality ≥ {sub.min_quality}"]
    if sub.mode == "digest":
        parts.append("digest")
    parts += option_parts(sub.options)
    parts += [f"since {since}", status]
    return " · ".join(parts)


def listed_within(lines: Sequence[str], budget: int) -> str:
    """Return as many whole lines as fit in ``budget`` characters, then how many are left."""
    reserve = 50  # for the line that says how many more there are
    shown: list[str] = []
    used = 0
    for number, line in enumerate(clip(line, budget - reserve) for line in lines):
        last = number == len(lines) - 1
        if used + len(line) > budget - (0 if last else reserve):
            shown.append(f"…and {len(lines) - number} more: too many to show at once.")
            break
        shown.append(line)
        used += len(line) + 1
    return "\n".join(shown)


def list_choices(current: str, names: Sequence[tuple[str, str]]) -> list[app_commands.Choice[str]]:
    """Return choices that complete the last item of a comma-separated list.

    ``names`` are (label, value) pairs for the last item; a choice whose whole list
    would not fit Discord's 100 characters is left out.
    """
    head, _, _ = current.rpartition(",")
    before = ", ".join(listed_names(head))
    choices = []
    for label, value in names:
        whole = f"{before}, {value}" if before else value
        if len(whole) <= 100:
            shown = f"{before}, {label}" if before else label
            choices.append(app_commands.Choice(name=clip(shown, 100), value=whole))
    return choices[:25]


class SubscriptionsCog(commands.Cog):
    """Slash commands for moderators to subscribe channels to topics."""

    def __init__(self, store: Store, settings: Settings, alerts: Alerts) -> None:
        self.store = store
        self.settings = settings
        self.alerts = alerts  # a deleted channel's subscriptions are reported there

    @app_commands.command(name="subscribe", description="Post new articles on a topic here")
    @app_commands.describe(
        topic="The topic to follow",
        channel="Where to post: a text or forum channel (default: this channel)",
        min_quality="Only articles of at least this quality (0-100)",
        mode="One message per article (each), or one digest message per run (digest)",
        include='Only articles matching: words, "phrases", OR (e.g. nvidia OR "ai chips")',
        exclude='Never articles matching: words, "phrases", OR',
        providers="Only these providers: names or domains, separated by commas",
        exclude_providers="Never these providers: names or domains, separated by commas",
        mention="A role to ping with each post",
        same_story="Skip an article whose story this channel already got (skip), or post it",
        max_per_day="At most this many posts a day (1-100, days in UTC)",
        style="Embeds (embed), or one line per article with Discord's preview (compact)",
        thread="Open a thread on each post (text channels)",
        clear="Options back to their default: names separated by commas, or all",
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
        mode: Mode | None = None,
        include: app_commands.Range[str, 1, 1000] | None = None,
        exclude: app_commands.Range[str, 1, 1000] | None = None,
        providers: app_commands.Range[str, 1, 2000] | None = None,
        exclude_providers: app_commands.Range[str, 1, 2000] | None = None,
        mention: discord.Role | None = None,
        same_story: SameStory | None = None,
        max_per_day: app_commands.Range[int, 1, MAX_PER_DAY] | None = None,
        style: Style | None = None,
        thread: bool | None = None,
        clear: app_commands.Range[str, 1, 200] | None = None,
    ) -> None:
        """Subscribe a channel to a topic, or change only the options given."""
        check_range("min_quality", min_quality, 0, 100)
        check_range("max_per_day", max_per_day, 1, MAX_PER_DAY)
        for option, choice, allowed in (
            ("mode", mode, MODES), ("same_story", same_story, SAME_STORY), ("style", style, STYLES)
        ):  # fmt: skip
            if choice is not None and choice not in allowed:
                raise UserError(f"`{option}` must be one of {', '.join(allowed)}.")
        guild, member, target = _managed_target(interaction, channel)
        found = await self.store.articles.topic(topic)
        if found is None:
            raise UserError(await topic_hint(self.store.articles, topic))
        existing = await self.store.subscriptions.get(
            guild_id=guild.id, channel_id=target.id, topic=found.name
        )
        before = existing.options if existing else DEFAULT_OPTIONS
        given: dict[str, Any] = {
            "same_story": same_story, "max_per_day": max_per_day, "style": style, "thread": thread,
        }  # fmt: skip
        if include is not None:
            given["include"] = filter_query("include", include)
        if exclude is not None:
            given["exclude"] = filter_query("exclude", exclude)
        if providers is not None:
            given["providers"] = await self._domains("providers", providers)
        if exclude_providers is not None:
            given["exclude_providers"] = await self._domains("exclude_providers", exclude_providers)
        if mention is not None:
            given["mention_role_id"] = checked_role(mention, guild, target).id
        options = merged(before, {k: v for k, v in given.items() if v is not None}, clear)
        if options.thread and isinstance(target, discord.ForumChannel):
            raise UserError(
                f"{target.mention} is a forum, whose posts are threads already: "
                "leave `thread` off there."
            )
        missing = missing_delivery_permissions(target, guild.me, options.style_of(found.name))
        if missing:
            raise UserError(
                f"I cannot post in {target.mention}: I am missing {', '.join(missing)}. "
                "Grant them to me in that channel and try again."
            )
        threshold = min_quality if min_quality is not None else (
            existing.min_quality if existing else self.settings.min_quality
        )  # fmt: skip
        how = mode or (existing.mode if existing else "each")
        subscription, created = await within_deadline(
            interaction,
            self.store.subscriptions.subscribe(
                guild_id=guild.id,
                channel_id=target.id,
                topic=found.name,
                min_quality=threshold,
                created_by=member.id,
                mode=how,
                backfill=self.settings.backfill,
                options=options if existing is None or options != before else None,
            ),
        )
        shown = option_parts(subscription.options)
        log.info(
            "guild %s channel %s %s to %r (quality >= %s, %s) by %s",
            guild.id, target.id, "subscribed" if created else "updated", found.name, threshold,
            " · ".join(shown) or "no options", member.id,
        )  # fmt: skip
        digest = " as a digest" if how == "digest" else ""
        if created:
            message = (
                f"{target.mention} now gets new **{quote(found.name)}** articles "
                f"of quality {threshold} or more{digest}."
            )
        else:
            message = (
                f"Updated: {target.mention} already followed **{quote(found.name)}**; "
                f"its minimum quality is now {threshold}{digest}."
            )
        if shown:
            message += f" Options: {' · '.join(shown)}."
        elif not created and before != DEFAULT_OPTIONS:
            message += " Options: none."
        if subscription.paused_reason:
            message += f" (Paused: {subscription.paused_reason})"
        await send(interaction, message)

    async def _domains(self, option: str, text: str) -> tuple[str, ...]:
        """Return the domains of the providers a list names, or refuse it with a hint."""
        names = listed_names(text)
        if not names:
            raise UserError(
                f"`{option}` names no provider: give names or domains separated by commas, "
                f"or use `clear:{option}`."
            )
        if len(names) > MAX_PROVIDERS:
            raise UserError(f"`{option}` lists {len(names)} providers; keep it to {MAX_PROVIDERS}.")
        known = await self.store.articles.providers()
        by_key: dict[str, set[str]] = {}
        for provider in known:
            for key in (provider.name, provider.domain):
                by_key.setdefault(key.casefold(), set()).add(provider.domain)
        domains: set[str] = set()
        for name in names:
            if name.casefold() not in by_key:
                spellings = [p.name for p in known] + [p.domain for p in known]
                close = closest_names(name, spellings)
                hint = f" Did you mean {' or '.join(f'**{n}**' for n in close)}?" if close else ""
                raise UserError(
                    f"No provider **{quote(name)}** (in `{option}`).{hint} "
                    f"Start typing in `{option}` to see the providers."
                )
            domains |= by_key[name.casefold()]
        if len(domains) > MAX_PROVIDERS:
            raise UserError(
                f"`{option}` names {len(domains)} providers; keep it to {MAX_PROVIDERS}."
            )
        return tuple(sorted(domains))  # as the store keeps them: a list that is unchanged

    @subscribe.autocomplete("topic")
    async def _subscribe_topic(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await topic_choices(self.store.articles, current)

    @subscribe.autocomplete("providers")
    @subscribe.autocomplete("exclude_providers")
    async def _subscribe_providers(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        last = current.rpartition(",")[2].strip()
        found = await self.store.articles.suggest_providers(last[:100])
        return list_choices(current, [(f"{p.name} — {p.domain}", p.domain) for p in found])

    @subscribe.autocomplete("clear")
    async def _subscribe_clear(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        head, _, last = current.rpartition(",")
        taken = {name.casefold() for name in listed_names(head)}
        names = [n for n in (*CLEARABLE, CLEAR_ALL) if n not in taken and last.strip() in n]
        return list_choices(current, [(name, name) for name in names])

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
        """List this server's subscriptions with their options, and where alerts go."""
        guild, _ = _guild_and_member(interaction)
        subscriptions = await self.store.subscriptions.in_guild(guild.id)
        if not subscriptions:
            raise UserError("No channel here follows a topic yet. Start with `/subscribe`.")
        embed = discord.Embed(
            title=f"Subscriptions in {clip(guild.name, 200)} ({len(subscriptions)})",
            description=listed_within([subscription_line(s) for s in subscriptions], 4096),
            colour=NEWS_COLOUR,
        )
        alert = await self.store.alerts.channel(guild.id)
        if alert is not None:
            embed.add_field(name="Alerts", value=alert_field(alert), inline=False)
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """Forget the subscriptions of a deleted channel."""
        removed = await self.store.subscriptions.remove_channel(channel.id)
        if removed:
            log.info("channel %s deleted: removed %d subscriptions", channel.id, removed)
            name = discord.utils.escape_markdown(channel.name)
            await self.alerts.report(channel.guild.id, channel_gone(f"#{name}", removed))

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Forget the subscriptions of a server the bot was removed from."""
        removed = await self.store.subscriptions.remove_guild(guild.id)
        if removed:
            log.info("left guild %s: removed %d subscriptions", guild.id, removed)
