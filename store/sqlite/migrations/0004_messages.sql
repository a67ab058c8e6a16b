-- 0004: message threads (メッセージ) and bulletin boards (掲示板).
--
-- A thread's members are rows of thread_members, keyed by user first: the
-- list of a user's threads is one range of its primary key. Messages and
-- posts are numbered per thread and board (seq, 1, 2, 3 … without gaps):
-- appending bumps last_seq of the thread's or board's row, and a page is
-- one range of the (thread_id, seq) or (board_id, seq) key. active_at is
-- created_at, then the time of the latest message or post.
--
-- User IDs (members, authors, creators) have no foreign key: like survey
-- recipients, threads and posts outlive a deleted user for the record. A
-- board's department has none either: deleting a department leaves its
-- boards. Times are Unix nanoseconds in UTC.
CREATE TABLE threads (
	id         TEXT PRIMARY KEY,
	title      TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	active_at  INTEGER NOT NULL,
	last_seq   INTEGER NOT NULL
);

CREATE TABLE thread_members (
	user_id   TEXT NOT NULL,
	thread_id TEXT NOT NULL REFERENCES threads (id),
	PRIMARY KEY (user_id, thread_id)
) WITHOUT ROWID;
CREATE INDEX thread_members_thread ON thread_members (thread_id, user_id);

CREATE TABLE messages (
	thread_id TEXT NOT NULL REFERENCES threads (id),
	seq       INTEGER NOT NULL,
	id        TEXT NOT NULL UNIQUE,
	author    TEXT NOT NULL,
	at        INTEGER NOT NULL,
	text      TEXT NOT NULL,
	PRIMARY KEY (thread_id, seq)
);

CREATE TABLE boards (
	id         TEXT PRIMARY KEY,
	title      TEXT NOT NULL,
	department TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	active_at  INTEGER NOT NULL,
	last_seq   INTEGER NOT NULL
);

CREATE TABLE posts (
	board_id TEXT NOT NULL REFERENCES boards (id),
	seq      INTEGER NOT NULL,
	id       TEXT NOT NULL UNIQUE,
	author   TEXT NOT NULL,
	at       INTEGER NOT NULL,
	text     TEXT NOT NULL,
	PRIMARY KEY (board_id, seq)
);
