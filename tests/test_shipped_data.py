"""Every file shipped in data/ is a valid article, and the set shows every command something."""

from __future__ import annotations

from pathlib import Path

from bot.loader import load_articles
from bot.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "articles"


async def test_every_shipped_article_loads_and_the_sample_set_is_rich(store: Store) -> None:
    report = await load_articles(store, [DATA])
    assert report.rejected == [], report.rejected
    assert report.skipped == 0
    assert report.added >= 41
    topics = await store.articles.topics()
    providers = await store.articles.providers()
    assert len(topics) >= 8 and len(providers) >= 6
    latest = await store.articles.latest(limit=1000)
    qualities = [a.quality for a in latest.articles]
    assert any(q is not None and q < 50 for q in qualities)
    assert any(q is not None and q >= 80 for q in qualities)
    assert sum(a.source_published for a in latest.articles) >= 3
    assert sum(bool(a.related) for a in latest.articles) >= 5
    samples = [a for a in latest.articles if "securityweek" not in a.url]
    assert all(".example." in a.url for a in samples)
