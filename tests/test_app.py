"""``newsbot run`` as an admin runs it: a real process against the loopback fake Discord."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.chat.conftest import make_server
from tests.fake_discord import FakeDiscord

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


async def test_without_a_token_it_says_what_to_set_and_exits_2(tmp_path: Path) -> None:
    process = await run_newsbot(tmp_path, bot_env(tmp_path))
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert stderr.decode().strip() == (
        "newsbot: DISCORD_TOKEN is not set. Put DISCORD_TOKEN=<your bot token> in .env "
        "(see .env.example) or in the environment; the README says where to get one."
    )


async def test_a_token_discord_refuses_exits_2_without_a_traceback(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        env = bot_env(tmp_path, DISCORD_TOKEN="not-the-token", **fake.env())
        process = await run_newsbot(tmp_path, env)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    text = stderr.decode()
    assert "newsbot: Discord refused DISCORD_TOKEN." in text
    assert "Traceback" not in text


async def test_a_bad_setting_exits_2(tmp_path: Path) -> None:
    process = await run_newsbot(
        tmp_path, bot_env(tmp_path, DISCORD_TOKEN="x", NEWSBOT_SHARD_IDS="0")
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert stderr.decode().strip() == "newsbot: NEWSBOT_SHARD_IDS needs NEWSBOT_SHARD_COUNT"


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
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "49 files" in log and "49 added" in log
    assert "synced 5 slash commands to all guilds" in log
    assert "SIGTERM: closing the Discord connection and the database" in log
    assert "Traceback" not in log
