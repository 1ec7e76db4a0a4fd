"""The PostgreSQL store's own promises: ranking, concurrent saves, and loads that die midway.

Everything else it promises is the store's contract, which tests/store/ checks on both
backends through the ``store`` fixture.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.loader import load_articles
from bot.store import SourceFile, open_store
from bot.store.postgres.store import PostgresStore
from tests.factories import draft, save, write_article
from tests.store.postgres.test_schema import _assert_counts_match_the_rows
from tests.test_loader import CRASH_SCRIPT, ROOT


async def _count(url: str, sql: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


async def test_a_word_only_one_title_holds_finds_that_article_first(postgres_url: str) -> None:
    async with await open_store(postgres_url) as store:
        await save(
            store,
            *[
                draft(n, title=f"Budget talks day {n}", excerpt="Telescope " * n + "news.")
                for n in range(1, 6)
            ],
            draft(9, title="Telescope spots a comet", excerpt="Seen from the mountains."),
        )
        page = await store.articles.search("telescope")
        assert page.total == 6
        assert page.articles[0].title == "Telescope spots a comet"
        # Among excerpts, more of the word ranks higher (then the newest first).
        assert [a.title for a in page.articles[1:]] == [
            f"Budget talks day {n}" for n in range(5, 0, -1)
        ]


async def test_two_stores_saving_the_same_articles_at_once_never_fail_or_duplicate(
    postgres_url: str,
) -> None:
    # Two stores on one database stand for the bot's rescan and a `newsbot load` at once.
    async with await open_store(postgres_url) as first, await open_store(postgres_url) as second:
        batch = [(draft(n, topics=["AI", "Space"]), None) for n in range(1, 4)]
        outcomes = await asyncio.gather(first.articles.save(batch), second.articles.save(batch))
        assert sorted(o.status for run in outcomes for o in run) == ["added"] * 3 + ["updated"] * 3
        assert await first.articles.count() == 3
        assert {t.name: t.count for t in await second.articles.topics()} == {"AI": 3, "Space": 3}
    assert await _count(postgres_url, "SELECT count(*) FROM articles") == 3


async def test_a_save_that_fails_midway_stores_neither_articles_nor_files(
    postgres_url: str,
) -> None:
    async with await open_store(postgres_url) as store:
        await store.articles.save([(draft(1), SourceFile("/a.md", 1, 1, "a"))])
        broken = replace(draft(3), quality=500)  # the last statement's row breaks a CHECK
        with pytest.raises(asyncpg.CheckViolationError):
            await store.articles.save(
                [
                    (draft(2), SourceFile("/b.md", 1, 1, "b")),
                    (broken, SourceFile("/c.md", 1, 1, "c")),
                ]
            )
        assert await store.articles.count() == 1
        assert set(await store.files.known()) == {"/a.md"}
        assert {t.name: t.count for t in await store.articles.topics()} == {"AI": 1, "Space": 1}


async def test_a_load_killed_midway_is_finished_by_the_next_run_without_duplicates(
    postgres_url: str, articles_dir: Path
) -> None:
    total = 3000
    for n in range(total):
        write_article(articles_dir, f"{n // 500}/{n}.md", n, topics=["AI", f"T{n % 5}"],
                      related=[{"title": f"R{n}", "webUrl": f"https://r.example.com/{n}"}])  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-c", CRASH_SCRIPT, postgres_url, str(articles_dir), "1"], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 60
        while await _count(postgres_url, "SELECT count(*) FROM articles") < 500:
            assert process.poll() is None, "the load finished before it could be killed"
            assert time.monotonic() < deadline, "the load made no progress"
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    stored = await _count(postgres_url, "SELECT count(*) FROM articles")
    assert 500 <= stored < total, "the kill must land in the middle of the load"
    files = await _count(postgres_url, "SELECT count(*) FROM source_files")
    assert stored == files  # committed together

    async with await open_store(postgres_url) as store:
        report = await load_articles(store, [articles_dir])
        assert report.ok
        assert report.added == total - stored
        assert report.unchanged == stored
        assert await store.articles.count() == total
        assert {t.name: t.count for t in await store.articles.topics()}["AI"] == total
        found = await store.articles.search("Test article number 2999")
        assert found.articles[0].title == "Test article number 2999"
    assert await _count(postgres_url, "SELECT count(*) FROM related") == total
    connection = await asyncpg.connect(postgres_url)
    try:
        await _assert_counts_match_the_rows(connection)
    finally:
        await connection.close()


_SPELLINGS = st.sampled_from(["AI", "ai", "Ai", "Space", "space", "Climate"])
_ARTICLES = st.tuples(
    st.integers(1, 6), st.lists(_SPELLINGS, max_size=3), st.none() | st.integers(0, 100)
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(_ARTICLES, max_size=6), min_size=1, max_size=4))
async def test_kept_counts_and_names_match_the_rows_after_any_saves(
    postgres_url: str, batches: list[list[tuple[int, list[str], int | None]]]
) -> None:
    async with await open_store(postgres_url) as store:
        assert isinstance(store, PostgresStore)
        connection = await asyncpg.connect(postgres_url)
        try:
            await connection.execute(  # each example starts from nothing
                "TRUNCATE articles, providers, topics, topic_spellings, article_topics, related, "
                "source_files, quality_counts, topic_quality_counts CASCADE"
            )
            for batch in batches:  # updates, one article twice in a batch, spellings shifting
                await save(store, *[draft(n, topics=t, quality=q) for n, t, q in batch])
            await _assert_counts_match_the_rows(connection)
        finally:
            await connection.close()


async def test_state_values_survive_a_reopen(postgres_url: str) -> None:
    async with await open_store(postgres_url) as store:
        assert await store.state.get("command-sync") is None
        await store.state.set("command-sync", "abc")
        await store.state.set("command-sync", "def")
    async with await open_store(postgres_url) as store:
        assert await store.state.get("command-sync") == "def"


async def test_planner_settings_of_one_read_do_not_outlive_it(postgres_url: str) -> None:
    # Pooled connections go back without a session reset (connection.py): a setting a
    # search asked for must end with its read, or every later lookup on that connection
    # would be planned without index scans.
    async with await open_store(postgres_url) as store:
        assert isinstance(store, PostgresStore)
        off = {"enable_indexscan": "off", "enable_seqscan": "off"}
        for _ in range(3):  # the pool hands the same connection back (one is busy at a time)
            assert await store.database.rows("SHOW enable_indexscan", planner=off) == [("off",)]
            assert await store.database.scalar("SHOW enable_indexscan") == "on"
            assert await store.database.scalar("SHOW enable_seqscan") == "on"
        async with store.database.transaction() as writer:  # no settings inside one
            await writer.execute("SELECT 1")
            assert await store.database.rows("SHOW enable_indexscan", planner=off) == [("on",)]
