package pace_test

import (
	"fmt"
	"time"

	"github.com/anpikit/anpi/internal/pace"
)

// Pace sends to 100 a second with bursts of 10, back off from a quota
// refusal, and open a circuit after three failures.
func Example() {
	clock := pace.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	b := pace.NewBucket(100, 10, clock.Now(), nil)
	fmt.Println("now:", b.Take(clock.Now(), 50))
	fmt.Println("wait for 10 more:", b.Reserve(clock.Now(), 10))
	clock.Advance(100 * time.Millisecond)
	b.Slow(clock.Now()) // the provider answered 429
	fmt.Printf("rate after 429: %.0f/s\n", b.Rate(clock.Now()))

	br := pace.NewBreaker(3, time.Minute)
	for range 3 {
		br.Failure(clock.Now(), false, "503")
	}
	fmt.Println(br.State(clock.Now()))
	clock.Advance(time.Minute)
	ok, probe := br.Allow(clock.Now())
	fmt.Println(br.State(clock.Now()), ok, probe)
	br.Success(probe)
	fmt.Println(br.State(clock.Now()))

	fmt.Println(pace.BackoffCap(4, time.Second, time.Minute))
	// Output:
	// now: 10
	// wait for 10 more: 100ms
	// rate after 429: 70/s
	// open
	// half-open true true
	// closed
	// 8s
}
