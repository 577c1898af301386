CREATE TEMP TABLE snoopipe_file_posts (
    id VARCHAR(64),
    subreddit VARCHAR(64),
    subreddit_id VARCHAR(64),
    author VARCHAR(128),
    author_fullname VARCHAR(64),
    title VARCHAR(65535),
    selftext VARCHAR(65535),
    url VARCHAR(65535),
    domain VARCHAR(1024),
    permalink VARCHAR(4096),
    link_flair_text VARCHAR(1024),
    distinguished VARCHAR(64),
    is_self BOOLEAN,
    over_18 BOOLEAN,
    spoiler BOOLEAN,
    locked BOOLEAN,
    stickied BOOLEAN,
    is_deleted BOOLEAN,
    is_removed BOOLEAN,
    is_edited BOOLEAN,
    score BIGINT,
    upvote_ratio DOUBLE PRECISION,
    num_comments BIGINT,
    created_utc TIMESTAMP,
    edited_utc TIMESTAMP,
    dt DATE,
    _retrieved_at TIMESTAMP,
    _source VARCHAR(1024),
    _run_id VARCHAR(64),
    _raw_file VARCHAR(1024),
    _raw_line BIGINT
);

CREATE TEMP TABLE snoopipe_stage_posts (
    id VARCHAR(64),
    subreddit VARCHAR(64),
    subreddit_id VARCHAR(64),
    author VARCHAR(128),
    author_fullname VARCHAR(64),
    title VARCHAR(65535),
    selftext VARCHAR(65535),
    url VARCHAR(65535),
    domain VARCHAR(1024),
    permalink VARCHAR(4096),
    link_flair_text VARCHAR(1024),
    distinguished VARCHAR(64),
    is_self BOOLEAN,
    over_18 BOOLEAN,
    spoiler BOOLEAN,
    locked BOOLEAN,
    stickied BOOLEAN,
    is_deleted BOOLEAN,
    is_removed BOOLEAN,
    is_edited BOOLEAN,
    score BIGINT,
    upvote_ratio DOUBLE PRECISION,
    num_comments BIGINT,
    created_utc TIMESTAMP,
    edited_utc TIMESTAMP,
    dt DATE,
    _retrieved_at TIMESTAMP,
    _source VARCHAR(1024),
    _run_id VARCHAR(64),
    _raw_file VARCHAR(1024),
    _raw_line BIGINT
);

COPY snoopipe_file_posts FROM 's3://my-lake-bucket/snoopipe/manifests/redshift/posts/c26b4a36cf64df769e35f22c.manifest' IAM_ROLE 'arn:aws:iam::123456789012:role/snoopipe-redshift-copy' FORMAT AS PARQUET MANIFEST;

INSERT INTO snoopipe_stage_posts (id, subreddit, subreddit_id, author, author_fullname, title, selftext, url, domain, permalink, link_flair_text, distinguished, is_self, over_18, spoiler, locked, stickied, is_deleted, is_removed, is_edited, score, upvote_ratio, num_comments, created_utc, edited_utc, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line)
SELECT id, subreddit, subreddit_id, author, author_fullname, title, selftext, url, domain, permalink, link_flair_text, distinguished, is_self, over_18, spoiler, locked, stickied, is_deleted, is_removed, is_edited, score, upvote_ratio, num_comments, created_utc, edited_utc, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line
FROM snoopipe_file_posts WHERE _run_id IN ('run-1', 'run-2');

SELECT _run_id, COUNT(*) FROM snoopipe_stage_posts GROUP BY _run_id ORDER BY _run_id;

CREATE TEMP TABLE snoopipe_src_posts AS SELECT id, subreddit, subreddit_id, author, author_fullname, title, selftext, url, domain, permalink, link_flair_text, distinguished, is_self, over_18, spoiler, locked, stickied, is_deleted, is_removed, is_edited, score, upvote_ratio, num_comments, created_utc, edited_utc, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line FROM (SELECT id, subreddit, subreddit_id, author, author_fullname, title, selftext, url, domain, permalink, link_flair_text, distinguished, is_self, over_18, spoiler, locked, stickied, is_deleted, is_removed, is_edited, score, upvote_ratio, num_comments, created_utc, edited_utc, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line, ROW_NUMBER() OVER (PARTITION BY id ORDER BY _retrieved_at DESC, _source DESC, _raw_file DESC, _raw_line DESC) AS _snoopipe_rn FROM snoopipe_stage_posts) AS latest WHERE _snoopipe_rn = 1;

DELETE FROM snoopipe_src_posts USING posts WHERE posts.id = snoopipe_src_posts.id AND posts._retrieved_at > snoopipe_src_posts._retrieved_at;

MERGE INTO posts USING snoopipe_src_posts AS src ON posts.id = src.id
WHEN MATCHED THEN UPDATE SET subreddit = src.subreddit, subreddit_id = src.subreddit_id, author = src.author, author_fullname = src.author_fullname, title = src.title, selftext = src.selftext, url = src.url, domain = src.domain, permalink = src.permalink, link_flair_text = src.link_flair_text, distinguished = src.distinguished, is_self = src.is_self, over_18 = src.over_18, spoiler = src.spoiler, locked = src.locked, stickied = src.stickied, is_deleted = src.is_deleted, is_removed = src.is_removed, is_edited = src.is_edited, score = src.score, upvote_ratio = src.upvote_ratio, num_comments = src.num_comments, created_utc = src.created_utc, edited_utc = src.edited_utc, dt = src.dt, _retrieved_at = src._retrieved_at, _source = src._source, _run_id = src._run_id, _raw_file = src._raw_file, _raw_line = src._raw_line
WHEN NOT MATCHED THEN INSERT (id, subreddit, subreddit_id, author, author_fullname, title, selftext, url, domain, permalink, link_flair_text, distinguished, is_self, over_18, spoiler, locked, stickied, is_deleted, is_removed, is_edited, score, upvote_ratio, num_comments, created_utc, edited_utc, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line) VALUES (src.id, src.subreddit, src.subreddit_id, src.author, src.author_fullname, src.title, src.selftext, src.url, src.domain, src.permalink, src.link_flair_text, src.distinguished, src.is_self, src.over_18, src.spoiler, src.locked, src.stickied, src.is_deleted, src.is_removed, src.is_edited, src.score, src.upvote_ratio, src.num_comments, src.created_utc, src.edited_utc, src.dt, src._retrieved_at, src._source, src._run_id, src._raw_file, src._raw_line);

SELECT COUNT(*) FROM snoopipe_src_posts;

DROP TABLE snoopipe_src_posts;

DROP TABLE snoopipe_stage_posts;

DROP TABLE snoopipe_file_posts;

CREATE TEMP TABLE snoopipe_file_comments (
    id VARCHAR(64),
    post_id VARCHAR(64),
    parent_id VARCHAR(64),
    subreddit VARCHAR(64),
    subreddit_id VARCHAR(64),
    author VARCHAR(128),
    author_fullname VARCHAR(64),
    body VARCHAR(65535),
    distinguished VARCHAR(64),
    is_submitter BOOLEAN,
    stickied BOOLEAN,
    is_deleted BOOLEAN,
    is_removed BOOLEAN,
    is_edited BOOLEAN,
    score BIGINT,
    controversiality INTEGER,
    depth INTEGER,
    created_utc TIMESTAMP,
    edited_utc TIMESTAMP,
    dt DATE,
    _retrieved_at TIMESTAMP,
    _source VARCHAR(1024),
    _run_id VARCHAR(64),
    _raw_file VARCHAR(1024),
    _raw_line BIGINT
);

CREATE TEMP TABLE snoopipe_stage_comments (
    id VARCHAR(64),
    post_id VARCHAR(64),
    parent_id VARCHAR(64),
    subreddit VARCHAR(64),
    subreddit_id VARCHAR(64),
    author VARCHAR(128),
    author_fullname VARCHAR(64),
    body VARCHAR(65535),
    distinguished VARCHAR(64),
    is_submitter BOOLEAN,
    stickied BOOLEAN,
    is_deleted BOOLEAN,
    is_removed BOOLEAN,
    is_edited BOOLEAN,
    score BIGINT,
    controversiality INTEGER,
    depth INTEGER,
    created_utc TIMESTAMP,
    edited_utc TIMESTAMP,
    dt DATE,
    _retrieved_at TIMESTAMP,
    _source VARCHAR(1024),
    _run_id VARCHAR(64),
    _raw_file VARCHAR(1024),
    _raw_line BIGINT
);

COPY snoopipe_file_comments FROM 's3://my-lake-bucket/snoopipe/manifests/redshift/comments/26873df089d9ab919b782b70.manifest' IAM_ROLE 'arn:aws:iam::123456789012:role/snoopipe-redshift-copy' FORMAT AS PARQUET MANIFEST;

INSERT INTO snoopipe_stage_comments (id, post_id, parent_id, subreddit, subreddit_id, author, author_fullname, body, distinguished, is_submitter, stickied, is_deleted, is_removed, is_edited, score, controversiality, depth, created_utc, edited_utc, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line)
SELECT id, post_id, parent_id, subreddit, subreddit_id, author, author_fullname, body, distinguished, is_submitter, stickied, is_deleted, is_removed, is_edited, score, controversiality, depth, created_utc, edited_utc, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line
FROM snoopipe_file_comments WHERE _run_id IN ('run-1', 'run-2');

SELECT _run_id, COUNT(*) FROM snoopipe_stage_comments GROUP BY _run_id ORDER BY _run_id;

CREATE TEMP TABLE snoopipe_src_comments AS SELECT id, post_id, parent_id, subreddit, subreddit_id, author, author_fullname, body, distinguished, is_submitter, stickied, is_deleted, is_removed, is_edited, score, controversiality, depth, created_utc, edited_utc, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line FROM (SELECT id, post_id, parent_id, subreddit, subreddit_id, author, author_fullname, body, distinguished, is_submitter, stickied, is_deleted, is_removed, is_edited, score, controversiality, depth, created_utc, edited_utc, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line, ROW_NUMBER() OVER (PARTITION BY id ORDER BY _retrieved_at DESC, _source DESC, _raw_file DESC, _raw_line DESC) AS _snoopipe_rn FROM snoopipe_stage_comments) AS latest WHERE _snoopipe_rn = 1;

DELETE FROM snoopipe_src_comments USING comments WHERE comments.id = snoopipe_src_comments.id AND comments._retrieved_at > snoopipe_src_comments._retrieved_at;

MERGE INTO comments USING snoopipe_src_comments AS src ON comments.id = src.id
WHEN MATCHED THEN UPDATE SET post_id = src.post_id, parent_id = src.parent_id, subreddit = src.subreddit, subreddit_id = src.subreddit_id, author = src.author, author_fullname = src.author_fullname, body = src.body, distinguished = src.distinguished, is_submitter = src.is_submitter, stickied = src.stickied, is_deleted = src.is_deleted, is_removed = src.is_removed, is_edited = src.is_edited, score = src.score, controversiality = src.controversiality, depth = src.depth, created_utc = src.created_utc, edited_utc = src.edited_utc, dt = src.dt, _retrieved_at = src._retrieved_at, _source = src._source, _run_id = src._run_id, _raw_file = src._raw_file, _raw_line = src._raw_line
WHEN NOT MATCHED THEN INSERT (id, post_id, parent_id, subreddit, subreddit_id, author, author_fullname, body, distinguished, is_submitter, stickied, is_deleted, is_removed, is_edited, score, controversiality, depth, created_utc, edited_utc, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line) VALUES (src.id, src.post_id, src.parent_id, src.subreddit, src.subreddit_id, src.author, src.author_fullname, src.body, src.distinguished, src.is_submitter, src.stickied, src.is_deleted, src.is_removed, src.is_edited, src.score, src.controversiality, src.depth, src.created_utc, src.edited_utc, src.dt, src._retrieved_at, src._source, src._run_id, src._raw_file, src._raw_line);

SELECT COUNT(*) FROM snoopipe_src_comments;

DROP TABLE snoopipe_src_comments;

DROP TABLE snoopipe_stage_comments;

DROP TABLE snoopipe_file_comments;

CREATE TEMP TABLE snoopipe_file_post_metrics (
    post_id VARCHAR(64),
    observed_at TIMESTAMP,
    subreddit VARCHAR(64),
    score BIGINT,
    upvote_ratio DOUBLE PRECISION,
    num_comments BIGINT,
    dt DATE,
    _retrieved_at TIMESTAMP,
    _source VARCHAR(1024),
    _run_id VARCHAR(64),
    _raw_file VARCHAR(1024),
    _raw_line BIGINT
);

CREATE TEMP TABLE snoopipe_stage_post_metrics (
    post_id VARCHAR(64),
    observed_at TIMESTAMP,
    subreddit VARCHAR(64),
    score BIGINT,
    upvote_ratio DOUBLE PRECISION,
    num_comments BIGINT,
    dt DATE,
    _retrieved_at TIMESTAMP,
    _source VARCHAR(1024),
    _run_id VARCHAR(64),
    _raw_file VARCHAR(1024),
    _raw_line BIGINT
);

SELECT _run_id, COUNT(*) FROM snoopipe_stage_post_metrics GROUP BY _run_id ORDER BY _run_id;

CREATE TEMP TABLE snoopipe_src_post_metrics AS SELECT post_id, observed_at, subreddit, score, upvote_ratio, num_comments, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line FROM (SELECT post_id, observed_at, subreddit, score, upvote_ratio, num_comments, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line, ROW_NUMBER() OVER (PARTITION BY post_id, observed_at ORDER BY _retrieved_at DESC, _source DESC, _raw_file DESC, _raw_line DESC) AS _snoopipe_rn FROM snoopipe_stage_post_metrics) AS latest WHERE _snoopipe_rn = 1;

DELETE FROM snoopipe_src_post_metrics USING post_metrics WHERE post_metrics.post_id = snoopipe_src_post_metrics.post_id AND post_metrics.observed_at = snoopipe_src_post_metrics.observed_at AND post_metrics._retrieved_at > snoopipe_src_post_metrics._retrieved_at;

MERGE INTO post_metrics USING snoopipe_src_post_metrics AS src ON post_metrics.post_id = src.post_id AND post_metrics.observed_at = src.observed_at
WHEN MATCHED THEN UPDATE SET subreddit = src.subreddit, score = src.score, upvote_ratio = src.upvote_ratio, num_comments = src.num_comments, dt = src.dt, _retrieved_at = src._retrieved_at, _source = src._source, _run_id = src._run_id, _raw_file = src._raw_file, _raw_line = src._raw_line
WHEN NOT MATCHED THEN INSERT (post_id, observed_at, subreddit, score, upvote_ratio, num_comments, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line) VALUES (src.post_id, src.observed_at, src.subreddit, src.score, src.upvote_ratio, src.num_comments, src.dt, src._retrieved_at, src._source, src._run_id, src._raw_file, src._raw_line);

SELECT COUNT(*) FROM snoopipe_src_post_metrics;

DROP TABLE snoopipe_src_post_metrics;

DROP TABLE snoopipe_stage_post_metrics;

DROP TABLE snoopipe_file_post_metrics;
