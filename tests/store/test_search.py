"""Full-text search: best match first, safe for any text, fast on common words."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.store import Store
from tests.factories import draft, save


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


async def test_search_reads_phrases_and_or_as_subscription_filters_do(store: Store) -> None:
    await save(
        store,
        draft(1, title="AI chips boom", excerpt=""),
        draft(2, title="Chips made by AI", excerpt=""),
        draft(3, title="Pasta recipes", excerpt=""),
    )
    phrase = await store.articles.search('"AI chips"')
    assert [a.title for a in phrase.articles] == ["AI chips boom"]
    either = await store.articles.search('"ai chips" OR recipe')  # stemmed, as in filters
    assert {a.title for a in either.articles} == {"AI chips boom", "Pasta recipes"}
    words = await store.articles.search("ai chips")  # plain words: in any order
    assert {a.title for a in words.articles} == {"AI chips boom", "Chips made by AI"}


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


async def test_a_search_of_only_very_common_words_lists_the_newest_first(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "common": in over 2 of the newest 4
    monkeypatch.setattr("bot.store.limits.COMMON_SAMPLE", 4)
    await save(
        store,
        *[draft(n, title=f"The report {n}" + " the" * (5 - n), excerpt="") for n in range(1, 6)],
    )
    page = await store.articles.search("the")
    assert [a.title.split(" the")[0] for a in page.articles] == [
        f"The report {n}" for n in range(5, 0, -1)
    ]


async def test_a_broad_search_finds_its_newest_matches_wherever_they_are(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A search ranks its SEARCH_CAP newest matches. The newest articles tell how far back
    # they reach; a word commoner there than in the archive must not hide older matches.
    monkeypatch.setattr("bot.store.limits.SEARCH_CAP", 3)
    monkeypatch.setattr("bot.store.limits.COMMON_SAMPLE", 10)
    words = {n: ["filler"] for n in range(1, 201)}
    for n in range(10, 201, 10):  # in a tenth of the articles, the newest one included
        words[n].append("nebula")
    for n in (20, 40, 60, 80, 199):  # in one of the newest ten, and four far older ones
        words[n].append("comet")
    words[190].extend(["nebula"] * 3)
    await save(
        store,
        *[draft(n, title=" ".join(w), excerpt=f"article {n}") for n, w in words.items()],
    )
    nebula = await store.articles.search("nebula", limit=10)
    assert nebula.articles[0].excerpt == "article 190"  # the best of them
    assert {a.excerpt for a in nebula.articles} == {f"article {n}" for n in (180, 190, 200)}
    assert (nebula.total, nebula.total_exact) == (3, False)
    comet = await store.articles.search("comet", limit=10)
    assert {a.excerpt for a in comet.articles} == {f"article {n}" for n in (60, 80, 199)}
    assert (comet.total, comet.total_exact) == (3, False)  # more, further back
