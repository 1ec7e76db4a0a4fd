"""The posting ledger in PostgreSQL: ``bot.store.ledger`` with PostgreSQL's own spellings.

Times are timestamptz; an outbox message keeps its article ids as a bigint array, read
back as rows with ``unnest``, and its style as jsonb; a filter query is a tsquery column
matched against the article's ``article_search`` row (SQLite's:
``bot.store.sqlite.ledger``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.store import due, records
from bot.store.ledger import LedgerDialect, SqlLedger
from bot.store.postgres.database import Database, utc


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


DIALECT = LedgerDialect(
    due=due.Dialect(
        outbox_articles="outbox AS o, unnest(o.article_ids) AS j (value)",
        matches=(
            "EXISTS (SELECT 1 FROM article_search AS f WHERE f.id = a.id AND f.search @@ {query})"
        ),
    ),
    time_param=lambda moment: moment,
    time_from=lambda moment: utc(moment) if isinstance(moment, datetime) else moment,
    ids_param=list,
    ids_from=tuple,
    style_param=lambda style: (
        None if (fields := records.style_fields(style)) is None else json.dumps(fields)
    ),
    style_from=lambda value: records.style_from_fields(_json(value)),
)


class PostgresLedger(SqlLedger):
    """``Ledger`` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, DIALECT)
