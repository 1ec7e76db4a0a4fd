"""The PostgreSQL backend (``NEWSBOT_DB=postgresql://...``): one module per concern over a
shared ``Database`` (``database.py``), as the SQLite backend is.

- ``store``: ``PostgresStore``, the facade ``open_store`` returns for a PostgreSQL URL.
- ``database``: the pool, write transactions (writers that must take turns take the
  advisory lock ``keys.WRITING``), ``?`` placeholders numbered ``$n``, errors as
  ``StoreError``.
- ``articles``, ``fulltext``, ``subscriptions``, ``ledger``, ``state``, ``files``: the
  concerns. SQL that SQLite runs as written is shared (``bot.store.sql``); what differs
  (batch inserts from arrays, ``tsvector`` search, arrays, JSON, ``strpos``) is here.
- ``connection``: connections and pools, each failure one line, asyncpg imported lazily.
- ``schema`` and ``migrations/``: numbered ``.sql`` files applied at open.
- ``shardlock``: one ``newsbot run`` per database and shard (advisory locks).
- ``keys``: the advisory lock keys.

asyncpg is imported only inside functions: SQLite, the default, needs nothing of it.
"""
