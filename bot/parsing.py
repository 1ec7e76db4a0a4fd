"""Turn the bytes of one article file into a validated ``ArticleDraft``.

The format is documented in ``docs/article-format.md``. Every rejection raises
``ArticleError`` with a message naming the YAML position or the field and what was wrong.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import yaml

from bot.articles import (
    ArticleDraft,
    Image,
    Provider,
    RelatedItem,
    canonical_url,
    is_web_url,
    topic_key,
    url_host,
)
from bot.errors import ArticleError

try:  # libyaml is several times faster; fall back to the pure-Python loader.
    from yaml import CSafeLoader as _BaseSafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseSafeLoader  # type: ignore[assignment]
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

DEFAULT_MAX_BYTES = 1024 * 1024
MAX_TITLE_CHARS = 1_000
MAX_EXCERPT_CHARS = 20_000
MAX_TOPIC_CHARS = 100
MAX_TOPICS = 50
MAX_ITEMS = 100  # images or related items kept per article
MAX_VALUES = 100_000  # values in a front matter once its aliases are expanded
MAX_HEAT = 2**63 - 1  # the largest integer SQLite stores

_FENCE = re.compile(r"^---[ \t]*\r?$", re.MULTILINE)
_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_PLAIN_SCALARS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)
_NULL = "tag:yaml.org,2002:null"
_TEXT_FIELDS = frozenset({"title", "excerpt", "category", "type", "secured"})
_SPECIAL_KEYS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})
_IN_PROGRESS = object()


class _Fallback(Exception):
    """The document needs PyYAML's own constructor (merge keys, !!set, recursion...)."""


class SafeLoader(_BaseSafeLoader):
    """``CSafeLoader`` that builds plain documents directly: the same objects, ~1.6x faster.

    ``SafeConstructor`` runs a generator per mapping and per sequence and bookkeeping per
    node; front matter is plain maps, lists and scalars, built here in one recursive pass.
    Anything else (merge keys, recursive aliases, !!set, !!omap, !!binary, local tags,
    unhashable keys) falls back to ``SafeConstructor``, which builds it or raises as before.
    Only the implicit resolvers PyYAML registers are used: newsbot adds no path resolvers.
    """

    # Set when a value may appear in two places: an alias, or a document PyYAML built.
    shares_values = False

    document: Node | None = None  # the composed document, for ``_as_written``

    def get_single_data(self) -> Any:
        node = self.document = self.get_single_node()
        if node is None:
            return None
        try:
            return self._build(node, {})
        except _Fallback:
            self.shares_values = True
            return self.construct_document(node)

    def _build(self, node: Node, memo: dict[int, Any]) -> Any:
        kind, tag = node.__class__, node.tag
        if kind is ScalarNode:
            if tag == _STR:
                return node.value
            if tag in _PLAIN_SCALARS:
                try:
                    return self.yaml_constructors[tag](self, node)
                except (ValueError, OverflowError) as exc:  # 2026-13-45 looks like a date
                    expected = tag.rsplit(":", 1)[1]
                    raise ConstructorError(
                        None,
                        None,
                        f"{_shorten(node.value)!r} is not a valid {expected}: {_shorten(str(exc))}",
                        node.start_mark,
                    ) from None
            raise _Fallback
        done = memo.get(id(node))
        if done is _IN_PROGRESS:
            raise _Fallback  # a recursive structure
        if done is not None:
            self.shares_values = True
            return done  # an alias: the same object, as SafeConstructor gives
        memo[id(node)] = _IN_PROGRESS
        data: Any
        if kind is MappingNode and tag == _MAP:
            data = {}
            for key_node, value_node in node.value:
                if key_node.tag in _SPECIAL_KEYS:
                    raise _Fallback
                try:
                    data[self._build(key_node, memo)] = self._build(value_node, memo)
                except TypeError:  # an unhashable key: SafeConstructor says so
                    raise _Fallback from None
        elif kind is SequenceNode and tag == _SEQ:
            data = [self._build(item, memo) for item in node.value]
        else:
            raise _Fallback
        memo[id(node)] = data
        return data

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        """Do nothing: there are no path resolvers to descend."""

    def ascend_resolver(self) -> None:
        """Do nothing: there are no path resolvers to ascend."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """Resolve a node's tag as ``Resolver.resolve`` does, without path resolvers.

        A plain scalar's tag depends on its text alone, and field names and small numbers
        repeat in every file: their tags are remembered (up to ``_RESOLVED_LIMIT`` texts).
        """
        if kind is ScalarNode:
            if implicit[0]:
                tag = _RESOLVED.get(value)
                if tag is None:
                    tag = _implicit_tag(value)
                    if len(_RESOLVED) < _RESOLVED_LIMIT:
                        _RESOLVED[value] = tag
                return tag
            return _STR
        return _SEQ if kind is SequenceNode else _MAP


def _implicit_tag(value: str) -> str:
    for tag, regexp in _IMPLICIT.get(value[:1], ()):
        if regexp.match(value):
            return tag
    return _STR


_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    first: resolvers + _BaseSafeLoader.yaml_implicit_resolvers.get(None, [])
    for first, resolvers in _BaseSafeLoader.yaml_implicit_resolvers.items()
    if first is not None
}
_RESOLVED: dict[str, str] = {}
_RESOLVED_LIMIT = 4096
_KNOWN_FIELDS = frozenset(
    {
        "title", "excerpt", "category", "type", "originalUrl", "webUrl", "publishedDateTime",
        "quality", "heat", "published", "provider", "topics", "images", "related", "secured",
    }
)  # fmt: skip


def parse_article(data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ArticleDraft:
    """Parse and validate one article file's bytes, or raise ``ArticleError`` saying why."""
    if len(data) > max_bytes:
        raise ArticleError(f"file is {len(data):,} bytes, over the {max_bytes:,}-byte limit")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ArticleError("UTF-16 text: save the file as UTF-8")
    if b"\x00" in data:
        raise ArticleError("binary file (contains NUL bytes), not an article")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ArticleError(f"not valid UTF-8 at line {line} (byte {exc.start})") from None
    front, body = split_front_matter(text)
    return build_draft(load_front_matter(front), body)


def split_front_matter(text: str) -> tuple[str, str]:
    """Split a file into its YAML front matter and its body."""
    if not text.strip():
        raise ArticleError("empty file, expected front matter between '---' lines")
    first_line, _, rest = text.partition("\n")
    if first_line.rstrip() != "---":
        if first_line.startswith("---\r") and "\n" not in text:
            raise ArticleError("lines end in CR alone: save the file with LF or CRLF line ends")
        raise ArticleError("no front matter: the first line must be '---'")
    closing = _FENCE.search(rest)
    if closing is None:
        raise ArticleError("unclosed front matter: no closing '---' line")
    return rest[: closing.start()], rest[closing.end() :].lstrip("\r\n")


def load_front_matter(front: str) -> dict[str, Any]:
    """Load the YAML front matter, which must be a mapping of fields."""
    loader = SafeLoader(front)
    try:
        fields = loader.get_single_data()
        if loader.shares_values:
            _check_aliases(fields)
        if isinstance(fields, dict):
            _as_written(fields, loader.document)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 2}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ArticleError(f"invalid YAML{where}: {problem}") from None
    except yaml.reader.ReaderError as exc:  # a control character: say where, as for syntax
        line = front.count("\n", 0, exc.position) + 2
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ArticleError(
            f"invalid YAML at line {line}: character #x{character:04x} is not allowed"
        ) from None
    except yaml.YAMLError as exc:
        raise ArticleError(f"invalid YAML: {exc}") from None
    except (ValueError, OverflowError, KeyError, AttributeError, TypeError) as exc:
        # from PyYAML's own constructor, for tagged values: !!bool "maybe", !!timestamp "x"
        raise ArticleError(f"invalid YAML value: {_shorten(repr(exc))}") from None
    finally:
        loader.dispose()
    if fields is None:
        raise ArticleError("front matter is empty")
    if not isinstance(fields, dict):
        raise ArticleError(f"front matter must be a mapping of fields, got {_kind(fields)}")
    return fields


def _as_written(fields: dict[Any, Any], document: Node | None) -> None:
    """Give text fields their text as written: ``title: 1:30`` is "1:30", not YAML's 90.

    YAML reads an unquoted ``1:30`` as a base-60 number, ``010`` as 8 and ``yes`` as true;
    a title, an excerpt or the ``secured`` string must keep every character of the file.
    """
    if not isinstance(document, MappingNode):
        return
    for key_node, value_node in document.value:
        if (
            isinstance(key_node, ScalarNode)
            and key_node.value in _TEXT_FIELDS
            and isinstance(value_node, ScalarNode)
            and value_node.style in ("", None)  # plain, not quoted or a block
            and value_node.tag not in (_STR, _NULL)
        ):
            fields[key_node.value] = value_node.value


def _check_aliases(root: object) -> None:
    """Refuse front matter that YAML aliases make circular, or expand past ``MAX_VALUES``.

    A few lines of anchors and aliases can stand for billions of values ("billion laughs"):
    anything that walks the fields, such as keeping unknown ones as JSON, would never end.
    """
    count = 0
    ancestors: set[int] = set()
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        value, leaving = stack.pop()
        if leaving:
            ancestors.discard(id(value))
            continue
        count += 1
        if count > MAX_VALUES:
            raise ArticleError(f"invalid YAML: its aliases expand to over {MAX_VALUES:,} values")
        if isinstance(value, dict):
            children: list[object] = [*value.keys(), *value.values()]
        elif isinstance(value, list | tuple | set | frozenset):
            children = list(value)
        else:
            continue
        if id(value) in ancestors:
            raise ArticleError("invalid YAML: an alias refers to a value that contains it")
        ancestors.add(id(value))
        stack.append((value, True))
        stack.extend((child, False) for child in children)


def build_draft(fields: Mapping[Any, Any], body: str = "") -> ArticleDraft:
    """Validate front-matter fields into an ``ArticleDraft``."""
    original_url = _optional_url(fields, "originalUrl")
    web_url = _optional_url(fields, "webUrl")
    if original_url is None and web_url is None:
        raise ArticleError("field 'originalUrl' or 'webUrl': at least one URL is required")
    url = canonical_url(original_url or web_url or "")
    title = _required_text(fields, "title", MAX_TITLE_CHARS)
    return ArticleDraft(
        url=url,
        title=title,
        published_at=_required_datetime(fields, "publishedDateTime"),
        provider=_provider(fields.get("provider"), original_url or web_url or url),
        excerpt=_optional_text(fields, "excerpt", MAX_EXCERPT_CHARS) or "",
        original_url=original_url,
        web_url=web_url,
        category=_optional_text(fields, "category", 200),
        type=_optional_text(fields, "type", 200),
        quality=_quality(fields, "quality"),
        heat=_heat(fields),
        source_published=_flag(fields, "published"),
        topics=_topics(fields.get("topics")),
        images=_images(fields.get("images"), "images"),
        related=_related(fields.get("related")),
        secured=_optional_text(fields, "secured", None),
        extra=_extra(fields),
        body=body,
    )


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, int) and value.bit_length() > 200:  # str() refuses 4,300 digits
        return f"a number of about {int(value.bit_length() * math.log10(2)):,} digits"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({_shorten(value)!r})"
    if isinstance(value, datetime | date):
        return f"a date ({value.isoformat()})"
    return type(value).__name__


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fail(name: str, problem: str) -> ArticleError:
    return ArticleError(f"field '{name}': {problem}")


def _scalar_text(value: object) -> str | None:
    """Return a YAML scalar as text (``title: 1984`` is a title), or None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _required_text(fields: Mapping[Any, Any], name: str, limit: int) -> str:
    if name not in fields or fields[name] is None:
        raise _fail(name, "is required")
    text = _optional_text(fields, name, limit)
    if not text:
        raise _fail(name, "must not be empty")
    return text


def _optional_text(fields: Mapping[Any, Any], name: str, limit: int | None) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    text = _scalar_text(value)
    if text is None:
        raise _fail(name, f"must be text, got {_kind(value)}")
    text = text if limit is None else text.strip()
    if limit is not None and len(text) > limit:
        raise _fail(name, f"is {len(text):,} characters, over the limit of {limit:,}")
    return text


def _optional_url(fields: Mapping[Any, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _fail(name, f"must be a URL, got {_kind(value)}")
    url = value.strip()
    if not is_web_url(url):
        raise _fail(name, f"only http and https URLs are accepted, got {_shorten(url)!r}")
    return url


def _as_datetime(value: object) -> datetime | None:
    """Return ``value`` as an aware UTC datetime, or None when it is not a date."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in the year 0 in UTC
        return None


def _required_datetime(fields: Mapping[Any, Any], name: str) -> datetime:
    value = fields.get(name)
    if value is None:
        raise _fail(name, "is required (an ISO 8601 date and time)")
    moment = _as_datetime(value)
    if moment is None and isinstance(value, datetime):
        raise _fail(name, f"{value.isoformat()} is out of range once converted to UTC")
    if moment is None:
        raise _fail(name, f"must be an ISO 8601 date and time, got {_kind(value)}")
    return moment


def _integer(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
        return int(value)
    return None


def _quality(fields: Mapping[Any, Any], name: str) -> int | None:
    value = fields.get(name)
    if value is None:
        return None
    number = _integer(value)
    if number is None or not 0 <= number <= 100:
        raise _fail(name, f"must be an integer from 0 to 100, got {_kind(value)}")
    return number


def _heat(fields: Mapping[Any, Any]) -> int | None:
    value = fields.get("heat")
    if value is None:
        return None
    number = _integer(value)
    if number is None or not -1 <= number <= MAX_HEAT:
        raise _fail(
            "heat", f"must be an integer from 0 to {MAX_HEAT:,}, -1 for unknown, got {_kind(value)}"
        )
    return None if number == -1 else number


def _flag(fields: Mapping[Any, Any], name: str) -> bool:
    value = fields.get(name)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise _fail(name, f"must be true or false, got {_kind(value)}")


def _provider(value: object, url: str) -> Provider:
    host = url_host(url)
    if value is None:
        return Provider(name=host, domain=host)
    if isinstance(value, str):
        return Provider(name=(value.strip() or host)[:200], domain=host)
    if not isinstance(value, dict):
        raise _fail("provider", f"must be a mapping with name and domain, got {_kind(value)}")
    name = _scalar_text(value.get("name"))
    domain = _scalar_text(value.get("domain"))
    if value.get("name") is not None and name is None:
        raise _fail("provider.name", f"must be text, got {_kind(value.get('name'))}")
    if value.get("domain") is not None and domain is None:
        raise _fail("provider.domain", f"must be text, got {_kind(value.get('domain'))}")
    domain = _normalise_domain(domain) or host
    return Provider(name=(name or "").strip()[:200] or domain, domain=domain)


def _normalise_domain(domain: str | None) -> str:
    if not domain:
        return ""
    domain = domain.strip().lower()
    if "//" in domain:  # someone wrote a URL
        domain = url_host(domain) if is_web_url(domain) else ""
    return domain.removeprefix("www.").rstrip(".")[:253]


def _topics(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise _fail("topics", f"must be a list of strings, got {_kind(value)}")
    topics: dict[str, str] = {}
    for position, item in enumerate(value, start=1):
        if not isinstance(item, str):
            raise _fail("topics", f"item {position} must be a string, got {_kind(item)}")
        topic = " ".join(item.split())
        if len(topic) > MAX_TOPIC_CHARS:
            raise _fail("topics", f"item {position} is over {MAX_TOPIC_CHARS} characters")
        if topic:
            topics.setdefault(topic_key(topic), topic)
    if len(topics) > MAX_TOPICS:
        raise _fail("topics", f"has {len(topics)} topics, over the limit of {MAX_TOPICS}")
    return tuple(topics.values())


def _mapping_list(value: object, name: str) -> list[dict[Any, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(name, f"must be a list, got {_kind(value)}")
    for position, item in enumerate(value, start=1):
        if not isinstance(item, dict):
            raise _fail(name, f"item {position} must be a mapping, got {_kind(item)}")
    return value[:MAX_ITEMS]


def _images(value: object, name: str) -> tuple[Image, ...]:
    """Keep the images with an http(s) URL; an image that cannot be shown is dropped."""
    images = []
    for item in _mapping_list(value, name):
        url = item.get("url")
        if not isinstance(url, str) or not is_web_url(url.strip()):
            continue
        images.append(
            Image(
                url=url.strip(),
                width=_dimension(item.get("width")),
                height=_dimension(item.get("height")),
                is_cached=item.get("isCached") is True,
            )
        )
    return tuple(images)


def _dimension(value: object) -> int | None:
    number = _integer(value)
    return number if number is not None and number > 0 else None


def _related(value: object) -> tuple[RelatedItem, ...]:
    """Keep the related items with a title and an http(s) link; drop the rest."""
    items = []
    for raw in _mapping_list(value, "related"):
        title = _scalar_text(raw.get("title"))
        url = raw.get("webUrl") or raw.get("originalUrl") or raw.get("url")
        if not title or not title.strip() or not isinstance(url, str) or not is_web_url(url):
            continue
        quality = _integer(raw.get("quality"))
        try:
            provider = _provider(raw["provider"], url) if raw.get("provider") else None
        except ArticleError:  # a malformed provider of related coverage is not worth a rejection
            provider = None
        items.append(
            RelatedItem(
                title=title.strip()[:MAX_TITLE_CHARS],
                url=url.strip(),
                excerpt=(_scalar_text(raw.get("excerpt")) or "").strip()[:MAX_EXCERPT_CHARS],
                published_at=_as_datetime(raw.get("publishedDateTime")),
                provider=provider,
                quality=quality if quality is not None and 0 <= quality <= 100 else None,
                type=_scalar_text(raw.get("type")),
                amp_url=_web_url_or_none(raw.get("ampWebUrl")),
                cdn_amp_url=_web_url_or_none(raw.get("cdnAmpWebUrl")),
                images=_images(raw.get("images"), "related.images")
                if isinstance(raw.get("images"), list)
                else (),
            )
        )
    return tuple(items)


def _web_url_or_none(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and is_web_url(value.strip()) else None


def _extra(fields: Mapping[Any, Any]) -> dict[str, Any]:
    """Keep every unknown field, made JSON-safe, so nothing a file says is lost."""
    extra = {str(key): value for key, value in fields.items() if key not in _KNOWN_FIELDS}
    return {key: _json_safe(value) for key, value in extra.items()}


def _json_safe(value: object) -> Any:
    """Return ``value`` as strict JSON can hold it: text keys, dates and odd numbers as text."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # JSON has no NaN or infinity
    if isinstance(value, dict):
        return {_json_key(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(item) for item in value]
    if isinstance(value, bytes):  # !!binary
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_key(key: object) -> str:
    safe = _json_safe(key)
    return safe if isinstance(safe, str) else json.dumps(safe)
