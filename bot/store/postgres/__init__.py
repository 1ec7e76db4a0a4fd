"""PostgreSQL beside SQLite (``NEWSBOT_DB=postgresql://...``): the plumbing its store sits on.

- ``connection``: connections and pools, each failure one line, asyncpg imported lazily.
- ``schema`` and ``migrations/``: numbered ``.sql`` files applied at open.
- ``shardlock``: one ``newsbot run`` per database and shard (advisory locks).
- ``keys``: the advisory lock keys.
"""
