package fcm_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/fcm"
	fake "github.com/anpikit/anpi/internal/fake/fcm"
)

// DocumentedRate is FCM's documented quota: 600,000 messages a minute per
// project, 10,000 a second.
const DocumentedRate = 600000.0 / 60

// meter measures a benchmark's rate in wall-clock time and per CPU second.
// The box the figures come from is shared (its load average is often far
// above its 2 cores); msgs/cpu_s (sender and fake together, in this one
// process) says how many messages one fully available core carries.
type meter struct {
	start time.Time
	cpu0  time.Duration
}

func startMeter(b *testing.B) meter {
	b.ResetTimer()
	c, _ := cpuTime()
	return meter{start: time.Now(), cpu0: c}
}

func (m meter) report(b *testing.B, n int) {
	rate := float64(n) / time.Since(m.start).Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(rate/DocumentedRate, "x_quota_10k/s")
	if c, ok := cpuTime(); ok && c > m.cpu0 {
		perCPU := float64(n) / (c - m.cpu0).Seconds()
		b.ReportMetric(perCPU, "msgs/cpu_s")
		b.ReportMetric(perCPU/DocumentedRate, "x_quota_per_cpu_s")
	}
}

// reportApart reports a run whose fake ran in another process: the rate,
// and the messages per CPU second of the sender and of the fake.
func (m meter) reportApart(b *testing.B, n int, fakeCPU time.Duration) {
	rate := float64(n) / time.Since(m.start).Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(rate/DocumentedRate, "x_quota_10k/s")
	if c, ok := cpuTime(); ok && c > m.cpu0 {
		perCPU := float64(n) / (c - m.cpu0).Seconds()
		b.ReportMetric(perCPU, "sender_msgs/cpu_s")
		b.ReportMetric(perCPU/DocumentedRate, "x_quota_sender_per_cpu_s")
	}
	if fakeCPU > 0 {
		b.ReportMetric(float64(n)/fakeCPU.Seconds(), "fake_msgs/cpu_s")
	}
}

func benchEnv(b *testing.B) *fcm.Sender {
	e := newEnv(b, &fake.Options{ProjectID: project, Unlimited: true, CountOnly: true})
	return e.sender(b, nil)
}

// BenchmarkSendBatch sends batches of 1,000 (go-fcm sends each message in
// its own request, 50 at a time), against the fake with its quota off.
func BenchmarkSendBatch(b *testing.B) {
	s := benchEnv(b)
	ms := make([]*channel.Message, 1000)
	for i := range ms {
		ms[i] = &channel.Message{To: fmt.Sprintf("token-%08d", i), Subject: "安否確認", Text: "ご無事ですか", IdempotencyKey: fmt.Sprint(i), Priority: channel.PriorityHigh}
	}
	mt := startMeter(b)
	for b.Loop() {
		res, err := s.SendBatch(b.Context(), ms)
		require.NoError(b, err)
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	mt.report(b, b.N*len(ms))
}

// BenchmarkSend sends one message per Send from parallel goroutines.
func BenchmarkSend(b *testing.B) {
	s := benchEnv(b)
	var seq atomic.Int64
	b.SetParallelism(32)
	mt := startMeter(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			if _, err := s.Send(b.Context(), &channel.Message{To: fmt.Sprintf("token-%08d", n), Subject: "安否確認", Text: "ご無事ですか"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	mt.report(b, b.N)
}

// BenchmarkSendBatchFakeApart is BenchmarkSendBatch with the fake in a
// child process: sender_msgs/cpu_s is the adapter's (and go-fcm's) own
// cost, fake_msgs/cpu_s the fake's.
func BenchmarkSendBatchFakeApart(b *testing.B) {
	p := startFakeProcess(b)
	creds, _, err := fake.NewServiceAccount(project, p.URL+"/token")
	require.NoError(b, err)
	s, err := fcm.New(fcm.Config{CredentialsJSON: creds, Endpoint: p.URL + "/v1"})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	ms := make([]*channel.Message, 1000)
	for i := range ms {
		ms[i] = &channel.Message{To: fmt.Sprintf("token-%08d", i), Subject: "安否確認", Text: "ご無事ですか", IdempotencyKey: fmt.Sprint(i), Priority: channel.PriorityHigh}
	}
	mt := startMeter(b)
	for b.Loop() {
		res, err := s.SendBatch(b.Context(), ms)
		require.NoError(b, err)
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	n := b.N * len(ms)
	mt.reportApart(b, n, p.stop())
}
