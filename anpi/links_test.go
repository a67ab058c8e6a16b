package anpi_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
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

// failingContacts fails the store's ContactsOf (what the fan-out prepares
// its chunks through, outside the writer) from its fail-th call on.
type failingContacts struct {
	*memstore.Store
	calls, fail int
}

func (f *failingContacts) ContactsOf(ctx context.Context, users []anpi.UserID) (map[anpi.UserID][]*anpi.Contact, error) {
	f.calls++
	if f.fail > 0 && f.calls >= f.fail {
		return nil, anpi.Errorf(anpi.Unavailable, "test: contacts unreadable")
	}
	return f.Store.ContactsOf(ctx, users)
}

// A fan-out of 1,000 goes in chunks (64 with the survey, then 128, 256,
// 512, 40), each prepared while the one before it is written. A chunk that
// cannot be prepared stops it with the chunks before it written; the
// decision's retry (Tick) asks the rest, and nobody twice.
func TestFanOutChunksPreparedAhead(t *testing.T) {
	ctx := t.Context()
	clock := &fakeClock{t: t0}
	st := &failingContacts{Store: memstore.New(&memstore.Options{Now: clock.Now}), fail: 2}
	r, err := anpi.ParseRegion("quake:390")
	require.NoError(t, err)
	const n = 1000
	for i := range n {
		u := anpi.UserID(fmt.Sprintf("u%04d", i))
		require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: u, EmployeeCode: string(u), Name: string(u), Regions: []anpi.Region{r},
			Status: anpi.Active, Locale: anpi.Japanese}))
		require.NoError(t, st.PutContact(ctx, &anpi.Contact{ID: anpi.ContactID("c-" + u), UserID: u, Kind: anpi.FCMContact,
			Scope: anpi.PrivateScope, Address: "token-" + string(u)}))
	}
	require.NoError(t, st.PutRule(ctx, &anpi.RuleRecord{ID: "q", Name: "q", Enabled: true, Spec: []byte(quakeRule)}))
	svc, err := anpi.New(st, &anpi.Options{Clock: clock.Now, BaseURL: baseURL})
	require.NoError(t, err)

	_, err = svc.HandleDocument(ctx, fixture(t, docVXSE51))
	require.Error(t, err)
	require.Contains(t, err.Error(), "192 of 1000 recipients written", "the survey's 64 and the chunk of 128: %v", err)
	surveys, err := st.ListSurveys(ctx, nil)
	require.NoError(t, err)
	require.Len(t, surveys, 1)
	sv := surveys[0].ID
	rs, err := st.Recipients(ctx, sv)
	require.NoError(t, err)
	require.Len(t, rs, 192)
	ds, err := st.Deliveries(ctx, sv)
	require.NoError(t, err)
	require.Len(t, ds, 192, "each recipient with his delivery")

	st.fail = 0
	out, err := svc.Tick(ctx) // retries the decision
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Equal(t, n-192, out[0].Recipients, "the rest")
	ds, err = st.Deliveries(ctx, sv)
	require.NoError(t, err)
	require.Len(t, ds, n)
	seen := map[anpi.UserID]bool{}
	for _, d := range ds {
		require.False(t, seen[d.UserID], "%s asked twice", d.UserID)
		seen[d.UserID] = true
	}
	// Every delivery renders with the link its chunk stored.
	res, err := svc.RenderBatch(ctx, ds)
	require.NoError(t, err)
	for i, r := range res {
		require.NoError(t, r.Err, ds[i].ID)
		h, err := anpi.HashAnswerToken(tokenOf(t, r.Message.URL))
		require.NoError(t, err)
		tok, err := st.AnswerToken(ctx, h)
		require.NoError(t, err)
		require.Equal(t, ds[i].UserID, tok.UserID)
	}
}

// A manual send, and a draft sent, hand their deliveries over too.
func TestManualSendHandsDeliveriesOver(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.CrisisManager}))
	h := &fakeHandoff{takes: map[anpi.Channel]bool{anpi.FCMChannel: true}}
	e.svc = e.newService(&anpi.Options{Handoff: h})
	got, err := e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "全社 安否確認", Targeting: anpi.Targeting{Everyone: true}})
	require.NoError(t, err)
	var users []anpi.UserID
	for _, d := range h.handed {
		users = append(users, d.UserID)
	}
	require.ElementsMatch(t, []anpi.UserID{"noto", "tokyo"}, users, "those reached by FCM")
	d := e.deliveries(got.Survey.ID)["noto/fcm"]
	require.Equal(t, anpi.Sending, d.State)
	require.Equal(t, "disp", d.LeaseOwner)
	require.Equal(t, anpi.Queued, e.deliveries(got.Survey.ID)["kaga/email"].State, "email is not taken")

	draft, err := e.svc.SaveDraft(e.ctx, "admin", &anpi.SendRequest{Title: "下書き", Targeting: anpi.Targeting{Users: []anpi.UserID{"noto"}}})
	require.NoError(t, err)
	_, err = e.svc.SendDraft(e.ctx, "admin", draft.ID)
	require.NoError(t, err)
	require.Len(t, h.handed, 3)
	require.Equal(t, draft.ID, h.handed[2].SurveyID)
}
