package line_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/line"
	fake "github.com/anpikit/anpi/internal/fake/line"
)

// LINE's documented limits: multicast 200 req/s of at most 500 user IDs,
// that is 100,000 recipients/s; push 2,000 req/s.
const (
	multicastRecipientsPerSecond = 200 * 500
	pushPerSecond                = 2000
)

func benchSender(b *testing.B) (*line.Sender, *fake.Server) {
	srv := fake.Start(&fake.Options{ChannelToken: token, Unlimited: true, CountOnly: true})
	b.Cleanup(srv.Close)
	// The default client (64 idle connections), as in production.
	s, err := line.New(line.Config{ChannelAccessToken: token, Endpoint: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	return s, srv
}

// BenchmarkMulticast sends batches of 5,000 recipients of one text (ten
// multicast requests) and reports recipients/s and the ratio to LINE's
// 100,000 recipients/s.
func BenchmarkMulticast(b *testing.B) {
	s, srv := benchSender(b)
	ms := messages(5000, "【安否確認】震度６弱の地震が発生しました。ご無事ですか。", 1)
	cpu0, _ := cpuTime()
	round := 0
	for b.Loop() {
		// A fresh set of idempotency keys, or LINE (the fake) would
		// answer 409 to the repeated retry keys.
		round++
		for i, m := range ms {
			m.IdempotencyKey = "s1/u" + strconv.Itoa(i) + "/line/" + strconv.Itoa(round)
		}
		res, err := s.SendBatch(b.Context(), ms)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	rate := float64(srv.Recipients()) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "recipients/s")
	b.ReportMetric(rate/multicastRecipientsPerSecond, "x_line_limit")
	reportCPU(b, cpu0, srv.Recipients(), "recipients/cpu-s", multicastRecipientsPerSecond)
}

// BenchmarkPush pushes from GOMAXPROCS×8 goroutines and reports messages/s
// and the ratio to LINE's 2,000 push requests/s.
func BenchmarkPush(b *testing.B) {
	s, srv := benchSender(b)
	var seq atomic.Int64
	cpu0, _ := cpuTime()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			m := &channel.Message{To: userID(i), Text: "【安否確認】ご無事ですか。", IdempotencyKey: strconv.FormatInt(i, 10) + "-push"}
			if _, err := s.Send(b.Context(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	rate := float64(srv.Recipients()) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(rate/pushPerSecond, "x_line_limit")
	reportCPU(b, cpu0, srv.Recipients(), "msgs/cpu-s", pushPerSecond)
}

// reportCPU reports n per CPU-second of the whole test process (adapter and
// fake together, so an upper bound of the adapter's own cost) and its ratio
// to limit: the figure that does not depend on a shared, loaded machine.
func reportCPU(b *testing.B, cpu0 time.Duration, n int, unit string, limit float64) {
	cpu1, ok := cpuTime()
	if !ok || cpu1 <= cpu0 {
		return
	}
	rate := float64(n) / (cpu1 - cpu0).Seconds()
	b.ReportMetric(rate, unit)
	b.ReportMetric(rate/limit, "x_line_limit_per_cpu")
}
