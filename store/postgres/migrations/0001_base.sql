-- 0001: the base schema. The migrator runs this with search_path set to the
-- store's schema, so names here are unqualified. Objects whose shape only Go
-- reads are kept as JSON in a bytea data column (private contacts: sealed);
-- the columns beside it are what queries filter, sort and join on.
-- Delivery and audit times are bigint Unix nanoseconds in UTC (timestamptz
-- has only microseconds, and the store returns what it was given).

CREATE TABLE users (
	id            text PRIMARY KEY,
	employee_code text NOT NULL UNIQUE,
	status        text NOT NULL,
	data          bytea NOT NULL
);

CREATE TABLE departments (
	id        text PRIMARY KEY,
	parent_id text NOT NULL,
	data      bytea NOT NULL
);
CREATE INDEX departments_parent ON departments (parent_id);

CREATE TABLE user_departments (
	user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	department_id text NOT NULL REFERENCES departments (id),
	PRIMARY KEY (department_id, user_id)
);
CREATE INDEX user_departments_user ON user_departments (user_id);

CREATE TABLE role_grants (
	user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	department text NOT NULL,
	role       text NOT NULL,
	PRIMARY KEY (user_id, department, role)
);
CREATE INDEX role_grants_department ON role_grants (department);

-- data is a JSON object with the address, label, check state and creation
-- time; for private and family contacts it is sealed (sealed = true) with
-- the contact ID as additional data.
CREATE TABLE contacts (
	id      text PRIMARY KEY,
	user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	kind    text NOT NULL,
	scope   text NOT NULL,
	sealed  boolean NOT NULL,
	data    bytea NOT NULL
);
CREATE INDEX contacts_user ON contacts (user_id);

CREATE TABLE config (
	key  text PRIMARY KEY,
	data bytea NOT NULL
);

CREATE TABLE forms (
	id   text PRIMARY KEY,
	data bytea NOT NULL
);

CREATE TABLE templates (
	id   text PRIMARY KEY,
	data bytea NOT NULL
);

CREATE TABLE rules (
	id      text PRIMARY KEY,
	version integer NOT NULL,
	data    bytea NOT NULL
);

CREATE TABLE surveys (
	id         text PRIMARY KEY,
	kind       text NOT NULL,
	status     text NOT NULL,
	event_id   text NOT NULL,
	created_at bigint NOT NULL,
	data       bytea NOT NULL
);
CREATE INDEX surveys_created ON surveys (created_at DESC, id DESC);

-- cur is the ID of the recipient's current response.
CREATE TABLE recipients (
	survey_id text NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
	user_id   text NOT NULL,
	cur       text,
	data      bytea NOT NULL,
	PRIMARY KEY (survey_id, user_id)
);

-- Every response ever recorded, in order (rid): the history.
CREATE TABLE responses (
	rid       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id        text NOT NULL UNIQUE,
	survey_id text NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
	user_id   text NOT NULL,
	data      bytea NOT NULL
);
CREATE INDEX responses_user ON responses (survey_id, user_id, rid);

-- No foreign key to surveys: checking it would lock the survey row once
-- per enqueued delivery (100,000 at a time); the store checks that the
-- survey exists, and DeleteSurvey removes a draft's deliveries itself.
CREATE TABLE deliveries (
	id          text PRIMARY KEY,
	survey_id   text NOT NULL,
	user_id     text NOT NULL,
	channel     text NOT NULL,
	contact_id  text NOT NULL,
	round       integer NOT NULL,
	state       text NOT NULL,
	attempts    integer NOT NULL,
	next_at     bigint NOT NULL,
	lease_owner text NOT NULL,
	lease_until bigint,
	last_error  text NOT NULL,
	provider_id text NOT NULL,
	created_at  bigint,
	updated_at  bigint,
	sent_at     bigint,
	UNIQUE (survey_id, user_id, channel, contact_id, round)
);
-- Claims scan this index in claim order; it holds only the rows a claim
-- may take (or skip while their lease runs).
CREATE INDEX deliveries_claim ON deliveries (next_at, id) WHERE state IN ('queued', 'failed_temporary', 'sending');

-- seq comes from audit_seq, a one-row counter locked until commit, so
-- entries become visible in seq order and a rolled-back one leaves no gap.
CREATE TABLE audit (
	seq         bigint PRIMARY KEY,
	at          bigint NOT NULL,
	actor       text NOT NULL,
	action      text NOT NULL,
	target_kind text NOT NULL,
	target_id   text NOT NULL,
	detail      text NOT NULL
);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_target ON audit (target_id, seq);
CREATE INDEX audit_at ON audit (at, seq);

CREATE TABLE audit_seq (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	seq bigint NOT NULL
);
INSERT INTO audit_seq (seq) VALUES (0);
