"""A throwaway PostgreSQL server for the test session, and fresh databases on it.

``start_server`` runs ``initdb`` into a temporary folder and starts the server on a free
loopback port (127.0.0.1 only), with durability off (fsync, full-page writes, synchronous
commit): the data dies with the session anyway. PostgreSQL refuses to run as root, so
under root the server runs as the ``postgres`` user, which owns the folder.

The superuser ``newsbot_test`` connects without a password; every other role needs its
password (scram-sha-256), so that tests can see a refused password.

A watchdog process stops the server and removes the folder if the test process dies
without doing so itself (``kill -9``, a crash): no server is left running.

Run as a script (``python tests/postgres.py``), it starts a server, prints its URL and
keeps it until Ctrl-C: for trying things by hand.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

SUPERUSER = "newsbot_test"
PASSWORD_USER = "newsbot_password"
PASSWORD = "correct horse battery staple"
SERVER_USER = "postgres"  # who runs the server when the tests run as root
REQUIRED = ("initdb", "pg_ctl", "postgres")
INSTALL_HINT = (
    "install Debian's postgresql package (apt-get install postgresql), or set "
    "NEWSBOT_TEST_POSTGRES=postgresql://superuser@host:port/postgres to use a running server"
)

_names = count(1)
T = TypeVar("T")


def find_bindir() -> Path | None:
    """Return a folder holding PostgreSQL's server programs, or None when none is installed.

    Looks on PATH (following a symlink such as /usr/local/bin/pg_ctl), then where
    ``pg_config --bindir`` says, then Debian's /usr/lib/postgresql/<version>/bin, newest first.
    """
    candidates: list[Path] = []
    if found := shutil.which("pg_ctl"):
        candidates.append(Path(found).resolve().parent)
    if pg_config := shutil.which("pg_config"):
        try:
            bindir = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            bindir = ""
        if bindir:
            candidates.append(Path(bindir))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)],
        reverse=True,
    )
    candidates.extend(debian)
    for folder in candidates:
        if all(os.access(folder / program, os.X_OK) for program in REQUIRED):
            return folder
    return None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def url(
    host: str, port: int, database: str, user: str = SUPERUSER, password: str | None = None
) -> str:
    """Return a PostgreSQL URL."""
    secret = f":{quote(password, safe='')}" if password is not None else ""
    return f"postgresql://{quote(user, safe='')}{secret}@{host}:{port}/{quote(database, safe='')}"


@dataclass
class Server:
    """A PostgreSQL server that the tests may create databases and roles on."""

    host: str
    port: int
    superuser: str
    admin_database: str = "postgres"
    password_user: str = PASSWORD_USER
    started_in: float = 0.0  # seconds to initdb and start, for the session's report
    folder: Path | None = None  # the server's files, when this session started it
    _bindir: Path | None = field(default=None, repr=False)
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _admin_password: str | None = field(default=None, repr=False)
    _options: str = field(default="", repr=False)  # the server settings it was started with

    @property
    def admin_url(self) -> str:
        """Return the superuser's URL of the server's maintenance database."""
        return url(self.host, self.port, self.admin_database, self.superuser, self._admin_password)

    def url(self, database: str, user: str | None = None, password: str | None = None) -> str:
        """Return the URL of ``database`` as ``user`` (default: the superuser)."""
        if user is None:
            return url(self.host, self.port, database, self.superuser, self._admin_password)
        return url(self.host, self.port, database, user, password)

    def pg_ctl(self, *arguments: str) -> None:
        """Run ``pg_ctl`` on the server this session started: ``stop -m fast``, ``start``.

        ``start`` starts it again with the settings it was first started with.
        """
        assert self.folder is not None and self._bindir is not None, "not ours to control"
        options = ["-o", self._options] if arguments[0] == "start" else []
        _run(
            [self._bindir / "pg_ctl", "-D", self.folder / "data", "-l", self.folder / "server.log",
             "-w", "-t", "60", "-s", *options, *arguments],
            self.folder,
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server this session started and remove its files."""
        if self.folder is None or self._bindir is None:
            return
        _stop(self._bindir, self.folder)
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None


def existing_server(address: str) -> Server:
    """Return the server of ``NEWSBOT_TEST_POSTGRES`` (a superuser's URL)."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(address)
    server = Server(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        superuser=unquote(parts.username or SUPERUSER),
        admin_database=unquote(parts.path.removeprefix("/")) or "postgres",
        password_user=f"{PASSWORD_USER}_{os.getpid()}",
    )
    server._admin_password = unquote(parts.password) if parts.password else None
    return server


def start_server(bindir: Path) -> Server:
    """Initialise and start a server from ``bindir``'s programs; raise RuntimeError if it fails."""
    started = time.monotonic()
    as_root = os.geteuid() == 0
    # Under root the server's user must reach the folder: not in a private $TMPDIR.
    folder = Path(tempfile.mkdtemp(prefix="newsbot-pg-", dir="/tmp" if as_root else None))
    try:
        if as_root:
            try:
                owner = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise RuntimeError(
                    f"PostgreSQL will not run as root and there is no {SERVER_USER!r} user to "
                    "run it as"
                ) from None
            os.chown(folder, owner.pw_uid, owner.pw_gid)
        data = folder / "data"
        _run(
            [bindir / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust", "--no-sync",
             "--no-instructions", "-E", "UTF8", "--locale=C.UTF-8"],
            folder,
        )  # fmt: skip
        (data / "pg_hba.conf").write_text(
            "# the superuser without a password; everyone else with one\n"
            f"local all {SUPERUSER} trust\n"
            f"host  all {SUPERUSER} 127.0.0.1/32 trust\n"
            "local all all scram-sha-256\n"
            "host  all all 127.0.0.1/32 scram-sha-256\n",
            encoding="utf-8",
        )
        watchdog = subprocess.Popen(
            [sys.executable, __file__, "--watch", str(os.getpid()), str(bindir), str(folder)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C of the tests is for the tests: it cleans up after
        )
        for attempt in range(3):  # another program may take the free port first
            port = free_port()
            settings = {
                "listen_addresses": "127.0.0.1",
                "port": str(port),
                "unix_socket_directories": str(folder),
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "max_connections": "100",
            }
            options = " ".join(f"-c {name}={value}" for name, value in settings.items())
            try:
                _run(
                    [bindir / "pg_ctl", "-D", data, "-l", folder / "server.log", "-w", "-t", "60",
                     "-s", "-o", options, "start"],
                    folder,
                )  # fmt: skip
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        server = Server("127.0.0.1", port, SUPERUSER, folder=folder)
        server._bindir, server._watchdog, server._options = bindir, watchdog, options
        server.started_in = time.monotonic() - started
        return server
    except BaseException:
        _stop(bindir, folder)
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _run(command: list[Any], folder: Path) -> None:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=folder,  # the server's user may not enter ours
        capture_output=True,
        text=True,
        timeout=120,
        **_as_server_user(),
    )
    if result.returncode != 0:
        log = folder / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(
            f"{Path(str(command[0])).name} failed ({result.returncode}): "
            f"{result.stderr.strip() or result.stdout.strip()}\n{tail}"
        )


def _as_server_user() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    owner = pwd.getpwnam(SERVER_USER)
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}


def _stop(bindir: Path, folder: Path) -> None:
    """Stop the server in ``folder`` at once (its data is thrown away); quiet if not running."""
    if not (folder / "data" / "postmaster.pid").exists():
        return
    subprocess.run(
        [str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "-s", "-w", "stop"],
        cwd=folder,
        capture_output=True,
        timeout=60,
        check=False,
        **_as_server_user(),
    )


def _watch(parent: int, bindir: Path, folder: Path) -> None:
    """Wait for ``parent`` to end, then stop its server and remove its folder."""
    while True:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            break
        except PermissionError:  # alive, someone else's: cannot be ours
            pass
        if not folder.exists():  # stopped and cleaned up by the tests themselves
            return
        time.sleep(0.5)
    _stop(bindir, folder)
    shutil.rmtree(folder, ignore_errors=True)


async def create_database(server: Server, name: str, template: str | None = None) -> None:
    """Create the database ``name`` (a copy of ``template``, else empty)."""
    import asyncpg

    connection = await asyncpg.connect(server.admin_url)
    try:
        source = f' TEMPLATE "{template}"' if template else " TEMPLATE template0"
        # A file copy is faster than 15's default (write the template into the WAL) for
        # a small template on a server that does not sync.
        strategy = " STRATEGY FILE_COPY" if connection.get_server_version().major >= 15 else ""
        await connection.execute(f'CREATE DATABASE "{name}"{source}{strategy}')
    finally:
        await connection.close()


async def drop_database(server: Server, name: str) -> None:
    """Drop the database ``name``, ending any session still on it."""
    import asyncpg

    connection = await asyncpg.connect(server.admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def create_password_role(server: Server) -> None:
    """Create the role that logs in with ``PASSWORD`` (to test refused passwords)."""
    import asyncpg

    connection = await asyncpg.connect(server.admin_url)
    try:
        role = server.password_user
        await connection.execute(f'DROP ROLE IF EXISTS "{role}"')
        await connection.execute(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{PASSWORD}'")
    finally:
        await connection.close()


async def drop_password_role(server: Server) -> None:
    """Drop the role of ``create_password_role``."""
    import asyncpg

    connection = await asyncpg.connect(server.admin_url)
    try:
        await connection.execute(f'DROP ROLE IF EXISTS "{server.password_user}"')
    finally:
        await connection.close()


def run_apart(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end in a thread of its own, with its own event loop.

    Session fixtures run it: they may be first asked for from inside a test's running loop
    (the ``store`` fixture asks for the server only when a test runs on PostgreSQL).
    """
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, work).result()


def database_name(purpose: str) -> str:
    """Return a database name no other test, nor another session on the server, uses."""
    return f"newsbot_test_{os.getpid()}_{purpose}_{next(_names)}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--watch"]:
        _watch(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
    else:
        bindir = find_bindir()
        if bindir is None:
            raise SystemExit(f"no PostgreSQL server programs: {INSTALL_HINT}")
        server = start_server(bindir)
        print(f"{server.admin_url} (started in {server.started_in:.2f} s); Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()
