"""The advisory lock keys newsbot takes on a PostgreSQL database, all in one place.

PostgreSQL's advisory locks are named by two 32-bit numbers. newsbot's first numbers spell
"news" and "shrd" in ASCII, so that its locks are told apart from any other program's
that shares the database (and show as such in ``pg_locks``).
"""

from __future__ import annotations

NAMESPACE = int.from_bytes(b"news", "big")  # first key of newsbot's own locks
SHARDS = int.from_bytes(b"shrd", "big")  # first key of a shard's lock; the second: its id

MIGRATING = 1  # (NAMESPACE, MIGRATING): one process migrates the schema at a time
SERVING = 2  # (NAMESPACE, SERVING): a run serving every shard (exclusive) or some (shared)
WRITING = 3  # (NAMESPACE, WRITING): for writers that must take turns, as SQLite's do
