// Package postgres is the scale-out anpi.Store: PostgreSQL through
// github.com/jackc/pgx/v5 (pgxpool). Any number of server replicas may
// share one database: claims, answers, tallies and migrations are safe
// across processes. It passes the conformance suite store/storetest.
//
//	st, err := postgres.Open(ctx, "postgres://anpi@db.internal/anpi", &postgres.Options{Sealer: sealer})
//
// New takes a *pgxpool.Pool the caller owns instead of a URL.
//
// # Schema
//
// Every table lives in Options.Schema (default "public"; created when
// missing), and every statement names it, so several stores (tenants, or
// test runs) can share one database and any pool works, whatever its
// search_path. The schema is built by the numbered migrations embedded from
// migrations/*.sql and recorded in the schema_version table; upgrades are
// forward only. Open applies the pending ones in one transaction that holds
// a transaction-level advisory lock (pg_advisory_xact_lock) on the schema's
// name, so replicas starting at once migrate once: the first applies, the
// others wait and find nothing to do. A schema whose version is newer than
// SchemaVersion is refused with FailedPrecondition naming both versions.
// Objects only Go reads are kept as JSON (bytea) beside the columns that
// queries use; delivery and audit times are bigint Unix nanoseconds in UTC
// (timestamptz keeps only microseconds, and a store returns what it was
// given).
//
// # Transactions
//
// Transactions run at READ COMMITTED. Operations that read then write lock
// what they read (SELECT … FOR UPDATE; a survey FOR SHARE while answers to
// it are recorded), always in key order. A transaction the server aborts
// for a serialization failure or a deadlock is run again, up to
// Options.TxRetries times, so the function given to InTx may run more than
// once. Reads called on the Store run in a read-only transaction (Tally, in
// one pipeline straight on the pool).
//
// # Connections
//
// Open's pool takes its settings from the URL (pool_max_conns and the
// other pool_* parameters of pgxpool; the default is max(4, CPUs)
// connections). The group committer uses one connection at a time,
// WaitForDeliveries holds one while it waits, and reads and InTx take
// the others.
//
// # Claims across replicas
//
// ClaimDeliveries is one statement: for each channel asked for (every
// channel when ClaimRequest.Channels is empty) it locks, with FOR UPDATE
// SKIP LOCKED, the first due deliveries and expired leases in claim order
// through two partial indexes led by the channel (migration 5), and
// leases the first of them in the same statement, so any number of
// claimers, in any number of processes, take different deliveries without
// waiting for one another and without a delivery going to two of them. A
// claim for a channel with nothing due reads none of the other channels'
// backlog.
//
// EnqueueDeliveries writes large batches with COPY behind a savepoint;
// when a key is already stored (escalation, crash recovery) it rolls back
// to the savepoint and inserts in pipelined multi-row statements with ON
// CONFLICT on the delivery key DO NOTHING, so existing keys are skipped.
// It also sends a NOTIFY that WaitForDeliveries receives, so idle
// dispatchers need not poll often.
//
// # Group commit
//
// RecordResponse called on the Store (not inside InTx) hands the answer to
// a committer goroutine. The committer takes the first answer, waits up to
// Options.GroupCommitWindow (1 ms) for others, up to
// Options.GroupCommitMax, and records them all in one transaction in the
// same five round trips whatever their number: begin, a pipeline of reads,
// a pipeline of writes, the counter upserts and the commit. An answer
// refused for its own reasons (unknown user, closed survey, invalid) gets
// its own error and writes nothing. Every caller is answered only after
// the shared transaction committed, so an acknowledged answer is as
// durable as the server makes commits (synchronous_commit and fsync on).
// When the shared transaction fails as a whole, each answer is recorded in
// a transaction of its own. A caller whose context ends while waiting gets
// Unavailable, and his answer may still be committed: retrying with the
// same response ID is safe, since a recorded ID is never recorded twice.
//
// # Tallies
//
// Every survey's counters live in three tables: tally_groups (targets and
// answered for the survey, each department, each department subtree and
// each region), tally_choices (current answers per question and choice,
// for the survey and each group) and tally_seconds (the histogram of
// first-answer seconds). They change in the same transaction as the
// recipients and answers that move them, by upserts that add deltas
// (INSERT … ON CONFLICT DO UPDATE SET n = n + delta): the deltas of a
// transaction are folded in memory and written in one statement per survey
// before the commit, rows in key order. A re-answer moves the counts from
// the old choices to the new; changing a survey's StartedAt recounts it.
// Tally reads the counter rows only, in one round trip: its cost depends on
// the number of groups and distinct answer seconds, not on the number of
// recipients.
//
// # Answer tokens
//
// The answer_tokens table (migration 3) holds only each token's
// anpi.TokenHash (never the token), as a 32-byte bytea primary key; the
// Service's tokens start with a time-ordered locator, so a fan-out's
// tokens append to the primary key's index. AnswerToken, called on every
// answer-page hit, is one primary-key probe in one statement straight on
// the pool, without a transaction. PutAnswerTokens writes a batch in one
// statement (unnest of arrays) that inserts nothing when a hash is already
// stored, so a refused batch leaves the transaction usable and unchanged.
// As for deliveries, the table has no foreign key to surveys: each survey
// of a batch is locked once (FOR KEY SHARE) until the commit, and
// DeleteSurvey removes a draft's tokens after its row. Revocation uses the
// (survey_id, user_id) index.
//
// # Threads and boards
//
// Migration 4 adds threads, thread_members, messages, boards and posts,
// keyed as in store/sqlite: a user's threads are one range of
// thread_members' (user_id, thread_id) key, a page of messages or posts
// one range of (thread_id, seq) or (board_id, seq). Appending bumps the
// thread's or board's last_seq with UPDATE … RETURNING: its row lock
// orders appends from several replicas, so Seq has no gaps, and the bump
// and the insert run behind a savepoint, so a message ID a concurrent
// transaction took is AlreadyExists and leaves the caller's transaction
// usable. User IDs have no foreign key (the records outlive deleted
// users): CreateThread, CreateBoard and AddPost lock the users they check
// FOR KEY SHARE instead, and CreateBoard the department. Lists order ties
// by ID with COLLATE "C", byte order whatever the database's collation.
//
// # Private contacts at rest
//
// Private and family contacts are sealed with Options.Sealer (see
// anpi.Sealer and anpi.NewAESSealer): the address, the label and the check
// state (a bounce message may quote the address) are stored only as one
// sealed value whose additional data is the contact ID. The work email,
// which administrators may see, stays in the clear, as do the directory
// records. Open refuses to run without a Sealer unless
// Options.AllowPlaintextContacts is set: then private addresses are stored
// in the clear, readable by anyone with access to the database or its
// backups; it is meant for tests and demos. RotateSealed re-seals, in
// batches, what an older key sealed (and seals what was stored in the
// clear), after the Sealer's current key changed.
//
// # Choices where the contract is silent
//
// They are memstore's: a user who is not a recipient is NotFound to
// RecordResponse, a survey that is not open FailedPrecondition,
// DeleteDepartment removes the grants scoped to it, FailDelivery with a
// zero RetryAt makes the delivery claimable at once, RevokeAnswerTokens with
// a zero time revokes at Options.Now, and after Close every call fails with
// FailedPrecondition. Errors are classified: unique violations are
// AlreadyExists, foreign-key violations and missing privileges
// FailedPrecondition, bad data (such as a NUL byte in text)
// InvalidArgument, and connection failures, a server shutting down,
// deadlocks and cancelled contexts Unavailable.
package postgres
