"""``newsbot doctor``: one checklist to run when posts stop or the bot seems wrong.

Each check is a line, ✓ or ✗, and a ✗ says how to fix it. The doctor reads, never
writes: it posts nothing, syncs no command, and talks to Discord over REST only (a
gateway session could take interactions meant for the running bot). Channel
permissions are computed from Discord's answers the way Discord computes them: the
server's roles, the bot's roles, the channel's overwrites.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import discord

from bot.chat.bot import NewsBot
from bot.chat.permissions import ChannelKind, needed_permissions
from bot.config import Settings
from bot.loader import find_article_files, parse_file, shown_path
from bot.posting import owns_guild_for
from bot.store import Store
from bot.subscriptions import Subscription

INVITE_PERMISSIONS = 84992  # View Channel, Send Messages, Embed Links, Read Message History
REASONS_SHOWN = 3


@dataclass(slots=True)
class Finding:
    """One line of the checklist."""

    ok: bool
    check: str
    detail: str
    fix: str | None = None
    more: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Return the finding as a person reads it."""
        shown = [f"{'✓' if self.ok else '✗'} {self.check}: {self.detail}"]
        shown.extend(f"    {line}" for line in self.more)
        if self.fix and not self.ok:
            shown.append(f"    fix: {self.fix}")
        return shown


@dataclass(slots=True)
class Report:
    """The whole checklist."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Tell whether every check passed."""
        return all(finding.ok for finding in self.findings)

    def add(self, finding: Finding) -> Finding:
        """Add one finding and return it."""
        self.findings.append(finding)
        return finding

    def text(self) -> str:
        """Return the checklist as printed on a terminal."""
        return "\n".join(line for finding in self.findings for line in finding.lines())

    def json(self) -> str:
        """Return the checklist as JSON: ``{"ok", "checks": [{"ok", "check", ...}]}``."""
        checks = [asdict(finding) for finding in self.findings]
        return json.dumps({"ok": self.ok, "checks": checks}, ensure_ascii=False, indent=2)


async def examine(store: Store, settings: Settings) -> Report:
    """Run every check that the store and settings allow, and return the checklist."""
    report = Report()
    report.add(Finding(True, "settings", "the environment and .env parse"))
    report.add(await _database(store))
    report.add(_data_directory(settings))
    if not settings.discord_token:
        report.add(
            Finding(False, "Discord", "DISCORD_TOKEN is not set", "put DISCORD_TOKEN in .env")
        )
        await _ledger(store, settings, report)
        return report
    client = discord.Client(intents=discord.Intents.none())
    try:
        try:
            await client.login(settings.discord_token)
        except discord.LoginFailure:
            report.add(
                Finding(
                    False,
                    "Discord",
                    "Discord refused DISCORD_TOKEN",
                    "reset the token in the developer portal (Bot -> Reset Token) and put "
                    "the new one in .env",
                )
            )
            await _ledger(store, settings, report)
            return report
        except (discord.HTTPException, OSError) as exc:
            report.add(
                Finding(False, "Discord", f"cannot reach Discord ({exc})", "check the network")
            )
            await _ledger(store, settings, report)
            return report
        assert client.user is not None and client.application is not None
        application = client.application
        report.add(
            Finding(
                True,
                "Discord",
                f"the token is the bot user {client.user} (id {client.user.id}) of the "
                f"application {application.name!r} (id {application.id})",
                more=[
                    "invite link: https://discord.com/oauth2/authorize?client_id="
                    f"{application.id}&scope=bot%20applications.commands"
                    f"&permissions={INVITE_PERMISSIONS}"
                ],
            )
        )
        report.add(await _commands(client, store, settings, application.id))
        await _subscriptions(client, store, settings, report)
    finally:
        await client.close()
    await _ledger(store, settings, report)
    return report


async def _database(store: Store) -> Finding:
    version = await store.schema_version()
    return Finding(True, "database", f"opens, schema version {version} (current)")


def _data_directory(settings: Settings) -> Finding:
    folder = settings.data_dir
    if not folder.is_dir():
        return Finding(
            False,
            f"data directory {folder}",
            "missing or not a directory",
            "create it, or set NEWSBOT_DATA_DIR to the folder of article files",
        )
    files, _, unreadable = find_article_files([folder])
    rejected = [(r.path, r.reason) for r in unreadable]
    for path in files:
        parsed = parse_file(path, settings.max_file_bytes)
        if parsed.error is not None:
            rejected.append((shown_path(path), parsed.error))
    what = f"{len(files)} article files"
    if not rejected:
        return Finding(True, f"data directory {folder}", f"{what}, none rejected")
    return Finding(
        False,
        f"data directory {folder}",
        f"{what}, {len(rejected)} rejected",
        "correct or remove them; `newsbot load` lists every reason",
        more=[f"{path}: {reason}" for path, reason in rejected[:REASONS_SHOWN]] + _more(rejected),
    )


async def _commands(
    client: discord.Client, store: Store, settings: Settings, application_id: int
) -> Finding:
    bot = NewsBot(store, settings, application_id=application_id)
    await bot.add_cogs()
    sync = bot.command_sync()
    where = f"server {sync.guild.id}" if sync.guild else "every server"
    try:
        if sync.guild is None:
            known = await client.http.get_global_commands(application_id)
        else:
            known = await client.http.get_guild_commands(application_id, sync.guild.id)
    except discord.HTTPException as exc:
        return Finding(False, "slash commands", f"Discord did not list them ({exc})")
    ours = sorted(str(definition["name"]) for definition in sync.definitions)
    theirs = sorted(str(command["name"]) for command in known)
    pending = await store.state.get(sync.key) != sync.digest
    if ours == theirs and not pending:
        return Finding(
            True, "slash commands", f"{len(ours)} commands, as this version has them, in {where}"
        )
    detail = (
        f"Discord has {', '.join(theirs) or 'none'} in {where}; this version has {', '.join(ours)}"
    )
    if pending:
        detail += "; a sync is pending"
    return Finding(False, "slash commands", detail, "start `newsbot run`: it syncs them")


async def _subscriptions(
    client: discord.Client, store: Store, settings: Settings, report: Report
) -> None:
    assert client.user is not None
    owns = owns_guild_for(settings.shard_count, settings.shard_ids)
    served = [s for s in await store.subscriptions.all() if owns(s.guild_id)]
    if not served:
        report.add(Finding(True, "subscriptions", "none in the servers of this process"))
        return
    guilds: dict[int, tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]] | str] = {}
    for subscription in served:
        where = f"channel {subscription.channel_id} (server {subscription.guild_id})"
        place = f"{where} on {subscription.topic!r}"
        if subscription.guild_id not in guilds:
            guilds[subscription.guild_id] = await _guild(
                client, subscription.guild_id, client.user.id
            )
        guild = guilds[subscription.guild_id]
        if isinstance(guild, str):
            report.add(Finding(False, place, guild, "/unsubscribe it, or invite the bot back"))
            continue
        report.add(await _channel(client, subscription, place, *guild))


async def _guild(
    client: discord.Client, guild_id: int, bot_id: int
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]] | str:
    try:
        guild = dict(await client.http.get_guild(guild_id, with_counts=False))
        roles = [dict(role) for role in await client.http.get_roles(guild_id)]
        member = dict(await client.http.get_member(guild_id, bot_id))
    except discord.NotFound:
        return "the server is gone, or the bot is no longer in it"
    except discord.Forbidden:
        return "the bot is no longer in this server"
    return guild, roles, member


async def _channel(
    client: discord.Client,
    subscription: Subscription,
    place: str,
    guild: dict[str, Any],
    roles: list[dict[str, Any]],
    member: dict[str, Any],
) -> Finding:
    try:
        channel = dict(await client.http.get_channel(subscription.channel_id))
    except discord.NotFound:
        return Finding(
            False,
            place,
            "the channel was deleted",
            f"/unsubscribe topic:{subscription.topic} (the next posting run removes it too)",
        )
    except discord.Forbidden:
        channel = {"id": subscription.channel_id, "permission_overwrites": []}
        have = discord.Permissions.none()
    else:
        have = channel_permissions(guild, roles, member, channel)
    name = f"#{channel['name']}" if channel.get("name") else f"channel {subscription.channel_id}"
    place = place.replace(f"channel {subscription.channel_id}", name, 1)
    role_id = subscription.options.mention_role_id
    role = next((r for r in roles if role_id is not None and str(r["id"]) == str(role_id)), None)
    needed = needed_permissions(
        _kind(channel), subscription.style, role is None or bool(role.get("mentionable"))
    )
    missing = ", ".join(label for perm, label in needed.items() if not getattr(have, perm))
    state = "active" if subscription.active else f"paused: {subscription.paused_reason}"
    if missing:
        return Finding(
            False,
            place,
            f"the bot lacks {missing} ({state})",
            f"grant the bot {missing} in {name}; the subscription resumes at the next posting run",
        )
    if role_id is not None and role is None:
        return Finding(
            False,
            place,
            f"the role it pings ({role_id}) is gone",
            f"/subscribe topic:{subscription.topic} with another `mention`, or `clear:mention`",
        )
    if not subscription.active:
        return Finding(False, place, state, "the next posting run tries again")
    return Finding(True, place, "the bot can post there")


def _kind(channel: dict[str, Any]) -> ChannelKind:
    """Return which kind of channel a REST channel object is, for what posting there needs."""
    kind = channel.get("type")
    if kind in (discord.ChannelType.forum.value, discord.ChannelType.media.value):
        return "forum"
    threads = (discord.ChannelType.news_thread, discord.ChannelType.public_thread,
               discord.ChannelType.private_thread)  # fmt: skip
    return "thread" if kind in {t.value for t in threads} else "text"


def channel_permissions(
    guild: dict[str, Any],
    roles: Sequence[dict[str, Any]],
    member: dict[str, Any],
    channel: dict[str, Any],
) -> discord.Permissions:
    """Return the member's permissions in the channel as Discord computes them."""
    user_id = str(member["user"]["id"])
    if str(guild.get("owner_id")) == user_id:
        return discord.Permissions.all()
    by_id = {str(role["id"]): int(role["permissions"]) for role in roles}
    everyone = str(guild["id"])
    mine = {str(role_id) for role_id in member.get("roles", [])}
    base = by_id.get(everyone, 0)
    for role_id in mine:
        base |= by_id.get(role_id, 0)
    if base & discord.Permissions.administrator.flag:
        return discord.Permissions.all()
    overwrites = {str(o["id"]): o for o in channel.get("permission_overwrites") or []}

    def apply(value: int, overwrite: dict[str, Any] | None) -> int:
        if overwrite is None:
            return value
        return (value & ~int(overwrite["deny"])) | int(overwrite["allow"])

    value = apply(base, overwrites.get(everyone))
    allow = deny = 0
    for role_id in mine:
        if role_id in overwrites:
            allow |= int(overwrites[role_id]["allow"])
            deny |= int(overwrites[role_id]["deny"])
    value = (value & ~deny) | allow
    value = apply(value, overwrites.get(user_id))
    return discord.Permissions(value)


async def _ledger(store: Store, settings: Settings, report: Report) -> None:
    owns = owns_guild_for(settings.shard_count, settings.shard_ids)
    stuck = [m for m in await store.ledger.outbox() if owns(m.guild_id)]
    if not stuck:
        report.add(Finding(True, "outbox", "empty: every message sent was confirmed"))
        return
    report.add(
        Finding(
            False,
            "outbox",
            f"{len(stuck)} messages wait for Discord's confirmation",
            "they are sent again (never twice) at the next posting run; if they stay, see the "
            "log for the channel's errors",
            more=[
                f"channel {m.channel_id}: articles {', '.join(map(str, m.article_ids))}"
                for m in stuck[:REASONS_SHOWN]
            ]
            + _more(stuck),
        )
    )


def _more(items: Sequence[object]) -> list[str]:
    """Return "... and N more" for what a list of REASONS_SHOWN leaves out."""
    left = len(items) - REASONS_SHOWN
    return [f"... and {left} more"] if left > 0 else []
