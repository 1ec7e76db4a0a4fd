"""``DiscordSender``: the posting pipeline's ``Sender``, over discord.py.

It turns Discord's answers into the pipeline's terms: 403 ``ChannelForbidden``, 404
``ChannelGone``, 5xx or a time-out ``DeliveryFailed``. 429 never gets here: discord.py
waits and retries it. A message Discord refuses as malformed (400) is sent again without
the parts most likely at fault (thumbnails, related links), then as bare links.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import aiohttp
import discord

from bot.articles import Article
from bot.chat.embeds import article_embeds, clip
from bot.chat.replies import NO_MENTIONS
from bot.chat.subscriptions import missing_posting_permissions
from bot.errors import ChannelForbidden, ChannelGone, DeliveryFailed, MessageRefused

log = logging.getLogger(__name__)

UNKNOWN_CHANNEL = 10003
SEND_TIMEOUT = 30.0  # seconds; past that the outcome is unknown and the nonce decides later
GLOBAL_RATE = 49.0  # messages per second: just under Discord's global 50 requests per second
RATE_LIMITED_WAITS = 5  # 429s waited out here after discord.py gave up (five 429s each)
HISTORY_SEARCHED = 100  # messages read when looking for one whose send was not confirmed
CLOCK_SKEW = timedelta(minutes=1)  # between this machine's clock and Discord's ids


class GlobalPacer:
    """Start at most ``rate`` sends per second, evenly spaced.

    Discord allows a bot 50 requests per second in all. discord.py paces each route from
    the ``X-RateLimit-*`` headers, but learns of the global limit only from 429s, and gives
    up on a request after five of them. With dozens of channels served at once, the posting
    job would exceed the limit every second: the pacer keeps it under instead.
    """

    def __init__(self, rate: float = GLOBAL_RATE) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        """Wait for this send's turn."""
        now = asyncio.get_running_loop().time()
        turn = max(now, self._next)
        self._next = turn + self.interval
        if turn > now:
            await asyncio.sleep(turn - now)


def plain_embeds(articles: Sequence[Article]) -> list[discord.Embed]:
    """Return embeds without images or related links: what is left when Discord refuses more."""
    embeds = article_embeds(articles)
    for embed in embeds:
        embed.set_thumbnail(url=None)
        embed.clear_fields()
    return embeds


def bare_links(articles: Sequence[Article]) -> str:
    """Return the articles as one line each: the last resort for an unrenderable message."""
    lines = [
        f"**{discord.utils.escape_markdown(clip(a.title, 150))}** <{a.link}>" for a in articles
    ]
    return clip("\n".join(lines), 2000)


class DiscordSender:
    """Send article messages to channels through a logged-in discord.py client."""

    def __init__(
        self,
        client: discord.Client,
        *,
        timeout: float = SEND_TIMEOUT,
        rate: float = GLOBAL_RATE,
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.pacer = GlobalPacer(rate)

    async def send(self, channel_id: int, articles: Sequence[Article], nonce: str) -> int:
        """Post one message with ``articles``; return its id (the same id for a repeated nonce)."""
        channel = self.client.get_partial_messageable(channel_id)
        attempts: list[dict[str, object]] = [
            {"embeds": article_embeds(articles)},
            {"embeds": plain_embeds(articles)},
            {"content": bare_links(articles)},
        ]
        number, waits = 1, 0
        while True:
            await self.pacer.wait()
            try:
                message: discord.Message = await asyncio.wait_for(
                    channel.send(
                        **attempts[number - 1],  # type: ignore[call-overload]
                        nonce=nonce,
                        allowed_mentions=NO_MENTIONS,
                    ),
                    self.timeout,
                )
                return message.id
            except discord.Forbidden as exc:
                raise ChannelForbidden(_describe(exc)) from exc
            except discord.NotFound as exc:
                if exc.code == UNKNOWN_CHANNEL:
                    raise ChannelGone(_describe(exc)) from exc
                raise DeliveryFailed(_describe(exc)) from exc
            except discord.HTTPException as exc:
                if exc.status == 429 and waits < RATE_LIMITED_WAITS:
                    waits += 1  # the same message again: its nonce makes that safe
                    await asyncio.sleep(_retry_after(exc))
                    continue
                if exc.status != 400:
                    raise DeliveryFailed(_describe(exc)) from exc
                if number == len(attempts):
                    raise MessageRefused(_describe(exc)) from exc
                log.warning("channel %s refused a message (%s); sending less of it",
                            channel_id, _describe(exc))  # fmt: skip
                number += 1
            except TimeoutError as exc:
                raise DeliveryFailed(f"no answer within {self.timeout:g} s") from exc
            except (aiohttp.ClientError, OSError) as exc:
                raise DeliveryFailed(f"network error: {exc!r}") from exc

    async def find_sent(
        self, channel_id: int, articles: Sequence[Article], since: datetime
    ) -> int | None:
        """Return the id of this bot's message in the channel, posted since ``since``,
        that shows exactly ``articles``; None if there is none among the next 100."""
        me = self.client.user
        if me is None:
            return None
        links = {article.link for article in articles}
        channel = self.client.get_partial_messageable(channel_id)
        try:
            async for message in channel.history(
                limit=HISTORY_SEARCHED, after=since - CLOCK_SKEW, oldest_first=True
            ):
                if message.author.id == me.id and _shows(message, links):
                    return message.id
        except discord.Forbidden as exc:  # no Read Message History there
            raise ChannelForbidden(_describe(exc)) from exc
        except discord.NotFound as exc:
            raise ChannelGone(_describe(exc)) from exc
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryFailed(str(exc)) from exc
        return None

    async def can_post(self, channel_id: int) -> bool:
        """Tell whether the bot's permissions in the channel allow posting articles."""
        channel = self.client.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(channel_id)
            except discord.NotFound as exc:
                raise ChannelGone(_describe(exc)) from exc
            except discord.Forbidden:
                return False
            except (TimeoutError, discord.HTTPException, aiohttp.ClientError) as exc:
                raise DeliveryFailed(str(exc)) from exc
        if isinstance(channel, discord.TextChannel):
            me = channel.guild.me
            return me is not None and not missing_posting_permissions(channel, me)
        return True


def _shows(message: discord.Message, links: set[str]) -> bool:
    """Tell whether a message shows exactly the articles at ``links``, in any of its forms."""
    urls = {embed.url for embed in message.embeds if embed.url}
    if urls:
        return urls == links
    return all(f"<{link}>" in message.content for link in links)  # the bare-links form


def _retry_after(exc: discord.HTTPException) -> float:
    """Return how long Discord asked to wait after a 429 (1 s if it did not say)."""
    try:
        return max(0.0, float(exc.response.headers.get("Retry-After", 1.0)))
    except ValueError:
        return 1.0


def _describe(exc: discord.HTTPException) -> str:
    """Return Discord's refusal as a person reads it: ``Missing Access (Discord 50001)``."""
    text = exc.text or exc.response.reason or "no reason given"
    return f"{text} (Discord error {exc.code})" if exc.code else f"{text} (HTTP {exc.status})"
