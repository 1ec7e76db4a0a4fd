"""Storage: typed interfaces per concern (``interfaces.py``) and the backends behind them.

``open_store`` picks the backend from its target: a file path opens SQLite
(``bot.store.sqlite``); a ``postgresql://`` URL is for the PostgreSQL backend, not yet here.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.errors import StoreError
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

__all__ = [
    "ArticleStore",
    "Ledger",
    "SaveOutcome",
    "SourceFile",
    "SourceFileStore",
    "StateStore",
    "Store",
    "SubscriptionStore",
    "is_postgres_url",
    "open_store",
]

# "postgresql://..." read as a Path (NEWSBOT_DB, --db) has lost a slash: "postgresql:/...".
_POSTGRES_URL = re.compile(r"postgres(?:ql)?:/", re.IGNORECASE)


def is_postgres_url(target: str | Path) -> bool:
    """Tell whether ``target`` names a PostgreSQL database rather than a SQLite file."""
    return _POSTGRES_URL.match(str(target)) is not None


async def open_store(target: str | Path) -> Store:
    """Open the store at ``target`` (a SQLite file path, or a PostgreSQL URL), or raise
    ``StoreError``."""
    if is_postgres_url(target):
        raise StoreError("PostgreSQL support is not installed yet")
    return await SqliteStore.open(target)
