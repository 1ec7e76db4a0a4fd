"""Turns to start a Discord send: how processes of one bot stay under its global limit.

Discord allows a bot token 50 requests a second, whichever process sends them. A store
hands out the turns: PostgreSQL's from one row that every process on the database shares
(``bot.store.postgres.turns``), SQLite's in the process (``LocalTurns``: one machine, and
each process there paces its shards' share of the rate, ``Settings.process_send_rate``).
"""

from __future__ import annotations

import time
from typing import NamedTuple


class Turn(NamedTuple):
    """One send's turn: when it starts, and how long to wait for it from now (seconds)."""

    start: float  # on the clock of whoever hands out the turns
    wait: float


class LocalTurns:
    """Turns handed out in this process only, evenly spaced."""

    shared = False  # each process has its own: the rate is split between processes

    def __init__(self) -> None:
        self._next: dict[int, float] = {}

    async def take(self, bot_id: int, interval: float) -> Turn:
        """Take ``bot_id``'s next turn, ``interval`` seconds after the one before."""
        now = time.monotonic()
        start = max(now, self._next.get(bot_id, 0.0))
        self._next[bot_id] = start + interval
        return Turn(start, start - now)
