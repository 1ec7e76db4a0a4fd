"""Load and dump the fake's guild setup as JSON (for ``--state-file`` and ``/_control/state``).

Format (ids may be strings or ints; everything but ``guilds[].name`` is optional)::

    {
      "token": "fake-token", "application_id": "1", "bot": {"id": "1", "username": "NewsBot"},
      "users": [{"id": "5", "username": "alice"}],
      "guilds": [{
        "id": "...", "name": "Test Guild", "bot_permissions": "117760", "bot_member": true,
        "everyone_permissions": "...",
        "roles": [{"id": "...", "name": "mods", "permissions": "8"}],
        "channels": [{"id": "...", "name": "news", "type": 0, "topic": null,
                      "overwrites": [{"id": "...", "type": 0, "allow": "0", "deny": "2048"}]}],
        "members": [{"user": {"id": "5", "username": "alice"}, "roles": ["..."]}]
      }]
    }

``token``, ``application_id`` and ``bot`` are only honoured by
:func:`fake_from_state` (they must be known before the fake is built).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .state import JSON, FakeUser, Overwrite, Perm

if TYPE_CHECKING:
    from .server import FakeDiscord


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _user(fake: FakeDiscord, data: Mapping[str, Any]) -> FakeUser:
    user_id = _opt_int(data.get("id"))
    if user_id is not None and user_id in fake.state.users:
        return fake.state.users[user_id]
    return fake.state.add_user(data.get("username"), id=user_id)


def load_state(fake: FakeDiscord, data: Mapping[str, Any]) -> None:
    """Add the users and guilds described by ``data`` to ``fake``."""
    for user in data.get("users") or []:
        _user(fake, user)
    for g in data.get("guilds") or []:
        guild = fake.add_guild(
            g.get("name", "Test Guild"),
            id=_opt_int(g.get("id")),
            bot_permissions=int(g.get("bot_permissions", Perm.DEFAULT_BOT)),
            everyone_permissions=int(g.get("everyone_permissions", Perm.DEFAULT_EVERYONE)),
            bot_member=bool(g.get("bot_member", True)),
            locale=g.get("locale", "en-US"),
        )
        for r in g.get("roles") or []:
            fake.add_role(
                guild, r["name"], permissions=int(r.get("permissions", 0)), id=_opt_int(r.get("id"))
            )
        for c in g.get("channels") or []:
            overwrites = [
                Overwrite(
                    int(o["id"]),
                    int(o.get("type", 0)),
                    int(o.get("allow", 0)),
                    int(o.get("deny", 0)),
                )
                for o in c.get("overwrites") or []
            ]
            fake.add_text_channel(
                guild,
                c["name"],
                id=_opt_int(c.get("id")),
                topic=c.get("topic"),
                type=int(c.get("type", 0)),
                overwrites=overwrites,
            )
        for m in g.get("members") or []:
            user = _user(fake, m.get("user") or {})
            fake.add_member(
                guild, user, roles=[int(r) for r in m.get("roles") or []], nick=m.get("nick")
            )


def dump_state(fake: FakeDiscord) -> JSON:
    """The current setup in the same format (plus the bot and token)."""
    state = fake.state
    return {
        "token": state.token,
        "application_id": str(state.application_id),
        "bot": state.bot.to_payload(),
        "users": [u.to_payload() for u in state.users.values()],
        "guilds": [
            {
                "id": str(g.id),
                "name": g.name,
                "bot_member": g.bot_present,
                "shard": {"count": fake.gateway.shard_count()},
                "roles": [r.to_payload() for r in g.roles.values()],
                "channels": [
                    {
                        "id": str(c.id),
                        "name": c.name,
                        "type": c.type,
                        "topic": c.topic,
                        "overwrites": [o.to_payload() for o in c.overwrites.values()],
                    }
                    for c in g.channels.values()
                ],
                "members": [m.to_payload() for m in g.members.values()],
            }
            for g in state.guilds.values()
        ],
    }


def fake_from_state(data: Mapping[str, Any], **kwargs: Any) -> FakeDiscord:
    """Build a (not yet started) fake from a state dict, honouring token/bot/app id."""
    from .server import FakeDiscord

    bot = data.get("bot") or {}
    fake = FakeDiscord(
        token=data.get("token"),
        application_id=_opt_int(data.get("application_id")),
        bot_id=_opt_int(bot.get("id")),
        bot_name=bot.get("username", "NewsBot"),
        **kwargs,
    )
    load_state(fake, data)
    return fake
