"""The loaded source files in PostgreSQL: what the loader skips while a file stays the same.

PostgreSQL's own here: a batch of files remembered in one statement from arrays
(``unnest``), and paths asked for as one array (``= ANY``) instead of ``IN`` lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.store import records, sql
from bot.store.interfaces import SourceFile
from bot.store.postgres.database import Database, Writer

PATHS_PER_QUERY = 10_000  # paths bound as one array: a few hundred kilobytes

_REMEMBER = (
    "INSERT INTO source_files (path, size, mtime_ns, digest, url) "
    "SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::text[], ?::text[]) "
    + sql.SOURCE_FILE_KNOWN_AGAIN
)


async def remember_files(writer: Writer, files: Iterable[tuple[SourceFile, str]]) -> None:
    """Record each file with the URL of the article it holds, in the caller's transaction."""
    # One row per path, the last one given: a statement may not upsert a row twice.
    latest = {f.path: (f.path, f.size, f.mtime_ns, f.digest, url) for f, url in files}
    if latest:
        await writer.execute(
            _REMEMBER, [list(column) for column in zip(*latest.values(), strict=True)]
        )


class PostgresSourceFiles:
    """``SourceFileStore`` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def known(self, paths: Sequence[str] | None = None) -> dict[str, SourceFile]:
        """Return what the store remembers of the files at ``paths`` (default: all), by path."""
        if paths is None:
            rows = await self._db.rows(sql.SOURCE_FILES)
            return {row["path"]: records.source_file(row) for row in rows}
        found: dict[str, SourceFile] = {}
        for start in range(0, len(paths), PATHS_PER_QUERY):
            rows = await self._db.rows(
                f"{sql.SOURCE_FILES} WHERE path = ANY (?::text[])",
                [list(paths[start : start + PATHS_PER_QUERY])],
            )
            found.update({row["path"]: records.source_file(row) for row in rows})
        return found

    async def touch(self, files: Sequence[SourceFile]) -> None:
        """Record new sizes and times of files whose content did not change."""
        if not files:
            return
        # Loading takes turns (as the saves of another load do), so that two loads cannot
        # lock the same files' rows in opposite orders. No counts here: row by row is fine.
        async with self._db.transaction(take_turns=True) as writer:
            await writer.executemany(
                sql.TOUCH_SOURCE_FILE, [(f.size, f.mtime_ns, f.path) for f in files]
            )
