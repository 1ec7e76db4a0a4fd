"""Loading directories of article files: incremental, tolerant of bad files, crash-safe."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from bot.articles import ArticleDraft
from bot.errors import LoadError, StoreError, UsageError
from bot.loader import load_articles, parse_file
from bot.store import Store, open_store
from bot.store.rows import ARTICLE_COLUMNS, ArticleRows
from tests.backends import backend_of, sqlite_only
from tests.factories import article_text, write_article

ROOT = Path(__file__).resolve().parents[1]


async def test_a_directory_is_loaded_recursively_skipping_hidden_and_other_files(
    store: Store, articles_dir: Path
) -> None:
    write_article(articles_dir, "a.md", 1)
    write_article(articles_dir, "nested/deeper/b.markdown", 2)
    write_article(articles_dir, "c.TXT", 3)
    write_article(articles_dir, ".hidden.md", 4)
    write_article(articles_dir, ".git/d.md", 5)
    (articles_dir / "notes.json").write_text("{}")
    (articles_dir / "image.png").write_bytes(b"\x89PNG")
    report = await load_articles(store, [articles_dir])
    assert (report.added, report.skipped, report.rejected) == (3, 2, [])
    assert await store.articles.count() == 3


async def test_linked_directories_are_followed_once_and_a_link_loop_ends(
    store: Store, articles_dir: Path
) -> None:
    write_article(articles_dir, "world/a.md", 1)
    write_article(articles_dir, "tech/b.md", 2)
    (articles_dir / "world" / "up").symlink_to("..")  # a loop back to the top
    (articles_dir / "also-tech").symlink_to("tech")  # a second way into one folder
    (articles_dir / "gone").symlink_to("nowhere")  # a dangling link
    report = await load_articles(store, [articles_dir])
    assert (report.added, report.files, report.duplicates, report.rejected) == (2, 2, [], [])


async def test_a_file_named_directly_is_always_read(store: Store, articles_dir: Path) -> None:
    odd = articles_dir / "article.yaml"
    odd.write_text(article_text(1))
    hidden = write_article(articles_dir, ".draft.md", 2)
    report = await load_articles(store, [odd, hidden])
    assert report.added == 2


async def test_a_missing_path_is_a_usage_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file or directory"):
        await load_articles(store, [tmp_path / "nope"])


async def test_bad_files_are_reported_and_every_good_file_is_stored(
    store: Store, articles_dir: Path
) -> None:
    for n in range(1, 6):
        write_article(articles_dir, f"good{n}.md", n)
    (articles_dir / "empty.md").write_text("")
    (articles_dir / "no-front.md").write_text("# Just markdown\n")
    (articles_dir / "bad-yaml.md").write_text("---\ntitle: [oops\n---\n")
    (articles_dir / "bad-quality.md").write_text(article_text(9, quality=250))
    (articles_dir / "binary.txt").write_bytes(os.urandom(2000) + b"\x00")
    (articles_dir / "latin1.md").write_bytes("---\ntitle: café\n---\n".encode("latin-1"))
    (articles_dir / "huge.md").write_bytes(b"---\ntitle: x\n---\n" + b"y" * (10 * 1024 * 1024))
    report = await load_articles(store, [articles_dir])
    assert report.added == 5
    reasons = {Path(r.path).name: r.reason for r in report.rejected}
    assert set(reasons) == {"empty.md", "no-front.md", "bad-yaml.md", "bad-quality.md",
                            "binary.txt", "latin1.md", "huge.md"}  # fmt: skip
    assert reasons["bad-yaml.md"].startswith("invalid YAML at line 3, column 1:")
    assert "field 'quality'" in reasons["bad-quality.md"]
    assert "over the 1,048,576-byte limit" in reasons["huge.md"]
    assert not report.ok
    assert await store.articles.count() == 5


async def test_a_rerun_skips_unchanged_files_updates_edited_ones_and_adds_new_ones(
    store: Store, articles_dir: Path
) -> None:
    paths = [write_article(articles_dir, f"{n}.md", n) for n in range(1, 5)]
    first = await load_articles(store, [articles_dir])
    assert (first.added, first.updated, first.unchanged) == (4, 0, 0)

    again = await load_articles(store, [articles_dir])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)

    paths[0].write_text(article_text(1, title="Edited headline"))
    os.utime(paths[1], ns=(time.time_ns(), time.time_ns() + 10**9))  # touched, not edited
    write_article(articles_dir, "5.md", 5)
    third = await load_articles(store, [articles_dir])
    assert (third.added, third.updated, third.unchanged) == (1, 1, 3)
    article = await store.articles.by_url("https://news.example.com/2026/article-1")
    assert article is not None and article.title == "Edited headline"
    assert await store.articles.count() == 5

    fourth = await load_articles(store, [articles_dir])
    assert (fourth.added, fourth.updated, fourth.unchanged) == (0, 0, 5)


async def test_a_file_that_turns_bad_keeps_its_stored_article(
    store: Store, articles_dir: Path
) -> None:
    path = write_article(articles_dir, "a.md", 1)
    await load_articles(store, [articles_dir])
    path.write_text("---\ntitle: [broken\n---\n")
    report = await load_articles(store, [articles_dir])
    assert [Path(r.path).name for r in report.rejected] == ["a.md"]
    assert await store.articles.count() == 1


async def test_two_files_with_one_url_are_one_article_and_the_report_says_so(
    store: Store, articles_dir: Path
) -> None:
    write_article(articles_dir, "a.md", 1, title="First copy")
    write_article(articles_dir, "b.md", 1, title="Second copy",
                  originalUrl="https://NEWS.example.com/2026/article-1/?utm_source=x")  # fmt: skip
    report = await load_articles(store, [articles_dir])
    assert report.ok
    assert [(Path(d.path).name, Path(d.same_as).name) for d in report.duplicates] == [
        ("b.md", "a.md")
    ]
    assert await store.articles.count() == 1
    article = await store.articles.by_url("https://news.example.com/2026/article-1")
    assert article is not None and article.title == "Second copy"  # the last in path order wins


async def test_a_large_load_uses_the_process_pool_and_stores_everything(
    store: Store, articles_dir: Path
) -> None:
    for n in range(1, 451):
        write_article(articles_dir, f"{n // 100}/{n}.md", n, topics=[f"Topic {n % 7}"])
    (articles_dir / "0" / "bad.md").write_text("---\n[1, 2]\n---\n")
    seen: list[tuple[int, int]] = []
    report = await load_articles(
        store, [articles_dir], workers=2, progress=lambda d, t: seen.append((d, t))
    )
    assert (report.added, len(report.rejected)) == (450, 1)
    assert seen[-1] == (451, 451)
    assert sum(t.count for t in await store.articles.topics()) == 450


CRASH_SCRIPT = """
import asyncio, sys
from pathlib import Path
from bot.loader import load_articles, parse_file
from bot.store import Store, open_store

async def main():
    store = await open_store(sys.argv[1])
    await load_articles(store, [Path(sys.argv[2])], workers=int(sys.argv[3]))

asyncio.run(main())
"""


def _count(db: Path, sql: str) -> int:
    connection = sqlite3.connect(db, timeout=10)
    try:
        return int(connection.execute(sql).fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        connection.close()


async def test_a_load_killed_midway_is_finished_by_the_next_run_without_duplicates(
    tmp_path: Path, articles_dir: Path
) -> None:
    total = 4000
    for n in range(total):
        write_article(articles_dir, f"{n // 500}/{n}.md", n, topics=["AI", f"T{n % 5}"],
                      related=[{"title": f"R{n}", "webUrl": f"https://r.example.com/{n}"}])  # fmt: skip
    db = tmp_path / "crash.db"
    process = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(db), str(articles_dir), "1"], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 60
        while _count(db, "SELECT count(*) FROM articles") < 1000:
            assert process.poll() is None, "the load finished before it could be killed"
            assert time.monotonic() < deadline, "the load made no progress"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    stored = _count(db, "SELECT count(*) FROM articles")
    assert 1000 <= stored < total, "the kill must land in the middle of the load"
    assert stored == _count(db, "SELECT count(*) FROM source_files")  # committed together

    async with await open_store(db) as store:
        report = await load_articles(store, [articles_dir])
        assert report.ok
        assert report.added == total - stored
        assert report.unchanged == stored
        assert await store.articles.count() == total
        assert {t.name: t.count for t in await store.articles.topics()}["AI"] == total
        assert (await store.articles.search("Test article number 3999")).articles[
            0
        ].title == "Test article number 3999"
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.execute("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
    assert connection.execute("SELECT count(*) FROM related").fetchone() == (total,)
    assert connection.execute(
        "SELECT count(*) FROM topics t WHERE article_count != "
        "(SELECT count(*) FROM article_topics WHERE topic_id = t.id)"
    ).fetchone() == (0,)
    connection.close()


@sqlite_only()  # SQLite's page limit stands for a full disk; PostgreSQL has no such knob
async def test_a_full_disk_stops_the_load_with_a_clear_error_and_a_rerun_finishes(
    store: Store, articles_dir: Path
) -> None:
    for n in range(1500):
        write_article(articles_dir, f"{n // 100}/{n}.md", n)
    # SQLite's page cap stands in for a full disk: the same SQLITE_FULL error.
    pages = (await store.database._db.execute_fetchall("PRAGMA page_count"))[0][0]
    await store.database._db.execute(f"PRAGMA max_page_count = {pages + 300}")
    with pytest.raises(StoreError, match=r"cannot write to .*: database or disk is full"):
        await load_articles(store, [articles_dir])
    stored = await store.articles.count()
    assert stored % 500 == 0 and stored < 1500  # whole batches only
    await store.database._db.execute("PRAGMA max_page_count = 1000000000")
    report = await load_articles(store, [articles_dir])
    assert (report.added, report.unchanged, report.rejected) == (1500 - stored, stored, [])
    assert await store.articles.count() == 1500
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('integrity-check')")
    db.close()


async def test_a_file_that_breaks_the_parser_in_an_unforeseen_way_is_only_rejected(
    store: Store, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.loader

    real = bot.loader.parse_article

    def fragile(data: bytes, **options: int) -> object:
        if b"number 2" in data:
            raise ValueError("a case nobody thought of")
        return real(data, **options)

    monkeypatch.setattr(bot.loader, "parse_article", fragile)
    for n in (1, 2, 3):
        write_article(articles_dir, f"{n}.md", n)
    report = await load_articles(store, [articles_dir])
    assert report.added == 2
    assert [r.reason for r in report.rejected] == [
        "cannot be parsed (ValueError: a case nobody thought of)"
    ]


async def test_an_article_the_database_will_not_take_is_rejected_and_the_rest_stored(
    store: Store, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.loader

    real = bot.loader.article_rows

    def overflowing(draft: ArticleDraft) -> ArticleRows:
        rows = real(draft)
        if draft.title.endswith("number 2"):  # a value SQLite cannot hold slipped through
            article = list(rows.article)
            article[ARTICLE_COLUMNS.index("heat")] = 2**70
            rows = rows._replace(article=tuple(article))
        return rows

    monkeypatch.setattr(bot.loader, "article_rows", overflowing)
    for n in (1, 2, 3):
        write_article(articles_dir, f"{n}.md", n)
    report = await load_articles(store, [articles_dir])
    assert report.added == 2 and await store.articles.count() == 2
    why = {  # each driver's own words for a number its database cannot hold
        "sqlite": "OverflowError: Python int too large to convert to SQLite INTEGER",
        "postgres": "DataError: invalid input for query argument $10: [1180591620717411303424] "
        "(value out of int64 range)",
    }[backend_of(store)]
    assert [(Path(r.path).name, r.reason) for r in report.rejected] == [
        ("2.md", f"cannot be stored ({why})")
    ]


async def test_odd_names_and_unreadable_folders_are_reported_not_fatal(
    store: Store, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_article(articles_dir, "good.md", 1)
    with open(os.path.join(os.fsencode(articles_dir), b"bad\xff.md"), "w") as odd:
        odd.write(article_text(2))  # a name that is not UTF-8
    write_article(articles_dir, "locked/c.md", 3)
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if path.endswith("locked"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr("bot.loader.os.scandir", scandir)
    report = await load_articles(store, [articles_dir, articles_dir / ".." / articles_dir.name])
    assert report.added == 1 and report.duplicates == []  # the same folder twice is once
    assert sorted((Path(r.path).name, r.reason) for r in report.rejected) == [
        ("bad\\xff.md", "the file name is not UTF-8: rename it"),
        ("locked", "cannot read directory: Permission denied"),
    ]


def test_a_fifo_where_a_file_was_found_is_rejected_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "swapped.md"
    os.mkfifo(fifo)  # opened for reading the usual way, this blocks until a writer comes
    parsed = parse_file(str(fifo))
    assert parsed.article is None and parsed.error == "not a regular file"


async def test_a_dead_parsing_process_stops_the_load_with_a_clear_error(
    store: Store, articles_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class DeadPool(ThreadPoolExecutor):
        def submit(self, *args: object, **kwargs: object) -> Future[object]:
            dead: Future[object] = Future()
            dead.set_exception(BrokenProcessPool("A child process terminated abruptly"))
            return dead

    monkeypatch.setattr("bot.loader._executor", lambda workers, files: DeadPool())
    write_article(articles_dir, "a.md", 1)
    with pytest.raises(LoadError, match=r"a parsing process died .* load again to finish"):
        await load_articles(store, [articles_dir], workers=2)


def test_parsing_processes_end_with_a_load_killed_outright(
    tmp_path: Path, articles_dir: Path
) -> None:
    for n in range(3000):
        write_article(articles_dir, f"{n // 500}/{n}.md", n)
    load = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, str(tmp_path / "k.db"), str(articles_dir), "2"],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while len(workers := _children(load.pid)) < 2:
            assert load.poll() is None and time.monotonic() < deadline, "no pool started"
            time.sleep(0.05)
        load.send_signal(signal.SIGKILL)
    finally:
        load.wait()
    deadline = time.monotonic() + 30
    while alive := [pid for pid in workers if Path(f"/proc/{pid}").exists()]:
        assert time.monotonic() < deadline, f"orphaned parsing processes: {alive}"
        time.sleep(0.1)


def _children(pid: int) -> list[int]:
    """Return the pids of the processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
