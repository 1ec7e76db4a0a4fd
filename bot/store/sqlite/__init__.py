"""The SQLite backend: one module per concern over a shared ``Database`` (``database.py``).

Its schema is the numbered ``migrations/*.sql`` next to this file, applied at open.

What is SQLite's own, and where (the PostgreSQL backend, ``bot.store.postgres``, differs
there; the statements both run as written are ``bot.store.sql``):

- transactions and locking: ``BEGIN IMMEDIATE``, a writer and a read-only reader
  connection, ``PRAGMA user_version`` as the schema version (``database.py``);
- parameters: ``?`` placeholders, at most ``CHUNK`` in one ``IN (...)`` list (``database.py``);
- time columns: sortable UTC text, written by ``db_time`` and read by ``parse_time``;
- full-text search: the FTS5 index ``articles_fts``, ``MATCH`` and ``bm25`` (``fulltext.py``);
- JSON: a page of articles assembled with ``json_group_array`` (``ARTICLES_IN_ORDER`` in
  ``articles.py``), lists of ids bound as JSON and read with ``json_each``, an outbox
  message's article ids kept as a JSON list (``_OUTBOX_ARTICLES`` in ``ledger.py``);
- text matching: ``instr`` and ``COLLATE NOCASE`` (suggestions, provider lookups);
- batch inserts: one statement per row (executemany), and the topic counts added by the
  store itself (``_count_topics``); PostgreSQL inserts a batch per statement from arrays and
  its statement triggers count;
- upserts: ``ON CONFLICT ... DO UPDATE SET x = excluded.x`` reads the same in PostgreSQL;
  the null-safe ``IS NOT`` is PostgreSQL's ``IS DISTINCT FROM``.
"""

from bot.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
