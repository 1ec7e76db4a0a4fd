"""Where the database is: a SQLite file path, or a PostgreSQL URL (``NEWSBOT_DB``, ``--db``).

A PostgreSQL URL carries a password, so nothing here ever puts one in a message: the
target shows itself (``str``, ``repr``, ``redacted``) with the password as ``***``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from bot.errors import StoreError

POSTGRES_SCHEMES = ("postgresql", "postgres")
DEFAULT_PORT = 5432
URL_FORM = "postgresql://user:password@host:port/dbname"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_PASSWORD_OPTION = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SqliteTarget:
    """A SQLite database file."""

    path: Path

    @property
    def redacted(self) -> str:
        """Return the target as it may be shown: the path."""
        return str(self.path)

    def __str__(self) -> str:
        return self.redacted


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """A PostgreSQL database: server, role and database name, and the URL's other options."""

    host: str  # a name, an address, or a Unix socket folder (starting with "/")
    port: int
    user: str
    database: str
    password: str | None = field(default=None, repr=False)
    # The URL's query (sslmode=...), passed on to asyncpg; out of repr for sslpassword's sake.
    options: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def address(self) -> str:
        """Return ``host:port`` (``[v6]:port`` for an IPv6 address), to name the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def redacted(self) -> str:
        """Return the URL as it may be shown: the password, if any, as ``***``."""
        user = quote(self.user, safe="") + (":***" if self.password is not None else "")
        host = self.address
        if self.host.startswith("/"):
            host = f"{quote(self.host, safe='')}:{self.port}"
        shown = [(k, "***" if k.lower().endswith("password") else v) for k, v in self.options]
        query = f"?{urlencode(shown, safe='*')}" if shown else ""
        return f"postgresql://{user}@{host}/{quote(self.database, safe='')}{query}"

    @property
    def connect_timeout(self) -> float | None:
        """Return the URL's ``connect_timeout`` option in seconds (libpq's), if it has one."""
        value = dict(self.options).get("connect_timeout")
        return float(value) if value else None

    def __str__(self) -> str:
        return self.redacted


#: What ``NEWSBOT_DB`` and ``--db`` name.
DatabaseTarget = SqliteTarget | PostgresTarget


def is_postgres_url(text: str) -> bool:
    """Tell whether ``text`` is a PostgreSQL URL rather than a file path."""
    match = _SCHEME.match(text.strip())
    return match is not None and match.group(1).lower() in POSTGRES_SCHEMES


def parse_target(value: str | Path) -> SqliteTarget | PostgresTarget:
    """Return the database ``value`` names: a PostgreSQL URL, else a SQLite file path.

    Raise ``StoreError`` for a URL that cannot be used (naming what is wrong, password
    masked) or a URL of another kind of database.
    """
    if isinstance(value, Path):
        return SqliteTarget(value)
    text = value.strip()
    match = _SCHEME.match(text)
    if match is None:
        return SqliteTarget(Path(value))
    if match.group(1).lower() not in POSTGRES_SCHEMES:
        raise StoreError(
            f"cannot use the database {redact_url(text)}: newsbot stores in SQLite (a file "
            f"path) or PostgreSQL ({URL_FORM}), not {match.group(1)}"
        )
    return parse_postgres_url(text)


def parse_postgres_url(text: str) -> PostgresTarget:
    """Return the target of a ``postgresql://`` (or ``postgres://``) URL; raise ``StoreError``."""

    def refuse(reason: str) -> StoreError:
        return StoreError(
            f"cannot use the database URL {redact_url(text)}: {reason} (expected {URL_FORM})"
        )

    if not is_postgres_url(text):
        raise refuse("it is not a postgresql:// URL")
    rest = text[text.index("://") + 3 :]
    authority_end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    if "@" in rest[authority_end:]:  # "@" past the host: a password with "/", "?" or "#"
        raise refuse(
            "a '/', '?', '#' or '@' in the user or password must be written %2F, %3F, %23 or %40"
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # a port that is not a number from 0 to 65535, a bad [IPv6] host
        raise refuse("the port must be a number from 1 to 65535") from None
    if port == 0:
        raise refuse("the port must be a number from 1 to 65535")
    if parts.fragment:
        raise refuse("a '#' must be written %23")
    host = unquote(parts.hostname or "")
    if not host:
        raise refuse("it names no host")
    if "," in host:
        raise refuse("newsbot connects to one host, not a list")
    user = unquote(parts.username or "")
    if not user:
        raise refuse("it names no user")
    database = unquote(parts.path.removeprefix("/"))
    if not database or "/" in database:
        raise refuse("it names no database (the path after the host must be its name)")
    try:
        options = tuple(parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        raise refuse("its options (after '?') must be name=value pairs joined by '&'") from None
    known = {"host", "port", "user", "password", "dbname", "database"}
    if clash := sorted(name for name, _ in options if name in known):
        raise refuse(f"write {', '.join(clash)} in the URL itself, not as an option")
    timeout = dict(options).get("connect_timeout")
    if timeout is not None and not _positive_number(timeout):
        raise refuse(f"connect_timeout must be a number of seconds, got {timeout!r}")
    password = unquote(parts.password) if parts.password is not None else None
    return PostgresTarget(host, port or DEFAULT_PORT, user, database, password, options)


def _positive_number(text: str) -> bool:
    try:
        return 0 < float(text) < 10**6  # also refuses NaN and infinity
    except ValueError:
        return False


def redact_url(text: str) -> str:
    """Return ``text`` with the password of its ``scheme://user:password@`` part as ``***``.

    Works on URLs that cannot be parsed, so a message about a bad URL can quote it.
    """
    match = _SCHEME.match(text)
    if match is None:
        return text
    start = match.end()
    # The last "@": a password may hold "@", "/", "?" or "#" that its writer did not encode.
    # When the database name holds an "@" this masks the host too, which is only safe.
    at = text.rfind("@", start)
    colon = text.find(":", start, at) if at >= 0 else -1
    if colon >= 0:
        text = f"{text[: colon + 1]}***{text[at:]}"
    return _PASSWORD_OPTION.sub(r"\1***", text)
