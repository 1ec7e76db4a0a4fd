"""A running NewsBot, logged into the loopback fake Discord, with the shipped articles."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.chat.bot import NewsBot
from bot.config import Settings
from bot.loader import load_articles
from bot.store import Store
from tests.backends import BACKENDS, opened_store
from tests.fake_discord import FakeDiscord, running_bot
from tests.fake_discord.interactions import CallbackRecord, InteractionHandle
from tests.fake_discord.state import FakeChannel, FakeGuild, FakeUser, Perm

T = TypeVar("T")
DATA = Path(__file__).resolve().parents[2] / "data" / "articles"

#: Every operation of Discord's API (by its ``operationId`` in the description the
#: fake is held to) that newsbot calls, and what for. A bot test that calls another
#: one fails, so this list stays the bot's whole surface of Discord's REST API.
BOT_OPERATIONS = {
    "get_my_user": "log in",
    "get_my_oauth2_application": "log in: the application id for commands",
    "get_bot_gateway": "connect: the gateway URL and shard count",
    "bulk_set_application_commands": "sync the slash commands",
    "bulk_set_guild_application_commands": "sync them to NEWSBOT_DEV_GUILD",
    "create_message": "post articles, and alerts in a server's /alerts channel",
    "list_messages": "look for a message whose send was not confirmed",
    "create_thread": "post articles in a forum channel (a post each)",
    "create_thread_from_message": "open a discussion thread on a posted message",
    "get_active_guild_threads": "look for a forum post whose creation was not confirmed",
    "list_public_archived_threads": "... and among the forum's recently archived posts",
    "get_message": "... and read a candidate post's starter message",
    "get_channel": "a channel missing from the cache before posting",
    "create_interaction_response": "answer commands, autocomplete and page buttons",
    "execute_webhook": "answer after 'thinking'",
    "update_webhook_message": "disable page buttons when they expire",
    "list_application_commands": "newsbot doctor: are the commands Discord has this version's?",
    "list_guild_application_commands": "newsbot doctor, with NEWSBOT_DEV_GUILD",
    "get_guild": "newsbot doctor: the server's owner",
    "list_guild_roles": "newsbot doctor: the permissions of the bot's roles",
    "get_guild_member": "newsbot doctor: the bot's roles in a server",
}


@dataclass
class Server:
    """One Discord server as a test sees it: a channel, a member, a moderator, an admin."""

    guild: FakeGuild
    channel: FakeChannel
    member: FakeUser
    moderator: FakeUser  # Manage Channels
    admin: FakeUser  # Manage Server and Manage Channels


@dataclass
class World:
    """The fake Discord, the bot logged into it, its store, and two servers."""

    fake: FakeDiscord
    bot: NewsBot
    store: Store
    home: Server
    away: Server

    async def ask(
        self, name: str, user: FakeUser | None = None, server: Server | None = None, **options: Any
    ) -> InteractionHandle:
        """Run a slash command as ``user`` (default: the home server's member)."""
        server = server or self.home
        return await self.fake.send_command(
            server.guild, server.channel, user or server.member, name,
            options={k: v for k, v in options.items() if v is not None},
        )  # fmt: skip

    async def answer(self, name: str, **kwargs: Any) -> CallbackRecord:
        """Run a slash command and return the bot's first answer."""
        return await (await self.ask(name, **kwargs)).response()


async def eventually(
    read: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 5.0
) -> T:
    """Poll ``read`` until ``done`` says yes: for effects of gateway events the bot handles."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await read()
        if done(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        await asyncio.sleep(0.01)


def make_server(fake: FakeDiscord, name: str, guild_id: int | None = None) -> Server:
    guild = fake.add_guild(name, id=guild_id)
    moderators = fake.add_role(guild, "Moderators", permissions=Perm.MANAGE_CHANNELS)
    channel = fake.add_text_channel(guild, "news")
    member = fake.add_user(f"{name}-member")
    fake.add_member(guild, member)
    moderator = fake.add_user(f"{name}-moderator")
    fake.add_member(guild, moderator, roles=[moderators])
    admins = fake.add_role(guild, "Admins", permissions=Perm.MANAGE_GUILD | Perm.MANAGE_CHANNELS)
    admin = fake.add_user(f"{name}-admin")
    fake.add_member(guild, admin, roles=[admins])
    return Server(guild, channel, member, moderator, admin)


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
async def bot_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A store holding the shipped articles, on each backend."""
    async with opened_store(request, tmp_path / "bot.db") as store:
        report = await load_articles(store, [DATA])
        assert report.ok
        yield store


@pytest.fixture
async def world(bot_store: Store) -> AsyncIterator[World]:
    """The bot, logged into a fake Discord with two servers, ready for commands."""
    async with FakeDiscord() as fake:
        home, away = make_server(fake, "home"), make_server(fake, "away")
        bot = NewsBot(bot_store, Settings(min_quality=50), guild_ready_timeout=0.05)
        async with running_bot(fake, bot):
            yield World(fake, bot, bot_store, home, away)
        called = [fake.router.resolve(request.method, request.path) for request in fake.requests]
        operations = {found[0].operation.operation_id for found in called if found is not None}
        assert operations <= BOT_OPERATIONS.keys(), operations - BOT_OPERATIONS.keys()
