"""Channel subscriptions in PostgreSQL: ``bot.store.subscriptions`` with its spellings.

PostgreSQL's own here: times as datetimes, a filter query compiled to a tsquery
(``bot.store.postgres.fulltext``), ``strpos`` in suggestions, a write's status count, and
subscribing while taking turns, as SQLite's writers all do: whether a subscription is new
stays true until the end.
"""

from __future__ import annotations

from bot.store.postgres import fulltext
from bot.store.postgres.database import Database
from bot.store.postgres.ledger import DIALECT as LEDGER
from bot.store.subscriptions import SqlSubscriptions, SubscriptionDialect

DIALECT = SubscriptionDialect(
    due=LEDGER.due,
    time_param=LEDGER.time_param,
    time_from=LEDGER.time_from,
    compile_filter=fulltext.filter_tsquery,
    # A topic's name: the first subscription's (by id).
    suggest_topics=(
        "SELECT (array_agg(topic_name ORDER BY id))[1] AS topic_name FROM subscriptions "
        "WHERE guild_id = ? AND strpos(topic_key, ?) > 0 "
        "GROUP BY topic_key ORDER BY strpos(topic_key, ?) != 1, count(*) DESC, topic_key "
        "LIMIT ?"
    ),
    rowcount=int,
    subscribing=lambda database: database.transaction(take_turns=True),
)


class PostgresSubscriptions(SqlSubscriptions):
    """``SubscriptionStore`` on PostgreSQL."""

    def __init__(self, database: Database) -> None:
        super().__init__(database, DIALECT)
