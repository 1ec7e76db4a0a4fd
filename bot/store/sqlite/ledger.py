"""The posting ledger in SQLite: ``bot.store.ledger`` with SQLite's own spellings, named.

Times are sortable UTC text; an outbox message keeps its article ids and its style as JSON,
its articles read back as rows with ``json_each``; a filter query matches through the FTS5
index (PostgreSQL's: ``bot.store.postgres.ledger``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.store import due, records
from bot.store.ledger import LedgerDialect, SqlLedger
from bot.store.sqlite.database import Database, db_time, parse_time
from bot.subscriptions import DeliveryStyle


def _style_text(style: DeliveryStyle) -> str | None:
    fields = records.style_fields(style)
    return None if fields is None else json.dumps(fields)


def _ids_text(ids: Sequence[int]) -> str:
    return json.dumps(list(ids))


DIALECT = LedgerDialect(
    due=due.Dialect(
        outbox_articles="outbox AS o, json_each(o.article_ids) AS j",
        matches="EXISTS (SELECT 1 FROM articles_fts WHERE articles_fts MATCH {query} "
        "AND articles_fts.rowid = a.id)",
    ),
    time_param=db_time,
    time_from=parse_time,
    ids_param=_ids_text,
    ids_from=lambda text: tuple(json.loads(text)),
    style_param=_style_text,
    style_from=lambda text: records.style_from_fields(json.loads(text) if text else None),
)


class SqliteLedger(SqlLedger):
    """``Ledger`` on SQLite."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, DIALECT)
