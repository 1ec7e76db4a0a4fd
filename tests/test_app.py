"""``newsbot run`` as an admin runs it: a real process against the loopback fake Discord."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from bot.app import stop_on_signals
from bot.store import open_store
from tests.chat.conftest import eventually, make_server
from tests.factories import write_article
from tests.fake_discord import FakeDiscord
from tests.fake_discord.state import FakeMessage

ROOT = Path(__file__).resolve().parents[1]


def bot_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "NEWSBOT_DB": str(tmp_path / "bot.db"),
        "NEWSBOT_DATA_DIR": str(ROOT / "data" / "articles"),
        **extra,
    }


async def run_newsbot(tmp_path: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def exit_of(tmp_path: Path, env: dict[str, str]) -> tuple[int | None, str]:
    """Run ``newsbot run`` until it exits by itself; return its status and what it logged."""
    process = await run_newsbot(tmp_path, env)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode, stderr.decode()


async def test_without_a_token_it_says_what_to_set_and_exits_2(tmp_path: Path) -> None:
    status, log = await exit_of(tmp_path, bot_env(tmp_path))
    assert status == 2
    assert log.strip() == (
        "newsbot: DISCORD_TOKEN is not set. Put DISCORD_TOKEN=<your bot token> in .env "
        "(see .env.example) or in the environment; the README says where to get one."
    )


async def test_a_token_discord_refuses_exits_2_without_a_traceback(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        env = bot_env(tmp_path, DISCORD_TOKEN="not-the-token", **fake.env())
        status, log = await exit_of(tmp_path, env)
    assert status == 2
    assert "newsbot: Discord refused DISCORD_TOKEN." in log
    assert "Traceback" not in log


async def test_discord_out_of_reach_at_start_exits_2_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = f"http://127.0.0.1:{port}/api/v10"
    status, log = await exit_of(
        tmp_path, bot_env(tmp_path, DISCORD_TOKEN="x", NEWSBOT_DISCORD_API=api)
    )
    assert status == 2
    assert f"newsbot: cannot reach Discord at {api} (Cannot connect to host" in log
    assert "run it under a supervisor that restarts it" in log
    assert "Traceback" not in log


async def test_discord_failing_the_login_exits_2_with_one_line(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        fake.inject_fault("GET", "/users/@me", status=503, code=0, message="Down", times=None)
        status, log = await exit_of(
            tmp_path, bot_env(tmp_path, DISCORD_TOKEN=fake.token, **fake.env())
        )
    assert status == 2
    assert "newsbot: Discord answered 503 to the login; check the network" in log
    assert "Traceback" not in log


async def test_a_signal_while_logging_in_stops_cleanly(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        make_server(fake, "home")
        sync = "/applications/{application_id}/commands"
        fake.inject_delay("PUT", sync, 10.0, times=1)  # the first start syncs its commands
        process = await run_newsbot(
            tmp_path, bot_env(tmp_path, DISCORD_TOKEN=fake.token, **fake.env())
        )
        await asyncio.sleep(3.0)  # started and logging in: the sync waits for its answer
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "cannot reach Discord" not in log and "Traceback" not in log


async def test_a_bad_setting_exits_2(tmp_path: Path) -> None:
    status, log = await exit_of(
        tmp_path, bot_env(tmp_path, DISCORD_TOKEN="x", NEWSBOT_SHARD_IDS="0")
    )
    assert status == 2
    assert log.strip() == "newsbot: NEWSBOT_SHARD_IDS needs NEWSBOT_SHARD_COUNT"


async def test_newsbot_run_loads_syncs_answers_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        home = make_server(fake, "home")
        env = bot_env(tmp_path, DISCORD_TOKEN=fake.token, **fake.env())
        (tmp_path / ".env").write_text("NEWSBOT_MIN_QUALITY=60\n")
        process = await run_newsbot(tmp_path, env)
        try:
            await fake.wait_for_request(
                "PUT", "/applications/{application_id}/commands", timeout=30
            )
            await fake.wait_for_shards(1, timeout=30)
            assert {c["name"] for c in fake.commands()} == {
                "news",
                "subscribe",
                "unsubscribe",
                "subscriptions",
                "post",
                "alerts",
            }
            handle = await fake.send_command(
                home.guild, home.channel, home.member, "news", subcommand="topics"
            )
            answer = await handle.response(timeout=10)
            assert answer.embeds[0]["title"] == "Topics (13)"
            latest = await (
                await fake.send_command(home.guild, home.channel, home.member, "news latest")
            ).response()
            assert latest.content.startswith("**Latest news (quality ≥ 60)**")  # from .env
            second = await run_newsbot(tmp_path, env)  # started twice by mistake
            _, refusal = await asyncio.wait_for(second.communicate(), 30)
            assert second.returncode == 2
            assert refusal.decode().startswith(
                f"newsbot: another newsbot run (pid {process.pid}) is serving "
            )
            assert process.returncode is None  # the first one serves on
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "49 files" in log and "49 added" in log
    assert "synced 6 slash commands to all guilds" in log
    assert "SIGTERM: closing the Discord connection and the database" in log
    assert "Traceback" not in log


async def test_a_bot_killed_between_sending_and_recording_posts_nothing_twice(
    tmp_path: Path,
) -> None:
    data = tmp_path / "articles"
    data.mkdir()
    async with FakeDiscord() as fake:
        home = make_server(fake, "home")
        async with await open_store(tmp_path / "bot.db") as store:
            await store.subscriptions.subscribe(
                guild_id=home.guild.id, channel_id=home.channel.id, topic="AI", min_quality=0
            )
        for n in range(1, 4):  # arrive after the subscription: all three are due
            write_article(data, f"{n}.md", n, title=f"Story {n}", topics=["AI"], quality=90 - n)
        env = bot_env(tmp_path, DISCORD_TOKEN=fake.token, NEWSBOT_DATA_DIR=str(data), **fake.env())
        # Discord creates the first message but answers only after a minute: the bot dies waiting.
        fake.inject_fault("POST", f"/channels/{home.channel.id}/messages", delay_answer=60, times=1)
        first = await run_newsbot(tmp_path, env)
        try:
            await fake.wait_for_request(
                "PUT", "/applications/{application_id}/commands", timeout=30
            )
            await fake.wait_for_shards(1, timeout=30)
            await fake.send_command(home.guild, home.channel, home.admin, "post now")
            await fake.wait_for_message(home.channel, is_post, timeout=30)
        finally:
            first.kill()  # SIGKILL: no clean-up of any kind
            await first.communicate()
        async with await open_store(tmp_path / "bot.db") as store:
            assert (
                len(await store.ledger.outbox()) == 1
                and await store.ledger.deliveries(home.channel.id) == []
            )

        second = await run_newsbot(tmp_path, env)
        try:
            await eventually(
                lambda: _value(fake.gateway.identify_count), lambda n: n >= 2, timeout=30
            )
            await fake.wait_for_shards(1, timeout=30)
            handle = await fake.send_command(home.guild, home.channel, home.admin, "post now")
            report = await handle.followup(timeout=30)
            assert report.content.startswith("Posted 3 articles.")
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.communicate(), 30)
        posted = [
            e["title"] for m in fake.messages_in(home.channel) if is_post(m) for e in m.embeds
        ]
        assert sorted(posted) == ["Story 1", "Story 2", "Story 3"]  # each exactly once
        async with await open_store(tmp_path / "bot.db") as store:
            assert len(await store.ledger.deliveries(home.channel.id)) == 3
            assert await store.ledger.outbox() == []


def is_post(message: FakeMessage) -> bool:
    """Tell a message the posting job sent from an answer to a command."""
    return message.interaction_metadata is None and message.webhook_id is None


async def _value(value: int) -> int:
    return value


async def test_a_second_signal_exits_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[bool] = []
    exits: list[int] = []

    class SlowBot:
        async def close(self) -> None:
            closed.append(True)
            await asyncio.sleep(3600)  # a close that hangs

    monkeypatch.setattr(os, "_exit", exits.append)
    loop = asyncio.get_running_loop()
    stop = stop_on_signals(SlowBot())  # type: ignore[arg-type]
    try:
        stop(signal.SIGTERM)
        await asyncio.sleep(0)
        assert closed == [True] and exits == []
        stop(signal.SIGTERM)
        assert exits == [128 + signal.SIGTERM]
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()
