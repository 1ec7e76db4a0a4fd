"""What every backend builds the same way: a batch's save outcomes, and records from rows.

Rows are read by column name (``sqlite3.Row`` and ``asyncpg.Record`` both are), and what
the databases hand back differently (a time, a list of topic names) is passed in by the
backend, already converted.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from bot.articles import Article, Image, Provider, ProviderCount, RelatedItem, TopicCount
from bot.store.interfaces import SaveOutcome, SourceFile
from bot.store.rows import ArticleRows
from bot.subscriptions import PLAIN, DeliveryStyle

#: An article's URL -> its stored id and the file it was loaded from, if that file still holds it.
Known = Mapping[str, tuple[int, str | None]]


def plan_save(
    rows: Sequence[tuple[ArticleRows, SourceFile | None]], known: Known
) -> tuple[list[SaveOutcome], dict[str, tuple[ArticleRows, str | None]]]:
    """Return what saving ``rows`` does to each, and the rows to write: the last of each URL.

    A file holding an article that another live file holds is named as its duplicate.
    """
    outcomes: list[SaveOutcome] = []
    latest: dict[str, tuple[ArticleRows, str | None]] = {}
    for article, source in rows:
        url, path = article.url, source.path if source else None
        previous = latest.get(url)
        other = previous[1] if previous is not None else known.get(url, (0, None))[1]
        status: Literal["added", "updated"] = (
            "updated" if previous is not None or url in known else "added"
        )
        duplicate_of = other if other is not None and other != path else None
        outcomes.append(SaveOutcome(url, status, duplicate_of))
        latest[url] = (article, path)
    return outcomes, latest


def iso_time(text: str) -> datetime:
    """Return the aware UTC datetime of an ISO 8601 time with an offset (or ``Z``)."""
    return datetime.fromisoformat(text).astimezone(UTC)


def article(
    row: Any, *, published_at: datetime, topics: Sequence[str], related: Sequence[Any]
) -> Article:
    """Build an article from a row of the columns of ``*ARTICLES_IN_ORDER``.

    ``images`` is the stored JSON text; ``related`` holds one JSON array per item, in the
    column order ``related_item`` reads.
    """
    return Article(
        id=row["id"],
        url=row["url"],
        title=row["title"],
        excerpt=row["excerpt"],
        published_at=published_at,
        provider=Provider(name=row["provider_name"], domain=row["provider_domain"]),
        quality=row["quality"],
        heat=row["heat"],
        source_published=bool(row["source_published"]),
        topics=tuple(topics),
        images=images(json.loads(row["images"])),
        related=tuple(related_item(item) for item in related),
        original_url=row["original_url"],
        web_url=row["web_url"],
        category=row["category"],
        type=row["type"],
    )


def images(items: list[dict[str, Any]]) -> tuple[Image, ...]:
    """Build images from their stored JSON objects."""
    return tuple(
        Image(
            url=item["url"],
            width=item.get("width"),
            height=item.get("height"),
            is_cached=bool(item.get("isCached")),
        )
        for item in items
    )


def related_item(item: list[Any], read_time: Callable[[str], datetime] = iso_time) -> RelatedItem:
    """Build a related item from its JSON array: title, url, excerpt, published_at, provider,
    quality, type, amp_url, cdn_amp_url, images."""
    title, url, excerpt, published_at, provider, quality, kind, amp, cdn_amp, pictures = item
    return RelatedItem(
        title=title,
        url=url,
        excerpt=excerpt,
        published_at=read_time(published_at) if published_at else None,
        provider=Provider(provider["name"], provider["domain"]) if provider else None,
        quality=quality,
        type=kind,
        amp_url=amp,
        cdn_amp_url=cdn_amp,
        images=images(pictures),
    )


def topic_count(row: Any) -> TopicCount:
    """Build a topic with its article count from a (name, article_count) row."""
    return TopicCount(row["name"], row["article_count"])


def provider_count(row: Any) -> ProviderCount:
    """Build a provider with its article count from a (name, domain, article_count) row."""
    return ProviderCount(row["name"], row["domain"], row["article_count"])


def source_file(row: Any) -> SourceFile:
    """Build a remembered file from a (path, size, mtime_ns, digest) row."""
    return SourceFile(row["path"], row["size"], row["mtime_ns"], row["digest"])


def style_fields(style: DeliveryStyle) -> dict[str, Any] | None:
    """Return a message's delivery style as JSON fields (None: plain, as before styles)."""
    return None if style == PLAIN else dataclasses.asdict(style)


def style_from_fields(fields: Mapping[str, Any] | None) -> DeliveryStyle:
    """Return the delivery style ``style_fields`` made (unknown fields are ignored)."""
    if not fields:
        return PLAIN
    known = {f.name for f in dataclasses.fields(DeliveryStyle)}
    return DeliveryStyle(**{name: value for name, value in fields.items() if name in known})
