package pacebench

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/store/memstore"
)

// Result is what Run measured; Add sums the rounds of a benchmark.
type Result struct {
	Sent    int
	Burst   int           // messages of the dispatcher's initial burst
	Elapsed time.Duration // start to last acceptance
	Steady  time.Duration // acceptance of message #Burst to the last
	Quota   int           // RateLimited answers
}

// Add adds o to r.
func (r *Result) Add(o Result) {
	r.Sent += o.Sent
	r.Burst += o.Burst
	r.Elapsed += o.Elapsed
	r.Steady += o.Steady
	r.Quota += o.Quota
}

// Report reports the overall and steady rates, the limit, their ratio
// (x_limit) and the quota errors, all from the same run.
func (r Result) Report(b *testing.B, limit float64) {
	overall := float64(r.Sent) / r.Elapsed.Seconds()
	steady := float64(r.Sent-r.Burst) / r.Steady.Seconds()
	b.ReportMetric(overall, "msgs/s")
	b.ReportMetric(steady, "steady_msgs/s")
	b.ReportMetric(limit, "limit_msgs/s")
	b.ReportMetric(overall/limit, "x_limit")
	b.ReportMetric(float64(r.Quota), "quota_429s")
	b.ReportMetric(0, "ns/op")
}

// Config is one run.
type Config struct {
	Sender  channel.Sender // the adapter under test; its SendBatch is used when it has one
	Channel anpi.Channel
	N       int            // deliveries to send
	Limit   dispatch.Limit // the dispatcher's pacing
	Tag     string         // distinguishes the rounds' surveys and links
	To      func(i int) string
	// GuardRate bounds the run: it fails after N/GuardRate×3 + 30 s.
	// Zero means Limit.Rate.
	GuardRate float64
}

// Run enqueues c.N deliveries on c.Channel in a fresh memstore and runs a
// dispatcher (the real clock) until the sender has accepted them all.
func Run(b *testing.B, c Config) Result {
	b.Helper()
	ctx := context.Background()
	st := memstore.New(nil)
	sv := anpi.SurveyID("s-" + c.Tag)
	if err := st.CreateSurvey(ctx, &anpi.Survey{ID: sv, Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(), Status: anpi.Open}); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	ds := make([]*anpi.Delivery, c.N)
	for i := range ds {
		ds[i] = &anpi.Delivery{ID: anpi.DeliveryID("d" + strconv.Itoa(i)), SurveyID: sv, UserID: anpi.UserID(strconv.Itoa(i)),
			Channel: c.Channel, State: anpi.Queued, NextAttemptAt: now}
	}
	if _, err := st.EnqueueDeliveries(ctx, ds); err != nil {
		b.Fatal(err)
	}
	render := dispatch.RendererFunc(func(_ context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
		i, _ := strconv.Atoi(string(d.UserID))
		return &channel.Message{To: c.To(i), Subject: "【安否確認】", Text: "震度６弱の地震が発生しました。ご無事ですか。",
			URL: "https://anpi.example.jp/a/" + c.Tag + "-" + strconv.Itoa(i), Priority: channel.PriorityHigh}, "", nil
	})
	ts := &timedSender{Sender: c.Sender, burst: int64(c.Limit.Burst), want: int64(c.N), done: make(chan struct{})}
	var s channel.Sender = ts
	if _, ok := c.Sender.(channel.BatchSender); !ok {
		s = struct{ channel.Sender }{ts} // hide SendBatch
	}
	d, err := dispatch.New(st, &dispatch.Options{Senders: map[anpi.Channel]channel.Sender{c.Channel: s}, Renderer: render,
		Fallback: []anpi.Channel{c.Channel}, Limits: map[anpi.Channel]dispatch.Limit{c.Channel: c.Limit}, Owner: "bench-" + c.Tag})
	if err != nil {
		b.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	ts.start = time.Now()
	go func() { _ = d.Run(rctx); close(stopped) }()
	rate := c.GuardRate
	if rate <= 0 {
		rate = c.Limit.Rate
	}
	guard := time.Duration(float64(c.N)/rate*float64(time.Second))*3 + 30*time.Second
	select {
	case <-ts.done:
	case <-time.After(guard): // bounds the benchmark; not a wait
		b.Errorf("%s: %d of %d accepted in %s", c.Channel, ts.n.Load(), c.N, guard)
	}
	cancel()
	<-stopped
	return Result{Sent: c.N, Burst: c.Limit.Burst, Elapsed: time.Duration(ts.lastAt.Load()),
		Steady: time.Duration(ts.lastAt.Load() - ts.burstAt.Load()), Quota: d.Totals()[c.Channel].RateLimited}
}

// timedSender counts accepted messages and notes when the burst-th and the
// want-th were accepted.
type timedSender struct {
	channel.Sender
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

// Send implements channel.Sender.
func (s *timedSender) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	rc, err := s.Sender.Send(ctx, m)
	if err == nil {
		s.accepted(1)
	}
	return rc, err
}

// SendBatch implements channel.BatchSender (hidden when the adapter has none).
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
