"""One ``newsbot run`` per PostgreSQL database and shard, as ``bot.runlock`` is for SQLite.

The locks are session advisory locks held by a connection of their own: they go with
the session that holds them, however the process ends (kill -9 too: the server sees the
connection close), so there is never a stale lock to clear.

- A process that serves every shard holds (NAMESPACE, SERVING) exclusively.
- A process that serves some shards holds (NAMESPACE, SERVING) shared and (SHARDS, id)
  exclusively for each of its shards, so processes with disjoint shards run side by side
  and any overlap is refused.

A holder says who it is in its session's ``application_name`` ("newsbot pid 12 on host"),
which the server shows beside its locks in ``pg_locks`` and ``pg_stat_activity`` and
forgets with the session: a refused process names the holder from there.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.errors import AlreadyRunning, StoreError
from bot.runlock import _ADVICE
from bot.store.postgres.connection import connect
from bot.store.postgres.keys import NAMESPACE, SERVING, SHARDS
from bot.store.target import PostgresTarget

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

# Server-side keepalives, so that the server ends the session (and frees its locks) of a
# holder whose host vanished without closing the connection: after about 90 s, not the
# kernel's two hours. A process killed on a live host closes its connection at once.
KEEPALIVES = {
    "tcp_keepalives_idle": "60",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}
_HOLDER = re.compile(r"^newsbot pid (\d+) on (.+)$")
_NAME_BYTES = 63  # PostgreSQL keeps this much of an application_name


class ShardLock:
    """The run locks of one process, held while the ``running_alone`` block runs."""

    def __init__(self, target: PostgresTarget, shard_ids: Sequence[int] | None) -> None:
        self._target = target
        self._shard_ids = None if shard_ids is None else sorted(set(shard_ids))
        self._connection: asyncpg.Connection[asyncpg.Record] | None = None

    async def take(self) -> None:
        """Take every lock on a connection of their own, or raise and hold none.

        Raise ``AlreadyRunning`` naming the other process (pid and host) when one holds a
        lock needed here, and ``StoreError`` when the database cannot be reached.
        """
        import asyncpg

        target = self._target
        connection = await connect(
            target, application_name=holder_name(), server_settings=KEEPALIVES
        )
        try:
            if self._shard_ids is None:
                await _take(connection, (NAMESPACE, SERVING), target.redacted, exclusive=True)
            else:
                await _take(connection, (NAMESPACE, SERVING), target.redacted, exclusive=False)
                for shard in self._shard_ids:
                    what = f"shard {shard} of {target.redacted}"
                    await _take(connection, (SHARDS, shard), what, exclusive=True)
        except BaseException as exc:
            await _close(connection)
            if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | OSError):
                raise StoreError(f"cannot take the run locks of {target.redacted}: {exc}") from None
            raise
        self._connection = connection

    async def release(self) -> None:
        """Free the locks: ending the session frees them (a broken one has already)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await _close(connection)

    async def check(self) -> None:
        """Raise ``StoreError`` when the locks were lost with their connection.

        A server restart or a network cut ends the session, and its locks with it: another
        process may then take them, and this one must stop posting.
        """
        try:
            if self._connection is None or self._connection.is_closed():
                raise ConnectionError
            await self._connection.fetchval("SELECT 1", timeout=10)
        except Exception:  # whatever the way it failed, the locks cannot be vouched for
            raise StoreError(
                f"lost the connection holding the run locks of {self._target.redacted}; "
                "restart newsbot (nothing is posted until then)"
            ) from None

    async def confirm(self) -> None:
        """Make sure the locks are held before posting: take them again if they were lost.

        After a server restart the session that held them is gone: the posting job resumes
        once they are taken again, unless another process took them meanwhile (then it
        raises ``AlreadyRunning``, and this process posts nothing).
        """
        try:
            await self.check()
            return
        except StoreError:
            log.warning("the run locks of %s were lost: taking them again", self._target)
        await self.release()
        await self.take()
        log.info("the run locks of %s are held again", self._target)


async def _close(connection: asyncpg.Connection[asyncpg.Record]) -> None:
    try:
        await connection.close(timeout=5)
    except Exception:
        connection.terminate()


def holder_name(pid: int | None = None, host: str | None = None) -> str:
    """Return the ``application_name`` that says which process holds the locks."""
    prefix = f"newsbot pid {os.getpid() if pid is None else pid} on "
    host = socket.gethostname() if host is None else host
    room = _NAME_BYTES - len(prefix)
    return prefix + host.encode("ascii", "replace").decode()[:room]


@asynccontextmanager
async def running_alone(
    target: PostgresTarget, shard_ids: Sequence[int] | None = None
) -> AsyncIterator[ShardLock]:
    """Hold the run locks of ``target`` (for ``shard_ids``, or every shard) while inside.

    Raise ``AlreadyRunning`` naming the other process (pid and host) when one holds a
    lock needed here, and ``StoreError`` when the database cannot be reached.
    """
    lock = ShardLock(target, shard_ids)
    await lock.take()
    try:
        yield lock
    finally:
        await lock.release()


async def _take(
    connection: asyncpg.Connection[asyncpg.Record],
    key: tuple[int, int],
    what: str,
    *,
    exclusive: bool,
) -> None:
    """Take the lock ``key`` now, or raise ``AlreadyRunning`` naming who holds it."""
    function = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
    if await connection.fetchval(f"SELECT {function}($1, $2)", *key):
        return
    raise AlreadyRunning(
        f"another newsbot run{await _holders(connection, key)} is serving {what}; {_ADVICE}, "
        "or give each its own NEWSBOT_SHARD_IDS."
    )


async def _holders(connection: asyncpg.Connection[asyncpg.Record], key: tuple[int, int]) -> str:
    """Return " (pid N on host)" for each session holding the lock, as the holders tell."""
    rows = await connection.fetch(
        """
        SELECT DISTINCT a.application_name FROM pg_locks AS l
        JOIN pg_stat_activity AS a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid()
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 2
        ORDER BY 1
        """,
        *key,
    )
    named = [m for row in rows if (m := _HOLDER.match(row[0] or ""))]
    if not named:  # gone since, or not a newsbot that says who it is
        return ""
    return " (" + ", ".join(f"pid {m[1]} on {m[2]}" for m in named) + ")"
