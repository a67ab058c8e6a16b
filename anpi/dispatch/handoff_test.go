package dispatch_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
)

// handEnqueue enqueues a delivery on channel c for each user, leased to h
// as a fan-out does (nothing when h takes none), and hands them over.
func (e *env) handEnqueue(h *dispatch.Handoff, c anpi.Channel, users ...string) []*anpi.Delivery {
	e.t.Helper()
	var ds []*anpi.Delivery
	for _, u := range users {
		d := &anpi.Delivery{ID: anpi.DeliveryID("d-" + u + "-" + string(c)), SurveyID: survey, UserID: anpi.UserID(u), Channel: c,
			State: anpi.Queued, NextAttemptAt: e.clock.Now()}
		owner, until, ok := h.Lease(c, e.clock.Now())
		require.True(e.t, ok, "the handoff takes %s", c)
		d.State, d.Attempts, d.LeaseOwner, d.LeaseUntil = anpi.Sending, 1, owner, until
		ds = append(ds, d)
	}
	n, err := e.st.EnqueueDeliveries(e.ctx, ds)
	require.NoError(e.t, err)
	require.Equal(e.t, len(ds), n)
	h.Hand(ds)
	return ds
}

// run starts d.Run and returns its stop function.
func run(t *testing.T, d *dispatch.Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- d.Run(ctx) }()
	synctest.Wait()
	return func() {
		cancel()
		require.NoError(t, <-stopped)
	}
}

func users(n int) []string {
	var us []string
	for i := range n {
		us = append(us, fmt.Sprintf("u%03d", i))
	}
	return us
}

func TestHandoffSendsWithoutClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, anpi.FCMChannel)
		for _, u := range users(50) {
			e.user(u, anpi.FCMContact)
		}
		h := dispatch.NewHandoff()
		o := e.options()
		o.Handoff = h
		d := e.dispatcher(o)
		_, _, ok := h.Lease(anpi.FCMChannel, e.clock.Now())
		require.False(t, ok, "no deliveries are taken before the dispatcher runs")
		_, err := dispatch.New(e.st, o)
		require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "a Handoff serves one dispatcher: %v", err)

		stop := run(t, d)
		_, _, ok = h.Lease(anpi.SMSChannel, e.clock.Now())
		require.False(t, ok, "a channel without a sender is not taken")
		start := e.clock.Now()
		e.handEnqueue(h, anpi.FCMChannel, users(50)...)
		drive(t, e.clock, e.allFinal)
		stop()

		require.Len(t, sentTo(e.senders[anpi.FCMChannel]), 50)
		for _, dl := range e.deliveries() {
			require.Equal(t, anpi.Sent, dl.State, dl.ID)
			require.Equal(t, 1, dl.Attempts, "%s was sent as handed, never claimed", dl.ID)
		}
		require.Less(t, e.clock.Now().Sub(start), time.Minute, "sent well within the lease")
		waiting, dropped := h.Waiting()
		require.Zero(t, waiting)
		require.Zero(t, dropped)
	})
}

func TestHandoffLeaseRunsShort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, anpi.FCMChannel)
		for _, u := range users(3) {
			e.user(u, anpi.FCMContact)
		}
		h := dispatch.NewHandoff()
		o := e.options()
		o.Handoff, o.Lease, o.SendTimeout = h, time.Minute, 30*time.Second
		d := e.dispatcher(o)
		stop := run(t, d)
		ds := e.handEnqueue(h, anpi.FCMChannel, users(3)...)
		// Their lease ends now+1 min: past now+30 s, less than SendTimeout
		// is left, and they must not be sent from memory any more.
		e.clock.Set(e.clock.Now().Add(31 * time.Second))
		drive(t, e.clock, e.allFinal)
		stop()
		for _, dl := range ds {
			got := e.delivery(dl.ID)
			require.Equal(t, anpi.Sent, got.State)
			require.Equal(t, 2, got.Attempts, "%s was claimed once its lease ran out, not sent as handed", dl.ID)
		}
		require.Len(t, sentTo(e.senders[anpi.FCMChannel]), 3, "each sent once")
		_, dropped := h.Waiting()
		require.Equal(t, 3, dropped)
	})
}

func TestHandoffPutBackWhenStopped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, anpi.EmailChannel)
		for _, u := range users(20) {
			e.user(u, anpi.EmailContact)
		}
		h := dispatch.NewHandoff()
		o := e.options()
		o.Handoff = h
		o.Limits[anpi.EmailChannel] = dispatch.Limit{Rate: 1, Burst: 1, Batch: 1, Concurrency: 1}
		d := e.dispatcher(o)
		stop := run(t, d)
		e.handEnqueue(h, anpi.EmailChannel, users(20)...)
		synctest.Wait() // one is sent at once (the burst), the next waits for a token
		stop()
		sent := len(sentTo(e.senders[anpi.EmailChannel]))
		require.Less(t, sent, 20)
		requeued := 0
		for _, dl := range e.deliveries() {
			switch dl.State {
			case anpi.Sent:
			case anpi.FailedTemporary:
				requeued++
				require.False(t, dl.NextAttemptAt.After(e.clock.Now()), "%s is due again at once", dl.ID)
				require.Empty(t, dl.LeaseOwner, "%s is not held any more", dl.ID)
			default:
				t.Fatalf("%s is %s after Run stopped", dl.ID, dl.State)
			}
		}
		require.Equal(t, 20-sent, requeued)
		waiting, _ := h.Waiting()
		require.Zero(t, waiting)
		_, _, ok := h.Lease(anpi.EmailChannel, e.clock.Now())
		require.False(t, ok, "nothing is taken once the dispatcher stopped")
		h.Hand([]*anpi.Delivery{{ID: "late", SurveyID: survey, UserID: "u000", Channel: anpi.EmailChannel, State: anpi.Sending,
			Attempts: 1, LeaseOwner: "test", LeaseUntil: e.clock.Now().Add(time.Minute)}})
		waiting, _ = h.Waiting()
		require.Zero(t, waiting, "what is handed after the stop is left to its lease")
	})
}

func TestHandoffTakesWhatItSendsWithinALease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, anpi.EmailChannel)
		for _, u := range users(16) {
			e.user(u, anpi.EmailContact)
		}
		h := dispatch.NewHandoff()
		o := e.options()
		o.Handoff, o.Lease, o.SendTimeout = h, time.Minute, 30*time.Second
		// 1 a second: in half of the 30 s a lease leaves after
		// SendTimeout, 15 go out.
		o.Limits[anpi.EmailChannel] = dispatch.Limit{Rate: 1, Burst: 1, Batch: 5, Concurrency: 1}
		d := e.dispatcher(o)
		stop := run(t, d)
		e.handEnqueue(h, anpi.EmailChannel, users(15)...)
		_, _, ok := h.Lease(anpi.EmailChannel, e.clock.Now())
		require.False(t, ok, "a full queue takes no more: the rest is claimed in turn")
		drive(t, e.clock, e.allFinal)
		stop()
		require.Len(t, sentTo(e.senders[anpi.EmailChannel]), 15)
		_, dropped := h.Waiting()
		require.Zero(t, dropped, "all sent within their leases")
	})
}
