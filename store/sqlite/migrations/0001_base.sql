-- 0001: the base schema. Objects whose shape only Go reads are kept as JSON
-- in a data column; the columns beside it are what queries filter, sort and
-- join on. Times are INTEGER Unix nanoseconds in UTC, NULL when zero.

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	employee_code TEXT NOT NULL UNIQUE,
	status        TEXT NOT NULL,
	data          BLOB NOT NULL
);

CREATE TABLE departments (
	id        TEXT PRIMARY KEY,
	parent_id TEXT NOT NULL,
	data      BLOB NOT NULL
);
CREATE INDEX departments_parent ON departments (parent_id);

CREATE TABLE user_departments (
	user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	department_id TEXT NOT NULL REFERENCES departments (id),
	PRIMARY KEY (department_id, user_id)
) WITHOUT ROWID;
CREATE INDEX user_departments_user ON user_departments (user_id);

CREATE TABLE role_grants (
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	department TEXT NOT NULL,
	role       TEXT NOT NULL,
	PRIMARY KEY (user_id, department, role)
) WITHOUT ROWID;
CREATE INDEX role_grants_department ON role_grants (department);

-- data is a JSON object with the address, label, check and creation time;
-- for private and family contacts it is sealed (sealed = 1) with the
-- contact ID as additional data.
CREATE TABLE contacts (
	id      TEXT PRIMARY KEY,
	user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind    TEXT NOT NULL,
	scope   TEXT NOT NULL,
	sealed  INTEGER NOT NULL,
	data    BLOB NOT NULL
);
CREATE INDEX contacts_user ON contacts (user_id);

CREATE TABLE config (
	key  TEXT PRIMARY KEY,
	data BLOB NOT NULL
);

CREATE TABLE forms (
	id   TEXT PRIMARY KEY,
	data BLOB NOT NULL
);

CREATE TABLE templates (
	id   TEXT PRIMARY KEY,
	data BLOB NOT NULL
);

-- spec keeps the rule's JSON byte for byte; data is the rest of the record.
CREATE TABLE rules (
	id      TEXT PRIMARY KEY,
	version INTEGER NOT NULL,
	spec    BLOB NOT NULL,
	data    BLOB NOT NULL
);

CREATE TABLE surveys (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	status     TEXT NOT NULL,
	event_id   TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	data       BLOB NOT NULL
);
CREATE INDEX surveys_created ON surveys (created_at DESC, id DESC);

-- cur is the rowid of the recipient's current response.
CREATE TABLE recipients (
	survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL,
	cur       INTEGER,
	data      BLOB NOT NULL,
	PRIMARY KEY (survey_id, user_id)
) WITHOUT ROWID;

-- Every response ever recorded, in order: the history.
CREATE TABLE responses (
	rid       INTEGER PRIMARY KEY,
	id        TEXT NOT NULL UNIQUE,
	survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
	user_id   TEXT NOT NULL,
	data      BLOB NOT NULL
);
CREATE INDEX responses_user ON responses (survey_id, user_id, rid);

CREATE TABLE deliveries (
	id          TEXT PRIMARY KEY,
	survey_id   TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
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
) WITHOUT ROWID;
CREATE INDEX deliveries_ready ON deliveries (next_at, id) WHERE state IN ('queued', 'failed_temporary');
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'sending';

CREATE TABLE audit (
	seq         INTEGER PRIMARY KEY,
	at          INTEGER NOT NULL,
	actor       TEXT NOT NULL,
	action      TEXT NOT NULL,
	target_kind TEXT NOT NULL,
	target_id   TEXT NOT NULL,
	detail      TEXT NOT NULL
);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_target ON audit (target_id, seq);
