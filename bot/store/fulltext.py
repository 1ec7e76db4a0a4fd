"""Turn any text a person types into the words a full-text search looks for.

Full-text engines have their own syntax (FTS5's quotes, ``*``, ``NEAR``, ``AND``/``OR``/``NOT``,
``-``, column filters, parentheses; PostgreSQL's ``&``, ``|``, ``!``, ``<->``). People do not
type that syntax on purpose, so none of it is passed through: the text is cut into words, and
each backend quotes every word as a literal (SQLite: ``bot.store.sqlite.fulltext``).
"""

from __future__ import annotations

import re

MAX_QUERY_CHARS = 5_000
MAX_TERMS = 32

_APOSTROPHES = "'\u2019"
_WORD = re.compile(rf"[^\W_]+(?:[{_APOSTROPHES}][^\W_]+)*")


def search_terms(text: str) -> list[str]:
    """Return the words of ``text`` that a full-text search should look for, in order, once each."""
    terms: dict[str, str] = {}
    for match in _WORD.finditer(text[:MAX_QUERY_CHARS]):
        term = match.group().replace("\u2019", "'")
        terms.setdefault(term.casefold(), term)
        if len(terms) == MAX_TERMS:
            break
    return list(terms.values())


# -- filter queries -----------------------------------------------------------------------
#
# A subscription's ``include`` and ``exclude`` options are queries in a small language,
# checked where they are typed and matched by the database against an article's title and
# excerpt, with the same stemming as search:
#
#     ai chips              both words, anywhere, in any order
#     "ai chips"            the words together, in this order (a phrase)
#     nvidia OR "amd chips" either side of OR (OR in capitals)
#
# Case and punctuation do not matter. There are no regular expressions: a pattern can make
# a database scan for seconds, and one server's pattern would stall posting for all.

MAX_FILTER_CHARS = 200
MAX_FILTER_TERMS = 32

_TOKEN = re.compile(r'"[^"]*"?|[^\s"]+')

#: A phrase: its words, in order (one word is a phrase of one).
Phrase = tuple[str, ...]


class QueryError(ValueError):
    """A filter query that cannot be used; the message says why, for the person who typed it."""


class FilterQuery(tuple[tuple[Phrase, ...], ...]):
    """A filter query: alternatives (joined by OR), each a conjunction of phrases."""

    __slots__ = ()

    @property
    def text(self) -> str:
        """Return the query written out plainly: what it shows as, and what is stored."""
        return " OR ".join(
            " ".join(phrase[0] if len(phrase) == 1 else f'"{" ".join(phrase)}"' for phrase in alt)
            for alt in self
        )


def parse_filter(text: str) -> FilterQuery:
    """Return the query ``text`` asks for, or raise ``QueryError`` saying what is wrong."""
    if len(text) > MAX_FILTER_CHARS:
        raise QueryError(f"is {len(text)} characters long; keep it to {MAX_FILTER_CHARS}")
    alternatives: list[list[Phrase]] = [[]]
    terms = 0
    for token in _TOKEN.findall(text):
        if token == "OR":
            alternatives.append([])
            continue
        words = tuple(w.group().replace("\u2019", "'").casefold() for w in _WORD.finditer(token))
        if words:
            alternatives[-1].append(words)
            terms += len(words)
    kept = [tuple(dict.fromkeys(alt)) for alt in alternatives if alt]
    if not kept:
        raise QueryError("has no word to look for" if text.strip() else "is empty")
    if terms > MAX_FILTER_TERMS:
        raise QueryError(f"has {terms} words; keep it to {MAX_FILTER_TERMS}")
    return FilterQuery(tuple(dict.fromkeys(kept)))


def search_query(text: str) -> FilterQuery | None:
    """Return the query a search's text asks for when it uses phrases or OR, else None.

    Plain words keep the search of ``search_terms`` (every word, else any word); a text
    with a quoted phrase or a capital OR is read as a filter query is, and matched as one.
    """
    tokens = _TOKEN.findall(text[:MAX_QUERY_CHARS])
    if not any(token == "OR" or token.startswith('"') for token in tokens):
        return None
    try:
        return parse_filter(text[:MAX_FILTER_CHARS])
    except QueryError:
        return None
