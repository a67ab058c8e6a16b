// Package dispatch sends the deliveries of an anpi.Store's outbox: the
// delivery dispatcher.
//
// The engine (anpi.Service) writes a survey and its deliveries, one per
// recipient on the first channel of the fallback order, in one
// transaction. A Dispatcher then, per channel:
//
//  1. claims due deliveries with a lease (anpi.OutboxTx.ClaimDeliveries),
//     a batch at a time, just before sending them, so a crash re-sends at
//     most what was in flight;
//  2. renders each through the Renderer (the engine: contact, answer
//     token, template), the whole batch in one call when the Renderer is
//     a BatchRenderer (one transaction for the batch's answer tokens),
//     and puts the delivery's IdempotencyKey on the message when the
//     renderer left it empty;
//  3. sends them with channel.SendAll (one SendBatch when the sender is a
//     channel.BatchSender);
//  4. records every result, all in one transaction when it can.
//
// What a result leads to, by channel.Code:
//
//	OK                      CompleteDelivery with the receipt's ProviderID
//	Temporary, Unknown      FailDelivery with RetryAt: capped exponential backoff with
//	                        full jitter, never before channel.RetryAfter; counts towards
//	                        the circuit breaker
//	RateLimited             the same, and the channel's bucket slows down (×0.7, then
//	                        back to its rate over 20 s)
//	Misconfigured           the circuit opens at once; retry after the cooldown
//	Permanent, Unregistered the contact gets LastError (and Broken for Unregistered);
//	                        the delivery falls back
//
// Falling back: in one transaction the delivery becomes FailedPermanent and
// a delivery with the same survey, user and round is enqueued on the next
// channel of Options.Fallback that has a sender (its ID is derived from its
// key, so doing it twice enqueues one). A delivery falls back when its
// channel fails permanently, when the Renderer says the recipient has no
// contact on it (anpi.NotFound), when no sender is configured for its
// channel, when it has had Options.MaxAttempts attempts, and when its
// channel's circuit has been open for Circuit.Failover. When the order is
// exhausted the delivery stays FailedPermanent: the engine reports those
// recipients as unreachable.
//
// A Renderer error of code FailedPrecondition (the survey no longer takes
// answers) makes the delivery FailedPermanent with no fallback; other
// Renderer errors are retried like Temporary ones.
//
// Each channel has a circuit breaker: after Circuit.Failures consecutive
// failures (or one Misconfigured answer) nothing is claimed on the channel
// for Circuit.Cooldown; then one delivery goes as a probe, whose success
// closes the circuit and whose failure reopens it.
//
// Deliveries need not be claimed: a fan-out in the same process can hand
// them over (Handoff, given to the dispatcher and to anpi.Options). They
// are written already leased to the dispatcher, which sends them before
// any claim, while their lease has more than SendTimeout left; a crash
// leaves them held until the lease ends, and then any dispatcher claims
// them, as it would a crashed sender's claims.
//
// Run sends until its context ends, Limit.Concurrency rounds per channel
// at a time, each claiming a batch and waiting for its tokens before
// sending it (an idle loop holds no tokens; a batch waits at most
// Concurrency·Batch/Rate, well inside its lease). Step makes one
// round per channel without waiting, for tests and custom loops. A survey
// whose deliveries were cancelled in the store (CancelDeliveries) is never
// claimed again. Several dispatchers, in one process or on several
// replicas, may share a store: leases keep them from sending the same
// delivery, but the rate limits are per Dispatcher, so split a provider's
// limit between them.
//
// Time comes from Options.Clock (timers included), randomness from
// Options.Rand, so tests drive both: Step with a fake clock for exact
// sequences, Run under testing/synctest for the loops.
package dispatch
