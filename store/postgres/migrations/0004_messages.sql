-- 0004: message threads (メッセージ) and bulletin boards (掲示板).
--
-- A thread's members are rows of thread_members, keyed by user first: the
-- list of a user's threads is one range of its primary key. Messages and
-- posts are numbered per thread and board (seq 1, 2, 3 … without gaps):
-- appending bumps last_seq of the thread's or board's row, whose row lock
-- orders concurrent appends from several replicas, and a page is one range
-- of the (thread_id, seq) or (board_id, seq) key. active_at is created_at,
-- then the time of the latest message or post.
--
-- User IDs (members, authors, creators) have no foreign key: like survey
-- recipients, threads and posts outlive a deleted user for the record
-- (writers lock the users they check FOR KEY SHARE instead). A board's
-- department has none either: deleting a department leaves its boards.
-- Times are bigint Unix nanoseconds in UTC.
CREATE TABLE threads (
	id         text PRIMARY KEY,
	title      text NOT NULL,
	created_by text NOT NULL,
	created_at bigint NOT NULL,
	active_at  bigint NOT NULL,
	last_seq   bigint NOT NULL
);

CREATE TABLE thread_members (
	user_id   text NOT NULL,
	thread_id text NOT NULL REFERENCES threads (id),
	PRIMARY KEY (user_id, thread_id)
);
CREATE INDEX thread_members_thread ON thread_members (thread_id, user_id);

CREATE TABLE messages (
	thread_id text NOT NULL REFERENCES threads (id),
	seq       bigint NOT NULL,
	id        text NOT NULL UNIQUE,
	author    text NOT NULL,
	at        bigint NOT NULL,
	text      text NOT NULL,
	PRIMARY KEY (thread_id, seq)
);

CREATE TABLE boards (
	id         text PRIMARY KEY,
	title      text NOT NULL,
	department text NOT NULL,
	created_by text NOT NULL,
	created_at bigint NOT NULL,
	active_at  bigint NOT NULL,
	last_seq   bigint NOT NULL
);

CREATE TABLE posts (
	board_id text NOT NULL REFERENCES boards (id),
	seq      bigint NOT NULL,
	id       text NOT NULL UNIQUE,
	author   text NOT NULL,
	at       bigint NOT NULL,
	text     text NOT NULL,
	PRIMARY KEY (board_id, seq)
);
