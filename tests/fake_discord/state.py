"""In-memory model of the Discord objects the fake server knows about.

Everything here is plain data: dataclasses for users, guilds, roles, channels,
members and messages, each able to render itself as the JSON payload Discord
would send, plus :class:`FakeState`, which owns them all and computes
permissions with Discord's algorithm (base role permissions, then channel
overwrites for @everyone, roles and the member).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1_420_070_400_000
_ROLE_MENTION = re.compile(r"<@&(\d{15,20})>")


class Perm:
    """Permission bits (https://discord.com/developers/docs/topics/permissions)."""

    CREATE_INSTANT_INVITE = 1 << 0
    KICK_MEMBERS = 1 << 1
    BAN_MEMBERS = 1 << 2
    ADMINISTRATOR = 1 << 3
    MANAGE_CHANNELS = 1 << 4
    MANAGE_GUILD = 1 << 5
    ADD_REACTIONS = 1 << 6
    VIEW_AUDIT_LOG = 1 << 7
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    SEND_TTS_MESSAGES = 1 << 12
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    CHANGE_NICKNAME = 1 << 26
    MANAGE_ROLES = 1 << 28
    MANAGE_WEBHOOKS = 1 << 29
    USE_APPLICATION_COMMANDS = 1 << 31
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38

    ALL = (1 << 53) - 1

    #: What a new guild's @everyone role gets (roughly Discord's default).
    DEFAULT_EVERYONE = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | MENTION_EVERYONE
        | USE_EXTERNAL_EMOJIS
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | SEND_MESSAGES_IN_THREADS
    )

    #: What the bot's managed role gets unless a test says otherwise.
    DEFAULT_BOT = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY

    #: Bits Discord strips when SEND_MESSAGES is denied in a channel.
    _NEEDS_SEND = SEND_TTS_MESSAGES | MENTION_EVERYONE | EMBED_LINKS | ATTACH_FILES


class ChannelType:
    """Channel type numbers used by the fake."""

    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    PUBLIC_THREAD = 11
    GUILD_FORUM = 15

    THREADS = (PUBLIC_THREAD,)


def utcnow_iso() -> str:
    """Current time as the ISO-8601 string Discord uses in payloads."""
    return dt.datetime.now(dt.UTC).isoformat()


class SnowflakeGenerator:
    """Produces realistic, strictly increasing snowflakes.

    Each id gets its own millisecond (``max(now, previous + 1)``), so ids made
    in a row differ in the timestamp bits and ``(id >> 22) % shard_count``
    spreads consecutively created guilds across shards.
    """

    def __init__(self) -> None:
        self._last_ms = 0
        self._increment = itertools.count()

    def next(self) -> int:
        """Return a new snowflake."""
        now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        ms = max(now_ms, self._last_ms + 1)
        self._last_ms = ms
        return (ms << 22) | (1 << 17) | (next(self._increment) & 0xFFF)


@dataclass
class FakeUser:
    """A Discord user (or the bot user)."""

    id: int
    username: str
    bot: bool = False
    global_name: str | None = None

    def to_payload(self) -> JSON:
        """The user object."""
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
            "primary_guild": None,
        }

    @property
    def mention(self) -> str:
        """``<@id>``."""
        return f"<@{self.id}>"


@dataclass
class FakeRole:
    """A guild role. The @everyone role has the guild's id."""

    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    color: int = 0
    hoist: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    def to_payload(self) -> JSON:
        """The role object."""
        payload: JSON = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            payload["tags"] = {"bot_id": str(self.bot_id)}
        return payload


@dataclass
class Overwrite:
    """A channel permission overwrite. ``type`` is 0 for a role, 1 for a member."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0

    def to_payload(self) -> JSON:
        """The overwrite object."""
        return {
            "id": str(self.id),
            "type": self.type,
            "allow": str(self.allow),
            "deny": str(self.deny),
        }


@dataclass
class FakeChannel:
    """A guild channel or a DM channel (``guild_id`` is None for DMs)."""

    id: int
    type: int
    name: str
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    overwrites: dict[int, Overwrite] = field(default_factory=dict)
    recipients: list[FakeUser] = field(default_factory=list)
    last_message_id: int | None = None
    #: A forum's tags: ``{"id", "name", "moderated", "emoji_id", "emoji_name"}``.
    available_tags: list[JSON] = field(default_factory=list)
    #: A thread's: who started it, its forum tags, messages sent in it, archived or not.
    owner_id: int | None = None
    applied_tags: list[int] = field(default_factory=list)
    message_count: int = 0
    archived: bool = False
    archive_timestamp: str | None = None
    created_at: str = field(default_factory=lambda: utcnow_iso())

    @property
    def is_thread(self) -> bool:
        """Whether this is a thread (its permissions are its parent's)."""
        return self.type in ChannelType.THREADS

    @property
    def mention(self) -> str:
        """``<#id>``."""
        return f"<#{self.id}>"

    def to_payload(self) -> JSON:
        """The channel object."""
        payload: JSON = {
            "id": str(self.id),
            "type": self.type,
            "last_message_id": None if self.last_message_id is None else str(self.last_message_id),
            "flags": 0,
        }
        if self.type == ChannelType.DM:
            payload["recipients"] = [user.to_payload() for user in self.recipients]
            return payload
        payload.update(
            {
                "guild_id": None if self.guild_id is None else str(self.guild_id),
                "name": self.name,
                "position": self.position,
                "parent_id": None if self.parent_id is None else str(self.parent_id),
                "permission_overwrites": [ow.to_payload() for ow in self.overwrites.values()],
                "nsfw": self.nsfw,
            }
        )
        if self.is_thread:
            return self._thread_payload(payload)
        if self.type in (
            ChannelType.GUILD_TEXT,
            ChannelType.GUILD_ANNOUNCEMENT,
            ChannelType.GUILD_FORUM,
        ):
            payload["topic"] = self.topic
            payload["rate_limit_per_user"] = self.rate_limit_per_user
            payload["default_thread_rate_limit_per_user"] = 0
        if self.type == ChannelType.GUILD_FORUM:
            payload.update(
                {
                    "available_tags": [dict(tag) for tag in self.available_tags],
                    "default_reaction_emoji": None,
                    "default_sort_order": None,
                    "default_forum_layout": 0,
                    "default_auto_archive_duration": 4320,
                }
            )
        elif self.type == ChannelType.GUILD_VOICE:
            payload.update({"bitrate": 64000, "user_limit": 0, "rtc_region": None})
        return payload

    def _thread_payload(self, payload: JSON) -> JSON:
        """A thread channel object: no overwrites or position, a thread_metadata instead."""
        del payload["permission_overwrites"], payload["position"]
        payload.update(
            {
                "owner_id": str(self.owner_id),
                "rate_limit_per_user": self.rate_limit_per_user,
                "thread_metadata": {
                    "archived": self.archived,
                    "archive_timestamp": self.archive_timestamp or self.created_at,
                    "auto_archive_duration": 4320,
                    "locked": False,
                    "create_timestamp": self.created_at,
                },
                "message_count": self.message_count,
                "member_count": 1,
                "total_message_sent": self.message_count,
                "applied_tags": [str(tag) for tag in self.applied_tags],
            }
        )
        return payload

    def member_payload(self) -> JSON:
        """The thread member object of the thread's owner (the bot, in the fake)."""
        return {
            "id": str(self.id),
            "user_id": str(self.owner_id),
            "join_timestamp": self.created_at,
            "flags": 1,
        }


@dataclass
class FakeMember:
    """A user's membership in a guild."""

    user: FakeUser
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=utcnow_iso)

    def to_payload(self, *, with_user: bool = True) -> JSON:
        """The guild member object."""
        payload: JSON = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            payload["user"] = self.user.to_payload()
        return payload


@dataclass
class FakeGuild:
    """A guild with its roles, channels and members."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    bot_present: bool = True
    bot_role_id: int | None = None
    locale: str = "en-US"
    features: list[str] = field(default_factory=list)
    joined_at: str = field(default_factory=utcnow_iso)

    @property
    def everyone(self) -> FakeRole:
        """The @everyone role."""
        return self.roles[self.id]

    @property
    def bot_role(self) -> FakeRole | None:
        """The bot's managed role, if the guild has one."""
        return None if self.bot_role_id is None else self.roles.get(self.bot_role_id)

    def shard_id(self, shard_count: int) -> int:
        """The shard that receives this guild's events."""
        return (self.id >> 22) % shard_count

    def base_payload(self) -> JSON:
        """The guild object as ``GET /guilds/{id}`` returns it."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [role.to_payload() for role in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": list(self.features),
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "max_presences": None,
            "home_header": None,
            "application_id": None,
            "region": "deprecated",
            "widget_enabled": False,
            "widget_channel_id": None,
            "nsfw": False,
            "incidents_data": None,
        }


@dataclass
class FakeAttachment:
    """A file the bot uploaded with a message."""

    id: int
    filename: str
    content_type: str | None
    data: bytes
    description: str | None = None

    def to_payload(self, base_url: str, channel_id: int) -> JSON:
        """The attachment object."""
        url = f"{base_url}/attachments/{channel_id}/{self.id}/{self.filename}"
        payload: JSON = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": url,
            "proxy_url": url,
        }
        if self.content_type:
            payload["content_type"] = self.content_type
        if self.description:
            payload["description"] = self.description
        return payload


@dataclass
class FakeMessage:
    """A message stored in a channel, whether sent by the bot, a webhook or a user."""

    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str = ""
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)
    allowed_mentions: JSON | None = None
    flags: int = 0
    type: int = 0
    nonce: str | int | None = None
    tts: bool = False
    timestamp: str = field(default_factory=utcnow_iso)
    edited_timestamp: str | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: JSON | None = None
    member: FakeMember | None = None
    deleted: bool = False
    #: Who the message pinged, as Discord computes it (see ``FakeState.mentions``).
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    #: Every body the bot sent that created or changed this message, oldest first.
    history: list[JSON] = field(default_factory=list)
    attachment_base_url: str = "http://127.0.0.1"

    EPHEMERAL = 1 << 6
    LOADING = 1 << 7

    @property
    def ephemeral(self) -> bool:
        """Whether the message is only visible to the invoking user."""
        return bool(self.flags & self.EPHEMERAL)

    @property
    def custom_ids(self) -> list[str]:
        """Every ``custom_id`` found in the message's components (nested rows included)."""
        found: list[str] = []

        def walk(items: Iterable[Any]) -> None:
            for item in items:
                if not isinstance(item, Mapping):
                    continue
                if "custom_id" in item:
                    found.append(str(item["custom_id"]))
                walk(item.get("components", []) or [])
                accessory = item.get("accessory")
                if accessory is not None:
                    walk([accessory])

        walk(self.components)
        return found

    def find_component(self, custom_id: str) -> JSON | None:
        """The component dict with ``custom_id``, or None."""

        def walk(items: Iterable[Any]) -> JSON | None:
            for item in items:
                if not isinstance(item, Mapping):
                    continue
                if item.get("custom_id") == custom_id:
                    return dict(item)
                found = walk([*list(item.get("components", []) or []), item.get("accessory")])
                if found is not None:
                    return found
            return None

        return walk(self.components)

    def to_payload(self) -> JSON:
        """The message object."""
        payload: JSON = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author.to_payload(),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": self.tts,
            "mention_everyone": self.mention_everyone,
            "mentions": [],
            "mention_roles": [str(role) for role in self.mention_roles],
            "attachments": [
                a.to_payload(self.attachment_base_url, self.channel_id) for a in self.attachments
            ],
            "embeds": [_embed_as_answered(e) for e in self.embeds],
            "components": [dict(c) for c in self.components],
            "pinned": False,
            "type": self.type,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            payload["guild_id"] = str(self.guild_id)
        if self.member is not None:
            payload["member"] = self.member.to_payload(with_user=False)
        if self.nonce is not None:
            payload["nonce"] = self.nonce
        if self.webhook_id is not None:
            payload["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            payload["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            payload["interaction_metadata"] = dict(self.interaction_metadata)
        return payload


def _as_id(obj: int | str | Any) -> int:
    """Accept a snowflake, its string, or any object with an ``id``."""
    if isinstance(obj, int):
        return obj
    if isinstance(obj, str):
        return int(obj)
    return int(obj.id)


class FakeState:
    """Owns every object of the fake Discord and answers permission questions.

    The builder methods (``add_guild``, ``add_text_channel``, ...) only change
    state; they do not send gateway events. :class:`~tests.fake_discord.FakeDiscord`
    has async counterparts that also tell a connected bot.
    """

    def __init__(
        self,
        *,
        bot_name: str = "NewsBot",
        token: str | None = None,
        application_id: int | None = None,
        bot_id: int | None = None,
    ) -> None:
        self.snowflakes = SnowflakeGenerator()
        self.token: str = token or f"fake.{secrets.token_urlsafe(24)}"
        self.bot = FakeUser(id=bot_id or self.snowflakes.next(), username=bot_name, bot=True)
        self.application_id: int = application_id or self.bot.id
        self.app_owner = FakeUser(id=self.snowflakes.next(), username="app-owner")
        self.users: dict[int, FakeUser] = {self.bot.id: self.bot, self.app_owner.id: self.app_owner}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self.messages: dict[int, FakeMessage] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self.global_commands: dict[int, JSON] = {}
        self.guild_commands: dict[int, dict[int, JSON]] = {}
        self.dm_channels: dict[int, int] = {}
        self._user_counter = itertools.count(1)

    # ------------------------------------------------------------------ lookups
    def guild(self, guild: int | str | FakeGuild) -> FakeGuild:
        """The guild for an id or object; KeyError if unknown."""
        return self.guilds[_as_id(guild)]

    def channel(self, channel: int | str | FakeChannel) -> FakeChannel:
        """The channel for an id or object; KeyError if unknown."""
        return self.channels[_as_id(channel)]

    def user(self, user: int | str | FakeUser | FakeMember) -> FakeUser:
        """The user for an id, user or member; KeyError if unknown."""
        if isinstance(user, FakeMember):
            return user.user
        return self.users[_as_id(user)]

    def message(self, message: int | str | FakeMessage) -> FakeMessage:
        """The message for an id or object; KeyError if unknown."""
        return self.messages[_as_id(message)]

    def messages_in(self, channel: int | str | FakeChannel) -> list[FakeMessage]:
        """Messages stored in a channel, oldest first, deleted ones left out."""
        ids = self.channel_messages.get(_as_id(channel), [])
        return [self.messages[m] for m in ids if not self.messages[m].deleted]

    # ----------------------------------------------------------------- builders
    def add_user(
        self, username: str | None = None, *, id: int | None = None, bot: bool = False
    ) -> FakeUser:
        """Create a user (not yet a member of any guild)."""
        name = username or f"user{next(self._user_counter)}"
        user = FakeUser(id=id or self.snowflakes.next(), username=name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Test Guild",
        *,
        id: int | None = None,
        owner: FakeUser | None = None,
        bot_permissions: int = Perm.DEFAULT_BOT,
        everyone_permissions: int = Perm.DEFAULT_EVERYONE,
        bot_member: bool = True,
        locale: str = "en-US",
    ) -> FakeGuild:
        """Create a guild with an @everyone role, an owner and the bot's managed role.

        ``bot_member=False`` makes a guild the bot has not joined yet (see
        ``FakeDiscord.bot_join_guild``).
        """
        guild_id = id or self.snowflakes.next()
        owner = owner or self.add_user(f"owner-of-{name}".replace(" ", "-").lower())
        guild = FakeGuild(id=guild_id, name=name, owner_id=owner.id, locale=locale)
        guild.roles[guild_id] = FakeRole(
            id=guild_id, guild_id=guild_id, name="@everyone", permissions=everyone_permissions
        )
        bot_role = FakeRole(
            id=self.snowflakes.next(),
            guild_id=guild_id,
            name=self.bot.username,
            permissions=bot_permissions,
            position=1,
            managed=True,
            bot_id=self.bot.id,
        )
        guild.roles[bot_role.id] = bot_role
        guild.bot_role_id = bot_role.id
        guild.members[owner.id] = FakeMember(user=owner, guild_id=guild_id)
        guild.members[self.bot.id] = FakeMember(
            user=self.bot, guild_id=guild_id, roles=[bot_role.id]
        )
        guild.bot_present = bot_member
        self.guilds[guild_id] = guild
        return guild

    def add_role(
        self,
        guild: int | FakeGuild,
        name: str,
        *,
        permissions: int = 0,
        id: int | None = None,
        position: int | None = None,
        mentionable: bool = False,
    ) -> FakeRole:
        """Create a role in a guild (``mentionable``: anyone may ping it)."""
        g = self.guild(guild)
        role = FakeRole(
            id=id or self.snowflakes.next(),
            guild_id=g.id,
            name=name,
            permissions=permissions,
            position=position if position is not None else len(g.roles),
            mentionable=mentionable,
        )
        g.roles[role.id] = role
        return role

    def add_member(
        self,
        guild: int | FakeGuild,
        user: FakeUser | int,
        *,
        roles: Iterable[FakeRole | int] = (),
        nick: str | None = None,
    ) -> FakeMember:
        """Make a user a member of a guild (replacing an existing membership)."""
        g = self.guild(guild)
        u = self.user(user)
        member = FakeMember(user=u, guild_id=g.id, roles=[_as_id(r) for r in roles], nick=nick)
        g.members[u.id] = member
        return member

    def add_channel(
        self,
        guild: int | FakeGuild,
        name: str,
        *,
        type: int = ChannelType.GUILD_TEXT,
        id: int | None = None,
        topic: str | None = None,
        parent: FakeChannel | int | None = None,
        overwrites: Iterable[Overwrite] = (),
        position: int | None = None,
        nsfw: bool = False,
    ) -> FakeChannel:
        """Create a guild channel (a text channel unless ``type`` says otherwise)."""
        g = self.guild(guild)
        channel = FakeChannel(
            id=id or self.snowflakes.next(),
            type=type,
            name=name,
            guild_id=g.id,
            position=position if position is not None else len(g.channels),
            parent_id=None if parent is None else _as_id(parent),
            topic=topic,
            nsfw=nsfw,
            overwrites={ow.id: ow for ow in overwrites},
        )
        g.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self.channel_messages.setdefault(channel.id, [])
        return channel

    def add_forum_channel(
        self, guild: int | FakeGuild, name: str, *, tags: Iterable[str] = (), id: int | None = None
    ) -> FakeChannel:
        """Create a forum channel whose available tags have the names ``tags``."""
        forum = self.add_channel(guild, name, type=ChannelType.GUILD_FORUM, id=id)
        forum.available_tags = [
            {
                "id": str(self.snowflakes.next()),
                "name": tag,
                "moderated": False,
                "emoji_id": None,
                "emoji_name": None,
            }
            for tag in tags
        ]
        return forum

    def add_thread(
        self,
        parent: FakeChannel,
        name: str,
        *,
        owner: FakeUser,
        id: int | None = None,
        applied_tags: Iterable[int] = (),
    ) -> FakeChannel:
        """Create a public thread in ``parent`` (a text or forum channel)."""
        assert parent.guild_id is not None, "threads live in guild channels"
        thread = self.add_channel(
            parent.guild_id, name, type=ChannelType.PUBLIC_THREAD, id=id, parent=parent
        )
        thread.owner_id = owner.id
        thread.applied_tags = list(applied_tags)
        return thread

    def active_threads(self, guild: FakeGuild) -> list[FakeChannel]:
        """The guild's threads that are not archived, oldest first."""
        return [c for c in guild.channels.values() if c.is_thread and not c.archived]

    def mentions(
        self, channel: FakeChannel, author_id: int, content: str, allowed: JSON | None
    ) -> tuple[list[int], bool]:
        """Return the roles a message pings and whether it pings everyone, as Discord does.

        A role mention ``<@&id>`` pings when ``allowed_mentions`` allows it (``parse``
        has ``roles`` or ``roles`` lists it; no ``allowed_mentions`` allows all) and the
        role is mentionable or the author has Mention Everyone in the channel, which
        ``@everyone`` and ``@here`` need too.
        """
        if channel.guild_id is None:
            return [], False
        guild = self.guilds[channel.guild_id]
        may_ping_all = bool(self.permissions_in(channel, author_id) & Perm.MENTION_EVERYONE)
        parse = None if allowed is None else set(allowed.get("parse") or [])
        listed = set() if allowed is None else {int(r) for r in allowed.get("roles") or []}
        roles: list[int] = []
        for match in _ROLE_MENTION.finditer(content):
            role = guild.roles.get(int(match.group(1)))
            if role is None or role.id in roles or role.id == guild.id:
                continue
            if parse is not None and "roles" not in parse and role.id not in listed:
                continue
            if role.mentionable or may_ping_all:
                roles.append(role.id)
        everyone = (
            ("@everyone" in content or "@here" in content)
            and (parse is None or "everyone" in parse)
            and may_ping_all
        )
        return roles, everyone

    def dm_channel(self, user: FakeUser | int) -> FakeChannel:
        """The DM channel between the bot and ``user``, created on first use."""
        u = self.user(user)
        existing = self.dm_channels.get(u.id)
        if existing is not None:
            return self.channels[existing]
        channel = FakeChannel(
            id=self.snowflakes.next(), type=ChannelType.DM, name="", recipients=[u]
        )
        self.channels[channel.id] = channel
        self.channel_messages.setdefault(channel.id, [])
        self.dm_channels[u.id] = channel.id
        return channel

    def remove_channel(self, channel: int | FakeChannel) -> FakeChannel:
        """Delete a channel from its guild and the index."""
        ch = self.channels.pop(_as_id(channel))
        if ch.guild_id is not None and ch.guild_id in self.guilds:
            self.guilds[ch.guild_id].channels.pop(ch.id, None)
        return ch

    # -------------------------------------------------------------- permissions
    def base_permissions(self, guild: FakeGuild, user_id: int) -> int:
        """Guild-level permissions of a member (roles only, no overwrites)."""
        if user_id == guild.owner_id:
            return Perm.ALL
        member = guild.members.get(user_id)
        perms = guild.everyone.permissions
        if member is not None:
            for role_id in member.roles:
                role = guild.roles.get(role_id)
                if role is not None:
                    perms |= role.permissions
        if perms & Perm.ADMINISTRATOR:
            return Perm.ALL
        return perms

    def permissions_in(self, channel: FakeChannel, user_id: int) -> int:
        """Channel permissions of a member, applying overwrites as Discord does."""
        if channel.guild_id is None:
            return Perm.DEFAULT_EVERYONE
        if channel.is_thread and channel.parent_id in self.channels:
            return self.permissions_in(self.channels[channel.parent_id], user_id)
        guild = self.guilds[channel.guild_id]
        perms = self.base_permissions(guild, user_id)
        if perms & Perm.ADMINISTRATOR or perms == Perm.ALL:
            return Perm.ALL
        overwrites = channel.overwrites
        everyone = overwrites.get(guild.id)
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        member = guild.members.get(user_id)
        role_ids = member.roles if member is not None else []
        allow = deny = 0
        for role_id in role_ids:
            ow = overwrites.get(role_id)
            if ow is not None and ow.type == 0:
                allow |= ow.allow
                deny |= ow.deny
        perms = (perms & ~deny) | allow
        member_ow = overwrites.get(user_id)
        if member_ow is not None and member_ow.type == 1:
            perms = (perms & ~member_ow.deny) | member_ow.allow
        if not perms & Perm.VIEW_CHANNEL:
            return 0
        if not perms & Perm.SEND_MESSAGES:
            perms &= ~Perm._NEEDS_SEND
        return perms

    def bot_permissions_in(self, channel: FakeChannel) -> int:
        """The bot's permissions in a channel."""
        return self.permissions_in(channel, self.bot.id)

    # ----------------------------------------------------------------- payloads
    def guild_create_payload(self, guild: FakeGuild, *, all_members: bool, join: bool) -> JSON:
        """A GUILD_CREATE payload: guild plus channels, members and gateway-only fields.

        ``join=False`` marks the guild as becoming available during start-up
        (``unavailable: false``); ``join=True`` is the bot joining a new guild.
        """
        payload = guild.base_payload()
        members = (
            list(guild.members.values())
            if all_members
            else [m for m in guild.members.values() if m.user.id == self.bot.id]
        )
        payload.update(
            {
                "joined_at": guild.joined_at,
                "large": False,
                "member_count": len(guild.members),
                "members": [m.to_payload() for m in members],
                "channels": [c.to_payload() for c in guild.channels.values() if not c.is_thread],
                "threads": [t.to_payload() for t in self.active_threads(guild)],
                "presences": [],
                "voice_states": [],
                "stage_instances": [],
                "guild_scheduled_events": [],
                "soundboard_sounds": [],
            }
        )
        if not join:
            payload["unavailable"] = False
        return payload

    def application_payload(self) -> JSON:
        """The application object for ``GET /oauth2/applications/@me``."""
        return {
            "id": str(self.application_id),
            "name": self.bot.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": self.app_owner.to_payload(),
            "team": None,
            "flags": 0,
            "flags_new": "0",
            "role_connections_verification_url": None,
            "approximate_user_install_count": 0,
            "approximate_user_authorization_count": 0,
            "explicit_content_filter": 0,
            "eligible_oauth2_scopes": ["applications.commands", "bot"],
            "bot": self.bot.to_payload(),
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "approximate_guild_count": sum(1 for g in self.guilds.values() if g.bot_present),
            "integration_types_config": {"0": {}},
        }

    def bot_user_payload(self) -> JSON:
        """The bot's user object as ``GET /users/@me`` and READY carry it."""
        payload = self.bot.to_payload()
        payload.update(
            {"verified": True, "mfa_enabled": False, "flags": 0, "email": None, "locale": "en-US"}
        )
        return payload


def _embed_as_answered(embed: Mapping[str, Any]) -> JSON:
    """An embed as Discord answers it: with its ``type`` and every field's ``inline``."""
    answered: JSON = {"type": "rich", **embed}
    if embed.get("fields"):
        answered["fields"] = [{"inline": False, **item} for item in embed["fields"]]
    return answered
