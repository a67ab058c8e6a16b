-- 0002: live tally counters, read by Tally instead of a recount, and
-- updated with upserts in the same transaction as each recipient and
-- answer. Rows of existing surveys are filled by a recount (in Go) when this
-- migration runs.
--
-- kind: '' is the whole survey (grp ''), 'd' the direct members of
-- department grp, 's' the subtree of department grp, 'r' region grp
-- ("quake:350"). Counts that drop to zero stay as rows; Tally skips them.
CREATE TABLE tally_groups (
	survey_id text NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
	kind      text NOT NULL,
	grp       text NOT NULL,
	targets   bigint NOT NULL,
	answered  bigint NOT NULL,
	PRIMARY KEY (survey_id, kind, grp)
);

-- Current answers per choice, for the survey and for each group.
CREATE TABLE tally_choices (
	survey_id text NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
	kind      text NOT NULL,
	grp       text NOT NULL,
	question  text NOT NULL,
	code      text NOT NULL,
	n         bigint NOT NULL,
	PRIMARY KEY (survey_id, kind, grp, question, code)
);

-- The first-answer histogram: whole seconds after the survey's start.
CREATE TABLE tally_seconds (
	survey_id text NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
	sec       bigint NOT NULL,
	n         bigint NOT NULL,
	PRIMARY KEY (survey_id, sec)
);
