-- 0007: the outbox's identifiers compare as bytes.
--
-- IDs and keys are opaque. Under the database's linguistic collation
-- (en_US.UTF-8, or C.UTF-8 with libc) every comparison in the outbox's
-- indexes went through strcoll, and "ORDER BY id" could order non-ASCII
-- IDs differently from Go's strings.Compare and from SQLite, which the
-- claim order and Deliveries follow. COLLATE "C" compares bytes: the same
-- order everywhere, and about a tenth off enqueueing 100,000 deliveries.
ALTER TABLE deliveries
	ALTER COLUMN id TYPE text COLLATE "C",
	ALTER COLUMN survey_id TYPE text COLLATE "C",
	ALTER COLUMN user_id TYPE text COLLATE "C",
	ALTER COLUMN channel TYPE text COLLATE "C",
	ALTER COLUMN contact_id TYPE text COLLATE "C";
