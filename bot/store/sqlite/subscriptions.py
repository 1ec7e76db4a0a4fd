"""Channel subscriptions in SQLite: ``bot.store.subscriptions`` with SQLite's spellings.

SQLite's own here: times as sortable text, a filter query compiled to an FTS5 MATCH
expression (bound as text), ``instr`` in suggestions, and a cursor's ``rowcount``.
"""

from __future__ import annotations

from typing import Any

from bot.store.fulltext import FilterQuery
from bot.store.sqlite import fulltext
from bot.store.sqlite.database import Database, db_time, parse_time
from bot.store.sqlite.ledger import DIALECT as LEDGER
from bot.store.subscriptions import SqlSubscriptions, SubscriptionDialect


def _filter(query: FilterQuery) -> tuple[str, list[Any]]:
    return "?", [fulltext.filter_expression(query)]


DIALECT = SubscriptionDialect(
    due=LEDGER.due,
    time_param=db_time,
    time_from=parse_time,
    compile_filter=_filter,
    # A topic's name: any of its subscriptions' (a bare column beside GROUP BY).
    suggest_topics=(
        "SELECT topic_name FROM subscriptions WHERE guild_id = ? AND instr(topic_key, ?) > 0 "
        "GROUP BY topic_key ORDER BY instr(topic_key, ?) != 1, count(*) DESC, topic_key "
        "LIMIT ?"
    ),
    rowcount=lambda cursor: int(cursor.rowcount),
    subscribing=lambda database: database.transaction(),
)


class SqliteSubscriptions(SqlSubscriptions):
    """``SubscriptionStore`` on SQLite."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, DIALECT)
