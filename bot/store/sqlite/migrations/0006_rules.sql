-- Subscriptions people can shape, and planning that follows what is new (issue 10).
--
-- - A subscription's options: include/exclude filter queries (as shown, and compiled to
--   FTS5 MATCH expressions), provider lists, a role to mention, same-story handling, a
--   daily cap, a style, threads.
-- - related.story_url: the canonical URL of a related item, so that "same story" compares
--   it with articles.url. Rows stored before are given their URL as it was written.
-- - outbox.style: how an unconfirmed message shows, so that a resend shows the same.
-- - candidates: (channel, article, subscription) pairs that may be due: added when an
--   article on the subscription's topic is stored (or picked as its backfill, or when its
--   options change), removed when delivered, refused, or found never to be due. Planning
--   a run reads these, not the whole archive; bot.store.due decides what is due.
-- - alert_channels: where a server wants to hear that posting stopped or resumed.

ALTER TABLE subscriptions ADD COLUMN include_query TEXT;
ALTER TABLE subscriptions ADD COLUMN include_match TEXT;      -- FTS5 expression; NULL: all
ALTER TABLE subscriptions ADD COLUMN exclude_query TEXT;
ALTER TABLE subscriptions ADD COLUMN exclude_match TEXT;      -- FTS5 expression; NULL: none
ALTER TABLE subscriptions ADD COLUMN mention_role_id INTEGER;
ALTER TABLE subscriptions ADD COLUMN same_story TEXT NOT NULL DEFAULT 'skip'
    CHECK (same_story IN ('skip', 'post'));
ALTER TABLE subscriptions ADD COLUMN max_per_day INTEGER CHECK (max_per_day BETWEEN 1 AND 100);
ALTER TABLE subscriptions ADD COLUMN style TEXT NOT NULL DEFAULT 'embed'
    CHECK (style IN ('embed', 'compact'));
ALTER TABLE subscriptions ADD COLUMN thread INTEGER NOT NULL DEFAULT 0 CHECK (thread IN (0, 1));

CREATE TABLE subscription_providers (
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    rule            TEXT NOT NULL CHECK (rule IN ('only', 'never')),
    domain          TEXT NOT NULL,                 -- matches providers.domain
    PRIMARY KEY (subscription_id, rule, domain)
) WITHOUT ROWID;

ALTER TABLE related ADD COLUMN story_url TEXT;
UPDATE related SET story_url = url;
CREATE INDEX related_story ON related (story_url);

ALTER TABLE outbox ADD COLUMN style TEXT;              -- JSON of a DeliveryStyle; NULL: plain

CREATE TABLE candidates (
    channel_id      INTEGER NOT NULL,
    article_id      INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, article_id, subscription_id)
) WITHOUT ROWID;
CREATE INDEX candidates_subscription ON candidates (subscription_id);
CREATE INDEX candidates_article ON candidates (article_id);

-- What the earlier rule made due (on the topic, not published at the source, of enough
-- quality, loaded after the subscription or in its backfill, neither delivered nor refused).
INSERT INTO candidates (channel_id, article_id, subscription_id)
SELECT s.channel_id, a.id, s.id FROM subscriptions AS s
JOIN topics AS t ON t.key = s.topic_key
JOIN article_topics AS at ON at.topic_id = t.id
JOIN articles AS a ON a.id = at.article_id
WHERE NOT a.source_published AND a.quality >= s.min_quality
  AND (a.loaded_at >= s.created_at OR EXISTS (
        SELECT 1 FROM backfill AS b WHERE b.subscription_id = s.id AND b.article_id = a.id))
  AND NOT EXISTS (
        SELECT 1 FROM deliveries AS d WHERE d.article_id = a.id AND d.channel_id = s.channel_id)
  AND NOT EXISTS (
        SELECT 1 FROM refusals AS r WHERE r.article_id = a.id AND r.channel_id = s.channel_id);

CREATE TABLE alert_channels (
    guild_id   INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    set_by     INTEGER,                                -- Discord user id
    failure    TEXT,                                   -- why the last alert failed; NULL: it went
    failed_at  TEXT
);
