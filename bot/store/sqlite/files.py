"""The loaded source files in SQLite: what the loader skips while a file stays the same."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bot.store.interfaces import SourceFile
from bot.store.sqlite.database import Database, Row, Writer, chunks, placeholders

_SELECT = "SELECT path, size, mtime_ns, digest FROM source_files"
# Portable upsert: PostgreSQL reads ON CONFLICT ... excluded the same way.
_REMEMBER = (
    "INSERT INTO source_files (path, size, mtime_ns, digest, url) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
    "digest = excluded.digest, url = excluded.url"
)


def _source_file(row: Row) -> SourceFile:
    return SourceFile(row["path"], row["size"], row["mtime_ns"], row["digest"])


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
            return {row["path"]: _source_file(row) for row in await self._db.rows(_SELECT)}
        found: dict[str, SourceFile] = {}
        for chunk in chunks(paths):
            rows = await self._db.rows(
                f"{_SELECT} WHERE path IN ({placeholders(len(chunk))})", chunk
            )
            found.update({row["path"]: _source_file(row) for row in rows})
        return found

    async def touch(self, files: Sequence[SourceFile]) -> None:
        """Record new sizes and times of files whose content did not change."""
        if not files:
            return
        async with self._db.transaction() as writer:
            await writer.executemany(
                "UPDATE source_files SET size = ?, mtime_ns = ? WHERE path = ?",
                [(f.size, f.mtime_ns, f.path) for f in files],
            )
