package email_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/email"
	fake "github.com/anpikit/anpi/internal/fake/smtp"
)

// ReferenceRate is the rate the adapter is measured against. Mail relays
// publish no limit; 100 msg/s is an Amazon SES-like production quota
// (SES's own default is account-specific, its sandbox 1 msg/s).
const ReferenceRate = 100.0

func benchServer(b *testing.B) email.Config {
	srv, err := fake.Start(&fake.Options{CountOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	return email.Config{Host: srv.Host(), Port: srv.Port(), TLSPolicy: email.NoTLS, From: from}
}

// report reports msgs/s and its ratio to ReferenceRate, and the same per
// CPU-second of the whole test process (adapter and fake relay together),
// the figure that does not depend on a shared, loaded machine.
func report(b *testing.B, cpu0 time.Duration, msgs int) {
	rate := float64(msgs) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(rate/ReferenceRate, "x_ref100")
	if cpu1, ok := cpuTime(); ok && cpu1 > cpu0 {
		rate := float64(msgs) / (cpu1 - cpu0).Seconds()
		b.ReportMetric(rate, "msgs/cpu-s")
		b.ReportMetric(rate/ReferenceRate, "x_ref100_per_cpu")
	}
}

// BenchmarkSendBatch: one goroutine, 100 messages per connection.
func BenchmarkSendBatch(b *testing.B) {
	s, err := email.New(benchServer(b))
	if err != nil {
		b.Fatal(err)
	}
	ms := batch(100, "b")
	n := 0
	cpu0, _ := cpuTime()
	for b.Loop() {
		res, err := s.SendBatch(b.Context(), ms)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		n += len(ms)
	}
	report(b, cpu0, n)
}

// BenchmarkSendParallel: GOMAXPROCS goroutines, one connection per message.
func BenchmarkSendParallel(b *testing.B) {
	s, err := email.New(benchServer(b))
	if err != nil {
		b.Fatal(err)
	}
	cpu0, _ := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			m := &channel.Message{To: fmt.Sprintf("p%d@example.jp", i), Subject: "【安否確認】", Text: "ご無事ですか。", IdempotencyKey: fmt.Sprint(i)}
			if _, err := s.Send(b.Context(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	report(b, cpu0, b.N)
}
