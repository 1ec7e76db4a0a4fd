"""An article flattened into the parameter rows of the store's INSERT statements.

``article_rows`` runs where the article was parsed: in a worker process during a large
load. Plain tuples of text and numbers cross the process boundary several times faster
than the nested records, and formatting times and JSON then runs on every core instead
of in the one process that writes to the database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote  # json.dumps's quoting
from typing import Any, NamedTuple

from bot.articles import ArticleDraft, Image, Provider, canonical_url, topic_key

# The columns of each row, in order: the store builds its INSERT statements from these.
ARTICLE_COLUMNS = (
    "url", "original_url", "web_url", "title", "excerpt", "category", "type", "published_at",
    "quality", "heat", "source_published", "provider_domain", "images", "secured", "extra",
    "body",
)  # fmt: skip
TOPIC_COLUMNS = ("url", "key", "position", "spelling", "published_at", "quality")
RELATED_COLUMNS = (
    "url", "position", "title", "related_url", "excerpt", "published_at", "provider", "quality",
    "type", "amp_url", "cdn_amp_url", "images", "story_url",
)  # fmt: skip


class ArticleRows(NamedTuple):
    """One article as the rows the store inserts (columns: the ``*_COLUMNS`` above)."""

    url: str
    provider_domain: str
    provider_name: str
    article: tuple[Any, ...]
    topics: tuple[tuple[Any, ...], ...]
    related: tuple[tuple[Any, ...], ...]


def format_time(moment: datetime) -> str:
    """Return ``moment`` as the store's sortable UTC text: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Fixed width (years below 1000 too), so text order is time order.
    """
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


def images_json(images: Sequence[Image]) -> str:
    """Return images as the JSON list the store keeps, with the article file's own keys.

    The same text as ``json.dumps`` of the dicts, written out directly: ``json.dumps``
    costs ~2 microseconds a call in set-up alone, and a seed-shaped article needs ten.
    """
    return "[" + ", ".join(
        f'{{"url": {_quote(i.url)}, "width": {_number(i.width)}, '
        f'"height": {_number(i.height)}, "isCached": {"true" if i.is_cached else "false"}}}'
        for i in images
    ) + "]"  # fmt: skip


def provider_json(provider: Provider) -> str:
    """Return a provider as JSON ``{"name": ..., "domain": ...}`` (``json.dumps``'s text)."""
    return f'{{"name": {_quote(provider.name)}, "domain": {_quote(provider.domain)}}}'


def _number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def article_rows(draft: ArticleDraft) -> ArticleRows:
    """Flatten a validated draft into the rows that store it."""
    url, published_at = draft.url, format_time(draft.published_at)
    article = (
        url, draft.original_url, draft.web_url, draft.title, draft.excerpt, draft.category,
        draft.type, published_at, draft.quality, draft.heat, int(draft.source_published),
        draft.provider.domain, images_json(draft.images), draft.secured,
        json.dumps(draft.extra) if draft.extra else "{}", draft.body,
    )  # fmt: skip
    keys: dict[str, str] = {}
    for topic in draft.topics:  # one row per topic: "AI" and "ai" are one, spelled first-seen
        keys.setdefault(topic_key(topic), topic)
    topics = tuple(
        (url, key, position, spelling, published_at, draft.quality)
        for position, (key, spelling) in enumerate(keys.items())
    )
    related = tuple(
        (
            url, position, r.title, r.url, r.excerpt,
            format_time(r.published_at) if r.published_at else None,
            provider_json(r.provider) if r.provider else None,
            r.quality, r.type, r.amp_url, r.cdn_amp_url, images_json(r.images),
            story_url(r.url),
        )
        for position, r in enumerate(draft.related)
    )  # fmt: skip
    return ArticleRows(url, draft.provider.domain, draft.provider.name, article, topics, related)


def story_url(url: str) -> str:
    """Return what tells a related item's story: its canonical URL, or the URL as written."""
    try:
        return canonical_url(url)
    except ValueError:
        return url
