package dispatch_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/memchan"
	"github.com/anpikit/anpi/internal/pace"
)

// drive runs the fake clock forward, timer by timer, whenever every
// goroutine of the bubble is blocked, until done reports true.
func drive(t *testing.T, clock *pace.FakeClock, done func() bool) {
	t.Helper()
	for range 100000 {
		synctest.Wait()
		if done() {
			return
		}
		next, ok := clock.Next()
		require.True(t, ok, "everything blocked, no timer pending, not done")
		clock.Set(next)
	}
	t.Fatal("not done after 100,000 timers")
}

func (e *env) allFinal() bool {
	counts, err := e.st.CountDeliveries(e.ctx, survey)
	require.NoError(e.t, err)
	for s, n := range counts {
		if n > 0 && !s.Final() {
			return false
		}
	}
	return true
}

func TestRunSendsPacedFallsBackAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel, anpi.SMSChannel)
		const n = 300
		var users []string
		for i := range n {
			u := fmt.Sprintf("u%03d", i)
			e.user(u, anpi.FCMContact, anpi.EmailContact, anpi.PhoneContact)
			users = append(users, u)
			switch i % 10 {
			case 1: // the app was uninstalled
				e.senders[anpi.FCMChannel].FailWith(address(u, anpi.FCMContact), channel.Errorf(channel.Unregistered, "fcm: 404 UNREGISTERED"))
			case 2: // and the mailbox is gone too
				e.senders[anpi.FCMChannel].FailWith(address(u, anpi.FCMContact), channel.Errorf(channel.Unregistered, "fcm: 404 UNREGISTERED"))
				e.senders[anpi.EmailChannel].FailWith(address(u, anpi.EmailContact), channel.Errorf(channel.Permanent, "email: 550 5.1.1"))
			}
		}
		e.enqueue(anpi.FCMChannel, users...)
		o := e.options()
		o.Limits = map[anpi.Channel]dispatch.Limit{
			anpi.FCMChannel:   {Rate: 100, Burst: 10, Batch: 10, Concurrency: 4},
			anpi.EmailChannel: {Rate: 20, Burst: 5, Batch: 5, Concurrency: 2},
			anpi.SMSChannel:   {Rate: 1, Burst: 1, Batch: 1, Concurrency: 1},
		}
		o.Fallback = []anpi.Channel{anpi.FCMChannel, anpi.EmailChannel, anpi.SMSChannel}
		d := e.dispatcher(o)
		ctx, cancel := context.WithCancel(context.Background())
		var runErr error
		stopped := make(chan struct{})
		go func() { runErr = d.Run(ctx); close(stopped) }()
		drive(t, e.clock, e.allFinal)
		cancel()
		<-stopped
		require.NoError(t, runErr)

		fcm, email, sms := e.senders[anpi.FCMChannel].Sent(), e.senders[anpi.EmailChannel].Sent(), e.senders[anpi.SMSChannel].Sent()
		require.Len(t, fcm, n*8/10)
		require.Len(t, email, n/10)
		require.Len(t, sms, n/10)
		tot := d.Totals()
		require.Equal(t, dispatch.Stats{Claimed: n, Sent: n * 8 / 10, FellBack: n * 2 / 10, Broken: n * 2 / 10}, tot[anpi.FCMChannel])
		require.Equal(t, dispatch.Stats{Claimed: n * 2 / 10, Sent: n / 10, FellBack: n / 10}, tot[anpi.EmailChannel])
		require.Equal(t, dispatch.Stats{Claimed: n / 10, Sent: n / 10}, tot[anpi.SMSChannel])
		// Every message once.
		keys := map[string]bool{}
		for _, s := range append(append(fcm, email...), sms...) {
			require.False(t, keys[s.Message.IdempotencyKey], "sent twice: %s", s.Message.IdempotencyKey)
			keys[s.Message.IdempotencyKey] = true
		}
		// Paced: no window of a second holds more than rate + burst sends.
		checkPace(t, fcm, 100, 10)
		checkPace(t, email, 20, 5)
		checkPace(t, sms, 1, 1)
		last := fcm[len(fcm)-1].Receipt.At
		require.GreaterOrEqual(t, last.Sub(t0), time.Duration(float64(n-10)/100*float64(time.Second)), "FCM took at least (n − burst)/rate")
		// The 30 SMS took about 30 s at 1/s.
		require.GreaterOrEqual(t, sms[len(sms)-1].Receipt.At.Sub(sms[0].Receipt.At), 28*time.Second)
	})
}

// checkPace fails if any window of one second holds more than rate+burst
// of the sends.
func checkPace(t *testing.T, sent []memchan.Sent, rate float64, burst int) {
	t.Helper()
	lo := 0
	for hi := range sent {
		for sent[hi].Receipt.At.Sub(sent[lo].Receipt.At) >= time.Second {
			lo++
		}
		require.LessOrEqual(t, hi-lo+1, int(rate)+burst, "sends in the second before %s", sent[hi].Receipt.At)
	}
}

func TestRunWakesOnNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, anpi.EmailChannel)
		d := e.dispatcher(e.options())
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { _ = d.Run(ctx); close(stopped) }()
		synctest.Wait() // idle: every loop waits for its poll
		e.user("u1", anpi.EmailContact)
		e.enqueue(anpi.EmailChannel, "u1")
		d.Notify()
		synctest.Wait()
		require.Len(t, e.senders[anpi.EmailChannel].Sent(), 1, "sent without the clock moving")
		require.Equal(t, t0, e.clock.Now())

		err := d.Run(ctx)
		require.Equal(t, anpi.FailedPrecondition, anpi.Code(err), "one Run at a time")
		cancel()
		<-stopped
	})
}

func TestRunFinishesTheRoundInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, anpi.EmailChannel)
		e.user("u1", anpi.EmailContact)
		id := e.enqueue(anpi.EmailChannel, "u1")[0]
		ctx, cancel := context.WithCancel(context.Background())
		o := e.options()
		rendering := make(chan struct{})
		release := make(chan struct{})
		o.Renderer = dispatch.RendererFunc(func(rctx context.Context, dl *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
			close(rendering)
			<-release
			return e.render(rctx, dl)
		})
		d := e.dispatcher(o)
		stopped := make(chan struct{})
		go func() { _ = d.Run(ctx); close(stopped) }()
		<-rendering
		cancel() // shut down while the delivery is claimed
		close(release)
		<-stopped
		require.Equal(t, anpi.Sent, e.delivery(id).State, "the claimed delivery was sent and recorded")
	})
}

// countingSender signals when it has accepted want messages. It sends one
// by one (it is no BatchSender).
type countingSender struct {
	mem  *memchan.Sender
	n    atomic.Int64
	want int64
	done chan struct{}
}

func (s *countingSender) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	rc, err := s.mem.Send(ctx, m)
	if err == nil && s.n.Add(1) == s.want {
		close(s.done)
	}
	return rc, err
}

func (s *countingSender) Kind() channel.Kind { return s.mem.Kind() }

// TestRunConcurrentDispatchers runs two dispatchers on one store, by the
// real clock (run it with -race): every delivery is sent once.
func TestRunConcurrentDispatchers(t *testing.T) {
	e := newEnv(t, anpi.LINEChannel)
	const n = 2000
	var users []string
	for i := range n {
		u := fmt.Sprintf("u%04d", i)
		users = append(users, u)
		e.user(u, anpi.LINEContact)
	}
	e.enqueue(anpi.LINEChannel, users...)
	snd := &countingSender{mem: memchan.New(&memchan.Options{Kind: channel.LINE}), want: n, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ds []*dispatch.Dispatcher
	for i := range 2 {
		d, err := dispatch.New(e.st, &dispatch.Options{
			Senders:  map[anpi.Channel]channel.Sender{anpi.LINEChannel: snd},
			Renderer: dispatch.RendererFunc(e.render),
			Limits:   map[anpi.Channel]dispatch.Limit{anpi.LINEChannel: {Rate: 1e6, Burst: 50, Batch: 7, Concurrency: 4}},
			Owner:    fmt.Sprintf("replica-%d", i),
		})
		require.NoError(t, err)
		ds = append(ds, d)
		wg.Go(func() { require.NoError(t, d.Run(ctx)) })
	}
	select {
	case <-snd.done:
	case <-time.After(time.Minute): // a guard against a hang, not a wait
		t.Fatalf("sent %d of %d in a minute", snd.n.Load(), n)
	}
	cancel()
	wg.Wait()
	keys := map[string]bool{}
	for _, s := range snd.mem.Sent() {
		require.False(t, keys[s.Message.IdempotencyKey], "sent twice")
		keys[s.Message.IdempotencyKey] = true
	}
	require.Len(t, keys, n)
	a, b := ds[0].Totals()[anpi.LINEChannel], ds[1].Totals()[anpi.LINEChannel]
	require.Equal(t, n, a.Sent+b.Sent)
	require.Zero(t, a.LeaseLost+b.LeaseLost+a.Errors+b.Errors)
	counts, err := e.st.CountDeliveries(e.ctx, survey)
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Sent: n}, counts)
}
