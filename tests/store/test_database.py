"""Opening a database: creation, migrations, refusals, two processes on one file, and a
PostgreSQL URL. The SQLite file's own tests open files themselves; PostgreSQL's own are in
tests/store/postgres/."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store import Store, open_store
from bot.store.postgres.schema import SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION
from bot.store.postgres.store import PostgresStore
from bot.store.sqlite.database import MIGRATIONS, SCHEMA_VERSION
from tests.backends import sqlite_only
from tests.factories import draft, save


async def test_a_new_database_is_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    async with await open_store(tmp_path / "sub" / "new.db") as store:
        assert await store.schema_version() == SCHEMA_VERSION
    connection = sqlite3.connect(tmp_path / "sub" / "new.db")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()


async def test_an_empty_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    async with await open_store(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        await save(store, draft(1))
        assert await store.articles.count() == 1


@pytest.mark.parametrize("version", range(SCHEMA_VERSION))
async def test_every_earlier_version_is_migrated_and_keeps_its_data(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    for number, _, sql in MIGRATIONS[:version]:
        connection.executescript(sql)
        connection.execute(f"PRAGMA user_version = {number}")
    connection.execute("CREATE TABLE IF NOT EXISTS keepsake (note TEXT)")
    connection.execute("INSERT INTO keepsake VALUES ('still here')")
    connection.commit()
    connection.close()
    async with await open_store(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        await save(store, draft(1))
        assert (await store.articles.by_topic("ai")).total == 1
    assert sqlite3.connect(path).execute("SELECT note FROM keepsake").fetchone() == ("still here",)


async def test_a_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(
        StoreError, match=r"schema version \d+, newer than this newsbot understands"
    ):
        await open_store(path)


@pytest.mark.parametrize(
    "content", [b"this is not a database at all" * 100, b"SQLite format 3\x00garbage"]
)
async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="cannot use database"):
        await open_store(path)
    assert path.read_bytes() == content  # never overwritten


async def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        await open_store(tmp_path)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "POSTGRESQL"])
async def test_a_postgresql_url_opens_a_postgresql_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str, scheme: str
) -> None:
    monkeypatch.chdir(tmp_path)
    url = scheme + postgres_url.removeprefix("postgresql")
    async with await open_store(url) as store:
        assert isinstance(store, PostgresStore)
        assert await store.schema_version() == POSTGRES_SCHEMA_VERSION
        await save(store, draft(1))
    async with await open_store(url) as store:  # what it stored is there when opened again
        assert await store.articles.count() == 1
    assert list(tmp_path.iterdir()) == []  # no SQLite file made of the URL


async def test_two_processes_saving_the_same_articles_at_once_never_fail_or_duplicate(
    tmp_path: Path,
) -> None:
    # Two stores on one file stand for the bot's rescan and a `newsbot load` at the same time.
    path = tmp_path / "newsbot.db"
    async with await open_store(path) as first, await open_store(path) as second:
        batch = [(draft(n, topics=["AI", "Space"]), None) for n in range(1, 4)]
        outcomes = await asyncio.gather(first.articles.save(batch), second.articles.save(batch))
        assert sorted(o.status for run in outcomes for o in run) == ["added"] * 3 + ["updated"] * 3
        assert await first.articles.count() == 3
        assert {t.name: t.count for t in await second.articles.topics()} == {"AI": 3, "Space": 3}


@sqlite_only()  # SQLite's write lock and reader connection; PostgreSQL reads never wait
async def test_reads_do_not_wait_behind_a_write_held_up_by_another_process(
    store: Store,
) -> None:
    await save(store, draft(1))
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    other.execute("INSERT INTO state (key, value) VALUES ('x', 'y')")
    writing = asyncio.create_task(save(store, draft(2)))  # waits for the lock (busy timeout)
    await asyncio.sleep(0.2)
    assert not writing.done()
    topics = await asyncio.wait_for(store.articles.topics(), 2)  # a command's read answers
    assert {t.name for t in topics} == {"AI", "Space"}
    other.execute("ROLLBACK")
    await writing
    assert await store.articles.count() == 2
    other.close()
