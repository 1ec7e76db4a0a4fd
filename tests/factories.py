"""Build article files for tests: the real seed's shape, with any field overridden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.articles import ArticleDraft
from bot.parsing import build_draft
from bot.store import Store

SEED = Path(__file__).resolve().parents[1] / "data" / "articles" / "000_91940ccae3e3af5b.txt"

_MISSING = object()


def article_fields(number: int = 1, **overrides: Any) -> dict[str, Any]:
    """Return the front-matter fields of a valid article; ``None`` overrides remove a field."""
    fields: dict[str, Any] = {
        "category": "news",
        "title": f"Test article number {number}",
        "excerpt": f"An excerpt about satellites and chips, article {number}.",
        "publishedDateTime": f"2026-11-{(number % 28) + 1:02d}T08:{number % 60:02d}:00Z",
        "originalUrl": f"https://news.example.com/2026/article-{number}",
        "webUrl": f"https://aggregator.example.org/a/{number}",
        "type": "article",
        "quality": 70,
        "heat": -1,
        "published": False,
        "provider": {"name": "Example News", "domain": "news.example.com"},
        "topics": ["Space", "AI"],
        "images": [
            {"url": f"https://img.example.com/{number}.png", "width": 640, "height": 480,
             "isCached": True}
        ],
        "related": [],
    }  # fmt: skip
    for key, value in overrides.items():
        if value is None:
            fields.pop(key, None)
        else:
            fields[key] = value
    return fields


def article_text(number: int = 1, body: str = "", **overrides: Any) -> str:
    """Return the text of an article file with front matter between ``---`` lines."""
    front = yaml.safe_dump(article_fields(number, **overrides), sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n{body}"


def write_article(directory: Path, name: str, number: int = 1, **overrides: Any) -> Path:
    """Write an article file into ``directory`` and return its path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(article_text(number, **overrides), encoding="utf-8")
    return path


def draft(number: int = 1, **overrides: object) -> ArticleDraft:
    """Return a validated article, as parsing a file of ``article_fields`` would."""
    return build_draft(article_fields(number, **overrides))


async def save(store: Store, *drafts: ArticleDraft) -> None:
    """Save articles that came from no file."""
    await store.articles.save([(d, None) for d in drafts])
