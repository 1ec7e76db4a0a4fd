"""Full-text search on PostgreSQL: ``article_search``'s tsvectors (0004), ts_rank.

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
# What finding a search's newest matches costs (``reach``), per row or entry read, in
# microseconds on 1,000,000 articles (bench/lookups.py's, in shared buffers): an article
# tested on a backward walk of the primary key; a row visited from a bitmap; an entry of
# the full-text index's posting lists; an id of a primary-key range in a bitmap. Measured
# while the vectors were in ``articles``' wide rows (before 0004): their ratios guide the
# choice; the narrow table's visits cost less.
COST = {"walked row": 3.2, "visited row": 3.8, "index entry": 0.4, "key entry": 0.1}
WINDOW_MARGIN = 2.0  # a floor is set where twice the needed matches are expected
MAX_LOOKS = 3  # statements a search may take to find its newest matches (``query_matches``)
WINDOW_PLANNER = {"enable_indexscan": "off"}  # bitmaps only: see ``_newest_matches``


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
        "FROM (SELECT id, search FROM article_search ORDER BY id DESC LIMIT ?) AS newest",
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


class Reach(NamedTuple):
    """How a search finds its newest matches (``reach``)."""

    walk: bool  # backwards through the primary key, testing each article, until enough
    floor: int | None  # through the index, only past this id (None: every match)


def reach(share: float, newest: int, wanted: int = limits.SEARCH_CAP + 1) -> Reach:
    """Return how to find the ``wanted`` newest matches, up to id ``newest``, of a query
    found in ``share`` of the articles there: the cheapest of three ways, by what each
    reads (``COST``, measured at 1,000,000 articles).

    - Walk the primary key backwards, testing each article, until enough matched: cheap
      for a query in many articles, endless for one in few.
    - Read every match through the full-text index, visiting each one's row: cheap for a
      query in few articles.
    - Between, where both run to tens of thousands of rows: the index and the primary key
      each name their rows past a floor id, where twice the needed matches are expected,
      and only the rows both name are visited.
    """
    if share <= 0.0:
        return Reach(walk=False, floor=None)
    matches, span = share * newest, math.ceil(WINDOW_MARGIN * wanted / share)
    walk = wanted / share * COST["walked row"]
    everything = matches * (COST["index entry"] + COST["visited row"])
    window = (
        matches * COST["index entry"]
        + span * COST["key entry"]
        + WINDOW_MARGIN * wanted * COST["visited row"]
    )
    if walk <= min(everything, window):
        return Reach(walk=True, floor=None)
    if span >= newest or everything <= window:
        return Reach(walk=False, floor=None)
    return Reach(walk=False, floor=newest - span)


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
    # total is then a lower bound ("1,000+"). Statements find the SEARCH_CAP + 1 newest
    # matches with their ranks: their number is the total, and the page is cut from them
    # here. Where the newest matches are expected past a floor (``reach``), the first
    # statement looks there; if fewer were there, the next reaches below the floor as far
    # as the share found above it says, and the last takes every match left.
    if share is None:
        found = await sample(db, [(query, terms)])
        share, newest = found.shares[0], found.newest
    wanted, cap = limits.SEARCH_CAP + 1, limits.SEARCH_CAP
    how, below = reach(share, newest, wanted), None
    rows: list[Row] = []
    for looks in range(1, MAX_LOOKS + 1):
        rows += await _newest_matches(
            db, query, terms, how, below, wanted - len(rows), newest_first=newest_first
        )
        if how.floor is None or len(rows) >= wanted:
            break
        below = how.floor
        if looks + 1 == MAX_LOOKS:
            how = Reach(walk=False, floor=None)
        else:  # the share past the floor, below which as many are expected
            how = reach(len(rows) / max(1, newest - below), below, wanted - len(rows))
    found_rows = [(row["id"], row["rank"]) for row in rows[:cap]]
    if not newest_first:  # equal ranks: the newest first
        found_rows.sort(key=lambda match: (-match[1], -match[0]))
    ids = [article_id for article_id, _ in found_rows[offset : offset + limit]]
    return Matches(ids, cap, True) if len(rows) > cap else Matches(ids, len(rows), False)


async def _newest_matches(
    db: Database, query: str, terms: list[str], how: Reach, below: int | None, limit: int,
    *, newest_first: bool,
) -> list[Row]:  # fmt: skip
    """Return the ``limit`` newest matches of ``query`` up to id ``below`` (None: the
    newest), the way ``how`` says: id, rank (None when ``newest_first``), newest first."""
    bounds = [("id > ?", how.floor), ("id <= ?", below)]
    within = "".join(f"AND {test} " for test, bound in bounds if bound is not None)
    values = [bound for _, bound in bounds if bound is not None]
    # "id + 0" cannot be read from the primary key in order: the rows come through the
    # index, and PostgreSQL is not left to guess that walking the key would cost less.
    order = "id" if how.walk else "id + 0"
    newest = f"FROM article_search WHERE search @@ {query} {within}ORDER BY {order} DESC LIMIT ?"
    # Past a floor, the primary key is to name the rows of the range, not to walk it:
    # PostgreSQL, seeing a few thousand matches expected there, would rather walk it and
    # test every row (for a word in 7% of 1,000,000 articles: 37,000 rows, 127 ms, where
    # the index and the key together took 52 ms).
    planner = WINDOW_PLANNER if how.floor is not None else None
    if newest_first:
        return await db.rows(
            f"SELECT id, NULL AS rank {newest}", [*terms, *values, limit], planner=planner
        )
    return await db.rows(
        f"SELECT id, {RANK} AS rank FROM (SELECT id, search {newest}) AS m, "
        f"(SELECT {query} AS query) AS q "
        "ORDER BY id DESC",
        [*terms, *values, limit, *terms],
        planner=planner,
    )


def filter_tsquery(query: FilterQuery) -> tuple[str, list[str]]:
    """Return the tsquery of a subscription's filter query: SQL and its parameters.

    Each phrase is ``phraseto_tsquery`` (one word: as ``plainto_tsquery``); phrases of an
    alternative are joined with ``&&``, alternatives with ``||``.
    """
    phrase = f"phraseto_tsquery('{CONFIG}', ?::text)"
    sql_text = " || ".join("(" + " && ".join([phrase] * len(alt)) + ")" for alt in query)
    return f"({sql_text})", [" ".join(words) for alt in query for words in alt]
