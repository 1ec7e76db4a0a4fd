"""How the bot answers: never a ping, one line for a user error, an apology for a bug.

This is the one place that maps errors to what a person reads.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from typing import Any, TypeVar

import discord
from discord import app_commands

from bot.chat.permissions import PERMISSION_NAMES
from bot.errors import DatabaseUnavailable, NewsbotError, StoreError

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
UNKNOWN_INTERACTION = 10062  # Discord's code for an interaction answered after 3 s
ANSWER_WITHIN = 2.0  # seconds of work before saying "thinking": Discord allows 3 in all
T = TypeVar("T")


def permission_names(permissions: list[str]) -> str:
    """Return permission attribute names as Discord shows them: ``Manage Channels``."""
    return ", ".join(
        PERMISSION_NAMES.get(name, name.replace("_", " ").title()) for name in permissions
    )


def user_message(error: BaseException) -> str | None:
    """Return the one line a person should read for ``error``, or None for a bug."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, DatabaseUnavailable):  # a restart, a dropped connection: it passes
        return "My database is not answering right now; please try again shortly."
    if isinstance(error, StoreError):  # the log has the detail; a member needs no file path
        return (
            "I cannot use my database right now, so nothing was changed. "
            "The bot's admin can see why in its log; please try again later."
        )
    if isinstance(error, NewsbotError):
        return str(error)
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in a server only."
    if isinstance(error, app_commands.MissingPermissions):
        return f"You need the {permission_names(error.missing_permissions)} permission for this."
    if isinstance(error, app_commands.BotMissingPermissions):
        names = permission_names(error.missing_permissions)
        return f"I am missing the {names} permission here. Ask a server admin to grant it."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.TransformerError):  # never echo discord.py's repr
        if error.type is discord.AppCommandOptionType.channel:
            return "Pick a text or forum channel of this server for that option."
        return f"That is not a valid {error.type.name.lower()} for this option."
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here."
    return None


async def within_deadline(interaction: discord.Interaction[Any], work: Awaitable[T]) -> T:
    """Await ``work``; if it takes longer than Discord waits for a first answer (3 s), say
    "thinking" first, so that the answer can follow when the work is done.

    A write waits while another process holds the database's write lock.
    """
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=ANSWER_WITHIN)
    if not done and not interaction.response.is_done():
        await interaction.response.defer(thinking=True)
    return await task


async def send(
    interaction: discord.Interaction[Any], content: str, *, ephemeral: bool = False
) -> None:
    """Answer with one message, whether or not the interaction was answered yet (deferred)."""
    content = content[:2000]
    if interaction.response.is_done():
        await interaction.followup.send(content, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(
            content, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS
        )


async def reply_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Answer a failed interaction: the reason for a user error, an apology for a bug."""
    message = user_message(error)
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, discord.NotFound) and original.code == UNKNOWN_INTERACTION:
        command = interaction.command.qualified_name if interaction.command else "interaction"
        log.warning("%s answered too late: Discord had expired the interaction (over 3 s)",
                    command)  # fmt: skip
        return  # nobody to tell: the interaction is gone
    if isinstance(original, StoreError):
        log.error("database error in an interaction (guild %s): %s", interaction.guild_id, original)
    if message is None:
        reference = secrets.token_hex(4)
        command = interaction.command.qualified_name if interaction.command else "interaction"
        log.error(
            "unexpected error in %s (reference %s, user %s, guild %s)",
            command, reference, interaction.user.id, interaction.guild_id,
            exc_info=error,
        )  # fmt: skip
        message = (
            f"Sorry, something went wrong on my side. The error was logged with reference "
            f"`{reference}`; please mention it if you report the problem."
        )
    try:
        await send(interaction, message, ephemeral=True)
    except discord.HTTPException as exc:  # the interaction expired or the channel is gone
        log.warning("could not tell the user about an error: %s", exc)
