"""The PostgreSQL server a benchmark runs on: NEWSBOT_BENCH_POSTGRES's, or a throwaway one.

``NEWSBOT_BENCH_POSTGRES`` is a superuser's URL of a running server (any database on it,
usually ``postgres``): the benchmarks create and drop their own databases there. Without
it, a benchmark starts a server of its own with ``tests/postgres.py`` (initdb into a
temporary folder, run as the ``postgres`` user under root, durability off, as in the
tests), raises its ``shared_buffers`` to ``SHARED_BUFFERS`` and removes it at the end.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.postgres import (  # noqa: E402  (the repository root first)
    INSTALL_HINT,
    Server,
    existing_server,
    find_bindir,
    run_apart,
    start_server,
)

ENVIRONMENT = "NEWSBOT_BENCH_POSTGRES"
SHARED_BUFFERS = "1GB"  # Debian's default is 128MB: too small for a 1M-article database
SHOWN = ("server_version", "shared_buffers", "work_mem", "effective_cache_size", "fsync",
         "synchronous_commit", "max_connections")  # fmt: skip


@contextmanager
def server() -> Iterator[Server]:
    """Yield the server of NEWSBOT_BENCH_POSTGRES, or start one and stop it afterwards."""
    if address := os.environ.get(ENVIRONMENT):
        yield existing_server(address)
        return
    bindir = find_bindir()
    if bindir is None:
        raise SystemExit(f"no PostgreSQL server programs: {INSTALL_HINT}; or set {ENVIRONMENT}")
    started = start_server(bindir)
    try:
        run_apart(_execute(started, f"ALTER SYSTEM SET shared_buffers = '{SHARED_BUFFERS}'"))
        started.pg_ctl("stop", "-m", "fast")
        started.pg_ctl("start")  # with postgresql.auto.conf's setting
        yield started
    finally:
        started.stop()


async def _execute(target: Server, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(target.admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def settings(target: Server) -> dict[str, Any]:
    """Return the server's version and the settings that matter to the figures."""
    import asyncpg

    connection = await asyncpg.connect(target.admin_url)
    try:
        rows = await connection.fetch(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY ($1::text[])",
            list(SHOWN),
        )
    finally:
        await connection.close()
    found = {name: value for name, value in rows}
    return {
        "where": ENVIRONMENT if os.environ.get(ENVIRONMENT) else "throwaway (tests/postgres.py)",
        "address": f"{target.host}:{target.port}",
        **{name: found.get(name) for name in SHOWN},
    }


async def fresh_database(target: Server, name: str) -> str:
    """Create the empty database ``name`` (dropping any of that name); return its URL."""
    import asyncpg

    connection = await asyncpg.connect(target.admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await connection.close()
    return target.url(name)


async def drop_database(target: Server, name: str) -> None:
    """Drop the database ``name``, ending any session on it."""
    await _execute(target, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def database_comment(target: Server, name: str) -> str | None:
    """Return the comment on the database ``name``, or None (no comment, no database)."""
    import asyncpg

    connection = await asyncpg.connect(target.admin_url)
    try:
        return await connection.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            name,
        )
    finally:
        await connection.close()


async def database_bytes(target: Server, name: str) -> int:
    """Return the size of the database ``name`` on disk."""
    import asyncpg

    connection = await asyncpg.connect(target.admin_url)
    try:
        return int(await connection.fetchval("SELECT pg_database_size($1)", name))
    finally:
        await connection.close()


def run(work: Any) -> Any:
    """Run a coroutine to its end, inside a running event loop or not."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    return run_apart(work)


async def _postmaster(target: Server) -> int | None:
    import asyncpg

    connection = await asyncpg.connect(target.admin_url)
    try:
        backend = int(await connection.fetchval("SELECT pg_backend_pid()"))
        try:  # while the backend lives
            return int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None  # not on this machine
    finally:
        await connection.close()


def server_cpu_seconds(target: Server) -> float | None:
    """Return the CPU time the server's processes used so far, or None if it is not local.

    The postmaster's own time, its ended backends' (it waits for them, so they count as
    its children's) and its live processes'.
    """
    postmaster = run(_postmaster(target))
    if postmaster is None:
        return None
    ticks = os.sysconf("SC_CLK_TCK")

    def times(pid: int, children: bool) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        used = [int(x) for x in fields[11:15]]  # utime, stime, cutime, cstime
        return sum(used if children else used[:2]) / ticks

    total = times(postmaster, True)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == postmaster:
                total += times(int(entry.name), False)
        except (OSError, ValueError, IndexError):
            continue
    return total
