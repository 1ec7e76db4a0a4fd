"""The SQL that SQLite and PostgreSQL both run as written, kept once, by concern.

Written with ``?`` placeholders: SQLite binds them as they are, and the PostgreSQL backend
numbers them ``$1``, ``$2``, ... (``bot.store.postgres.database.numbered``). Parameters are
the same in both, but for times (SQLite: sortable UTC text; PostgreSQL: datetimes) and an
outbox message's article ids (SQLite: a JSON list; PostgreSQL: a bigint array): each
backend converts those itself.

What the two databases spell differently stays in the backend and is named there: full
text search, JSON, arrays, batch inserts, substring positions and case-insensitive
comparisons. A statement here with a ``{name}`` hole takes such a fragment from each
backend (``OUTBOX_ARTICLES``: an outbox message's articles as rows).
"""

from __future__ import annotations

# -- state --------------------------------------------------------------------------------

STATE_GET = "SELECT value FROM state WHERE key = ?"
STATE_SET = (
    "INSERT INTO state (key, value) VALUES (?, ?) "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

# -- source files -------------------------------------------------------------------------

SOURCE_FILES = "SELECT path, size, mtime_ns, digest FROM source_files"
TOUCH_SOURCE_FILE = "UPDATE source_files SET size = ?, mtime_ns = ? WHERE path = ?"
# Remembering a file again replaces what was known of it (after "INSERT ... (path, size,
# mtime_ns, digest, url)", one row at a time or a batch at once).
SOURCE_FILE_KNOWN_AGAIN = (
    "ON CONFLICT (path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
    "digest = excluded.digest, url = excluded.url"
)

# -- subscriptions ------------------------------------------------------------------------

SUBSCRIPTIONS = (
    "SELECT id, guild_id, channel_id, topic_name, min_quality, created_at, created_by, mode, "
    "paused_reason, paused_at, include_query, exclude_query, mention_role_id, same_story, "
    "max_per_day, style, thread FROM subscriptions"
)
# A subscription's options but its filters. Parameters: the options, then its id.
SET_OPTIONS = (
    "UPDATE subscriptions SET include_query = ?, exclude_query = ?, mention_role_id = ?, "
    "same_story = ?, max_per_day = ?, style = ?, thread = ? WHERE id = ?"
)
# {include}, {exclude}: each backend's compiled filter (or NULL). Parameters: theirs, then id.
SET_FILTERS = (
    "UPDATE subscriptions SET include_match = {include}, exclude_match = {exclude} WHERE id = ?"
)
FILTERED_SUBSCRIPTIONS = (
    "SELECT id, include_query, exclude_query FROM subscriptions "
    "WHERE include_query IS NOT NULL OR exclude_query IS NOT NULL"
)
SUBSCRIPTION_PROVIDERS = "SELECT subscription_id, rule, domain FROM subscription_providers"
CLEAR_PROVIDERS = "DELETE FROM subscription_providers WHERE subscription_id = ?"
ADD_PROVIDER = (
    "INSERT INTO subscription_providers (subscription_id, rule, domain) VALUES (?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)
SUBSCRIPTION_ID = "SELECT id FROM subscriptions WHERE channel_id = ? AND topic_key = ?"
SUBSCRIBE = (
    "INSERT INTO subscriptions (guild_id, channel_id, topic_key, topic_name, "
    "min_quality, created_at, created_by, mode) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (channel_id, topic_key) DO UPDATE SET "
    "min_quality = excluded.min_quality, topic_name = excluded.topic_name, "
    "mode = excluded.mode"
)
# A new subscription's backlog: the best of the topic's BACKLOG_WINDOW newest postable
# articles; the rules read it back (bot.store.due), its candidates made with ``due.fill``.
# Parameters: topic key, min quality, window, channel id, topic key, how many.
PICK_BACKFILL = """
INSERT INTO backfill (subscription_id, article_id)
SELECT s.id, recent.id FROM subscriptions AS s, (
    SELECT a.id, a.quality, a.published_at
    FROM article_topics AS at JOIN articles AS a ON a.id = at.article_id
    WHERE at.topic_id = (SELECT id FROM topics WHERE key = ?)
      AND NOT a.source_published AND a.quality >= ?
    ORDER BY a.published_at DESC LIMIT ?
) AS recent
WHERE s.channel_id = ? AND s.topic_key = ?
ORDER BY recent.quality DESC, recent.published_at DESC LIMIT ?
"""
UNSUBSCRIBE = "DELETE FROM subscriptions WHERE guild_id = ? AND channel_id = ? AND topic_key = ?"
PAUSE = "UPDATE subscriptions SET paused_reason = ?, paused_at = ? WHERE id = ?"
RESUME = "UPDATE subscriptions SET paused_reason = NULL, paused_at = NULL WHERE id = ?"
# {column}: channel_id or guild_id. The outbox's messages to those channels go too:
# nobody would receive them.
REMOVE_OUTBOX_OF = "DELETE FROM outbox WHERE {column} = ?"
REMOVE_SUBSCRIPTIONS_OF = "DELETE FROM subscriptions WHERE {column} = ?"

# -- the posting ledger -------------------------------------------------------------------

# What is due where: bot.store.due, from its one list of rules.

# Parameters: message id, time, nonce.
RECORD_DELIVERY = """
INSERT INTO deliveries (article_id, channel_id, guild_id, message_id, delivered_at)
SELECT j.value, o.channel_id, o.guild_id, ?, ?
FROM {outbox_articles}
WHERE o.nonce = ? AND EXISTS (SELECT 1 FROM articles WHERE id = j.value)
ON CONFLICT (article_id, channel_id) DO NOTHING
"""
# Parameters: reason, time, nonce.
RECORD_REFUSAL = """
INSERT INTO refusals (article_id, channel_id, reason, refused_at)
SELECT j.value, o.channel_id, ?, ?
FROM {outbox_articles}
WHERE o.nonce = ? AND EXISTS (SELECT 1 FROM articles WHERE id = j.value)
ON CONFLICT (article_id, channel_id) DO NOTHING
"""
OUTBOX = "SELECT nonce, guild_id, channel_id, article_ids, created_at, attempts, style FROM outbox"
ADD_OUTBOX = (
    "INSERT INTO outbox (nonce, guild_id, channel_id, article_ids, created_at, style) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (nonce) DO NOTHING"
)
DROP_OUTBOX = "DELETE FROM outbox WHERE nonce = ?"
COUNT_OUTBOX_ATTEMPT = "UPDATE outbox SET attempts = attempts + 1 WHERE nonce = ?"
DELIVERIES = "SELECT article_id, channel_id, guild_id, message_id, delivered_at FROM deliveries"
REFUSAL = "SELECT reason FROM refusals WHERE article_id = ? AND channel_id = ?"
IN_BACKFILL = "SELECT 1 FROM backfill WHERE subscription_id = ? AND article_id = ?"

# -- articles -----------------------------------------------------------------------------

COUNT_ARTICLES = "SELECT count(*) FROM articles"
LOADED_AT = "SELECT loaded_at FROM articles WHERE id = ?"
ARTICLE_ID_BY_URL = (
    "SELECT id FROM articles WHERE url = ? OR original_url = ? OR web_url = ? LIMIT 1"
)
NEWEST_ARTICLE_ID = "SELECT max(id) FROM articles"
TOPIC = "SELECT name, article_count FROM topics WHERE key = ? AND article_count > 0"
TOPICS = (
    "SELECT name, article_count FROM topics WHERE article_count > 0 "
    "ORDER BY article_count DESC, key"
)

# A page of articles is an ids query (one column, in page order) and a total query over
# the same parameters. Totals come from the kept counts, not from counting rows.
TOPIC_PAGE = (
    "SELECT article_id FROM article_topics WHERE topic_id = (SELECT id FROM topics WHERE key = ?) "
    "ORDER BY published_at DESC, article_id DESC"
)
TOPIC_TOTAL = "SELECT coalesce(sum(article_count), 0) FROM topics WHERE key = ?"
TOPIC_PAGE_OF_QUALITY = (
    "SELECT article_id FROM article_topics WHERE topic_id = (SELECT id FROM topics WHERE key = ?) "
    "AND quality >= ? ORDER BY published_at DESC, article_id DESC"
)
TOPIC_TOTAL_OF_QUALITY = (
    "SELECT coalesce(sum(article_count), 0) FROM topic_quality_counts "
    "WHERE topic_id = (SELECT id FROM topics WHERE key = ?) AND quality >= ?"
)
LATEST_PAGE = "SELECT id FROM articles ORDER BY published_at DESC, id DESC"
LATEST_TOTAL = "SELECT coalesce(sum(article_count), 0) FROM providers"
LATEST_PAGE_OF_QUALITY = (
    "SELECT id FROM articles WHERE quality >= ? ORDER BY published_at DESC, id DESC"
)
LATEST_TOTAL_OF_QUALITY = (
    "SELECT coalesce(sum(article_count), 0) FROM quality_counts WHERE quality >= ?"
)


def in_list(count: int) -> str:
    """Return ``count`` comma-separated ``?`` placeholders, for an ``IN (...)`` list."""
    return ",".join("?" * count)


def provider_page(providers: int, *, of_quality: bool) -> tuple[str, str]:
    """Return the ids and total queries of ``providers`` provider ids' articles, newest first.

    Parameters: the provider ids, then (``of_quality``) the minimum quality.
    """
    marks = in_list(providers)
    if of_quality:
        where = f"provider_id IN ({marks}) AND quality >= ?"
        total = f"SELECT count(*) FROM articles WHERE {where}"
    else:
        where = f"provider_id IN ({marks})"
        total = f"SELECT coalesce(sum(article_count), 0) FROM providers WHERE id IN ({marks})"
    return f"SELECT id FROM articles WHERE {where} ORDER BY published_at DESC, id DESC", total
