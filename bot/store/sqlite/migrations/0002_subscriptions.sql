-- Channel subscriptions to topics, and small key/value state (the hash of the last
-- command sync, so that restarts do not re-sync unchanged commands).

CREATE TABLE subscriptions (
    id            INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL,
    channel_id    INTEGER NOT NULL,
    topic_key     TEXT NOT NULL,                   -- matches topics.key
    topic_name    TEXT NOT NULL,                   -- as shown when subscribing
    min_quality   INTEGER NOT NULL CHECK (min_quality BETWEEN 0 AND 100),
    created_at    TEXT NOT NULL,
    created_by    INTEGER,                         -- Discord user id
    paused_reason TEXT,                            -- NULL while active
    paused_at     TEXT,
    UNIQUE (channel_id, topic_key)
);
CREATE INDEX subscriptions_guild ON subscriptions (guild_id, topic_key);
CREATE INDEX subscriptions_topic ON subscriptions (topic_key);

CREATE TABLE state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
