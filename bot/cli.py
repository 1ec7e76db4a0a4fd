"""The ``newsbot`` command: load articles and look them up from a terminal.

Exit status: 0 success; 1 some files rejected, or nothing found; 2 usage error or an
unusable database or setting.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import shutil
import sys
import time
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.articles import Article, ArticlePage, closest_names
from bot.config import Settings, load_settings
from bot.errors import NewsbotError, StoreError
from bot.loader import load_articles
from bot.logs import configure_logging
from bot.posting import Poster, owns_guild_for
from bot.store import Store, open_store
from bot.store.copy import copy_database
from bot.store.target import PostgresTarget, parse_target
from bot.subscriptions import PLAIN, DeliveryStyle

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2
EXIT_PIPE_CLOSED = 141  # as for a process that SIGPIPE ended: `newsbot topics | head`

log = logging.getLogger("newsbot")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Load news articles and look them up."
    )
    parser.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        help="SQLite database file or postgresql://user:password@host:port/dbname "
        "(default: $NEWSBOT_DB, else data/newsbot.db)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "run", help="load $NEWSBOT_DATA_DIR and run the Discord bot (needs DISCORD_TOKEN)"
    )

    load = commands.add_parser("load", help="load article files or directories into the database")
    load.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="files or directories (default: $NEWSBOT_DATA_DIR)",
    )
    load.add_argument("--json", action="store_true", help="print a machine-readable report")
    load.add_argument(
        "--full",
        action="store_true",
        help="read every file again, even those whose size and time did not change",
    )
    load.add_argument(
        "--workers",
        type=_bounded(1, 64),
        metavar="N",
        help="parsing processes (default: one per core)",
    )

    post = commands.add_parser("post", help="show what the next posting run would post")
    post.add_argument(
        "--dry-run",
        action="store_true",
        required=True,
        help="required: posting itself happens inside `newsbot run` or /post now",
    )

    doctor = commands.add_parser(
        "doctor", help="check settings, database, data, Discord and every subscription"
    )
    doctor.add_argument("--json", action="store_true", help="print the checklist as JSON")

    copy = commands.add_parser(
        "copy",
        help="copy the whole database into a new SQLite file or an empty PostgreSQL database",
    )
    copy.add_argument(
        "target", metavar="TARGET", help="a file path or postgresql://user:password@host/dbname"
    )
    copy.add_argument("--json", action="store_true", help="print a machine-readable summary")

    commands.add_parser("topics", help="list topics with their article counts")
    commands.add_parser("providers", help="list providers with their article counts")

    news = commands.add_parser("news", help="newest articles on a topic")
    news.add_argument("topic", type=_text)
    news.add_argument("--min-quality", type=_bounded(0, 100), metavar="N")
    _add_paging(news)

    provider = commands.add_parser("provider", help="newest articles from a provider")
    provider.add_argument("name", type=_text, help="provider name or domain")
    provider.add_argument("--min-quality", type=_bounded(0, 100), metavar="N")
    _add_paging(provider)

    search = commands.add_parser("search", help="full-text search, best match first")
    search.add_argument("text", nargs="+", type=_text)
    _add_paging(search)
    return parser  # fmt: skip


def _text(argument: str) -> str:
    """Return a text argument with bytes that were not UTF-8 shown as U+FFFD."""
    return argument.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {value}")
        return value

    return parse


def _add_paging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=_bounded(1, 100), default=10, metavar="N")
    parser.add_argument("--offset", type=_bounded(0, 10_000_000), default=0, metavar="N")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    for stream in (sys.stdout, sys.stderr):  # a terminal that is not UTF-8 gets "?" for "…"
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="replace")
    args = build_parser().parse_args(argv)
    if args.command == "doctor":
        try:
            return asyncio.run(_doctor(args))
        except KeyboardInterrupt:
            print("newsbot: interrupted", file=sys.stderr)
            return 130
    try:
        settings = load_settings()
        if args.db is not None:
            settings = replace(settings, db=parse_target(args.db))
        targets = [settings.db]
        if args.command == "copy":
            args.target = parse_target(args.target)
            targets.append(args.target)
        passwords = [t.password for t in targets if isinstance(t, PostgresTarget)]
        configure_logging(
            # The other commands print their results; their log says only what went wrong.
            level=settings.log_level if args.command == "run" else logging.WARNING,
            log_format=settings.log_format,
            secrets=(settings.discord_token, *passwords),
        )
        if args.command == "copy":
            return asyncio.run(_copy(args, settings))
        if args.command == "run":
            from bot.app import run_bot  # discord.py takes a quarter second to import

            return asyncio.run(run_bot(settings))
        return asyncio.run(_run(args, settings))
    except NewsbotError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("newsbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output has all it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the exit's flush of stdout cannot fail too
        return EXIT_PIPE_CLOSED


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    command: Callable[[Store, argparse.Namespace, Settings], Awaitable[int]] = _COMMANDS[
        args.command
    ]
    async with await open_store(settings.db) as store:
        return await command(store, args, settings)


async def _load(store: Store, args: argparse.Namespace, settings: Settings) -> int:
    paths = args.paths or [settings.data_dir]
    progress = _TerminalProgress(sys.stderr) if sys.stderr.isatty() and not args.json else None
    try:
        report = await load_articles(
            store,
            paths,
            workers=args.workers or settings.workers,
            max_bytes=settings.max_file_bytes,
            progress=progress,
            reread=args.full,
        )
    except StoreError as exc:
        raise StoreError(f"{exc}. The files loaded before are kept: load again to finish") from exc
    finally:
        if progress:
            progress.finish()
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        for rejection in report.rejected:
            print(f"{_clean(rejection.path)}: {_clean(rejection.reason)}", file=sys.stderr)
        for duplicate in report.duplicates:
            print(
                _clean(f"{duplicate.path}: same article as {duplicate.same_as} ({duplicate.url})"),
                file=sys.stderr,
            )
        print(f"Loaded {report.summary()}.")
    return EXIT_OK if report.ok else EXIT_PARTIAL


class _TerminalProgress:
    """Draw "files done of total, rate" on one terminal line, at most ten times a second."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._started = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if total < 1000 or now - self._last_draw < 0.1:
            return
        rate = done / max(now - self._started, 1e-6)
        self._stream.write(f"\rloading: {done:,}/{total:,} files ({rate:,.0f} files/s)  ")
        self._stream.flush()
        self._last_draw, self._drawn = now, True

    def finish(self) -> None:
        if self._drawn:
            self._stream.write("\r\033[K")
            self._stream.flush()


async def _copy(args: argparse.Namespace, settings: Settings) -> int:
    progress = _CopyProgress(sys.stderr) if sys.stderr.isatty() and not args.json else None
    try:
        report = await copy_database(settings.db, args.target, progress)
    finally:
        if progress:
            progress.finish()
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        rows = sum(report.tables.values())
        print(
            f"Copied {_plural(rows, 'row')} of {_plural(len(report.tables), 'table')} from "
            f"{_clean(report.source)} to {_clean(report.target)} in {report.seconds:.1f} s."
        )
    return EXIT_OK


class _CopyProgress:
    """Show the table being copied and its rows so far; one finished line per table."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._table = ""
        self._rows = 0
        self._last_draw = 0.0

    def __call__(self, table: str, rows: int) -> None:
        if table != self._table:
            self.finish()
            self._table = table
        self._rows = rows
        now = time.perf_counter()
        if now - self._last_draw >= 0.1:
            self._draw()
            self._last_draw = now

    def _draw(self) -> None:
        self._stream.write(f"\rcopying {self._table}: {self._rows:,} rows\033[K")
        self._stream.flush()

    def finish(self) -> None:
        if self._table:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()
            self._table = ""


async def _topics(store: Store, args: argparse.Namespace, settings: Settings) -> int:
    topics = await store.articles.topics()
    if not topics:
        return _nothing(f"No topics yet. Load articles first: newsbot load {settings.data_dir}")
    _table(["TOPIC", "ARTICLES"], [[t.name, f"{t.count:,}"] for t in topics], right={1})
    return EXIT_OK


async def _providers(store: Store, args: argparse.Namespace, settings: Settings) -> int:
    providers = await store.articles.providers()
    if not providers:
        return _nothing(f"No providers yet. Load articles first: newsbot load {settings.data_dir}")
    _table(
        ["PROVIDER", "DOMAIN", "ARTICLES"],
        [[p.name, p.domain, f"{p.count:,}"] for p in providers],
        right={2},
    )
    return EXIT_OK


async def _news(store: Store, args: argparse.Namespace, settings: Settings) -> int:
    topic = await store.articles.topic(args.topic)
    if topic is None:
        names = {t.name: t.name for t in await store.articles.topics()}
        return _nothing(f"No topic {args.topic!r}.{_did_you_mean(args.topic, names)}"
                        " See: newsbot topics")  # fmt: skip
    page = await store.articles.by_topic(
        args.topic, min_quality=args.min_quality, limit=args.limit, offset=args.offset
    )
    if not page.total:
        return _nothing(
            f"No articles on {_clean(topic.name)} of quality {args.min_quality} or more."
        )
    return _articles(page, f"{topic.name}")


async def _provider(store: Store, args: argparse.Namespace, settings: Settings) -> int:
    page = await store.articles.by_provider(
        args.name, min_quality=args.min_quality, limit=args.limit, offset=args.offset
    )
    if not page.total:
        if await store.articles.provider_ids(args.name):
            return _nothing(
                f"No articles from {args.name!r} of quality {args.min_quality} or more."
            )
        known = {
            key: p.name for p in await store.articles.providers() for key in (p.domain, p.name)
        }
        return _nothing(f"No provider {args.name!r}.{_did_you_mean(args.name, known)}"
                        " See: newsbot providers")  # fmt: skip
    return _articles(page, page.articles[0].provider.name if page.articles else args.name)


async def _search(store: Store, args: argparse.Namespace, settings: Settings) -> int:
    text = " ".join(args.text)
    page = await store.articles.search(text, limit=args.limit, offset=args.offset)
    if not page.total:
        return _nothing(f"Nothing matches {_clean(text)[:80]!r}. Try fewer or other words.")
    return _articles(page, f"search {_clean(text)[:40]!r}")


class _NoSender:
    """A sender for previews: a dry run never sends."""

    async def send(
        self, channel_id: int, articles: Sequence[Article], nonce: str, style: DeliveryStyle = PLAIN
    ) -> int:
        raise AssertionError("a dry run does not send")  # pragma: no cover

    async def can_post(self, channel_id: int) -> bool:
        return False  # pragma: no cover

    async def find_sent(
        self,
        channel_id: int,
        articles: Sequence[Article],
        since: datetime,
        style: DeliveryStyle = PLAIN,
    ) -> int | None:
        return None  # pragma: no cover

    async def notify(self, channel_id: int, text: str) -> int:
        raise AssertionError("a dry run does not send")  # pragma: no cover


async def _post(store: Store, args: argparse.Namespace, settings: Settings) -> int:
    poster = Poster(
        store,
        _NoSender(),
        max_per_run=settings.max_per_run,
        owns_guild=owns_guild_for(settings.shard_count, settings.shard_ids),
    )
    planned = await poster.preview()
    if not planned:
        print("Nothing is due: the next run would post nothing.")
        return EXIT_OK
    width = shutil.get_terminal_size((120, 24)).columns
    rows, notes = [], []
    for message in planned:
        for article in message.articles:
            rows.append(
                [str(message.guild_id), str(message.channel_id), *_article_row(article, width)[1:]]
            )
            notes.append(_clean(article.link))
    count = sum(len(m.articles) for m in planned)
    channels = len({m.channel_id for m in planned})
    print(f"The next run would post {_plural(count, 'article')} to {_plural(channels, 'channel')}:")
    _table(["SERVER", "CHANNEL", "QUALITY", "PROVIDER", "TITLE"], rows, right={2}, notes=notes)
    return EXIT_OK


async def _doctor(args: argparse.Namespace) -> int:
    from bot.app import point_discord_at  # discord.py takes a quarter second to import
    from bot.chat.doctor import Finding, Report, examine

    report = Report()
    try:
        settings = load_settings()
        if args.db is not None:
            settings = replace(settings, db=parse_target(args.db))
    except NewsbotError as exc:
        report.add(Finding(False, "settings", str(exc), "correct it in .env or the environment"))
    else:
        configure_logging(level=logging.ERROR, log_format=settings.log_format)
        point_discord_at(settings)
        try:
            async with await open_store(settings.db) as store:
                report = await examine(store, settings)
        except StoreError as exc:
            report.add(Finding(True, "settings", "the environment and .env parse"))
            fix = "see the message; --db names another database"
            report.add(Finding(False, "database", str(exc), fix))
    print(report.json() if args.json else report.text())
    return EXIT_OK if report.ok else EXIT_PARTIAL  # 1: something to fix


_COMMANDS: dict[str, Callable[[Store, argparse.Namespace, Settings], Awaitable[int]]] = {
    "load": _load,
    "post": _post,
    "topics": _topics,
    "providers": _providers,
    "news": _news,
    "provider": _provider,
    "search": _search,
}


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _nothing(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_PARTIAL


def _did_you_mean(text: str, names: dict[str, str]) -> str:
    """Return a hint naming up to three of ``names`` close to ``text`` (spelling -> shown name)."""
    shown = list(dict.fromkeys(names[spelling] for spelling in closest_names(text, names)))
    if not shown:
        return ""
    return " Did you mean " + " or ".join(repr(name) for name in shown) + "?"


def _clean(text: str) -> str:
    """Make text safe for a terminal: no control characters or escape sequences."""
    return "".join(
        " " if unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} else char for char in text
    )


def _fit(text: str, width: int) -> str:
    text = " ".join(_clean(text).split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _table(
    headers: list[str],
    rows: list[list[str]],
    right: set[int] | None = None,
    notes: Sequence[str] = (),
) -> None:
    """Print aligned columns; ``notes[i]``, if any, goes under the last column of row ``i``."""
    right = right or set()
    rows = [[_fit(cell, 80) for cell in row[:-1]] + [row[-1]] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    indent = " " * (sum(widths[:-1]) + 2 * (len(widths) - 1))
    for index, row in enumerate([headers, *rows]):
        cells = [
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
        if 0 < index <= len(notes):
            print(indent + notes[index - 1])


def _articles(page: ArticlePage, heading: str) -> int:
    """Print a page of articles, or say the offset is past the end; return the exit status."""
    if not page.articles:
        return _nothing(f"Nothing at --offset {page.offset:,}: there are {page.total_text}.")
    width = shutil.get_terminal_size((120, 24)).columns
    first, last = page.offset + 1, page.offset + len(page.articles)
    print(f"{_fit(heading, 60)}: {first:,} to {last:,} of {page.total_text}")
    _table(
        ["PUBLISHED", "QUALITY", "PROVIDER", "TITLE"],
        [_article_row(article, width) for article in page.articles],
        right={1},
        notes=[_clean(article.link) for article in page.articles],
    )
    if last < page.total:
        print(f"More: --offset {last}")
    return EXIT_OK


def _article_row(article: Article, width: int) -> list[str]:
    quality = "?" if article.quality is None else str(article.quality)
    title = article.title + (" [already published]" if article.source_published else "")
    return [
        article.published_at.strftime("%Y-%m-%d %H:%M"),
        quality,
        _fit(article.provider.name, 20),
        _fit(title, max(width - 50, 30)),
    ]


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
