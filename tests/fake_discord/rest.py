"""REST route handlers (Discord API v10 subset).

Each handler takes the :class:`~.recording.RecordedRequest` (parsed body,
path parameters) and returns a :class:`~.routing.Reply` or raises
:class:`~.errors.ApiError`. State changes that Discord would announce on the
gateway (MESSAGE_CREATE, GUILD_DELETE, ...) are dispatched from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .interactions import (
    CallbackRecord,
    CallbackType,
    InteractionHandle,
    InteractionType,
    MessageAction,
)
from .recording import RecordedRequest
from .routing import Reply, Router
from .state import JSON, ChannelType, FakeChannel, FakeGuild, FakeMessage, Perm
from .validation import validate_choices, validate_commands, validate_message

if TYPE_CHECKING:
    from .server import FakeDiscord

#: Message types.
DEFAULT_MESSAGE = 0
CHAT_INPUT_COMMAND_MESSAGE = 20

#: Discord's code for a second thread on one message.
THREAD_ALREADY_CREATED = 160004


class RestApi:
    """The REST half of the fake; registers its handlers on a :class:`Router`."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.state = fake.state

    def register(self, router: Router) -> None:
        """Add every route, most specific first."""
        add = router.add
        add("GET", "/users/@me", self.get_me)
        add("POST", "/users/@me/channels", self.create_dm)
        add("DELETE", "/users/@me/guilds/{guild_id}", self.leave_guild)
        add("GET", "/users/{user_id}", self.get_user)
        add("GET", "/oauth2/applications/@me", self.get_application)
        add("GET", "/applications/@me", self.get_application)
        add("GET", "/gateway", self.get_gateway, auth=False)
        add("GET", "/gateway/bot", self.get_gateway_bot)

        cmds = "/applications/{application_id}/commands"
        gcmds = "/applications/{application_id}/guilds/{guild_id}/commands"
        for base in (cmds, gcmds):
            add("GET", base, self.list_commands)
            add("PUT", base, self.put_commands)
            add("POST", base, self.upsert_command)
            add("GET", base + "/{command_id}", self.get_command)
            add("PATCH", base + "/{command_id}", self.edit_command)
            add("DELETE", base + "/{command_id}", self.delete_command)

        add("GET", "/channels/{channel_id}", self.get_channel)
        add("GET", "/channels/{channel_id}/messages", self.list_messages)
        add("POST", "/channels/{channel_id}/messages", self.create_message)
        add("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        add("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message)
        add("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        add("POST", "/channels/{channel_id}/typing", self.typing)
        add("POST", "/channels/{channel_id}/threads", self.create_thread)
        add(
            "POST",
            "/channels/{channel_id}/messages/{message_id}/threads",
            self.create_thread_from_message,
        )
        add("GET", "/channels/{channel_id}/threads/archived/public", self.list_archived_threads)
        add("GET", "/guilds/{guild_id}/threads/active", self.list_active_threads)
        add(
            "PUT",
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            self.add_reaction,
        )

        add("GET", "/guilds/{guild_id}", self.get_guild)
        add("GET", "/guilds/{guild_id}/channels", self.list_guild_channels)
        add("GET", "/guilds/{guild_id}/roles", self.list_roles)
        add("GET", "/guilds/{guild_id}/members", self.list_members)
        add("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)

        add(
            "POST",
            "/interactions/{interaction_id}/{interaction_token}/callback",
            self.interaction_callback,
            auth=False,
            interaction=True,
        )
        hook = "/webhooks/{webhook_id}/{webhook_token}"
        add("POST", hook, self.create_followup, auth=False, interaction=True)
        add(
            "GET",
            hook + "/messages/{message_id}",
            self.get_webhook_message,
            auth=False,
            interaction=True,
        )
        add(
            "PATCH",
            hook + "/messages/{message_id}",
            self.edit_webhook_message,
            auth=False,
            interaction=True,
        )
        add(
            "DELETE",
            hook + "/messages/{message_id}",
            self.delete_webhook_message,
            auth=False,
            interaction=True,
        )

    # ------------------------------------------------------------------ helpers
    def _guild(self, req: RecordedRequest) -> FakeGuild:
        guild = self.state.guilds.get(_int(req.params["guild_id"]))
        if guild is None:
            raise ApiError(404, 10004)
        if not guild.bot_present:
            raise ApiError(403, 50001)
        return guild

    def _channel(self, req: RecordedRequest, need: int = Perm.VIEW_CHANNEL) -> FakeChannel:
        channel = self.state.channels.get(_int(req.params["channel_id"]))
        if channel is None:
            raise ApiError(404, 10003)
        if channel.guild_id is None:
            return channel
        if not self.state.guilds[channel.guild_id].bot_present:
            raise ApiError(403, 50001)
        if not self.fake.enforce_permissions:
            return channel
        perms = self.state.bot_permissions_in(channel)
        if not perms & Perm.VIEW_CHANNEL:
            raise ApiError(403, 50001)
        if perms & need != need:
            raise ApiError(403, 50013)
        return channel

    def _message_in(self, channel: FakeChannel, req: RecordedRequest) -> FakeMessage:
        message = self.state.messages.get(_int(req.params["message_id"]))
        if message is None or message.deleted or message.channel_id != channel.id:
            raise ApiError(404, 10008)
        return message

    def _check_application(self, req: RecordedRequest) -> None:
        if _int(req.params["application_id"]) != self.state.application_id:
            raise ApiError(403, 50001)

    def _commands_for(self, req: RecordedRequest) -> tuple[dict[int, JSON], int | None]:
        self._check_application(req)
        if "guild_id" not in req.params:
            return self.state.global_commands, None
        guild = self._guild(req)
        return self.state.guild_commands.setdefault(guild.id, {}), guild.id

    # -------------------------------------------------------------- users/app
    async def get_me(self, req: RecordedRequest) -> Reply:
        """``GET /users/@me``."""
        return Reply(200, self.state.bot_user_payload())

    async def get_user(self, req: RecordedRequest) -> Reply:
        """``GET /users/{user_id}``."""
        user = self.state.users.get(_int(req.params["user_id"]))
        if user is None:
            raise ApiError(404, 10013)
        return Reply(200, user.to_payload())

    async def create_dm(self, req: RecordedRequest) -> Reply:
        """``POST /users/@me/channels`` (open a DM)."""
        body = req.json or {}
        user = self.state.users.get(_int(body.get("recipient_id")))
        if user is None:
            raise ApiError(404, 10013)
        return Reply(200, self.state.dm_channel(user).to_payload())

    async def leave_guild(self, req: RecordedRequest) -> Reply:
        """``DELETE /users/@me/guilds/{guild_id}`` (the bot leaves)."""
        guild = self._guild(req)
        await self.fake.remove_bot_from_guild(guild)
        return Reply(204)

    async def get_application(self, req: RecordedRequest) -> Reply:
        """``GET /oauth2/applications/@me``."""
        return Reply(200, self.state.application_payload())

    async def get_gateway(self, req: RecordedRequest) -> Reply:
        """``GET /gateway``."""
        return Reply(200, {"url": self.fake.gateway_url})

    async def get_gateway_bot(self, req: RecordedRequest) -> Reply:
        """``GET /gateway/bot`` (AutoShardedClient asks this for the shard count)."""
        return Reply(
            200,
            {
                "url": self.fake.gateway_url,
                "shards": self.fake.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000 - self.fake.gateway.identify_count,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            },
        )

    # --------------------------------------------------------------- commands
    def _store_command(
        self, store: dict[int, JSON], guild_id: int | None, body: JSON
    ) -> tuple[JSON, bool]:
        command_type = int(body.get("type") or 1)
        existing = next(
            (
                c
                for c in store.values()
                if c["name"] == body.get("name") and c["type"] == command_type
            ),
            None,
        )
        command_id = int(existing["id"]) if existing else self.state.snowflakes.next()
        stored: JSON = {
            "id": str(command_id),
            "application_id": str(self.state.application_id),
            "version": str(self.state.snowflakes.next()),
            "type": command_type,
            "name": body.get("name"),
            "description": body.get("description", ""),
            "options": body.get("options") or [],
            # Discord answers permissions as a string, whatever form it was sent in.
            "default_member_permissions": _permissions(body.get("default_member_permissions")),
            "dm_permission": body.get("dm_permission", True),
            "nsfw": bool(body.get("nsfw", False)),
            "contexts": body.get("contexts"),
            "integration_types": body.get("integration_types") or [0],
            "name_localizations": body.get("name_localizations"),
            "description_localizations": body.get("description_localizations"),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        store[command_id] = stored
        return stored, existing is None

    async def list_commands(self, req: RecordedRequest) -> Reply:
        """``GET .../commands``."""
        store, _ = self._commands_for(req)
        return Reply(200, list(store.values()))

    async def put_commands(self, req: RecordedRequest) -> Reply:
        """``PUT .../commands``: bulk overwrite (what ``tree.sync()`` does)."""
        store, guild_id = self._commands_for(req)
        body = req.json if isinstance(req.json, list) else []
        validate_commands(body)
        old = dict(store)
        store.clear()
        result = []
        for command in body:
            # Keep ids of commands that survive the overwrite, as Discord does.
            previous = next(
                (
                    c
                    for c in old.values()
                    if c["name"] == command.get("name")
                    and c["type"] == int(command.get("type") or 1)
                ),
                None,
            )
            if previous is not None:
                store[int(previous["id"])] = previous
            stored, _ = self._store_command(store, guild_id, command)
            result.append(stored)
        self.fake.sync_count += 1
        return Reply(200, result)

    async def upsert_command(self, req: RecordedRequest) -> Reply:
        """``POST .../commands``: create or replace one command by name."""
        store, guild_id = self._commands_for(req)
        validate_commands([req.json or {}])
        stored, created = self._store_command(store, guild_id, req.json or {})
        return Reply(201 if created else 200, stored)

    def _command(self, req: RecordedRequest) -> tuple[dict[int, JSON], int | None, JSON]:
        store, guild_id = self._commands_for(req)
        command = store.get(_int(req.params["command_id"]))
        if command is None:
            raise ApiError(404, 10063)
        return store, guild_id, command

    async def get_command(self, req: RecordedRequest) -> Reply:
        """``GET .../commands/{command_id}``."""
        return Reply(200, self._command(req)[2])

    async def edit_command(self, req: RecordedRequest) -> Reply:
        """``PATCH .../commands/{command_id}``."""
        store, guild_id, command = self._command(req)
        merged = {**command, **(req.json or {})}
        validate_commands([merged])
        stored, _ = self._store_command(store, guild_id, merged)
        return Reply(200, stored)

    async def delete_command(self, req: RecordedRequest) -> Reply:
        """``DELETE .../commands/{command_id}``."""
        store, _, command = self._command(req)
        del store[int(command["id"])]
        return Reply(204)

    # --------------------------------------------------------------- channels
    async def get_channel(self, req: RecordedRequest) -> Reply:
        """``GET /channels/{channel_id}``."""
        return Reply(200, self._channel(req).to_payload())

    async def list_messages(self, req: RecordedRequest) -> Reply:
        """``GET /channels/{channel_id}/messages`` (newest first)."""
        channel = self._channel(req)
        if (
            channel.guild_id is not None
            and not self.state.bot_permissions_in(channel) & Perm.READ_MESSAGE_HISTORY
        ):
            return Reply(200, [])
        messages = self.state.messages_in(channel)
        limit = max(1, min(100, int(req.query.get("limit", 50))))
        if "before" in req.query:
            messages = [m for m in messages if m.id < int(req.query["before"])]
        if "after" in req.query:
            messages = [m for m in messages if m.id > int(req.query["after"])][:limit]
        messages = list(reversed(messages))[:limit]
        return Reply(200, [m.to_payload() for m in messages])

    async def create_message(self, req: RecordedRequest) -> Reply:
        """``POST /channels/{channel_id}/messages`` with nonce enforcement.

        A thread needs Send Messages in Threads instead of Send Messages; a forum takes
        posts (``POST /channels/{id}/threads``), not messages.
        """
        target = self.state.channels.get(_int(req.params["channel_id"]))
        if target is not None and target.is_thread:
            channel = self._channel(req, Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES_IN_THREADS)
        else:
            channel = self._channel(req, Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES)
        if channel.type == ChannelType.GUILD_FORUM:
            raise ApiError(400, 50008, "Cannot send messages in a non-text channel")
        body: JSON = req.json if isinstance(req.json, dict) else {}
        validate_message(body, has_files=bool(req.files), creating=True)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            original = self.fake.nonce_lookup(channel.id, nonce)
            if original is not None:
                return Reply(200, original.to_payload())
        message = self.fake.new_message(channel, self.state.bot, body, req.files)
        if nonce is not None:
            self.fake.remember_nonce(channel.id, nonce, message.id)
        await self.fake.announce_message("MESSAGE_CREATE", message)
        return Reply(200, message.to_payload())

    async def get_message(self, req: RecordedRequest) -> Reply:
        """``GET /channels/{channel_id}/messages/{message_id}``."""
        channel = self._channel(req, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        return Reply(200, self._message_in(channel, req).to_payload())

    async def edit_message(self, req: RecordedRequest) -> Reply:
        """``PATCH /channels/{channel_id}/messages/{message_id}`` (own messages only)."""
        channel = self._channel(req)
        message = self._message_in(channel, req)
        if message.author.id != self.state.bot.id or message.webhook_id is not None:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body: JSON = req.json if isinstance(req.json, dict) else {}
        validate_message(body, has_files=bool(req.files), creating=False)
        self.fake.apply_edit(message, body, req.files)
        await self.fake.announce_message("MESSAGE_UPDATE", message)
        return Reply(200, message.to_payload())

    async def delete_message(self, req: RecordedRequest) -> Reply:
        """``DELETE /channels/{channel_id}/messages/{message_id}``."""
        channel = self._channel(req)
        message = self._message_in(channel, req)
        own = message.author.id == self.state.bot.id
        if (
            not own
            and channel.guild_id is not None
            and not self.state.bot_permissions_in(channel) & Perm.MANAGE_MESSAGES
        ):
            raise ApiError(403, 50013)
        await self.fake.delete_stored_message(message)
        return Reply(204)

    async def typing(self, req: RecordedRequest) -> Reply:
        """``POST /channels/{channel_id}/typing``."""
        self._channel(req, Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES)
        return Reply(204)

    async def add_reaction(self, req: RecordedRequest) -> Reply:
        """``PUT .../reactions/{emoji}/@me`` (recorded, not stored)."""
        channel = self._channel(req, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        self._message_in(channel, req)
        return Reply(204)

    # ---------------------------------------------------------------- threads
    async def create_thread(self, req: RecordedRequest) -> Reply:
        """``POST /channels/{channel_id}/threads``: a forum post (a thread and its first message).

        Send Messages is "Create Posts" in a forum. The post's starter message has the
        thread's id, as on Discord. No nonce: Discord offers none for this call.
        """
        forum = self._channel(req, Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES)
        body: JSON = req.json if isinstance(req.json, dict) else {}
        if forum.type != ChannelType.GUILD_FORUM:
            # A thread without a message in a text channel is not faked.
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        first: JSON = dict(body.get("message") or {})
        validate_message(first, has_files=bool(req.files), creating=True)
        tags = [_int(tag) for tag in body.get("applied_tags") or []]
        known = {_int(tag["id"]) for tag in forum.available_tags}
        if any(tag not in known for tag in tags):
            raise ApiError(400, 50035, "Invalid Form Body: applied_tags has an unknown tag")
        thread = self.state.add_thread(
            forum, str(body["name"]), owner=self.state.bot, applied_tags=tags
        )
        message = self.fake.new_message(thread, self.state.bot, first, req.files)
        self._renumber(thread, message)
        await self.fake.gateway.dispatch(
            "THREAD_CREATE",
            {**thread.to_payload(), "newly_created": True},
            guild_id=thread.guild_id,
        )
        await self.fake.announce_message("MESSAGE_CREATE", message)
        payload = thread.to_payload()
        payload["member"] = thread.member_payload()
        payload["message"] = message.to_payload()
        return Reply(201, payload)

    def _renumber(self, thread: FakeChannel, message: FakeMessage) -> None:
        """Give a forum post's starter message its thread's id, as Discord does."""
        ids = self.state.channel_messages[thread.id]
        del self.state.messages[message.id]
        ids.remove(message.id)
        message.id = thread.id
        self.state.messages[message.id] = message
        ids.append(message.id)
        thread.last_message_id = message.id

    async def create_thread_from_message(self, req: RecordedRequest) -> Reply:
        """``POST /channels/{channel_id}/messages/{message_id}/threads``: a public thread.

        The thread has the message's id; a second thread on one message is 400 / 160004.
        """
        channel = self._channel(req, Perm.VIEW_CHANNEL | Perm.CREATE_PUBLIC_THREADS)
        message = self._message_in(channel, req)
        if channel.is_thread or channel.type == ChannelType.GUILD_FORUM:
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        if message.id in self.state.channels:
            raise ApiError(
                400, THREAD_ALREADY_CREATED, "A thread has already been created for this message"
            )
        body: JSON = req.json if isinstance(req.json, dict) else {}
        thread = self.state.add_thread(
            channel, str(body["name"]), owner=self.state.bot, id=message.id
        )
        await self.fake.gateway.dispatch(
            "THREAD_CREATE",
            {**thread.to_payload(), "newly_created": True},
            guild_id=thread.guild_id,
        )
        payload = thread.to_payload()
        payload["member"] = thread.member_payload()
        return Reply(201, payload)

    async def list_active_threads(self, req: RecordedRequest) -> Reply:
        """``GET /guilds/{guild_id}/threads/active``: the threads the bot can see.

        Discord answers ``threads`` and ``members`` only; the description also requires
        ``has_more``, which is always false here.
        """
        guild = self._guild(req)
        threads = [
            t
            for t in self.state.active_threads(guild)
            if self.state.bot_permissions_in(t) & Perm.VIEW_CHANNEL
        ]
        members = [t.member_payload() for t in threads if t.owner_id == self.state.bot.id]
        return Reply(
            200,
            {"threads": [t.to_payload() for t in threads], "members": members, "has_more": False},
        )

    async def list_archived_threads(self, req: RecordedRequest) -> Reply:
        """``GET /channels/{channel_id}/threads/archived/public?before=&limit=``, newest first."""
        channel = self._channel(req, Perm.VIEW_CHANNEL | Perm.READ_MESSAGE_HISTORY)
        threads = [
            c
            for c in self.state.channels.values()
            if c.is_thread and c.parent_id == channel.id and c.archived
        ]
        threads.sort(key=lambda t: t.archive_timestamp or t.created_at, reverse=True)
        if "before" in req.query:
            before = req.query["before"]
            threads = [t for t in threads if (t.archive_timestamp or t.created_at) < before]
        limit = max(2, min(100, int(req.query.get("limit", 50))))
        page = threads[:limit]
        members = [t.member_payload() for t in page if t.owner_id == self.state.bot.id]
        return Reply(
            200,
            {
                "threads": [t.to_payload() for t in page],
                "members": members,
                "has_more": len(threads) > limit,
            },
        )

    # ----------------------------------------------------------------- guilds
    async def get_guild(self, req: RecordedRequest) -> Reply:
        """``GET /guilds/{guild_id}``."""
        guild = self._guild(req)
        payload = guild.base_payload()
        if req.query.get("with_counts") in ("true", "1", "True"):
            payload["approximate_member_count"] = len(guild.members)
            payload["approximate_presence_count"] = 0
        return Reply(200, payload)

    async def list_guild_channels(self, req: RecordedRequest) -> Reply:
        """``GET /guilds/{guild_id}/channels``."""
        channels = self._guild(req).channels.values()
        return Reply(200, [c.to_payload() for c in channels if not c.is_thread])

    async def list_roles(self, req: RecordedRequest) -> Reply:
        """``GET /guilds/{guild_id}/roles``."""
        return Reply(200, [r.to_payload() for r in self._guild(req).roles.values()])

    async def list_members(self, req: RecordedRequest) -> Reply:
        """``GET /guilds/{guild_id}/members?limit=&after=``."""
        guild = self._guild(req)
        after = int(req.query.get("after", 0))
        limit = max(1, min(1000, int(req.query.get("limit", 1))))
        members = sorted(
            (m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id
        )
        return Reply(200, [m.to_payload() for m in members[:limit]])

    async def get_member(self, req: RecordedRequest) -> Reply:
        """``GET /guilds/{guild_id}/members/{user_id}``."""
        guild = self._guild(req)
        member = guild.members.get(_int(req.params["user_id"]))
        if member is None:
            raise ApiError(404, 10007)
        return Reply(200, member.to_payload())

    # ----------------------------------------------------------- interactions
    def _handle_for(self, interaction_id: str, token: str) -> InteractionHandle:
        handle = self.fake.interactions.get(_int(interaction_id))
        if handle is None or handle.token != token:
            raise ApiError(404, 10062)
        return handle

    def _webhook_handle(self, req: RecordedRequest) -> InteractionHandle:
        if _int(req.params["webhook_id"]) != self.state.application_id:
            raise ApiError(404, 10015)
        handle = self.fake.interactions_by_token.get(req.params["webhook_token"])
        if handle is None or handle.callback is None:
            # Follow-ups only work once the interaction has been acknowledged.
            raise ApiError(404, 10015)
        return handle

    async def interaction_callback(self, req: RecordedRequest) -> Reply:
        """``POST /interactions/{id}/{token}/callback``: the initial response."""
        handle = self._handle_for(req.params["interaction_id"], req.params["interaction_token"])
        body: JSON = req.json if isinstance(req.json, dict) else {}
        if handle.callback is not None:
            handle.rejected_callbacks.append(body)
            raise ApiError(400, 40060)
        deadline = self.fake.interaction_ack_deadline
        if deadline is not None and self.fake.loop_time() - handle.created_at > deadline:
            handle.rejected_callbacks.append(body)
            raise ApiError(404, 10062)
        cb_type = int(body.get("type") or 0)
        data: JSON = dict(body.get("data") or {})
        self._check_callback_type(handle, cb_type)
        message = self._apply_callback(handle, cb_type, data, req)
        handle.callback = CallbackRecord(cb_type, data, list(req.files))
        self.fake.notifier.notify()
        if message is not None and not message.ephemeral:
            event = "MESSAGE_UPDATE" if cb_type == CallbackType.UPDATE_MESSAGE else "MESSAGE_CREATE"
            if cb_type != CallbackType.DEFERRED_UPDATE_MESSAGE:
                await self.fake.announce_message(event, message)
        if req.query.get("with_response") not in ("1", "true", "True"):
            return Reply(204)
        interaction: JSON = {"id": str(handle.id), "type": handle.type}
        resource: JSON = {"type": cb_type}
        if message is not None:
            interaction.update(
                {
                    "response_message_id": str(message.id),
                    "response_message_loading": cb_type
                    == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
                    "response_message_ephemeral": message.ephemeral,
                }
            )
            if cb_type != CallbackType.DEFERRED_UPDATE_MESSAGE:
                resource["message"] = message.to_payload()
        return Reply(200, {"interaction": interaction, "resource": resource})

    @staticmethod
    def _check_callback_type(handle: InteractionHandle, cb_type: int) -> None:
        allowed = {
            InteractionType.APPLICATION_COMMAND: {4, 5, 9},
            InteractionType.MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
            InteractionType.AUTOCOMPLETE: {8},
            InteractionType.MODAL_SUBMIT: {4, 5, 6, 7},
        }.get(handle.type, {1})
        if cb_type not in allowed:
            raise ApiError(
                400,
                50035,
                f"Interaction response type {cb_type} is invalid for interaction type {handle.type}",
            )

    def _apply_callback(
        self, handle: InteractionHandle, cb_type: int, data: JSON, req: RecordedRequest
    ) -> FakeMessage | None:
        channel = self.state.channels[handle.channel_id]
        if cb_type == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE:
            validate_message(data, has_files=bool(req.files), creating=True)
            msg_type = (
                CHAT_INPUT_COMMAND_MESSAGE
                if handle.type == InteractionType.APPLICATION_COMMAND
                else DEFAULT_MESSAGE
            )
            message = self.fake.new_message(
                channel, self.state.bot, data, req.files, msg_type=msg_type, interaction=handle
            )
            handle.original_message_id = message.id
            return message
        if cb_type == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            flags = FakeMessage.LOADING | (int(data.get("flags") or 0) & FakeMessage.EPHEMERAL)
            message = self.fake.new_message(
                channel,
                self.state.bot,
                {"content": "", "flags": flags},
                [],
                msg_type=CHAT_INPUT_COMMAND_MESSAGE
                if handle.type == InteractionType.APPLICATION_COMMAND
                else DEFAULT_MESSAGE,
                interaction=handle,
                raw_flags=True,
            )
            handle.original_message_id = message.id
            return message
        if cb_type in (CallbackType.DEFERRED_UPDATE_MESSAGE, CallbackType.UPDATE_MESSAGE):
            source = self.state.messages.get(handle.source_message_id or 0)
            if source is None:
                raise ApiError(400, 50035, "This interaction has no message to update")
            handle.original_message_id = source.id
            if cb_type == CallbackType.UPDATE_MESSAGE:
                validate_message(data, has_files=bool(req.files), creating=False)
                self.fake.apply_edit(source, data, req.files)
                handle.actions.append(
                    MessageAction("edit", source.id, data, list(req.files), "source")
                )
            return source
        if cb_type == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            validate_choices(data.get("choices") or [])
        return None

    async def create_followup(self, req: RecordedRequest) -> Reply:
        """``POST /webhooks/{app}/{token}``: a follow-up message.

        The first follow-up after a deferred (type 5) response replaces the
        "thinking" message, as on Discord: same message id, the defer's
        ephemeral flag wins.
        """
        handle = self._webhook_handle(req)
        body: JSON = req.json if isinstance(req.json, dict) else {}
        validate_message(body, has_files=bool(req.files), creating=True)
        original = handle.original_message
        if original is not None and original.flags & FakeMessage.LOADING:
            keep = original.flags & FakeMessage.EPHEMERAL
            self.fake.apply_edit(original, body, req.files)
            original.flags = (original.flags & ~FakeMessage.LOADING & ~FakeMessage.EPHEMERAL) | keep
            message = original
            event = "MESSAGE_UPDATE"
        else:
            channel = self.state.channels[handle.channel_id]
            message = self.fake.new_message(
                channel,
                self.state.bot,
                body,
                req.files,
                msg_type=DEFAULT_MESSAGE,
                interaction=handle,
            )
            event = "MESSAGE_CREATE"
        handle.followup_ids.append(message.id)
        handle.actions.append(
            MessageAction("followup", message.id, body, list(req.files), "followup")
        )
        self.fake.notifier.notify()
        if not message.ephemeral:
            await self.fake.announce_message(event, message)
        if req.query.get("wait") in ("true", "1", "True"):
            return Reply(200, message.to_payload())
        return Reply(204)

    def _webhook_message(self, req: RecordedRequest) -> tuple[InteractionHandle, FakeMessage, str]:
        handle = self._webhook_handle(req)
        raw = req.params["message_id"]
        if raw == "@original":
            message_id = handle.original_message_id
            target = "original"
        else:
            message_id = _int(raw)
            target = "original" if message_id == handle.original_message_id else "followup"
            if message_id not in handle.followup_ids and message_id != handle.original_message_id:
                message_id = None
        message = None if message_id is None else self.state.messages.get(message_id)
        if message is None or message.deleted:
            raise ApiError(404, 10008)
        return handle, message, target

    async def get_webhook_message(self, req: RecordedRequest) -> Reply:
        """``GET /webhooks/{app}/{token}/messages/{id|@original}``."""
        return Reply(200, self._webhook_message(req)[1].to_payload())

    async def edit_webhook_message(self, req: RecordedRequest) -> Reply:
        """``PATCH /webhooks/{app}/{token}/messages/{id|@original}``."""
        handle, message, target = self._webhook_message(req)
        body: JSON = req.json if isinstance(req.json, dict) else {}
        validate_message(body, has_files=bool(req.files), creating=False)
        self.fake.apply_edit(message, body, req.files)
        message.flags &= ~FakeMessage.LOADING
        handle.actions.append(
            MessageAction("edit", message.id, body, list(req.files), _target(target))
        )
        self.fake.notifier.notify()
        await self.fake.announce_message("MESSAGE_UPDATE", message)
        return Reply(200, message.to_payload())

    async def delete_webhook_message(self, req: RecordedRequest) -> Reply:
        """``DELETE /webhooks/{app}/{token}/messages/{id|@original}``."""
        handle, message, target = self._webhook_message(req)
        await self.fake.delete_stored_message(message)
        handle.actions.append(MessageAction("delete", message.id, {}, [], _target(target)))
        self.fake.notifier.notify()
        return Reply(204)


def _target(name: str) -> Any:
    return "original" if name == "original" else "followup"


def _int(value: Any) -> int:
    """Parse a snowflake from a path/body value; unknown → 0 (matches nothing)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _permissions(value: Any) -> str | None:
    """A permission bit set as Discord returns it: a decimal string, or None."""
    return None if value is None else str(int(value))
