"""Settings from the environment and .env: every bad value gets one line naming it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import load_settings, read_env_file
from bot.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWSBOT_LOAD_WORKERS", "many", "NEWSBOT_LOAD_WORKERS must be a whole number, got 'many'"),
        ("NEWSBOT_LOAD_WORKERS", "100000", "NEWSBOT_LOAD_WORKERS must be from 0 to 64"),
        ("NEWSBOT_DEV_GUILD", "²", "NEWSBOT_DEV_GUILD must be a Discord id (a number), got '²'"),
        ("NEWSBOT_DEV_GUILD", "-5", "NEWSBOT_DEV_GUILD must be a Discord id"),
        ("NEWSBOT_POST_INTERVAL", "nan", "NEWSBOT_POST_INTERVAL must be a duration"),
        ("NEWSBOT_POST_INTERVAL", "1s", "NEWSBOT_POST_INTERVAL must be from 10s to 7 days"),
        ("NEWSBOT_DISCORD_API", "ftp://x", "NEWSBOT_DISCORD_API must start with"),
        ("NEWSBOT_HTTP", "9100", "NEWSBOT_HTTP must be host:port, such as 127.0.0.1:9100"),
        ("NEWSBOT_HTTP", "localhost:http", "NEWSBOT_HTTP must be host:port"),
        ("NEWSBOT_HTTP", "127.0.0.1:70000", "NEWSBOT_HTTP: the port must be from 1 to 65535"),
    ],
)
def test_a_bad_value_is_named_with_what_is_expected(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        load_settings({name: value}, env_file=None)


def test_an_env_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("NEWSBOT_MIN_QUALITY=70\n", encoding="utf-8-sig")
    assert read_env_file(env) == {"NEWSBOT_MIN_QUALITY": "70"}
    assert load_settings({}, env_file=env).min_quality == 70


def test_an_env_file_that_is_not_a_regular_file_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / ".env"
    os.mkfifo(fifo)  # reading it would block until someone writes
    with pytest.raises(ConfigError, match=r"cannot read .*\.env: not a regular file"):
        read_env_file(fifo)


def test_no_env_file_is_no_settings(tmp_path: Path) -> None:
    assert read_env_file(tmp_path / ".env") == {}


def test_processes_that_split_the_shards_split_the_global_send_rate() -> None:
    def rate(ids: str | None) -> float:
        values = {"NEWSBOT_SEND_RATE": "48", "NEWSBOT_SHARD_COUNT": "4"}
        if ids is not None:
            values["NEWSBOT_SHARD_IDS"] = ids
        return load_settings(values, env_file=None).process_send_rate

    assert rate(None) == 48  # one process serving every shard takes the whole rate
    assert rate("0") + rate("1,2,3") == 48  # two processes on one token stay under it together
    assert rate("0") == 12 and rate("0,1,2,3") == 48


def test_a_database_url_names_postgresql_and_hides_its_password() -> None:
    settings = load_settings(
        {"NEWSBOT_DB": "postgresql://bot:pw%2Fsecret@db.example:6543/news?sslmode=require"},
        env_file=None,
    )
    assert str(settings.db) == "postgresql://bot:***@db.example:6543/news?sslmode=require"
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWSBOT_LOG_LEVEL", "loud", "NEWSBOT_LOG_LEVEL must be one of DEBUG, INFO, WARNING"),
        ("NEWSBOT_LOG_FORMAT", "xml", "NEWSBOT_LOG_FORMAT must be text or json, got 'xml'"),
    ],
)
def test_a_bad_log_setting_is_named(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message):
        load_settings({name: value}, env_file=None)
    assert load_settings({"NEWSBOT_LOG_LEVEL": "debug"}, env_file=None).log_level == "DEBUG"
