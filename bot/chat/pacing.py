"""``GlobalPacer``: the bot's requests kept under Discord's global limit, at the HTTP layer.

Discord allows a bot 50 requests per second in all (interaction callbacks and webhooks
apart). discord.py paces each route from the ``X-RateLimit-*`` headers, but learns of the
global limit only from 429s, and gives up on a request after five of them. With dozens of
channels served at once, the posting job would exceed the limit every second: the pacer
keeps the bot under it instead.

It paces every request that counts, from an ``aiohttp`` trace on discord.py's session
(``GlobalPacer.pace``): the turn is taken as the request leaves, after discord.py has
waited out the route's own limit or a 429, so no turn is spent on a request that then
waits, and discord.py's own retries, a forum's look for an unconfirmed post and a
command's lookups take turns like the messages they serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextvars import ContextVar
from types import SimpleNamespace
from typing import TYPE_CHECKING

import aiohttp

from bot.errors import StoreError
from bot.store.interfaces import SendTurns
from bot.store.turns import LocalTurns, Turn

if TYPE_CHECKING:
    from yarl import URL

log = logging.getLogger(__name__)

GLOBAL_RATE = 48.0  # requests per second: Discord's global 50, less a margin for late arrivals
# Discord exempts these from the global limit: they are not the bot token's requests.
EXEMPT_SEGMENTS = frozenset({"interactions", "webhooks"})
LATE = 0.5  # of an interval: a request woken later than this past its turn takes another
RETAKES = 3  # turns a late request gives up before it goes anyway


# The time-out of the request being made in this context (``answered_within``), and its
# seconds: a wait for a turn is not Discord's to answer, so it does not count.
_ANSWER_TIMEOUT: ContextVar[tuple[asyncio.Timeout, float] | None] = ContextVar(
    "newsbot_answer_timeout", default=None
)


@contextlib.asynccontextmanager
async def answered_within(seconds: float) -> AsyncIterator[None]:
    """Raise ``TimeoutError`` when a request made inside has no answer ``seconds`` after it
    left: the time it waited for a turn (``GlobalPacer``) is not counted."""
    async with asyncio.timeout(seconds) as timeout:
        token = _ANSWER_TIMEOUT.set((timeout, seconds))
        try:
            yield
        finally:
            _ANSWER_TIMEOUT.reset(token)


def counts_globally(url: URL, headers: Mapping[str, str]) -> bool:
    """Tell whether a request counts toward the bot's global limit: the bot token's, and
    not an interaction callback or a webhook's."""
    if not headers.get("Authorization", "").startswith("Bot "):
        return False
    return EXEMPT_SEGMENTS.isdisjoint(url.path.split("/"))


class GlobalPacer:
    """Start requests at most ``rate`` per second in all, evenly spaced, on ``turns``' turns.

    The limit is the bot's, not the process's. Where the store's turns are shared by every
    process of the bot (PostgreSQL), each request takes the next turn of one schedule at
    the bot's ``rate``, so a busy process may use what an idle one leaves. Otherwise the
    process paces itself at ``own_rate``, its shards' share. A store that cannot hand out a
    turn (its database restarting) does not hold a request back: the process paces itself
    meanwhile, and says so once.
    """

    def __init__(
        self,
        rate: float = GLOBAL_RATE,
        *,
        own_rate: float | None = None,
        turns: SendTurns | None = None,
        bot_id: Callable[[], int] = lambda: 0,
    ) -> None:
        self.turns: SendTurns = turns or LocalTurns()
        self._own = LocalTurns()
        self._own_interval = 1.0 / (own_rate or rate)
        self.interval = 1.0 / rate if self.turns.shared else self._own_interval
        self._bot_id = bot_id
        self._on_own = False

    async def wait(self) -> None:
        """Wait for this request's turn.

        A request woken later than ``LATE`` of an interval past its turn (its process busy
        or paused meanwhile) takes the next turn rather than go out on top of the turns
        after its own: requests bunched so would arrive faster than the rate. After
        ``RETAKES`` such turns it goes anyway.
        """
        for retake in range(RETAKES + 1):
            asked = time.monotonic()
            turn = await self._take()
            if turn.wait > 0:
                await asyncio.sleep(turn.wait)
            late = time.monotonic() - asked - max(turn.wait, 0.0)
            if late <= LATE * self.interval:
                return
            if retake == RETAKES:
                log.debug("a request %.0f ms late on its turn goes out anyway", late * 1000)

    async def _take(self) -> Turn:
        """Take the next turn: the store's, or this process's own while the store fails."""
        bot_id = self._bot_id()
        try:
            turn = await self.turns.take(bot_id, self.interval)
        except StoreError as exc:
            if not self._on_own:
                log.warning("cannot take a send turn: %s; pacing this process alone", exc)
                self._on_own = True
            return await self._own.take(bot_id, self._own_interval)
        if self._on_own:
            log.info("send turns are shared again")
            self._on_own = False
        return turn

    def pace(self, trace: aiohttp.TraceConfig) -> aiohttp.TraceConfig:
        """Return ``trace``, which now makes each request that counts globally wait its turn."""

        async def on_request_start(
            session: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestStartParams,
        ) -> None:
            if not counts_globally(params.url, params.headers):
                return
            answer = _ANSWER_TIMEOUT.get()
            if answer is not None:
                answer[0].reschedule(None)  # the turn first, however long it takes
            await self.wait()
            if answer is not None:
                answer[0].reschedule(asyncio.get_running_loop().time() + answer[1])

        trace.on_request_start.append(on_request_start)
        return trace
