-- Article counts by quality, kept by triggers, so that "how many of at least quality q"
-- (the total of /news latest and of /news topic with min_quality) is a sum over at most
-- 101 rows instead of a scan of every article (or of every article of a topic).

CREATE TABLE quality_counts (
    quality       INTEGER PRIMARY KEY,
    article_count INTEGER NOT NULL
);

CREATE TABLE topic_quality_counts (
    topic_id      INTEGER NOT NULL REFERENCES topics (id),
    quality       INTEGER NOT NULL,
    article_count INTEGER NOT NULL,
    PRIMARY KEY (topic_id, quality)
) WITHOUT ROWID;

INSERT INTO quality_counts (quality, article_count)
    SELECT quality, count(*) FROM articles WHERE quality IS NOT NULL GROUP BY quality;
INSERT INTO topic_quality_counts (topic_id, quality, article_count)
    SELECT topic_id, quality, count(*) FROM article_topics WHERE quality IS NOT NULL
    GROUP BY topic_id, quality;

CREATE TRIGGER articles_ai_quality AFTER INSERT ON articles WHEN new.quality IS NOT NULL BEGIN
    INSERT INTO quality_counts (quality, article_count) VALUES (new.quality, 1)
        ON CONFLICT (quality) DO UPDATE SET article_count = article_count + 1;
END;

CREATE TRIGGER articles_ad_quality AFTER DELETE ON articles WHEN old.quality IS NOT NULL BEGIN
    UPDATE quality_counts SET article_count = article_count - 1 WHERE quality = old.quality;
END;

CREATE TRIGGER articles_au_quality AFTER UPDATE OF quality ON articles
WHEN old.quality IS NOT new.quality BEGIN
    UPDATE quality_counts SET article_count = article_count - 1 WHERE quality = old.quality;
    INSERT INTO quality_counts (quality, article_count)
        SELECT new.quality, 1 WHERE new.quality IS NOT NULL
        ON CONFLICT (quality) DO UPDATE SET article_count = article_count + 1;
END;

CREATE TRIGGER article_topics_ai_quality AFTER INSERT ON article_topics
WHEN new.quality IS NOT NULL BEGIN
    INSERT INTO topic_quality_counts (topic_id, quality, article_count)
        VALUES (new.topic_id, new.quality, 1)
        ON CONFLICT (topic_id, quality) DO UPDATE SET article_count = article_count + 1;
END;

CREATE TRIGGER article_topics_ad_quality AFTER DELETE ON article_topics
WHEN old.quality IS NOT NULL BEGIN
    UPDATE topic_quality_counts SET article_count = article_count - 1
        WHERE topic_id = old.topic_id AND quality = old.quality;
END;

-- articles_au_rank copies a changed quality into article_topics, which fires this.
CREATE TRIGGER article_topics_au_quality AFTER UPDATE OF quality ON article_topics
WHEN old.quality IS NOT new.quality BEGIN
    UPDATE topic_quality_counts SET article_count = article_count - 1
        WHERE topic_id = old.topic_id AND quality = old.quality;
    INSERT INTO topic_quality_counts (topic_id, quality, article_count)
        SELECT new.topic_id, new.quality, 1 WHERE new.quality IS NOT NULL
        ON CONFLICT (topic_id, quality) DO UPDATE SET article_count = article_count + 1;
END;
