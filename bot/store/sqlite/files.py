"""The loaded source files in SQLite: what the loader skips while a file stays the same."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.store import records, sql
from bot.store.interfaces import SourceFile
from bot.store.sqlite.database import Database, Writer, chunks, placeholders

_REMEMBER = (
    "INSERT INTO source_files (path, size, mtime_ns, digest, url) VALUES (?, ?, ?, ?, ?) "
    + sql.SOURCE_FILE_KNOWN_AGAIN
)


async def remember_files(writer: Writer, files: Iterable[tuple[SourceFile, str]]) -> None:
    """Record each file with the URL of the article it holds, in the caller's transaction."""
    await writer.executemany(
        _REMEMBER, [(f.path, f.size, f.mtime_ns, f.digest, url) for f, url in files]
    )


class SqliteSourceFiles:
    """``SourceFileStore`` on SQLite."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def known(self, paths: Sequence[str] | None = None) -> dict[str, SourceFile]:
        """Return what the store remembers of the files at ``paths`` (default: all), by path."""
        if paths is None:
            return {
                row["path"]: records.source_file(row)
                for row in await self._db.rows(sql.SOURCE_FILES)
            }
        found: dict[str, SourceFile] = {}
        for chunk in chunks(paths):
            rows = await self._db.rows(
                f"{sql.SOURCE_FILES} WHERE path IN ({placeholders(len(chunk))})", chunk
            )
            found.update({row["path"]: records.source_file(row) for row in rows})
        return found

    async def touch(self, files: Sequence[SourceFile]) -> None:
        """Record new sizes and times of files whose content did not change."""
        if not files:
            return
        async with self._db.transaction() as writer:
            await writer.executemany(
                sql.TOUCH_SOURCE_FILE,
                [(f.size, f.mtime_ns, f.path) for f in files],
            )
