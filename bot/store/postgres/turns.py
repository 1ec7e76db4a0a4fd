"""Send turns shared by every process on one PostgreSQL database (``bot.store.turns``)."""

from __future__ import annotations

from bot.store.postgres.database import Database
from bot.store.turns import Turn

NOW = "extract(epoch FROM clock_timestamp())::float8"
# One statement takes a turn and says how long to wait for it, all on the server's clock
# (hosts' clocks may disagree); the row's lock makes processes taking turns at once line up.
# It writes outside a transaction of the store's: a turn taken twice (a retried read after
# a lost session) only leaves a gap in the schedule.
TAKE = (
    "INSERT INTO send_turns AS t (bot_id, next_turn) "
    f"VALUES (?, {NOW} + ?::float8) "
    "ON CONFLICT (bot_id) DO UPDATE "
    f"SET next_turn = greatest(t.next_turn, {NOW}) + ?::float8 "
    f"RETURNING next_turn - ?::float8 AS start, next_turn - ?::float8 - {NOW} AS wait"
)


class PostgresTurns:
    """Turns from one row per bot, shared by every process on the database."""

    shared = True  # every process takes its turns here: each may use the whole rate

    def __init__(self, database: Database) -> None:
        self._db = database

    async def take(self, bot_id: int, interval: float) -> Turn:
        """Take ``bot_id``'s next turn, ``interval`` seconds after the one before."""
        row = await self._db.first(TAKE, [bot_id, interval, interval, interval, interval])
        assert row is not None  # RETURNING of an upsert
        return Turn(float(row["start"]), float(row["wait"]))
