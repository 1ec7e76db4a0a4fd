"""Full-text search on PostgreSQL: the ``search`` tsvector column (0001_schema.sql), ts_rank.

PostgreSQL's own here: each word becomes ``plainto_tsquery('newsbot_english', word)``,
which reads its text as plain words (no operator of tsquery's syntax gets through), and the
words are joined with ``&&`` (every word) or ``||`` (any). The title weighs four times the
excerpt, as SQLite's ``bm25(articles_fts, 4.0, 1.0)``. The words come from
``bot.store.fulltext.search_terms``, as SQLite's do.
"""

from __future__ import annotations

from typing import NamedTuple

from bot.store import limits, sql
from bot.store.fulltext import FilterQuery
from bot.store.postgres.database import Database

CONFIG = "newsbot_english"  # the text search configuration of the search column
# ts_rank's weights of D, C, B (the excerpt) and A (the title).
RANK = "ts_rank('{0, 0, 0.25, 1}', search, query)"


def query_expression(words: int, *, any_term: bool = False) -> str:
    """Return a tsquery of ``words`` parameters, requiring every word (or, ``any_term``, any)."""
    joined = " || " if any_term else " && "
    return "(" + joined.join([f"plainto_tsquery('{CONFIG}', ?::text)"] * words) + ")"


class Matches(NamedTuple):
    """One page of a search's article ids, best first, and how many matched (at most the cap)."""

    ids: list[int]
    total: int
    capped: bool  # more than ``limits.SEARCH_CAP`` matched: ``total`` is the cap


async def common_words(db: Database, terms: list[str]) -> set[str]:
    """Return the words in more than half of the newest articles.

    Ranking a word that most articles hold reads every one of them and tells them apart
    by nothing: such a word is left out of the ranking, as SQLite's backend does.
    """
    newest = await db.scalar(sql.NEWEST_ARTICLE_ID) or 0
    common = set()
    for term in terms:
        share = await db.scalar(
            f"SELECT count(*) FROM articles WHERE search @@ {query_expression(1)} AND id > ?",
            [term, newest - limits.COMMON_SAMPLE],
        )
        if share * 2 > limits.COMMON_SAMPLE:
            common.add(term)
    return common


async def matches(
    db: Database, terms: list[str], limit: int, offset: int, *, any_term: bool = False,
    newest_first: bool = False,
) -> Matches:  # fmt: skip
    """Return one page of the articles matching ``terms``, best match first."""
    query = query_expression(len(terms), any_term=any_term)
    # Ranking costs every match it ranks, so a search ranks at most SEARCH_CAP matches:
    # all of them, or, for a broader search, the SEARCH_CAP newest (news goes stale); its
    # total is then a lower bound ("1,000+").
    cap = limits.SEARCH_CAP
    total = int(
        await db.scalar(
            f"SELECT count(*) FROM (SELECT 1 FROM articles WHERE search @@ {query} LIMIT ?) AS m",
            [*terms, cap + 1],
        )
    )
    oldest = 0
    if total > cap:
        oldest = await db.scalar(
            f"SELECT id FROM articles WHERE search @@ {query} ORDER BY id DESC LIMIT 1 OFFSET ?",
            [*terms, cap - 1],
        )
    # Equal ranks: the newest first.
    order = "id DESC" if newest_first else f"{RANK} DESC, id DESC"
    rows = await db.rows(
        f"SELECT id FROM articles, (SELECT {query} AS query) AS q WHERE search @@ query "
        "AND id >= ? "
        f"ORDER BY {order} LIMIT ? OFFSET ?",
        [*terms, oldest, limit, offset],
    )
    ids = [row["id"] for row in rows]
    return Matches(ids, cap, True) if total > cap else Matches(ids, total, False)


def filter_tsquery(query: FilterQuery) -> tuple[str, list[str]]:
    """Return the tsquery of a subscription's filter query: SQL and its parameters.

    Each phrase is ``phraseto_tsquery`` (one word: as ``plainto_tsquery``); phrases of an
    alternative are joined with ``&&``, alternatives with ``||``.
    """
    phrase = f"phraseto_tsquery('{CONFIG}', ?::text)"
    sql_text = " || ".join("(" + " && ".join([phrase] * len(alt)) + ")" for alt in query)
    return sql_text, [" ".join(words) for alt in query for words in alt]
