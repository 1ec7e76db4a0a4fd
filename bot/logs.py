"""Log lines as an admin reads them or a log shipper parses them, with no secret in either.

``NEWSBOT_LOG_FORMAT=text`` (the default) writes one readable line per record;
``json`` writes one JSON object per line: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
``message``, the ids the record is about (``guild_id``, ``channel_id``, ``shard``,
``article_id``) where known, and an exception as one ``exception`` field. The ids come
from the record's ``extra`` or from ``log_context``, which the posting job and the
command handlers set around the work for one channel or interaction. discord.py's,
aiosqlite's, asyncpg's and APScheduler's loggers go through the same handler.

Every line passes through ``Redactor`` first: the bot token and the database password
are replaced with ``***`` wherever they would appear, in the message, its arguments or a
traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
#: The ids a record may carry, in the order a JSON line shows them.
ID_FIELDS = ("guild_id", "channel_id", "shard", "article_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_context: ContextVar[Mapping[str, int]] = ContextVar(
    "newsbot_log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def log_context(**ids: int | None) -> Iterator[None]:
    """Tag every record logged inside the block with these ids (``channel_id=...``)."""
    known = {name: value for name, value in ids.items() if value is not None}
    token = _context.set(MappingProxyType({**_context.get(), **known}))
    try:
        yield
    finally:
        _context.reset(token)


def tag_task(**ids: int | None) -> None:
    """Tag every record the current task logs from now on with these ids."""
    known = {name: value for name, value in ids.items() if value is not None}
    _context.set(MappingProxyType({**_context.get(), **known}))


class Redactor(logging.Filter):
    """Replace secrets in a record with ``***`` before any handler formats it."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        # Longest first, so that a secret containing another is replaced whole.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """Return ``text`` with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted, and drop the arguments that held secrets."""
        if self.secrets:
            try:
                message = record.getMessage()
            except Exception:  # arguments that do not fit the message: show them as they are
                message = f"{record.msg} {record.args}"
            record.msg = self.redact(message)
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a single line of JSON."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        ids = _context.get()
        for name in ID_FIELDS:
            value = getattr(record, name, None)
            if value is None:
                value = ids.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(
    *,
    level: int | str = logging.INFO,
    log_format: LogFormat = "text",
    secrets: Iterable[str | None] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every logger's records to one handler on ``stream`` (stderr) and return it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    handler.addFilter(Redactor(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py logs every gateway event at INFO; its warnings and errors are what matter.
    debugging = root.level <= logging.DEBUG
    logging.getLogger("discord").setLevel(
        logging.NOTSET if debugging else max(root.level, logging.WARNING)
    )
    return handler
