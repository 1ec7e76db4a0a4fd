"""Fixtures shared across the test suite."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.postgres.connection import connect
from bot.store.postgres.schema import migrate
from bot.store.target import parse_postgres_url, redact_url
from tests.backends import BACKENDS, opened_store
from tests.postgres import (
    INSTALL_HINT,
    Server,
    create_database,
    create_password_role,
    database_name,
    drop_database,
    drop_password_role,
    existing_server,
    find_bindir,
    run_apart,
    start_server,
)


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A real, empty, migrated store: a SQLite file in a temporary directory, and a fresh
    database on the session's PostgreSQL server (every test that uses it runs on both)."""
    async with opened_store(request, tmp_path / "newsbot.db") as opened:
        yield opened


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """An empty directory to write article files into."""
    path = tmp_path / "articles"
    path.mkdir()
    return path


# -- PostgreSQL ------------------------------------------------------------------------------


_SERVER = pytest.StashKey[Server]()
_SKIPPED = pytest.StashKey[str]()


def pytest_report_header(config: pytest.Config) -> str:
    """Say at the top where the PostgreSQL tests get their server, or that they cannot."""
    if address := os.environ.get("NEWSBOT_TEST_POSTGRES"):
        return f"postgresql: {redact_url(address)} (NEWSBOT_TEST_POSTGRES)"
    if (bindir := find_bindir()) is None:
        return f"postgresql: NO SERVER PROGRAMS, the PostgreSQL tests will not run: {INSTALL_HINT}"
    return f"postgresql: a throwaway server from {bindir}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how long the PostgreSQL server took to start, or loudly that there was none."""
    server = terminalreporter.config.stash.get(_SERVER, None)
    if server is not None and server.started_in:
        terminalreporter.write_line(f"postgresql: server started in {server.started_in:.2f} s")
    if reason := terminalreporter.config.stash.get(_SKIPPED, ""):
        terminalreporter.write_line(f"postgresql: NOT TESTED. {reason}", yellow=True, bold=True)


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> Iterator[Server]:
    """A PostgreSQL server for the session: ``NEWSBOT_TEST_POSTGRES``, else a throwaway one.

    Without PostgreSQL's programs the tests that need it are skipped, saying why; under CI
    (CI=true) they fail instead, so that a CI machine without PostgreSQL cannot pass.
    """
    if address := os.environ.get("NEWSBOT_TEST_POSTGRES"):
        server = existing_server(address)
    else:
        bindir = find_bindir()
        if bindir is None:
            reason = f"PostgreSQL tests need PostgreSQL's server programs: {INSTALL_HINT}"
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(reason, pytrace=False)
            pytestconfig.stash[_SKIPPED] = reason  # said once, loudly, at the end
            pytest.skip("no PostgreSQL server programs (see 'postgresql: NOT TESTED')")
        server = start_server(bindir)
        pytestconfig.stash[_SERVER] = server
    try:
        run_apart(create_password_role(server))
        yield server
    finally:
        with suppress(Exception):
            run_apart(drop_password_role(server))
        server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: Server) -> Iterator[str]:
    """The name of a database migrated to the current schema, to copy for each test."""
    name = database_name("template")

    async def prepare() -> None:
        await create_database(postgres_server, name)
        target = parse_postgres_url(postgres_server.url(name))
        connection = await connect(target)
        try:
            await migrate(connection, target)
        finally:
            await connection.close()

    run_apart(prepare())
    try:
        yield name
    finally:
        with suppress(Exception):
            run_apart(drop_database(postgres_server, name))


@pytest.fixture
async def postgres_url(postgres_server: Server, postgres_template: str) -> AsyncIterator[str]:
    """The URL of a fresh PostgreSQL database of this test's own, migrated."""
    name = database_name("test")
    await create_database(postgres_server, name, template=postgres_template)
    try:
        yield postgres_server.url(name)
    finally:
        await drop_database(postgres_server, name)


@pytest.fixture
async def empty_postgres_url(postgres_server: Server) -> AsyncIterator[str]:
    """The URL of a fresh, empty PostgreSQL database of this test's own (not migrated)."""
    name = database_name("empty")
    await create_database(postgres_server, name)
    try:
        yield postgres_server.url(name)
    finally:
        await drop_database(postgres_server, name)
