package pace

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

func TestBucketTakeRefillsAtRate(t *testing.T) {
	b := NewBucket(100, 10, t0, nil)
	require.Equal(t, 10, b.Take(t0, 25), "starts full, gives at most burst")
	require.Equal(t, 0, b.Take(t0, 1))
	require.Equal(t, 5, b.Take(t0.Add(50*time.Millisecond), 25), "100/s for 50 ms")
	require.Equal(t, 10, b.Take(t0.Add(time.Hour), 25), "never more than burst")
	require.Equal(t, 0, b.Take(t0.Add(time.Hour), 0))
	r, burst := b.Limit()
	require.Equal(t, 100.0, r)
	require.Equal(t, 10, burst)
}

func TestBucketReserveQueuesInOrder(t *testing.T) {
	b := NewBucket(10, 5, t0, nil)
	require.Zero(t, b.Reserve(t0, 5))
	require.Equal(t, 500*time.Millisecond, b.Reserve(t0, 5), "second batch waits for 5 tokens at 10/s")
	require.Equal(t, time.Second, b.Reserve(t0, 5), "third waits behind the second")
	b.Return(t0, 5) // the third found nothing to send
	require.InDelta(t, -5, b.Tokens(t0), 1e-9)
	require.InDelta(t, 0, b.Tokens(t0.Add(500*time.Millisecond)), 1e-9)
	// Time going backwards counts as none passing.
	require.Zero(t, b.Take(t0, 1))
	require.InDelta(t, 0, b.Tokens(t0.Add(500*time.Millisecond)), 1e-9)
}

func TestBucketSlowAndRecover(t *testing.T) {
	b := NewBucket(1000, 100, t0, &BucketOptions{Decrease: 0.5, MinFactor: 0.2, Recovery: 10 * time.Second, Hold: time.Second})
	require.True(t, b.Slow(t0))
	require.Equal(t, 500.0, b.Rate(t0))
	require.Zero(t, b.Take(t0, 1), "saved tokens dropped")
	require.False(t, b.Slow(t0.Add(999*time.Millisecond)), "within hold: one signal")
	now := t0.Add(time.Second)
	require.True(t, b.Slow(now))
	// 1 s of recovery at 100/s² brought it to 600 before the halving.
	require.InDelta(t, 300, b.Rate(now), 1e-6)
	for range 5 {
		now = now.Add(time.Second)
		require.True(t, b.Slow(now))
	}
	require.InDelta(t, 200, b.Rate(now), 1e-6, "not below MinFactor")
	require.InDelta(t, 700, b.Rate(now.Add(5*time.Second)), 1e-6, "linear recovery: +100/s each second")
	require.InDelta(t, 1000, b.Rate(now.Add(time.Minute)), 1e-6, "back to the configured rate, no further")
}

func TestBucketConcurrentNeverOverspends(t *testing.T) {
	b := NewBucket(1000, 50, t0, nil)
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				n := b.Take(t0.Add(time.Duration(i)*time.Millisecond), 3+g%2)
				mu.Lock()
				total += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// 50 at start + 1000/s for 99 ms.
	require.LessOrEqual(t, total, 50+99)
}

func TestBackoff(t *testing.T) {
	require.Equal(t, time.Second, BackoffCap(1, time.Second, time.Minute))
	require.Equal(t, 8*time.Second, BackoffCap(4, time.Second, time.Minute))
	require.Equal(t, time.Minute, BackoffCap(7, time.Second, time.Minute))
	require.Equal(t, time.Minute, BackoffCap(1000, time.Second, time.Minute), "no overflow")
	require.Zero(t, BackoffCap(3, 0, time.Minute))

	r := rand.New(rand.NewPCG(1, 2))
	for attempt := 1; attempt < 12; attempt++ {
		c := BackoffCap(attempt, 100*time.Millisecond, 10*time.Second)
		for range 200 {
			d := FullJitter(attempt, 100*time.Millisecond, 10*time.Second, r.Int64N)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, c)
		}
	}
	require.Equal(t, 4*time.Second, FullJitter(3, time.Second, time.Minute, func(n int64) int64 { return n - 1 }))
	require.Zero(t, FullJitter(3, time.Second, time.Minute, func(int64) int64 { return 0 }))
}

func TestBreaker(t *testing.T) {
	b := NewBreaker(3, time.Minute)
	now := t0
	ok, probe := b.Allow(now)
	require.True(t, ok)
	require.False(t, probe)
	require.False(t, b.Failure(now, false, "e1"))
	require.False(t, b.Failure(now, false, "e2"))
	b.Success(false) // resets the count
	require.False(t, b.Failure(now, false, "e1"))
	require.False(t, b.Failure(now, false, "e2"))
	require.True(t, b.Failure(now, false, "e3"))
	require.Equal(t, Open, b.State(now))
	require.Equal(t, "e3", b.Cause())
	require.Equal(t, now, b.OpenSince())
	require.Equal(t, now.Add(time.Minute), b.OpenUntil())
	ok, _ = b.Allow(now.Add(59 * time.Second))
	require.False(t, ok)
	// Results of requests in flight when it opened change nothing.
	b.Success(false)
	require.False(t, b.Failure(now, false, "late"))
	require.Equal(t, Open, b.State(now))

	now = now.Add(time.Minute)
	require.Equal(t, HalfOpen, b.State(now))
	ok, probe = b.Allow(now)
	require.True(t, ok)
	require.True(t, probe)
	ok, _ = b.Allow(now)
	require.False(t, ok, "one probe at a time")
	b.Release()
	ok, probe = b.Allow(now)
	require.True(t, ok && probe, "a released probe can be taken again")
	require.True(t, b.Failure(now, true, "probe failed"))
	require.Equal(t, Open, b.State(now))
	require.Equal(t, t0, b.OpenSince(), "still failing since the first opening")

	now = now.Add(time.Minute)
	ok, probe = b.Allow(now)
	require.True(t, ok && probe)
	b.Success(true)
	require.Equal(t, Closed, b.State(now))
	require.True(t, b.OpenSince().IsZero())
	require.True(t, b.OpenUntil().IsZero())
	require.Empty(t, b.Cause())

	require.True(t, b.Trip(now, "bad credentials"))
	require.False(t, b.Trip(now, "bad credentials"), "already open")
	require.Equal(t, Open, b.State(now))
	require.Equal(t, "closed open half-open unknown", Closed.String()+" "+Open.String()+" "+HalfOpen.String()+" "+State(9).String())
}

func TestFakeClock(t *testing.T) {
	c := NewFakeClock(t0)
	require.Equal(t, t0, c.Now())
	select {
	case <-c.After(0):
	default:
		t.Fatal("After(0) fires at once")
	}
	a := c.After(2 * time.Second)
	b := c.After(time.Second)
	require.Equal(t, 2, c.Waiters())
	next, ok := c.Next()
	require.True(t, ok)
	require.Equal(t, t0.Add(time.Second), next)
	c.Advance(time.Second)
	require.Equal(t, t0.Add(time.Second), <-b)
	select {
	case <-a:
		t.Fatal("fired early")
	default:
	}
	c.Set(t0) // never backwards
	require.Equal(t, t0.Add(time.Second), c.Now())
	c.Set(t0.Add(time.Hour))
	<-a
	_, ok = c.Next()
	require.False(t, ok)

	done := make(chan struct{})
	go func() { <-c.After(time.Minute); close(done) }()
	require.True(t, c.WaitForWaiters(1, nil))
	c.Advance(time.Minute)
	<-done
	stop := make(chan struct{})
	close(stop)
	require.False(t, c.WaitForWaiters(5, stop))
	var sc SystemClock
	require.WithinDuration(t, time.Now(), sc.Now(), time.Minute)
	<-sc.After(0)
}
