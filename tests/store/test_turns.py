"""Send turns: the processes of one bot stay under Discord's global limit together."""

from __future__ import annotations

import asyncio
import itertools

from bot.store import Store, open_store
from bot.store.turns import Turn
from tests.backends import backend_of

INTERVAL = 0.02  # seconds between turns: 50 sends a second


def _gaps(turns: list[Turn]) -> list[float]:
    starts = sorted(turn.start for turn in turns)
    return [later - earlier for earlier, later in itertools.pairwise(starts)]


async def test_turns_taken_at_once_come_one_interval_apart(store: Store) -> None:
    turns = await asyncio.gather(*[store.send_turns.take(1, INTERVAL) for _ in range(30)])
    assert min(_gaps(turns)) >= INTERVAL - 1e-6
    # Only PostgreSQL's turns are the whole bot's; SQLite's are this process's.
    assert store.send_turns.shared is (backend_of(store) == "postgres")


async def test_processes_on_one_postgresql_database_share_one_schedule(postgres_url: str) -> None:
    async with await open_store(postgres_url) as one, await open_store(postgres_url) as two:
        turns = await asyncio.gather(
            *[store.send_turns.take(7, INTERVAL) for _ in range(20) for store in (one, two)]
        )
    # Forty turns, one schedule: never two within an interval, whoever took them.
    assert len(turns) == 40
    assert min(_gaps(turns)) >= INTERVAL - 1e-6


async def test_each_bot_has_a_schedule_of_its_own(store: Store) -> None:
    for _ in range(20):
        await store.send_turns.take(1, 1.0)  # bot 1 booked for the next 20 seconds
    assert (await store.send_turns.take(2, 1.0)).wait < 1.0  # bot 2 need not wait for it
    assert (await store.send_turns.take(1, 1.0)).wait > 10.0
