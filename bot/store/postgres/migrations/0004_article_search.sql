-- Search vectors in a narrow table of their own (issue 9). A search visits the rows its
-- GIN index names: in `articles` those rows are 1,900 bytes wide (four to a page, 1.8 GB
-- at 1,000,000 articles), here 700 (eleven to a page, 0.7 GB), so the pages a search
-- visits are fewer and stay in memory. Kept by triggers from each statement's rows, in
-- every way articles are written (the loader's upserts, `newsbot copy`'s inserts).

CREATE TABLE article_search (
    id      bigint PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
    -- The title weighs A and the excerpt B; to rank as SQLite's bm25(articles_fts, 4.0,
    -- 1.0) does, weigh A four times B: ts_rank('{0, 0, 0.25, 1}', search, query).
    search  tsvector NOT NULL
);
INSERT INTO article_search (id, search) SELECT id, search FROM articles ORDER BY id;
CREATE INDEX article_search_search ON article_search USING gin (search);
DROP INDEX articles_search;
ALTER TABLE articles DROP COLUMN search;

CREATE FUNCTION newsbot_index_articles() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO article_search AS s (id, search)
    SELECT id, setweight(to_tsvector('newsbot_english', title), 'A')
               || setweight(to_tsvector('newsbot_english', excerpt), 'B')
    FROM new_rows ORDER BY id
    ON CONFLICT (id) DO UPDATE SET search = excluded.search
        WHERE s.search IS DISTINCT FROM excluded.search;
    RETURN NULL;
END
$$;

CREATE TRIGGER articles_indexed_insert AFTER INSERT ON articles
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION newsbot_index_articles();
CREATE TRIGGER articles_indexed_update AFTER UPDATE ON articles
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION newsbot_index_articles();

ANALYZE article_search;  -- its first searches planned with statistics (autovacuum follows)
