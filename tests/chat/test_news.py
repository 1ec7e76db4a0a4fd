"""/news through the fake Discord: what a member asking for news sees."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.articles import ArticlePage
from bot.chat.bot import NewsBot
from bot.chat.views import ArticlePager, page_header
from bot.config import Settings
from bot.parsing import build_draft
from bot.store import Store
from tests.chat.conftest import World, eventually
from tests.factories import article_fields
from tests.fake_discord import running_bot


def button(components: list[dict[str, object]], label: str) -> dict[str, object]:
    row = components[0]["components"]
    assert isinstance(row, list)
    return next(b for b in row if b["label"] == label)


async def test_commands_are_synced_with_their_options_and_permissions(world: World) -> None:
    commands = {c["name"]: c for c in world.fake.commands()}
    assert set(commands) == {"news", "subscribe", "unsubscribe", "subscriptions", "post", "alerts"}
    assert [o["name"] for o in commands["news"]["options"]] == [
        "topic",
        "provider",
        "search",
        "latest",
        "why",
        "topics",
    ]
    for name in ("subscribe", "unsubscribe"):
        assert int(commands[name]["default_member_permissions"]) == 1 << 4  # Manage Channels
        assert commands[name]["contexts"] == [0]  # servers only
    assert [o["name"] for o in commands["alerts"]["options"]] == ["channel", "off"]
    assert int(commands["alerts"]["default_member_permissions"]) == 1 << 5  # Manage Server
    assert commands["alerts"]["contexts"] == [0]
    assert int(commands["post"]["default_member_permissions"]) == 1 << 5  # Manage Server
    assert commands["post"]["contexts"] == [0]
    assert [o["name"] for o in commands["post"]["options"]] == ["now", "preview"]
    topic = commands["news"]["options"][0]["options"]
    assert {o["name"]: (o.get("min_value"), o.get("max_value")) for o in topic if o["type"] == 4} == {
        "min_quality": (0, 100), "limit": (1, 10),
    }  # fmt: skip


async def test_news_topic_shows_article_embeds_newest_first(world: World) -> None:
    answer = await world.answer("news topic", topic="ai", limit=3)
    assert answer.content == "**AI** — 1 to 3 of 13 · page 1 of 5"
    assert not answer.ephemeral
    assert answer.allowed_mentions == {"parse": []}
    embeds = answer.embeds
    assert len(embeds) == 3
    first = embeds[0]
    assert first["title"] == "NPCs that remember: studios experiment with AI-driven dialogue"
    assert first["url"] == "https://playdispatch.example.com/2026/11/npcs-that-remember-ai-dialogue"
    assert first["author"]["name"] == "Play Dispatch"
    assert first["footer"]["text"] == "Gaming, AI · quality 65"
    assert first["timestamp"] == "2026-11-23T14:20:00+00:00"
    assert first["description"].startswith("Several mid-sized studios")
    timestamps = [e["timestamp"] for e in embeds]
    assert timestamps == sorted(timestamps, reverse=True)


async def test_embed_has_thumbnail_and_related_coverage_links(world: World) -> None:
    answer = await world.answer("news search", query="Clearview fine France")
    seed = answer.embeds[0]
    assert seed["title"] == "France Slaps Fine on Face Recognition Firm Clearview AI"
    assert (
        seed["thumbnail"]["url"]
        == "https://www.securityweek.com/sites/default/files/logos/Facebook-Security-Group.png"
    )
    (field,) = seed["fields"]
    assert field["name"] == "Also covered by"
    lines = field["value"].split("\n")
    assert len(lines) == 3  # four related items, three shown
    assert lines[0] == (
        "[Clearview AI fined for violating the European GDPR privacy law]"
        "(https://www.techspot.com/news/96422-clearview-ai-fined-again-violating-gdpr-facial-recognition.html)"
        " — TechSpot"
    )
    assert seed["footer"]["text"] == "Computer Vision, AI · quality 54"


async def test_paging_with_buttons_only_for_the_asker(world: World) -> None:
    handle = await world.ask("news topic", topic="AI", limit=5)
    first = await handle.response()
    assert button(first.components, "Previous")["disabled"] is True
    assert button(first.components, "Next")["disabled"] is False
    message = handle.original_message
    assert message is not None
    next_id = str(button(first.components, "Next")["custom_id"])

    intruder = await world.fake.click_button(message, next_id, world.home.moderator)
    refusal = await intruder.response()
    assert refusal.ephemeral
    assert (
        refusal.content
        == "Only the person who asked can turn these pages. Run the command yourself to browse."
    )

    click = await world.fake.click_button(message, next_id, world.home.member)
    second = await click.response()
    assert second.type == 7  # UPDATE_MESSAGE: the same message changes page
    assert second.content == "**AI** — 6 to 10 of 13 · page 2 of 3"
    assert {e["url"] for e in second.embeds}.isdisjoint({e["url"] for e in first.embeds})
    assert button(second.components, "Previous")["disabled"] is False

    message = world.fake.get_message(message.id)
    third = await (await world.fake.click_button(message, next_id, world.home.member)).response()
    assert third.content == "**AI** — 11 to 13 of 13 · page 3 of 3"
    assert len(third.embeds) == 3
    assert button(third.components, "Next")["disabled"] is True

    message = world.fake.get_message(message.id)
    previous_id = str(button(third.components, "Previous")["custom_id"])
    back = await (await world.fake.click_button(message, previous_id, world.home.member)).response()
    assert back.content == "**AI** — 6 to 10 of 13 · page 2 of 3"


async def test_page_buttons_from_before_a_restart_say_they_expired(
    world: World, bot_store: Store
) -> None:
    first = await (handle := await world.ask("news topic", topic="AI")).response()
    message = handle.original_message
    assert message is not None
    next_id = str(button(first.components, "Next")["custom_id"])
    await world.bot.close()  # the bot restarts: its pagers are gone with the process
    again = NewsBot(bot_store, Settings(min_quality=50), guild_ready_timeout=0.05)
    async with running_bot(world.fake, again):
        click = await world.fake.click_button(message, next_id, world.home.member)
        answer = await click.response()
    assert answer.ephemeral
    assert answer.content == "These buttons have expired. Run the command again to browse."


async def test_one_page_of_results_has_no_buttons(world: World) -> None:
    answer = await world.answer("news topic", topic="Electric Vehicles", limit=10)
    assert answer.content.endswith("1 to 3 of 3")
    assert answer.components == []


async def test_buttons_are_disabled_after_idleness(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ArticlePager, "idle_timeout", 0.3)
    handle = await world.ask("news topic", topic="AI")
    first = await handle.response()
    edit = await handle.edit(0, timeout=5)
    row = edit.data["components"][0]["components"]
    assert [b["disabled"] for b in row] == [True, True]
    # A client that missed the edit (or a token too old to edit) may still press one.
    assert handle.original_message is not None
    next_id = str(button(first.components, "Next")["custom_id"])
    click = await world.fake.click_button(handle.original_message, next_id, world.home.member)
    assert (await click.response()).content == (
        "These buttons have expired. Run the command again to browse."
    )


async def test_unknown_topic_gets_a_hint(world: World) -> None:
    answer = await world.answer("news topic", topic="spcae")
    assert answer.ephemeral
    assert answer.content == (
        "No articles on the topic **spcae**. Did you mean **Space**? See `/news topics` for every topic."
    )


async def test_no_article_above_the_quality_asked(world: World) -> None:
    answer = await world.answer("news topic", topic="Electric Vehicles", min_quality=99)
    assert answer.ephemeral
    assert (
        answer.content
        == "No **Electric Vehicles** articles of quality 99 or more. Try a lower `min_quality`."
    )


@pytest.mark.parametrize(
    ("option", "value"), [("min_quality", 101), ("min_quality", -1), ("limit", 0), ("limit", 11)]
)
async def test_out_of_range_numbers_are_refused_even_if_discord_let_them_through(
    world: World, option: str, value: int
) -> None:
    answer = await world.answer("news topic", topic="AI", **{option: value})
    assert answer.ephemeral
    assert answer.content.startswith(f"`{option}` must be from")


async def test_news_topic_min_quality_filters(world: World) -> None:
    answer = await world.answer("news topic", topic="AI", min_quality=60, limit=10)
    qualities = [int(e["footer"]["text"].rsplit(" ", 1)[1]) for e in answer.embeds]
    assert qualities and all(q >= 60 for q in qualities)
    assert answer.content.startswith("**AI (quality ≥ 60)**")


async def test_news_provider_by_name_or_domain(world: World) -> None:
    by_domain = await world.answer("news provider", provider="techwire.example.com")
    by_name = await world.answer("news provider", provider="TECHWIRE")
    assert by_domain.content == by_name.content == "**TechWire** — 1 to 5 of 7 · page 1 of 2"
    assert {e["author"]["name"] for e in by_domain.embeds} == {"TechWire"}


async def test_unknown_provider_gets_a_hint(world: World) -> None:
    answer = await world.answer("news provider", provider="bytedialy")
    assert answer.ephemeral
    assert answer.content.startswith("No provider **bytedialy**. Did you mean **ByteDaily**?")


async def test_news_latest_respects_the_default_threshold(world: World) -> None:
    answer = await world.answer("news latest", limit=10)
    assert answer.content.startswith("**Latest news (quality ≥ 50)**")
    qualities = [int(e["footer"]["text"].rsplit(" ", 1)[1]) for e in answer.embeds]
    assert len(qualities) == 10 and min(qualities) >= 50


async def test_news_topics_lists_topics_with_counts(world: World) -> None:
    answer = await world.answer("news topics")
    (embed,) = answer.embeds
    assert embed["title"] == "Topics (13)"
    assert embed["description"].split("\n")[0] == "**AI** — 13"


HOSTILE = [
    '"', "*", "NEAR(a b)", "AND OR NOT", "((", "title:x", "-", "🚀", "'; DROP TABLE articles; --",
    "@everyone", "<@&1234>", "x" * 200, "\u202e\u200b", "`code`", "||spoiler||",
]  # fmt: skip


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_search_text_gets_a_clear_answer(world: World, query: str) -> None:
    answer = await world.answer("news search", query=query)
    assert answer.allowed_mentions == {"parse": []}
    if answer.embeds:
        assert answer.content.startswith("**Search: ")
    else:
        assert answer.ephemeral and answer.content.startswith("Nothing matches **")
    assert await world.store.articles.count() == 49


async def test_search_finds_the_best_match_first(world: World) -> None:
    answer = await world.answer("news search", query="glucose patch")
    assert answer.embeds[0]["title"] == "Wearable glucose patch wins regulatory clearance"


async def test_an_article_that_pings_pings_nobody(world: World) -> None:
    hostile = build_draft(
        article_fields(
            900,
            title="@everyone <@&123> breaking @here",
            excerpt="<@456> says hi @everyone",
            topics=["Pings"],
        )
    )
    await world.store.articles.save([(hostile, None)])
    for name, options in [
        ("news topic", {"topic": "pings"}),
        ("news search", {"query": "everyone breaking"}),
    ]:
        answer = await world.answer(name, **options)
        assert answer.allowed_mentions == {"parse": []}
        assert "@everyone" in answer.embeds[0]["title"]
    error = await world.answer("news topic", topic="@everyone")
    assert error.allowed_mentions == {"parse": []}


async def test_autocomplete_suggests_topics_prefix_first_by_count(world: World) -> None:
    choices = await world.fake.send_autocomplete(
        world.home.guild, world.home.channel, world.home.member, "news topic", focused="topic",
        options={"topic": "s"},
    )  # fmt: skip
    names = [c["name"] for c in choices]
    assert names[:2] == ["Space (7)", "Semiconductors (6)"]
    assert "Open Source (8)" in names  # substring matches come after prefix matches
    assert names.index("Open Source (8)") > names.index("Semiconductors (6)")
    everything = await world.fake.send_autocomplete(
        world.home.guild, world.home.channel, world.home.member, "news topic", focused="topic",
        options={"topic": ""},
    )  # fmt: skip
    assert len(everything) == 13 and everything[0] == {"name": "AI (13)", "value": "AI"}


async def test_autocomplete_suggests_providers_by_name_or_domain(world: World) -> None:
    choices = await world.fake.send_autocomplete(
        world.home.guild, world.home.channel, world.home.member, "news provider", focused="provider",
        options={"provider": "byte"},
    )  # fmt: skip
    assert choices == [
        {"name": "ByteDaily — bytedaily.example.com (7)", "value": "bytedaily.example.com"}
    ]


async def test_an_unexpected_error_gets_an_apology_with_a_reference(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(world.store.articles, "search", broken)
    with caplog.at_level(logging.ERROR):
        answer = await world.answer("news search", query="rocket")
    assert answer.ephemeral
    assert answer.content.startswith(
        "Sorry, something went wrong on my side. The error was logged with reference `"
    )
    reference = answer.content.split("`")[1]
    record = next(r for r in caplog.records if reference in r.getMessage())
    assert record.exc_info is not None and "database on fire" in str(record.exc_info[1])


@pytest.mark.parametrize(
    "text", ['"', "%", "_", "*", "' OR 1=1 --", "@everyone", "🚀", "a" * 100, "\\", "<#1>"]
)
async def test_hostile_topic_and_provider_options_get_a_clear_answer(
    world: World, text: str
) -> None:
    for name, option in [("news topic", "topic"), ("news provider", "provider")]:
        answer = await world.answer(name, **{option: text})
        assert answer.ephemeral
        assert answer.content.startswith(("No articles on the topic **", "No provider **"))
        assert answer.allowed_mentions == {"parse": []}
    choices = await world.fake.send_autocomplete(
        world.home.guild, world.home.channel, world.home.member, "news topic", focused="topic",
        options={"topic": text},
    )  # fmt: skip
    assert choices == []


async def test_names_with_markdown_show_as_written_in_the_page_header(world: World) -> None:
    outlet = {"name": "Tech_News *Daily*", "domain": "technews.example.com"}
    draft = build_draft(article_fields(950, provider=outlet, topics=["Under_score"]))
    await world.store.articles.save([(draft, None)])
    by_provider = await world.answer("news provider", provider="technews.example.com")
    assert by_provider.content.startswith("**Tech\\_News \\*Daily\\*** — 1 to 1 of 1")
    by_topic = await world.answer("news topic", topic="Under_score")
    assert by_topic.content.startswith("**Under\\_score** — 1 to 1 of 1")


def test_a_page_whose_results_were_removed_says_so() -> None:
    gone = ArticlePage(articles=(), total=0, offset=2, limit=2)
    assert page_header("Search: AI", gone) == "**Search: AI** — no results any more"


async def test_an_answer_that_comes_too_late_is_one_warning_not_an_unexpected_error(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    callback = "/interactions/{interaction_id}/{interaction_token}/callback"
    world.fake.inject_fault(
        "POST", callback, status=404, code=10062, message="Unknown interaction", times=2
    )  # as if the bot had taken over 3 s: the answer, then the error report, are refused
    with caplog.at_level(logging.WARNING):
        await world.ask("news topics")
        await eventually(lambda: _warnings(caplog), bool)
    assert await _warnings(caplog) == [
        "news topics answered too late: Discord had expired the interaction (over 3 s)"
    ]


async def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING
            and r.name.startswith("bot.")]  # fmt: skip


async def test_two_quick_presses_of_next_move_two_pages(world: World) -> None:
    first = await (handle := await world.ask("news topic", topic="AI")).response()
    message = handle.original_message
    assert message is not None and first.content == "**AI** — 1 to 5 of 13 · page 1 of 3"
    next_id = str(button(first.components, "Next")["custom_id"])
    clicks = await asyncio.gather(
        *(world.fake.click_button(message, next_id, world.home.member) for _ in range(2))
    )
    answers = [await click.response() for click in clicks]
    assert sorted(a.content for a in answers) == [
        "**AI** — 11 to 13 of 13 · page 3 of 3",
        "**AI** — 6 to 10 of 13 · page 2 of 3",
    ]
