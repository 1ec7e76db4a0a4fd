"""What the bot needs in a channel to post there, as Discord names it; one place for every cog.

The names are those of Discord's own settings (a forum calls Send Messages "Create Posts"),
so that a moderator finds the switch to flip.
"""

from __future__ import annotations

from typing import Any, Literal

import discord
from discord import app_commands

from bot.subscriptions import PLAIN, DeliveryStyle

#: What the bot needs in a text channel to post articles there.
# Read Message History: to find a message whose send Discord did not confirm (posting.py).
POSTING_PERMISSIONS = ("view_channel", "send_messages", "embed_links", "read_message_history")

#: Where articles can go: a text channel, a forum (one post each), a thread.
PostingChannel = discord.TextChannel | discord.ForumChannel | discord.Thread


class ArticleChannelTransformer(app_commands.Transformer):
    """A channel option that offers text, announcement and forum channels: where news goes.

    Not media channels, which discord.py counts as forums: a post there needs a file.
    """

    @property
    def type(self) -> discord.AppCommandOptionType:
        """Return the option's type: a channel."""
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        """Return the kinds of channel Discord offers to pick from."""
        return [discord.ChannelType.text, discord.ChannelType.news, discord.ChannelType.forum]

    async def transform(
        self, interaction: discord.Interaction[Any], value: Any, /
    ) -> discord.TextChannel | discord.ForumChannel:
        """Return the picked channel as the bot knows it, or refuse another kind."""
        channel = value.resolve() if isinstance(value, app_commands.AppCommandChannel) else value
        if isinstance(channel, discord.TextChannel) or (
            isinstance(channel, discord.ForumChannel) and not channel.is_media()
        ):
            return channel
        raise app_commands.TransformerError(value, self.type, self)


#: A text or forum channel picked in a command's option.
ArticleChannel = app_commands.Transform[
    discord.TextChannel | discord.ForumChannel, ArticleChannelTransformer
]

#: Permission attributes as Discord's settings name them.
PERMISSION_NAMES = {
    "manage_channels": "Manage Channels",
    "manage_guild": "Manage Server",
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "read_message_history": "Read Message History",
    "send_messages_in_threads": "Send Messages in Threads",
    "create_public_threads": "Create Public Threads",
    "mention_everyone": "Mention Everyone",
}


def missing_posting_permissions(channel: discord.TextChannel, me: discord.Member) -> list[str]:
    """Return the permissions the bot lacks to post articles in ``channel``."""
    have = channel.permissions_for(me)
    return [name for name in POSTING_PERMISSIONS if not getattr(have, name)]


#: The kinds of channel articles can go to, as the permissions they need differ.
ChannelKind = Literal["text", "forum", "thread"]


def channel_kind(channel: PostingChannel) -> ChannelKind:
    """Return which kind of channel ``channel`` is, for ``needed_permissions``."""
    if isinstance(channel, discord.ForumChannel):
        return "forum"
    return "thread" if isinstance(channel, discord.Thread) else "text"


def needed_permissions(
    kind: ChannelKind, style: DeliveryStyle, role_mentionable: bool = True
) -> dict[str, str]:
    """Return what delivering with ``style`` in a channel of ``kind`` needs: attribute → name.

    ``role_mentionable`` says whether anyone may ping the role ``style`` mentions; a role
    that is not needs Mention Everyone.
    """
    needed = {name: PERMISSION_NAMES[name] for name in POSTING_PERMISSIONS}
    if kind == "forum":
        needed["send_messages"] = "Create Posts"  # Discord's name for it in a forum
    elif kind == "thread":
        del needed["send_messages"]
        needed["send_messages_in_threads"] = PERMISSION_NAMES["send_messages_in_threads"]
    elif style.thread:
        needed["create_public_threads"] = PERMISSION_NAMES["create_public_threads"]
    if style.mention_role_id is not None and not role_mentionable:
        needed["mention_everyone"] = PERMISSION_NAMES["mention_everyone"]
    return needed


def delivery_permissions(channel: PostingChannel, style: DeliveryStyle) -> dict[str, str]:
    """Return what delivering in ``channel`` with ``style`` needs: attribute → Discord's name."""
    role = None if style.mention_role_id is None else channel.guild.get_role(style.mention_role_id)
    # A role that is gone pings nobody, so it needs nothing.
    return needed_permissions(channel_kind(channel), style, role is None or role.mentionable)


def missing_delivery_permissions(
    channel: PostingChannel, me: discord.Member, style: DeliveryStyle = PLAIN
) -> list[str]:
    """Return, as Discord names them, the permissions the bot lacks to deliver with ``style``."""
    have = channel.permissions_for(me)
    return [
        label
        for name, label in delivery_permissions(channel, style).items()
        if not getattr(have, name)
    ]
