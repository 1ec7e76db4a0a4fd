"""Interaction payloads (what a user's click or slash command looks like) and
awaitable records of what the bot answered.

A test gets an :class:`InteractionHandle` from ``FakeDiscord.send_command``
(or ``click_button`` / ``submit_modal``) and awaits on it::

    handle = await fake.send_command(guild, channel, user, "news", subcommand="topic",
                                     options={"topic": "AI", "limit": 3})
    first = await handle.response()          # the initial callback (type 4, 5, 7, ...)
    later = await handle.followup()          # first follow-up message
    edited = await handle.edit()             # first edit of @original or a follow-up

Every wait has a timeout (the fake's ``default_timeout``, 5 s unless changed)
and raises :class:`~.errors.FakeDiscordTimeout` naming the interaction and
the requests the bot made meanwhile.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from .recording import RecordedFile
from .state import JSON, ChannelType, FakeChannel, FakeMember, FakeMessage, FakeRole, FakeUser

if TYPE_CHECKING:
    from .server import FakeDiscord

T = TypeVar("T")


class InteractionType:
    """Interaction type numbers."""

    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType:
    """Interaction callback (response) type numbers."""

    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9


class OptionType:
    """Application command option type numbers."""

    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


class _MessageData:
    """Shared accessors for a message-shaped ``data`` dict."""

    data: JSON

    @property
    def content(self) -> str | None:
        """``data.content`` (None if absent)."""
        value = self.data.get("content")
        return None if value is None else str(value)

    @property
    def embeds(self) -> list[JSON]:
        """``data.embeds`` ([] if absent)."""
        return list(self.data.get("embeds") or [])

    @property
    def components(self) -> list[JSON]:
        """``data.components`` ([] if absent)."""
        return list(self.data.get("components") or [])

    @property
    def flags(self) -> int:
        """``data.flags`` (0 if absent)."""
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        """Whether the EPHEMERAL flag (64) is set."""
        return bool(self.flags & FakeMessage.EPHEMERAL)

    @property
    def allowed_mentions(self) -> JSON | None:
        """``data.allowed_mentions``."""
        value = self.data.get("allowed_mentions")
        return None if value is None else dict(value)


@dataclass
class CallbackRecord(_MessageData):
    """The initial response: ``POST /interactions/{id}/{token}/callback``."""

    type: int
    data: JSON
    files: list[RecordedFile] = field(default_factory=list)

    @property
    def choices(self) -> list[JSON]:
        """Autocomplete choices (type 8)."""
        return list(self.data.get("choices") or [])

    @property
    def deferred(self) -> bool:
        """Whether this was a defer (type 5 or 6)."""
        return self.type in (
            CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
        )


@dataclass
class MessageAction(_MessageData):
    """A later step: a follow-up, an edit (of @original or a follow-up) or a deletion."""

    kind: Literal["followup", "edit", "delete"]
    message_id: int
    data: JSON
    files: list[RecordedFile] = field(default_factory=list)
    target: Literal["original", "followup", "source"] = "original"


class InteractionHandle:
    """One injected interaction and everything the bot did in reply."""

    def __init__(
        self,
        fake: FakeDiscord,
        payload: JSON,
        *,
        label: str,
        source_message_id: int | None = None,
    ) -> None:
        self._fake = fake
        self.payload = payload
        self.label = label
        self.id = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.guild_id: int | None = int(payload["guild_id"]) if payload.get("guild_id") else None
        self.channel_id = int(payload["channel_id"])
        self.source_message_id = source_message_id
        self.callback: CallbackRecord | None = None
        self.actions: list[MessageAction] = []
        #: The message that ``@original`` refers to, once there is one.
        self.original_message_id: int | None = None
        self.followup_ids: list[int] = []
        self.rejected_callbacks: list[JSON] = []
        self.created_at = fake.loop_time()
        self.first_request_index = len(fake.requests)

    def __repr__(self) -> str:
        return f"<InteractionHandle {self.label!r} id={self.id} callback={self.callback!r}>"

    # ------------------------------------------------------------------ state
    @property
    def followups(self) -> list[MessageAction]:
        """Follow-up messages, in order."""
        return [a for a in self.actions if a.kind == "followup"]

    @property
    def edits(self) -> list[MessageAction]:
        """Edits of @original, of follow-ups or (type 7) of the clicked message, in order."""
        return [a for a in self.actions if a.kind == "edit"]

    @property
    def original_message(self) -> FakeMessage | None:
        """The current @original message (after every edit)."""
        if self.original_message_id is None:
            return None
        return self._fake.state.messages.get(self.original_message_id)

    # ------------------------------------------------------------------ waits
    async def response(self, timeout: float | None = None) -> CallbackRecord:
        """Wait for the initial callback."""
        return await self._wait(lambda: self.callback, timeout, "an initial response")

    async def followup(self, index: int = 0, timeout: float | None = None) -> MessageAction:
        """Wait for follow-up number ``index`` (0 = first)."""
        return await self._wait(
            lambda: self.followups[index] if len(self.followups) > index else None,
            timeout,
            f"follow-up #{index}",
        )

    async def edit(self, index: int = 0, timeout: float | None = None) -> MessageAction:
        """Wait for edit number ``index`` (0 = first)."""
        return await self._wait(
            lambda: self.edits[index] if len(self.edits) > index else None,
            timeout,
            f"edit #{index}",
        )

    async def choices(self, timeout: float | None = None) -> list[JSON]:
        """Wait for an autocomplete result and return its choices."""
        record = await self.response(timeout)
        if record.type != CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            raise AssertionError(f"{self.label}: expected an autocomplete result, got {record!r}")
        return record.choices

    async def wait_until(
        self, predicate: Callable[[InteractionHandle], bool], timeout: float | None = None
    ) -> InteractionHandle:
        """Wait until ``predicate(handle)`` is true."""
        return await self._wait(lambda: self if predicate(self) else None, timeout, "a condition")

    async def _wait(self, get: Callable[[], T | None], timeout: float | None, what: str) -> T:
        limit = self._fake.default_timeout if timeout is None else timeout

        def describe() -> str:
            since = self._fake.requests[self.first_request_index :]
            lines = "\n  ".join(r.summary() for r in since) or "(none)"
            return (
                f"bot sent no {what} for interaction {self.label!r} (id {self.id}) within "
                f"{limit:.1f}s; callback={self.callback!r}, actions={len(self.actions)}; "
                f"requests since dispatch:\n  {lines}"
            )

        return await self._fake.notifier.wait_for(get, limit, describe)


# ---------------------------------------------------------------------- payloads
def new_token() -> str:
    """An interaction token (opaque, URL-safe)."""
    return "fakeitk." + secrets.token_urlsafe(32)


def infer_option_type(value: Any) -> int:
    """Option type for a Python value when no synced schema says otherwise."""
    if isinstance(value, bool):
        return OptionType.BOOLEAN
    if isinstance(value, int):
        return OptionType.INTEGER
    if isinstance(value, float):
        return OptionType.NUMBER
    if isinstance(value, FakeChannel):
        return OptionType.CHANNEL
    if isinstance(value, FakeUser | FakeMember):
        return OptionType.USER
    if isinstance(value, FakeRole):
        return OptionType.ROLE
    return OptionType.STRING


@dataclass
class OptionBuilder:
    """Turns ``{"name": value}`` into Discord option dicts plus ``resolved`` data.

    ``schema`` is the synced option list for the (sub)command, if any; it fixes
    option types, rejects unknown names and (unless ``partial``) checks
    required options, so a typo in a test fails loudly.
    """

    fake: FakeDiscord
    guild_id: int | None
    channel: FakeChannel
    schema: Sequence[JSON] | None
    partial: bool = False
    invoker_id: int = 0
    resolved: dict[str, dict[str, JSON]] = field(default_factory=dict)

    def build(self, values: Mapping[str, Any], focused: str | None = None) -> list[JSON]:
        """The ``options`` list."""
        by_name = {opt["name"]: opt for opt in self.schema or []}
        if self.schema is not None:
            unknown = set(values) - set(by_name)
            if unknown:
                raise ValueError(
                    f"unknown option(s) {sorted(unknown)}; command has {sorted(by_name)}"
                )
            if not self.partial:
                missing = [n for n, o in by_name.items() if o.get("required") and n not in values]
                if missing:
                    raise ValueError(f"required option(s) missing: {missing}")
        options: list[JSON] = []
        for name, value in values.items():
            schema = by_name.get(name)
            opt_type = int(schema["type"]) if schema else infer_option_type(value)
            option: JSON = {"name": name, "type": opt_type, "value": self._value(opt_type, value)}
            if name == focused:
                option["focused"] = True
                if opt_type not in (OptionType.STRING, OptionType.INTEGER, OptionType.NUMBER):
                    option["value"] = str(option["value"])
            options.append(option)
        if focused is not None and focused not in values:
            schema = by_name.get(focused)
            opt_type = int(schema["type"]) if schema else OptionType.STRING
            options.append({"name": focused, "type": opt_type, "value": "", "focused": True})
        return options

    def _value(self, opt_type: int, value: Any) -> Any:
        state = self.fake.state
        if opt_type == OptionType.CHANNEL:
            channel = value if isinstance(value, FakeChannel) else state.channel(value)
            self._resolve_channel(channel)
            return str(channel.id)
        if opt_type in (OptionType.USER, OptionType.MENTIONABLE) and not isinstance(
            value, FakeRole
        ):
            if (
                opt_type == OptionType.MENTIONABLE
                and isinstance(value, int)
                and self._is_role(value)
            ):
                return self._value(OptionType.ROLE, value)
            user = state.user(value)
            self._resolve_user(user)
            return str(user.id)
        if opt_type in (OptionType.ROLE, OptionType.MENTIONABLE):
            role = value if isinstance(value, FakeRole) else self._role(value)
            self.resolved.setdefault("roles", {})[str(role.id)] = role.to_payload()
            return str(role.id)
        if opt_type == OptionType.ATTACHMENT:
            raise ValueError("attachment options are not supported by the fake")
        if opt_type == OptionType.INTEGER and isinstance(value, int | str):
            return int(value) if str(value).lstrip("-").isdigit() else value
        if opt_type == OptionType.NUMBER and isinstance(value, int | float):
            return float(value)
        return value

    def _is_role(self, role_id: int) -> bool:
        return self.guild_id is not None and role_id in self.fake.state.guilds[self.guild_id].roles

    def _role(self, value: Any) -> FakeRole:
        if self.guild_id is None:
            raise ValueError("role options need a guild")
        return self.fake.state.guilds[self.guild_id].roles[int(value)]

    def _resolve_channel(self, channel: FakeChannel) -> None:
        perms = self.fake.state.permissions_in(channel, self.invoker_id)
        payload: JSON = {
            "id": str(channel.id),
            "name": channel.name,
            "type": channel.type,
            "permissions": str(perms),
            "parent_id": None if channel.parent_id is None else str(channel.parent_id),
            "position": channel.position,
            "nsfw": channel.nsfw,
            "flags": 0,
            "rate_limit_per_user": channel.rate_limit_per_user,
            "last_message_id": None
            if channel.last_message_id is None
            else str(channel.last_message_id),
        }
        if channel.topic is not None:
            payload["topic"] = channel.topic
        if channel.guild_id is not None:
            payload["guild_id"] = str(channel.guild_id)
        self.resolved.setdefault("channels", {})[str(channel.id)] = payload

    def _resolve_user(self, user: FakeUser) -> None:
        self.resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
        if self.guild_id is None:
            return
        member = self.fake.state.guilds[self.guild_id].members.get(user.id)
        if member is not None:
            m = member.to_payload(with_user=False)
            m["permissions"] = str(self.fake.state.permissions_in(self.channel, user.id))
            self.resolved.setdefault("members", {})[str(user.id)] = m


def base_interaction_payload(
    fake: FakeDiscord,
    *,
    interaction_type: int,
    channel: FakeChannel,
    user: FakeUser,
    data: JSON | None,
    permissions: int | None,
    app_permissions: int | None,
    locale: str,
) -> JSON:
    """The fields every interaction has; guild or DM shape depending on the channel."""
    state = fake.state
    payload: JSON = {
        "id": str(state.snowflakes.next()),
        "application_id": str(state.application_id),
        "type": interaction_type,
        "token": new_token(),
        "version": 1,
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": 10 * 1024 * 1024,
        "channel_id": str(channel.id),
        "channel": channel.to_payload(),
    }
    if data is not None:
        payload["data"] = data
    if channel.guild_id is None:
        payload["user"] = user.to_payload()
        payload["context"] = 1  # BOT_DM
        payload["authorizing_integration_owners"] = {"0": "0"}
        payload["app_permissions"] = str(
            app_permissions if app_permissions is not None else fake.dm_app_permissions
        )
        return payload
    guild = state.guilds[channel.guild_id]
    member = guild.members.get(user.id) or state.add_member(guild, user)
    member_payload = member.to_payload()
    member_payload["permissions"] = str(
        permissions if permissions is not None else state.permissions_in(channel, user.id)
    )
    payload.update(
        {
            "guild_id": str(guild.id),
            "guild": {
                "id": str(guild.id),
                "locale": guild.locale,
                "features": list(guild.features),
            },
            "guild_locale": guild.locale,
            "member": member_payload,
            "context": 0,  # GUILD
            "authorizing_integration_owners": {"0": str(guild.id)},
            "app_permissions": str(
                app_permissions
                if app_permissions is not None
                else state.bot_permissions_in(channel)
            ),
        }
    )
    return payload


def command_schema_options(command: JSON | None, path: Sequence[str]) -> list[JSON] | None:
    """The synced option list for a (group, sub)command path, or None if unknown."""
    if command is None:
        return None
    options: list[JSON] = list(command.get("options") or [])
    for name in path:
        match = next((o for o in options if o.get("name") == name), None)
        if match is None or match.get("type") not in (
            OptionType.SUB_COMMAND,
            OptionType.SUB_COMMAND_GROUP,
        ):
            raise ValueError(f"command {command.get('name')!r} has no subcommand path {list(path)}")
        options = list(match.get("options") or [])
    return options


def nest_options(path: Sequence[str], leaf: list[JSON]) -> list[JSON]:
    """Wrap leaf options in subcommand / group layers: ``["grp", "sub"]``."""
    options = leaf
    for depth, name in reversed(list(enumerate(path))):
        is_group = depth < len(path) - 1
        layer: JSON = {
            "name": name,
            "type": OptionType.SUB_COMMAND_GROUP if is_group else OptionType.SUB_COMMAND,
            "options": options,
        }
        options = [layer]
    return options


def is_dm(channel: FakeChannel) -> bool:
    """Whether a channel is a DM."""
    return channel.type == ChannelType.DM
