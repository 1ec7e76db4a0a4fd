"""newsbot copy: a whole database into another, SQLite and PostgreSQL either way.

PostgreSQL's contents are read through the copy's own dump reader and plain asyncpg
queries, not through a store: the rows and counts of a copy are what is compared.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.cli import _CopyProgress, main
from bot.errors import StoreError
from bot.loader import load_articles
from bot.store import Store, open_store
from bot.store.copy import TABLES, copy_database, reading
from bot.store.postgres.dump import PostgresWriter
from bot.store.postgres.store import PostgresStore
from bot.store.sqlite.dump import SqliteWriter
from bot.store.target import SqliteTarget, parse_target
from bot.subscriptions import PLAIN, DeliveryStyle, OutboxMessage, SubscriptionOptions
from tests.factories import draft, save, write_article

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "articles"
T0 = datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)

# What each database derives from its base tables (kept counts; rows counting 0 may linger).
DERIVED = {
    "providers": "SELECT id, article_count FROM providers WHERE article_count <> 0 ORDER BY id",
    "topics": "SELECT id, name, article_count FROM topics ORDER BY id",
    "topic_spellings": "SELECT topic_id, spelling, uses FROM topic_spellings "
    "WHERE uses <> 0 ORDER BY topic_id, spelling",
    "quality_counts": "SELECT quality, article_count FROM quality_counts "
    "WHERE article_count <> 0 ORDER BY quality",
    "topic_quality_counts": "SELECT topic_id, quality, article_count FROM topic_quality_counts "
    "WHERE article_count <> 0 ORDER BY topic_id, quality",
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every command in an empty directory with no newsbot settings in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSBOT_DB", raising=False)


async def fill(store: Store, articles_dir: Path) -> None:
    """Put something in every table, through the store's public API."""
    write_article(articles_dir, "mixed-case.md", 101, topics=["ai", "Chips"], quality=None)
    write_article(articles_dir, "unknown-fields.md", 102, topics=["AI"], heat=7,
                  published=True, secured="opaque", someField={"nested": [1, 2.5, "ü"], "b": None},
                  related=[{"title": "Seen too", "webUrl": "https://r.example.com/1",
                            "excerpt": "e", "publishedDateTime": "2026-11-02T10:00:00Z",
                            "provider": {"name": "Other", "domain": "other.example"},
                            "quality": 40, "ampWebUrl": "https://r.example.com/1/amp"},
                           {"title": "Bare", "webUrl": "https://r.example.com/2"}])  # fmt: skip
    write_article(articles_dir, "moved.md", 103, topics=["Lonely Topic"])
    report = await load_articles(store, [SHIPPED, articles_dir], workers=1)
    assert report.ok
    # The only article of "Lonely Topic" changes topics: the topic stays, with no articles.
    write_article(articles_dir, "moved.md", 103, topics=["Space"], quality=88)
    await load_articles(store, [articles_dir], workers=1, reread=True)
    await save(store, draft(104, topics=["AI"], quality=95))  # from no file

    subs = store.subscriptions
    ai, _ = await subs.subscribe(guild_id=1, channel_id=10, topic="AI", min_quality=50, backfill=3)
    await subs.subscribe(guild_id=1, channel_id=11, topic="space", min_quality=0, mode="digest",
                         created_by=99, backfill=2)  # fmt: skip
    paused, _ = await subs.subscribe(guild_id=2, channel_id=20, topic="Chips", min_quality=10)
    await subs.pause(paused.id, "the bot lacks Embed Links")
    shaped = SubscriptionOptions(
        include='test OR "article number"', exclude="crypto", providers=("example.com",),
        exclude_providers=("other.example",), mention_role_id=77, same_story="post",
        max_per_day=3, style="compact", thread=True,
    )  # fmt: skip
    await subs.subscribe(guild_id=2, channel_id=21, topic="AI", min_quality=0, options=shaped)
    await save(store, draft(105, topics=["AI"], quality=90))  # a candidate for channels 10, 21
    await store.alerts.set_channel(2, 22, set_by=99)
    await store.alerts.record_failure(2, "Missing Access")
    ids = sorted(a.id for a in (await store.articles.latest(limit=100)).articles)
    ledger = store.ledger
    for number, (channel, articles) in enumerate([(10, ids[:2]), (10, ids[2:3]), (11, ids[3:6])]):
        style = DeliveryStyle(mention_role_id=5, compact=True) if number == 2 else PLAIN
        await ledger.add_outbox(
            OutboxMessage(f"n{number}", 1, channel, tuple(articles), T0, style=style)
        )
    await ledger.record_delivery("n0", 555, T0 + timedelta(seconds=1))
    await ledger.record_refusal("n1", "Invalid Form Body", T0 + timedelta(seconds=2))
    await ledger.count_outbox_attempt("n2")
    await store.state.set("command_hash", "abc123")
    await store.state.set("ünïcode", "välue")
    assert ai.id and await ledger.outbox()


@pytest.fixture
async def source(tmp_path: Path, articles_dir: Path) -> AsyncIterator[Path]:
    """A SQLite database with rows in every table."""
    path = tmp_path / "source.db"
    async with await open_store(path) as store:
        await fill(store, articles_dir)
    yield path


async def dump(where: str | Path) -> dict[str, list[tuple[Any, ...]]]:
    """Return every base table's rows, as the copy's reader sees them."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with reading(parse_target(where)) as reader:
        for table in TABLES:
            found[table.name] = [row async for chunk in reader.rows(table) for row in chunk]
    return found


def sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(path)
    try:
        return [tuple(row) for row in connection.execute(sql)]
    finally:
        connection.close()


def sqlite_derived(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {name: sqlite_rows(path, sql) for name, sql in DERIVED.items()}


async def postgres_derived(url: str) -> dict[str, list[tuple[Any, ...]]]:
    connection = await asyncpg.connect(url)
    try:
        return {
            name: [tuple(r) for r in await connection.fetch(sql)] for name, sql in DERIVED.items()
        }
    finally:
        await connection.close()


async def searches(path: str | Path) -> dict[str, list[int]]:
    async with await open_store(path) as store:
        return {
            text: [a.id for a in (await store.articles.search(text, limit=50)).articles]
            for text in ("satellites", "climate change", "Chips", "water use")
        }


def copy(source: str | Path, target: str | Path, *more: str) -> int:
    return main(["--db", str(source), "copy", str(target), *more])


async def test_sqlite_to_postgresql_to_sqlite_keeps_every_row(
    source: Path, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    back = tmp_path / "back.db"
    assert await asyncio.to_thread(copy, source, postgres_url) == 0
    assert await asyncio.to_thread(copy, postgres_url, back) == 0
    original = await dump(source)
    assert all(original[table.name] for table in TABLES)  # every table was filled
    assert await dump(postgres_url) == original
    assert await dump(back) == original
    # What the target derived itself: counts, spellings, names and the full-text index.
    assert await postgres_derived(postgres_url) == sqlite_derived(source)
    assert sqlite_derived(back) == sqlite_derived(source)
    assert ("Lonely Topic", 0) in [row[1:] for row in sqlite_derived(back)["topics"]]
    assert await searches(back) == await searches(source)
    assert (await searches(source))["satellites"]
    found = {text: sorted(ids) for text, ids in (await searches(source)).items()}
    assert {text: sorted(ids) for text, ids in (await searches(postgres_url)).items()} == found
    # Times, flags and outbox ids come back as the store wrote them, not only as equal
    # values. JSON documents are compared as values (above): jsonb orders an object's keys.
    for table in TABLES:
        plain = ", ".join(c.name for c in table.columns if c.kind != "json")
        query = f"SELECT {plain} FROM {table.name} ORDER BY {', '.join(table.key)}"
        assert sqlite_rows(back, query) == sqlite_rows(source, query), table.name
    # Each target compiled the copied filter queries its own way, and they match the same.
    matched = "SELECT id, include_match IS NOT NULL, exclude_match IS NOT NULL FROM subscriptions"
    assert sqlite_rows(back, matched) == sqlite_rows(source, matched)
    compiled = "SELECT count(*) FROM subscriptions WHERE include_match IS NOT NULL"
    async with await open_store(source) as before, await open_store(postgres_url) as after:
        assert isinstance(after, PostgresStore)
        assert await after.database.scalar(compiled) == sqlite_rows(source, compiled)[0][0] == 1
        # The copy left the planner statistics of what it wrote (ANALYZE), so the first
        # lookups are not planned blind, and the count tables it rewrote compacted.
        analyzed = "SELECT reltuples FROM pg_class WHERE relname = 'articles'"
        assert await after.database.scalar(analyzed) == len(original["articles"])
        # (VACUUM FULL writes a table anew: it no longer lives in the file it was made in.)
        rewritten = (
            "SELECT count(*) FROM pg_class WHERE relfilenode <> oid AND relname IN "
            "('topics', 'topic_spellings', 'topic_quality_counts', 'providers', 'quality_counts')"
        )
        assert await after.database.scalar(rewritten) == 5
        for article in (await before.articles.latest(limit=100)).articles:
            assert await after.ledger.verdicts(article.id, 2) == await before.ledger.verdicts(
                article.id, 2
            )


async def test_rows_inserted_a_few_per_statement_keep_every_row_and_count(
    source: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Statements end mid-table and at each table's end; the triggers count per statement.
    monkeypatch.setattr("bot.store.postgres.dump.WRITE_ROWS", 2)
    assert await asyncio.to_thread(copy, source, postgres_url) == 0
    assert await dump(postgres_url) == await dump(source)
    assert await postgres_derived(postgres_url) == sqlite_derived(source)


async def test_the_target_hands_out_ids_after_the_copied_ones(
    source: Path, empty_postgres_url: str
) -> None:
    assert await asyncio.to_thread(copy, source, empty_postgres_url) == 0  # migrates it first
    connection = await asyncpg.connect(empty_postgres_url)
    try:
        for table in ("providers", "articles", "topics", "subscriptions"):
            highest = await connection.fetchval(f"SELECT max(id) FROM {table}")
            handed = await connection.fetchval(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))"
            )
            assert handed == highest + 1, table
    finally:
        await connection.close()


async def test_a_sqlite_copy_is_the_same_database_byte_for_byte_in_every_base_row(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup.db"
    assert await asyncio.to_thread(copy, source, backup, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert [p.name for p in tmp_path.glob("backup.db*")] == ["backup.db"]  # one whole file
    original = await dump(source)
    assert report["source"] == str(source) and report["target"] == str(backup)
    assert report["tables"] == {name: len(rows) for name, rows in original.items()}
    assert report["seconds"] >= 0
    for table in TABLES:
        query = f"SELECT * FROM {table.name} ORDER BY {', '.join(table.key)}"
        assert sqlite_rows(backup, query) == sqlite_rows(source, query), table.name
    assert sqlite_derived(backup) == sqlite_derived(source)
    # A bot on the copy finds the same work: due articles, the outbox, paused subscriptions.
    async with await open_store(source) as before, await open_store(backup) as after:
        for channel in (10, 11, 20):
            assert await after.ledger.due_articles(channel) == await before.ledger.due_articles(
                channel
            )
        assert await after.ledger.outbox() == await before.ledger.outbox()
        assert await after.subscriptions.all() == await before.subscriptions.all()
        assert await after.articles.topics() == await before.articles.topics()
        sub, new = await after.subscriptions.subscribe(
            guild_id=3, channel_id=30, topic="AI", min_quality=0
        )
        assert new and sub.id == max(s.id for s in await before.subscriptions.all()) + 1


async def test_a_copy_of_a_database_being_written_reads_one_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = tmp_path / "live.db", tmp_path / "backup.db"
    monkeypatch.setattr("bot.store.sqlite.dump.CHUNK", 2)  # many reads, with writes between
    async with await open_store(source) as store:
        await save(store, *(draft(n, topics=["Space", "AI"]) for n in range(1, 41)))
        before = await store.articles.count()
        copying = asyncio.Event()
        written = 0

        def progress(table: str, rows: int) -> None:
            if table == "articles":
                copying.set()

        async def keep_writing() -> None:
            nonlocal written
            await copying.wait()
            for number in range(1000, 1100):
                await save(store, draft(number, topics=["Space", "AI"]))
                written += 1

        writer = asyncio.create_task(keep_writing())
        await copy_database(SqliteTarget(source), SqliteTarget(target), progress)
        written_during_copy = written
        await writer
    assert written_during_copy > 0  # the source changed while the copy read it
    # The copy holds the database as it was when it started, each table from that moment.
    assert sqlite_rows(target, "SELECT count(*) FROM articles") == [(before,)]
    assert sqlite_rows(target, "SELECT count(*) FROM article_topics") == [(2 * before,)]
    assert sqlite_derived(target)["topics"] == [(1, "Space", before), (2, "AI", before)]


async def test_a_copy_of_a_postgresql_database_being_written_reads_one_snapshot(
    source: Path, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await asyncio.to_thread(copy, source, postgres_url) == 0
    monkeypatch.setattr("bot.store.postgres.dump.CHUNK", 2)
    connection = await asyncpg.connect(postgres_url)
    try:
        before = await dump(postgres_url)
        copying = asyncio.Event()
        written = 0

        def progress(table: str, rows: int) -> None:
            if table == "articles":
                copying.set()

        async def keep_writing() -> None:
            nonlocal written
            await copying.wait()
            for number in range(100):  # each in a transaction of its own
                await connection.execute(
                    "INSERT INTO state (key, value) VALUES ($1, 'during the copy')", f"k{number}"
                )
                await connection.execute("UPDATE subscriptions SET min_quality = 1")
                written += 1

        writer = asyncio.create_task(keep_writing())
        target = tmp_path / "from-postgres.db"
        await copy_database(parse_target(postgres_url), SqliteTarget(target), progress)
        written_during_copy = written
        await writer
    finally:
        await connection.close()
    assert written_during_copy > 0
    assert await dump(target) == before


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_target_holding_newsbot_data_is_refused_and_left_as_it_was(
    source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "used.db"
    async with await open_store(target) as store:
        await store.state.set("command_hash", "old")
    before = digest(target)
    assert await asyncio.to_thread(copy, source, target) == 2
    err = capsys.readouterr().err
    assert err == (
        f"newsbot: cannot copy into {target}: it already holds newsbot data (state); "
        "copy into a new file or an empty database\n"
    )
    assert digest(target) == before
    (tmp_path / "notes.txt").write_text("not sqlite" * 200)
    assert await asyncio.to_thread(copy, source, tmp_path / "notes.txt") == 2
    assert "not a newsbot database" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "not sqlite" * 200
    assert await asyncio.to_thread(copy, tmp_path / "missing.db", tmp_path / "new.db") == 2
    assert "there is no database file there" in capsys.readouterr().err
    assert not (tmp_path / "missing.db").exists() and not (tmp_path / "new.db").exists()


async def test_an_empty_newsbot_database_can_be_copied_into(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "empty.db"
    await (await open_store(target)).close()
    assert await asyncio.to_thread(copy, source, target) == 0
    assert await dump(target) == await dump(source)


async def test_a_postgresql_target_with_data_is_refused_unchanged_and_without_password(
    source: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute("INSERT INTO state (key, value) VALUES ('k', 'v')")
        assert await asyncio.to_thread(copy, source, postgres_url) == 2
        err = capsys.readouterr().err
        assert "it already holds newsbot data (state)" in err and err.count("\n") == 1
        assert await connection.fetchval("SELECT count(*) FROM articles") == 0
        assert [tuple(r) for r in await connection.fetch("SELECT * FROM state")] == [("k", "v")]
    finally:
        await connection.close()
    unreachable = "postgresql://bot:s3cret-pw@127.0.0.1:1/news"
    assert await asyncio.to_thread(copy, source, unreachable) == 2
    err = capsys.readouterr().err
    assert "s3cret" not in err and "Traceback" not in err and err.count("\n") == 1


async def test_a_failed_copy_leaves_no_target(
    source: Path, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(real: Any) -> Any:
        async def write(self: Any, table: Any, rows: Any) -> None:
            if table.name == "deliveries":
                raise StoreError("disk full")
            await real(self, table, rows)

        return write

    monkeypatch.setattr(SqliteWriter, "write", failing(SqliteWriter.write))
    monkeypatch.setattr(PostgresWriter, "write", failing(PostgresWriter.write))
    target = tmp_path / "target.db"
    assert await asyncio.to_thread(copy, source, target) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles", "source.db"]
    assert await asyncio.to_thread(copy, source, postgres_url) == 2
    monkeypatch.undo()
    assert await asyncio.to_thread(copy, source, postgres_url) == 0  # nothing was left in it
    assert await dump(postgres_url) == await dump(source)


async def test_a_copy_whose_row_counts_differ_from_the_source_is_not_kept(
    source: Path,
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def losing_a_row(real: Any) -> Any:
        async def write(self: Any, table: Any, rows: Any) -> None:
            await real(self, table, rows[1:] if table.name == "related" else rows)

        return write

    monkeypatch.setattr(SqliteWriter, "write", losing_a_row(SqliteWriter.write))
    monkeypatch.setattr(PostgresWriter, "write", losing_a_row(PostgresWriter.write))
    related = len((await dump(source))["related"])
    for target in (tmp_path / "target.db", postgres_url):
        assert await asyncio.to_thread(copy, source, target) == 2
        assert capsys.readouterr().err.endswith(
            f"did not verify, so nothing was kept: related has {related - 1} rows instead of "
            f"{related}\n"
        )
    assert not list(tmp_path.glob("target.db*"))
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM articles") == 0
    finally:
        await connection.close()


KILLED_COPY = """
import asyncio, os, signal, sys
from bot.store.copy import copy_database
from bot.store.target import parse_target

def progress(table, rows):
    if table == "subscriptions":  # half-way
        os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(copy_database(parse_target(sys.argv[1]), parse_target(sys.argv[2]), progress))
"""


def kill_a_copy(source: Path, target: str | Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_COPY), str(source), str(target)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == -9, result.stderr


async def test_a_killed_copy_leaves_nothing_that_looks_complete(
    source: Path, postgres_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "target.db"
    await asyncio.to_thread(kill_a_copy, source, target)
    assert not target.exists()  # only target.db.partial, which no one takes for a database
    assert await asyncio.to_thread(copy, source, target) == 0  # and a new copy replaces it
    assert not list(tmp_path.glob("*.partial*"))
    assert await dump(target) == await dump(source)

    await asyncio.to_thread(kill_a_copy, source, postgres_url)
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await connection.fetchval("SELECT count(*) FROM articles") == 0
    finally:
        await connection.close()
    assert await asyncio.to_thread(copy, source, postgres_url) == 0


def test_terminal_progress_shows_each_table_with_its_rows() -> None:
    stream = io.StringIO()
    progress = _CopyProgress(stream)
    for table, rows in (("providers", 3), ("articles", 1000), ("articles", 1500), ("state", 0)):
        progress(table, rows)
    progress.finish()
    lines = [line.split("\r")[-1].replace("\033[K", "") for line in stream.getvalue().split("\n")]
    assert lines == [
        "copying providers: 3 rows",
        "copying articles: 1,500 rows",
        "copying state: 0 rows",
        "",
    ]


def test_copy_is_listed_in_the_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "copy", "--help"], capture_output=True, text=True,
        timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0 and "--json" in result.stdout
