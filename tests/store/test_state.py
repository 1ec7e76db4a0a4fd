"""Small state kept across restarts."""

from __future__ import annotations

from pathlib import Path

from bot.store import open_store


# A SQLite file reopened; tests/store/postgres/test_store.py reopens a PostgreSQL database.
async def test_state_values_survive_a_reopen(tmp_path: Path) -> None:
    async with await open_store(tmp_path / "s.db") as store:
        assert await store.state.get("command-sync") is None
        await store.state.set("command-sync", "abc")
        await store.state.set("command-sync", "def")
    async with await open_store(tmp_path / "s.db") as store:
        assert await store.state.get("command-sync") == "def"
