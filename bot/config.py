"""Settings, read from the environment and an optional ``.env`` file.

Every setting is documented in ``.env.example``. The environment wins over ``.env``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.errors import ConfigError
from bot.logs import LOG_FORMATS, LogFormat
from bot.store.target import DatabaseTarget, SqliteTarget, parse_target

DEFAULT_DB = Path("data/newsbot.db")
DEFAULT_TARGET = SqliteTarget(DEFAULT_DB)  # frozen: one shared default is safe
DEFAULT_DATA_DIR = Path("data/articles")
DEFAULT_MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything newsbot can be configured with."""

    db: DatabaseTarget = DEFAULT_TARGET  # a SQLite file, or a PostgreSQL database
    data_dir: Path = DEFAULT_DATA_DIR
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    load_workers: int = 0  # 0: one per core
    discord_token: str | None = None
    min_quality: int = 50
    dev_guild: int | None = None
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    discord_api: str | None = None
    discord_gateway: str | None = None
    backfill: int = 3
    max_per_run: int = 5
    post_interval: timedelta = timedelta(minutes=15)
    rescan_interval: timedelta = timedelta(minutes=5)
    send_rate: int = 48
    log_level: str = "INFO"
    http: tuple[str, int] | None = None  # NEWSBOT_HTTP: where /metrics, /healthz, /readyz listen
    log_format: LogFormat = "text"

    @property
    def process_send_rate(self) -> float:
        """Return the messages per second this process starts when it paces itself alone.

        Discord's global limit belongs to the bot's token, not to a process. Processes on
        one PostgreSQL database take turns from one schedule at ``send_rate`` (``bot.store.
        turns``); processes on SQLite, and any process while its database cannot hand out a
        turn, split ``send_rate`` as they split the shards, so together they stay under it.
        """
        if self.shard_ids is None or not self.shard_count:
            return float(self.send_rate)
        return self.send_rate * len(self.shard_ids) / self.shard_count

    @property
    def workers(self) -> int:
        """Return how many processes parse files in a large load."""
        return self.load_workers or os.cpu_count() or 1


_UNITS = {"s": 1, "m": 60, "h": 3600}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def parse_duration(text: str) -> timedelta:
    """Parse ``90s``, ``15m``, ``1h`` or a bare number of minutes; raise ValueError."""
    text = text.strip().lower()
    unit = _UNITS.get(text[-1:])
    seconds = float(text[:-1] if unit else text) * (unit or 60)
    if not 0 < seconds < 10**9:  # also refuses NaN and infinity
        raise ValueError(text)
    return timedelta(seconds=seconds)


def read_env_file(path: Path) -> dict[str, str]:
    """Read ``KEY=value`` lines (``#`` comments, optional quotes, optional ``export``)."""
    values: dict[str, str] = {}
    try:
        if not path.is_file():  # a FIFO or a device would block or never end
            if path.exists():
                raise ConfigError(f"cannot read {path}: not a regular file")
            return values
        text = path.read_text(encoding="utf-8-sig")  # an editor's byte order mark is fine
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"{path}, line {number}: expected KEY=value, got {raw.strip()!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Build the settings from ``environ`` (default: the process environment) over ``env_file``."""
    values = read_env_file(env_file) if env_file is not None else {}
    values.update(os.environ if environ is None else environ)

    def text(name: str) -> str | None:
        value = values.get(name, "").strip()
        return value or None

    def integer(name: str, default: int, minimum: int, maximum: int) -> int:
        value = text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
        if not minimum <= number <= maximum:
            raise ConfigError(f"{name} must be from {minimum} to {maximum}, got {number}")
        return number

    def snowflake(name: str) -> int | None:
        value = text(name)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 2**64:
            raise ConfigError(f"{name} must be a Discord id (a number), got {value!r}")
        return int(value)

    def url(name: str, schemes: tuple[str, ...]) -> str | None:
        value = text(name)
        if value is not None and not value.startswith(schemes):
            raise ConfigError(f"{name} must start with {' or '.join(schemes)}, got {value!r}")
        return value

    def duration(name: str, default: timedelta) -> timedelta:
        value = text(name)
        if value is None:
            return default
        try:
            parsed = parse_duration(value)
        except ValueError:
            raise ConfigError(
                f"{name} must be a duration such as 90s, 15m or 1h, got {value!r}"
            ) from None
        if not timedelta(seconds=10) <= parsed <= timedelta(days=7):
            raise ConfigError(f"{name} must be from 10s to 7 days, got {value!r}")
        return parsed

    def choice(name: str, choices: tuple[str, ...], default: str) -> str:
        value = (text(name) or default).upper()
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {text(name)!r}")
        return value

    def address(name: str) -> tuple[str, int] | None:
        value = text(name)
        if value is None:
            return None
        host, colon, port = value.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")  # [::1]:9100
        if not colon or not host or not port.isascii() or not port.isdigit():
            raise ConfigError(f"{name} must be host:port, such as 127.0.0.1:9100, got {value!r}")
        if not 1 <= int(port) <= 65535:
            raise ConfigError(f"{name}: the port must be from 1 to 65535, got {value!r}")
        return host, int(port)

    def log_format() -> LogFormat:
        value = (text("NEWSBOT_LOG_FORMAT") or "text").lower()
        for known in LOG_FORMATS:
            if value == known:
                return known
        raise ConfigError(
            f"NEWSBOT_LOG_FORMAT must be text or json, got {text('NEWSBOT_LOG_FORMAT')!r}"
        )

    shard_count = integer("NEWSBOT_SHARD_COUNT", 0, 0, 100_000) or None
    shard_ids = None
    if (raw_ids := text("NEWSBOT_SHARD_IDS")) is not None:
        if shard_count is None:
            raise ConfigError("NEWSBOT_SHARD_IDS needs NEWSBOT_SHARD_COUNT")
        try:
            shard_ids = tuple(sorted({int(part) for part in raw_ids.split(",") if part.strip()}))
        except ValueError:
            raise ConfigError(
                f"NEWSBOT_SHARD_IDS must be comma-separated numbers, got {raw_ids!r}"
            ) from None
        if not shard_ids or not all(0 <= i < shard_count for i in shard_ids):
            raise ConfigError(
                f"NEWSBOT_SHARD_IDS must be from 0 to {shard_count - 1}, got {raw_ids!r}"
            )

    return Settings(
        db=parse_target(text("NEWSBOT_DB") or DEFAULT_DB),
        data_dir=Path(text("NEWSBOT_DATA_DIR") or DEFAULT_DATA_DIR),
        max_file_bytes=integer(
            "NEWSBOT_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES, 1024, 64 * 1024 * 1024
        ),
        load_workers=integer("NEWSBOT_LOAD_WORKERS", 0, 0, 64),
        discord_token=text("DISCORD_TOKEN"),
        min_quality=integer("NEWSBOT_MIN_QUALITY", 50, 0, 100),
        dev_guild=snowflake("NEWSBOT_DEV_GUILD"),
        shard_count=shard_count,
        shard_ids=shard_ids,
        discord_api=url("NEWSBOT_DISCORD_API", ("http://", "https://")),
        discord_gateway=url("NEWSBOT_DISCORD_GATEWAY", ("ws://", "wss://")),
        backfill=integer("NEWSBOT_BACKFILL", 3, 0, 50),
        max_per_run=integer("NEWSBOT_MAX_PER_RUN", 5, 1, 100),
        post_interval=duration("NEWSBOT_POST_INTERVAL", timedelta(minutes=15)),
        rescan_interval=duration("NEWSBOT_RESCAN_INTERVAL", timedelta(minutes=5)),
        send_rate=integer("NEWSBOT_SEND_RATE", 48, 1, 50),
        log_level=choice("NEWSBOT_LOG_LEVEL", LOG_LEVELS, "INFO"),
        http=address("NEWSBOT_HTTP"),
        log_format=log_format(),
    )
