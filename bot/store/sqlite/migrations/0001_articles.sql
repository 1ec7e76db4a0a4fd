-- Articles, their providers, topics and related coverage, a full-text index, and the
-- ledger of loaded files that makes loading incremental.

CREATE TABLE providers (
    id            INTEGER PRIMARY KEY,
    domain        TEXT NOT NULL UNIQUE,            -- identity: lower-case host, no "www."
    name          TEXT NOT NULL,                   -- label: the name last seen for the domain
    article_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX providers_name ON providers (name COLLATE NOCASE);

CREATE TABLE articles (
    id               INTEGER PRIMARY KEY,
    url              TEXT NOT NULL UNIQUE,         -- canonical URL: the article's identity
    original_url     TEXT,
    web_url          TEXT,
    title            TEXT NOT NULL,
    excerpt          TEXT NOT NULL DEFAULT '',
    category         TEXT,
    type             TEXT,
    published_at     TEXT NOT NULL,                -- UTC 'YYYY-MM-DDTHH:MM:SS.ffffffZ': sorts as text
    quality          INTEGER CHECK (quality BETWEEN 0 AND 100),  -- NULL: unknown
    heat             INTEGER,                      -- NULL: unknown
    source_published INTEGER NOT NULL DEFAULT 0 CHECK (source_published IN (0, 1)),
    provider_id      INTEGER NOT NULL REFERENCES providers (id),
    images           TEXT NOT NULL DEFAULT '[]',   -- JSON list
    secured          TEXT,                         -- opaque, kept verbatim, never shown
    extra            TEXT NOT NULL DEFAULT '{}',   -- JSON: fields newsbot does not know
    body             TEXT NOT NULL DEFAULT '',
    source_path      TEXT,                         -- the file it was last loaded from
    loaded_at        TEXT NOT NULL,                -- first stored
    updated_at       TEXT NOT NULL                 -- last stored
);
CREATE INDEX articles_published_at ON articles (published_at DESC);
CREATE INDEX articles_provider ON articles (provider_id, published_at DESC);

CREATE TABLE topics (
    id            INTEGER PRIMARY KEY,
    key           TEXT NOT NULL UNIQUE,            -- case-folded, spaces collapsed
    name          TEXT NOT NULL,                   -- the most common spelling
    article_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE topic_spellings (
    topic_id INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    spelling TEXT NOT NULL,
    uses     INTEGER NOT NULL,
    PRIMARY KEY (topic_id, spelling)
) WITHOUT ROWID;

-- published_at and quality are copied from the article so a topic's page is one index range.
CREATE TABLE article_topics (
    article_id   INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    topic_id     INTEGER NOT NULL REFERENCES topics (id),
    position     INTEGER NOT NULL,                 -- the topic's place in the article's list
    spelling     TEXT NOT NULL,
    published_at TEXT NOT NULL,
    quality      INTEGER,
    PRIMARY KEY (article_id, topic_id)
) WITHOUT ROWID;
CREATE INDEX article_topics_newest ON article_topics (topic_id, published_at DESC, article_id);

CREATE TABLE related (
    article_id   INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    title        TEXT NOT NULL,
    url          TEXT NOT NULL,
    excerpt      TEXT NOT NULL DEFAULT '',
    published_at TEXT,
    provider     TEXT,                             -- JSON {name, domain} or NULL
    quality      INTEGER,
    type         TEXT,
    amp_url      TEXT,
    cdn_amp_url  TEXT,
    images       TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (article_id, position)
) WITHOUT ROWID;

CREATE VIRTUAL TABLE articles_fts USING fts5 (
    title, excerpt,
    content = 'articles', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TABLE source_files (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    digest   TEXT NOT NULL,                        -- of the bytes, to tell a touch from an edit
    url      TEXT NOT NULL                         -- the article the file holds
) WITHOUT ROWID;

-- Counts and the full-text index follow the rows, whatever statement changes them.

CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts (rowid, title, excerpt) VALUES (new.id, new.title, new.excerpt);
    UPDATE providers SET article_count = article_count + 1 WHERE id = new.provider_id;
END;

CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, excerpt)
        VALUES ('delete', old.id, old.title, old.excerpt);
    UPDATE providers SET article_count = article_count - 1 WHERE id = old.provider_id;
END;

CREATE TRIGGER articles_au_text AFTER UPDATE OF title, excerpt ON articles
WHEN old.title IS NOT new.title OR old.excerpt IS NOT new.excerpt BEGIN
    INSERT INTO articles_fts (articles_fts, rowid, title, excerpt)
        VALUES ('delete', old.id, old.title, old.excerpt);
    INSERT INTO articles_fts (rowid, title, excerpt) VALUES (new.id, new.title, new.excerpt);
END;

CREATE TRIGGER articles_au_rank AFTER UPDATE OF published_at, quality ON articles BEGIN
    UPDATE article_topics SET published_at = new.published_at, quality = new.quality
        WHERE article_id = new.id;
END;

CREATE TRIGGER articles_au_provider AFTER UPDATE OF provider_id ON articles
WHEN old.provider_id IS NOT new.provider_id BEGIN
    UPDATE providers SET article_count = article_count - 1 WHERE id = old.provider_id;
    UPDATE providers SET article_count = article_count + 1 WHERE id = new.provider_id;
END;

CREATE TRIGGER article_topics_ai AFTER INSERT ON article_topics BEGIN
    UPDATE topics SET article_count = article_count + 1 WHERE id = new.topic_id;
    INSERT INTO topic_spellings (topic_id, spelling, uses) VALUES (new.topic_id, new.spelling, 1)
        ON CONFLICT (topic_id, spelling) DO UPDATE SET uses = uses + 1;
END;

CREATE TRIGGER article_topics_ad AFTER DELETE ON article_topics BEGIN
    UPDATE topics SET article_count = article_count - 1 WHERE id = old.topic_id;
    UPDATE topic_spellings SET uses = uses - 1
        WHERE topic_id = old.topic_id AND spelling = old.spelling;
    DELETE FROM topic_spellings
        WHERE topic_id = old.topic_id AND spelling = old.spelling AND uses <= 0;
END;

-- The displayed name follows the most used spelling (ties: the alphabetically first).
CREATE TRIGGER topic_spellings_changed AFTER UPDATE OF uses ON topic_spellings BEGIN
    UPDATE topics SET name = (
        SELECT spelling FROM topic_spellings WHERE topic_id = new.topic_id
        ORDER BY uses DESC, spelling LIMIT 1
    ) WHERE id = new.topic_id;
END;

CREATE TRIGGER topic_spellings_added AFTER INSERT ON topic_spellings BEGIN
    UPDATE topics SET name = (
        SELECT spelling FROM topic_spellings WHERE topic_id = new.topic_id
        ORDER BY uses DESC, spelling LIMIT 1
    ) WHERE id = new.topic_id;
END;
