"""Full-text search on PostgreSQL: the ``search`` tsvector column (0001_schema.sql), ts_rank.

PostgreSQL's own here: each word becomes ``plainto_tsquery('newsbot_english', word)``,
which reads its text as plain words (no operator of tsquery's syntax gets through), and the
words are joined with ``&&`` (every word) or ``||`` (any). The title weighs four times the
excerpt, as SQLite's ``bm25(articles_fts, 4.0, 1.0)``. The words come from
``bot.store.fulltext.search_terms``, as SQLite's do.
"""

from __future__ import annotations

from typing import NamedTuple

from bot.store import limits
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
    by nothing: such a word is left out of the ranking, as SQLite's backend does. One
    statement reads the ``COMMON_SAMPLE`` newest articles by id and tests every word on
    them: the index of a word in most articles is the longest there is, and reading it
    to count a thousand articles cost more than the search.
    """
    if not terms:
        return set()
    counts = ", ".join(f"count(*) FILTER (WHERE search @@ {query_expression(1)})" for _ in terms)
    row = await db.first(
        f"SELECT {counts} FROM (SELECT search FROM articles ORDER BY id DESC LIMIT ?) AS newest",
        [*terms, limits.COMMON_SAMPLE],
    )
    shares = list(row) if row is not None else [0] * len(terms)
    return {
        term for term, share in zip(terms, shares, strict=True)
        if share * 2 > limits.COMMON_SAMPLE
    }  # fmt: skip


async def matches(
    db: Database, terms: list[str], limit: int, offset: int, *, any_term: bool = False,
    newest_first: bool = False,
) -> Matches:  # fmt: skip
    """Return one page of the articles matching ``terms``, best match first."""
    query = query_expression(len(terms), any_term=any_term)
    return await query_matches(db, query, terms, limit, offset, newest_first=newest_first)


async def query_matches(
    db: Database, query: str, terms: list[str], limit: int, offset: int, *,
    newest_first: bool = False,
) -> Matches:  # fmt: skip
    """Return one page of the articles matching the tsquery ``query`` (its parameters:
    ``terms``), best match first."""
    # Ranking costs every match it ranks, so a search ranks at most SEARCH_CAP matches:
    # all of them, or, for a broader search, the SEARCH_CAP newest (news goes stale); its
    # total is then a lower bound ("1,000+"). One statement finds the SEARCH_CAP + 1 newest
    # matches (by id, where a common word is found at once; through the index for a rare
    # one) with their ranks: their number is the total, and the page is cut from them here.
    cap = limits.SEARCH_CAP
    newest = f"FROM articles WHERE search @@ {query} ORDER BY id DESC LIMIT ?"
    if newest_first:
        rows = await db.rows(f"SELECT id, NULL AS rank {newest}", [*terms, cap + 1])
    else:
        rows = await db.rows(
            f"SELECT id, {RANK} AS rank FROM (SELECT id, search {newest}) AS m, "
            f"(SELECT {query} AS query) AS q "
            "ORDER BY id DESC",
            [*terms, cap + 1, *terms],
        )
    found = [(row["id"], row["rank"]) for row in rows[:cap]]
    if not newest_first:  # equal ranks: the newest first
        found.sort(key=lambda match: (-match[1], -match[0]))
    ids = [article_id for article_id, _ in found[offset : offset + limit]]
    return Matches(ids, cap, True) if len(rows) > cap else Matches(ids, len(rows), False)


def filter_tsquery(query: FilterQuery) -> tuple[str, list[str]]:
    """Return the tsquery of a subscription's filter query: SQL and its parameters.

    Each phrase is ``phraseto_tsquery`` (one word: as ``plainto_tsquery``); phrases of an
    alternative are joined with ``&&``, alternatives with ``||``.
    """
    phrase = f"phraseto_tsquery('{CONFIG}', ?::text)"
    sql_text = " || ".join("(" + " && ".join([phrase] * len(alt)) + ")" for alt in query)
    return f"({sql_text})", [" ".join(words) for alt in query for words in alt]
