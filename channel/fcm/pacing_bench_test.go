package fcm_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/fcm"
	fake "github.com/anpikit/anpi/internal/fake/fcm"
	"github.com/anpikit/anpi/store/memstore"
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
			var tot pacingResult
			round := 0
			cpu0, cpuOK := cpuTime()
			for b.Loop() {
				round++
				r := runPacing(b, s, n, c.lim, fmt.Sprintf("r%d", round))
				tot.add(r)
			}
			tot.report(b, pacingLimit)
			b.ReportMetric(pacingBurst, "limit_burst")
			// What one fully available core carries (dispatcher, store,
			// adapter and fake together): the figure that does not depend
			// on the load of a shared machine.
			if cpu1, ok := cpuTime(); ok && cpuOK && cpu1 > cpu0 {
				b.ReportMetric(float64(tot.sent)/(cpu1-cpu0).Seconds(), "msgs/cpu_s")
			}
		})
	}
}

// pacingResult is what runPacing measured.
type pacingResult struct {
	sent    int
	burst   int           // messages of the initial burst
	elapsed time.Duration // start to last acceptance
	steady  time.Duration // acceptance of message #burst to the last
	quota   int           // RateLimited answers
}

func (r *pacingResult) add(o pacingResult) {
	r.sent += o.sent
	r.burst += o.burst
	r.elapsed += o.elapsed
	r.steady += o.steady
	r.quota += o.quota
}

func (r pacingResult) report(b *testing.B, limit float64) {
	overall := float64(r.sent) / r.elapsed.Seconds()
	steady := float64(r.sent-r.burst) / r.steady.Seconds()
	b.ReportMetric(overall, "msgs/s")
	b.ReportMetric(steady, "steady_msgs/s")
	b.ReportMetric(limit, "limit_msgs/s")
	b.ReportMetric(overall/limit, "x_limit")
	b.ReportMetric(float64(r.quota), "quota_429s")
	b.ReportMetric(0, "ns/op")
}

// timedSender counts accepted messages and notes when the burst-th and the
// want-th were accepted.
type timedSender struct {
	*fcm.Sender
	start   time.Time
	burst   int64
	want    int64
	n       atomic.Int64
	burstAt atomic.Int64 // ns after start
	lastAt  atomic.Int64
	done    chan struct{}
	once    sync.Once
}

func (s *timedSender) accepted(k int) {
	if k == 0 {
		return
	}
	n := s.n.Add(int64(k))
	at := int64(time.Since(s.start))
	if n >= s.burst && n-int64(k) < s.burst {
		s.burstAt.Store(at)
	}
	if n >= s.want {
		s.lastAt.Store(at)
		s.once.Do(func() { close(s.done) })
	}
}

func (s *timedSender) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	rc, err := s.Sender.Send(ctx, m)
	if err == nil {
		s.accepted(1)
	}
	return rc, err
}

func (s *timedSender) SendBatch(ctx context.Context, ms []*channel.Message) ([]channel.Result, error) {
	res, err := s.Sender.SendBatch(ctx, ms)
	k := 0
	for _, r := range res {
		if r.Err == nil {
			k++
		}
	}
	s.accepted(k)
	return res, err
}

// runPacing enqueues n FCM deliveries in a fresh memstore and runs a
// dispatcher (the real clock) until the sender has accepted them all.
func runPacing(b *testing.B, snd *fcm.Sender, n int, lim dispatch.Limit, tag string) pacingResult {
	b.Helper()
	ctx := context.Background()
	st := memstore.New(nil)
	sv := anpi.SurveyID("s-" + tag)
	if err := st.CreateSurvey(ctx, &anpi.Survey{ID: sv, Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(), Status: anpi.Open}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	ds := make([]*anpi.Delivery, n)
	for i := range ds {
		ds[i] = &anpi.Delivery{ID: anpi.DeliveryID("d" + strconv.Itoa(i)), SurveyID: sv, UserID: anpi.UserID(strconv.Itoa(i)),
			Channel: anpi.FCMChannel, State: anpi.Queued, NextAttemptAt: now}
	}
	if _, err := st.EnqueueDeliveries(ctx, ds); err != nil {
		b.Fatal(err)
	}
	render := dispatch.RendererFunc(func(_ context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
		return &channel.Message{To: fmt.Sprintf("token-%08s", d.UserID), Subject: "【安否確認】", Text: "震度６弱の地震が発生しました。ご無事ですか。",
			URL: "https://anpi.example.jp/a/" + tag + "-" + string(d.UserID), Priority: channel.PriorityHigh}, "", nil
	})
	ts := &timedSender{Sender: snd, burst: int64(lim.Burst), want: int64(n), done: make(chan struct{})}
	d, err := dispatch.New(st, &dispatch.Options{Senders: map[anpi.Channel]channel.Sender{anpi.FCMChannel: ts}, Renderer: render,
		Fallback: []anpi.Channel{anpi.FCMChannel}, Limits: map[anpi.Channel]dispatch.Limit{anpi.FCMChannel: lim}, Owner: "bench-" + tag})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	ts.start = time.Now()
	go func() { _ = d.Run(rctx); close(stopped) }()
	guard := time.Duration(float64(n)/min(lim.Rate, pacingLimit)*float64(time.Second))*3 + 30*time.Second
	select {
	case <-ts.done:
	case <-time.After(guard): // bounds the benchmark; not a wait
		b.Errorf("%d of %d accepted in %s", ts.n.Load(), n, guard)
	}
	cancel()
	<-stopped
	return pacingResult{sent: n, burst: lim.Burst, elapsed: time.Duration(ts.lastAt.Load()),
		steady: time.Duration(ts.lastAt.Load() - ts.burstAt.Load()), quota: d.Totals()[anpi.FCMChannel].RateLimited}
}
