// Package sqlite is the embedded default anpi.Store: one SQLite file,
// through modernc.org/sqlite (pure Go: it builds with CGO_ENABLED=0). It
// passes the conformance suite store/storetest.
//
//	st, err := sqlite.Open(ctx, "anpi.db", &sqlite.Options{Sealer: sealer})
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL by default: when a
// write returns nil, it is on disk and survives a crash of the process or
// of the machine (Options.Synchronous = Normal keeps it only across a crash
// of the process). Foreign keys are on and a busy connection waits
// Options.BusyTimeout before failing with Unavailable. Close checkpoints
// the write-ahead log into the database file.
//
// One writer connection carries every write: the Store's own write methods,
// InTx and the group committer take turns on it, so writes never fail with
// SQLITE_BUSY inside the process. Reads called on the Store run on a pool
// of read connections (Options.Readers) and see the last commit; reads in
// InTx see the transaction's own writes. The read connections map the
// database file (Options.ReaderMmap) and keep a small page cache: a commit
// makes a reader drop its cache, which modernc.org/sqlite does page by
// page. A response that names its answer token (anpi.Response.ViaToken) is
// checked against it in the statement that reads the recipient.
//
// # Group commit
//
// RecordResponse called on the Store (not inside InTx) hands the answer to
// a committer goroutine through a bounded queue (Options.GroupCommitQueue).
// The committer takes the first answer, waits up to
// Options.GroupCommitWindow (1 ms) for others, up to
// Options.GroupCommitMax, and records them all in one transaction. An
// answer that is refused (unknown user, closed survey, invalid answers) is
// refused before it writes anything, so it gets its own error and the
// others go on. Every caller is answered only after the shared transaction
// committed, so an acknowledged answer is durable. When the shared
// transaction fails as a whole, each answer is retried in a transaction of
// its own, so one bad answer cannot fail the others. A caller whose
// context ends while waiting gets Unavailable, and his answer may still be
// committed: retrying with the same response ID is safe, since a recorded
// ID is never recorded twice. GroupCommitStats reports the batches.
//
// The writer connection keeps its statements prepared across
// transactions (modernc.org/sqlite would otherwise parse every statement
// on every call), which is what makes an answer cheap enough for a commit
// of hundreds of them to take a few milliseconds.
//
// # Tallies
//
// Every survey's counters (targets, answers, choices; per department,
// department subtree and region; the histogram of first-answer seconds)
// are kept in the tally table and changed in the same transaction as the
// recipients and answers that move them, so Tally reads a few rows and
// never recounts. Changes are folded in memory during a transaction and
// written once before it commits (one read and one write per touched
// group), so a group commit of hundreds of answers touches each counter
// row once. A re-answer moves the counts from the old choices to the new;
// changing a survey's StartedAt recounts it.
//
// # Answer tokens
//
// The answer_tokens table (migration 3) holds only each token's
// anpi.TokenHash (never the token), as a 32-byte BLOB primary key of a
// WITHOUT ROWID table (the Service's tokens start with a time-ordered
// locator, so a fan-out's tokens append to it): the
// look-up on every answer-page hit is one primary-key search on a reader
// connection. Revocation and the deletion of a draft survey (ON DELETE
// CASCADE) go through the (survey_id, user_id) index. PutAnswerTokens
// inserts behind a savepoint, so a refused batch leaves nothing even
// inside InTx.
//
// # Threads and boards
//
// Migration 4 adds threads, thread_members, messages, boards and posts.
// thread_members is keyed by (user_id, thread_id), so ListThreads is one
// range of that key joined to threads; a thread's members come from the
// (thread_id, user_id) index. Messages and posts are keyed by (thread_id,
// seq) and (board_id, seq): a page is one range of the key. Appending
// bumps the thread's or board's last_seq with UPDATE … RETURNING on the
// single writer, behind a savepoint, so Seq has no gaps and a refused
// append leaves nothing. User IDs and a board's department have no
// foreign key: the records outlive deleted users and departments.
//
// # Claims
//
// ClaimDeliveries reads, for each channel it asks for (every channel when
// ClaimRequest.Channels is empty), one range of the partial index of due
// deliveries and one of expired leases, both led by the channel
// (migration 5), at most Limit rows each; it merges them in claim order
// and leases them with one UPDATE. A claim for a channel with nothing due
// reads none of the other channels' backlog, so idle channels' loops cost
// next to nothing.
//
// # Private contacts at rest
//
// Private and family contacts are sealed with Options.Sealer (see
// anpi.Sealer and anpi.NewAESSealer): the address, the label and the check
// state (a bounce message may quote the address) are stored only as one
// sealed value whose additional data is the contact ID. The work email,
// which administrators may see, stays in the clear, as do the directory
// records. Open refuses to run without a Sealer unless
// Options.AllowPlaintextContacts is set, for tests and demos. RotateSealed
// re-seals, in batches, what an older key sealed (and seals what was
// stored in the clear), after the Sealer's current key changed.
//
// # Locking
//
// Open takes an exclusive flock on path+".lock" and holds it until Close,
// so a second Store on the same file, in this process or another, fails
// with FailedPrecondition instead of corrupting the single-writer design.
// On Linux, macOS and the BSDs this uses flock(2); on other systems (such
// as Windows) no lock is taken and opening a database from two processes
// is not detected: do not do it.
//
// # Schema
//
// The schema is built by the numbered migrations embedded from
// migrations/*.sql, applied in order, one transaction each, and recorded
// in the schema_migrations table; upgrades are forward only. A database
// whose version is newer than SchemaVersion is refused with
// FailedPrecondition naming both versions. Objects only Go reads are kept
// as JSON beside the columns that queries use; times are Unix nanoseconds
// in UTC.
//
// # Performance
//
// The benchmarks (go test -bench . ./store/sqlite) report, on the shared
// 2-vCPU machine the package was written on, with synchronous=FULL:
//
//   - BenchmarkDurableAnswers, 256 goroutines answering: 17,000 to 31,000
//     durable answers/s through the group committer (about 250 answers per
//     commit) against 850 to 3,500/s with one commit per answer: 9 to 27
//     times more.
//   - BenchmarkEnqueue100k: 100,000 deliveries in one InTx in 0.43 to
//     0.53 s (0.41 to 0.54 s of CPU); up to 1 s while other processes load
//     the machine.
//   - BenchmarkClaimComplete100k, 8 workers claiming 100 at a time and
//     completing each claim in one transaction: 17,000 to 55,000
//     deliveries/s.
//   - BenchmarkBacklog50k, 50,000 emails queued and due: a claim of SMS
//     (none due) in 0.04 ms, where it read the whole backlog in 55 to
//     85 ms before migration 5; a claim of 100 emails in 1.2 ms.
//   - BenchmarkTally1M: Tally of a survey of 1,000,000 recipients who all
//     answered in 0.9 to 3.3 ms (it reads about 380 counter rows); the
//     responses take about 364 bytes each in the file.
//
// The ranges are the quietest and the busiest runs on that machine.
//
// # Choices where the contract is silent
//
// They are memstore's: a user who is not a recipient is NotFound to
// RecordResponse, a survey that is not open FailedPrecondition,
// DeleteDepartment removes the grants scoped to it, FailDelivery with a
// zero RetryAt makes the delivery claimable at once, RevokeAnswerTokens with
// a zero time revokes at Options.Now, and after Close every call fails with
// FailedPrecondition.
package sqlite
