package anpi_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// fakeHandoff takes the deliveries of some channels, leased to "disp" for
// a minute, and records what it was handed.
type fakeHandoff struct {
	takes  map[anpi.Channel]bool
	mu     sync.Mutex
	handed []*anpi.Delivery
}

func (h *fakeHandoff) Lease(c anpi.Channel, now time.Time) (string, time.Time, bool) {
	if !h.takes[c] {
		return "", time.Time{}, false
	}
	return "disp", now.Add(time.Minute), true
}

func (h *fakeHandoff) Hand(ds []*anpi.Delivery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.handed = append(h.handed, ds...)
}

func TestAutoSendHandsDeliveriesOver(t *testing.T) {
	e := newEnv(t, quakeRule)
	h := &fakeHandoff{takes: map[anpi.Channel]bool{anpi.FCMChannel: true, anpi.LINEChannel: true}}
	e.svc = e.newService(&anpi.Options{Handoff: h})
	now := e.clock.Now()
	sv := e.feed(docVXSE51).Effects[0].Survey

	ds := e.deliveries(sv)
	var handed []string
	for _, d := range h.handed {
		handed = append(handed, string(d.UserID)+"/"+string(d.Channel))
	}
	require.ElementsMatch(t, []string{"noto/fcm", "joetsu/line"}, handed, "the channels the handoff takes")
	for _, k := range []string{"noto/fcm", "joetsu/line"} {
		d := ds[k]
		require.Equal(t, anpi.Sending, d.State, k)
		require.Equal(t, "disp", d.LeaseOwner, k)
		require.True(t, d.LeaseUntil.Equal(now.Add(time.Minute)), "%s: lease until %s", k, d.LeaseUntil)
		require.Equal(t, 1, d.Attempts, k)
	}
	for _, k := range []string{"kaga/email", "broken/email"} {
		require.Contains(t, ds, k)
		require.Equal(t, anpi.Queued, ds[k].State, "%s: its channel is not taken", k)
		require.Empty(t, ds[k].LeaseOwner, k)
	}

	// The first render uses the user and contacts the fan-out read: a
	// change made behind the Service's back is not seen (as if the
	// render had come first) ...
	require.NoError(t, e.st.PutContact(e.ctx, &anpi.Contact{ID: "c-noto-fcm", UserID: "noto", Kind: anpi.FCMContact,
		Scope: anpi.PrivateScope, Address: "fcm-token-noto-2", Check: anpi.ContactCheck{Verified: true}}))
	rs, err := e.svc.RenderBatch(e.ctx, []*anpi.Delivery{ds["noto/fcm"]})
	require.NoError(t, err)
	require.NoError(t, rs[0].Err)
	require.Equal(t, "fcm-token-noto", rs[0].Message.To)

	// ... but once the Service itself wrote a contact, renders read them
	// again: here the LINE account blocked, the LINE delivery has no
	// contact left.
	n, err := e.svc.LINEFollowChanged(e.ctx, "U0123456789abcdef0123456789abcdef", false)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	rs, err = e.svc.RenderBatch(e.ctx, []*anpi.Delivery{ds["joetsu/line"]})
	require.NoError(t, err)
	require.Equal(t, anpi.NotFound, anpi.Code(rs[0].Err), "the blocked LINE contact is not used: %v", rs[0].Err)
}
