"""One ``newsbot run`` per database and shard: two would post the same articles twice.

For SQLite the locks are ``flock`` locks on files next to the database, so they go with
the process that holds them, however it ends (kill -9 too): there is never a stale lock to
clear. PostgreSQL's are session advisory locks (``bot.store.postgres.shardlock``), which
go with the connection holding them, for processes on any host.

- A process that serves every shard holds ``<db>.lock`` exclusively.
- A process that serves some shards (``NEWSBOT_SHARD_IDS``) holds ``<db>.lock`` shared and
  ``<db>.shard-<id>.lock`` exclusively for each of its shards, so processes with disjoint
  shards run side by side and any overlap is refused.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Protocol, TextIO

from bot.errors import AlreadyRunning, StoreError
from bot.store.target import DatabaseTarget, SqliteTarget

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: no locking there
    fcntl = None  # type: ignore[assignment]

_ADVICE = "two would post the same articles twice. Stop the other one first"


class RunLock(Protocol):
    """The run locks a ``newsbot run`` holds while it serves."""

    async def confirm(self) -> None:
        """Make sure the locks are still held before posting, or raise ``NewsbotError``."""
        ...


class FileLocks:
    """SQLite's run locks: ``flock``s, which a living process cannot lose."""

    async def confirm(self) -> None:
        """Return: the locks go only with the process."""


@asynccontextmanager
async def run_locks(
    target: DatabaseTarget, shard_ids: Sequence[int] | None = None
) -> AsyncIterator[RunLock]:
    """Hold the run locks of the database ``target`` (for ``shard_ids``, or every shard)."""
    if isinstance(target, SqliteTarget):
        with running_alone(target.path, shard_ids):
            yield FileLocks()
        return
    from bot.store.postgres import shardlock  # asyncpg is an optional dependency

    async with shardlock.running_alone(target, shard_ids) as lock:
        yield lock


@contextmanager
def running_alone(db_path: Path, shard_ids: Sequence[int] | None = None) -> Iterator[None]:
    """Hold the run locks of ``db_path`` (for ``shard_ids``, or every shard) while inside.

    Raise ``AlreadyRunning`` naming the other process when one holds a lock needed here.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    with ExitStack() as stack:
        main = Path(f"{db_path}.lock")
        if shard_ids is None:
            stack.enter_context(_locked(main, fcntl.LOCK_EX, str(db_path)))
        else:
            stack.enter_context(_locked(main, fcntl.LOCK_SH, str(db_path)))
            for shard in sorted(set(shard_ids)):
                lock = Path(f"{db_path}.shard-{shard}.lock")
                stack.enter_context(_locked(lock, fcntl.LOCK_EX, f"shard {shard} of {db_path}"))
        yield


@contextmanager
def _locked(path: Path, mode: int, what: str) -> Iterator[None]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as opening the store makes the database's
        handle: TextIO = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held while inside
    except OSError as exc:
        raise StoreError(f"cannot create the run lock {path}: {exc.strerror}") from None
    with handle:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"another newsbot run{_holder(handle)} is serving {what}; "
                f"{_ADVICE}, or give each its own NEWSBOT_SHARD_IDS."
            ) from None
        if mode == fcntl.LOCK_EX:  # say who holds it, for the next one to read
            _write(handle, f"{os.getpid()}\n")
        try:
            yield
        finally:
            if mode == fcntl.LOCK_EX:
                _write(handle, "")


def _write(handle: TextIO, text: str) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(text)
    handle.flush()


def _holder(handle: TextIO) -> str:
    """Return " (pid N)" for the process that wrote the lock file, if it is still alive."""
    handle.seek(0)
    pid = handle.read().strip()
    if not pid.isdigit():
        return ""
    try:
        os.kill(int(pid), 0)
    except (OSError, OverflowError):  # gone (killed -9 while holding it), or not ours to ask
        return ""
    return f" (pid {pid})"
