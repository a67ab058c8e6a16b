package dispatch_test

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
	"github.com/anpikit/anpi/channel/line"
	fakeline "github.com/anpikit/anpi/internal/fake/line"
	"github.com/anpikit/anpi/store/memstore"
)

// BenchmarkPacingLINE sends 8,000 deliveries through Run, the LINE adapter
// and the LINE fake enforcing LINE's documented 2,000 push requests/s
// (token bucket of one second's worth), with the dispatcher's default LINE
// limit (95 % of it). Each message carries its own answer link, so every
// one is a push. It reports, from the same run: the rate achieved overall
// and in steady state (after the dispatcher's initial burst), the limit,
// their ratio, and the 429s the fake answered.
func BenchmarkPacingLINE(b *testing.B) {
	def := dispatch.DefaultLimit(anpi.LINEChannel)
	at := def
	at.Rate = fakeline.PushRate
	unpaced := def
	unpaced.Rate, unpaced.Burst = 1e6, 1000
	for _, c := range []struct {
		name string
		lim  dispatch.Limit
	}{{"default", def}, {"at_limit", at}, {"unpaced", unpaced}} {
		b.Run(c.name, func(b *testing.B) {
			const n = 8000
			srv := fakeline.Start(&fakeline.Options{ChannelToken: "tok", CountOnly: true})
			b.Cleanup(srv.Close)
			snd, err := line.New(line.Config{ChannelAccessToken: "tok", Endpoint: srv.URL()})
			if err != nil {
				b.Fatal(err)
			}
			var tot pacingResult
			round := 0
			for b.Loop() {
				round++
				r := runPacing(b, snd, anpi.LINEChannel, n, c.lim, fmt.Sprintf("r%d", round),
					func(i int) string { return fmt.Sprintf("U%032x", i) })
				tot.add(r)
			}
			tot.report(b, fakeline.PushRate)
			if got := srv.Requests("push") - srv.Recipients(); got != tot.quota {
				b.Errorf("the fake refused %d pushes, the dispatcher counted %d 429s", got, tot.quota)
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
	channel.Sender
	start      time.Time
	burst      int64
	want       int64
	n          atomic.Int64
	burstAt    atomic.Int64 // ns after start
	lastAt     atomic.Int64
	done       chan struct{}
	doneClosed sync.Once
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
		s.doneClosed.Do(func() { close(s.done) })
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
	res, err := s.Sender.(channel.BatchSender).SendBatch(ctx, ms)
	k := 0
	for _, r := range res {
		if r.Err == nil {
			k++
		}
	}
	s.accepted(k)
	return res, err
}

// runPacing enqueues n deliveries on ch in a fresh memstore and runs a
// dispatcher (the real clock) until the sender has accepted them all.
func runPacing(b *testing.B, snd channel.Sender, ch anpi.Channel, n int, lim dispatch.Limit, tag string, to func(i int) string) pacingResult {
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
			Channel: ch, State: anpi.Queued, NextAttemptAt: now}
	}
	if _, err := st.EnqueueDeliveries(ctx, ds); err != nil {
		b.Fatal(err)
	}
	render := dispatch.RendererFunc(func(_ context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
		i, _ := strconv.Atoi(string(d.UserID))
		return &channel.Message{To: to(i), Subject: "【安否確認】", Text: "震度６弱の地震が発生しました。ご無事ですか。",
			URL: "https://anpi.example.jp/a/" + tag + "-" + strconv.Itoa(i), Priority: channel.PriorityHigh}, "", nil
	})
	ts := &timedSender{Sender: snd, burst: int64(lim.Burst), want: int64(n), done: make(chan struct{})}
	var s channel.Sender = ts
	if _, ok := snd.(channel.BatchSender); !ok {
		s = struct{ channel.Sender }{ts} // hide SendBatch
	}
	d, err := dispatch.New(st, &dispatch.Options{Senders: map[anpi.Channel]channel.Sender{ch: s}, Renderer: render,
		Fallback: []anpi.Channel{ch}, Limits: map[anpi.Channel]dispatch.Limit{ch: lim}, Owner: "bench-" + tag})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	ts.start = time.Now()
	go func() { _ = d.Run(rctx); close(stopped) }()
	guard := time.Duration(float64(n)/lim.Rate*float64(time.Second))*3 + 30*time.Second
	select {
	case <-ts.done:
	case <-time.After(guard): // bounds the benchmark; not a wait
		b.Errorf("%s: %d of %d accepted in %s", ch, ts.n.Load(), n, guard)
	}
	cancel()
	<-stopped
	return pacingResult{sent: n, burst: lim.Burst, elapsed: time.Duration(ts.lastAt.Load()),
		steady: time.Duration(ts.lastAt.Load() - ts.burstAt.Load()), quota: d.Totals()[ch].RateLimited}
}
