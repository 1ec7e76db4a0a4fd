"""Connecting to PostgreSQL: each way it fails is one line naming what to fix, no password."""

from __future__ import annotations

import sys

import pytest

from bot.errors import StoreError
from bot.store.postgres.connection import connect, create_pool, open_pool
from bot.store.postgres.schema import SCHEMA_VERSION, schema_version
from bot.store.target import parse_postgres_url
from tests.postgres import PASSWORD, Server, free_port

WRONG = "not-the-password-4711"


async def _refusal(url: str) -> str:
    target = parse_postgres_url(url)
    with pytest.raises(StoreError) as refused:
        connection = await connect(target, timeout=5)
        await connection.close()
    assert refused.value.__cause__ is None and refused.value.__suppress_context__  # no traceback
    message = str(refused.value)
    assert "\n" not in message
    return message


async def test_a_server_that_is_not_there_is_named_by_host_and_port() -> None:
    port = free_port()
    message = await _refusal(f"postgresql://bot:{WRONG}@127.0.0.1:{port}/news")
    assert message == (
        f"cannot reach the PostgreSQL server at 127.0.0.1:{port} (connection refused): is the "
        "server running, and are the host and port in NEWSBOT_DB right?"
    )
    assert WRONG not in message


async def test_a_host_that_does_not_exist_is_named() -> None:
    message = await _refusal("postgresql://bot@no-such-host.invalid/news")
    assert message.startswith('cannot find the PostgreSQL host "no-such-host.invalid"')


async def test_a_refused_password_names_the_user_not_the_password(
    postgres_server: Server, postgres_url: str
) -> None:
    database = parse_postgres_url(postgres_url).database
    user = postgres_server.password_user
    url = postgres_server.url(database, user=user, password=WRONG)
    if postgres_server.folder is None:  # a server of NEWSBOT_TEST_POSTGRES may trust everyone
        try:
            connection = await connect(parse_postgres_url(url))
        except StoreError:
            pass
        else:
            await connection.close()
            pytest.skip("NEWSBOT_TEST_POSTGRES's server lets any password in")
    message = await _refusal(url)
    assert message == (
        f"the PostgreSQL server at {postgres_server.host}:{postgres_server.port} refused the "
        f'password of user "{user}": check the password in NEWSBOT_DB (or --db)'
    )
    assert WRONG not in message

    right = await connect(parse_postgres_url(postgres_server.url(database, user, PASSWORD)))
    assert await right.fetchval("SELECT current_user") == user
    await right.close()


async def test_a_database_that_does_not_exist_is_named(postgres_server: Server) -> None:
    message = await _refusal(postgres_server.url("no_such_database"))
    assert message == (
        f"the PostgreSQL server at {postgres_server.host}:{postgres_server.port} has no database "
        f'"no_such_database": create it (createdb -O {postgres_server.superuser} '
        "no_such_database) or fix the name in NEWSBOT_DB"
    )


async def test_a_pool_on_a_database_of_a_newer_newsbot_is_refused(postgres_url: str) -> None:
    target = parse_postgres_url(postgres_url)
    connection = await connect(target)
    await connection.execute("INSERT INTO newsbot_schema (version, name) VALUES (999, 'future')")
    await connection.close()
    with pytest.raises(StoreError, match=r"has schema version 999, newer than this newsbot"):
        await open_pool(target)


async def test_a_pool_opens_a_new_database_migrated(empty_postgres_url: str) -> None:
    pool = await open_pool(parse_postgres_url(empty_postgres_url), max_size=2)
    try:
        async with pool.acquire() as connection:
            assert await schema_version(connection) == SCHEMA_VERSION
            assert await connection.fetchval("SHOW application_name") == "newsbot"
    finally:
        await pool.close()


async def test_a_pool_that_cannot_connect_says_why(postgres_server: Server) -> None:
    with pytest.raises(StoreError, match=r'has no database "nowhere"'):
        await create_pool(parse_postgres_url(postgres_server.url("nowhere")))


async def test_the_urls_options_reach_the_server(postgres_url: str) -> None:
    connection = await connect(
        parse_postgres_url(postgres_url + "?sslmode=disable&TimeZone=Asia/Tokyo&connect_timeout=3")
    )
    try:
        assert await connection.fetchval("SHOW TimeZone") == "Asia/Tokyo"
    finally:
        await connection.close()


async def test_without_asyncpg_a_postgresql_url_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # import asyncpg now raises ImportError
    with pytest.raises(StoreError) as refused:
        await connect(parse_postgres_url("postgresql://bot:pw@db/news"))
    assert str(refused.value) == (
        "PostgreSQL needs the asyncpg driver: install newsbot[postgres] "
        "(pip install 'newsbot[postgres]')"
    )
