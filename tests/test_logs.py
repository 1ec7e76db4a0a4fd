"""Log lines: readable text or one JSON object per line, ids as fields, no secret ever."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.logs import LogFormat, configure_logging, log_context, tag_task
from tests.chat.conftest import eventually, make_server
from tests.fake_discord import FakeDiscord
from tests.test_app import bot_env, run_newsbot

TOKEN = "MTA5.fake-token.Secret-Part-123"
PASSWORD = "pg-pass/word"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Configure logging into a buffer, as ``newsbot run`` does into stderr."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("discord").level)
    stream = io.StringIO()
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        logging.getLogger("discord").setLevel(saved[2])


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_ids_and_an_exception_in_one_field(output: io.StringIO) -> None:
    configure_logging(log_format="json", stream=output)
    log = logging.getLogger("newsbot.test")
    log.info("plain %s", "message")
    with log_context(guild_id=1, channel_id=2):
        log.warning("in a channel", extra={"article_id": 3})
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("it failed")
    logging.getLogger("discord.gateway").warning("from discord.py")
    first, tagged, failed, library = lines(output)
    assert first["message"] == "plain message" and first["level"] == "INFO"
    assert first["logger"] == "newsbot.test" and str(first["time"]).endswith("+00:00")
    assert "guild_id" not in first
    assert (tagged["guild_id"], tagged["channel_id"], tagged["article_id"]) == (1, 2, 3)
    assert "ValueError: boom\nsecond line" in str(failed["exception"])  # one line of JSON
    assert library["logger"] == "discord.gateway" and library["level"] == "WARNING"


async def test_a_tagged_task_tags_only_its_own_records(output: io.StringIO) -> None:
    configure_logging(log_format="json", stream=output)
    log = logging.getLogger("newsbot.test")

    async def channel(number: int) -> None:
        tag_task(channel_id=number)
        await asyncio.sleep(0)
        log.info("serving %d", number)

    await asyncio.gather(channel(1), channel(2))
    log.info("after")
    records = {record["message"]: record.get("channel_id") for record in lines(output)}
    assert records == {"serving 1": 1, "serving 2": 2, "after": None}


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_token_and_the_database_password_never_appear(
    output: io.StringIO, log_format: LogFormat
) -> None:
    configure_logging(log_format=log_format, secrets=[TOKEN, PASSWORD, None], stream=output)
    log = logging.getLogger("newsbot.test")
    log.info("token %s in the arguments", TOKEN)
    log.warning(f"password {PASSWORD} in the message")
    try:
        raise RuntimeError(f"connect failed for postgresql://bot:{PASSWORD}@db/news ({TOKEN})")
    except RuntimeError:
        log.exception("traceback")
    text = output.getvalue()
    assert TOKEN not in text and PASSWORD not in text
    assert text.count("***") >= 4


def test_discord_py_chatter_is_quiet_unless_debugging(output: io.StringIO) -> None:
    configure_logging(level="INFO", stream=output)
    logging.getLogger("discord.gateway").info("Shard ID 0 has connected")
    assert output.getvalue() == ""
    configure_logging(level="DEBUG", stream=output)
    logging.getLogger("discord.gateway").debug("payload")
    assert "payload" in output.getvalue()


async def test_newsbot_run_logs_json_with_ids_and_never_its_token(tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        home = make_server(fake, "home")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = bot_env(
            tmp_path, DISCORD_TOKEN=fake.token, NEWSBOT_LOG_FORMAT="json",
            NEWSBOT_HTTP=f"127.0.0.1:{port}", **fake.env(),
        )  # fmt: skip
        process = await run_newsbot(tmp_path, env)
        try:
            await fake.wait_for_shards(1, timeout=30)
            async with aiohttp.ClientSession() as session:  # newsbot run serves NEWSBOT_HTTP

                async def readiness() -> int:
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as ready:
                        return ready.status

                await eventually(readiness, lambda status: status == 200, timeout=15)
            handle = await fake.send_command(home.guild, home.channel, home.admin, "post now")
            await handle.followup(timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0
    text = stderr.decode()
    assert fake.token not in text
    records = [json.loads(line) for line in text.splitlines()]  # every line is one object
    manual = next(r for r in records if str(r["message"]).startswith("manual run in guild"))
    assert (manual["guild_id"], manual["channel_id"], manual["shard"]) == (
        home.guild.id, home.channel.id, 0,
    )  # fmt: skip
    assert any(r["message"] == "stopped" for r in records)
