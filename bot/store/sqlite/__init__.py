"""The SQLite backend: one module per concern over a shared ``Database`` (``database.py``).

Its schema is the numbered ``migrations/*.sql`` next to this file, applied at open.
"""

from bot.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
