"""End-to-end tests of the fake Discord with the real, unmodified discord.py client.

A throwaway ``commands.AutoShardedBot`` defined here logs in over 127.0.0.1,
syncs its commands and answers interactions the tests inject.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from . import (
    CallbackType,
    FakeChannel,
    FakeDiscord,
    FakeDiscordTimeout,
    FakeGuild,
    FakeUser,
    Perm,
    running_bot,
)
from .gateway import GatewaySession
from .openapi import OVERRIDES, SPEC_PATH, ApiDescription
from .routing import Reply, Router

REPO_ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- the tiny bot
class CardView(discord.ui.View):
    """One button that edits the message it sits on."""

    def __init__(self, bot: TinyBot) -> None:
        super().__init__(timeout=None)
        self.bot = bot

    @discord.ui.button(label="More", custom_id="card:more", style=discord.ButtonStyle.primary)
    async def more(
        self, interaction: discord.Interaction, button: discord.ui.Button[CardView]
    ) -> None:
        self.bot.clicks.append(interaction.user.name)
        await interaction.response.edit_message(
            content=f"clicked by {interaction.user.name}", view=None
        )


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    """A modal with one text input."""

    text: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Text", custom_id="feedback:text"
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


class TinyBot(commands.AutoShardedBot):
    """An AutoShardedBot with a handful of slash commands."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.1,
            **kwargs,  # type: ignore[arg-type]
        )
        self.clicks: list[str] = []
        self.errors: list[BaseException] = []
        self.raw_callback: dict[str, object] = {}
        self.deleted_channels: asyncio.Queue[discord.abc.GuildChannel] = asyncio.Queue()
        self.joined: asyncio.Queue[discord.Guild] = asyncio.Queue()
        self.removed: asyncio.Queue[discord.Guild] = asyncio.Queue()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s sleep before each non-initial IDENTIFY."""

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        self.deleted_channels.put_nowait(channel)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.joined.put_nowait(guild)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.removed.put_nowait(guild)

    async def setup_hook(self) -> None:
        tree = self.tree

        @tree.command(description="Replies pong")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True)

        @tree.command(description="Shows the permission bitfields discord.py saw")
        async def perms(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(
                f"{interaction.permissions.value}:{interaction.app_permissions.value}"
            )

        async def complete_text(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            words = ["apple", "apricot", "banana"]
            return [
                app_commands.Choice(name=w.title(), value=w) for w in words if w.startswith(current)
            ]

        @tree.command(description="Echoes text")
        @app_commands.autocomplete(text=complete_text)
        async def echo(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.send_message(
                text, allowed_mentions=discord.AllowedMentions.none()
            )

        @tree.command(description="An embed with a button")
        async def card(interaction: discord.Interaction) -> None:
            embed = discord.Embed(
                title="Headline", description="Body", url="https://example.invalid/a"
            )
            await interaction.response.send_message(embed=embed, view=CardView(self))

        @tree.command(description="Posts to a channel")
        async def announce(
            interaction: discord.Interaction, channel: discord.TextChannel, text: str
        ) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            try:
                message = await channel.send(text)
            except discord.HTTPException as exc:
                await interaction.followup.send(f"failed {exc.status} {exc.code}")
                return
            await interaction.followup.send(f"posted {message.id}")

        @tree.command(description="Sends a file")
        async def report(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(
                "see file", file=discord.File(io.BytesIO(b"hello"), "r.txt")
            )

        @tree.command(description="Answers too late")
        async def slow(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.3)
            try:
                await interaction.response.send_message("late")
            except discord.HTTPException as exc:
                self.errors.append(exc)

        @tree.command(description="Responds, edits, follows up, edits that, deletes")
        async def steps(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("step 1")
            await interaction.edit_original_response(content="step 2")
            extra = await interaction.followup.send("extra", wait=True)
            await extra.edit(content="extra edited")
            original = await interaction.original_response()
            await interaction.followup.send(f"original said {original.content}", ephemeral=True)
            await interaction.delete_original_response()

        @tree.command(description="Opens a modal")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(FeedbackModal())

        @tree.command(description="Never answers")
        async def silent(interaction: discord.Interaction) -> None:
            return None

        @tree.command(description="Answers with the body a test planted in raw_callback")
        async def raw(interaction: discord.Interaction) -> None:
            route = discord.http.Route(
                "POST",
                "/interactions/{interaction_id}/{interaction_token}/callback",
                interaction_id=interaction.id,
                interaction_token=interaction.token,
            )
            try:
                await self.http.request(route, json=self.raw_callback)
            except discord.HTTPException as exc:
                self.errors.append(exc)

        news = app_commands.Group(name="news", description="News commands")

        @news.command(name="topic", description="Headlines on a topic")
        async def topic(
            interaction: discord.Interaction, topic: str, limit: app_commands.Range[int, 1, 10] = 5
        ) -> None:
            await interaction.response.send_message(f"{topic}:{limit}")

        tree.add_command(news)


# -------------------------------------------------------------------- fixtures
@dataclass
class World:
    """The guild setup most tests use."""

    guild: FakeGuild
    news: FakeChannel
    general: FakeChannel
    alice: FakeUser


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        assert server.internal_errors == []
        assert server.unhandled_requests == [], [r.summary() for r in server.unhandled_requests]


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    guild = fake.add_guild("Test Guild")
    news = fake.add_text_channel(guild, "news")
    general = fake.add_text_channel(guild, "general")
    alice = fake.add_user("alice")
    fake.add_member(guild, alice)
    return World(guild, news, general, alice)


@pytest.fixture
async def bot(fake: FakeDiscord, world: World) -> AsyncIterator[TinyBot]:
    async with running_bot(fake, TinyBot()) as client:
        await client.tree.sync()
        yield client


def text_channel(bot: TinyBot, channel: FakeChannel) -> discord.TextChannel:
    found = bot.get_channel(channel.id)
    assert isinstance(found, discord.TextChannel)
    return found


def snowflake_on_shard(shard: int, count: int, seed: int) -> int:
    """A realistic 19-digit snowflake whose guild lands on ``shard``."""
    timestamp = (seed >> 22) - ((seed >> 22) % count) + shard
    return (timestamp << 22) | 0x21000


# ----------------------------------------------------------------------- login
async def test_login_ready_with_guilds(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    other = fake.add_guild("Second Guild")
    assert bot.user is not None and bot.user.id == fake.bot.id
    assert bot.application_id == fake.application_id
    assert {g.id for g in bot.guilds} == {world.guild.id}  # added after READY: not known
    assert other.id not in {g.id for g in bot.guilds}
    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.me is not None
    assert {c.name for c in guild.text_channels} == {"news", "general"}
    assert bot.latency < 1.0  # the immediate heartbeat was ACKed
    assert fake.gateway.identify_count == 1
    session = fake.gateway.live_sessions()[0]
    assert session.connection is not None and session.connection.compress == "zlib-stream"
    assert (
        session.identify["shard"] == [0, 1] and session.intents == discord.Intents.default().value
    )
    for path in ("/users/@me", "/oauth2/applications/@me", "/gateway/bot"):
        request = fake.last_request("GET", path)
        assert request.status == 200
        assert request.headers["Authorization"] == f"Bot {fake.token}"


@pytest.mark.parametrize("client_kind", ["client", "bot"])
async def test_plain_client_and_bot_connect(
    fake: FakeDiscord, world: World, client_kind: str
) -> None:
    client: discord.Client
    if client_kind == "client":
        client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.1)
    else:
        client = commands.Bot(
            command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.1
        )
    async with running_bot(fake, client):
        assert [g.id for g in client.guilds] == [world.guild.id]
        session = fake.gateway.live_sessions()[0]
        assert session.identify.get("shard") is None  # not sharded
    assert not fake.find_requests("GET", "/gateway/bot")


async def test_wrong_token_is_a_login_failure(fake: FakeDiscord, world: World) -> None:
    client = discord.Client(intents=discord.Intents.default())
    with fake.discord_pointed_here(), pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()


# ---------------------------------------------------------------------- sync
async def test_sync_stores_commands(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    names = {c["name"] for c in fake.commands()}
    assert {"ping", "echo", "card", "announce", "news"} <= names
    news = next(c for c in fake.commands() if c["name"] == "news")
    assert news["options"][0]["name"] == "topic" and news["options"][0]["type"] == 1
    first_ids = {c["name"]: c["id"] for c in fake.commands()}

    fetched = await bot.tree.fetch_commands()
    assert {c.name: str(c.id) for c in fetched} == first_ids
    await bot.tree.sync()  # a re-sync keeps ids
    assert {c["name"]: c["id"] for c in fake.commands()} == first_ids

    guild = discord.Object(world.guild.id)
    bot.tree.copy_global_to(guild=guild)
    synced = await bot.tree.sync(guild=guild)
    assert {c.name for c in synced} == names
    assert all(c["guild_id"] == str(world.guild.id) for c in fake.commands(world.guild))
    assert (
        fake.last_request("PUT", "/applications/{application_id}/guilds/{guild_id}/commands").status
        == 200
    )
    assert fake.sync_count == 3


# -------------------------------------------------------------- interactions
async def test_slash_command_callback(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    handle = await fake.send_command(world.guild, world.news, world.alice, "ping")
    response = await handle.response()
    assert response.type == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE
    assert response.content == "pong"
    assert response.ephemeral
    assert handle.original_message is not None and handle.original_message.content == "pong"
    request = fake.last_request(
        "POST", "/interactions/{interaction_id}/{interaction_token}/callback"
    )
    assert request.query == {"with_response": "1"}
    assert request.json == {"type": 4, "data": {"tts": False, "content": "pong", "flags": 64}}


async def test_permissions_reach_the_interaction(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    handle = await fake.send_command(
        world.guild, world.news, world.alice, "perms", permissions=Perm.VIEW_CHANNEL
    )
    computed_app = fake.state.bot_permissions_in(world.news)
    assert (await handle.response()).content == f"{Perm.VIEW_CHANNEL}:{computed_app}"

    handle = await fake.send_command(
        world.guild, world.news, world.alice, "perms", app_permissions=Perm.ADMINISTRATOR
    )
    expected_user = fake.state.permissions_in(world.news, world.alice.id)
    assert (await handle.response()).content == f"{expected_user}:{Perm.ADMINISTRATOR}"


async def test_subcommand_with_options(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    handle = await fake.send_command(
        world.guild,
        world.news,
        world.alice,
        "news",
        subcommand="topic",
        options={"topic": "AI", "limit": 3},
    )
    assert (await handle.response()).content == "AI:3"
    option = handle.payload["data"]["options"][0]
    assert option["type"] == 1 and option["name"] == "topic"
    assert option["options"] == [
        {"name": "topic", "type": 3, "value": "AI"},
        {"name": "limit", "type": 4, "value": 3},
    ]
    handle = await fake.send_command(
        world.guild, None, None, "news topic", options={"topic": "space"}
    )
    assert (await handle.response()).content == "space:5"
    with pytest.raises(ValueError, match="unknown option"):
        await fake.send_command(world.guild, None, None, "news topic", options={"topik": "typo"})


async def test_autocomplete_choices(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    choices = await fake.send_autocomplete(
        world.guild, world.news, world.alice, "echo", focused="text", options={"text": "ap"}
    )
    assert choices == [{"name": "Apple", "value": "apple"}, {"name": "Apricot", "value": "apricot"}]
    handle = await fake.start_autocomplete(world.guild, world.news, None, "echo", focused="text")
    assert [c["value"] for c in await handle.choices()] == ["apple", "apricot", "banana"]
    assert handle.payload["data"]["options"] == [
        {"name": "text", "type": 3, "value": "", "focused": True}
    ]


async def test_button_click_reaches_view_and_edits(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    handle = await fake.send_command(world.guild, world.news, world.alice, "card")
    response = await handle.response()
    assert response.embeds[0]["title"] == "Headline"
    assert response.components[0]["components"][0]["custom_id"] == "card:more"
    message = handle.original_message
    assert message is not None and message.custom_ids == ["card:more"]

    click = await fake.click_button(message, "card:more", world.alice)
    assert (await click.response()).type == CallbackType.UPDATE_MESSAGE
    edit = await click.edit()
    assert edit.content == "clicked by alice" and edit.components == []
    assert bot.clicks == ["alice"]
    assert fake.get_message(message.id).content == "clicked by alice"
    assert fake.get_message(message.id).components == []
    with pytest.raises(ValueError, match="no component"):
        await fake.click_button(message, "card:missing")


async def test_deferred_response_then_followup(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    handle = await fake.send_command(
        world.guild,
        world.general,
        world.alice,
        "announce",
        options={"channel": world.news, "text": "hello"},
    )
    assert handle.payload["data"]["resolved"]["channels"][str(world.news.id)]["name"] == "news"
    response = await handle.response()
    assert response.type == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
    assert response.ephemeral
    posted = await fake.wait_for_message(world.news)
    assert posted.content == "hello" and posted.author.id == fake.bot.id
    followup = await handle.followup()
    assert followup.content == f"posted {posted.id}"
    # The first follow-up after a defer replaces the "thinking" message.
    assert followup.message_id == handle.original_message_id
    original = handle.original_message
    assert original is not None and original.ephemeral and not original.flags & original.LOADING


async def test_multipart_response_is_recorded(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    handle = await fake.send_command(world.guild, world.news, None, "report")
    response = await handle.response()
    assert response.content == "see file"
    assert [(f.filename, f.data) for f in response.files] == [("r.txt", b"hello")]
    message = handle.original_message
    assert message is not None and message.attachments[0].filename == "r.txt"
    request = fake.last_request(
        "POST", "/interactions/{interaction_id}/{interaction_token}/callback"
    )
    assert request.is_multipart and "payload_json" in request.form


async def test_edits_followups_and_deletes(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    handle = await fake.send_command(world.guild, world.news, None, "steps")
    await handle.wait_until(lambda h: any(a.kind == "delete" for a in h.actions))
    assert (await handle.response()).content == "step 1"
    kinds = [(a.kind, a.target, a.content) for a in handle.actions]
    assert kinds == [
        ("edit", "original", "step 2"),
        ("followup", "followup", "extra"),
        ("edit", "followup", "extra edited"),
        ("followup", "followup", "original said step 2"),
        ("delete", "original", None),
    ]
    assert handle.followups[1].ephemeral
    assert handle.original_message is not None and handle.original_message.deleted
    extra = fake.get_message(handle.followups[0].message_id)
    assert extra.content == "extra edited" and extra.history[0]["content"] == "extra"
    assert (
        fake.last_request("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original").status
        == 200
    )
    assert fake.find_requests("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")


async def test_modal_round_trip(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    handle = await fake.send_command(world.guild, world.news, world.alice, "feedback")
    modal = await handle.response()
    assert modal.type == CallbackType.MODAL and modal.data["title"] == "Feedback"
    submitted = await fake.submit_modal(
        world.guild, world.news, world.alice, modal.data["custom_id"], {"feedback:text": "great"}
    )
    answer = await submitted.response()
    assert answer.content == "thanks: great" and answer.ephemeral


async def test_dm_interaction(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    handle = await fake.send_command(None, None, world.alice, "ping")
    assert "member" not in handle.payload and handle.payload["user"]["username"] == "alice"
    assert (await handle.response()).content == "pong"


async def test_silent_bot_fails_clearly(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    handle = await fake.send_command(world.guild, world.news, None, "silent")
    with pytest.raises(FakeDiscordTimeout, match="/silent"):
        await handle.response(timeout=0.2)


async def test_late_ack_is_unknown_interaction(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    fake.interaction_ack_deadline = 0.1
    handle = await fake.send_command(world.guild, world.news, None, "slow")
    await fake.wait_for_request(
        "POST", "/interactions/{interaction_id}/{interaction_token}/callback"
    )
    assert handle.callback is None and handle.rejected_callbacks
    assert isinstance(bot.errors[0], discord.NotFound) and bot.errors[0].code == 10062


# ------------------------------------------------------------ channel messages
async def test_nonce_enforcement_returns_the_original(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    channel = text_channel(bot, world.news)
    first = await channel.send("breaking", nonce="n-1")
    again = await channel.send("breaking", nonce="n-1")
    other = await channel.send("breaking", nonce="n-2")
    assert again.id == first.id != other.id
    assert [m.id for m in fake.messages_in(world.news)] == [first.id, other.id]
    bodies = [r.json for r in fake.find_requests("POST", f"/channels/{world.news.id}/messages")]
    assert {k: bodies[0][k] for k in ("content", "nonce", "enforce_nonce")} == {
        "content": "breaking",
        "nonce": "n-1",
        "enforce_nonce": True,
    }
    assert len(bodies) == 3


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (403, 50001, discord.Forbidden),
        (403, 50013, discord.Forbidden),
        (404, 10003, discord.NotFound),
    ],
)
async def test_injected_errors_surface(
    fake: FakeDiscord,
    world: World,
    bot: TinyBot,
    status: int,
    code: int,
    error: type[discord.HTTPException],
) -> None:
    channel = text_channel(bot, world.news)
    fault = fake.inject_fault(
        "POST", f"/channels/{world.news.id}/messages", status=status, code=code
    )
    with pytest.raises(error) as caught:
        await channel.send("x")
    assert caught.value.status == status and caught.value.code == code
    assert fault.hits == 1 and fault.exhausted
    assert (await channel.send("y")).content == "y"  # the fault was used up


async def test_429_with_via_is_retried(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    channel = text_channel(bot, world.news)
    fake.inject_fault("POST", "/channels/{channel_id}/messages", status=429, retry_after=0.05)
    started = time.monotonic()
    message = await channel.send("after a 429")
    assert time.monotonic() - started >= 0.05
    statuses = [r.status for r in fake.find_requests("POST", "/channels/{channel_id}/messages")]
    assert statuses == [429, 200]
    assert fake.get_message(message.id).content == "after a 429"

    fake.inject_fault("POST", "/channels/{channel_id}/messages", status=429, via=False)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send("banned by cloudflare")
    assert caught.value.status == 429


async def test_permission_overwrite_changes_what_the_bot_sees(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    channel = text_channel(bot, world.news)
    assert channel.permissions_for(channel.guild.me).send_messages
    assert world.guild.bot_role is not None
    await fake.set_permission_overwrite(world.news, world.guild.bot_role, deny=Perm.SEND_MESSAGES)
    for _ in range(50):
        if not channel.permissions_for(channel.guild.me).send_messages:
            break
        await asyncio.sleep(0.01)
    assert not channel.permissions_for(channel.guild.me).send_messages
    with pytest.raises(discord.Forbidden) as caught:
        await channel.send("nope")
    assert caught.value.code == 50013

    await fake.set_bot_permissions(world.guild, Perm.DEFAULT_BOT | Perm.MANAGE_MESSAGES)
    for _ in range(50):
        if channel.guild.me.guild_permissions.manage_messages:
            break
        await asyncio.sleep(0.01)
    assert channel.guild.me.guild_permissions.manage_messages


async def test_fetch_endpoints_and_delay(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    guild = await bot.fetch_guild(world.guild.id)
    assert guild.name == "Test Guild"
    channels = await guild.fetch_channels()
    assert {c.name for c in channels} == {"news", "general"}
    member = await guild.fetch_member(world.alice.id)
    assert member.name == "alice"
    fake.inject_delay("GET", f"/channels/{world.news.id}", 0.1, times=1)
    started = time.monotonic()
    channel = await bot.fetch_channel(world.news.id)
    assert time.monotonic() - started >= 0.1
    assert isinstance(channel, discord.TextChannel) and channel.name == "news"
    with pytest.raises(discord.NotFound) as caught:
        await guild.fetch_member(1)
    assert caught.value.code == 10007


async def test_validation_rejects_oversized_content(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await text_channel(bot, world.news).send("x" * 2001)
    assert caught.value.status == 400 and caught.value.code == 50035


async def test_rate_limits_pace_discord_py(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    fake.rate_limits.message_limit = 2
    fake.rate_limits.message_window = 0.2
    fake.rate_limits.enabled = True
    channel = text_channel(bot, world.news)
    started = time.monotonic()
    for i in range(5):
        await channel.send(f"m{i}")
    assert time.monotonic() - started >= 0.35  # paced by the headers: 3 windows
    request = fake.last_request("POST", "/channels/{channel_id}/messages")
    assert request.status == 200
    assert len(fake.messages_in(world.news)) == 5


async def test_rate_limit_429_when_over(fake: FakeDiscord, world: World) -> None:
    fake.rate_limits.enabled = True
    fake.rate_limits.message_limit = 1
    fake.rate_limits.message_window = 10.0
    url = f"{fake.api_url}/channels/{world.news.id}/messages"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json={"content": "a"}, headers=headers) as first:
            assert first.status == 200
            assert first.headers["X-RateLimit-Limit"] == "1"
            assert first.headers["X-RateLimit-Remaining"] == "0"
            assert float(first.headers["X-RateLimit-Reset-After"]) > 9
            assert first.headers["X-RateLimit-Bucket"]
            assert first.headers["Content-Type"] == "application/json"
        async with session.post(url, json={"content": "b"}, headers=headers) as second:
            assert second.status == 429
            assert second.headers["Via"]
            body = await second.json()
            assert body["global"] is False and body["retry_after"] > 9
    assert [h.scope for h in fake.rate_limits.hits] == ["user"]


async def test_global_rate_limit(fake: FakeDiscord, world: World) -> None:
    fake.rate_limits.enabled = True
    fake.rate_limits.global_limit = 2
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(3):
            async with session.get(f"{fake.api_url}/users/@me", headers=headers) as resp:
                statuses.append(resp.status)
                last_headers = resp.headers
        assert statuses == [200, 200, 429]
        assert last_headers["X-RateLimit-Global"] == "true"
        assert last_headers["X-RateLimit-Scope"] == "global"
    assert [h.scope for h in fake.rate_limits.hits] == ["global"]


# ------------------------------------------------------------------- gateway
def delivered(session: GatewaySession, interaction_id: int) -> bool:
    """Whether a session was sent the INTERACTION_CREATE for ``interaction_id``."""
    return any(
        frame["t"] == "INTERACTION_CREATE" and frame["d"]["id"] == str(interaction_id)
        for frame in session.buffer
    )


@pytest.mark.parametrize("how", ["explicit", "recommended"])
async def test_two_shards_route_guilds_and_interactions(fake: FakeDiscord, how: str) -> None:
    seed = fake.state.snowflakes.next()
    guilds = [
        fake.add_guild(f"G{shard}", id=snowflake_on_shard(shard, 2, seed)) for shard in (0, 1)
    ]
    channels = [fake.add_text_channel(g, "news") for g in guilds]
    if how == "explicit":
        client = TinyBot(shard_count=2)
    else:
        fake.recommended_shards = 2
        client = TinyBot()
    async with running_bot(fake, client) as sharded:
        await sharded.tree.sync()
        assert sharded.shard_count == 2
        sessions = sorted(fake.gateway.live_sessions(), key=lambda s: s.shard_id)
        assert [(s.shard_id, s.shard_count) for s in sessions] == [(0, 2), (1, 2)]
        for shard, (guild, channel) in enumerate(zip(guilds, channels, strict=True)):
            assert (guild.id >> 22) % 2 == shard
            cached = sharded.get_guild(guild.id)
            assert cached is not None and cached.shard_id == shard
            handle = await fake.send_command(guild, channel, None, "ping")
            assert (await handle.response()).content == "pong"
            assert delivered(sessions[shard], handle.id)
            assert not delivered(sessions[1 - shard], handle.id)
    assert bool(fake.find_requests("GET", "/gateway/bot")) == (how == "recommended")


async def test_channel_delete_reaches_the_bot(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    await fake.delete_channel(world.general)
    deleted = await asyncio.wait_for(bot.deleted_channels.get(), timeout=2)
    assert deleted.id == world.general.id
    assert bot.get_channel(world.general.id) is None
    with pytest.raises(discord.NotFound) as caught:
        await bot.fetch_channel(world.general.id)
    assert caught.value.code == 10003


async def test_guild_join_and_removal(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    newcomer = fake.add_guild("New Guild", bot_member=False)
    fake.add_text_channel(newcomer, "lobby")
    await fake.bot_join_guild(newcomer)
    joined = await asyncio.wait_for(bot.joined.get(), timeout=2)
    assert joined.id == newcomer.id and [c.name for c in joined.text_channels] == ["lobby"]
    await fake.remove_bot_from_guild(world.guild)
    removed = await asyncio.wait_for(bot.removed.get(), timeout=2)
    assert removed.id == world.guild.id
    assert bot.get_guild(world.guild.id) is None


async def test_reconnect_resumes_and_replays(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    await fake.gateway.reconnect()
    await fake.notifier.wait_for(lambda: fake.gateway.resume_count or None, 3, lambda: "no RESUME")
    session = fake.gateway.live_sessions()[0]
    assert session.connection is not None and session.connection.path == "/gateway/resume"
    assert fake.gateway.identify_count == 1
    handle = await fake.send_command(world.guild, world.news, None, "ping")
    assert (await handle.response()).content == "pong"

    # Events sent while the socket is down are replayed on RESUME.
    await fake.gateway.drop(code=4000)
    await fake.delete_channel(world.general)
    deleted = await asyncio.wait_for(bot.deleted_channels.get(), timeout=5)
    assert deleted.id == world.general.id
    assert fake.gateway.resume_count == 2


# --------------------------------------------------------- control + standalone
async def test_control_api_drives_interactions(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    async with aiohttp.ClientSession(base_url=fake.base_url) as http:
        async with http.get("/_control/health") as resp:
            health = await resp.json()
        assert health["api_url"] == fake.api_url and health["gateway_url"] == fake.gateway_url
        body = {
            "guild_id": str(world.guild.id),
            "channel_id": world.news.id,
            "name": "news",
            "subcommand": "topic",
            "options": {"topic": "AI", "limit": 2},
        }
        async with http.post("/_control/interactions/command", json=body) as resp:
            created = await resp.json()
        async with http.get(
            f"/_control/interactions/{created['id']}", params={"wait": "callback"}
        ) as resp:
            result = await resp.json()
        assert result["callback"]["data"]["content"] == "AI:2"
        async with http.get("/_control/requests", params={"method": "PUT"}) as resp:
            puts = await resp.json()
        assert puts[0]["route"] == "/applications/{application_id}/commands"


async def test_standalone_server_subprocess(tmp_path: Path) -> None:
    state = {"token": "tok", "guilds": [{"name": "Solo", "channels": [{"name": "news"}]}]}
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fake_discord",
        "--port",
        "0",
        "--state-file",
        str(state_file),
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=10)
        info = json.loads(line)
        assert info["token"] == "tok" and info["port"] > 0
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{info['control_url']}/state") as resp:
                dumped = await resp.json()
            async with http.get(
                f"{info['api_url']}/users/@me", headers={"Authorization": "Bot tok"}
            ) as resp:
                assert resp.headers["Content-Type"] == "application/json"
                me = await resp.json()
        assert dumped["guilds"][0]["channels"][0]["name"] == "news"
        assert me["bot"] is True
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), timeout=10)
    assert proc.returncode == 0


# ------------------------------------------------- Discord's own API description
async def send_raw(bot: TinyBot, channel: FakeChannel, body: dict[str, object]) -> object:
    """Create a message with exactly ``body``, past discord.py's own shaping of it."""
    route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=channel.id)
    return await bot.http.request(route, json=body)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"embeds": [{"title": "x" * 300}]}, "embeds.0.title", "BASE_TYPE_MAX_LENGTH"),
        (
            {"content": "hi", "allowed_mentions": {"parse": "everyone"}},
            "allowed_mentions.parse",
            "LIST_TYPE_CONVERT",
        ),
        (
            {"content": "hi", "allowed_mentions": {"parse": ["moderators"]}},
            "allowed_mentions.parse.0",
            "BASE_TYPE_CHOICES",
        ),
        (
            {"content": "hi", "allowed_mentions": {"roles": ["@here"]}},
            "allowed_mentions.roles.0",
            "STRING_TYPE_REGEX",
        ),
        ({"embeds": [{"title": "t", "url": "not a url"}]}, "embeds.0.url", "URL_TYPE_INVALID_URL"),
        ({"embeds": [{"title": "t", "color": 2**24}]}, "embeds.0.color", "NUMBER_TYPE_MAX"),
        ({"content": "hi", "flags": "four"}, "flags", "NUMBER_TYPE_COERCE"),
        (
            {"content": "hi", "message_reference": {"message_id": []}},
            "message_reference.message_id",
            "STRING_TYPE_CONVERT",
        ),
    ],
)
async def test_a_body_discord_refuses_gets_its_400(
    fake: FakeDiscord, world: World, bot: TinyBot, body: dict[str, object], field: str, code: str
) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await send_raw(bot, world.news, body)
    assert caught.value.status == 400 and caught.value.code == 50035
    errors = fake.last_request("POST", "/channels/{channel_id}/messages").response["errors"]
    for part in field.split("."):
        errors = errors[part]
    assert errors["_errors"][0]["code"] == code
    assert f"In {field}:" in caught.value.text  # discord.py names the field to the developer
    assert fake.messages_in(world.news) == []


async def test_the_descriptions_conventions_accept_what_discord_accepts(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    accepted = [
        {"content": "a", "flags": "4096"},  # integer as an int-parseable string
        {"content": "b", "nonce": "12345", "enforce_nonce": True},  # integer and string forms
        {"content": "c", "allowed_mentions": {"parse": [], "roles": [world.guild.id]}},  # int id
        {"content": "d", "embeds": [{"title": "t", "timestamp": "2026-11-28T01:00:00Z"}]},
    ]
    for body in accepted:
        await send_raw(bot, world.news, body)
    assert [m.content for m in fake.messages_in(world.news)] == ["a", "b", "c", "d"]


async def test_an_unknown_interaction_callback_type_gets_a_400(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    bot.raw_callback = {"type": 99, "data": {"content": "?"}}
    handle = await fake.send_command(world.guild, world.news, world.alice, "raw")
    await fake.wait_for_request(
        "POST", "/interactions/{interaction_id}/{interaction_token}/callback"
    )
    for _ in range(200):
        if bot.errors:
            break
        await asyncio.sleep(0.01)
    assert handle.actions == []  # nothing answered the interaction
    (refused,) = bot.errors
    assert isinstance(refused, discord.HTTPException) and refused.status == 400
    assert refused.code == 50035 and "In type: Value must be one of {1, 4, 5" in refused.text


async def test_a_valid_raw_callback_is_accepted(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    bot.raw_callback = {"type": 4, "data": {"content": "raw", "flags": 64}}
    handle = await fake.send_command(world.guild, world.news, world.alice, "raw")
    response = await handle.response()
    assert response.content == "raw" and response.ephemeral and bot.errors == []


def test_only_described_operations_can_be_served() -> None:
    router = Router(ApiDescription.load())

    async def handler(request: object) -> Reply:
        return Reply(204)

    router.add("POST", "/channels/{channel}/typing", handler)  # placeholder names may differ
    with pytest.raises(ValueError, match=r"/channels/\{channel_id\}/mesages is not in Discord"):
        router.add("POST", "/channels/{channel_id}/mesages", handler)
    with pytest.raises(ValueError, match="not in Discord"):
        router.add("GET", "/channels/{channel_id}/messages/search", handler)
    served = {route.operation.operation_id for route in FakeDiscord().router.routes}
    assert {"create_message", "create_interaction_response", "execute_webhook"} <= served


async def test_an_answer_unlike_discords_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDiscord()
    original = fake.state.bot_user_payload

    def without_username() -> dict[str, object]:
        payload = dict(original())
        del payload["username"]
        return payload

    monkeypatch.setattr(fake.state, "bot_user_payload", without_username)
    with pytest.raises(AssertionError, match=r"GET /users/@me: get_my_user 200 username"):
        async with fake, aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bot {fake.token}"}
            async with session.get(f"{fake.api_url}/users/@me", headers=headers) as answer:
                assert answer.status == 200


def test_every_override_still_names_a_place_in_the_description() -> None:
    document = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    for override in OVERRIDES:
        node = document
        for token in override.pointer.strip("/").split("/"):
            assert token in node, f"{override.pointer}: the description changed, review it"
            node = node[token]
        assert override.reason and override.side in ("request", "response")


# ------------------------------------------------------------- forums, threads
async def test_a_forum_post_is_a_thread_with_its_starter_message(
    fake: FakeDiscord, world: World
) -> None:
    forum = fake.add_forum_channel(world.guild, "press", tags=["AI", "Climate"])
    async with running_bot(fake, TinyBot()) as bot:
        channel = bot.get_channel(forum.id)
        assert isinstance(channel, discord.ForumChannel)
        assert [t.name for t in channel.available_tags] == ["AI", "Climate"]
        (ai,) = [t for t in channel.available_tags if t.name == "AI"]
        posted = await channel.create_thread(
            name="A headline", embed=discord.Embed(title="A headline"), applied_tags=[ai]
        )
        assert posted.thread.id == posted.message.id  # the starter message has the thread's id
        assert posted.thread.parent_id == forum.id and posted.thread.applied_tags == [ai]
        (thread,) = fake.threads_in(forum)
        assert (thread.name, thread.applied_tags, thread.message_count) == (
            "A headline",
            [ai.id],
            1,
        )
        assert [m.embeds[0]["title"] for m in fake.messages_in(thread)] == ["A headline"]
        for _ in range(50):  # THREAD_CREATE reaches the cache
            if bot.get_channel(thread.id) is not None:
                break
            await asyncio.sleep(0.01)
        assert isinstance(bot.get_channel(thread.id), discord.Thread)
        await posted.thread.send("a reply")  # messages into threads
        assert thread.message_count == 2
        active = await channel.guild.active_threads()
        assert [t.id for t in active] == [thread.id]
        await fake.archive_thread(thread)
        assert await channel.guild.active_threads() == []
        assert [t.id async for t in channel.archived_threads()] == [thread.id]
        with pytest.raises(discord.HTTPException) as refused:
            await channel.create_thread(name="x", content="x", applied_tags=[discord.Object(1)])
        assert refused.value.status == 400
        with pytest.raises(discord.HTTPException) as not_here:
            await bot.http.send_message(
                forum.id, params=discord.http.handle_message_parameters("x")
            )
        assert not_here.value.status == 400


async def test_a_thread_on_a_message_once(fake: FakeDiscord, world: World, bot: TinyBot) -> None:
    message = await text_channel(bot, world.news).send("news")
    thread = await message.create_thread(name="Talk about it")
    assert thread.id == message.id and thread.parent_id == world.news.id
    assert thread.type is discord.ChannelType.public_thread and thread.owner_id == fake.bot.id
    with pytest.raises(discord.HTTPException) as again:
        await message.create_thread(name="Talk about it")
    assert (again.value.status, again.value.code) == (400, 160004)
    assert [t.name for t in fake.threads_in(world.news)] == ["Talk about it"]


@pytest.mark.parametrize(
    ("deny", "where"),
    [
        (Perm.SEND_MESSAGES, "forum"),  # "Create Posts"
        (Perm.CREATE_PUBLIC_THREADS, "thread"),
        (Perm.SEND_MESSAGES_IN_THREADS, "in thread"),
    ],
)
async def test_thread_permissions_are_checked(
    fake: FakeDiscord, world: World, deny: int, where: str
) -> None:
    forum = fake.add_forum_channel(world.guild, "press")
    async with running_bot(fake, TinyBot()) as bot:
        message = await text_channel(bot, world.news).send("news")
        channel = bot.get_channel(forum.id)
        assert isinstance(channel, discord.ForumChannel)
        post = await channel.create_thread(name="post", content="first")
        assert world.guild.bot_role is not None
        for target in (world.news, forum):
            await fake.set_permission_overwrite(target, world.guild.bot_role, deny=deny)
        with pytest.raises(discord.Forbidden) as caught:
            if where == "forum":
                await channel.create_thread(name="post", content="first")
            elif where == "thread":
                await message.create_thread(name="talk")
            else:
                await post.thread.send("reply")
        assert caught.value.code == 50013


async def test_mention_roles_are_what_discord_would_ping(
    fake: FakeDiscord, world: World, bot: TinyBot
) -> None:
    quiet = fake.add_role(world.guild, "quiet")
    loud = fake.add_role(world.guild, "loud", mentionable=True)
    channel = text_channel(bot, world.news)
    text = f"<@&{quiet.id}> <@&{loud.id}> @everyone"

    def pinged(message: discord.Message) -> tuple[list[int], bool]:
        answered = fake.get_message(message.id).to_payload()
        return [int(r) for r in answered["mention_roles"]], message.mention_everyone

    only_loud = discord.AllowedMentions(everyone=False, roles=[discord.Object(loud.id)])
    assert pinged(await channel.send(text, allowed_mentions=only_loud)) == ([loud.id], False)
    none = discord.AllowedMentions.none()
    assert pinged(await channel.send(text, allowed_mentions=none)) == ([], False)
    # Without Mention Everyone only mentionable roles ping; with it, anything allowed does.
    await fake.set_permission_overwrite(world.news, world.guild.id, deny=Perm.MENTION_EVERYONE)
    assert pinged(await channel.send(text)) == ([loud.id], False)
    quiet_only = discord.AllowedMentions(everyone=False, roles=[discord.Object(quiet.id)])
    assert pinged(await channel.send(text, allowed_mentions=quiet_only)) == ([], False)
    await fake.set_bot_permissions(world.guild, Perm.DEFAULT_BOT | Perm.MENTION_EVERYONE)
    await fake.remove_permission_overwrite(world.news, world.guild.id)
    assert pinged(await channel.send(text)) == ([quiet.id, loud.id], True)
