"""``newsbot doctor``: a checklist an admin runs when posts stop, through the fake Discord."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.chat.bot import NewsBot
from bot.chat.doctor import Report, channel_permissions, examine
from bot.config import Settings
from bot.store import Store
from bot.subscriptions import OutboxMessage, SubscriptionOptions
from tests.chat.conftest import DATA, Server, make_server
from tests.fake_discord import FakeDiscord, running_bot
from tests.fake_discord.state import Perm

ROOT = Path(__file__).resolve().parents[2]


async def healthy(fake: FakeDiscord, store: Store) -> tuple[Server, Settings]:
    """A server whose channel follows AI, with the commands synced by a first start."""
    home = make_server(fake, "home")
    await store.subscriptions.subscribe(
        guild_id=home.guild.id, channel_id=home.channel.id, topic="AI", min_quality=50
    )
    settings = Settings(discord_token=fake.token, data_dir=DATA)
    async with running_bot(fake, NewsBot(store, settings, guild_ready_timeout=0.05)):
        pass  # synced its commands, as newsbot run does
    return home, settings


async def checklist(fake: FakeDiscord, store: Store, settings: Settings) -> Report:
    with fake.discord_pointed_here():
        return await examine(store, settings)


def failed(report: Report) -> dict[str, str]:
    return {f.check: f"{f.detail} | {f.fix}" for f in report.findings if not f.ok}


async def test_a_healthy_setup_is_all_ticks(bot_store: Store) -> None:
    async with FakeDiscord() as fake:
        home, settings = await healthy(fake, bot_store)
        report = await checklist(fake, bot_store, settings)
    assert report.ok, report.text()
    text = report.text()
    assert f"the token is the bot user NewsBot (id {fake.bot.id})" in text
    assert (
        f"client_id={fake.application_id}&scope=bot%20applications.commands&permissions=84992"
        in text
    )
    assert "6 commands, as this version has them, in every server" in text
    assert f"#news (server {home.guild.id}) on 'AI': the bot can post there" in text
    assert "49 article files, none rejected" in text
    assert all(line.startswith(("✓", "    ")) for line in text.splitlines())
    assert fake.find_requests("POST", "/channels/{channel_id}/messages") == []  # posts nothing


async def test_a_permission_removed_and_a_deleted_channel_are_named_with_the_fix(
    bot_store: Store,
) -> None:
    async with FakeDiscord() as fake:
        home, settings = await healthy(fake, bot_store)
        other = fake.add_text_channel(home.guild, "science")
        await bot_store.subscriptions.subscribe(
            guild_id=home.guild.id, channel_id=other.id, topic="Space", min_quality=50
        )
        bot_role = home.guild.bot_role
        assert bot_role is not None
        await fake.set_permission_overwrite(home.channel, bot_role, deny=Perm.EMBED_LINKS)
        await fake.delete_channel(other)
        await bot_store.ledger.add_outbox(
            OutboxMessage("n1", home.guild.id, home.channel.id, (1, 2), datetime.now(UTC))
        )
        report = await checklist(fake, bot_store, settings)
    problems = failed(report)
    assert problems[f"#news (server {home.guild.id}) on 'AI'"] == (
        "the bot lacks Embed Links (active) | grant the bot Embed Links in #news; the "
        "subscription resumes at the next posting run"
    )
    assert problems[f"channel {other.id} (server {home.guild.id}) on 'Space'"].startswith(
        "the channel was deleted | /unsubscribe topic:Space"
    )
    assert problems["outbox"].startswith("1 messages wait for Discord's confirmation")
    assert not report.ok


async def test_a_refused_token_is_one_line_with_the_fix(bot_store: Store) -> None:
    async with FakeDiscord() as fake:
        _, settings = await healthy(fake, bot_store)
        report = await checklist(fake, bot_store, replace(settings, discord_token="wrong"))
    assert failed(report)["Discord"] == (
        "Discord refused DISCORD_TOKEN | reset the token in the developer portal (Bot -> Reset "
        "Token) and put the new one in .env"
    )


def test_permissions_are_computed_as_discord_does() -> None:
    guild = {"id": "1", "owner_id": "9"}
    roles = [{"id": "1", "permissions": str(Perm.VIEW_CHANNEL | Perm.SEND_MESSAGES)},
             {"id": "2", "permissions": str(Perm.EMBED_LINKS)}]  # fmt: skip
    member = {"user": {"id": "5"}, "roles": ["2"]}
    channel = {"permission_overwrites": [
        {"id": "1", "type": 0, "allow": "0", "deny": str(Perm.SEND_MESSAGES)},  # @everyone
        {"id": "2", "type": 0, "allow": str(Perm.SEND_MESSAGES), "deny": "0"},  # the bot's role
        {"id": "5", "type": 1, "allow": "0", "deny": str(Perm.EMBED_LINKS)},  # the bot itself
    ]}  # fmt: skip
    have = channel_permissions(guild, roles, member, channel)
    assert have.view_channel and have.send_messages and not have.embed_links
    owner = channel_permissions(guild, roles, {"user": {"id": "9"}, "roles": []}, channel)
    assert owner.embed_links  # the owner has every permission


@pytest.mark.parametrize("as_json", [False, True])
def test_the_command_exits_1_and_prints_the_checklist(tmp_path: Path, as_json: bool) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--db", str(tmp_path / "x.db"), "doctor",
         *(["--json"] if as_json else [])],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    if as_json:
        checks = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
        assert checks["Discord"]["ok"] is False and checks["database"]["ok"] is True
    else:
        assert "✗ Discord: DISCORD_TOKEN is not set" in result.stdout
        assert "✗ data directory data/articles: missing or not a directory" in result.stdout
    assert "Traceback" not in result.stderr


async def test_what_a_subscriptions_options_need_is_checked_by_its_name(
    bot_store: Store,
) -> None:
    async with FakeDiscord() as fake:
        home, settings = await healthy(fake, bot_store)
        quiet = fake.add_role(home.guild, "quiet")  # not mentionable: needs Mention Everyone
        press = fake.add_forum_channel(home.guild, "press")
        gone = fake.add_text_channel(home.guild, "pinged")

        async def subscribe(channel_id: int, **options: Any) -> None:
            await bot_store.subscriptions.subscribe(
                guild_id=home.guild.id, channel_id=channel_id, topic="AI", min_quality=50,
                options=SubscriptionOptions(**options),
            )  # fmt: skip

        await subscribe(home.channel.id, thread=True)
        await subscribe(press.id, mention_role_id=quiet.id)
        await subscribe(gone.id, mention_role_id=4242)
        everyone = home.guild.id
        await fake.set_permission_overwrite(home.channel, everyone, deny=Perm.CREATE_PUBLIC_THREADS)
        await fake.set_permission_overwrite(
            press, everyone, deny=Perm.SEND_MESSAGES | Perm.MENTION_EVERYONE
        )
        report = await checklist(fake, bot_store, settings)
    problems = failed(report)
    assert problems[f"#news (server {home.guild.id}) on 'AI'"] == (
        "the bot lacks Create Public Threads (active) | grant the bot Create Public Threads in "
        "#news; the subscription resumes at the next posting run"
    )
    assert problems[f"#press (server {home.guild.id}) on 'AI'"].startswith(
        "the bot lacks Create Posts, Mention Everyone (active)"
    )
    assert problems[f"#pinged (server {home.guild.id}) on 'AI'"] == (
        "the role it pings (4242) is gone | /subscribe topic:AI with another `mention`, "
        "or `clear:mention`"
    )
