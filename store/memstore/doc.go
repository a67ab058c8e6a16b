// Package memstore is an in-memory anpi.Store: the reference
// implementation of the Store contract, for tests, demos and small
// single-process deployments. It passes the conformance suite
// store/storetest.
//
// # Transactions
//
// One sync.RWMutex guards everything. InTx (and every write called on the
// Store itself) holds the write lock for the whole transaction and records
// an undo step for each change; when the function returns an error or
// panics, the steps run newest first and the store is exactly as before
// (a panic goes on after the rollback). Reads called on the Store share the
// read lock. Stored objects are copied in and copied out, and never changed
// in place.
//
// # Timestamps
//
// Timestamps the caller sets are kept. Those left zero (User.CreatedAt and
// UpdatedAt, Contact.CreatedAt, Survey.CreatedAt, Delivery.CreatedAt and
// UpdatedAt, RuleRecord.UpdatedAt, and the At of results and failures) are
// filled from Options.Now, so tests can run on a fixed clock.
//
// # Indexes
//
// Deliveries waiting to be sent sit in one heap per channel ordered by
// (NextAttemptAt, ID), and leased deliveries in one heap per channel
// ordered by LeaseUntil, so ClaimDeliveries touches only the deliveries it
// hands out and the expired leases: claiming stays cheap with hundreds of
// thousands of deliveries (see BenchmarkClaim). ListUsers pages through a
// cached, sorted list of user IDs that creates and deletes invalidate.
// Answer tokens sit in a map keyed by hash, and in a per-survey, per-user
// index for revocation. Threads are indexed by member; a thread's messages
// and a board's posts are slices in Seq order, so a page is a sub-slice. Tallies are counters, updated with each recipient and answer; a
// transaction copies a survey's tally once, the first time it changes it.
//
// # Choices where the contract is silent
//
//   - DeleteDepartment also removes the role grants scoped to the
//     department, so a department created later under the same ID does not
//     inherit them.
//   - RecordResponse: a user who is not a recipient is NotFound; a survey
//     that is not open is FailedPrecondition.
//   - MarkDelivered on a delivery that is neither Sent nor Delivered is
//     FailedPrecondition.
//   - FailDelivery with a zero RetryAt makes the delivery claimable at once.
//   - Lists of a survey's recipients, deliveries and responses are NotFound
//     for an unknown survey.
//   - RevokeAnswerTokens with a zero time revokes at Options.Now.
//   - After Close every call fails with FailedPrecondition.
package memstore
