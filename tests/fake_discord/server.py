"""``FakeDiscord``: the aiohttp server plus the control surface tests use.

One object owns the state, the REST API (``/api/v10/...``), the gateway
(``/gateway``) and the HTTP control API (``/_control/...``), all on one
port of 127.0.0.1. Tests call its methods directly; a bot running in another
process can be driven through the control API instead (see ``control.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

from aiohttp import BodyPartReader, web

from . import control
from .errors import ApiError
from .faults import Fault, FaultInjector
from .gateway import Gateway, GatewaySession, Intent
from .interactions import (
    InteractionHandle,
    InteractionType,
    OptionBuilder,
    base_interaction_payload,
    command_schema_options,
    nest_options,
)
from .openapi import ApiDescription, form_errors
from .ratelimit import RateLimiter
from .recording import RecordedFile, RecordedRequest
from .rest import RestApi
from .routing import ApiRoute, Reply, Router
from .state import (
    JSON,
    ChannelType,
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeState,
    FakeUser,
    Overwrite,
    Perm,
    utcnow_iso,
)
from .waiting import Notifier

_log = logging.getLogger(__name__)

GuildRef = FakeGuild | int
ChannelRef = FakeChannel | int
UserRef = FakeUser | FakeMember | int
MessageRef = FakeMessage | int

#: Message flags a bot may set when creating a message.
_CREATABLE_FLAGS = (1 << 2) | (1 << 6) | (1 << 12) | (1 << 15)
#: Flags a bot may toggle when editing.
_EDITABLE_FLAGS = 1 << 2


def _number_components(components: Iterable[Any]) -> list[JSON]:
    """Deep-copy components and give each one a numeric ``id``, as Discord does."""
    counter = 0
    copied = copy.deepcopy([dict(c) for c in components if isinstance(c, Mapping)])

    def walk(items: list[Any]) -> None:
        nonlocal counter
        for item in items:
            if not isinstance(item, dict):
                continue
            counter += 1
            item.setdefault("id", counter)
            walk(item.get("components") or [])
            if isinstance(item.get("accessory"), dict):
                walk([item["accessory"]])

    walk(copied)
    return copied


class FakeDiscord:
    """A fake Discord (REST v10 + gateway) for the real discord.py client.

    Use it as an async context manager::

        async with FakeDiscord() as fake:
            guild = fake.add_guild("Test Guild")
            channel = fake.add_text_channel(guild, "news")
            with fake.discord_pointed_here():
                ...  # start a bot with fake.token

    Args:
        host: interface to bind (keep 127.0.0.1).
        port: 0 picks a free port.
        token: the bot token the fake accepts (random if omitted).
        application_id: defaults to the bot user's id, as for real bots.
        bot_name: the bot user's username.
        rate_limits: turn on Discord-style rate limiting (see ``ratelimit.py``).
        default_timeout: seconds every ``wait``/``response``/... waits by default.
        interaction_ack_deadline: seconds the bot has for the initial response
            (Discord: 3); later callbacks get 404 Unknown interaction. None = no limit.
        nonce_window: seconds during which ``enforce_nonce`` deduplicates.
        recommended_shards: what ``GET /gateway/bot`` answers in ``shards``.
        heartbeat_interval_ms: sent in HELLO.
        enforce_permissions: check the bot's channel permissions on REST calls.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        application_id: int | None = None,
        bot_id: int | None = None,
        bot_name: str = "NewsBot",
        rate_limits: bool = False,
        default_timeout: float = 5.0,
        interaction_ack_deadline: float | None = 3.0,
        nonce_window: float = 300.0,
        recommended_shards: int = 1,
        heartbeat_interval_ms: int = 41_250,
        enforce_permissions: bool = True,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.state = FakeState(
            bot_name=bot_name, token=token, application_id=application_id, bot_id=bot_id
        )
        self.notifier = Notifier()
        self.gateway = Gateway(
            self.state,
            self.notifier,
            lambda: self.resume_gateway_url,
            heartbeat_interval_ms=heartbeat_interval_ms,
        )
        self.faults = FaultInjector()
        self.rate_limits = RateLimiter(enabled=rate_limits)
        self.default_timeout = default_timeout
        self.interaction_ack_deadline = interaction_ack_deadline
        self.nonce_window = nonce_window
        self.recommended_shards = recommended_shards
        self.enforce_permissions = enforce_permissions
        self.dm_app_permissions = Perm.DEFAULT_BOT
        self.requests: list[RecordedRequest] = []
        self.internal_errors: list[str] = []
        self.interactions: dict[int, InteractionHandle] = {}
        self.interactions_by_token: dict[str, InteractionHandle] = {}
        self.sync_count = 0
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self._default_user: FakeUser | None = None
        self.api = ApiDescription.load()
        #: Answers of the fake that differ from Discord's API description (a bug in the
        #: fake): leaving ``async with FakeDiscord()`` raises while any are listed.
        self.contract_violations: list[str] = []
        self.router = Router(self.api)
        RestApi(self).register(self.router)
        self._runner: web.AppRunner | None = None

    # ================================================================ lifecycle
    def build_app(self) -> web.Application:
        """The aiohttp application (gateway, REST, control API)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/gateway/resume", self.gateway.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        app.router.add_route("*", r"/api/v{version:\d+}/{tail:.*}", self._handle_api)
        control.register(app, self)
        return app

    async def start(self) -> Self:
        """Bind to ``host`` on a free port (unless one was given) and serve."""
        if self._runner is not None:
            return self
        runner = web.AppRunner(
            self.build_app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._requested_port)
        await site.start()
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self._requested_port
        return self

    async def stop(self) -> None:
        """Close gateway connections and the server."""
        if self._runner is None:
            return
        await self.gateway.close_all(1001)
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        if exc_type is None and self.contract_violations:
            raise AssertionError(
                "fake_discord answered unlike Discord's API description:\n"
                + "\n".join(self.contract_violations)
            )

    # ================================================================== addresses
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        if self.port is None:
            raise RuntimeError("FakeDiscord is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """Value for ``discord.http.Route.BASE`` / ``NEWSBOT_DISCORD_API``."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """Value for ``DiscordWebSocket.DEFAULT_GATEWAY`` / ``NEWSBOT_DISCORD_GATEWAY``."""
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        """The ``resume_gateway_url`` READY carries."""
        return f"ws://{self.host}:{self.port}/gateway/resume"

    @property
    def control_url(self) -> str:
        """Base of the HTTP control API."""
        return f"{self.base_url}/_control"

    @property
    def token(self) -> str:
        """The bot token the fake accepts."""
        return self.state.token

    @property
    def application_id(self) -> int:
        """The application id."""
        return self.state.application_id

    @property
    def bot(self) -> FakeUser:
        """The bot user."""
        return self.state.bot

    def env(self) -> dict[str, str]:
        """Environment variables that point newsbot at this fake."""
        return {"NEWSBOT_DISCORD_API": self.api_url, "NEWSBOT_DISCORD_GATEWAY": self.gateway_url}

    @contextlib.contextmanager
    def discord_pointed_here(self) -> Iterator[None]:
        """Point discord.py's two URL globals here; restore them afterwards.

        Sets ``discord.http.Route.BASE`` (read when each ``Route`` is built) and
        ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (used by
        ``Client.connect``, by ``AutoShardedClient`` when ``shard_count`` is
        given, and after an INVALID_SESSION). Keep it active while the bot runs.
        """
        import yarl
        from discord.gateway import DiscordWebSocket
        from discord.http import Route

        old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
        Route.BASE = self.api_url
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        try:
            yield
        finally:
            Route.BASE = old_base
            DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    def loop_time(self) -> float:
        """The running loop's clock."""
        return asyncio.get_running_loop().time()

    # ================================================================ setup state
    def add_user(self, username: str | None = None, *, id: int | None = None) -> FakeUser:
        """A user (not yet in any guild)."""
        return self.state.add_user(username, id=id)

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
        """A guild with @everyone, an owner and the bot's role (``bot_permissions``)."""
        return self.state.add_guild(
            name,
            id=id,
            owner=owner,
            bot_permissions=bot_permissions,
            everyone_permissions=everyone_permissions,
            bot_member=bot_member,
            locale=locale,
        )

    def add_role(
        self,
        guild: GuildRef,
        name: str,
        *,
        permissions: int = 0,
        id: int | None = None,
        mentionable: bool = False,
    ) -> FakeRole:
        """A role in a guild (``mentionable``: anyone may ping it)."""
        return self.state.add_role(
            guild, name, permissions=permissions, id=id, mentionable=mentionable
        )

    def add_member(
        self,
        guild: GuildRef,
        user: FakeUser | int | None = None,
        *,
        roles: Iterable[FakeRole | int] = (),
        nick: str | None = None,
    ) -> FakeMember:
        """Make ``user`` (a new user if None) a member of ``guild``."""
        u = self.state.add_user() if user is None else self.state.user(user)
        return self.state.add_member(guild, u, roles=roles, nick=nick)

    def add_text_channel(
        self,
        guild: GuildRef,
        name: str = "general",
        *,
        id: int | None = None,
        topic: str | None = None,
        parent: ChannelRef | None = None,
        overwrites: Iterable[Overwrite] = (),
        type: int = ChannelType.GUILD_TEXT,
    ) -> FakeChannel:
        """A text channel (or another ``type``) in a guild."""
        return self.state.add_channel(
            guild, name, id=id, topic=topic, parent=parent, overwrites=overwrites, type=type
        )

    def add_forum_channel(
        self,
        guild: GuildRef,
        name: str = "forum",
        *,
        tags: Iterable[str] = (),
        id: int | None = None,
    ) -> FakeChannel:
        """A forum channel (type 15) whose available tags have the names ``tags``."""
        return self.state.add_forum_channel(guild, name, tags=tags, id=id)

    def threads_in(self, channel: ChannelRef) -> list[FakeChannel]:
        """The threads (active and archived) whose parent is ``channel``, oldest first."""
        parent = self.state.channel(channel)
        return [c for c in self.state.channels.values() if c.is_thread and c.parent_id == parent.id]

    async def archive_thread(self, thread: ChannelRef) -> FakeChannel:
        """Archive a thread (as Discord does after its inactivity period) and send THREAD_UPDATE."""
        t = self.state.channel(thread)
        t.archived = True
        t.archive_timestamp = utcnow_iso()
        await self.gateway.dispatch("THREAD_UPDATE", t.to_payload(), guild_id=t.guild_id)
        return t

    def add_category(self, guild: GuildRef, name: str, *, id: int | None = None) -> FakeChannel:
        """A category channel."""
        return self.state.add_channel(guild, name, id=id, type=ChannelType.GUILD_CATEGORY)

    def dm_channel(self, user: UserRef) -> FakeChannel:
        """The bot's DM channel with ``user``."""
        return self.state.dm_channel(self.state.user(user))

    def default_user(self) -> FakeUser:
        """The user interactions come from when a test does not name one."""
        if self._default_user is None:
            self._default_user = self.state.add_user("tester")
        return self._default_user

    # ============================================================ live mutations
    async def dispatch(
        self,
        event: str,
        data: JSON,
        *,
        guild_id: int | None = None,
        shard_id: int | None = None,
        broadcast: bool = False,
    ) -> int:
        """Send any gateway event; routed to the guild's shard (DMs: shard 0)."""
        return await self.gateway.dispatch(
            event, data, guild_id=guild_id, shard_id=shard_id, broadcast=broadcast
        )

    async def bot_join_guild(self, guild: GuildRef) -> FakeGuild:
        """The bot is added to ``guild``: GUILD_CREATE (``on_guild_join``)."""
        g = self.state.guild(guild)
        g.bot_present = True
        g.joined_at = utcnow_iso()
        for session in self.gateway.sessions_for(guild_id=g.id):
            payload = self.state.guild_create_payload(
                g, all_members=bool(session.intents & Intent.GUILD_MEMBERS), join=True
            )
            await self.gateway.dispatch("GUILD_CREATE", payload, shard_id=session.shard_id)
        return g

    async def remove_bot_from_guild(self, guild: GuildRef, *, unavailable: bool = False) -> None:
        """GUILD_DELETE: the bot was removed (``on_guild_remove``), or an outage."""
        g = self.state.guild(guild)
        data: JSON = {"id": str(g.id)}
        if unavailable:
            data["unavailable"] = True
        else:
            g.bot_present = False
        await self.gateway.dispatch("GUILD_DELETE", data, guild_id=g.id)

    async def create_channel(self, guild: GuildRef, name: str, **kwargs: Any) -> FakeChannel:
        """Add a channel and send CHANNEL_CREATE."""
        channel = self.state.add_channel(guild, name, **kwargs)
        await self.gateway.dispatch(
            "CHANNEL_CREATE", channel.to_payload(), guild_id=channel.guild_id
        )
        return channel

    async def create_forum_channel(
        self, guild: GuildRef, name: str = "forum", *, tags: Iterable[str] = ()
    ) -> FakeChannel:
        """Add a forum channel with tags named ``tags`` and send CHANNEL_CREATE."""
        forum = self.state.add_forum_channel(guild, name, tags=tags)
        await self.gateway.dispatch("CHANNEL_CREATE", forum.to_payload(), guild_id=forum.guild_id)
        return forum

    async def create_role(
        self, guild: GuildRef, name: str, *, permissions: int = 0, mentionable: bool = False
    ) -> FakeRole:
        """Add a role and send GUILD_ROLE_CREATE."""
        role = self.state.add_role(guild, name, permissions=permissions, mentionable=mentionable)
        await self.gateway.dispatch(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(role.guild_id), "role": role.to_payload()},
            guild_id=role.guild_id,
        )
        return role

    async def delete_channel(self, channel: ChannelRef) -> FakeChannel:
        """Remove a channel and send CHANNEL_DELETE (``on_guild_channel_delete``)."""
        ch = self.state.remove_channel(channel)
        await self.gateway.dispatch("CHANNEL_DELETE", ch.to_payload(), guild_id=ch.guild_id)
        return ch

    async def update_channel(
        self, channel: ChannelRef, *, name: str | None = None, topic: str | None = None
    ) -> FakeChannel:
        """Rename / retopic a channel and send CHANNEL_UPDATE."""
        ch = self.state.channel(channel)
        if name is not None:
            ch.name = name
        if topic is not None:
            ch.topic = topic
        await self.gateway.dispatch("CHANNEL_UPDATE", ch.to_payload(), guild_id=ch.guild_id)
        return ch

    async def set_permission_overwrite(
        self,
        channel: ChannelRef,
        target: FakeRole | FakeUser | FakeMember | int,
        *,
        allow: int = 0,
        deny: int = 0,
    ) -> Overwrite:
        """Set a role/member overwrite on a channel and send CHANNEL_UPDATE.

        Pass the bot (``fake.bot``) or its role (``guild.bot_role``) to change
        what ``channel.permissions_for(guild.me)`` says and what REST allows.
        """
        ch = self.state.channel(channel)
        if isinstance(target, FakeRole):
            ow = Overwrite(target.id, 0, allow, deny)
        elif isinstance(target, FakeUser | FakeMember):
            ow = Overwrite(self.state.user(target).id, 1, allow, deny)
        else:
            is_role = ch.guild_id is not None and target in self.state.guilds[ch.guild_id].roles
            ow = Overwrite(int(target), 0 if is_role else 1, allow, deny)
        ch.overwrites[ow.id] = ow
        await self.gateway.dispatch("CHANNEL_UPDATE", ch.to_payload(), guild_id=ch.guild_id)
        return ow

    async def remove_permission_overwrite(self, channel: ChannelRef, target_id: int) -> None:
        """Drop an overwrite and send CHANNEL_UPDATE."""
        ch = self.state.channel(channel)
        ch.overwrites.pop(target_id, None)
        await self.gateway.dispatch("CHANNEL_UPDATE", ch.to_payload(), guild_id=ch.guild_id)

    async def update_role(
        self, role: FakeRole, *, permissions: int | None = None, name: str | None = None
    ) -> FakeRole:
        """Change a role and send GUILD_ROLE_UPDATE."""
        if permissions is not None:
            role.permissions = permissions
        if name is not None:
            role.name = name
        await self.gateway.dispatch(
            "GUILD_ROLE_UPDATE",
            {"guild_id": str(role.guild_id), "role": role.to_payload()},
            guild_id=role.guild_id,
        )
        return role

    async def set_bot_permissions(self, guild: GuildRef, permissions: int) -> FakeRole:
        """Set the permissions of the bot's managed role (GUILD_ROLE_UPDATE)."""
        role = self.state.guild(guild).bot_role
        if role is None:
            raise ValueError("guild has no bot role")
        return await self.update_role(role, permissions=permissions)

    async def set_member_roles(
        self, guild: GuildRef, user: UserRef, roles: Iterable[FakeRole | int]
    ) -> FakeMember:
        """Replace a member's roles and send GUILD_MEMBER_UPDATE."""
        g = self.state.guild(guild)
        u = self.state.user(user)
        member = g.members.get(u.id) or self.state.add_member(g, u)
        member.roles = [r.id if isinstance(r, FakeRole) else int(r) for r in roles]
        payload = member.to_payload()
        payload["guild_id"] = str(g.id)
        event = "GUILD_MEMBER_UPDATE"
        if u.id == self.state.bot.id:
            # The bot's own member updates arrive even without the members intent.
            for session in self.gateway.sessions_for(guild_id=g.id):
                await self.gateway.dispatch(event, payload, shard_id=session.shard_id, force=True)
        else:
            await self.gateway.dispatch(event, payload, guild_id=g.id)
        return member

    async def post_user_message(
        self, channel: ChannelRef, user: UserRef, content: str, **extra: Any
    ) -> FakeMessage:
        """A user writes in a channel (MESSAGE_CREATE; content needs the intent)."""
        ch = self.state.channel(channel)
        u = self.state.user(user)
        message = self.new_message(ch, u, {"content": content, **extra}, [])
        if ch.guild_id is not None:
            g = self.state.guilds[ch.guild_id]
            message.member = g.members.get(u.id) or self.state.add_member(g, u)
        await self.announce_message("MESSAGE_CREATE", message)
        return message

    # ================================================================ messages
    def new_message(
        self,
        channel: FakeChannel,
        author: FakeUser,
        body: Mapping[str, Any],
        files: list[RecordedFile],
        *,
        msg_type: int = 0,
        interaction: InteractionHandle | None = None,
        raw_flags: bool = False,
    ) -> FakeMessage:
        """Create and store a message from a request body."""
        flags = int(body.get("flags") or 0)
        if not raw_flags:
            flags &= _CREATABLE_FLAGS
            if interaction is None:
                flags &= ~FakeMessage.EPHEMERAL
        message = FakeMessage(
            id=self.state.snowflakes.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=str(body.get("content") or ""),
            embeds=[dict(e) for e in body.get("embeds") or []],
            components=_number_components(body.get("components") or []),
            allowed_mentions=body.get("allowed_mentions"),
            flags=flags,
            type=msg_type,
            nonce=body.get("nonce"),
            tts=bool(body.get("tts")),
            history=[dict(body)],
            attachment_base_url=self.base_url,
        )
        message.attachments = self._attachments(body, files, [])
        message.mention_roles, message.mention_everyone = self.state.mentions(
            channel, author.id, message.content, message.allowed_mentions
        )
        if channel.is_thread:
            channel.message_count += 1
        if interaction is not None:
            message.webhook_id = self.state.application_id
            message.application_id = self.state.application_id
            message.interaction_metadata = self._interaction_metadata(
                interaction.type, interaction.payload
            )
        self.state.messages[message.id] = message
        self.state.channel_messages.setdefault(channel.id, []).append(message.id)
        channel.last_message_id = message.id
        self.notifier.notify()
        return message

    def _interaction_metadata(self, kind: int, payload: Mapping[str, Any]) -> JSON:
        """The ``interaction_metadata`` of a message answering an interaction of ``kind``."""
        metadata: JSON = {
            "id": str(payload["id"]),
            "type": kind,
            "user": (payload.get("member") or {}).get("user") or payload.get("user"),
            "authorizing_integration_owners": payload.get("authorizing_integration_owners", {}),
        }
        clicked = payload.get("message") or {}
        if kind == InteractionType.MESSAGE_COMPONENT:
            metadata["interacted_message_id"] = str(clicked.get("id", 0))
        elif kind == InteractionType.MODAL_SUBMIT:
            # The interaction that opened the modal: the clicked message's, when there is one.
            metadata["triggering_interaction_metadata"] = clicked.get("interaction_metadata") or {
                **metadata,
                "id": str(self.state.snowflakes.next()),
                "type": InteractionType.APPLICATION_COMMAND,
            }
        return metadata

    def _attachments(
        self, body: Mapping[str, Any], files: list[RecordedFile], existing: list[FakeAttachment]
    ) -> list[FakeAttachment]:
        meta = {
            str(a.get("id")): a for a in body.get("attachments") or [] if isinstance(a, Mapping)
        }
        kept = (
            [a for a in existing if str(a.id) in meta] if "attachments" in body else list(existing)
        )
        for index, file in enumerate(files):
            key = file.field_name[6:-1] if file.field_name.startswith("files[") else str(index)
            info = meta.get(key, {})
            kept.append(
                FakeAttachment(
                    id=self.state.snowflakes.next(),
                    filename=str(info.get("filename") or file.filename),
                    content_type=file.content_type,
                    data=file.data,
                    description=info.get("description"),
                )
            )
        return kept

    def apply_edit(
        self, message: FakeMessage, body: Mapping[str, Any], files: list[RecordedFile]
    ) -> None:
        """Apply a message edit body (only the keys present change)."""
        if "content" in body:
            message.content = str(body["content"] or "")
        if "embeds" in body:
            message.embeds = [dict(e) for e in body["embeds"] or []]
        if "components" in body:
            message.components = _number_components(body["components"] or [])
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        if body.get("flags") is not None:
            toggled = int(body["flags"]) & _EDITABLE_FLAGS
            message.flags = (message.flags & ~_EDITABLE_FLAGS) | toggled
        if "attachments" in body or files:
            message.attachments = self._attachments(body, files, message.attachments)
        channel = self.state.channels.get(message.channel_id)
        if channel is not None and ("content" in body or "allowed_mentions" in body):
            message.mention_roles, message.mention_everyone = self.state.mentions(
                channel, message.author.id, message.content, message.allowed_mentions
            )
        message.edited_timestamp = utcnow_iso()
        message.history.append(dict(body))
        self.notifier.notify()

    async def announce_message(self, event: str, message: FakeMessage) -> None:
        """Send MESSAGE_CREATE / MESSAGE_UPDATE / MESSAGE_DELETE (not for ephemeral ones)."""
        if message.ephemeral:
            return
        if event == "MESSAGE_DELETE":
            data: JSON = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                data["guild_id"] = str(message.guild_id)
        else:
            data = message.to_payload()
        from_bot = message.author.id == self.state.bot.id
        mentioned = f"<@{self.state.bot.id}>" in message.content

        def gate(session: GatewaySession, payload: JSON) -> JSON:
            if from_bot or mentioned or message.guild_id is None or event == "MESSAGE_DELETE":
                return payload
            if session.intents & Intent.MESSAGE_CONTENT:
                return payload
            return {**payload, "content": "", "embeds": [], "attachments": [], "components": []}

        await self.gateway.dispatch(event, data, guild_id=message.guild_id, transform=gate)

    async def delete_stored_message(self, message: FakeMessage) -> None:
        """Mark a message deleted and send MESSAGE_DELETE."""
        message.deleted = True
        self.notifier.notify()
        await self.announce_message("MESSAGE_DELETE", message)

    def nonce_lookup(self, channel_id: int, nonce: Any) -> FakeMessage | None:
        """The message created with ``nonce`` in this channel within ``nonce_window``."""
        entry = self._nonces.get((channel_id, str(nonce)))
        if entry is None:
            return None
        message_id, at = entry
        message = self.state.messages.get(message_id)
        if message is None or message.deleted or time.monotonic() - at > self.nonce_window:
            return None
        return message

    def remember_nonce(self, channel_id: int, nonce: Any, message_id: int) -> None:
        """Record a nonce for enforcement."""
        self._nonces[(channel_id, str(nonce))] = (message_id, time.monotonic())

    def messages_in(self, channel: ChannelRef) -> list[FakeMessage]:
        """Messages in a channel, oldest first (deleted ones left out)."""
        return self.state.messages_in(channel)

    def get_message(self, message: MessageRef) -> FakeMessage:
        """A stored message by id."""
        return self.state.message(message)

    async def wait_for_message(
        self,
        channel: ChannelRef,
        predicate: Callable[[FakeMessage], bool] | None = None,
        *,
        timeout: float | None = None,
    ) -> FakeMessage:
        """The first message in ``channel`` matching ``predicate`` (waits if needed)."""
        ch_id = channel.id if isinstance(channel, FakeChannel) else int(channel)

        def find() -> FakeMessage | None:
            for message in self.state.messages_in(ch_id):
                if predicate is None or predicate(message):
                    return message
            return None

        limit = self.default_timeout if timeout is None else timeout
        return await self.notifier.wait_for(
            find, limit, lambda: f"no matching message in channel {ch_id} within {limit:.1f}s"
        )

    # ================================================================ requests
    def find_requests(self, method: str = "*", path: str | None = None) -> list[RecordedRequest]:
        """Recorded requests by method (``*``) and path pattern or template."""
        return [r for r in self.requests if r.matches(method, path)]

    def last_request(self, method: str = "*", path: str | None = None) -> RecordedRequest:
        """The most recent matching request (AssertionError if none)."""
        found = self.find_requests(method, path)
        if not found:
            raise AssertionError(f"no {method} {path} request recorded")
        return found[-1]

    async def wait_for_request(
        self,
        method: str = "*",
        path: str | None = None,
        *,
        count: int = 1,
        timeout: float | None = None,
        answered: bool = True,
    ) -> list[RecordedRequest]:
        """Wait until ``count`` matching requests (answered ones, by default) exist."""

        def enough() -> list[RecordedRequest] | None:
            found = [
                r for r in self.find_requests(method, path) if r.status is not None or not answered
            ]
            return found if len(found) >= count else None

        limit = self.default_timeout if timeout is None else timeout
        return await self.notifier.wait_for(
            enough,
            limit,
            lambda: f"fewer than {count} {method} {path} requests within {limit:.1f}s",
        )

    @property
    def unhandled_requests(self) -> list[RecordedRequest]:
        """Requests to routes the fake does not implement (answered 404)."""
        return [r for r in self.requests if r.route is None]

    def commands(self, guild: GuildRef | None = None) -> list[JSON]:
        """The synced commands (global, or of one guild)."""
        if guild is None:
            return list(self.state.global_commands.values())
        return list(self.state.guild_commands.get(self.state.guild(guild).id, {}).values())

    async def wait_for_shards(
        self, count: int = 1, timeout: float | None = None
    ) -> list[GatewaySession]:
        """Wait until ``count`` gateway sessions are identified and connected."""

        def ready() -> list[GatewaySession] | None:
            live = [s for s in self.gateway.live_sessions() if s.connected]
            return live if len(live) >= count else None

        limit = self.default_timeout if timeout is None else timeout
        return await self.notifier.wait_for(
            ready, limit, lambda: f"fewer than {count} gateway sessions within {limit:.1f}s"
        )

    # ================================================================== faults
    def inject_fault(
        self,
        method: str,
        path: str,
        *,
        status: int | None = None,
        code: int | None = None,
        message: str | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        delay_answer: float = 0.0,
        retry_after: float = 0.05,
        is_global: bool = False,
        via: bool = True,
        json_body: bool = True,
    ) -> Fault:
        """Make the next ``times`` matching requests (None = all) fail and/or wait.

        ``path`` is a template (``/channels/{channel_id}/messages``) or a concrete
        path (``f"/channels/{channel.id}/messages"``). See ``faults.py`` for how
        discord.py reacts to each status.
        """
        return self.faults.add(
            Fault(
                method=method,
                path=path,
                status=status,
                code=code,
                message=message,
                times=times,
                delay=delay,
                delay_answer=delay_answer,
                retry_after=retry_after,
                is_global=is_global,
                via=via,
                json_body=json_body,
            )
        )

    def inject_delay(
        self, method: str, path: str, seconds: float, *, times: int | None = None
    ) -> Fault:
        """Answer matching requests ``seconds`` late (no error)."""
        return self.inject_fault(method, path, delay=seconds, times=times)

    def clear_faults(self) -> None:
        """Remove all faults."""
        self.faults.clear()

    # ============================================================ interactions
    def _context(
        self, guild: GuildRef | None, channel: ChannelRef | None, user: UserRef | None
    ) -> tuple[FakeChannel, FakeUser]:
        u = self.default_user() if user is None else self.state.user(user)
        if channel is not None:
            ch = self.state.channel(channel)
            if guild is not None and ch.guild_id != self.state.guild(guild).id:
                raise ValueError(f"channel {ch.id} is not in guild {guild}")
            return ch, u
        if guild is not None:
            g = self.state.guild(guild)
            text = [
                c
                for c in g.channels.values()
                if c.type in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT)
            ]
            if not text:
                raise ValueError(f"guild {g.id} has no text channel to invoke from")
            return text[0], u
        return self.state.dm_channel(u), u

    def find_command(self, name: str, guild_id: int | None, command_type: int = 1) -> JSON | None:
        """The synced command a user would invoke (guild command first, then global)."""
        stores = []
        if guild_id is not None:
            stores.append(self.state.guild_commands.get(guild_id, {}))
        stores.append(self.state.global_commands)
        for store in stores:
            for command in store.values():
                if command["name"] == name and int(command.get("type") or 1) == command_type:
                    return command
        return None

    def _command_data(
        self,
        channel: FakeChannel,
        user: FakeUser,
        name: str,
        subcommand: str | None,
        group: str | None,
        options: Mapping[str, Any] | None,
        focused: str | None,
    ) -> JSON:
        parts = name.split()
        path = parts[1:] + [p for p in (group, subcommand) if p]
        base = parts[0]
        command = self.find_command(base, channel.guild_id)
        schema = command_schema_options(command, path)
        builder = OptionBuilder(
            self,
            channel.guild_id,
            channel,
            schema,
            partial=focused is not None,
            invoker_id=user.id,
        )
        leaf = builder.build(dict(options or {}), focused)
        data: JSON = {
            "id": command["id"] if command else str(self.state.snowflakes.next()),
            "name": base,
            "type": 1,
            "options": nest_options(path, leaf),
        }
        if command is not None and command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        if builder.resolved and focused is None:
            data["resolved"] = builder.resolved
        return data

    async def _dispatch_interaction(
        self, payload: JSON, label: str, *, source_message_id: int | None = None
    ) -> InteractionHandle:
        handle = InteractionHandle(self, payload, label=label, source_message_id=source_message_id)
        self.interactions[handle.id] = handle
        self.interactions_by_token[handle.token] = handle
        await self.gateway.dispatch(
            "INTERACTION_CREATE", payload, guild_id=handle.guild_id, require_session=True
        )
        return handle

    async def send_command(
        self,
        guild: GuildRef | None,
        channel: ChannelRef | None,
        user: UserRef | None,
        name: str,
        *,
        subcommand: str | None = None,
        group: str | None = None,
        options: Mapping[str, Any] | None = None,
        permissions: int | None = None,
        app_permissions: int | None = None,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """A user runs a slash command; returns the handle to await the bot's answers.

        ``name`` may hold the subcommand path (``"news topic"``). Option types
        come from the synced command when there is one (unknown or missing
        required options then raise ValueError), otherwise from the Python
        values. Channels/users/roles (objects or ids) are added to ``resolved``.
        ``guild=None`` and ``channel=None`` make it a DM with the bot; with a
        guild but no channel, the guild's first text channel is used; a user who
        is not a member yet is added silently; ``user=None`` is "tester".
        ``permissions`` / ``app_permissions`` override the computed bitfields.
        """
        ch, u = self._context(guild, channel, user)
        data = self._command_data(ch, u, name, subcommand, group, options, None)
        payload = base_interaction_payload(
            self,
            interaction_type=InteractionType.APPLICATION_COMMAND,
            channel=ch,
            user=u,
            data=data,
            permissions=permissions,
            app_permissions=app_permissions,
            locale=locale,
        )
        label = " ".join([name, *(p for p in (group, subcommand) if p)])
        return await self._dispatch_interaction(payload, f"/{label}")

    async def start_autocomplete(
        self,
        guild: GuildRef | None,
        channel: ChannelRef | None,
        user: UserRef | None,
        name: str,
        *,
        focused: str,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
        group: str | None = None,
        permissions: int | None = None,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """Dispatch an autocomplete interaction (option ``focused`` is being typed)."""
        ch, u = self._context(guild, channel, user)
        data = self._command_data(ch, u, name, subcommand, group, options, focused)
        payload = base_interaction_payload(
            self,
            interaction_type=InteractionType.AUTOCOMPLETE,
            channel=ch,
            user=u,
            data=data,
            permissions=permissions,
            app_permissions=None,
            locale=locale,
        )
        return await self._dispatch_interaction(payload, f"/{name} autocomplete {focused}")

    async def send_autocomplete(
        self,
        guild: GuildRef | None,
        channel: ChannelRef | None,
        user: UserRef | None,
        name: str,
        *,
        focused: str,
        options: Mapping[str, Any] | None = None,
        subcommand: str | None = None,
        group: str | None = None,
        timeout: float | None = None,
    ) -> list[JSON]:
        """Autocomplete and return the bot's choices (``[{"name", "value"}]``)."""
        handle = await self.start_autocomplete(
            guild,
            channel,
            user,
            name,
            focused=focused,
            options=options,
            subcommand=subcommand,
            group=group,
        )
        return await handle.choices(timeout)

    async def click_button(
        self,
        message: MessageRef,
        custom_id: str,
        user: UserRef | None = None,
        *,
        values: list[str] | None = None,
        permissions: int | None = None,
        app_permissions: int | None = None,
        locale: str = "en-US",
    ) -> InteractionHandle:
        """A user clicks a button (or picks ``values`` in a select) on a stored message."""
        msg = self.state.message(message)
        component = msg.find_component(custom_id)
        if component is None:
            raise ValueError(
                f"message {msg.id} has no component {custom_id!r}; has {msg.custom_ids}"
            )
        data: JSON = {"custom_id": custom_id, "component_type": int(component.get("type", 2))}
        if "id" in component:
            data["id"] = component["id"]
        if values is not None:
            data["values"] = list(values)
        ch = self.state.channel(msg.channel_id)
        u = self.default_user() if user is None else self.state.user(user)
        payload = base_interaction_payload(
            self,
            interaction_type=InteractionType.MESSAGE_COMPONENT,
            channel=ch,
            user=u,
            data=data,
            permissions=permissions,
            app_permissions=app_permissions,
            locale=locale,
        )
        payload["message"] = msg.to_payload()
        return await self._dispatch_interaction(
            payload, f"click {custom_id}", source_message_id=msg.id
        )

    async def submit_modal(
        self,
        guild: GuildRef | None,
        channel: ChannelRef | None,
        user: UserRef | None,
        custom_id: str,
        values: Mapping[str, str],
        *,
        message: MessageRef | None = None,
    ) -> InteractionHandle:
        """A user submits a modal whose text inputs (custom_id -> value) are ``values``."""
        ch, u = self._context(guild, channel, user)
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in values.items()
        ]
        payload = base_interaction_payload(
            self,
            interaction_type=InteractionType.MODAL_SUBMIT,
            channel=ch,
            user=u,
            data={"custom_id": custom_id, "components": rows},
            permissions=None,
            app_permissions=None,
            locale="en-US",
        )
        source = None
        if message is not None:
            msg = self.state.message(message)
            payload["message"] = msg.to_payload()
            source = msg.id
        return await self._dispatch_interaction(
            payload, f"modal {custom_id}", source_message_id=source
        )

    # =================================================================== HTTP
    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        for message in self.state.messages.values():
            for attachment in message.attachments:
                if str(attachment.id) == request.match_info["attachment_id"]:
                    return web.Response(
                        body=attachment.data,
                        content_type=attachment.content_type or "application/octet-stream",
                    )
        return web.Response(status=404)

    async def _read_body(self, request: web.Request, record: RecordedRequest) -> None:
        if not request.body_exists:
            return
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue
                name = part.name or ""
                if part.filename is not None:
                    data = await part.read(decode=False)
                    record.files.append(
                        RecordedFile(
                            name, part.filename, part.headers.get("Content-Type"), bytes(data)
                        )
                    )
                else:
                    value = await part.text()
                    record.form[name] = value
                    if name == "payload_json":
                        record.json = json.loads(value)
            return
        raw = await request.read()
        text = raw.decode("utf-8", errors="replace")
        record.text = text
        if text and ctype == "application/json":
            record.json = json.loads(text)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"].rstrip("/")
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=dict(request.headers),
        )
        resolved = self.router.resolve(request.method, path)
        if resolved is not None:
            record.route, record.params = resolved[0].template, resolved[1]
        self.requests.append(record)
        try:
            try:
                await self._read_body(request, record)
            except ValueError as exc:
                raise ApiError(
                    400, 50109, f"The request body contains invalid JSON: {exc}"
                ) from exc
            self.notifier.notify()
            reply = await self._process(record, resolved)
        except ApiError as exc:
            reply = Reply(exc.status, exc.body())
        except Exception as exc:  # a bug in the fake, not in the bot
            _log.exception("fake_discord crashed on %s %s", request.method, path)
            self.internal_errors.append(f"{request.method} {path}: {exc!r}")
            # 400, not 500: discord.py would retry a 5xx for ~25 s.
            reply = Reply(400, {"message": f"fake_discord internal error: {exc!r}", "code": 0})
        record.status = reply.status
        record.response = reply.body
        if resolved is not None:
            self._check_answer(resolved[0], record)
        self.notifier.notify()
        return _to_response(reply)

    def _check_answer(self, route: ApiRoute, record: RecordedRequest) -> None:
        """Hold the fake's answer to the response schema Discord describes for its status.

        5xx answers are left out: the description has none (Discord's own are often
        not even JSON), and only injected faults produce them.
        """
        assert record.status is not None
        if record.status >= 500:
            return
        for problem in self.api.response_problems(route.operation, record.status, record.response):
            _log.error("fake_discord answer unlike Discord's: %s", problem)
            self.contract_violations.append(f"{record.method} {record.path}: {problem}")

    async def _process(
        self, record: RecordedRequest, resolved: tuple[ApiRoute, dict[str, str]] | None
    ) -> Reply:
        if resolved is None:
            raise ApiError(404, 0, "404: Not Found")
        route = resolved[0]
        if route.auth and record.headers.get("Authorization") != f"Bot {self.state.token}":
            raise ApiError(401, 0, "401: Unauthorized")
        fault = self.faults.take(record.method, record.path, route.template)
        if fault is not None:
            record.fault = fault.describe()
            if fault.delay:
                await asyncio.sleep(fault.delay)
            failure = fault.reply()
            if failure is not None:
                return failure
        limited, headers = self.rate_limits.check(
            record.method,
            record.path,
            route.template,
            record.params,
            exempt_from_global=route.interaction,
        )
        if limited is not None:
            return limited
        if record.json is not None:
            invalid = self.api.request_errors(route.operation, record.json)
            if invalid:
                raise form_errors(invalid)
        reply = await route.handler(record)
        reply.headers.update(headers)
        if fault is not None and fault.delay_answer:
            await asyncio.sleep(fault.delay_answer)
        return reply


def _to_response(reply: Reply) -> web.Response:
    """Build the aiohttp response with ``Content-Type: application/json`` exactly.

    discord.py only parses JSON when the header is exactly ``application/json``
    (``web.json_response`` would add ``; charset=utf-8``).
    """
    headers = dict(reply.headers)
    if reply.body is None:
        return web.Response(status=reply.status, headers=headers)
    if isinstance(reply.body, str):
        headers["Content-Type"] = "text/plain"
        return web.Response(status=reply.status, body=reply.body.encode(), headers=headers)
    headers["Content-Type"] = "application/json"
    body = json.dumps(reply.body, separators=(",", ":")).encode()
    return web.Response(status=reply.status, body=body, headers=headers)
