"""Connections to a PostgreSQL server, with every failure told in one line a person can act on.

asyncpg is imported inside the functions of this package, when a PostgreSQL URL is used:
SQLite, the default, needs nothing of it (``require_driver`` says how to install it).
Messages name the server, the user and the database, and never the password.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.errors import StoreError
from bot.store.postgres.schema import migrate
from bot.store.target import PostgresTarget

if TYPE_CHECKING:
    import asyncpg

CONNECT_TIMEOUT = 10.0  # seconds; asyncpg's own default (60) leaves a person waiting
APPLICATION_NAME = "newsbot"  # shown in pg_stat_activity, to tell newsbot's sessions apart
INSTALL_HINT = "install newsbot[postgres] (pip install 'newsbot[postgres]')"


def require_driver() -> None:
    """Raise ``StoreError`` saying how to install asyncpg when it is not installed."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        raise StoreError(f"PostgreSQL needs the asyncpg driver: {INSTALL_HINT}") from None


async def connect(
    target: PostgresTarget,
    *,
    application_name: str = APPLICATION_NAME,
    server_settings: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> asyncpg.Connection[asyncpg.Record]:
    """Open one connection to ``target``, or raise ``StoreError`` saying why it cannot.

    ``timeout`` (seconds) defaults to the URL's ``connect_timeout``, else 10.
    """
    require_driver()
    import asyncpg

    timeout = timeout or target.connect_timeout or CONNECT_TIMEOUT
    try:
        connection: asyncpg.Connection[asyncpg.Record] = await asyncpg.connect(
            **connect_arguments(target, application_name, server_settings), timeout=timeout
        )
    except Exception as exc:
        raise connect_error(target, exc, timeout) from None
    return connection


# asyncpg prepares every statement and reuses it; after five runs PostgreSQL may plan a
# prepared statement once for any parameters (a generic plan), which cannot see how common
# a searched word is: a search for a word in a few percent of the articles then read the
# archive backwards row by row (p99 244 ms instead of 94 ms at 100,000 articles). Each
# statement is planned for its own parameters instead, for a fraction of a millisecond.
POOL_SETTINGS = {"plan_cache_mode": "force_custom_plan"}


async def create_pool(
    target: PostgresTarget,
    *,
    min_size: int = 1,
    max_size: int = 10,
    application_name: str = APPLICATION_NAME,
    timeout: float | None = None,
) -> asyncpg.Pool[asyncpg.Record]:
    """Open a pool of connections to ``target``, or raise ``StoreError`` saying why it cannot."""
    require_driver()
    import asyncpg

    timeout = timeout or target.connect_timeout or CONNECT_TIMEOUT
    try:
        pool: asyncpg.Pool[asyncpg.Record] = await asyncpg.create_pool(
            **connect_arguments(target, application_name, POOL_SETTINGS),
            timeout=timeout,
            min_size=min_size,
            max_size=max_size,
            reset=_keep_session,
        )
    except Exception as exc:
        raise connect_error(target, exc, timeout) from None
    return pool


async def _keep_session(connection: asyncpg.Connection[asyncpg.Record]) -> None:
    """Give a connection back to the pool without resetting its session.

    asyncpg's default reset (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``)
    is a second round trip after every statement: about 0.3 ms of a lookup's 1-2 ms. The
    store leaves nothing in a pooled session to reset: its settings are the pool's own,
    its advisory locks there are transaction locks, and the shard locks, which are session
    locks, live on a connection of their own (``shardlock.py``). An open transaction is
    still rolled back by asyncpg before this is called.
    """


def connect_arguments(
    target: PostgresTarget, application_name: str, server_settings: Mapping[str, str] | None
) -> dict[str, Any]:
    """Return asyncpg's connect arguments for ``target``; the URL's options ride in the dsn.

    asyncpg reads the options it knows (``sslmode``, ``sslrootcert``, ...) from the query
    of a dsn and sends the others to the server as settings; the parts of the URL itself
    go as arguments, so that a host that is a socket folder needs no encoding.
    """
    settings = {"application_name": application_name, **(server_settings or {})}
    options = dict(target.options)
    options.pop("connect_timeout", None)  # libpq's; asyncpg takes it as an argument
    for name in list(options):
        if name in settings:  # newsbot's own settings win over the URL's
            options.pop(name)
    arguments: dict[str, Any] = {
        "host": target.host,
        "port": target.port,
        "user": target.user,
        "password": target.password,
        "database": target.database,
        "server_settings": settings,
    }
    if options:
        arguments["dsn"] = "postgresql://?" + "&".join(
            f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in options.items()
        )
    return arguments


def connect_error(target: PostgresTarget, exc: BaseException, timeout: float) -> StoreError:
    """Return the one-line ``StoreError`` that tells a person why connecting failed."""
    import asyncpg

    where = f"the PostgreSQL server at {target.address}"
    errors = asyncpg.exceptions
    if isinstance(exc, errors.InvalidPasswordError):
        reason = (
            f'{where} refused the password of user "{target.user}": check the password '
            "in NEWSBOT_DB (or --db)"
        )
    elif isinstance(exc, errors.InvalidAuthorizationSpecificationError):
        # Also a role that does not exist, or that pg_hba.conf does not let in from here.
        reason = f'{where} refused user "{target.user}": {_first_line(exc)}'
    elif isinstance(exc, errors.InvalidCatalogNameError):
        reason = (
            f'{where} has no database "{target.database}": create it '
            f"(createdb -O {target.user} {target.database}) or fix the name in NEWSBOT_DB"
        )
    elif isinstance(exc, errors.TooManyConnectionsError):
        reason = f"{where} has no free connection: {_first_line(exc)}"
    elif isinstance(exc, errors.CannotConnectNowError):
        reason = f"{where} is starting up or shutting down; try again in a moment"
    elif isinstance(exc, errors.InsufficientPrivilegeError):
        reason = f'user "{target.user}" may not connect to {where}: {_first_line(exc)}'
    elif isinstance(exc, TimeoutError):
        reason = f"{where} did not answer within {timeout:g} s: is the host right and reachable?"
    elif isinstance(exc, socket.gaierror):
        reason = f'cannot find the PostgreSQL host "{target.host}": {exc.strerror}'
    elif isinstance(exc, ssl.SSLError | errors.ClientConfigurationError):
        reason = f"cannot set up TLS to {where}: {_first_line(exc)}"
    elif isinstance(exc, OSError):
        # asyncio words a refused connection "Connect call failed ('host', port)": the
        # errno's own words say it better.
        why = os.strerror(exc.errno) if exc.errno else _first_line(exc)
        reason = (
            f"cannot reach {where} ({why.lower()}): is the server running, and are the host "
            "and port in NEWSBOT_DB right?"
        )
    elif isinstance(exc, errors.PostgresError | errors.InterfaceError):
        reason = f"cannot connect to {where}: {_first_line(exc)}"
    else:
        reason = f"cannot connect to {where}: {type(exc).__name__}: {_first_line(exc)}"
    return StoreError(scrub(reason, target))


def scrub(message: str, target: PostgresTarget) -> str:
    """Return ``message`` with ``target``'s password, should a driver ever quote it, as ***."""
    if target.password and len(target.password) >= 4:  # shorter ones match ordinary words
        message = message.replace(target.password, "***")
    return message


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def open_pool(
    target: PostgresTarget, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool[asyncpg.Record]:
    """Open a pool to ``target``'s database, migrated to this newsbot's schema.

    Raise ``StoreError`` when the server cannot be reached or used, or when the database
    has a schema newer than this newsbot understands.
    """
    pool = await create_pool(target, min_size=min_size, max_size=max_size)
    try:
        async with pool.acquire() as connection:
            await migrate(connection, target)
    except BaseException:
        pool.terminate()
        raise
    return pool
