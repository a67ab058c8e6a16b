package dispatch_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/memchan"
	"github.com/anpikit/anpi/internal/pace"
	"github.com/anpikit/anpi/store/memstore"
)

var t0 = time.Date(2026, 3, 11, 5, 46, 0, 0, time.UTC)

const survey = anpi.SurveyID("s1")

// env is a store with one open survey, fake senders and a fake clock.
type env struct {
	t       testing.TB
	ctx     context.Context
	clock   *pace.FakeClock
	st      *memstore.Store
	senders map[anpi.Channel]*memchan.Sender
	renders atomic.Int64
}

func newEnv(t testing.TB, chans ...anpi.Channel) *env {
	t.Helper()
	clock := pace.NewFakeClock(t0)
	e := &env{t: t, ctx: context.Background(), clock: clock, st: memstore.New(&memstore.Options{Now: clock.Now}),
		senders: map[anpi.Channel]*memchan.Sender{}}
	for _, c := range chans {
		e.senders[c] = memchan.New(&memchan.Options{Kind: channel.Kind(c), Now: clock.Now})
	}
	require.NoError(t, e.st.CreateSurvey(e.ctx, &anpi.Survey{ID: survey, Kind: anpi.ManualSurvey, Title: "安否確認",
		Form: anpi.DefaultForm(), Status: anpi.Open, CreatedAt: t0}))
	return e
}

// options returns dispatcher options over the env's senders, paced loosely
// enough not to get in the way, with a seeded jitter.
func (e *env) options() *dispatch.Options {
	o := &dispatch.Options{
		Senders:  map[anpi.Channel]channel.Sender{},
		Renderer: dispatch.RendererFunc(e.render),
		Limits:   map[anpi.Channel]dispatch.Limit{},
		Owner:    "test",
		Clock:    e.clock,
		Rand:     rand.New(rand.NewPCG(1, 2)),
	}
	for c, s := range e.senders {
		o.Senders[c] = s
		o.Limits[c] = dispatch.Limit{Rate: 1000, Burst: 100, Batch: 100, Concurrency: 2}
	}
	return o
}

func (e *env) dispatcher(o *dispatch.Options) *dispatch.Dispatcher {
	e.t.Helper()
	d, err := dispatch.New(e.st, o)
	require.NoError(e.t, err)
	return d
}

// user adds a user with contacts of the given kinds; addresses derive from
// the user ID (email u1@example.jp, phone +8190…, FCM token fcm-u1, …).
func (e *env) user(id string, kinds ...anpi.ContactKind) {
	e.t.Helper()
	require.NoError(e.t, e.st.CreateUser(e.ctx, &anpi.User{ID: anpi.UserID(id), EmployeeCode: "E" + id, Name: "User " + id,
		Status: anpi.Active, Locale: anpi.Japanese}))
	for _, k := range kinds {
		require.NoError(e.t, e.st.PutContact(e.ctx, &anpi.Contact{ID: contactID(id, k), UserID: anpi.UserID(id), Kind: k,
			Scope: anpi.PrivateScope, Address: address(id, k)}))
	}
}

func contactID(user string, k anpi.ContactKind) anpi.ContactID {
	return anpi.ContactID(user + "-" + string(k))
}

func address(user string, k anpi.ContactKind) string {
	switch k {
	case anpi.EmailContact:
		return user + "@example.jp"
	case anpi.PhoneContact:
		n := 0
		for _, r := range user {
			n = n*31 + int(r)
		}
		return fmt.Sprintf("+8190%08d", n%100000000)
	case anpi.LINEContact:
		return "U" + fmt.Sprintf("%032x", []byte(user))[:32]
	}
	return string(k) + "-token-" + user
}

// enqueue adds a queued delivery for each user on channel c.
func (e *env) enqueue(c anpi.Channel, users ...string) []anpi.DeliveryID {
	e.t.Helper()
	var ds []*anpi.Delivery
	var ids []anpi.DeliveryID
	for _, u := range users {
		id := anpi.DeliveryID("d-" + u + "-" + string(c))
		ds = append(ds, &anpi.Delivery{ID: id, SurveyID: survey, UserID: anpi.UserID(u), Channel: c, State: anpi.Queued,
			NextAttemptAt: e.clock.Now()})
		ids = append(ids, id)
	}
	n, err := e.st.EnqueueDeliveries(e.ctx, ds)
	require.NoError(e.t, err)
	require.Equal(e.t, len(ds), n)
	return ids
}

// render is the test Renderer: the user's first unbroken contact of the
// channel's kind, or NotFound.
func (e *env) render(ctx context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
	e.renders.Add(1)
	cs, err := e.st.Contacts(ctx, d.UserID)
	if err != nil {
		return nil, "", err
	}
	for _, c := range cs {
		if c.Kind == d.Channel.ContactKind() && !c.Check.Broken {
			return &channel.Message{To: c.Address, Subject: "安否確認", Text: "ご無事ですか /a/tok-" + string(d.UserID),
				Priority: channel.PriorityHigh}, c.ID, nil
		}
	}
	return nil, "", anpi.Errorf(anpi.NotFound, "user %s has no %s contact", d.UserID, d.Channel.ContactKind())
}

func (e *env) delivery(id anpi.DeliveryID) *anpi.Delivery {
	e.t.Helper()
	d, err := e.st.GetDelivery(e.ctx, id)
	require.NoError(e.t, err)
	return d
}

// deliveries returns the survey's deliveries by user and channel.
func (e *env) deliveries() map[string]*anpi.Delivery {
	e.t.Helper()
	ds, err := e.st.Deliveries(e.ctx, survey)
	require.NoError(e.t, err)
	out := map[string]*anpi.Delivery{}
	for _, d := range ds {
		out[string(d.UserID)+"/"+string(d.Channel)] = d
	}
	return out
}

func (e *env) contact(user string, k anpi.ContactKind) *anpi.Contact {
	e.t.Helper()
	c, err := e.st.GetContact(e.ctx, contactID(user, k))
	require.NoError(e.t, err)
	return c
}

func (e *env) step(d *dispatch.Dispatcher) dispatch.Stats {
	e.t.Helper()
	st, err := d.Step(e.ctx)
	require.NoError(e.t, err)
	return st
}

func sentTo(s *memchan.Sender) []string {
	var out []string
	for _, m := range s.Sent() {
		out = append(out, m.Message.To)
	}
	return out
}

func states(e *env) string {
	ds, err := e.st.Deliveries(e.ctx, survey)
	require.NoError(e.t, err)
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s/%s:%s", d.UserID, d.Channel, d.State))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}
