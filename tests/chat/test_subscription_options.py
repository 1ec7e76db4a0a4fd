"""/subscribe's options through the fake Discord: set, shown, changed, cleared, refused, posted."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.subscriptions import DEFAULT_OPTIONS, Subscription, SubscriptionOptions
from tests.chat.conftest import World, eventually
from tests.fake_discord.interactions import CallbackRecord
from tests.fake_discord.state import FakeChannel, FakeMessage, FakeRole, Perm

MESSAGES = "/channels/{channel_id}/messages"


async def subscribe(world: World, **options: Any) -> CallbackRecord:
    """Run /subscribe as the home server's moderator, on AI unless told otherwise."""
    options.setdefault("topic", "AI")
    return await world.answer("subscribe", user=world.home.moderator, **options)


async def subscription(world: World, channel: FakeChannel | None = None) -> Subscription:
    channel = channel or world.home.channel
    found = await world.store.subscriptions.get(
        guild_id=world.home.guild.id, channel_id=channel.id, topic="AI"
    )
    assert found is not None
    return found


async def role(world: World, name: str = "AI news", *, mentionable: bool = True) -> FakeRole:
    """Make a role in the home server and wait until the bot knows it."""
    made = await world.fake.create_role(world.home.guild, name, mentionable=mentionable)
    await eventually(
        lambda: asyncio.sleep(0, world.bot.get_guild(world.home.guild.id)),
        lambda guild: guild is not None and guild.get_role(made.id) is not None,
    )
    return made


async def forum(world: World, name: str = "press") -> FakeChannel:
    """Make a forum with an AI tag in the home server and wait until the bot knows it."""
    made = await world.fake.create_forum_channel(world.home.guild, name, tags=["Space", "AI"])
    await eventually(lambda: asyncio.sleep(0, world.bot.get_channel(made.id)), bool)
    return made


def posts(world: World, channel: FakeChannel) -> list[FakeMessage]:
    """Return what the posting job sent to a channel (not the answers to commands)."""
    return [
        m
        for m in world.fake.messages_in(channel)
        if m.interaction_metadata is None and m.webhook_id is None
    ]


async def post_now(world: World) -> str:
    answer = await (await world.ask("post now", user=world.home.admin)).followup()
    assert answer.content is not None
    return answer.content


async def delivered_titles(world: World, channel: FakeChannel) -> list[str]:
    deliveries = await world.store.ledger.deliveries(channel.id)
    articles = await world.store.articles.many([d.article_id for d in deliveries])
    return sorted(a.title for a in articles)


async def test_every_option_is_set_said_and_listed(world: World) -> None:
    home = world.home
    pinged = await role(world)
    answer = await subscribe(
        world,
        include='"ai chips" OR Nvidia',
        exclude="crypto",
        providers="Chip Report, techwire.example.com",
        exclude_providers="BYTEDAILY",
        mention=pinged,
        same_story="post",
        max_per_day=10,
        style="compact",
        thread=True,
    )
    shown = (
        '**AI** articles of quality 50 or more. Options: include "ai chips" OR nvidia · '
        "exclude crypto · only chipreport.example.net, techwire.example.com · never "
        f"bytedaily.example.com · pings <@&{pinged.id}> · same story: post · ≤ 10/day · "
        "compact · thread."
    )
    assert not answer.ephemeral and answer.content == f"<#{home.channel.id}> now gets new {shown}"
    assert answer.allowed_mentions == {"parse": []}  # saying which role pings it pings nobody
    assert (await subscription(world)).options == SubscriptionOptions(
        include='"ai chips" OR nvidia',
        exclude="crypto",
        providers=("chipreport.example.net", "techwire.example.com"),
        exclude_providers=("bytedaily.example.com",),
        mention_role_id=pinged.id,
        same_story="post",
        max_per_day=10,
        style="compact",
        thread=True,
    )
    listing = await world.answer("subscriptions")
    (line,) = listing.embeds[0]["description"].split("\n")
    assert line.startswith(
        f'<#{home.channel.id}> · **AI** · quality ≥ 50 · include "ai chips" OR nvidia · '
        "exclude crypto · only chipreport.example.net, techwire.example.com · never "
        f"bytedaily.example.com · pings <@&{pinged.id}> · same story: post · ≤ 10/day · "
        "compact · thread · since <t:"
    )
    assert line.endswith(":R> · active")


async def test_subscribing_again_changes_only_the_options_given(world: World) -> None:
    pinged = await role(world)
    await subscribe(world, min_quality=70, mode="digest", include="chips", mention=pinged)
    answer = await subscribe(world, max_per_day=3)
    assert answer.content == (
        f"Updated: <#{world.home.channel.id}> already followed **AI**; its minimum quality is "
        f"now 70 as a digest. Options: include chips · pings <@&{pinged.id}> · ≤ 3/day."
    )
    again = await subscribe(world, include="robots")
    assert "Options: include robots · pings" in (again.content or "")
    found = await subscription(world)
    assert (found.min_quality, found.mode) == (70, "digest")
    assert found.options == SubscriptionOptions(
        include="robots", mention_role_id=pinged.id, max_per_day=3
    )


async def test_clear_puts_the_named_options_back_and_all_of_them(world: World) -> None:
    pinged = await role(world)
    await subscribe(world, include="chips", exclude="crypto", mention=pinged, style="compact")
    answer = await subscribe(world, clear="include, mention")
    assert (answer.content or "").endswith("Options: exclude crypto · compact.")
    assert (await subscription(world)).options == SubscriptionOptions(
        exclude="crypto", style="compact"
    )
    restart = await subscribe(world, clear="all", max_per_day=5)  # all, then what is given
    assert (await subscription(world)).options == SubscriptionOptions(max_per_day=5)
    assert (restart.content or "").endswith("Options: ≤ 5/day.")
    none = await subscribe(world, clear="max_per_day")
    assert (none.content or "").endswith("Options: none.")
    assert (await subscription(world)).options == DEFAULT_OPTIONS


async def test_clear_autocompletes_option_names_and_providers_autocomplete_the_last_one(
    world: World,
) -> None:
    home = world.home

    async def choices(focused: str, current: str) -> list[Any]:
        return await world.fake.send_autocomplete(
            home.guild, home.channel, home.moderator, "subscribe", focused=focused,
            options={"topic": "AI", focused: current},
        )  # fmt: skip

    assert {c["value"] for c in await choices("clear", "include, ex")} == {
        "include, exclude", "include, exclude_providers"
    }  # fmt: skip
    assert {"value": "Chip Report, techwire.example.com", "name": (
        "Chip Report, TechWire — techwire.example.com"
    )} in await choices("providers", "Chip Report, tech")  # fmt: skip


async def test_every_bad_option_gets_its_line_and_changes_nothing(world: World) -> None:
    home = world.home
    quiet = await role(world, "quiet", mentionable=False)
    elsewhere = await world.fake.create_role(world.away.guild, "Away news", mentionable=True)
    await subscribe(world, include="chips", max_per_day=5, providers="TechWire")
    before = await subscription(world)
    hint = 'Write words, "phrases" or OR, e.g. `nvidia OR "ai chips"`.'
    cases: list[tuple[dict[str, Any], str]] = [
        ({"include": "   "}, f"`include` is empty. {hint}"),
        ({"include": "OR OR"}, f"`include` has no word to look for. {hint}"),
        ({"exclude": "word " * 41}, f"`exclude` is 205 characters long; keep it to 200. {hint}"),
        (
            {"providers": ", ".join(f"p{n}.example.com" for n in range(26))},
            "`providers` lists 26 providers; keep it to 25.",
        ),
        (
            {"exclude_providers": "TechWire, Chip Reprot"},
            "No provider **Chip Reprot** (in `exclude_providers`). Did you mean **Chip Report**? "
            "Start typing in `exclude_providers` to see the providers.",
        ),
        (
            {"mention": home.guild.everyone},
            "`mention` cannot be @everyone: pick a role that the people who want these "
            "articles take.",
        ),
        (
            {"mention": elsewhere},
            "That role is not in this server: pick one of this server's roles.",
        ),
        ({"max_per_day": 0}, "`max_per_day` must be from 1 to 100; you gave 0."),
        ({"max_per_day": 101}, "`max_per_day` must be from 1 to 100; you gave 101."),
        (
            {"clear": "include, colour"},
            "`clear` takes option names separated by commas ("
            "include, exclude, providers, exclude_providers, mention, same_story, max_per_day, "
            "style, thread, or all), not colour.",
        ),
        (
            {"clear": "include", "include": "robots"},
            "`include` is both given and cleared: do one or the other.",
        ),
    ]
    for options, expected in cases:
        answer = await subscribe(world, **options)
        assert answer.ephemeral and answer.content == expected, options
        assert await subscription(world) == before, options
    # Channel permissions the chosen options need: here the bot has them from @everyone.
    await world.fake.set_permission_overwrite(
        home.channel, home.guild.id, deny=Perm.MENTION_EVERYONE | Perm.CREATE_PUBLIC_THREADS
    )
    await eventually(
        lambda: asyncio.sleep(0, world.bot.get_channel(home.channel.id)),
        lambda channel: not channel.permissions_for(channel.guild.me).mention_everyone,
    )
    for options, expected in [
        (
            {"mention": quiet},
            f'I cannot ping <@&{quiet.id}> in <#{home.channel.id}>: turn on "Allow anyone to '
            "@mention this role\" in the role's settings, or grant me Mention Everyone there.",
        ),
        (
            {"thread": True},
            f"I cannot post in <#{home.channel.id}>: I am missing Create Public Threads. "
            "Grant them to me in that channel and try again.",
        ),
    ]:
        answer = await subscribe(world, **options)
        assert answer.ephemeral and answer.content == expected, options
        assert await subscription(world) == before, options


async def test_a_forum_refuses_a_thread_and_names_create_posts(world: World) -> None:
    press = await forum(world)
    await subscribe(world, channel=press)
    before = await subscription(world, press)
    refused = await subscribe(world, channel=press, thread=True)
    assert refused.ephemeral and refused.content == (
        f"<#{press.id}> is a forum, whose posts are threads already: leave `thread` off there."
    )
    await world.fake.set_permission_overwrite(press, world.fake.bot, deny=Perm.SEND_MESSAGES)
    await eventually(
        lambda: asyncio.sleep(0, world.bot.get_channel(press.id)),
        lambda channel: not channel.permissions_for(channel.guild.me).send_messages,
    )
    denied = await subscribe(world, channel=press, style="compact")
    assert denied.ephemeral
    assert (denied.content or "").startswith(
        f"I cannot post in <#{press.id}>: I am missing Create Posts"
    )
    assert await subscription(world, press) == before


async def test_a_forum_gets_a_post_per_article_titled_and_tagged(world: World) -> None:
    press = await forum(world)
    answer = await subscribe(world, channel=press)
    assert answer.content == f"<#{press.id}> now gets new **AI** articles of quality 50 or more."
    assert (await post_now(world)).startswith("Posted 3 articles.")
    made = world.fake.threads_in(press)
    titles = await delivered_titles(world, press)
    assert len(made) == len(titles) == 3
    assert sorted(post.name for post in made) == titles  # the titles fit in 100 characters
    (ai_tag,) = [int(tag["id"]) for tag in press.available_tags if tag["name"] == "AI"]
    assert all(post.applied_tags == [ai_tag] for post in made)


async def test_thread_opens_one_thread_per_post(world: World) -> None:
    channel = world.home.channel
    await subscribe(world, thread=True)
    await post_now(world)
    sent = posts(world, channel)
    threads = world.fake.threads_in(channel)
    assert len(sent) == len(threads) == 3
    assert {t.id for t in threads} == {m.id for m in sent}  # each opened on its message
    assert sorted(t.name for t in threads) == await delivered_titles(world, channel)


async def test_mention_pings_exactly_that_role(world: World) -> None:
    pinged = await role(world)
    await role(world, "Everybody else")
    await subscribe(world, mention=pinged)
    await post_now(world)
    sent = posts(world, world.home.channel)
    assert len(sent) == 3
    requests = [
        r for r in world.fake.find_requests("POST", MESSAGES)
        if r.params.get("channel_id") == str(world.home.channel.id)
    ]  # fmt: skip
    assert len(requests) == 3
    assert all(r.json["allowed_mentions"] == {"parse": [], "roles": [pinged.id]} for r in requests)
    for message in sent:
        answered = message.to_payload()
        assert answered["mention_roles"] == [str(pinged.id)]
        assert answered["mention_everyone"] is False


async def test_compact_posts_one_line_per_article(world: World) -> None:
    await subscribe(world, style="compact")
    await post_now(world)
    sent = posts(world, world.home.channel)
    assert len(sent) == 3 and all(message.embeds == [] for message in sent)
    deliveries = await world.store.ledger.deliveries(world.home.channel.id)
    articles = {a.link: a for a in await world.store.articles.many(
        [d.article_id for d in deliveries])}  # fmt: skip
    for message in sent:
        (line,) = message.content.splitlines()
        (link,) = [url for url in articles if f"]({url})" in line]
        assert line.endswith(f" · {articles[link].provider.name}")


async def test_subscriptions_say_where_alerts_go_and_why_the_last_one_failed(
    world: World,
) -> None:
    home = world.home
    await subscribe(world)
    await world.store.alerts.set_channel(home.guild.id, home.channel.id, home.admin.id)
    listing = await world.answer("subscriptions")
    (field,) = listing.embeds[0]["fields"]
    assert field == {
        "name": "Alerts",
        "value": f"Alerts about posting go to <#{home.channel.id}>.",
        "inline": False,
    }
    await world.store.alerts.record_failure(home.guild.id, "Missing Access in the channel")
    again = await world.answer("subscriptions")
    value = again.embeds[0]["fields"][0]["value"]
    assert value.startswith(
        f"Alerts about posting go to <#{home.channel.id}>. The last one could not be posted <t:"
    )
    assert value.endswith(":R>: Missing Access in the channel")


async def test_a_long_list_of_subscriptions_stays_within_discords_limits(world: World) -> None:
    options = SubscriptionOptions(
        include=" ".join(f"word{n}" for n in range(30)),
        exclude=" ".join(f"other{n}" for n in range(25)),
        providers=tuple(f"provider-{n}.example.com" for n in range(25)),
    )
    for number in range(20):
        await world.store.subscriptions.subscribe(
            guild_id=world.home.guild.id, channel_id=1000 + number, topic="AI", min_quality=50,
            options=options,
        )  # fmt: skip
    listing = await world.answer("subscriptions")
    (embed,) = listing.embeds
    assert embed["title"] == "Subscriptions in home (20)"
    lines = embed["description"].split("\n")
    assert 1 < len(lines) < 20 and len(embed["description"]) <= 4096
    assert lines[0].startswith("<#1000> · **AI** · quality ≥ 50 · include word0 word1 ")
    assert lines[-1] == f"…and {21 - len(lines)} more: too many to show at once."
