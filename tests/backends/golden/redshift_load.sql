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

DELETE FROM snoopipe_src_posts USING posts WHERE posts.id = snoopipe_src_posts.id AND NOT (NOT COALESCE(posts._retrieved_at > snoopipe_src_posts._retrieved_at OR (posts._retrieved_at = snoopipe_src_posts._retrieved_at AND (posts._source > snoopipe_src_posts._source OR (posts._source = snoopipe_src_posts._source AND (posts._raw_file > snoopipe_src_posts._raw_file OR (posts._raw_file = snoopipe_src_posts._raw_file AND (posts._raw_line > snoopipe_src_posts._raw_line)))))), FALSE) AND NOT (COALESCE(snoopipe_src_posts.subreddit = posts.subreddit, snoopipe_src_posts.subreddit IS NULL AND posts.subreddit IS NULL) AND COALESCE(snoopipe_src_posts.subreddit_id = posts.subreddit_id, snoopipe_src_posts.subreddit_id IS NULL AND posts.subreddit_id IS NULL) AND COALESCE(snoopipe_src_posts.author = posts.author, snoopipe_src_posts.author IS NULL AND posts.author IS NULL) AND COALESCE(snoopipe_src_posts.author_fullname = posts.author_fullname, snoopipe_src_posts.author_fullname IS NULL AND posts.author_fullname IS NULL) AND COALESCE(snoopipe_src_posts.name = posts.name, snoopipe_src_posts.name IS NULL AND posts.name IS NULL) AND COALESCE(snoopipe_src_posts.title = posts.title, snoopipe_src_posts.title IS NULL AND posts.title IS NULL) AND COALESCE(snoopipe_src_posts.selftext = posts.selftext, snoopipe_src_posts.selftext IS NULL AND posts.selftext IS NULL) AND COALESCE(snoopipe_src_posts.url = posts.url, snoopipe_src_posts.url IS NULL AND posts.url IS NULL) AND COALESCE(snoopipe_src_posts.domain = posts.domain, snoopipe_src_posts.domain IS NULL AND posts.domain IS NULL) AND COALESCE(snoopipe_src_posts.permalink = posts.permalink, snoopipe_src_posts.permalink IS NULL AND posts.permalink IS NULL) AND COALESCE(snoopipe_src_posts.link_flair_text = posts.link_flair_text, snoopipe_src_posts.link_flair_text IS NULL AND posts.link_flair_text IS NULL) AND COALESCE(snoopipe_src_posts.link_flair_css_class = posts.link_flair_css_class, snoopipe_src_posts.link_flair_css_class IS NULL AND posts.link_flair_css_class IS NULL) AND COALESCE(snoopipe_src_posts.link_flair_template_id = posts.link_flair_template_id, snoopipe_src_posts.link_flair_template_id IS NULL AND posts.link_flair_template_id IS NULL) AND COALESCE(snoopipe_src_posts.author_flair_text = posts.author_flair_text, snoopipe_src_posts.author_flair_text IS NULL AND posts.author_flair_text IS NULL) AND COALESCE(snoopipe_src_posts.author_flair_css_class = posts.author_flair_css_class, snoopipe_src_posts.author_flair_css_class IS NULL AND posts.author_flair_css_class IS NULL) AND COALESCE(snoopipe_src_posts.distinguished = posts.distinguished, snoopipe_src_posts.distinguished IS NULL AND posts.distinguished IS NULL) AND COALESCE(snoopipe_src_posts.subreddit_type = posts.subreddit_type, snoopipe_src_posts.subreddit_type IS NULL AND posts.subreddit_type IS NULL) AND COALESCE(snoopipe_src_posts.subreddit_subscribers = posts.subreddit_subscribers, snoopipe_src_posts.subreddit_subscribers IS NULL AND posts.subreddit_subscribers IS NULL) AND COALESCE(snoopipe_src_posts.is_self = posts.is_self, snoopipe_src_posts.is_self IS NULL AND posts.is_self IS NULL) AND COALESCE(snoopipe_src_posts.is_video = posts.is_video, snoopipe_src_posts.is_video IS NULL AND posts.is_video IS NULL) AND COALESCE(snoopipe_src_posts.is_original_content = posts.is_original_content, snoopipe_src_posts.is_original_content IS NULL AND posts.is_original_content IS NULL) AND COALESCE(snoopipe_src_posts.is_gallery = posts.is_gallery, snoopipe_src_posts.is_gallery IS NULL AND posts.is_gallery IS NULL) AND COALESCE(snoopipe_src_posts.post_hint = posts.post_hint, snoopipe_src_posts.post_hint IS NULL AND posts.post_hint IS NULL) AND COALESCE(snoopipe_src_posts.thumbnail = posts.thumbnail, snoopipe_src_posts.thumbnail IS NULL AND posts.thumbnail IS NULL) AND COALESCE(snoopipe_src_posts.crosspost_parent = posts.crosspost_parent, snoopipe_src_posts.crosspost_parent IS NULL AND posts.crosspost_parent IS NULL) AND COALESCE(snoopipe_src_posts.num_crossposts = posts.num_crossposts, snoopipe_src_posts.num_crossposts IS NULL AND posts.num_crossposts IS NULL) AND COALESCE(snoopipe_src_posts.over_18 = posts.over_18, snoopipe_src_posts.over_18 IS NULL AND posts.over_18 IS NULL) AND COALESCE(snoopipe_src_posts.spoiler = posts.spoiler, snoopipe_src_posts.spoiler IS NULL AND posts.spoiler IS NULL) AND COALESCE(snoopipe_src_posts.locked = posts.locked, snoopipe_src_posts.locked IS NULL AND posts.locked IS NULL) AND COALESCE(snoopipe_src_posts.stickied = posts.stickied, snoopipe_src_posts.stickied IS NULL AND posts.stickied IS NULL) AND COALESCE(snoopipe_src_posts.archived = posts.archived, snoopipe_src_posts.archived IS NULL AND posts.archived IS NULL) AND COALESCE(snoopipe_src_posts.contest_mode = posts.contest_mode, snoopipe_src_posts.contest_mode IS NULL AND posts.contest_mode IS NULL) AND COALESCE(snoopipe_src_posts.score_hidden = posts.score_hidden, snoopipe_src_posts.score_hidden IS NULL AND posts.score_hidden IS NULL) AND COALESCE(snoopipe_src_posts.is_deleted = posts.is_deleted, snoopipe_src_posts.is_deleted IS NULL AND posts.is_deleted IS NULL) AND COALESCE(snoopipe_src_posts.is_removed = posts.is_removed, snoopipe_src_posts.is_removed IS NULL AND posts.is_removed IS NULL) AND COALESCE(snoopipe_src_posts.removed_by_category = posts.removed_by_category, snoopipe_src_posts.removed_by_category IS NULL AND posts.removed_by_category IS NULL) AND COALESCE(snoopipe_src_posts.removal_reason = posts.removal_reason, snoopipe_src_posts.removal_reason IS NULL AND posts.removal_reason IS NULL) AND COALESCE(snoopipe_src_posts.is_edited = posts.is_edited, snoopipe_src_posts.is_edited IS NULL AND posts.is_edited IS NULL) AND COALESCE(snoopipe_src_posts.score = posts.score, snoopipe_src_posts.score IS NULL AND posts.score IS NULL) AND COALESCE(snoopipe_src_posts.upvote_ratio = posts.upvote_ratio, snoopipe_src_posts.upvote_ratio IS NULL AND posts.upvote_ratio IS NULL) AND COALESCE(snoopipe_src_posts.num_comments = posts.num_comments, snoopipe_src_posts.num_comments IS NULL AND posts.num_comments IS NULL) AND COALESCE(snoopipe_src_posts.gilded = posts.gilded, snoopipe_src_posts.gilded IS NULL AND posts.gilded IS NULL) AND COALESCE(snoopipe_src_posts.total_awards_received = posts.total_awards_received, snoopipe_src_posts.total_awards_received IS NULL AND posts.total_awards_received IS NULL) AND COALESCE(snoopipe_src_posts.created_utc = posts.created_utc, snoopipe_src_posts.created_utc IS NULL AND posts.created_utc IS NULL) AND COALESCE(snoopipe_src_posts.edited_utc = posts.edited_utc, snoopipe_src_posts.edited_utc IS NULL AND posts.edited_utc IS NULL) AND COALESCE(snoopipe_src_posts.retrieved_on = posts.retrieved_on, snoopipe_src_posts.retrieved_on IS NULL AND posts.retrieved_on IS NULL) AND COALESCE(snoopipe_src_posts.updated_on = posts.updated_on, snoopipe_src_posts.updated_on IS NULL AND posts.updated_on IS NULL) AND COALESCE(snoopipe_src_posts.dt = posts.dt, snoopipe_src_posts.dt IS NULL AND posts.dt IS NULL) AND COALESCE(snoopipe_src_posts._retrieved_at = posts._retrieved_at, snoopipe_src_posts._retrieved_at IS NULL AND posts._retrieved_at IS NULL) AND COALESCE(snoopipe_src_posts._source = posts._source, snoopipe_src_posts._source IS NULL AND posts._source IS NULL) AND COALESCE(snoopipe_src_posts._run_id = posts._run_id, snoopipe_src_posts._run_id IS NULL AND posts._run_id IS NULL) AND COALESCE(snoopipe_src_posts._raw_file = posts._raw_file, snoopipe_src_posts._raw_file IS NULL AND posts._raw_file IS NULL) AND COALESCE(snoopipe_src_posts._raw_line = posts._raw_line, snoopipe_src_posts._raw_line IS NULL AND posts._raw_line IS NULL)));

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

DELETE FROM snoopipe_src_comments USING comments WHERE comments.id = snoopipe_src_comments.id AND NOT (NOT COALESCE(comments._retrieved_at > snoopipe_src_comments._retrieved_at OR (comments._retrieved_at = snoopipe_src_comments._retrieved_at AND (comments._source > snoopipe_src_comments._source OR (comments._source = snoopipe_src_comments._source AND (comments._raw_file > snoopipe_src_comments._raw_file OR (comments._raw_file = snoopipe_src_comments._raw_file AND (comments._raw_line > snoopipe_src_comments._raw_line)))))), FALSE) AND NOT (COALESCE(snoopipe_src_comments.post_id = comments.post_id, snoopipe_src_comments.post_id IS NULL AND comments.post_id IS NULL) AND COALESCE(snoopipe_src_comments.name = comments.name, snoopipe_src_comments.name IS NULL AND comments.name IS NULL) AND COALESCE(snoopipe_src_comments.parent_id = comments.parent_id, snoopipe_src_comments.parent_id IS NULL AND comments.parent_id IS NULL) AND COALESCE(snoopipe_src_comments.subreddit = comments.subreddit, snoopipe_src_comments.subreddit IS NULL AND comments.subreddit IS NULL) AND COALESCE(snoopipe_src_comments.subreddit_id = comments.subreddit_id, snoopipe_src_comments.subreddit_id IS NULL AND comments.subreddit_id IS NULL) AND COALESCE(snoopipe_src_comments.subreddit_type = comments.subreddit_type, snoopipe_src_comments.subreddit_type IS NULL AND comments.subreddit_type IS NULL) AND COALESCE(snoopipe_src_comments.author = comments.author, snoopipe_src_comments.author IS NULL AND comments.author IS NULL) AND COALESCE(snoopipe_src_comments.author_fullname = comments.author_fullname, snoopipe_src_comments.author_fullname IS NULL AND comments.author_fullname IS NULL) AND COALESCE(snoopipe_src_comments.author_flair_text = comments.author_flair_text, snoopipe_src_comments.author_flair_text IS NULL AND comments.author_flair_text IS NULL) AND COALESCE(snoopipe_src_comments.author_flair_css_class = comments.author_flair_css_class, snoopipe_src_comments.author_flair_css_class IS NULL AND comments.author_flair_css_class IS NULL) AND COALESCE(snoopipe_src_comments.body = comments.body, snoopipe_src_comments.body IS NULL AND comments.body IS NULL) AND COALESCE(snoopipe_src_comments.distinguished = comments.distinguished, snoopipe_src_comments.distinguished IS NULL AND comments.distinguished IS NULL) AND COALESCE(snoopipe_src_comments.is_submitter = comments.is_submitter, snoopipe_src_comments.is_submitter IS NULL AND comments.is_submitter IS NULL) AND COALESCE(snoopipe_src_comments.stickied = comments.stickied, snoopipe_src_comments.stickied IS NULL AND comments.stickied IS NULL) AND COALESCE(snoopipe_src_comments.archived = comments.archived, snoopipe_src_comments.archived IS NULL AND comments.archived IS NULL) AND COALESCE(snoopipe_src_comments.score_hidden = comments.score_hidden, snoopipe_src_comments.score_hidden IS NULL AND comments.score_hidden IS NULL) AND COALESCE(snoopipe_src_comments.collapsed = comments.collapsed, snoopipe_src_comments.collapsed IS NULL AND comments.collapsed IS NULL) AND COALESCE(snoopipe_src_comments.collapsed_reason_code = comments.collapsed_reason_code, snoopipe_src_comments.collapsed_reason_code IS NULL AND comments.collapsed_reason_code IS NULL) AND COALESCE(snoopipe_src_comments.is_deleted = comments.is_deleted, snoopipe_src_comments.is_deleted IS NULL AND comments.is_deleted IS NULL) AND COALESCE(snoopipe_src_comments.is_removed = comments.is_removed, snoopipe_src_comments.is_removed IS NULL AND comments.is_removed IS NULL) AND COALESCE(snoopipe_src_comments.removed_by_category = comments.removed_by_category, snoopipe_src_comments.removed_by_category IS NULL AND comments.removed_by_category IS NULL) AND COALESCE(snoopipe_src_comments.removal_reason = comments.removal_reason, snoopipe_src_comments.removal_reason IS NULL AND comments.removal_reason IS NULL) AND COALESCE(snoopipe_src_comments.is_edited = comments.is_edited, snoopipe_src_comments.is_edited IS NULL AND comments.is_edited IS NULL) AND COALESCE(snoopipe_src_comments.score = comments.score, snoopipe_src_comments.score IS NULL AND comments.score IS NULL) AND COALESCE(snoopipe_src_comments.controversiality = comments.controversiality, snoopipe_src_comments.controversiality IS NULL AND comments.controversiality IS NULL) AND COALESCE(snoopipe_src_comments.depth = comments.depth, snoopipe_src_comments.depth IS NULL AND comments.depth IS NULL) AND COALESCE(snoopipe_src_comments.gilded = comments.gilded, snoopipe_src_comments.gilded IS NULL AND comments.gilded IS NULL) AND COALESCE(snoopipe_src_comments.total_awards_received = comments.total_awards_received, snoopipe_src_comments.total_awards_received IS NULL AND comments.total_awards_received IS NULL) AND COALESCE(snoopipe_src_comments.created_utc = comments.created_utc, snoopipe_src_comments.created_utc IS NULL AND comments.created_utc IS NULL) AND COALESCE(snoopipe_src_comments.edited_utc = comments.edited_utc, snoopipe_src_comments.edited_utc IS NULL AND comments.edited_utc IS NULL) AND COALESCE(snoopipe_src_comments.retrieved_on = comments.retrieved_on, snoopipe_src_comments.retrieved_on IS NULL AND comments.retrieved_on IS NULL) AND COALESCE(snoopipe_src_comments.updated_on = comments.updated_on, snoopipe_src_comments.updated_on IS NULL AND comments.updated_on IS NULL) AND COALESCE(snoopipe_src_comments.dt = comments.dt, snoopipe_src_comments.dt IS NULL AND comments.dt IS NULL) AND COALESCE(snoopipe_src_comments._retrieved_at = comments._retrieved_at, snoopipe_src_comments._retrieved_at IS NULL AND comments._retrieved_at IS NULL) AND COALESCE(snoopipe_src_comments._source = comments._source, snoopipe_src_comments._source IS NULL AND comments._source IS NULL) AND COALESCE(snoopipe_src_comments._run_id = comments._run_id, snoopipe_src_comments._run_id IS NULL AND comments._run_id IS NULL) AND COALESCE(snoopipe_src_comments._raw_file = comments._raw_file, snoopipe_src_comments._raw_file IS NULL AND comments._raw_file IS NULL) AND COALESCE(snoopipe_src_comments._raw_line = comments._raw_line, snoopipe_src_comments._raw_line IS NULL AND comments._raw_line IS NULL)));

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

DELETE FROM snoopipe_src_post_metrics USING post_metrics WHERE post_metrics.post_id = snoopipe_src_post_metrics.post_id AND post_metrics.observed_at = snoopipe_src_post_metrics.observed_at AND NOT (NOT COALESCE(post_metrics._retrieved_at > snoopipe_src_post_metrics._retrieved_at OR (post_metrics._retrieved_at = snoopipe_src_post_metrics._retrieved_at AND (post_metrics._source > snoopipe_src_post_metrics._source OR (post_metrics._source = snoopipe_src_post_metrics._source AND (post_metrics._raw_file > snoopipe_src_post_metrics._raw_file OR (post_metrics._raw_file = snoopipe_src_post_metrics._raw_file AND (post_metrics._raw_line > snoopipe_src_post_metrics._raw_line)))))), FALSE) AND NOT (COALESCE(snoopipe_src_post_metrics.subreddit = post_metrics.subreddit, snoopipe_src_post_metrics.subreddit IS NULL AND post_metrics.subreddit IS NULL) AND COALESCE(snoopipe_src_post_metrics.score = post_metrics.score, snoopipe_src_post_metrics.score IS NULL AND post_metrics.score IS NULL) AND COALESCE(snoopipe_src_post_metrics.upvote_ratio = post_metrics.upvote_ratio, snoopipe_src_post_metrics.upvote_ratio IS NULL AND post_metrics.upvote_ratio IS NULL) AND COALESCE(snoopipe_src_post_metrics.num_comments = post_metrics.num_comments, snoopipe_src_post_metrics.num_comments IS NULL AND post_metrics.num_comments IS NULL) AND COALESCE(snoopipe_src_post_metrics.dt = post_metrics.dt, snoopipe_src_post_metrics.dt IS NULL AND post_metrics.dt IS NULL) AND COALESCE(snoopipe_src_post_metrics._retrieved_at = post_metrics._retrieved_at, snoopipe_src_post_metrics._retrieved_at IS NULL AND post_metrics._retrieved_at IS NULL) AND COALESCE(snoopipe_src_post_metrics._source = post_metrics._source, snoopipe_src_post_metrics._source IS NULL AND post_metrics._source IS NULL) AND COALESCE(snoopipe_src_post_metrics._run_id = post_metrics._run_id, snoopipe_src_post_metrics._run_id IS NULL AND post_metrics._run_id IS NULL) AND COALESCE(snoopipe_src_post_metrics._raw_file = post_metrics._raw_file, snoopipe_src_post_metrics._raw_file IS NULL AND post_metrics._raw_file IS NULL) AND COALESCE(snoopipe_src_post_metrics._raw_line = post_metrics._raw_line, snoopipe_src_post_metrics._raw_line IS NULL AND post_metrics._raw_line IS NULL)));

MERGE INTO post_metrics USING snoopipe_src_post_metrics AS src ON post_metrics.post_id = src.post_id AND post_metrics.observed_at = src.observed_at
WHEN MATCHED THEN UPDATE SET subreddit = src.subreddit, score = src.score, upvote_ratio = src.upvote_ratio, num_comments = src.num_comments, dt = src.dt, _retrieved_at = src._retrieved_at, _source = src._source, _run_id = src._run_id, _raw_file = src._raw_file, _raw_line = src._raw_line
WHEN NOT MATCHED THEN INSERT (post_id, observed_at, subreddit, score, upvote_ratio, num_comments, dt, _retrieved_at, _source, _run_id, _raw_file, _raw_line) VALUES (src.post_id, src.observed_at, src.subreddit, src.score, src.upvote_ratio, src.num_comments, src.dt, src._retrieved_at, src._source, src._run_id, src._raw_file, src._raw_line);

SELECT COUNT(*) FROM snoopipe_src_post_metrics;

DROP TABLE snoopipe_src_post_metrics;

DROP TABLE snoopipe_stage_post_metrics;

DROP TABLE snoopipe_file_post_metrics;
