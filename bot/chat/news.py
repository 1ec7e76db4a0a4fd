"""``/news``: look articles up by topic, provider or text; list the topics."""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.articles import Article, ArticlePage, closest_names
from bot.chat.embeds import (
    MESSAGE_EMBED_CHARS,
    MESSAGE_EMBEDS,
    NEWS_COLOUR,
    article_embed,
    clip,
)
from bot.chat.replies import NO_MENTIONS
from bot.chat.views import ArticlePager, FetchPage
from bot.config import Settings
from bot.errors import UserError
from bot.posting import Explanation, Planner, explain
from bot.store import ArticleStore

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 5
MAX_QUERY_CHARS = 200
TOPICS_LISTED = 60


def check_range(option: str, value: int | None, low: int, high: int) -> None:
    """Refuse an out-of-range number (Discord checks too, but a client can lie)."""
    if value is not None and not low <= value <= high:
        raise UserError(f"`{option}` must be from {low} to {high}; you gave {value}.")


def quote(text: str, limit: int = 80) -> str:
    """Return user text safe to echo inside a one-line answer."""
    return discord.utils.escape_markdown(clip(" ".join(text.split()), limit)) or "(empty)"


def why_line(explanation: Explanation, article: Article) -> str:
    """Return one subscription's answer to "why was this (not) posted here?"."""
    sub = explanation.subscription
    options = sub.options
    where = f"<#{sub.channel_id}> · **{quote(sub.topic)}**: "
    when = discord.utils.format_dt(explanation.when, "f") if explanation.when else ""
    other = f"<{explanation.other_url}>" if explanation.other_url else "another article"
    reasons = {
        "delivered": f"posted {when}.",
        "published_at_source": "not posted: the source had already published it.",
        "quality_unknown": "not posted: its quality is unknown.",
        "below_threshold": (
            f"not posted: quality {article.quality} is under this channel's minimum "
            f"{sub.min_quality}."
        ),
        "before_subscription": (
            f"not posted: it arrived {when}, before this channel subscribed "
            f"{discord.utils.format_dt(sub.created_at, 'f')}; only newer articles are posted."
        ),
        "provider_not_listed": (
            f"not posted: provider {article.provider.domain} is not among this channel's "
            f"providers ({', '.join(options.providers)})."
        ),
        "provider_excluded": f"not posted: provider {article.provider.domain} excluded.",
        "not_included": f"not posted: not in include `{options.include}`.",
        "excluded": f"not posted: matched exclude `{options.exclude}`.",
        "same_story": f"not posted: same story as {other}, posted {when}.",
        "same_story_in_run": f"due, but the same story as {other} goes first in the next run.",
        "daily_cap": (
            f"not posted yet: daily cap of {explanation.cap} reached (resets at 00:00 UTC)."
        ),
        "max_per_run": "due: it waits behind better articles and goes in a later run.",
        "paused": f"not posted yet: the subscription is paused ({sub.paused_reason}).",
        "queued": "being posted: waiting for Discord to confirm the message.",
        "waiting": "due: it goes out with the next posting run (best quality first).",
        "refused": "not posted: Discord refused every form of the message in this channel.",
        "not_on_topic": "not posted: it is no longer on this topic.",
        "not_planned": (
            "due by every rule, yet no run has picked it up: please tell the bot's admin."
        ),
    }
    return where + reasons[explanation.reason]


async def topic_choices(articles: ArticleStore, current: str) -> list[app_commands.Choice[str]]:
    """Return autocomplete choices for a topic: prefix matches first, by article count."""
    return [
        app_commands.Choice(name=clip(f"{topic.name} ({topic.count})", 100), value=topic.name)
        for topic in await articles.suggest_topics(current[:100])
    ]


async def topic_hint(articles: ArticleStore, text: str) -> str:
    """Return a one-line answer for an unknown topic, with the closest spellings."""
    close = closest_names(text, [topic.name for topic in await articles.topics()])
    hint = f" Did you mean {' or '.join(f'**{name}**' for name in close)}?" if close else ""
    return f"No articles on the topic **{quote(text)}**.{hint} See `/news topics` for every topic."


class NewsCog(commands.Cog):
    """Slash commands that look news up."""

    news = app_commands.Group(name="news", description="Look up the news")

    def __init__(self, planner: Planner, settings: Settings, live_pagers: set[str]) -> None:
        self.planner = planner  # /news why plans as a run does
        self.store = planner.store
        self.settings = settings
        self.live_pagers = live_pagers

    async def _show(
        self,
        interaction: discord.Interaction[Any],
        title: str,
        fetch: FetchPage,
        page: ArticlePage,
    ) -> None:
        """Answer with the first page, and buttons for the others if there are more."""
        view = ArticlePager(
            author_id=interaction.user.id, title=title, fetch=fetch, page=page,
            live=self.live_pagers,
        )  # fmt: skip
        if page.total <= len(page.articles):  # one page: no buttons
            view.stop()
            await interaction.response.send_message(
                content=view.content, embeds=view.embeds, allowed_mentions=NO_MENTIONS
            )
            return
        await interaction.response.send_message(
            content=view.content, embeds=view.embeds, view=view, allowed_mentions=NO_MENTIONS
        )
        view.interaction = interaction

    @news.command(name="topic", description="Newest articles on a topic")
    @app_commands.describe(
        topic="The topic, e.g. AI",
        min_quality="Only articles of at least this quality (0-100)",
        limit="Articles per page (1-10, default 5)",
    )
    async def topic(
        self,
        interaction: discord.Interaction[Any],
        topic: app_commands.Range[str, 1, 100],
        min_quality: app_commands.Range[int, 0, 100] | None = None,
        limit: app_commands.Range[int, 1, MESSAGE_EMBEDS] = DEFAULT_LIMIT,
    ) -> None:
        """Show the newest articles on a topic."""
        check_range("min_quality", min_quality, 0, 100)
        check_range("limit", limit, 1, MESSAGE_EMBEDS)
        found = await self.store.articles.topic(topic)
        if found is None:
            raise UserError(await topic_hint(self.store.articles, topic))

        async def fetch(offset: int) -> ArticlePage:
            return await self.store.articles.by_topic(
                topic, min_quality=min_quality, limit=limit, offset=offset
            )

        first = await fetch(0)
        if first.total == 0:
            raise UserError(
                f"No **{found.name}** articles of quality {min_quality} or more. "
                "Try a lower `min_quality`."
            )
        name = quote(found.name, 100)
        title = name if min_quality is None else f"{name} (quality ≥ {min_quality})"
        await self._show(interaction, title, fetch, first)

    @topic.autocomplete("topic")
    async def _topic_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return await topic_choices(self.store.articles, current)

    @news.command(name="provider", description="Newest articles from a provider")
    @app_commands.describe(
        provider="Provider name or domain, e.g. reuters.com",
        limit="Articles per page (1-10, default 5)",
    )
    async def provider(
        self,
        interaction: discord.Interaction[Any],
        provider: app_commands.Range[str, 1, 100],
        limit: app_commands.Range[int, 1, MESSAGE_EMBEDS] = DEFAULT_LIMIT,
    ) -> None:
        """Show the newest articles from a provider."""
        check_range("limit", limit, 1, MESSAGE_EMBEDS)

        async def fetch(offset: int) -> ArticlePage:
            return await self.store.articles.by_provider(provider, limit=limit, offset=offset)

        first = await fetch(0)
        if not first.articles:
            names = [
                name for p in await self.store.articles.providers() for name in (p.name, p.domain)
            ]
            close = closest_names(provider, names)
            hint = f" Did you mean {' or '.join(f'**{n}**' for n in close)}?" if close else ""
            raise UserError(
                f"No provider **{quote(provider)}**.{hint} "
                "Start typing in the `provider` option to see the providers."
            )
        await self._show(interaction, quote(first.articles[0].provider.name, 100), fetch, first)

    @provider.autocomplete("provider")
    async def _provider_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(
                name=clip(f"{p.name} — {p.domain} ({p.count})", 100), value=p.domain[:100]
            )
            for p in await self.store.articles.suggest_providers(current[:100])
        ]

    @news.command(name="search", description="Search articles by text, best match first")
    @app_commands.describe(query="Words to look for", limit="Articles per page (1-10, default 5)")
    async def search(
        self,
        interaction: discord.Interaction[Any],
        query: app_commands.Range[str, 1, MAX_QUERY_CHARS],
        limit: app_commands.Range[int, 1, MESSAGE_EMBEDS] = DEFAULT_LIMIT,
    ) -> None:
        """Show the articles that best match some words."""
        check_range("limit", limit, 1, MESSAGE_EMBEDS)
        query = query[:MAX_QUERY_CHARS]

        async def fetch(offset: int) -> ArticlePage:
            return await self.store.articles.search(query, limit=limit, offset=offset)

        first = await fetch(0)
        if first.total == 0:
            raise UserError(
                f"Nothing matches **{quote(query)}**. Try fewer or other words, "
                "or browse with `/news topic`."
            )
        await self._show(interaction, f"Search: {quote(query, 60)}", fetch, first)

    @news.command(name="latest", description="Newest good articles")
    @app_commands.describe(limit="Articles per page (1-10, default 5)")
    async def latest(
        self,
        interaction: discord.Interaction[Any],
        limit: app_commands.Range[int, 1, MESSAGE_EMBEDS] = DEFAULT_LIMIT,
    ) -> None:
        """Show the newest articles of at least the default quality."""
        check_range("limit", limit, 1, MESSAGE_EMBEDS)
        threshold = self.settings.min_quality

        async def fetch(offset: int) -> ArticlePage:
            return await self.store.articles.latest(
                min_quality=threshold, limit=limit, offset=offset
            )

        first = await fetch(0)
        if first.total == 0:
            raise UserError(f"No articles of quality {threshold} or more yet.")
        await self._show(interaction, f"Latest news (quality ≥ {threshold})", fetch, first)

    @news.command(name="why", description="Why an article was or was not posted here")
    @app_commands.describe(article="The article's URL")
    async def why(
        self, interaction: discord.Interaction[Any], article: app_commands.Range[str, 1, 2000]
    ) -> None:
        """Explain, for each subscription here, why an article was or was not posted."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        found = await self.store.articles.by_url(article)
        if found is None:
            raise UserError(
                f"I have no article at <{quote(article, 200)}>. Give its link exactly as shown "
                "in an article embed (the title links to it)."
            )
        explanations = await explain(self.planner, found, interaction.guild_id)
        lines = [why_line(e, found) for e in explanations]
        if not found.topics:
            lines = ["It has no topic, so no subscription can get it."]
        elif not lines:
            topics = ", ".join(f"**{quote(t)}**" for t in found.topics)
            lines = [f"No channel here follows {topics}. `/subscribe` one to get such articles."]
        here = clip("\n".join(lines), 1024)
        embed = article_embed(found, budget=MESSAGE_EMBED_CHARS - len("Here") - len(here))
        embed.clear_fields()  # the article's own fields make way for the explanation
        embed.add_field(name="Here", value=here, inline=False)
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @news.command(name="topics", description="Every topic with its number of articles")
    async def topics(self, interaction: discord.Interaction[Any]) -> None:
        """List the topics, most covered first."""
        topics = await self.store.articles.topics()
        if not topics:
            raise UserError("There are no articles yet, so no topics. Ask the bot's admin.")
        lines = [f"**{discord.utils.escape_markdown(t.name)}** — {t.count}" for t in topics]
        shown = lines[:TOPICS_LISTED]
        more = len(lines) - len(shown)
        description = clip("\n".join(shown), 4000)
        if more:
            description += f"\n…and {more} more: start typing in `/news topic` to find them."
        embed = discord.Embed(
            title=f"Topics ({len(topics)})", description=description, colour=NEWS_COLOUR
        )
        embed.set_footer(text="Use /news topic to read one, /subscribe to follow one.")
        await interaction.response.send_message(embed=embed, allowed_mentions=NO_MENTIONS)
