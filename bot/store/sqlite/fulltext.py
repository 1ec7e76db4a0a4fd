"""Full-text search on SQLite: the FTS5 index ``articles_fts`` (migration 0001), bm25 ranking.

Everything here is SQLite's own (FTS5's MATCH syntax, ``rowid``, ``bm25``); the words to look
for come from ``bot.store.fulltext.search_terms``, which any backend can use.
"""

from __future__ import annotations

from typing import NamedTuple

from bot.store import limits, sql
from bot.store.fulltext import FilterQuery
from bot.store.sqlite.database import Database


def match_expression(terms: list[str], *, any_term: bool = False) -> str:
    """Return an FTS5 MATCH expression requiring every term (or, with ``any_term``, any)."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    return (" OR " if any_term else " ").join(quoted)


class Matches(NamedTuple):
    """One page of a search's article ids, best first, and how many matched (at most the cap)."""

    ids: list[int]
    total: int
    capped: bool  # more than ``limits.SEARCH_CAP`` matched: ``total`` is the cap


async def common_words(db: Database, terms: list[str]) -> set[str]:
    """Return the words in more than half of the newest articles.

    bm25 gives such a word no weight (its IDF is clamped to about zero) yet reads its
    whole posting list to find that out: "the" in a million articles costs ~30 ms.
    """
    newest = await db.scalar(sql.NEWEST_ARTICLE_ID) or 0
    common = set()
    for term in terms:
        share = await db.scalar(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ? AND rowid > ?",
            [match_expression([term]), newest - limits.COMMON_SAMPLE],
        )
        if share * 2 > limits.COMMON_SAMPLE:
            common.add(term)
    return common


async def matches(
    db: Database, expression: str, limit: int, offset: int, newest_first: bool = False
) -> Matches:
    """Return one page of the articles matching an FTS5 ``expression``, best match first."""
    # bm25 costs every match it ranks, so a search ranks at most SEARCH_CAP matches: all
    # of them, or, for a broader search, the SEARCH_CAP newest (news goes stale); its
    # total is then a lower bound ("1,000+").
    cap = limits.SEARCH_CAP
    total = int(
        await db.scalar(
            "SELECT count(*) FROM (SELECT 1 FROM articles_fts WHERE articles_fts MATCH ? LIMIT ?)",
            [expression, cap + 1],
        )
    )
    oldest = 0
    if total > cap:
        oldest = await db.scalar(
            "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? "
            "ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            [expression, cap - 1],
        )
    # Titles weigh more than excerpts: a word in the headline is what the story is about.
    order = "rowid DESC" if newest_first else "bm25(articles_fts, 4.0, 1.0)"
    rows = await db.rows(
        "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ? AND rowid >= ? "
        f"ORDER BY {order} LIMIT ? OFFSET ?",
        [expression, oldest, limit, offset],
    )
    ids = [row["rowid"] for row in rows]
    return Matches(ids, cap, True) if total > cap else Matches(ids, total, False)


def filter_expression(query: FilterQuery) -> str:
    """Return the FTS5 MATCH expression of a subscription's filter query."""
    return " OR ".join(
        "(" + " ".join('"' + " ".join(phrase) + '"' for phrase in alternative) + ")"
        for alternative in query
    )
