"""Full-text search on PostgreSQL: the ``search`` tsvector column (0001_schema.sql), ts_rank.

PostgreSQL's own here: each word becomes ``plainto_tsquery('newsbot_english', word)``,
which reads its text as plain words (no operator of tsquery's syntax gets through), and the
words are joined with ``&&`` (every word) or ``||`` (any). The title weighs four times the
excerpt, as SQLite's ``bm25(articles_fts, 4.0, 1.0)``. The words come from
``bot.store.fulltext.search_terms``, as SQLite's do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from bot.store import limits
from bot.store.fulltext import FilterQuery
from bot.store.postgres.database import Database

if TYPE_CHECKING:
    from bot.store.postgres.database import Row

CONFIG = "newsbot_english"  # the text search configuration of the search column
# ts_rank's weights of D, C, B (the excerpt) and A (the title).
RANK = "ts_rank('{0, 0, 0.25, 1}', search, query)"
# A windowed search looks where twice the matches it needs are expected (``floor_id``),
# and only where that is under a fifth of the archive: past that, reading every match
# through the full-text index costs less than the window's primary-key range.
WINDOW_MARGIN = 2.0
WINDOW_WORTH = 5


def query_expression(words: int, *, any_term: bool = False) -> str:
    """Return a tsquery of ``words`` parameters, requiring every word (or, ``any_term``, any)."""
    joined = " || " if any_term else " && "
    return "(" + joined.join([f"plainto_tsquery('{CONFIG}', ?::text)"] * words) + ")"


class Matches(NamedTuple):
    """One page of a search's article ids, best first, and how many matched (at most the cap)."""

    ids: list[int]
    total: int
    capped: bool  # more than ``limits.SEARCH_CAP`` matched: ``total`` is the cap


class Sample(NamedTuple):
    """What the ``COMMON_SAMPLE`` newest articles tell of a search, before it runs."""

    newest: int  # the newest article's id; 0 when there is none
    shares: list[float]  # each tsquery's share of those articles, 0 to 1


async def sample(db: Database, queries: Sequence[tuple[str, Sequence[str]]]) -> Sample:
    """Return the newest article's id and the share of the newest articles each tsquery of
    ``queries`` (SQL and its parameters) matches.

    One statement reads the ``COMMON_SAMPLE`` newest articles by id and tests every query
    on them. The shares tell a word too common to rank (``common_words``) and how far back
    the newest matches of a search reach (``query_matches``).
    """
    counts = "".join(f", count(*) FILTER (WHERE search @@ {query})" for query, _ in queries)
    row = await db.first(
        f"SELECT coalesce(max(id), 0), count(*){counts} "
        "FROM (SELECT id, search FROM articles ORDER BY id DESC LIMIT ?) AS newest",
        [*(param for _, params in queries for param in params), limits.COMMON_SAMPLE],
    )
    if row is None or not row[1]:
        return Sample(0, [0.0] * len(queries))
    return Sample(int(row[0]), [count / row[1] for count in list(row)[2:]])


def word_queries(terms: Sequence[str]) -> list[tuple[str, Sequence[str]]]:
    """Return one tsquery per word of ``terms``, for ``sample``."""
    return [(query_expression(1), [term]) for term in terms]


def common_words(terms: Sequence[str], found: Sample) -> set[str]:
    """Return the words of ``terms`` (sampled in that order) in over half the newest articles.

    Ranking a word that most articles hold reads every one of them and tells them apart
    by nothing: such a word is left out of the ranking, as SQLite's backend does.
    """
    return {term for term, share in zip(terms, found.shares, strict=True) if share > 0.5}


def combined_share(shares: Sequence[float], *, any_term: bool = False) -> float:
    """Return the share of articles holding every word (``any_term``: any) of ``shares``,
    taking the words as independent."""
    if any_term:
        return 1.0 - math.prod(1.0 - share for share in shares)
    return math.prod(shares)


def floor_id(share: float, newest: int) -> int | None:
    """Return the id past which the ``SEARCH_CAP`` + 1 newest matches of a query with this
    ``share`` are expected, with a margin; None: look through every article.

    A query matching a few percent of the articles has tens of thousands of matches in a
    million, and finding its newest thousand among them all reads every one: through the
    full-text index (a row each), or walking the archive backwards (many more rows). Past
    the floor, the index and the primary key each name their rows, PostgreSQL keeps the
    rows both name, and reads only those. A query found in too few articles to fill the
    cap is read whole: through the index, that is a few thousand rows at most.
    """
    if share <= 0.0:
        return None
    span = math.ceil(WINDOW_MARGIN * (limits.SEARCH_CAP + 1) / share)
    if span * WINDOW_WORTH >= newest:
        return None
    return newest - span


async def matches(
    db: Database, terms: list[str], limit: int, offset: int, *, share: float | None,
    newest: int, any_term: bool = False, newest_first: bool = False,
) -> Matches:  # fmt: skip
    """Return one page of the articles matching ``terms``, best match first."""
    query = query_expression(len(terms), any_term=any_term)
    return await query_matches(
        db, query, terms, limit, offset, share=share, newest=newest, newest_first=newest_first
    )


async def query_matches(
    db: Database, query: str, terms: list[str], limit: int, offset: int, *,
    share: float | None = None, newest: int = 0, newest_first: bool = False,
) -> Matches:  # fmt: skip
    """Return one page of the articles matching the tsquery ``query`` (its parameters:
    ``terms``), best match first.

    ``share`` is the query's share of the newest articles and ``newest`` the newest id
    (``sample``); without them, they are sampled here.
    """
    # Ranking costs every match it ranks, so a search ranks at most SEARCH_CAP matches:
    # all of them, or, for a broader search, the SEARCH_CAP newest (news goes stale); its
    # total is then a lower bound ("1,000+"). One statement finds the SEARCH_CAP + 1 newest
    # matches with their ranks: their number is the total, and the page is cut from them
    # here. Where the newest matches are expected past a floor (``floor_id``), the
    # statement looks there first, and through every article only if they were not.
    if share is None:
        found = await sample(db, [(query, terms)])
        share, newest = found.shares[0], found.newest
    floor = floor_id(share, newest)
    rows = await _newest_matches(db, query, terms, floor, newest_first=newest_first)
    cap = limits.SEARCH_CAP
    if floor is not None and len(rows) <= cap:
        rows = await _newest_matches(db, query, terms, None, newest_first=newest_first)
    found_rows = [(row["id"], row["rank"]) for row in rows[:cap]]
    if not newest_first:  # equal ranks: the newest first
        found_rows.sort(key=lambda match: (-match[1], -match[0]))
    ids = [article_id for article_id, _ in found_rows[offset : offset + limit]]
    return Matches(ids, cap, True) if len(rows) > cap else Matches(ids, len(rows), False)


async def _newest_matches(
    db: Database, query: str, terms: list[str], floor: int | None, *, newest_first: bool
) -> list[Row]:
    """Return the ``SEARCH_CAP`` + 1 newest matches of ``query`` past ``floor``: id, rank."""
    past, bound = ("AND id > ? ", [floor]) if floor is not None else ("", [])
    newest = f"FROM articles WHERE search @@ {query} {past}ORDER BY id DESC LIMIT ?"
    limit = limits.SEARCH_CAP + 1
    if newest_first:
        return await db.rows(f"SELECT id, NULL AS rank {newest}", [*terms, *bound, limit])
    return await db.rows(
        f"SELECT id, {RANK} AS rank FROM (SELECT id, search {newest}) AS m, "
        f"(SELECT {query} AS query) AS q "
        "ORDER BY id DESC",
        [*terms, *bound, limit, *terms],
    )


def filter_tsquery(query: FilterQuery) -> tuple[str, list[str]]:
    """Return the tsquery of a subscription's filter query: SQL and its parameters.

    Each phrase is ``phraseto_tsquery`` (one word: as ``plainto_tsquery``); phrases of an
    alternative are joined with ``&&``, alternatives with ``||``.
    """
    phrase = f"phraseto_tsquery('{CONFIG}', ?::text)"
    sql_text = " || ".join("(" + " && ".join([phrase] * len(alt)) + ")" for alt in query)
    return f"({sql_text})", [" ".join(words) for alt in query for words in alt]
