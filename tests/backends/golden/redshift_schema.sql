CREATE TABLE IF NOT EXISTS posts (
    id VARCHAR(64) NOT NULL,
    subreddit VARCHAR(64) NOT NULL,
    subreddit_id VARCHAR(64),
    author VARCHAR(128),
    author_fullname VARCHAR(64),
    name VARCHAR(64),
    title VARCHAR(65535),
    selftext VARCHAR(65535),
    url VARCHAR(65535),
    domain VARCHAR(1024),
    permalink VARCHAR(4096),
    link_flair_text VARCHAR(1024),
    link_flair_css_class VARCHAR(1024),
    link_flair_template_id VARCHAR(64),
    author_flair_text VARCHAR(65535),
    author_flair_css_class VARCHAR(1024),
    distinguished VARCHAR(64),
    subreddit_type VARCHAR(64),
    subreddit_subscribers BIGINT,
    is_self BOOLEAN,
    is_video BOOLEAN,
    is_original_content BOOLEAN,
    is_gallery BOOLEAN,
    post_hint VARCHAR(64),
    thumbnail VARCHAR(4096),
    crosspost_parent VARCHAR(64),
    num_crossposts BIGINT,
    over_18 BOOLEAN,
    spoiler BOOLEAN,
    locked BOOLEAN,
    stickied BOOLEAN,
    archived BOOLEAN,
    contest_mode BOOLEAN,
    score_hidden BOOLEAN,
    is_deleted BOOLEAN NOT NULL,
    is_removed BOOLEAN NOT NULL,
    removed_by_category VARCHAR(64),
    removal_reason VARCHAR(64),
    is_edited BOOLEAN NOT NULL,
    score BIGINT,
    upvote_ratio DOUBLE PRECISION,
    num_comments BIGINT,
    gilded BIGINT,
    total_awards_received BIGINT,
    created_utc TIMESTAMP NOT NULL,
    edited_utc TIMESTAMP,
    retrieved_on TIMESTAMP,
    updated_on TIMESTAMP,
    extra SUPER,
    dt DATE NOT NULL,
    _retrieved_at TIMESTAMP NOT NULL,
    _source VARCHAR(1024) NOT NULL,
    _run_id VARCHAR(64) NOT NULL,
    _raw_file VARCHAR(1024) NOT NULL,
    _raw_line BIGINT NOT NULL,
    PRIMARY KEY (id)
)
DISTSTYLE KEY DISTKEY (id)
COMPOUND SORTKEY (subreddit, created_utc);

CREATE TABLE IF NOT EXISTS comments (
    id VARCHAR(64) NOT NULL,
    post_id VARCHAR(64) NOT NULL,
    name VARCHAR(64),
    parent_id VARCHAR(64),
    subreddit VARCHAR(64) NOT NULL,
    subreddit_id VARCHAR(64),
    subreddit_type VARCHAR(64),
    author VARCHAR(128),
    author_fullname VARCHAR(64),
    author_flair_text VARCHAR(65535),
    author_flair_css_class VARCHAR(1024),
    body VARCHAR(65535),
    distinguished VARCHAR(64),
    is_submitter BOOLEAN,
    stickied BOOLEAN,
    archived BOOLEAN,
    score_hidden BOOLEAN,
    collapsed BOOLEAN,
    collapsed_reason_code VARCHAR(64),
    is_deleted BOOLEAN NOT NULL,
    is_removed BOOLEAN NOT NULL,
    removed_by_category VARCHAR(64),
    removal_reason VARCHAR(64),
    is_edited BOOLEAN NOT NULL,
    score BIGINT,
    controversiality INTEGER,
    depth INTEGER,
    gilded BIGINT,
    total_awards_received BIGINT,
    created_utc TIMESTAMP NOT NULL,
    edited_utc TIMESTAMP,
    retrieved_on TIMESTAMP,
    updated_on TIMESTAMP,
    extra SUPER,
    dt DATE NOT NULL,
    _retrieved_at TIMESTAMP NOT NULL,
    _source VARCHAR(1024) NOT NULL,
    _run_id VARCHAR(64) NOT NULL,
    _raw_file VARCHAR(1024) NOT NULL,
    _raw_line BIGINT NOT NULL,
    PRIMARY KEY (id)
)
DISTSTYLE KEY DISTKEY (post_id)
COMPOUND SORTKEY (subreddit, created_utc);

CREATE TABLE IF NOT EXISTS post_metrics (
    post_id VARCHAR(64) NOT NULL,
    observed_at TIMESTAMP NOT NULL,
    subreddit VARCHAR(64) NOT NULL,
    score BIGINT,
    upvote_ratio DOUBLE PRECISION,
    num_comments BIGINT,
    dt DATE NOT NULL,
    _retrieved_at TIMESTAMP NOT NULL,
    _source VARCHAR(1024) NOT NULL,
    _run_id VARCHAR(64) NOT NULL,
    _raw_file VARCHAR(1024) NOT NULL,
    _raw_line BIGINT NOT NULL,
    PRIMARY KEY (post_id, observed_at)
)
DISTSTYLE KEY DISTKEY (post_id)
COMPOUND SORTKEY (subreddit, observed_at);

CREATE OR REPLACE VIEW daily_activity AS WITH p AS (
    SELECT subreddit, dt AS day, COUNT(*) AS posts,
           AVG(CAST(score AS DOUBLE PRECISION)) AS mean_post_score
    FROM posts GROUP BY subreddit, dt
), c AS (
    SELECT subreddit, dt AS day, COUNT(*) AS comments
    FROM comments GROUP BY subreddit, dt
), a AS (
    SELECT subreddit, day, COUNT(DISTINCT author) AS distinct_authors FROM (
        SELECT subreddit, dt AS day, author FROM posts WHERE author IS NOT NULL
        UNION ALL
        SELECT subreddit, dt AS day, author FROM comments WHERE author IS NOT NULL
    ) AS authors GROUP BY subreddit, day
), d AS (
    SELECT subreddit, day FROM p UNION SELECT subreddit, day FROM c
)
SELECT d.subreddit, d.day,
       COALESCE(p.posts, 0) AS posts,
       COALESCE(c.comments, 0) AS comments,
       COALESCE(a.distinct_authors, 0) AS distinct_authors,
       p.mean_post_score
FROM d
LEFT JOIN p ON p.subreddit = d.subreddit AND p.day = d.day
LEFT JOIN c ON c.subreddit = d.subreddit AND c.day = d.day
LEFT JOIN a ON a.subreddit = d.subreddit AND a.day = d.day;

CREATE OR REPLACE VIEW top_posts_daily AS SELECT subreddit, day, rank, id, title, score, num_comments, permalink FROM (
    SELECT subreddit, dt AS day, id, title, score, num_comments, permalink,
           ROW_NUMBER() OVER (PARTITION BY subreddit, dt
                              ORDER BY score DESC NULLS LAST, num_comments DESC NULLS LAST, id)
               AS rank
    FROM posts
) AS ranked
WHERE rank <= 10;
