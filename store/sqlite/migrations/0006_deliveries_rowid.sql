-- 0006: the outbox as a rowid table, without a foreign key to surveys.
--
-- Deliveries were a WITHOUT ROWID table clustered on their ID. The IDs the
-- Service writes are hashes (anpi.DeliveryIDFor), so each of a fan-out's
-- rows, about 150 bytes, went to a random place in the table's b-tree:
-- enqueueing 100,000 of them took 1.7–2 s. A rowid table appends its rows
-- in insertion order, and only the small entries of the ID index land at
-- random: the same enqueue takes about a quarter of that. The claim index
-- orders by seq, so equally due deliveries go out in the order they were
-- queued, and its entries are appended too.
--
-- Every row also checked its survey_id against surveys: one more b-tree
-- lookup per row, about a sixth of an enqueue. EnqueueDeliveries already
-- checks each survey once, on the single writer inside the same
-- transaction, and only drafts are ever deleted, whose deliveries
-- DeleteSurvey now removes itself. SQLite cannot change a table's key nor
-- drop a constraint, so the table is rebuilt.
CREATE TABLE deliveries_0006 (
	seq         INTEGER PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,
	survey_id   TEXT NOT NULL,
	user_id     TEXT NOT NULL,
	channel     TEXT NOT NULL,
	contact_id  TEXT NOT NULL,
	round       INTEGER NOT NULL,
	state       TEXT NOT NULL,
	attempts    INTEGER NOT NULL,
	next_at     INTEGER NOT NULL,
	lease_owner TEXT NOT NULL DEFAULT '',
	lease_until INTEGER,
	last_error  TEXT NOT NULL,
	provider_id TEXT NOT NULL,
	created_at  INTEGER,
	updated_at  INTEGER,
	sent_at     INTEGER,
	UNIQUE (survey_id, user_id, channel, contact_id, round)
);
INSERT INTO deliveries_0006 (id, survey_id, user_id, channel, contact_id, round, state, attempts, next_at, lease_owner, lease_until, last_error, provider_id, created_at, updated_at, sent_at)
	SELECT id, survey_id, user_id, channel, contact_id, round, state, attempts, next_at, lease_owner, lease_until, last_error, provider_id, created_at, updated_at, sent_at
	FROM deliveries ORDER BY created_at, id;
DROP TABLE deliveries;
ALTER TABLE deliveries_0006 RENAME TO deliveries;
CREATE INDEX deliveries_channel_ready ON deliveries (channel, next_at, seq) WHERE state IN ('queued', 'failed_temporary');
CREATE INDEX deliveries_channel_leased ON deliveries (channel, lease_until) WHERE state = 'sending';
