package anpi_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/rules"
	"github.com/anpikit/anpi/store/memstore"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// t0 is shortly after the fixtures' event (2024-01-01 16:10 JST).
var t0 = time.Date(2024, 1, 1, 7, 25, 0, 0, time.UTC)

const baseURL = "https://a.example"

// Rule specs as an administrator stores them.
const (
	quakeRule      = `{"id":"quake-5lower","name":"震度5弱以上","kind":"earthquake","earthquake":{"threshold":"5-"},"admins":["admin"]}`
	quakeDrillRule = `{"id":"quake-drill","kind":"earthquake","earthquake":{"threshold":"5-"},"options":{"drill":true}}`
	quakeHoldRule  = `{"id":"quake-hold","kind":"earthquake","earthquake":{"threshold":"5-"},"options":{"hold":"5m"}}`
)

// env is a store with a directory, a fake clock and a Service.
type env struct {
	t     testing.TB
	ctx   context.Context
	clock *fakeClock
	st    *memstore.Store
	svc   *anpi.Service
}

// fixture reads a JMA document of package jma's test data.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "jma", "testdata", name))
	require.NoError(t, err)
	return b
}

// Fixtures of event A (2024-01-01 16:10, 石川県能登): the 震度速報 reaches
// 390 (6+), 391 (5+) and 370 (5-); the 震源・震度情報 then adds 380 (5-) and
// counts 391 as 未入電; the 取消 withdraws the 震源・震度情報.
const (
	docVXSE51   = "vxse51_event_a_1.xml"
	docVXSE53   = "vxse53_event_a_s1.xml"
	docCancel53 = "vxse53_event_a_cancel.xml"
	docTraining = "vxse53_training.xml"
)

// newEnv builds the directory:
//
//	noto     quake:390, FCM token            → fcm
//	kaga     quake:391, work email only      → email (work)
//	joetsu   quake:370, LINE and phone       → line
//	toyama   quake:380, phone only           → sms
//	tokyo    quake:350 (never affected)
//	nobody   quake:390, no contact at all    → skipped_no_contact
//	leave    quake:390, suspended            → never asked
//	broken   quake:390, broken FCM, verified private email → email (private)
func newEnv(t testing.TB, specs ...string) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: &fakeClock{t: t0}}
	e.st = memstore.New(&memstore.Options{Now: e.clock.Now})
	t.Cleanup(func() { e.st.Close() })
	require.NoError(t, e.st.CreateDepartment(e.ctx, &anpi.Department{ID: "hq", Name: "本社"}))
	require.NoError(t, e.st.CreateDepartment(e.ctx, &anpi.Department{ID: "kanazawa", Name: "金沢支店", ParentID: "hq"}))
	user := func(id, region string, opts ...func(*anpi.User)) {
		r, err := anpi.ParseRegion(region)
		require.NoError(t, err)
		u := &anpi.User{ID: anpi.UserID(id), EmployeeCode: "E-" + id, Name: id + " san", Departments: []anpi.DepartmentID{"kanazawa"},
			Regions: []anpi.Region{r}, Status: anpi.Active, Locale: anpi.Japanese}
		for _, o := range opts {
			o(u)
		}
		require.NoError(t, e.st.CreateUser(e.ctx, u))
	}
	contact := func(id, user string, kind anpi.ContactKind, addr string, check anpi.ContactCheck) {
		require.NoError(t, e.st.PutContact(e.ctx, &anpi.Contact{ID: anpi.ContactID(id), UserID: anpi.UserID(user), Kind: kind,
			Scope: anpi.PrivateScope, Address: addr, Check: check}))
	}
	user("admin", "quake:350", func(u *anpi.User) { u.Departments = []anpi.DepartmentID{"hq"} })
	user("noto", "quake:390")
	contact("c-noto-fcm", "noto", anpi.FCMContact, "fcm-token-noto", anpi.ContactCheck{Verified: true})
	user("kaga", "quake:391", func(u *anpi.User) { u.WorkEmail = "kaga@corp.example"; u.Locale = anpi.English })
	user("joetsu", "quake:370")
	contact("c-joetsu-line", "joetsu", anpi.LINEContact, "U0123456789abcdef0123456789abcdef", anpi.ContactCheck{})
	contact("c-joetsu-phone", "joetsu", anpi.PhoneContact, "+819011112222", anpi.ContactCheck{})
	user("toyama", "quake:380")
	contact("c-toyama-phone", "toyama", anpi.PhoneContact, "+819033334444", anpi.ContactCheck{})
	user("tokyo", "quake:350")
	contact("c-tokyo-fcm", "tokyo", anpi.FCMContact, "fcm-token-tokyo", anpi.ContactCheck{})
	user("nobody", "quake:390")
	user("leave", "quake:390", func(u *anpi.User) { u.Status = anpi.Suspended })
	contact("c-leave-fcm", "leave", anpi.FCMContact, "fcm-token-leave", anpi.ContactCheck{})
	user("broken", "quake:390")
	contact("c-broken-fcm", "broken", anpi.FCMContact, "fcm-token-broken", anpi.ContactCheck{Broken: true})
	contact("c-broken-mail", "broken", anpi.EmailContact, "broken@home.example", anpi.ContactCheck{Verified: true})
	for _, spec := range specs {
		var r rules.Rule
		require.NoError(t, r.UnmarshalJSON([]byte(spec)))
		require.NoError(t, e.st.PutRule(e.ctx, &anpi.RuleRecord{ID: r.ID, Name: r.Name, Enabled: true, Spec: []byte(spec)}))
	}
	e.svc = e.newService(nil)
	return e
}

// newService starts a Service on the env's store (a "restart" when called
// again).
func (e *env) newService(opts *anpi.Options) *anpi.Service {
	e.t.Helper()
	o := anpi.Options{}
	if opts != nil {
		o = *opts
	}
	o.Clock = e.clock.Now
	if o.Rand == nil {
		o.Rand = rand.NewChaCha8([32]byte{1})
	}
	if o.BaseURL == "" {
		o.BaseURL = baseURL
	}
	svc, err := anpi.New(e.st, &o)
	require.NoError(e.t, err)
	return svc
}

func (e *env) feed(name string) *anpi.Outcome {
	e.t.Helper()
	out, err := e.svc.HandleDocument(e.ctx, fixture(e.t, name))
	require.NoError(e.t, err)
	return out
}

// deliveries returns the survey's deliveries keyed "user/channel/round".
func (e *env) deliveries(s anpi.SurveyID) map[string]*anpi.Delivery {
	e.t.Helper()
	ds, err := e.st.Deliveries(e.ctx, s)
	require.NoError(e.t, err)
	out := map[string]*anpi.Delivery{}
	for _, d := range ds {
		k := string(d.UserID) + "/" + string(d.Channel)
		if d.Round == anpi.CorrectionRound {
			k += "/correction"
		}
		_, dup := out[k]
		require.False(e.t, dup, "two deliveries %s", k)
		out[k] = d
	}
	return out
}

func (e *env) recipients(s anpi.SurveyID) []string {
	e.t.Helper()
	rs, err := e.st.Recipients(e.ctx, s)
	require.NoError(e.t, err)
	var ids []string
	for _, r := range rs {
		ids = append(ids, string(r.UserID))
	}
	sort.Strings(ids)
	return ids
}

// send marks a queued delivery sent, as the dispatcher would.
func (e *env) send(d *anpi.Delivery) {
	e.t.Helper()
	ds, err := e.st.ClaimDeliveries(e.ctx, anpi.ClaimRequest{Owner: "test", Limit: 1000, Lease: time.Minute, Now: e.clock.Now()})
	require.NoError(e.t, err)
	for _, c := range ds {
		if c.ID == d.ID {
			require.NoError(e.t, e.st.CompleteDelivery(e.ctx, c.ID, "test", anpi.SendResult{ProviderID: "p-" + string(c.ID), At: e.clock.Now()}))
			continue
		}
		require.NoError(e.t, e.st.FailDelivery(e.ctx, c.ID, "test", anpi.SendFailure{Error: "not now", At: e.clock.Now(), RetryAt: e.clock.Now()}))
	}
}

// sends returns the effects that wrote a survey.
func sends(effects []anpi.Effect) []anpi.Effect {
	var out []anpi.Effect
	for _, f := range effects {
		if f.Survey != "" {
			out = append(out, f)
		}
	}
	return out
}

func TestAutoSendFirstReportAndEscalation(t *testing.T) {
	e := newEnv(t, quakeRule)

	out := e.feed(docVXSE51)
	require.Len(t, out.Effects, 1)
	f := out.Effects[0]
	require.Equal(t, rules.ActionSend, f.Action)
	require.True(t, f.Created)
	require.Equal(t, 5, f.Recipients)
	require.Equal(t, 4, f.Queued)
	require.Equal(t, 1, f.NoContact)
	require.Equal(t, []string{"broken", "joetsu", "kaga", "nobody", "noto"}, e.recipients(f.Survey))

	ds := e.deliveries(f.Survey)
	require.Len(t, ds, 5)
	require.Equal(t, anpi.ContactID("c-noto-fcm"), ds["noto/fcm"].ContactID)
	require.Equal(t, anpi.ContactID(""), ds["kaga/email"].ContactID, "the work email")
	require.Equal(t, anpi.ContactID("c-joetsu-line"), ds["joetsu/line"].ContactID)
	require.Equal(t, anpi.ContactID("c-broken-mail"), ds["broken/email"].ContactID, "a broken push token is skipped")
	require.Equal(t, anpi.SkippedNoContact, ds["nobody/email"].State)
	for k, d := range ds {
		if k != "nobody/email" {
			require.Equal(t, anpi.Queued, d.State, k)
		}
		require.Equal(t, 0, d.Round)
		require.Equal(t, anpi.DeliveryIDFor(d.Key()), d.ID)
	}

	sv, err := e.st.GetSurvey(e.ctx, f.Survey)
	require.NoError(t, err)
	require.Equal(t, anpi.AutoSurvey, sv.Kind)
	require.Equal(t, anpi.Open, sv.Status)
	require.Equal(t, "quake-5lower", sv.Trigger.RuleID)
	require.Equal(t, "20240101161010", sv.Trigger.EventID)
	require.JSONEq(t, quakeRule, string(sv.Trigger.Rule), "the rule is frozen onto the survey")
	require.Equal(t, "震度６強", sv.Trigger.Intensity)
	require.Equal(t, []anpi.UserID{"admin"}, sv.Admins)
	require.Equal(t, t0, sv.StartedAt)

	// The 震源・震度情報 of the same event adds 380 (富山県東部): only toyama
	// is new.
	e.clock.Advance(2 * time.Minute)
	out = e.feed(docVXSE53)
	got := sends(out.Effects)
	require.Len(t, got, 1)
	require.Equal(t, f.Survey, got[0].Survey)
	require.False(t, got[0].Created)
	require.Equal(t, 1, got[0].Recipients)
	require.Equal(t, 1, got[0].Queued)
	ds = e.deliveries(f.Survey)
	require.Len(t, ds, 6)
	require.Equal(t, anpi.ContactID("c-toyama-phone"), ds["toyama/sms"].ContactID)

	sv, err = e.st.GetSurvey(e.ctx, f.Survey)
	require.NoError(t, err)
	require.Len(t, sv.Trigger.Reports, 2)
	require.Equal(t, "震度７", sv.Trigger.Intensity)
	require.Contains(t, sv.Trigger.Areas, "富山県東部")

	tally, err := e.st.Tally(e.ctx, f.Survey)
	require.NoError(t, err)
	require.Equal(t, 6, tally.Targets)

	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(f.Survey)})
	require.NoError(t, err)
	require.Len(t, audit, 2)
	for _, a := range audit {
		require.Equal(t, "survey.auto_send", a.Action)
		require.Empty(t, a.Actor)
	}
}

func TestAutoSendDrill(t *testing.T) {
	t.Run("rule without drill opt-in", func(t *testing.T) {
		e := newEnv(t, quakeRule)
		out := e.feed(docTraining)
		require.Empty(t, out.Effects)
		require.Len(t, out.Decisions, 1)
		require.Equal(t, rules.SkipDrill, out.Decisions[0].Skip)
		svs, err := e.st.ListSurveys(e.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, svs)
	})
	t.Run("rule with drill opt-in", func(t *testing.T) {
		e := newEnv(t, quakeRule, quakeDrillRule)
		out := e.feed(docTraining)
		got := sends(out.Effects)
		require.Len(t, got, 1, "only the opted-in rule acts")
		require.Equal(t, "quake-drill", got[0].Rule)
		require.Equal(t, rules.ActionDrill, got[0].Action)
		sv, err := e.st.GetSurvey(e.ctx, got[0].Survey)
		require.NoError(t, err)
		require.Equal(t, anpi.DrillSurvey, sv.Kind)
		require.Contains(t, sv.Title, "【訓練】")
		audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(sv.ID)})
		require.NoError(t, err)
		require.Equal(t, "survey.drill_send", audit[0].Action)

		// Every rendered message says it is a drill, and none is urgent.
		for k, d := range e.deliveries(sv.ID) {
			if d.State != anpi.Queued {
				continue
			}
			m, _, err := e.svc.Render(e.ctx, d)
			require.NoError(t, err, k)
			if k == "kaga/email" {
				require.Contains(t, m.Subject, "[DRILL]")
				require.Contains(t, m.Text, "[DRILL]")
			} else {
				require.Contains(t, m.Text, "【訓練】", k)
			}
			require.Equal(t, "true", m.Data["drill"])
			require.NotEqual(t, "high", m.Priority.String())
		}
	})
}

func TestAutoSendTestStatusNeverSends(t *testing.T) {
	e := newEnv(t, quakeRule, quakeDrillRule)
	doc := bytes.Replace(fixture(t, docVXSE53), []byte("<Status>通常</Status>"), []byte("<Status>試験</Status>"), 1)
	out, err := e.svc.HandleDocument(e.ctx, doc)
	require.NoError(t, err)
	require.Empty(t, out.Effects)
	for _, d := range out.Decisions {
		require.Equal(t, rules.SkipTest, d.Skip)
	}
	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, svs)
}

func TestAutoSendMalformedDocument(t *testing.T) {
	e := newEnv(t, quakeRule)
	_, err := e.svc.HandleDocument(e.ctx, []byte("<Report><Control>"))
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	require.ErrorContains(t, err, "anpi: handle document: jma: parse")
}

func TestAutoSendCancel(t *testing.T) {
	e := newEnv(t, quakeRule)
	out := e.feed(docVXSE53)
	sv := sends(out.Effects)[0].Survey
	require.Equal(t, []string{"broken", "kaga", "nobody", "noto", "toyama"}, e.recipients(sv))
	ds := e.deliveries(sv)

	// noto's push went out and he holds a link; the rest are still queued.
	m, _, err := e.svc.Render(e.ctx, ds["noto/fcm"])
	require.NoError(t, err)
	e.send(ds["noto/fcm"])

	e.clock.Advance(time.Minute)
	out = e.feed(docCancel53)
	got := sends(out.Effects)
	require.Len(t, got, 1)
	require.Equal(t, rules.ActionCancel, got[0].Action)
	require.Equal(t, 3, got[0].Cancelled, "kaga, toyama and broken were not sent yet")
	require.Equal(t, 1, got[0].Corrections)

	ds = e.deliveries(sv)
	require.Equal(t, anpi.Sent, ds["noto/fcm"].State)
	for _, k := range []string{"kaga/email", "toyama/sms", "broken/email"} {
		require.Equal(t, anpi.CancelledState, ds[k].State, k)
	}
	require.Equal(t, anpi.SkippedNoContact, ds["nobody/email"].State)
	corr := ds["noto/fcm/correction"]
	require.NotNil(t, corr)
	require.Equal(t, anpi.Queued, corr.State)
	require.Equal(t, anpi.ContactID("c-noto-fcm"), corr.ContactID)

	s, err := e.st.GetSurvey(e.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, anpi.Cancelled, s.Status)

	// The correction is short, has no link, and goes out although the
	// survey is cancelled; the original request does not any more.
	cm, cid, err := e.svc.Render(e.ctx, corr)
	require.NoError(t, err)
	require.Equal(t, anpi.ContactID("c-noto-fcm"), cid)
	require.Contains(t, cm.Text, "取消")
	require.Empty(t, cm.URL)
	require.NotContains(t, cm.Text, baseURL)
	_, _, err = e.svc.Render(e.ctx, ds["kaga/email"])
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))

	// noto's link no longer answers.
	_, err = e.svc.AnswerByToken(e.ctx, tokenOf(t, m.URL), safe(), anpi.ViaWeb)
	require.Equal(t, anpi.NotFound, anpi.Code(err))

	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(sv)})
	require.NoError(t, err)
	require.Equal(t, "survey.cancel", audit[len(audit)-1].Action)

	// The same 取消 again changes nothing.
	e.svc = e.newService(nil)
	e.feed(docVXSE53)
	out = e.feed(docCancel53)
	for _, f := range out.Effects {
		require.Zero(t, f.Recipients+f.Queued+f.Cancelled+f.Corrections, "%+v", f)
	}
	require.Len(t, e.deliveries(sv), 6)
	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(t, err)
	require.Len(t, svs, 1, "a replayed report of a withdrawn survey starts nothing")
}

func TestAutoSendHoldReleasedByTick(t *testing.T) {
	e := newEnv(t, quakeHoldRule)
	out := e.feed(docVXSE53)
	require.Len(t, out.Effects, 1)
	require.Equal(t, rules.ActionHold, out.Effects[0].Action)
	require.Empty(t, out.Effects[0].Survey)
	due, ok := e.svc.NextDue()
	require.True(t, ok)
	require.Equal(t, t0.Add(5*time.Minute), due)

	e.clock.Advance(4 * time.Minute)
	effects, err := e.svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Empty(t, effects)
	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, svs)

	e.clock.Advance(time.Minute)
	effects, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Len(t, effects, 1)
	require.Equal(t, rules.ActionSend, effects[0].Action)
	require.True(t, effects[0].Created)
	require.Equal(t, 5, effects[0].Recipients)
	_, ok = e.svc.NextDue()
	require.False(t, ok)
}

func TestAutoSendHoldDroppedByCancel(t *testing.T) {
	e := newEnv(t, quakeHoldRule)
	e.feed(docVXSE53)
	e.clock.Advance(time.Minute)
	e.feed(docCancel53)
	e.clock.Advance(10 * time.Minute)
	effects, err := e.svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Empty(t, effects)
	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, svs, "nobody was asked about a withdrawn report")
}

func TestAutoSendRestartAsksNobodyTwice(t *testing.T) {
	e := newEnv(t, quakeRule)
	out := e.feed(docVXSE51)
	sv := out.Effects[0].Survey
	e.feed(docVXSE53)
	before := e.deliveries(sv)
	require.Len(t, before, 6)

	// A new process on the same store, fed the same documents again (a
	// poller re-reads its feed after a restart).
	e.svc = e.newService(nil)
	for _, doc := range []string{docVXSE51, docVXSE53} {
		out := e.feed(doc)
		for _, f := range out.Effects {
			require.Equal(t, sv, f.Survey)
			require.Zero(t, f.Recipients)
			require.Zero(t, f.Queued)
			require.False(t, f.Created)
		}
	}
	after := e.deliveries(sv)
	require.Equal(t, len(before), len(after))
	for k, d := range before {
		require.Equal(t, d.ID, after[k].ID)
	}
	tally, err := e.st.Tally(e.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, 6, tally.Targets)
}

func TestAutoSendDirectoryChanges(t *testing.T) {
	e := newEnv(t, quakeRule)
	out := e.feed(docVXSE51)
	sv := out.Effects[0].Survey

	// tokyo moves to 富山県東部 before the 震源・震度情報 reaches it.
	u, err := e.st.GetUser(e.ctx, "tokyo")
	require.NoError(t, err)
	u.Regions = []anpi.Region{{Kind: anpi.QuakeArea, Code: "380"}}
	require.NoError(t, e.st.UpdateUser(e.ctx, u))
	// nobody leaves the company.
	require.NoError(t, e.st.DeleteUser(e.ctx, "nobody"))

	out = e.feed(docVXSE53)
	require.Equal(t, 2, sends(out.Effects)[0].Recipients, "toyama and tokyo")
	require.Contains(t, e.recipients(sv), "tokyo")
	require.Equal(t, anpi.FCMChannel, e.deliveries(sv)["tokyo/fcm"].Channel)
}

func TestAutoSendChannelOrder(t *testing.T) {
	e := newEnv(t, quakeRule)
	e.svc = e.newService(&anpi.Options{Channels: []anpi.Channel{anpi.SMSChannel, anpi.EmailChannel, anpi.LINEChannel}})
	out := e.feed(docVXSE51)
	ds := e.deliveries(out.Effects[0].Survey)
	require.Contains(t, ds, "joetsu/sms", "SMS comes first in this order")
	require.Contains(t, ds, "noto/email", "noto has no channel of the order: no contact")
	require.Equal(t, anpi.SkippedNoContact, ds["noto/email"].State)

	_, err := anpi.New(e.st, &anpi.Options{Channels: []anpi.Channel{"pigeon"}})
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	_, err = anpi.New(nil, nil)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
}

func TestAutoSendRetriesWhatTheStoreRefused(t *testing.T) {
	e := newEnv(t, quakeRule)
	flaky := &flakyStore{Store: e.st, fail: true}
	svc, err := anpi.New(flaky, &anpi.Options{Clock: e.clock.Now, Rand: rand.NewChaCha8([32]byte{2})})
	require.NoError(t, err)

	_, err = svc.HandleDocument(e.ctx, fixture(t, docVXSE51))
	require.Equal(t, anpi.Unavailable, anpi.Code(err))
	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, svs)

	flaky.set(false)
	effects, err := svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Len(t, effects, 1)
	require.Equal(t, 5, effects[0].Recipients)
}

// flakyStore fails every transaction while fail is set.
type flakyStore struct {
	*memstore.Store
	mu   sync.Mutex
	fail bool
}

func (f *flakyStore) set(fail bool) { f.mu.Lock(); f.fail = fail; f.mu.Unlock() }

func (f *flakyStore) InTx(ctx context.Context, fn func(tx anpi.Tx) error) error {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return anpi.Errorf(anpi.Unavailable, "flaky: database is busy")
	}
	return f.Store.InTx(ctx, fn)
}

func TestAutoSendPartialCancel(t *testing.T) {
	e := newEnv(t, quakeRule)
	sv := e.feed(docVXSE51).Effects[0].Survey
	e.feed(docVXSE53)
	ds := e.deliveries(sv)
	e.send(ds["toyama/sms"])
	// toyama also has a reminder queued, not yet sent.
	now := e.clock.Now()
	reminder := &anpi.Delivery{SurveyID: sv, UserID: "toyama", Channel: anpi.EmailChannel, Round: 1,
		State: anpi.Queued, NextAttemptAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	reminder.ID = anpi.DeliveryIDFor(reminder.Key())
	n, err := e.st.EnqueueDeliveries(e.ctx, []*anpi.Delivery{reminder})
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// The 取消 withdraws the 震源・震度情報 only: the 震度速報 still stands,
	// so only toyama (富山県東部, reached through the withdrawn report) is
	// concerned: his unsent reminder is cancelled and he is told.
	out := e.feed(docCancel53)
	got := sends(out.Effects)
	require.Len(t, got, 1)
	require.Equal(t, rules.ActionCancel, got[0].Action)
	require.Equal(t, 1, got[0].Cancelled, "toyama's unsent reminder")
	require.Equal(t, 1, got[0].Corrections)
	ds = e.deliveries(sv)
	require.Equal(t, anpi.CancelledState, ds["toyama/email"].State, "the withdrawn recipient's unsent delivery is stopped")
	require.Equal(t, anpi.Sent, ds["toyama/sms"].State)
	require.Equal(t, anpi.Queued, ds["toyama/sms/correction"].State)
	require.NotContains(t, ds, "toyama/email/correction", "no correction for what was never sent")
	for _, k := range []string{"broken/email", "kaga/email", "joetsu/line", "noto/fcm"} {
		require.Equal(t, anpi.FailedTemporary, ds[k].State, "%s: the others' unsent deliveries still go out", k)
	}
	require.Equal(t, anpi.SkippedNoContact, ds["nobody/email"].State)
	require.Len(t, ds, 8)
	s, err := e.st.GetSurvey(e.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, anpi.Open, s.Status, "the event still stands for the others")
}

// sliceSource is a jma.Source that emits documents and stops.
type sliceSource struct{ docs [][]byte }

func (s sliceSource) Run(ctx context.Context, emit func(jma.Document) error) error {
	for i, d := range s.docs {
		if err := emit(jma.Document{URL: fmt.Sprintf("test:%d", i), Data: d}); err != nil {
			return err
		}
	}
	return nil
}

func TestRun(t *testing.T) {
	e := newEnv(t, quakeRule)
	src := sliceSource{docs: [][]byte{fixture(t, docVXSE51), []byte("not xml"), fixture(t, docVXSE53)}}
	require.NoError(t, e.svc.Run(e.ctx, src), "a bad document does not stop the feed")
	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(t, err)
	require.Len(t, svs, 1)
	require.Len(t, e.recipients(svs[0].ID), 6)

	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	require.ErrorIs(t, e.svc.Run(ctx, blockingSource{}), context.Canceled)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(e.svc.Run(e.ctx, nil)))
}

// blockingSource runs until its context is done, as a poller does.
type blockingSource struct{}

func (blockingSource) Run(ctx context.Context, emit func(jma.Document) error) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestAutoSendReissueAfterCancel(t *testing.T) {
	e := newEnv(t, quakeRule)
	first := sends(e.feed(docVXSE53).Effects)[0].Survey
	e.send(e.deliveries(first)["noto/fcm"])
	e.feed(docCancel53)

	// The 震度速報 of the same event comes after the 取消: news again, in a
	// new survey, which asks noto again (he was told the first was withdrawn).
	got := sends(e.feed(docVXSE51).Effects)
	require.Len(t, got, 1)
	second := got[0].Survey
	require.Equal(t, first+"-2", second)
	require.True(t, got[0].Created)
	require.Equal(t, []string{"broken", "joetsu", "kaga", "nobody", "noto"}, e.recipients(second))
	count := func() int {
		n := 0
		for _, sv := range []anpi.SurveyID{first, second} {
			n += len(e.deliveries(sv))
		}
		return n
	}
	before := count()

	// A restart re-fed all three: the withdrawn report and its 取消 are
	// replays, the 震度速報 finds the second survey; nobody is asked again.
	e.svc = e.newService(nil)
	for _, doc := range []string{docVXSE53, docCancel53, docVXSE51} {
		for _, f := range e.feed(doc).Effects {
			require.Zero(t, f.Recipients+f.Queued+f.Cancelled+f.Corrections, "%s: %+v", doc, f)
		}
	}
	require.Equal(t, before, count())
	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(t, err)
	require.Len(t, svs, 2)
}
