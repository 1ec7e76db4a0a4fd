"""Previous/Next buttons that page through a result, for the person who asked only."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.articles import ArticlePage
from bot.chat.embeds import article_embeds, clip
from bot.chat.replies import NO_MENTIONS, reply_error

log = logging.getLogger(__name__)

FetchPage = Callable[[int], Awaitable[ArticlePage]]

PAGER_PREFIX = "newsbot:pager:"  # the custom id of every page button starts so
EXPIRED = "These buttons have expired. Run the command again to browse."


def page_header(title: str, page: ArticlePage) -> str:
    """Return the line above a page of articles: what it is and where in the results."""
    if not page.articles:  # the results were removed since the first page was shown
        return clip(f"**{title}** — no results any more", 2000)
    first = page.offset + 1
    last = page.offset + len(page.articles)
    pages = ""
    if page.total > page.limit > 0:
        count = -(-page.total // page.limit)
        more = "" if page.total_exact else "+"
        pages = f" · page {page.offset // page.limit + 1} of {count}{more}"
    return clip(f"**{title}** — {first} to {last} of {page.total_text}{pages}", 2000)


class ArticlePager(discord.ui.View):
    """Page through a query's results; only its author may press the buttons."""

    idle_timeout = 300.0  # seconds without a press before the buttons are disabled

    def __init__(
        self,
        *,
        author_id: int,
        title: str,
        fetch: FetchPage,
        page: ArticlePage,
        live: set[str],
    ) -> None:
        super().__init__(timeout=self.idle_timeout)
        self.author_id = author_id
        self.title = title
        self.fetch = fetch
        self.page = page
        self.interaction: discord.Interaction[Any] | None = None  # the command that showed it
        self.token = secrets.token_hex(8)
        self.previous.custom_id = f"{PAGER_PREFIX}{self.token}:previous"
        self.next.custom_id = f"{PAGER_PREFIX}{self.token}:next"
        self.live = live  # the tokens of the bot's working pagers, this one's among them
        self._turning = asyncio.Lock()
        self.live.add(self.token)
        self._update_buttons()

    def stop(self) -> None:
        """Stop listening for presses; a later press is told the buttons expired."""
        self.live.discard(self.token)
        super().stop()

    @property
    def content(self) -> str:
        """Return the message text for the current page."""
        return page_header(self.title, self.page)

    @property
    def embeds(self) -> list[discord.Embed]:
        """Return the embeds of the current page."""
        return article_embeds(self.page.articles)

    def _update_buttons(self) -> None:
        self.previous.disabled = self.page.offset <= 0 or not self.page.articles
        self.next.disabled = self.page.offset + len(self.page.articles) >= self.page.total

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Let only the person who asked turn the pages."""
        if interaction.user.id == self.author_id:
            return True
        await interaction.response.send_message(
            "Only the person who asked can turn these pages. Run the command yourself to browse.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )
        return False

    async def _turn(self, interaction: discord.Interaction[Any], pages: int) -> None:
        """Move ``pages`` pages on from the page shown when this press's turn comes.

        Presses are taken one at a time: two quick presses of Next move two pages.
        """
        async with self._turning:
            offset = max(0, self.page.offset + pages * self.page.limit)
            self.page = await self.fetch(offset)
            if not self.page.articles and self.page.total:  # the results shrank meanwhile
                last = (self.page.total - 1) // self.page.limit * self.page.limit
                self.page = await self.fetch(last)
            self._update_buttons()
            await interaction.response.edit_message(
                content=self.content, embeds=self.embeds, view=self, allowed_mentions=NO_MENTIONS
            )

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[ArticlePager]
    ) -> None:
        """Show the previous page."""
        await self._turn(interaction, -1)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.primary)
    async def next(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[ArticlePager]
    ) -> None:
        """Show the next page."""
        await self._turn(interaction, +1)

    async def on_timeout(self) -> None:
        """Disable the buttons so that nobody presses a dead control."""
        self.live.discard(self.token)
        for item in self.children:
            if isinstance(item, discord.ui.Button):
                item.disabled = True
        if self.interaction is not None:
            try:
                await self.interaction.edit_original_response(view=self)
            except discord.HTTPException as exc:  # deleted message, expired token: nothing to do
                log.info("could not disable the page buttons: %s", exc)

    async def on_error(
        self,
        interaction: discord.Interaction[Any],
        error: Exception,
        item: discord.ui.Item[Any],
    ) -> None:
        """Answer a failed button press like a failed command: never silence."""
        await reply_error(interaction, error)


async def answer_expired_buttons(interaction: discord.Interaction[Any], live: set[str]) -> None:
    """Answer a press of page buttons that no pager of ``live`` listens to any more.

    Their pager timed out, or the bot restarted since it showed them; without an answer,
    Discord tells the person "This interaction failed".
    """
    if interaction.type is not discord.InteractionType.component or interaction.data is None:
        return
    custom_id = str(interaction.data.get("custom_id", ""))
    if not custom_id.startswith(PAGER_PREFIX):
        return
    if custom_id.removeprefix(PAGER_PREFIX).split(":", 1)[0] in live:
        return  # its pager answers
    try:
        await interaction.response.send_message(
            EXPIRED, ephemeral=True, allowed_mentions=NO_MENTIONS
        )
    except discord.HTTPException as exc:
        log.info("could not say the page buttons expired: %s", exc)
