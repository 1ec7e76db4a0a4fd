-- Subscriptions people can shape, and planning that follows what is new (issue 10). The
-- same tables as SQLite's 0006_rules.sql; PostgreSQL's own: a filter query is compiled
-- to a tsquery column, matched against articles.search.

ALTER TABLE subscriptions
    ADD COLUMN include_query text,
    ADD COLUMN include_match tsquery,                      -- NULL: every article
    ADD COLUMN exclude_query text,
    ADD COLUMN exclude_match tsquery,                      -- NULL: no article
    ADD COLUMN mention_role_id bigint,
    ADD COLUMN same_story text NOT NULL DEFAULT 'skip' CHECK (same_story IN ('skip', 'post')),
    ADD COLUMN max_per_day integer CHECK (max_per_day BETWEEN 1 AND 100),
    ADD COLUMN style text NOT NULL DEFAULT 'embed' CHECK (style IN ('embed', 'compact')),
    ADD COLUMN thread boolean NOT NULL DEFAULT false;

CREATE TABLE subscription_providers (
    subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    rule            text NOT NULL CHECK (rule IN ('only', 'never')),
    domain          text COLLATE "C" NOT NULL,          -- matches providers.domain
    PRIMARY KEY (subscription_id, rule, domain)
);

ALTER TABLE related ADD COLUMN story_url text COLLATE "C";
UPDATE related SET story_url = url;
CREATE INDEX related_story ON related (story_url);

ALTER TABLE outbox ADD COLUMN style jsonb;                 -- a DeliveryStyle; NULL: plain

CREATE TABLE candidates (
    channel_id      bigint NOT NULL,
    article_id      bigint NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, article_id, subscription_id)
);
CREATE INDEX candidates_subscription ON candidates (subscription_id);
CREATE INDEX candidates_article ON candidates (article_id);

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
    guild_id   bigint PRIMARY KEY,
    channel_id bigint NOT NULL,
    set_by     bigint,                                     -- Discord user id
    failure    text,                                       -- why the last alert failed
    failed_at  timestamptz
);
