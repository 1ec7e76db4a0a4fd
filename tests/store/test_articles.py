"""Articles in the store: idempotent saves, lookups as the commands use them, kept counts."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.articles import Provider, RelatedItem
from bot.store import SourceFile, Store, open_store
from tests.backends import integrity_errors
from tests.factories import draft, save


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


async def test_a_provider_name_in_capitals_finds_it_when_accents_match(store: Store) -> None:
    await save(store, draft(1, provider={"name": "Échos du Nord", "domain": "echos.example"}))
    assert (await store.articles.by_provider("ÉCHOS DU NORD")).total == 1


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


async def test_two_files_with_the_same_article_are_reported_as_duplicates(store: Store) -> None:
    outcomes = await store.articles.save(
        [(draft(1), SourceFile("/a.md", 1, 1, "x")), (draft(1), SourceFile("/b.md", 1, 1, "y"))]
    )
    assert [o.duplicate_of for o in outcomes] == [None, "/a.md"]
    again = await store.articles.save([(draft(1, quality=5), SourceFile("/c.md", 1, 1, "z"))])
    assert again[0].duplicate_of == "/b.md"
    assert await store.articles.count() == 1


async def test_a_failed_batch_leaves_nothing_half_written(store: Store) -> None:
    await save(store, draft(1))
    broken = replace(draft(2), quality=500)  # violates the CHECK constraint
    with pytest.raises(integrity_errors()):
        await store.articles.save([(draft(3), SourceFile("/c.md", 1, 1, "c")), (broken, None)])
    assert await store.articles.count() == 1
    assert await store.files.known() == {}
    assert {t.name: t.count for t in await store.articles.topics()} == {"AI": 1, "Space": 1}


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


_SPELLINGS = st.sampled_from(["AI", "ai", "Ai", "Space", "space", "Climate"])


_ARTICLES = st.tuples(
    st.integers(1, 6), st.lists(_SPELLINGS, max_size=3), st.none() | st.integers(0, 100)
)


# SQLite's counts, read from its file; tests/store/postgres/test_store.py checks PostgreSQL's.
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
