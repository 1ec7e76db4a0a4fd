"""The store: idempotent upserts, lookups as the commands use them, safe search, migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.articles import ArticleDraft, Provider, RelatedItem
from bot.errors import StoreError
from bot.parsing import build_draft
from bot.store import SourceFile, Store, open_store
from bot.store.sqlite.database import MIGRATIONS, SCHEMA_VERSION
from tests.factories import article_fields


def draft(number: int = 1, **overrides: object) -> ArticleDraft:
    return build_draft(article_fields(number, **overrides))


async def save(store: Store, *drafts: ArticleDraft) -> None:
    await store.articles.save([(d, None) for d in drafts])


async def test_saving_the_same_article_twice_updates_it_and_never_duplicates(store: Store) -> None:
    first = await store.articles.save([(draft(1), None)])
    assert [o.status for o in first] == ["added"]
    second = await store.articles.save([(draft(1, title="Corrected title", quality=91), None)])
    assert [o.status for o in second] == ["updated"]
    assert await store.articles.count() == 1
    article = await store.articles.by_url("https://news.example.com/2026/article-1")
    assert article is not None
    assert (article.title, article.quality) == ("Corrected title", 91)


async def test_the_same_story_under_tracking_parameters_is_one_article(store: Store) -> None:
    await save(store, draft(1, originalUrl="https://news.example.com/2026/article-1/?utm_source=x"))
    await save(store, draft(1, originalUrl="HTTPS://NEWS.example.com/2026/article-1#top"))
    assert await store.articles.count() == 1
    assert (
        await store.articles.by_url("https://news.example.com/2026/article-1?fbclid=1") is not None
    )


async def test_related_coverage_is_replaced_when_the_article_is_updated(store: Store) -> None:
    old = [{"title": f"Old {i}", "webUrl": f"https://r.example.com/{i}"} for i in range(3)]
    await save(store, draft(1, related=old))
    await save(store, draft(1, related=[{"title": "New", "webUrl": "https://r.example.com/new",
                                         "provider": {"name": "R", "domain": "r.example.com"}}]))  # fmt: skip
    article = await store.articles.by_url("https://news.example.com/2026/article-1")
    assert article is not None
    assert article.related == (
        RelatedItem(
            title="New", url="https://r.example.com/new", provider=Provider("R", "r.example.com")
        ),
    )


async def test_topics_match_in_any_case_and_show_the_most_common_spelling(store: Store) -> None:
    await save(
        store, draft(1, topics=["ai"]), draft(2, topics=["AI"]), draft(3, topics=["AI", "Space"])
    )
    topics = {t.name: t.count for t in await store.articles.topics()}
    assert topics == {"AI": 3, "Space": 1}
    for spelling in ("ai", "Ai", " AI "):
        page = await store.articles.by_topic(spelling)
        assert page.total == 3
    article = await store.articles.by_url("https://news.example.com/2026/article-1")
    assert article is not None and article.topics == ("AI",)


async def test_topic_counts_follow_updates(store: Store) -> None:
    await save(store, draft(1, topics=["AI", "Space"]), draft(2, topics=["AI"]))
    await save(store, draft(1, topics=["Climate"]))
    assert {t.name: t.count for t in await store.articles.topics()} == {"AI": 1, "Climate": 1}
    assert await store.articles.topic("space") is None


async def test_articles_by_topic_newest_first_with_quality_filter_and_paging(store: Store) -> None:
    await save(store, *[draft(n, quality=n * 10, topics=["AI"]) for n in range(1, 8)])
    page = await store.articles.by_topic("AI", min_quality=30, limit=2, offset=1)
    assert page.total == 5  # qualities 30..70
    assert [a.quality for a in page.articles] == [60, 50]  # newest first: day n+1
    assert (page.offset, page.limit) == (1, 2)
    last = await store.articles.by_topic("AI", min_quality=30, limit=2, offset=4)
    assert [a.quality for a in last.articles] == [30]


async def test_unknown_quality_never_passes_a_threshold(store: Store) -> None:
    await save(store, draft(1, quality=None), draft(2, quality=0))
    assert (await store.articles.by_topic("AI", min_quality=0)).total == 1
    assert (await store.articles.latest(min_quality=0)).total == 1
    assert (await store.articles.latest()).total == 2


async def test_articles_by_provider_by_name_or_domain_in_any_case(store: Store) -> None:
    outlet = {"name": "Orbital Times", "domain": "orbitaltimes.example.org"}
    await save(store, draft(1, provider=outlet), draft(2, provider=outlet), draft(3))
    for query in ("orbital times", "ORBITAL TIMES", "orbitaltimes.example.org",
                  "www.OrbitalTimes.example.org", "https://orbitaltimes.example.org/x"):  # fmt: skip
        page = await store.articles.by_provider(query)
        assert page.total == 2, query
        assert {a.provider.name for a in page.articles} == {"Orbital Times"}
    assert (await store.articles.by_provider("nobody")).total == 0
    assert {(p.name, p.count) for p in await store.articles.providers()} == {
        ("Orbital Times", 2),
        ("Example News", 1),
    }


async def test_provider_counts_follow_an_article_moving_provider(store: Store) -> None:
    await save(store, draft(1), draft(2))
    await save(store, draft(2, provider={"name": "Other", "domain": "other.example.com"}))
    assert {(p.domain, p.count) for p in await store.articles.providers()} == {
        ("news.example.com", 1),
        ("other.example.com", 1),
    }


async def test_latest_articles_newest_first(store: Store) -> None:
    await save(store, draft(3), draft(1), draft(2))
    page = await store.articles.latest(limit=3)
    assert [a.title for a in page.articles] == [f"Test article number {n}" for n in (3, 2, 1)]


async def test_search_ranks_title_matches_first(store: Store) -> None:
    await save(
        store,
        draft(1, title="Launch schedule slips", excerpt="The orbital rocket launch moved."),
        draft(2, title="Orbital rocket reaches orbit", excerpt="A rocket went up."),
        draft(3, title="Unrelated", excerpt="Nothing here."),
    )
    page = await store.articles.search("orbital rocket")
    assert [a.title for a in page.articles] == [
        "Orbital rocket reaches orbit",
        "Launch schedule slips",
    ]
    assert page.total == 2


async def test_search_falls_back_to_any_word_when_no_article_has_all(store: Store) -> None:
    await save(
        store, draft(1, title="Rocket news", excerpt=""), draft(2, title="Chip news", excerpt="")
    )
    page = await store.articles.search("rocket chip")
    assert {a.title for a in page.articles} == {"Rocket news", "Chip news"}


HOSTILE = [
    '"', '""', "'", "*", "rocket*", "NEAR(rocket chip)", "rocket NEAR chip", "-rocket", "rocket -chip",
    "(", ")", "((rocket", "rocket)", "AND", "OR OR", "NOT rocket", "title:rocket", "^rocket", "{title}: x",
    "🚀🚀", "rocket 🚀", "'; DROP TABLE articles; --", "\x00", "\\", "%", "_", "rocket" * 1000, "a " * 2500,
    "\u202e\u200b", "ﬁ ligature", "Ωmega",
]  # fmt: skip


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_search_text_never_raises(store: Store, query: str) -> None:
    await save(store, draft(1, title="Rocket launch"), draft(2, title="Chip rocket"))
    page = await store.articles.search(query)
    assert page.total == len(page.articles) or page.total > len(page.articles)
    assert await store.articles.count() == 2


async def test_search_finds_words_next_to_punctuation(store: Store) -> None:
    await save(store, draft(1, title="C++ 2026: what's new (and what's \"deprecated\")"))
    assert (await store.articles.search('"deprecated"')).total == 1
    assert (await store.articles.search("what's new")).total == 1
    assert (await store.articles.search("(deprecated")).total == 1


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200))
async def test_any_text_is_a_safe_search(store: Store, text: str) -> None:
    page = await store.articles.search(text)
    assert page.total >= 0


async def test_suggestions_prefix_first_then_substring_by_count(store: Store) -> None:
    await save(
        store,
        draft(1, topics=["Space", "Cyberspace"]), draft(2, topics=["Cyberspace"]),
        draft(3, topics=["Spacecraft"]), draft(4, topics=["AI"]),
    )  # fmt: skip
    names = [t.name for t in await store.articles.suggest_topics("spa")]
    assert names == ["Space", "Spacecraft", "Cyberspace"]
    most_articles = next(t.name for t in await store.articles.suggest_topics(""))
    assert most_articles == "Cyberspace"
    assert await store.articles.suggest_topics("%") == []
    many = [draft(n, topics=[f"Topic {n}"]) for n in range(10, 50)]
    await save(store, *many)
    assert len(await store.articles.suggest_topics("topic")) == 25


async def test_provider_suggestions_match_name_or_domain(store: Store) -> None:
    await save(
        store, draft(1, provider={"name": "Orbital Times", "domain": "orbitaltimes.example.org"})
    )
    assert [p.name for p in await store.articles.suggest_providers("orb")] == ["Orbital Times"]
    assert [p.name for p in await store.articles.suggest_providers("example.org")] == [
        "Orbital Times"
    ]
    assert await store.articles.suggest_providers("zzz") == []


async def test_article_by_id_and_unknown_lookups(store: Store) -> None:
    await save(store, draft(1))
    article = await store.articles.by_url("https://aggregator.example.org/a/1")  # its webUrl
    assert article is not None
    assert await store.articles.get(article.id) == article
    assert await store.articles.get(999) is None
    assert await store.articles.by_url("javascript:alert(1)") is None


async def test_source_files_are_remembered_with_the_article(store: Store) -> None:
    source = SourceFile("/data/a.md", 10, 123, "abc")
    await store.articles.save([(draft(1), source)])
    assert await store.files.known() == {"/data/a.md": source}
    await store.files.touch([replace(source, mtime_ns=456)])
    assert (await store.files.known())["/data/a.md"].mtime_ns == 456


async def test_two_files_with_the_same_article_are_reported_as_duplicates(store: Store) -> None:
    outcomes = await store.articles.save(
        [(draft(1), SourceFile("/a.md", 1, 1, "x")), (draft(1), SourceFile("/b.md", 1, 1, "y"))]
    )
    assert [o.duplicate_of for o in outcomes] == [None, "/a.md"]
    again = await store.articles.save([(draft(1, quality=5), SourceFile("/c.md", 1, 1, "z"))])
    assert again[0].duplicate_of == "/b.md"
    assert await store.articles.count() == 1


# -- the database file --------------------------------------------------------------------


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


@pytest.mark.parametrize(
    "target",
    ["postgresql://newsbot@db.example/newsbot", "postgres://db.example/newsbot",
     Path("postgresql://db.example/newsbot"), "POSTGRESQL://db.example/newsbot"],
)  # fmt: skip
async def test_a_postgresql_url_is_refused_until_its_backend_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str | Path
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=r"^PostgreSQL support is not installed yet$"):
        await open_store(target)
    assert list(tmp_path.iterdir()) == []  # no SQLite file made of the URL


async def test_a_failed_batch_leaves_nothing_half_written(store: Store) -> None:
    await save(store, draft(1))
    broken = replace(draft(2), quality=500)  # violates the CHECK constraint
    with pytest.raises(sqlite3.IntegrityError):
        await store.articles.save([(draft(3), SourceFile("/c.md", 1, 1, "c")), (broken, None)])
    assert await store.articles.count() == 1
    assert await store.files.known() == {}
    assert {t.name: t.count for t in await store.articles.topics()} == {"AI": 1, "Space": 1}


async def test_subscriptions_are_per_channel_and_topic_and_per_server(store: Store) -> None:
    first, created = await store.subscriptions.subscribe(
        guild_id=1, channel_id=10, topic="AI", min_quality=50
    )
    assert created and first.active
    again, created = await store.subscriptions.subscribe(
        guild_id=1, channel_id=10, topic="ai", min_quality=80
    )
    assert not created and again.id == first.id and again.min_quality == 80
    await store.subscriptions.subscribe(guild_id=1, channel_id=11, topic="AI", min_quality=50)
    await store.subscriptions.subscribe(guild_id=2, channel_id=20, topic="Space", min_quality=50)
    assert [(s.channel_id, s.topic) for s in await store.subscriptions.in_guild(1)] == [
        (10, "ai"),  # the spelling given last is shown; identity ignores case
        (11, "AI"),
    ]
    assert await store.subscriptions.suggest_topics(2, "") == ["Space"]
    # Not its server:
    assert not await store.subscriptions.unsubscribe(guild_id=2, channel_id=10, topic="AI")
    await store.subscriptions.pause(first.id, "Missing Access")
    paused = await store.subscriptions.get(guild_id=1, channel_id=10, topic="AI")
    assert paused is not None and paused.paused_reason == "Missing Access" and not paused.active
    await store.subscriptions.resume(first.id)
    resumed = await store.subscriptions.get(guild_id=1, channel_id=10, topic="AI")
    assert resumed is not None and resumed.active
    assert await store.subscriptions.remove_channel(10) == 1
    assert await store.subscriptions.remove_guild(1) == 1
    assert await store.subscriptions.in_guild(1) == []
    assert len(await store.subscriptions.in_guild(2)) == 1


async def test_state_values_survive_a_reopen(tmp_path: Path) -> None:
    async with await open_store(tmp_path / "s.db") as store:
        assert await store.state.get("command-sync") is None
        await store.state.set("command-sync", "abc")
        await store.state.set("command-sync", "def")
    async with await open_store(tmp_path / "s.db") as store:
        assert await store.state.get("command-sync") == "def"


async def test_totals_from_kept_counts_match_the_rows_after_every_kind_of_change(
    store: Store,
) -> None:
    await save(
        store,
        *[
            draft(n, quality=n * 10, topics=["AI", "Space"] if n % 2 else ["AI"])
            for n in range(1, 9)
        ],
    )
    await save(
        store, draft(3, quality=None, topics=["Space"]), draft(4, quality=95), draft(9, quality=50)
    )
    for threshold in (None, 0, 40, 50, 95, 100):
        for topic in ("AI", "Space"):
            page = await store.articles.by_topic(topic, min_quality=threshold, limit=100)
            assert page.total == len(page.articles), (topic, threshold)
        latest = await store.articles.latest(min_quality=threshold, limit=100)
        assert latest.total == len(latest.articles), threshold
        provider = await store.articles.by_provider(
            "news.example.com", min_quality=threshold, limit=100
        )
        assert provider.total == len(provider.articles), threshold


async def test_a_broad_search_ranks_the_newest_matches_and_says_there_are_more(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.store.limits.SEARCH_CAP", 3)
    await save(store, *[draft(n, title=f"Rocket news {n}", excerpt="") for n in range(1, 6)])
    await save(store, draft(6, title="Rocket rocket rocket", excerpt="rocket"))
    page = await store.articles.search("rocket", limit=10)
    assert (page.total, page.total_exact, page.total_text) == (3, False, "3+")
    assert page.articles[0].title == "Rocket rocket rocket"  # best of the newest 3
    assert {a.title for a in page.articles} == {
        "Rocket rocket rocket",
        "Rocket news 5",
        "Rocket news 4",
    }
    narrow = await store.articles.search("rocket news 2")
    assert narrow.total_exact and narrow.total == 1


async def test_very_common_words_do_not_drown_a_search(store: Store) -> None:
    await save(
        store, *[draft(n, title=f"The daily report {n}", excerpt="the") for n in range(1, 20)]
    )
    await save(store, draft(30, title="The glucose patch", excerpt="the"))
    page = await store.articles.search("the glucose")
    assert [a.title for a in page.articles] == ["The glucose patch"]


async def test_source_files_can_be_asked_for_by_path(store: Store) -> None:
    files = [SourceFile(f"/d/{n}.md", n, n, str(n)) for n in range(1200)]
    await store.articles.save([(draft(n), f) for n, f in enumerate(files)])
    wanted = [f"/d/{n}.md" for n in range(0, 1200, 7)] + ["/d/missing.md"]
    found = await store.files.known(wanted)
    assert sorted(found) == sorted(wanted[:-1])
    assert found["/d/7.md"] == files[7]


async def test_a_search_of_only_very_common_words_lists_the_newest_first(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "common": in over 2 of the newest 4
    monkeypatch.setattr("bot.store.sqlite.fulltext.COMMON_SAMPLE", 4)
    await save(
        store,
        *[draft(n, title=f"The report {n}" + " the" * (5 - n), excerpt="") for n in range(1, 6)],
    )
    page = await store.articles.search("the")
    assert [a.title.split(" the")[0] for a in page.articles] == [
        f"The report {n}" for n in range(5, 0, -1)
    ]


_SPELLINGS = st.sampled_from(["AI", "ai", "Ai", "Space", "space", "Climate"])
_ARTICLES = st.tuples(
    st.integers(1, 6), st.lists(_SPELLINGS, max_size=3), st.none() | st.integers(0, 100)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_ARTICLES, max_size=6), min_size=1, max_size=4))
async def test_kept_topic_counts_names_and_quality_counts_match_the_rows(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[tuple[int, list[str], int | None]]]
) -> None:
    path = tmp_path_factory.mktemp("counts") / "newsbot.db"
    async with await open_store(path) as store:
        for batch in batches:  # updates, the same article twice in a batch, spellings shifting
            await save(store, *[draft(n, topics=t, quality=q) for n, t, q in batch])
    db = sqlite3.connect(path)

    def rows(sql: str) -> set[tuple[object, ...]]:
        return set(db.execute(sql).fetchall())

    assert rows("SELECT id, article_count FROM topics WHERE article_count != 0") == rows(
        "SELECT topic_id, count(*) FROM article_topics GROUP BY topic_id"
    )
    assert rows("SELECT topic_id, spelling, uses FROM topic_spellings") == rows(
        "SELECT topic_id, spelling, count(*) FROM article_topics GROUP BY topic_id, spelling"
    )
    spellings: dict[object, list[tuple[int, str]]] = {}
    for topic_id, spelling, uses in rows("SELECT topic_id, spelling, uses FROM topic_spellings"):
        spellings.setdefault(topic_id, []).append((-int(uses), str(spelling)))  # type: ignore[call-overload]
    assert dict(rows("SELECT id, name FROM topics WHERE article_count > 0")) == {
        topic_id: min(used)[1] for topic_id, used in spellings.items()
    }  # the most used spelling, ties alphabetical
    assert rows(
        "SELECT topic_id, quality, article_count FROM topic_quality_counts WHERE article_count"
    ) == rows(
        "SELECT topic_id, quality, count(*) FROM article_topics WHERE quality IS NOT NULL "
        "GROUP BY topic_id, quality"
    )
    assert rows("SELECT quality, article_count FROM quality_counts WHERE article_count") == rows(
        "SELECT quality, count(*) FROM articles WHERE quality IS NOT NULL GROUP BY quality"
    )
    db.close()


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
