package pace

import "time"

// BackoffCap returns the ceiling of the wait before retry number attempt
// (1 for the first retry): base·2^(attempt-1), capped at max.
func BackoffCap(attempt int, base, max time.Duration) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// FullJitter returns a wait drawn uniformly from [0, BackoffCap(attempt,
// base, max)] ("full jitter": retries of many clients spread out instead of
// arriving together). rnd(n) returns a uniform integer in [0, n), like
// math/rand/v2's Int64N.
func FullJitter(attempt int, base, max time.Duration, rnd func(n int64) int64) time.Duration {
	c := BackoffCap(attempt, base, max)
	if c <= 0 {
		return 0
	}
	return time.Duration(rnd(int64(c) + 1))
}
