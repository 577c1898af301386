CREATE TEMP TABLE snoopipe_file_posts (
    id VARCHAR(64),
    subreddit VARCHAR(64),
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
    is_deleted BOOLEAN,
    is_removed BOOLEAN,
    removed_by_category VARCHAR(64),
    removal_reason VARCHAR(64),
    is_edited BOOLEAN,
    score BIGINT,
    upvote_ratio DOUBLE PRECISION,
    num_comments BIGINT,
    gilded BIGINT,
    total_awards_received BIGINT,
    created_utc TIMESTAMP,
    edited_utc TIMESTAMP,
    retrieved_on TIMESTAMP,
    updated_on TIMESTAMP,
    extra VARCHAR(65535),
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
    is_deleted BOOLEAN,
    is_removed BOOLEAN,
    removed_by_category VARCHAR(64),
    removal_reason VARCHAR(64),
    is_edited BOOLEAN,
    score BIGINT,
    upvote_ratio DOUBLE PRECISION,
    num_comments BIGINT,
    gilded BIGINT,
    total_awards_received BIGINT,
    created_utc TIMESTAMP,
    edited_utc TIMESTAMP,
    retrieved_on TIMESTAMP,
    updated_on TIMESTAMP,
    extra SUPER,
    dt DATE,
    _retrieved_at TIMESTAMP,
    _source VARCHAR(1024),
    _run_id VARCHAR(64),
    _raw_file VARCHAR(1024),
    _raw_line BIGINT
);

COPY snoopipe_file_posts FROM 's3://my-lake-bucket/snoopipe/manifests/redshift/posts/c26b4a36cf64df769e35f22c.manifest' IAM_ROLE 'arn:aws:iam::123456789012:role/snoopipe-redshift-copy' FORMAT AS PARQUET MANIFEST;

INSERT INTO snoopipe_stage_posts (id, subreddit, subreddit_id, author, author_fullname, name, title, selftext, url, domain, permalink, link_flair_text, link_flair_css_class, link_flair_template_id, author_flair_text, author_flair_css_class, distinguished, subreddit_type, subreddit_subscribers, is_self, is_video, is_original_content, is_gallery, post_hint, thumbnail, crosspost_parent, num_crossposts, over_18, spoiler, locked, stickied, archived, contest_mode, score_hidden, is_deleted, is_removed, removed_by_category, removal_reason, is_edited, score, upvote_ratio, num_comments, gilded, total_awards_received, created_utc, edited_utc, retrieved_on, updated_on, extra, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line)
SELECT id, subreddit, subreddit_id, author, author_fullname, name, title, selftext, url, domain, permalink, link_flair_text, link_flair_css_class, link_flair_template_id, author_flair_text, author_flair_css_class, distinguished, subreddit_type, subreddit_subscribers, is_self, is_video, is_original_content, is_gallery, post_hint, thumbnail, crosspost_parent, num_crossposts, over_18, spoiler, locked, stickied, archived, contest_mode, score_hidden, is_deleted, is_removed, removed_by_category, removal_reason, is_edited, score, upvote_ratio, num_comments, gilded, total_awards_received, created_utc, edited_utc, retrieved_on, updated_on, JSON_PARSE(extra) AS extra, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line
FROM snoopipe_file_posts WHERE _run_id IN ('run-1', 'run-2');

SELECT _run_id, COUNT(*) FROM snoopipe_stage_posts GROUP BY _run_id ORDER BY _run_id;

CREATE TEMP TABLE snoopipe_src_posts AS SELECT id, subreddit, subreddit_id, author, author_fullname, name, title, selftext, url, domain, permalink, link_flair_text, link_flair_css_class, link_flair_template_id, author_flair_text, author_flair_css_class, distinguished, subreddit_type, subreddit_subscribers, is_self, is_video, is_original_content, is_gallery, post_hint, thumbnail, crosspost_parent, num_crossposts, over_18, spoiler, locked, stickied, archived, contest_mode, score_hidden, is_deleted, is_removed, removed_by_category, removal_reason, is_edited, score, upvote_ratio, num_comments, gilded, total_awards_received, created_utc, edited_utc, retrieved_on, updated_on, extra, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line FROM (SELECT id, subreddit, subreddit_id, author, author_fullname, name, title, selftext, url, domain, permalink, link_flair_text, link_flair_css_class, link_flair_template_id, author_flair_text, author_flair_css_class, distinguished, subreddit_type, subreddit_subscribers, is_self, is_video, is_original_content, is_gallery, post_hint, thumbnail, crosspost_parent, num_crossposts, over_18, spoiler, locked, stickied, archived, contest_mode, score_hidden, is_deleted, is_removed, removed_by_category, removal_reason, is_edited, score, upvote_ratio, num_comments, gilded, total_awards_received, created_utc, edited_utc, retrieved_on, updated_on, extra, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line, ROW_NUMBER() OVER (PARTITION BY id ORDER BY _retrieved_at DESC, _source DESC, _raw_file DESC, _raw_line DESC) AS _snoopipe_rn FROM snoopipe_stage_posts) AS latest WHERE _snoopipe_rn = 1;

DELETE FROM snoopipe_src_posts USING posts WHERE posts.id = snoopipe_src_posts.id AND posts._retrieved_at > snoopipe_src_posts._retrieved_at;

MERGE INTO posts USING snoopipe_src_posts AS src ON posts.id = src.id
WHEN MATCHED THEN UPDATE SET subreddit = src.subreddit, subreddit_id = src.subreddit_id, author = src.author, author_fullname = src.author_fullname, name = src.name, title = src.title, selftext = src.selftext, url = src.url, domain = src.domain, permalink = src.permalink, link_flair_text = src.link_flair_text, link_flair_css_class = src.link_flair_css_class, link_flair_template_id = src.link_flair_template_id, author_flair_text = src.author_flair_text, author_flair_css_class = src.author_flair_css_class, distinguished = src.distinguished, subreddit_type = src.subreddit_type, subreddit_subscribers = src.subreddit_subscribers, is_self = src.is_self, is_video = src.is_video, is_original_content = src.is_original_content, is_gallery = src.is_gallery, post_hint = src.post_hint, thumbnail = src.thumbnail, crosspost_parent = src.crosspost_parent, num_crossposts = src.num_crossposts, over_18 = src.over_18, spoiler = src.spoiler, locked = src.locked, stickied = src.stickied, archived = src.archived, contest_mode = src.contest_mode, score_hidden = src.score_hidden, is_deleted = src.is_deleted, is_removed = src.is_removed, removed_by_category = src.removed_by_category, removal_reason = src.removal_reason, is_edited = src.is_edited, score = src.score, upvote_ratio = src.upvote_ratio, num_comments = src.num_comments, gilded = src.gilded, total_awards_received = src.total_awards_received, created_utc = src.created_utc, edited_utc = src.edited_utc, retrieved_on = src.retrieved_on, updated_on = src.updated_on, extra = src.extra, dt = src.dt, _retrieved_at = src._retrieved_at, _source = src._source, _run_id = src._run_id, _raw_file = src._raw_file, _raw_line = src._raw_line
WHEN NOT MATCHED THEN INSERT (id, subreddit, subreddit_id, author, author_fullname, name, title, selftext, url, domain, permalink, link_flair_text, link_flair_css_class, link_flair_template_id, author_flair_text, author_flair_css_class, distinguished, subreddit_type, subreddit_subscribers, is_self, is_video, is_original_content, is_gallery, post_hint, thumbnail, crosspost_parent, num_crossposts, over_18, spoiler, locked, stickied, archived, contest_mode, score_hidden, is_deleted, is_removed, removed_by_category, removal_reason, is_edited, score, upvote_ratio, num_comments, gilded, total_awards_received, created_utc, edited_utc, retrieved_on, updated_on, extra, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line) VALUES (src.id, src.subreddit, src.subreddit_id, src.author, src.author_fullname, src.name, src.title, src.selftext, src.url, src.domain, src.permalink, src.link_flair_text, src.link_flair_css_class, src.link_flair_template_id, src.author_flair_text, src.author_flair_css_class, src.distinguished, src.subreddit_type, src.subreddit_subscribers, src.is_self, src.is_video, src.is_original_content, src.is_gallery, src.post_hint, src.thumbnail, src.crosspost_parent, src.num_crossposts, src.over_18, src.spoiler, src.locked, src.stickied, src.archived, src.contest_mode, src.score_hidden, src.is_deleted, src.is_removed, src.removed_by_category, src.removal_reason, src.is_edited, src.score, src.upvote_ratio, src.num_comments, src.gilded, src.total_awards_received, src.created_utc, src.edited_utc, src.retrieved_on, src.updated_on, src.extra, src.dt, src._retrieved_at, src._source, src._run_id, src._raw_file, src._raw_line);

SELECT COUNT(*) FROM snoopipe_src_posts;

DROP TABLE snoopipe_src_posts;

DROP TABLE snoopipe_stage_posts;

DROP TABLE snoopipe_file_posts;

CREATE TEMP TABLE snoopipe_file_comments (
    id VARCHAR(64),
    post_id VARCHAR(64),
    name VARCHAR(64),
    parent_id VARCHAR(64),
    subreddit VARCHAR(64),
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
    is_deleted BOOLEAN,
    is_removed BOOLEAN,
    removed_by_category VARCHAR(64),
    removal_reason VARCHAR(64),
    is_edited BOOLEAN,
    score BIGINT,
    controversiality INTEGER,
    depth INTEGER,
    gilded BIGINT,
    total_awards_received BIGINT,
    created_utc TIMESTAMP,
    edited_utc TIMESTAMP,
    retrieved_on TIMESTAMP,
    updated_on TIMESTAMP,
    extra VARCHAR(65535),
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
    name VARCHAR(64),
    parent_id VARCHAR(64),
    subreddit VARCHAR(64),
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
    is_deleted BOOLEAN,
    is_removed BOOLEAN,
    removed_by_category VARCHAR(64),
    removal_reason VARCHAR(64),
    is_edited BOOLEAN,
    score BIGINT,
    controversiality INTEGER,
    depth INTEGER,
    gilded BIGINT,
    total_awards_received BIGINT,
    created_utc TIMESTAMP,
    edited_utc TIMESTAMP,
    retrieved_on TIMESTAMP,
    updated_on TIMESTAMP,
    extra SUPER,
    dt DATE,
    _retrieved_at TIMESTAMP,
    _source VARCHAR(1024),
    _run_id VARCHAR(64),
    _raw_file VARCHAR(1024),
    _raw_line BIGINT
);

COPY snoopipe_file_comments FROM 's3://my-lake-bucket/snoopipe/manifests/redshift/comments/26873df089d9ab919b782b70.manifest' IAM_ROLE 'arn:aws:iam::123456789012:role/snoopipe-redshift-copy' FORMAT AS PARQUET MANIFEST;

INSERT INTO snoopipe_stage_comments (id, post_id, name, parent_id, subreddit, subreddit_id, subreddit_type, author, author_fullname, author_flair_text, author_flair_css_class, body, distinguished, is_submitter, stickied, archived, score_hidden, collapsed, collapsed_reason_code, is_deleted, is_removed, removed_by_category, removal_reason, is_edited, score, controversiality, depth, gilded, total_awards_received, created_utc, edited_utc, retrieved_on, updated_on, extra, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line)
SELECT id, post_id, name, parent_id, subreddit, subreddit_id, subreddit_type, author, author_fullname, author_flair_text, author_flair_css_class, body, distinguished, is_submitter, stickied, archived, score_hidden, collapsed, collapsed_reason_code, is_deleted, is_removed, removed_by_category, removal_reason, is_edited, score, controversiality, depth, gilded, total_awards_received, created_utc, edited_utc, retrieved_on, updated_on, JSON_PARSE(extra) AS extra, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line
FROM snoopipe_file_comments WHERE _run_id IN ('run-1', 'run-2');

SELECT _run_id, COUNT(*) FROM snoopipe_stage_comments GROUP BY _run_id ORDER BY _run_id;

CREATE TEMP TABLE snoopipe_src_comments AS SELECT id, post_id, name, parent_id, subreddit, subreddit_id, subreddit_type, author, author_fullname, author_flair_text, author_flair_css_class, body, distinguished, is_submitter, stickied, archived, score_hidden, collapsed, collapsed_reason_code, is_deleted, is_removed, removed_by_category, removal_reason, is_edited, score, controversiality, depth, gilded, total_awards_received, created_utc, edited_utc, retrieved_on, updated_on, extra, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line FROM (SELECT id, post_id, name, parent_id, subreddit, subreddit_id, subreddit_type, author, author_fullname, author_flair_text, author_flair_css_class, body, distinguished, is_submitter, stickied, archived, score_hidden, collapsed, collapsed_reason_code, is_deleted, is_removed, removed_by_category, removal_reason, is_edited, score, controversiality, depth, gilded, total_awards_received, created_utc, edited_utc, retrieved_on, updated_on, extra, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line, ROW_NUMBER() OVER (PARTITION BY id ORDER BY _retrieved_at DESC, _source DESC, _raw_file DESC, _raw_line DESC) AS _snoopipe_rn FROM snoopipe_stage_comments) AS latest WHERE _snoopipe_rn = 1;

DELETE FROM snoopipe_src_comments USING comments WHERE comments.id = snoopipe_src_comments.id AND comments._retrieved_at > snoopipe_src_comments._retrieved_at;

MERGE INTO comments USING snoopipe_src_comments AS src ON comments.id = src.id
WHEN MATCHED THEN UPDATE SET post_id = src.post_id, name = src.name, parent_id = src.parent_id, subreddit = src.subreddit, subreddit_id = src.subreddit_id, subreddit_type = src.subreddit_type, author = src.author, author_fullname = src.author_fullname, author_flair_text = src.author_flair_text, author_flair_css_class = src.author_flair_css_class, body = src.body, distinguished = src.distinguished, is_submitter = src.is_submitter, stickied = src.stickied, archived = src.archived, score_hidden = src.score_hidden, collapsed = src.collapsed, collapsed_reason_code = src.collapsed_reason_code, is_deleted = src.is_deleted, is_removed = src.is_removed, removed_by_category = src.removed_by_category, removal_reason = src.removal_reason, is_edited = src.is_edited, score = src.score, controversiality = src.controversiality, depth = src.depth, gilded = src.gilded, total_awards_received = src.total_awards_received, created_utc = src.created_utc, edited_utc = src.edited_utc, retrieved_on = src.retrieved_on, updated_on = src.updated_on, extra = src.extra, dt = src.dt, _retrieved_at = src._retrieved_at, _source = src._source, _run_id = src._run_id, _raw_file = src._raw_file, _raw_line = src._raw_line
WHEN NOT MATCHED THEN INSERT (id, post_id, name, parent_id, subreddit, subreddit_id, subreddit_type, author, author_fullname, author_flair_text, author_flair_css_class, body, distinguished, is_submitter, stickied, archived, score_hidden, collapsed, collapsed_reason_code, is_deleted, is_removed, removed_by_category, removal_reason, is_edited, score, controversiality, depth, gilded, total_awards_received, created_utc, edited_utc, retrieved_on, updated_on, extra, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line) VALUES (src.id, src.post_id, src.name, src.parent_id, src.subreddit, src.subreddit_id, src.subreddit_type, src.author, src.author_fullname, src.author_flair_text, src.author_flair_css_class, src.body, src.distinguished, src.is_submitter, src.stickied, src.archived, src.score_hidden, src.collapsed, src.collapsed_reason_code, src.is_deleted, src.is_removed, src.removed_by_category, src.removal_reason, src.is_edited, src.score, src.controversiality, src.depth, src.gilded, src.total_awards_received, src.created_utc, src.edited_utc, src.retrieved_on, src.updated_on, src.extra, src.dt, src._retrieved_at, src._source, src._run_id, src._raw_file, src._raw_line);

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
