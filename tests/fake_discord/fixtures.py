"""Helpers to run a discord.py bot against a :class:`FakeDiscord` inside a test.

``running_bot`` is the piece most tests need::

    async with FakeDiscord() as fake, running_bot(fake, MyBot()) as bot:
        handle = await fake.send_command(guild, channel, None, "ping")

To reuse the ``fake_discord`` fixture from another test directory, import it
into that directory's ``conftest.py``: ``from tests.fake_discord.fixtures import
fake_discord``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypeVar

import pytest

from .errors import FakeDiscordTimeout
from .server import FakeDiscord

if TYPE_CHECKING:
    import discord

ClientT = TypeVar("ClientT", bound="discord.Client")


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeDiscord,
    bot: ClientT,
    *,
    token: str | None = None,
    timeout: float = 10.0,
) -> AsyncIterator[ClientT]:
    """Log ``bot`` in against ``fake``, wait for ``on_ready``, and close it afterwards.

    Points discord.py at the fake for the whole block. If the bot fails to
    connect, its exception is raised; if it is not ready within ``timeout``
    seconds, :class:`FakeDiscordTimeout` is.

    Tip: pass ``guild_ready_timeout=0.1`` to the bot (discord.py waits 2 s after
    the last GUILD_CREATE before ``on_ready``), and with several shards
    override ``before_identify_hook`` to skip its 5 s sleep per extra shard.
    """
    with fake.discord_pointed_here():
        await bot.login(token or fake.token)
        runner = asyncio.create_task(bot.connect(), name="fake-discord-bot-connect")
        ready = asyncio.create_task(bot.wait_until_ready(), name="fake-discord-bot-ready")
        try:
            done, _ = await asyncio.wait(
                {runner, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ready not in done:
                ready.cancel()
                if runner in done:
                    runner.result()  # re-raise the connect failure
                raise FakeDiscordTimeout(f"bot was not ready within {timeout:.1f}s")
            yield bot
        finally:
            ready.cancel()
            await bot.close()
            try:
                await asyncio.wait_for(runner, timeout=5.0)
            except (TimeoutError, asyncio.CancelledError):
                runner.cancel()
            except Exception:
                pass


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started :class:`FakeDiscord`, stopped after the test."""
    async with FakeDiscord() as fake:
        yield fake
