"""Load article files into the store: incrementally, in batches, parsing in a process pool.

A file whose size and modification time are unchanged since its last load is not read
again. Every batch is one transaction that stores the articles *and* remembers their files,
so a load killed at any point leaves a consistent database and the next load finishes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from stat import S_ISREG

from bot.articles import pickled_as_tuple
from bot.errors import ArticleError, LoadError, StoreError, UsageError
from bot.parsing import DEFAULT_MAX_BYTES, parse_article
from bot.store import SaveOutcome, SourceFile, Store
from bot.store.rows import ArticleRows, article_rows

ARTICLE_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
BATCH_SIZE = 500  # articles per transaction
CHUNK_SIZE = 100  # files per parsing task
POOL_THRESHOLD = 400  # fewer files than this are parsed in a thread: a pool costs ~0.2 s

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Rejection:
    """A file that could not be stored, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    """A file holding an article that another file holds too (same canonical URL)."""

    path: str
    same_as: str
    url: str


@dataclass(slots=True)
class LoadReport:
    """What a load did, file by file category."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # files in directories that are not article files
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def files(self) -> int:
        """Return how many article files were considered."""
        return self.added + self.updated + self.unchanged + len(self.rejected)

    @property
    def ok(self) -> bool:
        """Tell whether every file was stored (or already was)."""
        return not self.rejected

    def summary(self) -> str:
        """Return the one-line summary a person reads after a load."""
        line = (
            f"{self.files:,} file{'' if self.files == 1 else 's'} in {self.seconds:.2f} s: "
            f"{self.added:,} added, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged, "
            f"{len(self.rejected):,} rejected"
        )
        if self.duplicates:
            line += f", {len(self.duplicates):,} duplicates"
        if self.skipped:
            line += f" ({self.skipped:,} other file{'' if self.skipped == 1 else 's'} skipped)"
        return line

    def as_json(self) -> dict[str, object]:
        """Return the machine-readable report printed by ``newsbot load --json``."""
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
            "rejections": [{"path": r.path, "reason": r.reason} for r in self.rejected],
            "duplicates": [
                {"path": d.path, "same_as": d.same_as, "url": d.url} for d in self.duplicates
            ],
        }


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class ParsedFile:
    """The outcome of reading one file: the article's rows or the reason it was rejected."""

    source: SourceFile
    article: ArticleRows | None = None  # what the store inserts, built here in the worker
    error: str | None = None


def find_article_files(paths: Iterable[Path]) -> tuple[list[str], int, list[Rejection]]:
    """Return the absolute paths of the article files under ``paths``, how many other
    files were skipped, and what could not be looked at (each with the reason).

    A file named directly is always read. Inside a directory, only ``.md``, ``.markdown``
    and ``.txt`` files are read; hidden files and directories are passed over. Paths are
    strings, not ``Path`` objects: building two ``Path`` objects a file was half the time
    of a re-run over an unchanged corpus.
    """
    found: dict[str, None] = {}
    skipped = 0
    problems: list[Rejection] = []
    seen: set[tuple[int, int]] = set()  # directories walked, by device and inode
    for path in paths:
        try:
            is_file, is_dir, exists = path.is_file(), path.is_dir(), path.exists()
        except OSError as exc:  # a folder on the way that we may not enter
            raise UsageError(f"{path}: {exc.strerror}") from None
        if is_file:
            found[os.path.abspath(path)] = None  # abspath also folds "d/../d/f" into "d/f"
        elif is_dir:
            for file, is_article in _walk(os.path.abspath(path), seen, problems):
                if is_article:
                    found[file] = None
                else:
                    skipped += 1
        elif exists:
            raise UsageError(f"{path}: not a file or directory")
        else:
            raise UsageError(f"{path}: no such file or directory")
    files = []
    for file in found:
        try:
            file.encode("utf-8")
        except UnicodeEncodeError:  # the store keeps paths as text
            problems.append(Rejection(shown_path(file), "the file name is not UTF-8: rename it"))
        else:
            files.append(file)
    return sorted(files, key=lambda file: file.split(os.sep)), skipped, problems  # as Paths


def shown_path(path: str) -> str:
    """Return ``path`` as printable text: bytes that are not UTF-8 appear as ``\\xff``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _walk(
    directory: str, seen: set[tuple[int, int]], problems: list[Rejection]
) -> Iterator[tuple[str, bool]]:
    """Yield (path, is an article file) under ``directory``, each directory once.

    Symbolic links are followed, but a directory reached again (a link back up the tree, or
    two links to one place) is not walked twice. A directory that cannot be read is added
    to ``problems``.
    """
    try:
        info = os.stat(directory)
        if (info.st_dev, info.st_ino) in seen:
            return
        seen.add((info.st_dev, info.st_ino))
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as exc:
        problems.append(Rejection(shown_path(directory), f"cannot read directory: {exc.strerror}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
            is_file = not is_dir and entry.is_file(follow_symlinks=True)
        except OSError:  # a link that cannot be followed
            continue
        if is_dir:
            yield from _walk(entry.path, seen, problems)
        elif is_file:
            yield entry.path, os.path.splitext(entry.name)[1].lower() in ARTICLE_SUFFIXES


def parse_files(paths: Sequence[str], max_bytes: int = DEFAULT_MAX_BYTES) -> list[ParsedFile]:
    """Read and parse files; runs in a worker process for large loads."""
    return [parse_file(path, max_bytes) for path in paths]


def parse_file(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedFile:
    """Read and parse one file, never raising for a bad file."""
    try:
        # Non-blocking, so that a FIFO put where a file was found cannot stall the load.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            stat = os.fstat(handle.fileno())
            if not S_ISREG(stat.st_mode):
                source = SourceFile(path, 0, stat.st_mtime_ns, "")
                return ParsedFile(source, error="not a regular file")
            if stat.st_size > max_bytes:
                source = SourceFile(path, stat.st_size, stat.st_mtime_ns, "")
                return ParsedFile(
                    source,
                    error=f"file is {stat.st_size:,} bytes, over the {max_bytes:,}-byte limit",
                )
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return ParsedFile(SourceFile(path, 0, 0, ""), error=f"cannot read: {exc.strerror}")
    source = SourceFile(
        path, len(data), stat.st_mtime_ns, hashlib.blake2b(data, digest_size=16).hexdigest()
    )
    try:
        return ParsedFile(source, article_rows(parse_article(data, max_bytes=max_bytes)))
    except ArticleError as exc:
        return ParsedFile(source, error=str(exc))
    except RecursionError:  # deeply nested YAML
        return ParsedFile(source, error="invalid YAML: nested too deeply")
    except Exception as exc:  # a bad file never stops a load, even in a way not foreseen
        return ParsedFile(source, error=f"cannot be parsed ({type(exc).__name__}: {exc})")


async def load_articles(
    store: Store,
    paths: Iterable[Path],
    *,
    workers: int = 1,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Progress | None = None,
    reread: bool = False,
) -> LoadReport:
    """Load the article files under ``paths`` into ``store`` and report what happened.

    Files whose size and modification time are unchanged are not read again, unless
    ``reread``: then every file is read, and only those whose bytes changed are stored.
    """
    started = time.perf_counter()
    report = LoadReport()
    files, report.skipped, report.rejected = await asyncio.to_thread(
        find_article_files, list(paths)
    )
    known = await store.files.known(files)
    todo = files if reread else await asyncio.to_thread(_changed_files, files, known)
    report.unchanged = len(files) - len(todo)
    if progress:
        progress(report.unchanged, len(files))
    with _executor(workers, len(todo)) as executor:
        loop = asyncio.get_running_loop()
        chunks = (todo[i : i + CHUNK_SIZE] for i in range(0, len(todo), CHUNK_SIZE))
        # A few chunks ahead of the writer, not all of them: parsed articles waiting in
        # memory cost RAM and make every garbage collection pass slower.
        ahead = 2 * workers + BATCH_SIZE // CHUNK_SIZE
        pending: deque[asyncio.Future[list[ParsedFile]]] = deque(
            loop.run_in_executor(executor, parse_files, chunk, max_bytes)
            for chunk in itertools.islice(chunks, ahead)
        )
        batch: list[ParsedFile] = []
        try:
            while pending:  # in order, so that the last of two duplicates wins
                parsed = await pending.popleft()
                if (chunk := next(chunks, None)) is not None:
                    pending.append(loop.run_in_executor(executor, parse_files, chunk, max_bytes))
                batch.extend(parsed)
                if len(batch) >= BATCH_SIZE:
                    await _store_batch(store, batch, known, report)
                    batch = []
                    if progress:
                        progress(report.files, len(files))
            await _store_batch(store, batch, known, report)
        except BrokenProcessPool:
            raise LoadError(
                "a parsing process died (out of memory, or killed). "
                "The files loaded before are kept: load again to finish"
            ) from None
        finally:
            for task in pending:
                task.cancel()
    if progress:
        progress(report.files, len(files))
    report.seconds = time.perf_counter() - started
    return report


def _changed_files(files: Sequence[str], known: dict[str, SourceFile]) -> list[str]:
    changed = []
    for path in files:
        remembered = known.get(path)
        if remembered is not None:
            try:
                stat = os.stat(path)
            except OSError:
                changed.append(path)  # parse_file reports why it cannot be read
                continue
            if stat.st_size == remembered.size and stat.st_mtime_ns == remembered.mtime_ns:
                continue
        changed.append(path)
    return changed


def _executor(workers: int, files: int) -> Executor:
    if workers > 1 and files >= POOL_THRESHOLD:
        return ProcessPoolExecutor(
            max_workers=min(workers, -(-files // CHUNK_SIZE)),
            mp_context=get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-parse")


def _start_worker(parent: int) -> None:
    """Set up a parsing process: Ctrl-C is for the main process, and it ends with its parent.

    A parent killed outright (kill -9, the OOM killer, a default SIGTERM) cannot stop its
    pool, whose workers would wait forever to hand back results nobody reads.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


async def _store_batch(
    store: Store, batch: list[ParsedFile], known: dict[str, SourceFile], report: LoadReport
) -> None:
    to_save: list[tuple[ArticleRows, SourceFile]] = []
    touched: list[SourceFile] = []
    for parsed in batch:
        if parsed.article is None:
            report.rejected.append(Rejection(parsed.source.path, parsed.error or "unknown error"))
            continue
        remembered = known.get(parsed.source.path)
        if remembered is not None and remembered.digest == parsed.source.digest:
            touched.append(parsed.source)  # touched, not edited
            report.unchanged += 1
        else:
            to_save.append((parsed.article, parsed.source))
    await store.files.touch(touched)
    for source, outcome in await _save(store, to_save):
        if isinstance(outcome, str):
            report.rejected.append(Rejection(source.path, outcome))
        elif outcome.status == "added":
            report.added += 1
        else:
            report.updated += 1
        if isinstance(outcome, SaveOutcome) and outcome.duplicate_of:
            report.duplicates.append(Duplicate(source.path, outcome.duplicate_of, outcome.url))


async def _save(
    store: Store, items: list[tuple[ArticleRows, SourceFile]]
) -> list[tuple[SourceFile, SaveOutcome | str]]:
    """Save ``items`` in one transaction; if the database refuses one, save the rest alone.

    Returns each file with what saving did, or the reason its article could not be stored.
    A database that cannot take writes at all (``StoreError``) stops the load instead.
    """
    try:
        outcomes = await store.articles.save(items)
    except StoreError:
        raise
    except Exception as exc:  # one article the database will not take: find it
        if len(items) == 1:
            return [(items[0][1], f"cannot be stored ({type(exc).__name__}: {exc})")]
        return [result for item in items for result in await _save(store, [item])]
    return [(source, outcome) for (_, source), outcome in zip(items, outcomes, strict=True)]
