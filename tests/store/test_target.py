"""Database targets: a file path is SQLite, a postgresql:// URL is PostgreSQL, no password shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.store.target import (
    PostgresTarget,
    SqliteTarget,
    is_postgres_url,
    parse_target,
    redact_url,
)


@pytest.mark.parametrize(
    "value", ["data/newsbot.db", "/var/lib/newsbot/news.db", "news:db", "C:/news.db", "postgresql"]
)
def test_anything_but_a_url_is_a_sqlite_file(value: str) -> None:
    assert parse_target(value) == SqliteTarget(Path(value))
    assert not is_postgres_url(value)


def test_a_path_object_is_a_sqlite_file_as_it_is() -> None:
    assert parse_target(Path("data/x.db")) == SqliteTarget(Path("data/x.db"))


def test_a_postgresql_url_names_server_user_password_database_and_options() -> None:
    target = parse_target(
        "postgresql://news%40bot:p%40ss:w%2Frd@db.example:6543/news?sslmode=require&connect_timeout=5"
    )
    assert target == PostgresTarget(
        host="db.example",
        port=6543,
        user="news@bot",
        database="news",
        password="p@ss:w/rd",
        options=(("sslmode", "require"), ("connect_timeout", "5")),
    )
    assert isinstance(target, PostgresTarget)
    assert target.address == "db.example:6543"
    assert target.connect_timeout == 5.0
    assert target.redacted == (
        "postgresql://news%40bot:***@db.example:6543/news?sslmode=require&connect_timeout=5"
    )
    assert str(target) == target.redacted
    assert "p@ss" not in repr(target) and "w/rd" not in repr(target)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://bot@localhost/news", PostgresTarget("localhost", 5432, "bot", "news")),
        ("POSTGRESQL://bot@[::1]:5433/news", PostgresTarget("::1", 5433, "bot", "news")),
        ("postgresql://bot:@h/n", PostgresTarget("h", 5432, "bot", "n", password="")),
        (
            "postgresql://bot@%2Fvar%2Frun%2Fpostgresql/news",
            PostgresTarget("/var/run/postgresql", 5432, "bot", "news"),
        ),
    ],
)
def test_url_forms(url: str, expected: PostgresTarget) -> None:
    assert parse_target(url) == expected


def test_a_key_password_in_the_options_is_not_shown_either() -> None:
    target = parse_target("postgresql://bot@db/news?sslkey=k.pem&sslpassword=k3y")
    assert target.redacted == "postgresql://bot@db:5432/news?sslkey=k.pem&sslpassword=***"
    assert "k3y" not in repr(target)


def test_the_redacted_form_shows_an_ipv6_host_and_a_missing_password_as_they_are() -> None:
    target = parse_target("postgresql://bot@[::1]:5433/news")
    assert isinstance(target, PostgresTarget)
    assert target.redacted == "postgresql://bot@[::1]:5433/news"
    assert target.address == "[::1]:5433"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://bot:s3cret@db:99999/news", "the port must be a number from 1 to 65535"),
        ("postgresql://bot:s3cret@db:port/news", "the port must be a number from 1 to 65535"),
        ("postgresql://bot:s3cret@db:0/news", "the port must be a number from 1 to 65535"),
        ("postgresql://bot:s3cret@/news", "it names no host"),
        ("postgresql://bot:s3cret@:5432/news", "it names no host"),
        ("postgresql://bot:s3cret@a,b/news", "newsbot connects to one host, not a list"),
        ("postgresql://db/news", "it names no user"),
        ("postgresql://bot:s3cret@db", "it names no database"),
        ("postgresql://bot:s3cret@db/", "it names no database"),
        ("postgresql://bot:s3cret@db/news/more", "it names no database"),
        ("postgresql://bot:s3cret@db/news?sslmode", "its options (after '?') must be name=value"),
        ("postgresql://bot:s3cret@db/news?password=s3cret", "write password in the URL itself"),
        (
            "postgresql://bot:s3cret@db/news?connect_timeout=soon",
            "connect_timeout must be a number of seconds, got 'soon'",
        ),
        ("postgresql://bot:s3#cret@db/news", "must be written %2F, %3F, %23 or %40"),
        ("postgresql://bot:s3/cret@db/news", "must be written %2F, %3F, %23 or %40"),
        ("postgresql://bot:s3?cret@db/news", "must be written %2F, %3F, %23 or %40"),
        ("postgresql://bot:s3cret@db/ne#ws", "a '#' must be written %23"),
    ],
)
def test_a_url_that_cannot_be_used_says_why_without_the_password(url: str, reason: str) -> None:
    with pytest.raises(StoreError) as refused:
        parse_target(url)
    message = str(refused.value)
    assert message.startswith("cannot use the database URL postgresql://")
    assert reason in message
    assert "postgresql://user:password@host:port/dbname" in message
    assert "s3" not in message and "cret" not in message, message


def test_a_url_of_another_database_is_refused() -> None:
    with pytest.raises(StoreError) as refused:
        parse_target("mysql://bot:s3cret@db/news")
    assert str(refused.value) == (
        "cannot use the database mysql://bot:***@db/news: newsbot stores in SQLite (a file "
        "path) or PostgreSQL (postgresql://user:password@host:port/dbname), not mysql"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bot:pw@db/news", "postgresql://bot:***@db/news"),
        ("postgresql://bot:p@w/x?y#z@db/news", "postgresql://bot:***@db/news"),
        ("postgresql://bot@db/news", "postgresql://bot@db/news"),
        ("postgresql://db:5432/news", "postgresql://db:5432/news"),
        ("postgresql://db/news?sslpassword=k3y&x=1", "postgresql://db/news?sslpassword=***&x=1"),
        ("data/newsbot.db", "data/newsbot.db"),
    ],
)
def test_redact_url_masks_passwords_even_in_urls_that_cannot_be_parsed(
    url: str, shown: str
) -> None:
    assert redact_url(url) == shown
