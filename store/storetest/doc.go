// Package storetest is the public conformance suite of anpi.Store. Every
// store (store/memstore, store/sqlite, store/postgres, and third-party
// ones) runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) anpi.Store {
//			st, err := mystore.Open(filepath.Join(t.TempDir(), "anpi.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			return st
//		})
//	}
//
// Run calls newStore once per subtest and expects a new, empty store each
// time; it closes the store when the subtest ends. Run the suite with -race:
// Outbox/ConcurrentClaims has eight goroutines claim the same outbox.
//
// # What is checked
//
// One subtest per area: Users, ListUsers, Departments, Roles, Contacts,
// AdminViewPrivacy, Settings, Forms, Templates, Rules, Surveys, Recipients,
// Outbox/Enqueue, Outbox/ClaimOrder, Outbox/ClaimChannels,
// Outbox/ExpiredLease, Outbox/FailDelivery, Outbox/CancelDeliveries,
// Outbox/CancelUserDeliveries,
// Outbox/MarkDelivered, Outbox/ConcurrentClaims, Responses,
// Responses/Idempotent, Responses/Errors, Tally/MatchesRecount, Audit,
// Tokens/PutAndGet, Tokens/Errors, Tokens/Revoke, Tokens/Rollback,
// Tokens/DeleteSurvey, Messages/Threads, Messages/Messages,
// Messages/Boards, Messages/Rollback, Messages/ConcurrentAppends,
// Messages/NilAndCancelled, Copies, Rollback/Error, Rollback/Panic,
// Rollback/Commit, Rollback/SingleCall, NilInputs and CancelledContext.
// Together they call every method of anpi.Tx and anpi.Store and check the
// error codes with anpi.Code.
//
// The suite can fail: its own tests run it against memstore with one bug
// planted at a time (no rollback, a claim without a lease, a tally that
// forgets replaced answers, an admin view that leaks a bounce message) and
// check that the matching subtests fail and the others pass.
//
// # What the suite assumes where the contract is silent
//
//   - Times the caller sets come back equal (require.Equal): in UTC, to the
//     second at least (the suite uses whole seconds). Timestamps the caller
//     leaves zero may be filled by the store.
//   - Error codes: a user who is not a recipient of the survey is NotFound
//     to RecordResponse; a survey that is not open is FailedPrecondition;
//     CompleteDelivery and FailDelivery on a delivery that is not Sending,
//     or whose lease another owner holds, are FailedPrecondition, as is
//     MarkDelivered on one that was not sent; PutRule with a version for a
//     rule never stored is FailedPrecondition; nil pointers are
//     InvalidArgument; a cancelled context is Unavailable.
//   - A call on the Store is a transaction of its own: a batch
//     (EnqueueDeliveries, AddRecipients) with one bad element adds nothing.
//   - FailDelivery with RetryAt makes the delivery claimable exactly at
//     RetryAt (NextAttemptAt ≤ Now); a lease is expired once LeaseUntil is
//     before Now.
//   - A response ID already recorded returns false even when the retried
//     response differs; an ID refused (e.g. the survey was closed) is not
//     burnt.
//   - Moving a survey's StartedAt keeps its counters equal to a recount.
//   - ResponseHistory of a recipient who never answered is empty, not an
//     error. DeleteSurvey of a draft removes its deliveries, and its answer
//     tokens (as anpi.TokenTx says).
//   - PutAnswerTokens is all or none also inside InTx: a refused batch
//     leaves nothing even when fn goes on and commits (a store may instead
//     fail the whole transaction). A hash twice in one batch is
//     AlreadyExists. Answer tokens come back exactly as stored, RevokedAt
//     and ExpiresAt included.
//   - Messages: CreateThread, AppendMessage, CreateBoard and AddPost that
//     are refused leave nothing, also inside InTx when fn goes on (a store
//     may instead fail the whole transaction), and burn no Seq. Seq has no
//     gaps even under concurrent appends (Messages/ConcurrentAppends has
//     eight goroutines append to one thread and one board). A member,
//     creator or author that is later deleted, and a board's department
//     that is deleted, stay in the records.
//   - RoleGrants and Contacts are compared as sets; every other list in the
//     order its documentation gives. An empty list may be nil. Objects the
//     suite stores have nil, never empty, slices where they have none, and
//     must come back so.
//
// VerifyTally is exported for store authors who want to check the tally
// invariant in tests of their own.
package storetest
