"""The news domain: articles, their providers, images and related coverage.

``ArticleDraft`` is what one article file says, validated; ``Article`` is what the store
hands back. Both are plain frozen records with no I/O, so every layer can share them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar
from urllib.parse import unquote_plus, urlsplit, urlunsplit

ALLOWED_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PARAMS = frozenset({"fbclid", "gclid"})
# Lower-case http(s), a plain ASCII host (no user, port or IPv6), printable ASCII after it:
# urlsplit would accept it and find that host, so the common case skips urlsplit.
_PLAIN_WEB_URL = re.compile(r"https?://([A-Za-z0-9.-]+)(?:[/?#][!-~]*)?\Z")
_T = TypeVar("_T")


def pickled_as_tuple(cls: type[_T]) -> type[_T]:
    """Pickle a frozen slotted dataclass as ``cls(*values)``.

    The default for ``slots=True`` calls ``dataclasses.fields()`` for every object pickled
    and unpickled; a load ships each article from a parsing process to the main one, and
    this halves that cost (about 40 to 20 microseconds an article each way).
    """
    values = attrgetter(*(f.name for f in fields(cls)))  # type: ignore[arg-type]

    def __reduce__(self: _T) -> tuple[type[_T], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign,assignment]
    return cls


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class Provider:
    """The outlet that published an article; ``domain`` is its identity, ``name`` its label."""

    name: str
    domain: str


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class Image:
    """One picture attached to an article."""

    url: str
    width: int | None = None
    height: int | None = None
    is_cached: bool = False


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class RelatedItem:
    """Another outlet's coverage of the same story."""

    title: str
    url: str
    excerpt: str = ""
    published_at: datetime | None = None
    provider: Provider | None = None
    quality: int | None = None
    type: str | None = None
    amp_url: str | None = None
    cdn_amp_url: str | None = None
    images: tuple[Image, ...] = ()


@pickled_as_tuple
@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """A validated article as read from a file, before it is stored."""

    url: str
    title: str
    published_at: datetime
    provider: Provider
    excerpt: str = ""
    original_url: str | None = None
    web_url: str | None = None
    category: str | None = None
    type: str | None = None
    quality: int | None = None
    heat: int | None = None
    source_published: bool = False
    topics: tuple[str, ...] = ()
    images: tuple[Image, ...] = ()
    related: tuple[RelatedItem, ...] = ()
    secured: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True, slots=True)
class Article:
    """A stored article, as the commands and the posting job see it."""

    id: int
    url: str
    title: str
    excerpt: str
    published_at: datetime
    provider: Provider
    quality: int | None
    heat: int | None
    source_published: bool
    topics: tuple[str, ...]
    images: tuple[Image, ...]
    related: tuple[RelatedItem, ...]
    original_url: str | None = None
    web_url: str | None = None
    category: str | None = None
    type: str | None = None

    @property
    def link(self) -> str:
        """Return the URL a reader should open: the outlet's page, else the aggregator's."""
        return self.original_url or self.web_url or self.url


@dataclass(frozen=True, slots=True)
class TopicCount:
    """A topic as shown to people (most common spelling) and how many articles carry it."""

    name: str
    count: int


@dataclass(frozen=True, slots=True)
class ProviderCount:
    """A provider and how many stored articles it published."""

    name: str
    domain: str
    count: int


@dataclass(frozen=True, slots=True)
class ArticlePage:
    """One page of a query's results and the total number of matches."""

    articles: tuple[Article, ...]
    total: int
    offset: int
    limit: int
    total_exact: bool = True  # False: there are more than ``total``, which is all one can page

    @property
    def total_text(self) -> str:
        """Return the total as people read it: ``37``, or ``1,000+`` when it is a lower bound."""
        return f"{self.total:,}" if self.total_exact else f"{self.total:,}+"


def topic_key(topic: str) -> str:
    """Return the matching key of a topic: ``AI`` and `` ai `` are the same topic."""
    return " ".join(topic.split()).casefold()


def closest_names(text: str, names: Iterable[str], count: int = 3) -> list[str]:
    """Return up to ``count`` of ``names`` spelled like ``text``, for a "did you mean" hint."""
    by_key: dict[str, str] = {}
    for name in names:
        by_key.setdefault(name.casefold(), name)
    close = difflib.get_close_matches(text.casefold(), list(by_key), n=count, cutoff=0.6)
    return [by_key[key] for key in close]


def is_web_url(url: str) -> bool:
    """Tell whether ``url`` is an absolute http(s) URL with a host, safe to show as a link."""
    if _PLAIN_WEB_URL.match(url):
        return True
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return parts.scheme.lower() in ALLOWED_SCHEMES and bool(parts.hostname)


def url_host(url: str) -> str:
    """Return the lower-case host of ``url`` without a leading ``www.``."""
    plain = _PLAIN_WEB_URL.match(url)
    host = (plain[1] if plain else urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def canonical_url(url: str) -> str:
    """Return the identity of an article URL.

    Lower-case scheme and host, no default port, no fragment, no ``utm_*``/``fbclid``/``gclid``
    parameters, no trailing slash. Raise ``ValueError`` for anything but an http(s) URL.
    """
    url = url.strip()
    if not is_web_url(url):
        raise ValueError(f"not an http(s) URL: {url!r}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    if parts.port is not None and parts.port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{parts.port}"
    if parts.username is not None:
        userinfo = parts.username
        if parts.password is not None:
            userinfo += f":{parts.password}"
        netloc = f"{userinfo}@{netloc}"
    query = "&".join(
        param
        for param in parts.query.split("&")
        if param and not _is_tracking_param(param.split("=", 1)[0])
    )
    path = re.sub(r"/+$", "", parts.path)
    return urlunsplit((scheme, netloc, path, query, ""))


def _is_tracking_param(key: str) -> bool:
    lowered = unquote_plus(key).lower()
    return lowered.startswith("utm_") or lowered in _TRACKING_PARAMS
