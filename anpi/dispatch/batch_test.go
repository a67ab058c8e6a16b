package dispatch_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
)

// The engine renders a claimed batch with one call.
var _ dispatch.BatchRenderer = (*anpi.Service)(nil)

// batchRenderer is a fake dispatch.BatchRenderer over the env's test
// renderer: it records each RenderBatch call's deliveries, gives the
// deliveries in errs their error instead of a message, and fails whole
// calls with callErr. Render (which the dispatcher must not call) is
// counted.
type batchRenderer struct {
	e *env

	mu      sync.Mutex
	calls   [][]string       // per RenderBatch call, the users of its deliveries
	singles int              // Render calls
	errs    map[string]error // by user/channel
	callErr error
	short   bool // return one result too few
}

func newBatchRenderer(e *env) *batchRenderer {
	return &batchRenderer{e: e, errs: map[string]error{}}
}

func (b *batchRenderer) Render(ctx context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
	b.mu.Lock()
	b.singles++
	b.mu.Unlock()
	return b.e.render(ctx, d)
}

func (b *batchRenderer) RenderBatch(ctx context.Context, ds []*anpi.Delivery) ([]anpi.RenderResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var users []string
	rs := make([]anpi.RenderResult, len(ds))
	for i, d := range ds {
		users = append(users, string(d.UserID))
		if err := b.errs[string(d.UserID)+"/"+string(d.Channel)]; err != nil {
			rs[i].Err = err
			continue
		}
		rs[i].Message, rs[i].Contact, rs[i].Err = b.e.render(ctx, d)
	}
	slices.Sort(users)
	b.calls = append(b.calls, users)
	if b.short {
		rs = rs[:len(rs)-1]
	}
	return rs, b.callErr
}

func (b *batchRenderer) set(f func(b *batchRenderer)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

func (b *batchRenderer) got() ([][]string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls), b.singles
}

func TestBatchRendererOneCallPerRound(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel)
	for _, u := range []string{"u1", "u2", "u3"} {
		e.user(u, anpi.FCMContact, anpi.EmailContact)
	}
	ids := e.enqueue(anpi.FCMChannel, "u1", "u2", "u3")
	// u3's token is gone: the contact the batch result names is marked.
	e.senders[anpi.FCMChannel].FailWith(address("u3", anpi.FCMContact), channel.Errorf(channel.Unregistered, "fcm: 404 UNREGISTERED"))
	b := newBatchRenderer(e)
	o := e.options()
	o.Renderer = b
	o.Limits[anpi.FCMChannel] = dispatch.Limit{Rate: 1000, Burst: 100, Batch: 2}
	d := e.dispatcher(o)

	require.Equal(t, dispatch.Stats{Claimed: 2, Sent: 2}, e.step(d))
	calls, singles := b.got()
	require.Equal(t, [][]string{{"u1", "u2"}}, calls, "one call with the round's claimed deliveries")
	require.Zero(t, singles)
	// u3's fallback to email is rendered in the email lane's own call.
	require.Equal(t, dispatch.Stats{Claimed: 2, Sent: 1, FellBack: 1, Broken: 1}, e.step(d))
	calls, singles = b.got()
	require.Equal(t, [][]string{{"u1", "u2"}, {"u3"}, {"u3"}}, calls)
	require.Zero(t, singles)
	require.True(t, e.contact("u3", anpi.FCMContact).Check.Broken)
	require.Equal(t, []string{"u3@example.jp"}, sentTo(e.senders[anpi.EmailChannel]))

	sent := e.senders[anpi.FCMChannel].Sent()
	require.Len(t, sent, 2)
	for i, id := range ids[:2] {
		dl := e.delivery(id)
		require.Equal(t, anpi.Sent, dl.State)
		require.Equal(t, dl.IdempotencyKey(), sent[i].Message.IdempotencyKey, "the delivery's key on the message")
	}
	require.Equal(t, dispatch.Stats{}, e.step(d), "nothing left")
	calls, _ = b.got()
	require.Len(t, calls, 3, "no call for an empty round")
}

func TestBatchRendererResultErrors(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel)
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		e.user(u, anpi.FCMContact, anpi.EmailContact)
	}
	e.enqueue(anpi.FCMChannel, "u1", "u2", "u3", "u4")
	b := newBatchRenderer(e)
	b.errs["u1/fcm"] = anpi.Errorf(anpi.NotFound, "user u1 has no fcm contact")
	b.errs["u2/fcm"] = anpi.Errorf(anpi.FailedPrecondition, "survey s1 is closed")
	b.errs["u3/fcm"] = anpi.Errorf(anpi.Unavailable, "database is busy")
	o := e.options()
	o.Renderer = b
	o.Backoff = dispatch.Backoff{Base: time.Second, Max: time.Second}
	d := e.dispatcher(o)

	// FCM: u1 falls back to email (sent in the same step), u2 is dropped,
	// u3 retried, u4 sent.
	require.Equal(t, dispatch.Stats{Claimed: 5, Sent: 2, FellBack: 1, NoContact: 1, Dropped: 1, Retried: 1}, e.step(d))
	require.Equal(t, "u1/email:sent u1/fcm:failed_permanent u2/fcm:failed_permanent u3/fcm:failed_temporary u4/fcm:sent", states(e))
	ds := e.deliveries()
	require.Contains(t, ds["u1/fcm"].LastError, "no contact on fcm: user u1 has no fcm contact")
	require.Equal(t, "not sent: survey s1 is closed", ds["u2/fcm"].LastError)
	require.Equal(t, "render: database is busy", ds["u3/fcm"].LastError)
	require.Equal(t, []string{address("u4", anpi.FCMContact)}, sentTo(e.senders[anpi.FCMChannel]))
	require.Equal(t, dispatch.CircuitClosed, d.Circuit(anpi.FCMChannel).State, "a render error is not the provider's")
	calls, singles := b.got()
	require.Equal(t, [][]string{{"u1", "u2", "u3", "u4"}, {"u1"}}, calls)
	require.Zero(t, singles)

	b.set(func(b *batchRenderer) { delete(b.errs, "u3/fcm") })
	e.clock.Advance(time.Second)
	require.Equal(t, dispatch.Stats{Claimed: 1, Sent: 1}, e.step(d))
	require.Equal(t, anpi.Sent, e.deliveries()["u3/fcm"].State)
}

func TestBatchRendererCallErrorRetriesAll(t *testing.T) {
	for name, fail := range map[string]func(b *batchRenderer){
		"error": func(b *batchRenderer) {
			b.callErr = anpi.Errorf(anpi.Unavailable, "store answer tokens: disk full")
		},
		// A call's NotFound is not a verdict on each recipient.
		"not found": func(b *batchRenderer) { b.callErr = anpi.Errorf(anpi.NotFound, "no such table") },
		"short":     func(b *batchRenderer) { b.short = true },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel)
			for _, u := range []string{"u1", "u2", "u3"} {
				e.user(u, anpi.FCMContact, anpi.EmailContact)
			}
			e.enqueue(anpi.FCMChannel, "u1", "u2", "u3")
			b := newBatchRenderer(e)
			// Results that would fall back or drop are not acted upon
			// when the call failed.
			b.errs["u1/fcm"] = anpi.Errorf(anpi.NotFound, "user u1 has no fcm contact")
			b.errs["u2/fcm"] = anpi.Errorf(anpi.FailedPrecondition, "survey s1 is closed")
			fail(b)
			o := e.options()
			o.Renderer = b
			o.Backoff = dispatch.Backoff{Base: time.Second, Max: time.Second}
			d := e.dispatcher(o)

			require.Equal(t, dispatch.Stats{Claimed: 3, Retried: 3}, e.step(d))
			require.Equal(t, "u1/fcm:failed_temporary u2/fcm:failed_temporary u3/fcm:failed_temporary", states(e))
			for _, dl := range e.deliveries() {
				require.Contains(t, dl.LastError, "render: ")
			}
			require.Empty(t, e.senders[anpi.FCMChannel].Sent())
			require.Equal(t, dispatch.CircuitClosed, d.Circuit(anpi.FCMChannel).State)

			b.set(func(b *batchRenderer) { b.errs, b.callErr, b.short = map[string]error{}, nil, false })
			e.clock.Advance(time.Second)
			require.Equal(t, dispatch.Stats{Claimed: 3, Sent: 3}, e.step(d))
			calls, singles := b.got()
			require.Len(t, calls, 2)
			require.Zero(t, singles)
		})
	}
}

func TestPlainRendererRendersOneByOne(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel)
	e.user("u1", anpi.FCMContact)
	e.user("u2", anpi.FCMContact)
	e.enqueue(anpi.FCMChannel, "u1", "u2")
	o := e.options()
	_, ok := o.Renderer.(dispatch.BatchRenderer)
	require.False(t, ok)
	d := e.dispatcher(o)
	require.Equal(t, dispatch.Stats{Claimed: 2, Sent: 2}, e.step(d))
	require.Equal(t, int64(2), e.renders.Load(), "one Render call per delivery")
}
