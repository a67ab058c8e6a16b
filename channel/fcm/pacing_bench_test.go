package fcm_test

import (
	"fmt"
	"testing"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	fake "github.com/anpikit/anpi/internal/fake/fcm"
	"github.com/anpikit/anpi/internal/pacebench"
)

// pacingLimit is the quota the FCM fake enforces in BenchmarkPacing:
// FCM's 600,000 messages/min scaled down to what the 2-core reference
// machine carries with the dispatcher, the store, the adapter and the fake
// all in this one process. The fake's bucket holds a fifth of a second's
// worth (pacingBurst; FCM's holds a minute's), so overshooting the rate
// meets 429s within a second, and the dispatcher's own burst (500) must fit.
const (
	pacingLimit = 5000.0 // messages per second (300,000/min)
	pacingBurst = 1000.0 // messages the fake's bucket holds
)

// pacingConcurrency is how many batches the dispatcher has in flight: the
// adapter sends a batch 50 requests at a time and keeps 100 idle
// connections, and the fake speaks HTTP/1.1, so more batches at once would
// open and close connections by the hundred (real FCM multiplexes requests
// over HTTP/2).
const pacingConcurrency = 2

// BenchmarkPacing sends deliveries through anpi/dispatch's Run, this
// adapter and the FCM fake enforcing pacingLimit, and reports from the same
// run the rate achieved overall and in steady state (after the
// dispatcher's initial burst), the limit, their ratio and the 429s
// (QUOTA_EXCEEDED) the fake answered. Sub-benchmarks: the dispatcher's
// default FCM limit scaled to the fake (95 %), pacing at the limit, and no
// pacing (the baseline pacing is for). The machine's own capacity shows in
// msgs/cpu_s: on a loaded machine the unpaced run may stay below the
// limit, and then meets few 429s.
func BenchmarkPacing(b *testing.B) {
	def := dispatch.DefaultLimit(anpi.FCMChannel)
	def.Rate = pacingLimit * dispatch.DefaultLimit(anpi.FCMChannel).Rate / DocumentedRate
	def.Concurrency = pacingConcurrency
	at := def
	at.Rate = pacingLimit
	unpaced := def
	unpaced.Rate, unpaced.Burst = 1e6, 1000
	for _, c := range []struct {
		name string
		lim  dispatch.Limit
	}{{"default", def}, {"at_limit", at}, {"unpaced", unpaced}} {
		b.Run(c.name, func(b *testing.B) {
			const n = 25000 // five seconds' worth
			e := newEnv(b, &fake.Options{ProjectID: project, RatePerMinute: pacingLimit * 60, Burst: pacingBurst, CountOnly: true})
			s := e.sender(b, nil)
			var tot pacebench.Result
			round := 0
			cpu0, cpuOK := cpuTime()
			for b.Loop() {
				round++
				tot.Add(pacebench.Run(b, pacebench.Config{Sender: s, Channel: anpi.FCMChannel, N: n, Limit: c.lim,
					Tag: fmt.Sprintf("r%d", round), To: func(i int) string { return fmt.Sprintf("token-%08d", i) },
					GuardRate: min(c.lim.Rate, pacingLimit)}))
			}
			tot.Report(b, pacingLimit)
			b.ReportMetric(pacingBurst, "limit_burst")
			// What one fully available core carries (dispatcher, store,
			// adapter and fake together): the figure that does not depend
			// on the load of a shared machine.
			if cpu1, ok := cpuTime(); ok && cpuOK && cpu1 > cpu0 {
				b.ReportMetric(float64(tot.Sent)/(cpu1-cpu0).Seconds(), "msgs/cpu_s")
			}
		})
	}
}
