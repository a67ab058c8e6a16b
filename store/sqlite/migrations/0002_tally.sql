-- 0002: live tally counters, read in O(1) by Tally instead of a recount.
-- One row per (survey, group): kind '' is the whole survey, 'd' a
-- department (direct members), 's' a department subtree, 'r' a region,
-- 'h' a 60-second bucket of the answer-time histogram. data is a compact
-- binary record (see encodeRow in tally.go): targets, answered, the
-- choice counts per question and code, the histogram entries.
-- Rows of existing surveys are filled by a recount when this migration runs.
CREATE TABLE tally (
	survey_id TEXT NOT NULL REFERENCES surveys (id) ON DELETE CASCADE,
	kind      TEXT NOT NULL,
	grp       TEXT NOT NULL,
	data      BLOB NOT NULL,
	PRIMARY KEY (survey_id, kind, grp)
) WITHOUT ROWID;
