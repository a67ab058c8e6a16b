// Package pace holds the generic pieces a sender needs to respect a
// provider's limits and to survive its failures, each driven by an injected
// clock so that tests control time:
//
//   - Bucket, a token bucket that paces sends to a rate with a burst, and
//     slows itself down when the provider answers "too many requests"
//     (multiplicative decrease, linear recovery);
//   - Breaker, a circuit breaker that opens after consecutive failures and
//     lets one probe through once its cooldown is over (half-open);
//   - FullJitter, capped exponential backoff with full jitter;
//   - Clock, with SystemClock for production and FakeClock for tests.
//
// Everything here is safe for concurrent use and allocation-free on its hot
// paths. The package knows nothing about messages or channels; anpi/dispatch
// builds on it.
package pace
