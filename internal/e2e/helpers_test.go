package e2e_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/email"
	"github.com/anpikit/anpi/channel/memchan"
	"github.com/anpikit/anpi/channel/twilio"
	fakesmtp "github.com/anpikit/anpi/internal/fake/smtp"
	faketwilio "github.com/anpikit/anpi/internal/fake/twilio"
	"github.com/anpikit/anpi/internal/pace"
	"github.com/anpikit/anpi/store/memstore"
	"github.com/anpikit/anpi/store/sqlite"
)

// t0 is a minute after the fixtures' 通常 report (2030-06-01 09:06 JST).
var t0 = time.Date(2030, 6, 1, 0, 7, 0, 0, time.UTC)

// The fixtures, hand-written from the JMA XML spec: one event (EventID
// 20300601090200) with 震度5強 in 東京都２３区 (350), 5弱 in 東京都多摩東部 (351)
// and 神奈川県東部 (360), 4 in 埼玉県南部 (331); its 訓練 twin; its 取消.
const (
	docS1       = "vxse53_kanto_s1.xml"
	docTraining = "vxse53_kanto_training.xml"
	docCancel   = "vxse53_kanto_cancel.xml"
)

// Rule specs as an administrator stores them (rules JSON).
const (
	quakeRule = `{"id":"quake-5lower","name":"震度5弱以上","kind":"earthquake","earthquake":{"threshold":"5-"}}`
	drillRule = `{"id":"quake-drill","name":"訓練参加","kind":"earthquake","earthquake":{"threshold":"5-"},"options":{"drill":true}}`
)

// Fixed parts of the wiring.
const (
	baseURL    = "https://a.example" // short: an SMS carries the link
	publicURL  = "https://anpi.example.jp"
	accountSID = "AC0000000000000000000000000000e2e0"
	authToken  = "e2eauthtoken0123456789"
	smsFrom    = "+815012345678"
	mailFrom   = "安否確認 <anpi@corp.example>"
)

// linkRE finds an answer link in a received text; the token is 43
// base64url characters (256 bits).
var linkRE = regexp.MustCompile(regexp.QuoteMeta(baseURL) + `/a/([A-Za-z0-9_-]{43}|[A-Za-z0-9_-]{22})`)

// storeKinds are the stores every scenario runs on.
var storeKinds = []string{"memstore", "sqlite"}

// person is one user of the test directory and how he can be reached.
type person struct {
	id, name, region string
	locale           anpi.Locale
	suspended        bool
	workEmail        string
	email            string // private email
	phone            string // private mobile (SMS, voice)
	line             string // LINE user ID
	fcm              string // FCM registration token
}

// directory is the company of the tests. With the fixture's event and a
// 5弱 rule:
//
//	yamada  350 private email          → email, answers through the link
//	sato    350 LINE                   → line, answers by postback
//	suzuki  351 phone                  → sms, answers by a reply digit
//	tanaka  360 FCM                    → fcm, answers through the link
//	kato    360 email (bounces), phone → email, falls back to sms
//	smith   351 work email, English    → email (work), never answers
//	nobody  350 no contact at all      → asked, skipped_no_contact
//	ono     331 FCM                    → 震度4 only: never asked
//	mori    350 FCM, suspended         → never asked
var directory = []person{
	{id: "yamada", name: "山田 太郎", region: "quake:350", locale: anpi.Japanese, email: "yamada@home.example"},
	{id: "sato", name: "佐藤 花子", region: "quake:350", locale: anpi.Japanese, line: "U" + strings.Repeat("5a", 16)},
	{id: "suzuki", name: "鈴木 一郎", region: "quake:351", locale: anpi.Japanese, phone: "+819011110001"},
	{id: "tanaka", name: "田中 次郎", region: "quake:360", locale: anpi.Japanese, fcm: "fcm-token-tanaka"},
	{id: "kato", name: "加藤 三郎", region: "quake:360", locale: anpi.Japanese, email: "kato@home.example", phone: "+819011110002"},
	{id: "smith", name: "John Smith", region: "quake:351", locale: anpi.English, workEmail: "smith@corp.example"},
	{id: "nobody", name: "連絡 なし", region: "quake:350", locale: anpi.Japanese},
	{id: "ono", name: "小野 四郎", region: "quake:331", locale: anpi.Japanese, fcm: "fcm-token-ono"},
	{id: "mori", name: "森 五郎", region: "quake:350", locale: anpi.Japanese, suspended: true, fcm: "fcm-token-mori"},
}

// asked are the users the fixture's 通常 report asks under quakeRule.
var asked = []string{"kato", "nobody", "sato", "smith", "suzuki", "tanaka", "yamada"}

func personByID(id string) person {
	for _, p := range directory {
		if p.id == id {
			return p
		}
	}
	panic("no person " + id)
}

// worldOptions vary the wiring of a world.
type worldOptions struct {
	// channels is the Service's and the dispatcher's fallback order;
	// default anpi.DefaultChannels().
	channels []anpi.Channel
	// limit paces every channel; default generous (nothing waits).
	limit dispatch.Limit
	// rules are the rule specs stored; default quakeRule.
	rules []string
}

// world is the whole engine wired together: a store, the Service, a
// dispatcher with real email and Twilio adapters against the local fakes
// and in-memory FCM and LINE senders, all on one fake clock.
type world struct {
	t       *testing.T
	ctx     context.Context
	clock   *pace.FakeClock
	st      anpi.Store
	svc     *anpi.Service
	disp    *dispatch.Dispatcher
	smtp    *fakesmtp.Server
	twilio  *faketwilio.Server
	fcm     *memchan.Sender
	line    *memchan.Sender
	callbax *twilio.Handler // Twilio's callbacks: replies, key presses
	// rcv gets what the callbacks carry and resolves it to a survey and a
	// user with the test's own glue (see receiver).
	rcv *receiver
}

// openStore opens a store of the given kind on the world's clock; sqlite
// seals private contacts with an AES key, as production must.
func openStore(t testing.TB, kind string, now func() time.Time) anpi.Store {
	t.Helper()
	switch kind {
	case "memstore":
		st := memstore.New(&memstore.Options{Now: now})
		t.Cleanup(func() { st.Close() })
		return st
	case "sqlite":
		key := make([]byte, 32)
		for i := range key {
			key[i] = byte(i + 1)
		}
		sealer, err := anpi.NewAESSealer("k1", map[string][]byte{"k1": key}, nil)
		require.NoError(t, err)
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "anpi.db"), &sqlite.Options{Now: now, Sealer: sealer})
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
	t.Fatalf("unknown store %q", kind)
	return nil
}

func newWorld(t *testing.T, storeKind string, o *worldOptions) *world {
	t.Helper()
	var opts worldOptions
	if o != nil {
		opts = *o
	}
	if len(opts.channels) == 0 {
		opts.channels = anpi.DefaultChannels()
	}
	if opts.limit == (dispatch.Limit{}) {
		opts.limit = dispatch.Limit{Rate: 1000, Burst: 100, Batch: 100, Concurrency: 1}
	}
	if len(opts.rules) == 0 {
		opts.rules = []string{quakeRule}
	}
	ctx := context.Background()
	w := &world{t: t, ctx: ctx, clock: pace.NewFakeClock(t0)}
	w.st = openStore(t, storeKind, w.clock.Now)

	// The directory and the rules.
	for _, p := range directory {
		r, err := anpi.ParseRegion(p.region)
		require.NoError(t, err)
		u := &anpi.User{ID: anpi.UserID(p.id), EmployeeCode: "E-" + p.id, Name: p.name, WorkEmail: p.workEmail,
			Regions: []anpi.Region{r}, Status: anpi.Active, Locale: p.locale}
		if p.suspended {
			u.Status = anpi.Suspended
		}
		require.NoError(t, w.st.CreateUser(ctx, u))
		for _, c := range []struct {
			kind anpi.ContactKind
			addr string
		}{{anpi.EmailContact, p.email}, {anpi.PhoneContact, p.phone}, {anpi.LINEContact, p.line}, {anpi.FCMContact, p.fcm}} {
			if c.addr == "" {
				continue
			}
			require.NoError(t, w.st.PutContact(ctx, &anpi.Contact{ID: anpi.ContactID(p.id + "-" + string(c.kind)), UserID: u.ID,
				Kind: c.kind, Scope: anpi.PrivateScope, Address: c.addr, Check: anpi.ContactCheck{Verified: true}}))
		}
	}
	for _, spec := range opts.rules {
		id := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(spec)[1]
		require.NoError(t, w.st.PutRule(ctx, &anpi.RuleRecord{ID: id, Name: id, Enabled: true, Spec: []byte(spec)}))
	}

	// The Service.
	svc, err := anpi.New(w.st, &anpi.Options{Clock: w.clock.Now, Rand: rand.NewChaCha8([32]byte{7}), BaseURL: baseURL,
		Channels: opts.channels})
	require.NoError(t, err)
	w.svc = svc

	// The providers: local fakes and in-memory senders.
	w.smtp, err = fakesmtp.Start(nil)
	require.NoError(t, err)
	t.Cleanup(func() { w.smtp.Close() })
	w.twilio = faketwilio.Start(&faketwilio.Options{AccountSID: accountSID, AuthToken: authToken, Unlimited: true, Now: w.clock.Now})
	t.Cleanup(w.twilio.Close)
	w.fcm = memchan.New(&memchan.Options{Kind: channel.FCM, Now: w.clock.Now})
	w.line = memchan.New(&memchan.Options{Kind: channel.LINE, Now: w.clock.Now, Deduplicate: true})

	mail, err := email.New(email.Config{Host: w.smtp.Host(), Port: w.smtp.Port(), TLSPolicy: email.NoTLS, From: mailFrom,
		Timeout: 10 * time.Second, Now: w.clock.Now})
	require.NoError(t, err)
	tcfg := twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: smsFrom, BaseURL: w.twilio.URL(),
		StatusCallback: publicURL + "/twilio/callback", GatherAction: publicURL + "/twilio/gather", Timeout: 10 * time.Second,
		Now: w.clock.Now}
	sms, err := twilio.NewSMS(tcfg)
	require.NoError(t, err)
	voice, err := twilio.NewVoice(tcfg)
	require.NoError(t, err)

	senders := map[anpi.Channel]channel.Sender{
		anpi.FCMChannel:   w.fcm,
		anpi.LINEChannel:  w.line,
		anpi.EmailChannel: mail,
		anpi.SMSChannel:   sms,
		anpi.VoiceChannel: voice,
	}
	limits := map[anpi.Channel]dispatch.Limit{}
	for c := range senders {
		limits[c] = opts.limit
	}
	w.disp, err = dispatch.New(w.st, &dispatch.Options{Senders: senders, Renderer: w.svc, Fallback: opts.channels,
		Limits: limits, Owner: "e2e", Clock: w.clock, Rand: rand.New(rand.NewPCG(1, 2))})
	require.NoError(t, err)

	w.rcv = &receiver{w: w}
	w.callbax, err = twilio.NewHandler(twilio.HandlerConfig{AuthToken: authToken, PublicURL: publicURL, Receiver: w.rcv})
	require.NoError(t, err)
	return w
}

// fixture reads one of the package's hand-written JMA documents.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// feed hands a fixture to the Service, as the feed poller would.
func (w *world) feed(name string) *anpi.Outcome {
	w.t.Helper()
	out, err := w.svc.HandleDocument(w.ctx, fixture(w.t, name))
	require.NoError(w.t, err)
	return out
}

// step makes one dispatcher round and fails the test on a store error.
func (w *world) step() dispatch.Stats {
	w.t.Helper()
	st, err := w.disp.Step(w.ctx)
	require.NoError(w.t, err)
	return st
}

// drain steps the dispatcher, each round a second of fake time after the
// last (the token buckets refill), until a round claims nothing; it
// returns the sum.
func (w *world) drain() dispatch.Stats {
	w.t.Helper()
	var total dispatch.Stats
	for range 20 {
		w.clock.Advance(time.Second)
		st := w.step()
		total.Add(st)
		if st.Claimed == 0 {
			return total
		}
	}
	w.t.Fatalf("dispatcher still busy after 20 rounds: %+v", total)
	return total
}

// onlySurvey returns the one survey of effects.
func onlySurvey(t testing.TB, out *anpi.Outcome) anpi.SurveyID {
	t.Helper()
	var ids []anpi.SurveyID
	for _, f := range out.Effects {
		if f.Survey != "" && !slices.Contains(ids, f.Survey) {
			ids = append(ids, f.Survey)
		}
	}
	require.Len(t, ids, 1, "effects: %+v", out.Effects)
	return ids[0]
}

// deliveries returns a survey's deliveries keyed "user/channel", with
// "/correction" for the corrections of a 取消.
func (w *world) deliveries(s anpi.SurveyID) map[string]*anpi.Delivery {
	w.t.Helper()
	ds, err := w.st.Deliveries(w.ctx, s)
	require.NoError(w.t, err)
	out := map[string]*anpi.Delivery{}
	for _, d := range ds {
		k := string(d.UserID) + "/" + string(d.Channel)
		if d.Round == anpi.CorrectionRound {
			k += "/correction"
		}
		require.NotContains(w.t, out, k, "two deliveries %s", k)
		out[k] = d
	}
	return out
}

// states lists "user/channel:state" of a survey's deliveries, sorted.
func (w *world) states(s anpi.SurveyID) []string {
	w.t.Helper()
	var out []string
	for k, d := range w.deliveries(s) {
		out = append(out, k+":"+string(d.State))
	}
	sort.Strings(out)
	return out
}

func (w *world) recipients(s anpi.SurveyID) []string {
	w.t.Helper()
	rs, err := w.st.Recipients(w.ctx, s)
	require.NoError(w.t, err)
	var ids []string
	for _, r := range rs {
		ids = append(ids, string(r.UserID))
	}
	sort.Strings(ids)
	return ids
}

func (w *world) tally(s anpi.SurveyID) *anpi.Tally {
	w.t.Helper()
	tl, err := w.st.Tally(w.ctx, s)
	require.NoError(w.t, err)
	return tl
}

// checkTally requires the stored counters to equal a recount from the
// recipients and the current responses.
func (w *world) checkTally(s anpi.SurveyID) {
	w.t.Helper()
	sv, err := w.st.GetSurvey(w.ctx, s)
	require.NoError(w.t, err)
	rs, err := w.st.Recipients(w.ctx, s)
	require.NoError(w.t, err)
	resp, err := w.st.Responses(w.ctx, s)
	require.NoError(w.t, err)
	want := anpi.ComputeTally(s, sv.StartedAt, rs, resp)
	got := w.tally(s)
	require.Equal(w.t, want.Targets, got.Targets)
	require.Equal(w.t, want.Answered, got.Answered)
	require.Equal(w.t, want.Choices, got.Choices)
	require.Equal(w.t, want.Regions, got.Regions)
}

// received is one message a provider (or an in-memory sender) took.
type received struct {
	channel anpi.Channel
	to      string
	subject string
	text    string
	url     string // the link field of push and LINE messages
	data    map[string]string
}

// inbox returns everything the providers received, in no particular order
// across channels.
func (w *world) inbox() []received {
	w.t.Helper()
	var out []received
	for _, m := range w.smtp.Messages() {
		require.NoError(w.t, m.DecodeErr)
		require.Len(w.t, m.To, 1)
		out = append(out, received{channel: anpi.EmailChannel, to: m.To[0], subject: m.Subject, text: m.Text})
	}
	for _, r := range w.twilio.Requests() {
		switch r.Kind {
		case "sms":
			out = append(out, received{channel: anpi.SMSChannel, to: r.To, text: r.Body})
		case "call":
			out = append(out, received{channel: anpi.VoiceChannel, to: r.To, text: r.Twiml})
		}
	}
	for c, s := range map[anpi.Channel]*memchan.Sender{anpi.FCMChannel: w.fcm, anpi.LINEChannel: w.line} {
		for _, m := range s.Sent() {
			out = append(out, received{channel: c, to: m.Message.To, subject: m.Message.Subject, text: m.Message.Text,
				url: m.Message.URL, data: m.Message.Data})
		}
	}
	return out
}

// to returns what address addr received, in order per channel.
func (w *world) to(addr string) []received {
	w.t.Helper()
	var out []received
	for _, m := range w.inbox() {
		if strings.EqualFold(m.to, addr) {
			out = append(out, m)
		}
	}
	return out
}

// token returns the answer token in a received message's text (or its URL
// field), failing when there is none.
func token(t testing.TB, m received) string {
	t.Helper()
	for _, s := range []string{m.text, m.url} {
		if g := linkRE.FindStringSubmatch(s); g != nil {
			return g[1]
		}
	}
	t.Fatalf("no answer link in %s message to %s: %q", m.channel, m.to, m.text)
	return ""
}

// self is an answer to the 本人 question, with an optional 出社 answer.
func self(choice string, work ...string) []anpi.Answer {
	as := []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{choice}}}
	if len(work) > 0 {
		as = append(as, anpi.Answer{QuestionID: anpi.QuestionWork, Choices: work})
	}
	return as
}

// receiver is the glue an application writes between Twilio's callbacks
// and the Service: an SMS reply answers through Service.AnswerBySMS (the
// number it came from), a key press through Service.AnswerByCall (the call).
type receiver struct {
	w *world
}

// Receive implements twilio.Receiver.
func (r *receiver) Receive(ctx context.Context, ev twilio.Event) error {
	if !ev.Answered {
		return nil
	}
	var err error
	switch ev.Type {
	case twilio.InboundSMS:
		_, err = r.w.svc.AnswerBySMS(ctx, ev.From, ev.Choice)
	case twilio.Gather:
		_, err = r.w.svc.AnswerByCall(ctx, ev.CallSID, ev.Choice)
	}
	return err
}

// callback posts a signed Twilio callback to the application's handler and
// returns the response.
func (w *world) callback(path string, params url.Values) *httptest.ResponseRecorder {
	w.t.Helper()
	rec := httptest.NewRecorder()
	w.callbax.ServeHTTP(rec, faketwilio.Callback(authToken, publicURL+path, params))
	return rec
}

// smsReply simulates the recipient at from replying body to an SMS.
func (w *world) smsReply(from, body string) *httptest.ResponseRecorder {
	w.t.Helper()
	return w.callback("/twilio/sms", url.Values{"MessageSid": {"SMreply" + from[1:]}, "AccountSid": {accountSID},
		"From": {from}, "To": {smsFrom}, "Body": {body}, "SmsStatus": {"received"}})
}

// keyPress simulates the callee of call pressing digits.
func (w *world) keyPress(call, digits string) *httptest.ResponseRecorder {
	w.t.Helper()
	return w.callback("/twilio/gather", url.Values{"CallSid": {call}, "AccountSid": {accountSID}, "CallStatus": {"in-progress"},
		"Digits": {digits}})
}

func requireOK(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

// dispatchLimit lets n messages per channel go per round of fake time.
func dispatchLimit(n int) dispatch.Limit {
	return dispatch.Limit{Rate: 1000, Burst: n, Batch: n, Concurrency: 1}
}

// addressOf returns where a delivery goes: its contact's address, or the
// user's work email.
func addressOf(t testing.TB, w *world, d *anpi.Delivery) string {
	t.Helper()
	if d.ContactID == "" {
		u, err := w.st.GetUser(w.ctx, d.UserID)
		require.NoError(t, err)
		return u.WorkEmail
	}
	c, err := w.st.GetContact(w.ctx, d.ContactID)
	require.NoError(t, err)
	return c.Address
}
