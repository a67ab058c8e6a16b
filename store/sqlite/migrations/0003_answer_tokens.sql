-- 0003: answer tokens, kept only as the SHA-256 of the token a link
-- carries (anpi.TokenHash). Every hit of an answer page looks a token up by
-- its hash: the primary key, one B-tree search. Revocation finds a
-- survey's or a recipient's tokens through answer_tokens_user, which also
-- serves the cascade when a survey is deleted. user_id has no foreign key:
-- like recipients, tokens outlive a deleted user for the record. Times are
-- Unix nanoseconds in UTC, NULL when zero (expires_at NULL: until the
-- survey closes; revoked_at NULL: valid).
CREATE TABLE answer_tokens (
	hash       BLOB PRIMARY KEY CHECK (length(hash) = 32),
	survey_id  TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER,
	revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX answer_tokens_user ON answer_tokens (survey_id, user_id);
