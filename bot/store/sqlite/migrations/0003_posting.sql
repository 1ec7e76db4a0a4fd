-- Posting: the delivery ledger (the truth of what each channel got), the outbox (messages
-- about to be sent, so a restart resends them with the same nonce instead of posting
-- twice), the backlog picked for a new subscription, refused articles, and each
-- subscription's mode.

ALTER TABLE subscriptions ADD COLUMN mode TEXT NOT NULL DEFAULT 'each'
    CHECK (mode IN ('each', 'digest'));

CREATE TABLE deliveries (
    article_id   INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    channel_id   INTEGER NOT NULL,
    guild_id     INTEGER NOT NULL,
    message_id   INTEGER NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (article_id, channel_id)
) WITHOUT ROWID;
CREATE INDEX deliveries_channel ON deliveries (channel_id, delivered_at);

CREATE TABLE outbox (
    nonce       TEXT PRIMARY KEY,                 -- sent with the message; Discord drops repeats
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER NOT NULL,
    article_ids TEXT NOT NULL,                    -- JSON list, in message order
    created_at  TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX outbox_channel ON outbox (channel_id);

CREATE TABLE backfill (
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    article_id      INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    PRIMARY KEY (subscription_id, article_id)
) WITHOUT ROWID;

-- Articles Discord refused in every form for a channel (malformed even as a bare link):
-- never retried there, so that one bad article cannot block a channel.
CREATE TABLE refusals (
    article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    refused_at TEXT NOT NULL,
    PRIMARY KEY (article_id, channel_id)
) WITHOUT ROWID;

CREATE INDEX articles_loaded_at ON articles (loaded_at);
