"""Storage: typed interfaces per concern (``interfaces.py``) and the backends behind them.

``open_store`` picks the backend from its target: a file path opens SQLite
(``bot.store.sqlite``), a ``postgresql://`` URL opens PostgreSQL (``bot.store.postgres``).
"""

from __future__ import annotations

from pathlib import Path

from bot.store.interfaces import (
    ArticleStore,
    Ledger,
    SaveOutcome,
    SourceFile,
    SourceFileStore,
    StateStore,
    Store,
    SubscriptionStore,
)
from bot.store.sqlite import SqliteStore
from bot.store.target import DatabaseTarget, PostgresTarget, SqliteTarget, parse_target

__all__ = [
    "ArticleStore",
    "Ledger",
    "SaveOutcome",
    "SourceFile",
    "SourceFileStore",
    "StateStore",
    "Store",
    "SubscriptionStore",
    "open_store",
]


async def open_store(target: str | Path | DatabaseTarget) -> Store:
    """Open the store at ``target`` (a SQLite file path, or a PostgreSQL URL), or raise
    ``StoreError``."""
    if not isinstance(target, SqliteTarget | PostgresTarget):
        target = parse_target(target)
    if isinstance(target, PostgresTarget):
        from bot.store.postgres.connection import require_driver

        require_driver()  # before importing the backend: say how to install asyncpg
        from bot.store.postgres.store import PostgresStore

        return await PostgresStore.open(target)
    return await SqliteStore.open(target.path)
