"""The global pacer: which requests take turns, and requests that wake late do not bunch."""

from __future__ import annotations

import asyncio
import itertools
import time

from yarl import URL

from bot.chat.pacing import GlobalPacer, counts_globally

BOT = {"Authorization": "Bot abc.def"}


def test_the_bot_tokens_requests_count_and_interactions_and_webhooks_do_not() -> None:
    api = URL("http://127.0.0.1:8080/api/v10")
    assert counts_globally(api / "channels/1/messages", BOT)
    assert counts_globally(api / "guilds/2/threads/active", BOT)
    assert not counts_globally(api / "interactions/3/token/callback", BOT)
    assert not counts_globally(api / "webhooks/4/token", BOT)
    assert not counts_globally(URL("ws://127.0.0.1:8080/?v=10"), {})  # the gateway


async def test_requests_woken_late_by_a_paused_process_go_out_spaced_not_at_once() -> None:
    interval = 0.05
    pacer = GlobalPacer(1 / interval)
    await pacer.wait()  # the schedule's first turn: now
    left: list[float] = []

    async def request() -> None:
        await pacer.wait()
        left.append(time.monotonic())

    waiting = [asyncio.create_task(request()) for _ in range(3)]
    await asyncio.sleep(0)  # each has its turn: one, two and three intervals from now
    time.sleep(6 * interval)  # the process pauses (a long garbage collection) past them all
    await asyncio.gather(*waiting)
    gaps = [later - earlier for earlier, later in itertools.pairwise(left)]
    assert min(gaps) >= interval / 2  # each took a new turn, instead of all going at once
