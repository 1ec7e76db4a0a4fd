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
