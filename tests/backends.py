"""The storage backends tests run on, and how a test that only one of them can run says so."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.store import Store, open_store
from tests.postgres import Server, create_database, database_name, drop_database

#: The ``store`` (and ``bot_store``) fixture's parameters: every test using it runs on each.
BACKENDS = ("sqlite", "postgres")


def sqlite_only(fixture: str = "store") -> pytest.MarkDecorator:
    """Run a test on SQLite only (say why beside it): it is about SQLite's file itself."""
    return pytest.mark.parametrize(fixture, ["sqlite"], indirect=True)


def backend_of(store: Store) -> str:
    """Return the name (in ``BACKENDS``) of the backend ``store`` runs on."""
    from bot.store.postgres.store import PostgresStore

    return "postgres" if isinstance(store, PostgresStore) else "sqlite"


def integrity_errors() -> tuple[type[Exception], ...]:
    """Return what each backend raises when a row breaks a constraint of the schema."""
    import asyncpg

    return (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)


@asynccontextmanager
async def opened_store(request: pytest.FixtureRequest, path: Path) -> AsyncIterator[Store]:
    """Open an empty store of the backend ``request.param`` names: SQLite at ``path``, or a
    fresh PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        async with await open_store(path) as opened:
            yield opened
        return
    # Session fixtures asked for here, so that SQLite's runs need no PostgreSQL server.
    server: Server = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_template")
    name = database_name("store")
    await create_database(server, name, template=template)
    try:
        async with await open_store(server.url(name)) as opened:
            yield opened
    finally:
        await drop_database(server, name)
