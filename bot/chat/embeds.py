"""Articles as Discord embeds, within every Discord limit, cut with a visible ellipsis."""

from __future__ import annotations

from collections.abc import Sequence

import discord
from discord.utils import escape_markdown

from bot.articles import Article, RelatedItem, is_web_url

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
MESSAGE_EMBED_CHARS = 6000  # across all the embeds of one message
MESSAGE_EMBEDS = 10
MAX_FIELDS = 25  # per embed
CONTENT_LIMIT = 2000
RELATED_SHOWN = 3
ELLIPSIS = "…"
NEWS_COLOUR = discord.Colour(0x2B6CB0)


def clip(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters, ending with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    cut = text[: limit - 1].rstrip()
    if cut.endswith("\\"):  # never leave a dangling markdown escape
        cut = cut[:-1]
    return cut + ELLIPSIS


def _plain(text: str) -> str:
    """Return text that Discord shows as written: no markdown, one line of spaces."""
    return escape_markdown(" ".join(text.split()))


def article_embed(article: Article, budget: int = MESSAGE_EMBED_CHARS) -> discord.Embed:
    """Return the embed of one article, at most ``budget`` characters long."""
    embed = discord.Embed(
        title=clip(_plain(article.title), TITLE_LIMIT),
        url=article.link if is_web_url(article.link) else None,
        description=clip(_plain(article.excerpt), DESCRIPTION_LIMIT) or None,
        timestamp=article.published_at,
        colour=NEWS_COLOUR,
    )
    embed.set_author(name=clip(article.provider.name, AUTHOR_LIMIT))
    quality = "unknown" if article.quality is None else str(article.quality)
    topics = ", ".join(article.topics) or "no topic"
    embed.set_footer(text=clip(f"{topics} · quality {quality}", FOOTER_LIMIT))
    image = next((image.url for image in article.images if is_web_url(image.url)), None)
    if image:
        embed.set_thumbnail(url=image)
    related = related_lines(article.related)
    if related:
        embed.add_field(name="Also covered by", value=related, inline=False)
    return fit(embed, budget)


def related_lines(items: Sequence[RelatedItem]) -> str:
    """Return up to three related items as links, one per line, within a field's limit."""
    lines: list[str] = []
    for item in items:
        if len(lines) == RELATED_SHOWN:
            break
        if not is_web_url(item.url):
            continue
        title = clip(_plain(item.title), 120).replace("]", "\\]").replace("[", "\\[")
        source = f" — {clip(_plain(item.provider.name), 60)}" if item.provider else ""
        line = f"[{title}]({_link_target(item.url)}){source}"
        if len("\n".join([*lines, line])) > FIELD_VALUE_LIMIT:
            break
        lines.append(line)
    return "\n".join(lines)


def _link_target(url: str) -> str:
    """Return a URL that cannot close a markdown link early."""
    return url.replace(" ", "%20").replace(")", "%29").replace("(", "%28")


def fit(embed: discord.Embed, budget: int) -> discord.Embed:
    """Shrink an embed to ``budget`` characters: the excerpt first, then related, then title."""
    overflow = len(embed) - budget
    if overflow > 0 and embed.description:
        embed.description = clip(embed.description, max(len(embed.description) - overflow, 0))
        if embed.description == "":
            embed.description = None
        overflow = len(embed) - budget
    if overflow > 0 and embed.fields:
        embed.clear_fields()
        overflow = len(embed) - budget
    if overflow > 0 and embed.footer.text:
        embed.set_footer(text=clip(embed.footer.text, max(len(embed.footer.text) - overflow, 1)))
        overflow = len(embed) - budget
    if overflow > 0 and embed.title:
        embed.title = clip(embed.title, max(len(embed.title) - overflow, 1))
    return embed


def article_embeds(articles: Sequence[Article]) -> list[discord.Embed]:
    """Return the embeds of up to ten articles sharing one message's 6,000 characters."""
    shown = list(articles[:MESSAGE_EMBEDS])
    if not shown:
        return []
    budget = MESSAGE_EMBED_CHARS // len(shown)
    return [article_embed(article, budget) for article in shown]
