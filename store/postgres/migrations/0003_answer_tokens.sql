-- 0003: answer tokens, kept only as the SHA-256 of the token a link
-- carries (anpi.TokenHash). Every hit of an answer page looks a token up by
-- its hash: the primary key, one index probe. Revocation finds a survey's
-- or a recipient's tokens through answer_tokens_user.
--
-- No foreign key to surveys, as for deliveries (tokens are written with
-- them, 100,000 at a time): PutAnswerTokens locks each survey of a batch
-- once (FOR KEY SHARE) instead of once per row, and DeleteSurvey removes a
-- draft's tokens itself. user_id has no foreign key either: like
-- recipients, tokens outlive a deleted user for the record. Times are
-- bigint Unix nanoseconds in UTC, NULL when zero (expires_at NULL: until
-- the survey closes; revoked_at NULL: valid).
CREATE TABLE answer_tokens (
	hash       bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
	survey_id  text NOT NULL,
	user_id    text NOT NULL,
	created_at bigint NOT NULL,
	expires_at bigint,
	revoked_at bigint
);
CREATE INDEX answer_tokens_user ON answer_tokens (survey_id, user_id);
