"""The rules a moderator sets on a subscription, as a run applies them and /news why tells them.

Every test runs on both databases (the ``store`` fixture): the rules are evaluated by the
database, so each backend's spelling of them (FTS5 or tsquery, JSON or arrays) is under test.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.posting import Poster, explain
from bot.store import Store
from bot.store.fulltext import QueryError, parse_filter
from bot.subscriptions import DeliveryStyle, SubscriptionOptions
from tests.test_posting import GUILD, MemorySender, add

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sender() -> MemorySender:
    return MemorySender()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def poster(store: Store, sender: MemorySender, clock: Clock) -> Poster:
    return Poster(store, sender, max_per_run=10, clock=clock)


async def shape(
    store: Store, channel: int, topic: str = "AI", min_quality: int = 0, **options: Any
) -> None:
    await store.subscriptions.subscribe(
        guild_id=GUILD, channel_id=channel, topic=topic, min_quality=min_quality,
        options=SubscriptionOptions(**options),
    )  # fmt: skip


async def reasons(poster: Poster, store: Store, article_id: int) -> dict[int, str]:
    """Return /news why's verdict per channel for one article."""
    article = await store.articles.get(article_id)
    assert article is not None
    told = await explain(poster.planner, article, GUILD)
    return {e.subscription.channel_id: e.reason for e in told}


def test_a_filter_query_is_words_phrases_and_or() -> None:
    query = parse_filter('Nvidia  "AI chips" OR cooking')
    assert query.text == 'nvidia "ai chips" OR cooking'
    assert list(query) == [(("nvidia",), ("ai", "chips")), (("cooking",),)]
    for bad in ("", "   ", "OR", '""', "OR OR", "x" * 201):
        with pytest.raises(QueryError):
            parse_filter(bad)


async def test_include_and_exclude_match_title_or_excerpt_with_stemming(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await shape(store, 10, include='"ai chips" OR cooking')
    await shape(store, 11, exclude="crypto")
    chips = await add(store, 1, title="Nvidia sells more AI chips", excerpt="Demand grows.")
    cooks = await add(store, 2, title="Robots", excerpt="A robot that COOKS pasta.")  # stemmed
    apart = await add(store, 3, title="Chips of AI", excerpt="Not the phrase in order.")
    coins = await add(store, 4, title="Crypto coins", excerpt="Prices fall.")
    await poster.run()
    assert sorted(sender.articles_in(10)) == [chips, cooks]
    assert sorted(sender.articles_in(11)) == [chips, cooks, apart]
    why = await reasons(poster, store, apart)
    assert why == {10: "not_included", 11: "delivered"}
    assert (await reasons(poster, store, coins))[11] == "excluded"


async def test_provider_lists_keep_or_drop_providers(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await shape(store, 10, providers=("wire.example",))
    await shape(store, 11, exclude_providers=("wire.example",))
    wire = await add(store, 1, provider={"name": "The Wire", "domain": "wire.example"})
    other = await add(store, 2)  # news.example.com
    await poster.run()
    assert sender.articles_in(10) == [wire]
    assert sender.articles_in(11) == [other]
    assert (await reasons(poster, store, other))[10] == "provider_not_listed"
    assert (await reasons(poster, store, wire))[11] == "provider_excluded"


def related_to(*numbers: int) -> list[dict[str, str]]:
    """Related coverage naming the articles of ``numbers`` (by a URL that canonicalises to theirs)."""
    return [
        {"title": f"Also {n}", "webUrl": f"https://NEWS.example.com/2026/article-{n}/?utm_source=x"}
        for n in numbers
    ]


async def test_one_story_is_posted_once_per_channel_unless_asked(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await shape(store, 10)  # same_story: skip (the default)
    await shape(store, 11, same_story="post")
    first = await add(store, 1, quality=60)
    lists_a_later_one = await add(store, 5, quality=60, related=related_to(6))
    await poster.run()
    later = await add(store, 2, quality=90, related=related_to(1))  # lists a delivered one
    listed = await add(store, 6, quality=90)  # a delivered one lists it
    await poster.run()
    assert sorted(sender.articles_in(10)) == sorted([first, lists_a_later_one])
    assert sorted(sender.articles_in(11)) == sorted([first, lists_a_later_one, later, listed])
    assert await reasons(poster, store, later) == {10: "same_story", 11: "delivered"}
    assert (await reasons(poster, store, listed))[10] == "same_story"
    article = await store.articles.get(later)
    assert article is not None
    (told,) = [e for e in await explain(poster.planner, article, GUILD) if e.reason == "same_story"]
    assert told.other_url == "https://news.example.com/2026/article-1" and told.when is not None


async def test_the_best_of_a_story_due_twice_in_one_run_goes(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await shape(store, 10)
    weaker = await add(store, 1, quality=60, related=related_to(2))
    better = await add(store, 2, quality=80)
    other = await add(store, 3, quality=70)
    assert (await reasons(poster, store, weaker))[10] == "same_story_in_run"
    assert (await reasons(poster, store, better))[10] == "waiting"
    await poster.run()
    assert sender.articles_in(10) == [better, other]
    await poster.run()  # the weaker one is now the same story as a delivered article
    assert sender.articles_in(10) == [better, other]
    assert (await reasons(poster, store, weaker))[10] == "same_story"


async def test_a_daily_cap_counts_posts_per_channel_per_utc_day(
    store: Store, sender: MemorySender, poster: Poster, clock: Clock
) -> None:
    await shape(store, 10, max_per_day=2)
    await shape(store, 10, topic="Space", max_per_day=3)  # the lowest cap of the channel wins
    ids = [await add(store, n, quality=50 + n, topics=["AI"]) for n in range(1, 6)]
    await poster.run()
    assert sender.articles_in(10) == [ids[4], ids[3]]
    assert (await reasons(poster, store, ids[2]))[10] == "daily_cap"
    await poster.run()
    assert len(sender.articles_in(10)) == 2  # still the same UTC day
    clock.now = NOW.replace(hour=23, minute=59) + timedelta(minutes=2)  # the next day
    await poster.run()
    assert sender.articles_in(10) == [ids[4], ids[3], ids[2], ids[1]]


async def test_a_digest_counts_as_one_post_against_the_cap(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await store.subscriptions.subscribe(
        guild_id=GUILD, channel_id=10, topic="AI", min_quality=0, mode="digest",
        options=SubscriptionOptions(max_per_day=1),
    )  # fmt: skip
    for number in range(1, 4):
        await add(store, number)
    await poster.run()
    assert len(sender.sent) == 1 and len(sender.articles_in(10)) == 3


async def test_each_post_carries_its_subscription_s_style(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await shape(store, 10, mention_role_id=555, style="compact", thread=True)
    await add(store, 1)
    await poster.run()
    (nonce,) = sender.styles
    assert sender.styles[nonce] == DeliveryStyle(
        mention_role_id=555, compact=True, thread=True, forum_tag="AI"
    )


async def test_a_resend_shows_as_the_first_try(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await shape(store, 10, mention_role_id=555)
    await add(store, 1)
    sender.failing.add(10)
    await poster.run()
    sender.failing.clear()
    await shape(store, 10, mention_role_id=777)  # changed after the first try
    await poster.run()
    (style,) = sender.styles.values()
    assert style.mention_role_id == 555  # the message Discord may already have is the same


async def test_changing_options_weighs_the_topic_again(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await shape(store, 10, include="rocket")
    blocked = await add(store, 1, title="Chips")
    kept = await add(store, 2, title="Rocket launch")
    await poster.run()
    assert sender.articles_in(10) == [kept]
    assert (await reasons(poster, store, blocked))[10] == "not_included"
    await shape(store, 10)  # the include is cleared: what it held back since is due now
    assert (await reasons(poster, store, blocked))[10] == "waiting"
    await poster.run()
    assert sender.articles_in(10) == [kept, blocked]
    options = (await store.subscriptions.in_guild(GUILD))[0].options
    assert options == SubscriptionOptions()


async def test_a_threshold_raised_then_lowered_makes_held_articles_due_again(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await shape(store, 10, min_quality=90)
    low = await add(store, 1, quality=60)
    await poster.run()  # the candidate fails a lasting rule and is forgotten
    assert sender.articles_in(10) == []
    await shape(store, 10, min_quality=50)
    await poster.run()
    assert sender.articles_in(10) == [low]


# -- the property: what /news why says is what a run does ------------------------------------

WORDS = ("chips", "rocket", "crypto", "election", "pasta", "storm")
PROVIDERS = ("a.example", "b.example", "c.example")


def random_options(rng: random.Random) -> SubscriptionOptions:
    def maybe(value: Any) -> Any:
        return value if rng.random() < 0.4 else None

    return SubscriptionOptions(
        include=maybe(" OR ".join(rng.sample(WORDS, rng.randint(1, 3)))),
        exclude=maybe(rng.choice(WORDS)),
        providers=tuple(rng.sample(PROVIDERS, rng.randint(1, 2))) if rng.random() < 0.3 else (),
        exclude_providers=(rng.choice(PROVIDERS),) if rng.random() < 0.3 else (),
        same_story=rng.choice(("skip", "post")),
        max_per_day=rng.choice((None, None, 1, 2, 3)),
    )


def random_article(rng: random.Random, number: int, earlier: Sequence[int]) -> dict[str, Any]:
    domain = rng.choice(PROVIDERS)
    return {
        "title": " ".join(rng.sample(WORDS, 2)).capitalize() + f" {number}",
        "excerpt": f"About {rng.choice(WORDS)}.",
        "quality": rng.choice((None, 20, 50, 70, 90)),
        "published": rng.random() < 0.15,
        "topics": rng.sample(["AI", "Space", "Climate"], rng.randint(1, 2)),
        "provider": {"name": domain.split(".")[0].upper(), "domain": domain},
        "related": related_to(*rng.sample(list(earlier), min(len(earlier), rng.randint(0, 2)))),
    }


async def verdicts(poster: Poster, store: Store, article_id: int) -> dict[int, set[str]]:
    """Return /news why's verdicts per channel (one per subscription) for one article."""
    article = await store.articles.get(article_id)
    assert article is not None
    found: dict[int, set[str]] = {}
    for told in await explain(poster.planner, article, GUILD):
        found.setdefault(told.subscription.channel_id, set()).add(told.reason)
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_news_why_says_what_a_run_posts(
    store: Store, sender: MemorySender, clock: Clock, seed: int
) -> None:
    rng = random.Random(seed)
    poster = Poster(store, sender, max_per_run=rng.choice((2, 5, 50)), clock=clock)
    channels = list(range(10, 16))
    numbers: list[int] = []
    for round_ in range(3):  # some articles before, between and after the runs
        for _ in range(rng.randint(2, 5)):
            channel = rng.choice(channels)
            topic = rng.choice(["AI", "Space", "Climate"])
            options = dataclasses.asdict(random_options(rng))
            await shape(store, channel, topic, rng.choice((0, 50, 80)), **options)
        for _ in range(rng.randint(4, 10)):
            number = len(numbers) + 1
            await add(store, number, **random_article(rng, number, numbers))
            numbers.append(number)
        article_ids = [a.id for a in (await store.articles.latest(limit=100)).articles]
        told = {a: await verdicts(poster, store, a) for a in article_ids}
        before = {c: set(sender.articles_in(c)) for c in channels}
        await poster.run()
        for article_id, by_channel in told.items():
            for channel, said in by_channel.items():
                # A channel with two subscriptions gets the article if either says it goes.
                posted = article_id in set(sender.articles_in(channel)) - before[channel]
                assert posted == ("waiting" in said), (round_, article_id, channel, said)
        clock.now += timedelta(hours=rng.choice((1, 30)))


async def test_an_article_stored_again_is_weighed_again(
    store: Store, sender: MemorySender, poster: Poster
) -> None:
    await shape(store, 10, include="rocket")
    await shape(store, 11, exclude="rocket")
    first = await add(store, 1, title="Rocket launch")
    await add(store, 1, title="Chip sales")  # the same article, its text changed
    assert await reasons(poster, store, first) == {10: "not_included", 11: "waiting"}
    await poster.run()
    assert (sender.articles_in(10), sender.articles_in(11)) == ([], [first])
    second = await add(store, 2, title="Chip sales")
    await add(store, 2, title="Rocket sales", quality=90)  # now it matches the include
    await poster.run()
    assert (sender.articles_in(10), sender.articles_in(11)) == ([second], [first])
