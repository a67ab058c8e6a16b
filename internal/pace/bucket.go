package pace

import (
	"math"
	"sync"
	"time"
)

// BucketOptions tune how a Bucket reacts to Slow. A nil *BucketOptions, or
// a zero field, means the default.
type BucketOptions struct {
	// Decrease multiplies the current rate on each Slow; default 0.7.
	Decrease float64
	// MinFactor is the lowest fraction of the configured rate that Slow
	// goes down to; default 0.1.
	MinFactor float64
	// Recovery is how long the rate takes to climb back linearly from
	// zero to the configured rate once the slowdowns stop; default 20 s
	// (so from 70 % back to 100 % in 6 s).
	Recovery time.Duration
	// Hold makes slowdowns closer together than Hold count as one: all the
	// requests in flight when a provider starts refusing come back refused
	// together, and that is one signal, not many; default 1 s.
	Hold time.Duration
}

// Bucket is a token bucket: it holds up to burst tokens and gains rate
// tokens a second. A sender takes one token per message. Take never
// waits; Reserve may go into debt and says how long to wait, so
// concurrent reservations queue up in order (like golang.org/x/time/rate's
// Reserve). Slow lowers the rate for a while when the provider refuses
// for quota.
//
// All methods take the current time from the caller's clock; times that
// run backwards (goroutines reading the clock in one order and calling in
// another) are treated as no time passing. A Bucket is safe for concurrent
// use.
type Bucket struct {
	mu       sync.Mutex
	rate     float64 // configured tokens per second
	burst    float64
	cur      float64 // current rate, ≤ rate after slowdowns
	tokens   float64 // may be negative: reserved ahead
	last     time.Time
	slowedAt time.Time
	opt      BucketOptions
}

// NewBucket returns a full bucket with the given rate (tokens per second,
// > 0) and burst (≥ 1).
func NewBucket(rate float64, burst int, now time.Time, opts *BucketOptions) *Bucket {
	var o BucketOptions
	if opts != nil {
		o = *opts
	}
	if o.Decrease <= 0 || o.Decrease >= 1 {
		o.Decrease = 0.7
	}
	if o.MinFactor <= 0 || o.MinFactor > 1 {
		o.MinFactor = 0.1
	}
	if o.Recovery <= 0 {
		o.Recovery = 20 * time.Second
	}
	if o.Hold <= 0 {
		o.Hold = time.Second
	}
	if rate <= 0 || math.IsNaN(rate) || math.IsInf(rate, 0) {
		rate = 1
	}
	burst = max(burst, 1)
	return &Bucket{rate: rate, burst: float64(burst), cur: rate, tokens: float64(burst), last: now, opt: o}
}

// advance refills the bucket up to now. b.mu is held.
func (b *Bucket) advance(now time.Time) {
	if !now.After(b.last) {
		return
	}
	dt := now.Sub(b.last).Seconds()
	b.last = now
	next := b.cur
	if next < b.rate {
		next = math.Min(b.rate, next+b.rate*dt/b.opt.Recovery.Seconds())
	}
	b.tokens = math.Min(b.burst, b.tokens+dt*(b.cur+next)/2)
	b.cur = next
}

// Take takes up to n tokens that are available now, without waiting, and
// returns how many it took (0 to n).
func (b *Bucket) Take(now time.Time, n int) int {
	if n <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	k := min(n, int(math.Floor(b.tokens)))
	if k <= 0 {
		return 0
	}
	b.tokens -= float64(k)
	return k
}

// Reserve takes n tokens, going into debt if it must, and returns how
// long the caller waits before using them (0 when they are there now).
// A caller that ends up not using them gives them back with Return.
func (b *Bucket) Reserve(now time.Time, n int) time.Duration {
	if n <= 0 {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(math.Ceil(-b.tokens / b.cur * float64(time.Second)))
}

// Return gives back n tokens taken or reserved but not used (the bucket
// still holds at most burst).
func (b *Bucket) Return(now time.Time, n int) {
	if n <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	b.tokens = math.Min(b.burst, b.tokens+float64(n))
}

// Slow tells the bucket the provider refused for quota: the rate drops
// by the Decrease factor (not below MinFactor of the configured rate) and
// the tokens saved up are dropped, then the rate climbs back over
// Recovery. Calls within Hold of the last effective one are ignored; Slow
// reports whether this one took effect.
func (b *Bucket) Slow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	if !b.slowedAt.IsZero() && now.Sub(b.slowedAt) < b.opt.Hold {
		return false
	}
	b.slowedAt = now
	b.cur = math.Max(b.rate*b.opt.MinFactor, b.cur*b.opt.Decrease)
	b.tokens = math.Min(b.tokens, 0)
	return true
}

// Rate returns the current rate in tokens per second (the configured rate
// unless slowed down).
func (b *Bucket) Rate(now time.Time) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	return b.cur
}

// Tokens returns the tokens available now (negative when reserved ahead).
func (b *Bucket) Tokens(now time.Time) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance(now)
	return b.tokens
}

// Limit returns the configured rate and burst.
func (b *Bucket) Limit() (rate float64, burst int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rate, int(b.burst)
}
