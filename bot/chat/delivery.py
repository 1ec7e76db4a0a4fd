"""``DiscordSender``: the posting pipeline's ``Sender``, over discord.py.

It turns Discord's answers into the pipeline's terms: 403 ``ChannelForbidden``, 404
``ChannelGone``, 5xx or a time-out ``DeliveryFailed``. 429 never gets here: discord.py
waits and retries it. A message Discord refuses as malformed (400) is sent again without
the parts most likely at fault (thumbnails, related links), then as bare links. Every
request waits for its turn under the global limit in the client's ``GlobalPacer``
(``bot.chat.pacing``).

A ``DeliveryStyle`` may ask for a role ping (only that role can be pinged), compact lines
instead of embeds, or a thread on each message; in a forum channel each message becomes a
post. Discord takes no nonce for a forum post, so before making one the sender looks for it
among the forum's posts, as ``find_sent`` does for messages; a thread already opened on a
message (400 / 160004) counts as opened, and ``find_sent`` opens the thread of a message it
finds if the lost send never did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Final, TypeVar

import aiohttp
import discord
from discord.channel import ThreadWithMessage

from bot.articles import Article
from bot.chat.embeds import article_embeds, clip
from bot.chat.pacing import answered_within
from bot.chat.permissions import (
    PostingChannel,
    delivery_permissions,
    missing_delivery_permissions,
    missing_posting_permissions,
)
from bot.chat.replies import NO_MENTIONS
from bot.errors import (
    ChannelForbidden,
    ChannelGone,
    DeliveryFailed,
    MessageRefused,
)
from bot.subscriptions import PLAIN, DeliveryStyle

log = logging.getLogger(__name__)
T = TypeVar("T")

UNKNOWN_CHANNEL = 10003
MISSING_PERMISSIONS = 50013
SEND_TIMEOUT = 30.0  # seconds; past that the outcome is unknown and the nonce decides later
RATE_LIMITED_WAITS = 5  # 429s waited out here after discord.py gave up (five 429s each)
HISTORY_SEARCHED = 100  # messages read when looking for one whose send was not confirmed
CLOCK_SKEW = timedelta(minutes=1)  # between this machine's clock and Discord's ids
THREAD_ALREADY_CREATED = 160004  # Discord's answer to a second thread on one message
THREAD_NAME = 100  # characters: Discord's limit for a thread's (and a forum post's) name
THREAD_ARCHIVE: Final = 1440  # minutes: a day of discussion before Discord archives a thread

Attempt = dict[str, object]  # keyword arguments of one try: content and/or embeds


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


def compact_lines(articles: Sequence[Article]) -> str:
    """Return one line per article: its linked title and provider; Discord shows the preview."""
    lines = [
        f"[{_harmless(clip(a.title, 150))}]({_link_target(a.link)})"
        f" · {_harmless(clip(a.provider.name, 80))}"
        for a in articles
    ]
    return clip("\n".join(lines), 1900)  # room for the role mention


def _harmless(text: str) -> str:
    """Return text that shows as written: no markdown or link brackets, no mention that pings."""
    escaped = discord.utils.escape_markdown(text).replace("[", "\\[").replace("]", "\\]")
    return discord.utils.escape_mentions(escaped)


def _link_target(link: str) -> str:
    """Return a URL that a masked link cannot end early: parentheses percent-encoded.

    Not ``<link>``: that would suppress the preview the compact form relies on.
    """
    return link.replace("(", "%28").replace(")", "%29")


def post_name(articles: Sequence[Article]) -> str:
    """Return the name of a forum post or thread: the first article's title, cut to fit."""
    return clip(articles[0].title, THREAD_NAME)


def attempts_for(articles: Sequence[Article], style: DeliveryStyle) -> list[Attempt]:
    """Return the forms to try, fullest first; each later one leaves out more."""
    if style.compact:
        forms: list[Attempt] = [
            {"content": compact_lines(articles)},
            {"content": bare_links(articles)},
        ]
    else:
        forms = [
            {"embeds": article_embeds(articles)},
            {"embeds": plain_embeds(articles)},
            {"content": bare_links(articles)},
        ]
    if style.mention_role_id is None:
        return forms
    ping = f"<@&{style.mention_role_id}>"
    return [
        {**form, "content": clip(f"{ping}\n{form['content']}", 2000) if "content" in form else ping}
        for form in forms
    ]


def allowed_mentions(style: DeliveryStyle) -> discord.AllowedMentions:
    """Return who a post may ping: the style's role and nobody else, whatever the text says."""
    if style.mention_role_id is None:
        return NO_MENTIONS
    return discord.AllowedMentions(
        everyone=False, users=False, roles=[discord.Object(style.mention_role_id)],
        replied_user=False,
    )  # fmt: skip


class DiscordSender:
    """Send article messages to channels through a logged-in discord.py client."""

    def __init__(
        self,
        client: discord.Client,
        *,
        timeout: float = SEND_TIMEOUT,
    ) -> None:
        self.client = client
        self.timeout = timeout

    async def send(
        self,
        channel_id: int,
        articles: Sequence[Article],
        nonce: str,
        style: DeliveryStyle = PLAIN,
    ) -> int:
        """Post one message with ``articles``; return its id (the same id for a repeated nonce).

        In a forum the message is a post's starter message, whose id is the post's.
        """
        cached = self.client.get_channel(channel_id)
        self._check_style(cached, style)
        if isinstance(cached, discord.ForumChannel):
            return await self._post_in_forum(cached, articles, style)
        channel = self.client.get_partial_messageable(channel_id)
        mentions = allowed_mentions(style)

        async def send_message(attempt: Attempt) -> discord.Message:
            message: discord.Message = await channel.send(
                **attempt,  # type: ignore[call-overload]
                nonce=nonce,
                allowed_mentions=mentions,
            )
            return message

        needs = "Send Messages in Threads" if isinstance(cached, discord.Thread) else None
        message = await self._deliver(
            channel_id, attempts_for(articles, style), send_message, needs
        )
        if style.thread and not isinstance(cached, discord.Thread):
            await self._open_thread(channel_id, message.id, articles)
        return message.id

    def _check_style(self, channel: object, style: DeliveryStyle) -> None:
        """Refuse, naming them, the permissions a style needs beyond posting, before posting.

        Posting without them would half-work: Discord posts the message, then refuses the
        thread, or posts a ping that pings nobody (a role that is not mentionable).
        """
        if style == PLAIN or not isinstance(channel, PostingChannel):
            return
        me = channel.guild.me
        if me is None:
            return
        extra = set(delivery_permissions(channel, style).values()) - set(
            delivery_permissions(channel, PLAIN).values()
        )
        missing = [
            name for name in missing_delivery_permissions(channel, me, style) if name in extra
        ]
        if missing:
            raise ChannelForbidden(
                f"Missing Permissions: {', '.join(missing)}", missing=tuple(missing)
            )

    async def _deliver(
        self,
        channel_id: int,
        attempts: list[Attempt],
        post: Callable[[Attempt], Awaitable[T]],
        needs: str | None,
    ) -> T:
        """Make one post with the first form Discord takes; map its refusals to ours.

        ``needs`` names the permission a 403 Missing Permissions means, when it is not plain
        Send Messages (whose refusal reads as it always did).
        """
        number, waits = 1, 0
        while True:
            try:
                async with answered_within(self.timeout):
                    return await post(attempts[number - 1])
            except discord.Forbidden as exc:
                reason = _describe(exc)
                if needs and exc.code == MISSING_PERMISSIONS:  # not Missing Access, say
                    reason = f"{reason}: {needs}"
                raise ChannelForbidden(reason, missing=self._missing(channel_id)) from exc
            except discord.NotFound as exc:
                if exc.code == UNKNOWN_CHANNEL:
                    raise ChannelGone(_describe(exc)) from exc
                raise DeliveryFailed(_describe(exc)) from exc
            except discord.HTTPException as exc:
                if exc.status == 429 and waits < RATE_LIMITED_WAITS:
                    waits += 1  # a 429 made nothing, and a message's nonce makes it safe anyway
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

    async def _open_thread(
        self, channel_id: int, message_id: int, articles: Sequence[Article]
    ) -> None:
        """Open the discussion thread on a posted message, unless it has one already.

        The message is posted by now, so nothing here may undo that: a thread Discord
        refuses is logged and given up (the permission is checked before posting).
        """
        try:
            async with answered_within(self.timeout):
                await self.client.http.start_thread_with_message(
                    channel_id,
                    message_id,
                    name=post_name(articles),
                    auto_archive_duration=THREAD_ARCHIVE,
                )
        except discord.HTTPException as exc:
            if exc.code == THREAD_ALREADY_CREATED:  # a resend of a message already threaded
                return
            log.warning("channel %s: message %s posted without its thread: %s",
                        channel_id, message_id, _describe(exc))  # fmt: skip
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning("channel %s: message %s posted without its thread: %r",
                        channel_id, message_id, exc)  # fmt: skip

    async def _post_in_forum(
        self, forum: discord.ForumChannel, articles: Sequence[Article], style: DeliveryStyle
    ) -> int:
        """Make a forum post showing ``articles``, unless an earlier, unconfirmed try made it.

        Discord takes no nonce for a post, so the forum's open posts are searched first:
        one request, and the only way a resend cannot make a second post.
        """
        try:
            found = await self._find_post(forum, articles, since=None, archived=False)
        except discord.Forbidden as exc:  # no Read Message History: cannot look
            log.warning("forum %s: cannot look for an unconfirmed post (%s); posting, which "
                        "could show it twice", forum.id, _describe(exc))  # fmt: skip
            found = None
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryFailed(f"cannot look for an unconfirmed post: {exc}") from exc
        if found is not None:
            log.info("forum %s: post %s was made after all", forum.id, found)
            return found
        wanted = (style.forum_tag or "").casefold()
        tags = [tag for tag in forum.available_tags if wanted and tag.name.casefold() == wanted]
        mentions = allowed_mentions(style)

        async def create_post(attempt: Attempt) -> int:
            posted: ThreadWithMessage = await forum.create_thread(  # type: ignore[call-overload]
                name=post_name(articles),
                applied_tags=tags[:1],
                allowed_mentions=mentions,
                **attempt,
            )
            return posted.message.id

        return await self._deliver(
            forum.id, attempts_for(articles, style), create_post, "Create Posts"
        )

    async def _find_post(
        self,
        forum: discord.ForumChannel,
        articles: Sequence[Article],
        *,
        since: datetime | None,
        archived: bool,
    ) -> int | None:
        """Return the id of this bot's post in ``forum`` showing exactly ``articles``.

        Only posts named as this one would be are opened: a post's name is its first
        article's title. ``archived`` also searches the most recently archived posts.
        """
        me = self.client.user
        if me is None:
            return None
        name, links = post_name(articles), {article.link for article in articles}
        after = None if since is None else since - CLOCK_SKEW

        def ours(thread: discord.Thread) -> bool:
            made = discord.utils.snowflake_time(thread.id)
            return (
                thread.parent_id == forum.id and thread.owner_id == me.id and thread.name == name
                and (after is None or made >= after)
            )  # fmt: skip

        candidates = [t for t in await forum.guild.active_threads() if ours(t)]
        if archived:
            async for thread in forum.archived_threads(limit=HISTORY_SEARCHED):
                if ours(thread):
                    candidates.append(thread)
        for thread in candidates:
            try:  # a post's starter message has the post's id
                starter = await thread.fetch_message(thread.id)
            except discord.NotFound:  # its author deleted it: not a post that shows them
                continue
            if starter.author.id == me.id and _shows(starter, links):
                return starter.id
        return None

    async def find_sent(
        self,
        channel_id: int,
        articles: Sequence[Article],
        since: datetime,
        style: DeliveryStyle = PLAIN,
    ) -> int | None:
        """Return the id of this bot's message in the channel, posted since ``since``,
        that shows exactly ``articles``; None if there is none among the next 100.

        A message found for a style with a thread gets its thread now if the lost send
        never opened it: the message is recorded as sent and never sent again.
        """
        me = self.client.user
        if me is None:
            return None
        cached = self.client.get_channel(channel_id)
        if isinstance(cached, discord.ForumChannel):
            return await self._find_sent_post(cached, articles, since)
        links = {article.link for article in articles}
        channel = self.client.get_partial_messageable(channel_id)
        try:
            async for message in channel.history(
                limit=HISTORY_SEARCHED, after=since - CLOCK_SKEW, oldest_first=True
            ):
                if message.author.id == me.id and _shows(message, links):
                    if style.thread and not isinstance(cached, discord.Thread):
                        await self._open_thread(channel_id, message.id, articles)
                    return message.id
        except discord.Forbidden as exc:  # no Read Message History there
            raise ChannelForbidden(_describe(exc)) from exc
        except discord.NotFound as exc:
            raise ChannelGone(_describe(exc)) from exc
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryFailed(str(exc)) from exc
        return None

    async def _find_sent_post(
        self, forum: discord.ForumChannel, articles: Sequence[Article], since: datetime
    ) -> int | None:
        """Return the id of this bot's post in the forum, made since ``since``, that shows
        exactly ``articles``: among the open posts and the recently archived ones."""
        try:
            return await self._find_post(forum, articles, since=since, archived=True)
        except discord.Forbidden as exc:  # no Read Message History there
            raise ChannelForbidden(_describe(exc)) from exc
        except discord.NotFound as exc:
            raise ChannelGone(_describe(exc)) from exc
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryFailed(str(exc)) from exc

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
        if isinstance(channel, discord.ForumChannel | discord.Thread):
            me = channel.guild.me
            return me is not None and not missing_delivery_permissions(channel, me)
        return True

    async def notify(self, channel_id: int, text: str) -> int:
        """Post one plain line that pings nobody (an alert), once; return its id.

        Discord's refusals map as for ``send``: 403 ``ChannelForbidden``, 404
        ``ChannelGone``, 400 ``MessageRefused``, anything else ``DeliveryFailed``.
        """
        channel = self.client.get_partial_messageable(channel_id)

        async def post_line(attempt: Attempt) -> int:
            message = await channel.send(
                **attempt,  # type: ignore[call-overload]
                allowed_mentions=NO_MENTIONS,
            )
            return int(message.id)

        return await self._deliver(channel_id, [{"content": clip(text, 2000)}], post_line, None)

    def _missing(self, channel_id: int) -> tuple[str, ...]:
        """Return what the cache says the bot lacks to post in a channel, as Discord names it."""
        channel = self.client.get_channel(channel_id)
        if not isinstance(channel, PostingChannel) or channel.guild.me is None:
            return ()
        return tuple(missing_delivery_permissions(channel, channel.guild.me))


def _shows(message: discord.Message, links: set[str]) -> bool:
    """Tell whether a message shows exactly the articles at ``links``, in any of its forms."""
    urls = {embed.url for embed in message.embeds if embed.url}
    if urls == links:
        return True
    # The bare-links form, and the compact one (whose link previews may name other URLs).
    return all(
        f"<{link}>" in message.content or f"({_link_target(link)})" in message.content
        for link in links
    )


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
