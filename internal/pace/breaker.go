package pace

import (
	"sync"
	"time"
)

// State is where a Breaker stands.
type State int

// The states of a Breaker.
const (
	// Closed lets everything through.
	Closed State = iota
	// Open lets nothing through until its cooldown is over.
	Open
	// HalfOpen lets one probe through; its result closes or reopens the
	// breaker.
	HalfOpen
)

// String returns "closed", "open" or "half-open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "unknown"
}

// Breaker is a circuit breaker. It opens after Failures consecutive
// failures (or at once with Trip), stays open for Cooldown, then lets one
// probe through (half-open): a success closes it, a failure opens it for
// another Cooldown. Results reported while it is open (requests that were
// in flight when it opened) are ignored. It is safe for concurrent use.
type Breaker struct {
	mu        sync.Mutex
	failures  int
	cooldown  time.Duration
	state     State
	count     int       // consecutive failures while closed
	until     time.Time // end of the cooldown while open
	since     time.Time // when it first opened since it was last closed
	probing   bool      // a half-open probe is in flight
	lastCause string
}

// NewBreaker returns a closed Breaker that opens after failures (≥ 1)
// consecutive failures and stays open for cooldown.
func NewBreaker(failures int, cooldown time.Duration) *Breaker {
	return &Breaker{failures: max(failures, 1), cooldown: max(cooldown, 0)}
}

// Allow reports whether a request may go now, and whether it is the
// half-open probe. A caller given the probe reports its result with
// Success or Failure, or gives it back with Release if it sent nothing.
func (b *Breaker) Allow(now time.Time) (ok, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Closed:
		return true, false
	case Open:
		if now.Before(b.until) {
			return false, false
		}
		b.state = HalfOpen
	}
	if b.probing {
		return false, false
	}
	b.probing = true
	return true, true
}

// Release gives back a probe that sent nothing.
func (b *Breaker) Release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// Success records a request that reached a working provider. It closes a
// half-open breaker when probe is true, and resets the failure count of a
// closed one.
func (b *Breaker) Success(probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.state == Closed:
		b.count = 0
	case b.state == HalfOpen && probe:
		b.state, b.count, b.probing, b.since, b.lastCause = Closed, 0, false, time.Time{}, ""
	}
}

// Failure records a failed request and reports whether the breaker opened
// because of it. cause says why, for Cause.
func (b *Breaker) Failure(now time.Time, probe bool, cause string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.state == Closed:
		b.count++
		if b.count >= b.failures {
			b.open(now, cause)
			return true
		}
	case b.state == HalfOpen && probe:
		b.open(now, cause)
		return true
	}
	return false
}

// Trip opens the breaker at once (a failure that will repeat for every
// request, such as bad credentials) and reports whether it was not open
// already.
func (b *Breaker) Trip(now time.Time, cause string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open && now.Before(b.until) {
		b.lastCause = cause
		return false
	}
	b.open(now, cause)
	return true
}

func (b *Breaker) open(now time.Time, cause string) {
	if b.state == Closed {
		b.since = now
	}
	b.state, b.until, b.probing, b.count, b.lastCause = Open, now.Add(b.cooldown), false, 0, cause
}

// State returns the breaker's state at now (Open turns HalfOpen once the
// cooldown is over).
func (b *Breaker) State(now time.Time) State {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open && !now.Before(b.until) {
		return HalfOpen
	}
	return b.state
}

// OpenUntil returns when the current cooldown ends (zero when closed).
func (b *Breaker) OpenUntil() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Closed {
		return time.Time{}
	}
	return b.until
}

// OpenSince returns when the breaker first opened since it was last
// closed (zero when closed): how long the provider has been failing.
func (b *Breaker) OpenSince() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.since
}

// Cause returns the cause given to the Failure or Trip that last opened
// the breaker ("" when closed).
func (b *Breaker) Cause() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastCause
}
