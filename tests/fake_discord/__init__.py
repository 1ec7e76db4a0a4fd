"""A fake Discord (REST API v10 + gateway) for end-to-end tests of discord.py bots.

See README.md in this directory. The main entry points::

    from tests.fake_discord import FakeDiscord, running_bot

    async with FakeDiscord() as fake:
        guild = fake.add_guild("Test Guild")
        channel = fake.add_text_channel(guild, "news")
        async with running_bot(fake, MyBot(guild_ready_timeout=0.1)):
            handle = await fake.send_command(guild, channel, None, "ping")
            assert (await handle.response()).content == "pong"
"""

from .errors import ApiError, FakeDiscordTimeout, NoGatewaySession
from .faults import Fault
from .fixtures import fake_discord, running_bot
from .interactions import (
    CallbackRecord,
    CallbackType,
    InteractionHandle,
    InteractionType,
    MessageAction,
    OptionType,
)
from .recording import RecordedFile, RecordedRequest
from .server import FakeDiscord
from .state import (
    ChannelType,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    Overwrite,
    Perm,
)
from .statefile import dump_state, fake_from_state, load_state

__all__ = [
    "ApiError",
    "CallbackRecord",
    "CallbackType",
    "ChannelType",
    "FakeChannel",
    "FakeDiscord",
    "FakeDiscordTimeout",
    "FakeGuild",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "Fault",
    "InteractionHandle",
    "InteractionType",
    "MessageAction",
    "NoGatewaySession",
    "OptionType",
    "Overwrite",
    "Perm",
    "RecordedFile",
    "RecordedRequest",
    "dump_state",
    "fake_discord",
    "fake_from_state",
    "load_state",
    "running_bot",
]
