-- Loading inserts article topics a batch at a time. Keeping topic counts, spellings, names
-- and quality counts row by row in triggers was 90% of the cost of that insert, so the
-- store now adds a batch's counts itself, in a few statements (Store._count_topics).
-- Deleting an article's topics still keeps every count by trigger, as before.

DROP TRIGGER article_topics_ai;
DROP TRIGGER article_topics_ai_quality;
DROP TRIGGER topic_spellings_added;
DROP TRIGGER topic_spellings_changed;

-- The displayed name follows the most used spelling (ties: the alphabetically first).
DROP TRIGGER article_topics_ad;
CREATE TRIGGER article_topics_ad AFTER DELETE ON article_topics BEGIN
    UPDATE topics SET article_count = article_count - 1 WHERE id = old.topic_id;
    UPDATE topic_spellings SET uses = uses - 1
        WHERE topic_id = old.topic_id AND spelling = old.spelling;
    DELETE FROM topic_spellings
        WHERE topic_id = old.topic_id AND spelling = old.spelling AND uses <= 0;
    UPDATE topics SET name = coalesce((
        SELECT spelling FROM topic_spellings WHERE topic_id = old.topic_id
        ORDER BY uses DESC, spelling LIMIT 1
    ), name) WHERE id = old.topic_id;
END;
