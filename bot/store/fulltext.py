"""Turn any text a person types into a safe SQLite FTS5 query.

FTS5 has its own syntax (quotes, ``*``, ``NEAR``, ``AND``/``OR``/``NOT``, ``-``, column
filters, parentheses). People do not type that syntax on purpose, so none of it is passed
through: the text is cut into words and every word is quoted as a literal string.
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


def match_expression(terms: list[str], *, any_term: bool = False) -> str:
    """Return an FTS5 MATCH expression requiring every term (or, with ``any_term``, any)."""
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    return (" OR " if any_term else " ").join(quoted)
