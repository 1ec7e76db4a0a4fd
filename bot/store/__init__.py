"""Storage: one SQLite database, owned by ``Store``, with its schema in numbered migrations."""

from bot.store.store import SaveOutcome, SourceFile, Store

__all__ = ["SaveOutcome", "SourceFile", "Store"]
