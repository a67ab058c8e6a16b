package anpi_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/memchan"
	"github.com/anpikit/anpi/internal/pace"
)

// checkTokenOf returns the token of a contact check's link.
func checkTokenOf(t testing.TB, url string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(url, baseURL+anpi.ContactCheckPath)
	require.True(t, ok, "contact check link %q", url)
	return tok
}

// checkLink renders the contact check delivery key ("user/channel") and
// returns its token.
func (e *env) checkLink(sv anpi.SurveyID, key string) string {
	e.t.Helper()
	m, _, err := e.svc.Render(e.ctx, e.deliveries(sv)[key])
	require.NoError(e.t, err)
	return checkTokenOf(e.t, m.URL)
}

func (e *env) contact(id anpi.ContactID) *anpi.Contact {
	e.t.Helper()
	c, err := e.st.GetContact(e.ctx, id)
	require.NoError(e.t, err)
	return c
}

// startCheck starts a contact check as admin (a company-wide crisis
// manager) and returns it.
func (e *env) startCheck() *anpi.Started {
	e.t.Helper()
	require.NoError(e.t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.CrisisManager}))
	st, err := e.svc.StartContactCheck(e.ctx, "admin")
	require.NoError(e.t, err)
	return st
}

// contactChecks lists the contact-check surveys, newest first.
func (e *env) contactChecks() []*anpi.Survey {
	e.t.Helper()
	svs, err := e.st.ListSurveys(e.ctx, &anpi.SurveyQuery{Kind: anpi.ContactCheckSurvey})
	require.NoError(e.t, err)
	var out []*anpi.Survey
	for _, sv := range svs {
		if strings.HasPrefix(string(sv.ID), "contact-check-") {
			out = append(out, sv)
		}
	}
	return out
}

func TestStartContactCheck(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.CrisisManager, Department: "kanazawa"}))
	_, err := e.svc.StartContactCheck(e.ctx, "tokyo")
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "no role")
	_, err = e.svc.StartContactCheck(e.ctx, "noto")
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "a check goes to the whole company")
	_, err = e.svc.StartContactCheck(e.ctx, "")
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	require.Empty(t, e.contactChecks(), "a refused check writes nothing")

	st := e.startCheck()
	sv := st.Survey
	require.Equal(t, anpi.ContactCheckSurvey, sv.Kind)
	require.Equal(t, anpi.ContactCheckFormID, sv.Form.ID)
	require.True(t, time.Date(2024, 2, 1, 16, 25, 0, 0, time.FixedZone("JST", 9*3600)).Equal(sv.Deadline), "links work a month: %s", sv.Deadline)
	require.Equal(t, 8, st.Recipients, "every active user")
	require.Equal(t, []string{"admin", "broken", "joetsu", "kaga", "nobody", "noto", "tokyo", "toyama"}, e.recipients(sv.ID))
	require.Equal(t, 7, st.Queued, "one per contact that can be checked, and kaga's work email")
	require.Equal(t, 2, st.NoContact, "admin and nobody have nothing to check")

	ds := e.deliveries(sv.ID)
	got := map[string]anpi.ContactID{}
	for k, d := range ds {
		require.Zero(t, d.Round)
		if d.State == anpi.SkippedNoContact {
			got[k] = "(none)"
			continue
		}
		require.Equal(t, anpi.Queued, d.State)
		got[k] = d.ContactID
	}
	require.Equal(t, map[string]anpi.ContactID{
		"admin/email": "(none)", "nobody/email": "(none)",
		"noto/fcm":    "c-noto-fcm",
		"kaga/email":  "", // the work email
		"joetsu/line": "c-joetsu-line", "joetsu/sms": "c-joetsu-phone",
		"toyama/sms":   "c-toyama-phone",
		"tokyo/fcm":    "c-tokyo-fcm",
		"broken/email": "c-broken-mail", // its broken FCM token is not checked
	}, got)

	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(sv.ID)})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Equal(t, "contact_check.start", audit[0].Action)
	require.Equal(t, anpi.UserID("admin"), audit[0].Actor)
	require.Equal(t, "8 users, 7 contacts to check, 2 users with none", audit[0].Detail)

	// Kept apart from safety checks: no reminders, no summary.
	e.clock.Advance(time.Hour)
	fu, err := e.svc.FollowUp(e.ctx)
	require.NoError(t, err)
	require.Empty(t, fu)

	// A second check is a new survey.
	st2, err := e.svc.StartContactCheck(e.ctx, "admin")
	require.NoError(t, err)
	require.NotEqual(t, sv.ID, st2.Survey.ID)
}

func TestRenderContactCheck(t *testing.T) {
	e := newEnv(t)
	sv := e.startCheck().Survey
	ds := e.deliveries(sv.ID)
	addresses := []string{"fcm-token-noto", "kaga@corp.example", "U0123456789abcdef0123456789abcdef", "+819011112222", "+819033334444", "broken@home.example"}

	for key, want := range map[string]struct {
		to, label string
		contact   anpi.ContactID
	}{
		"noto/fcm":     {"fcm-token-noto", "スマートフォンアプリ", "c-noto-fcm"},
		"kaga/email":   {"kaga@corp.example", "work email address", ""},
		"joetsu/line":  {"U0123456789abcdef0123456789abcdef", "LINE", "c-joetsu-line"},
		"joetsu/sms":   {"+819011112222", "連絡先の確認 https://", "c-joetsu-phone"},
		"toyama/sms":   {"+819033334444", "連絡先の確認 https://", "c-toyama-phone"},
		"broken/email": {"broken@home.example", "メールアドレス", "c-broken-mail"},
	} {
		t.Run(key, func(t *testing.T) {
			d := ds[key]
			m, cid, err := e.svc.Render(e.ctx, d)
			require.NoError(t, err)
			require.Equal(t, want.contact, cid)
			require.Equal(t, want.to, m.To)
			require.Contains(t, m.Text, want.label)
			require.Contains(t, m.Text, m.URL)
			require.Equal(t, channel.PriorityNormal, m.Priority, "a contact check is no emergency")
			require.Equal(t, "contact_check", m.Data["kind"])
			require.Equal(t, d.IdempotencyKey(), m.IdempotencyKey)
			for _, a := range addresses { // the text names the kind of contact, never an address
				require.NotContains(t, m.Subject+m.Text+m.URL, a)
			}
			tok := checkTokenOf(t, m.URL)
			h, err := anpi.HashAnswerToken(tok)
			require.NoError(t, err, "a contact check token has the form of an answer token")
			stored, err := e.st.AnswerToken(e.ctx, h)
			require.NoError(t, err)
			require.Equal(t, sv.ID, stored.SurveyID)
			require.Equal(t, sv.Deadline, stored.ExpiresAt)
			if strings.HasSuffix(key, "/sms") {
				require.LessOrEqual(t, utf8.RuneCountInString(m.Text), anpi.MaxSMSLen)
			}
			if key == "kaga/email" {
				require.True(t, strings.HasPrefix(m.Subject, "[Contact check]"), "kaga reads English")
			}
		})
	}

	// Every render issues a fresh token.
	a, b := e.checkLink(sv.ID, "noto/fcm"), e.checkLink(sv.ID, "noto/fcm")
	require.NotEqual(t, a, b)
	require.Equal(t, a[35:], b[35:], "the same contact: the same reference at the end")
	require.NotEqual(t, a[35:], e.checkLink(sv.ID, "joetsu/line")[35:])
}

func TestRenderContactCheckDoesNotFallBack(t *testing.T) {
	e := newEnv(t)
	sv := e.startCheck().Survey
	at := e.clock.Now()
	copyOn := func(user string, ch anpi.Channel) *anpi.Delivery { // what the dispatcher enqueues when a delivery fails
		d := &anpi.Delivery{SurveyID: sv.ID, UserID: anpi.UserID(user), Channel: ch, State: anpi.Queued, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}
		d.ID = anpi.DeliveryIDFor(d.Key())
		return d
	}
	for name, d := range map[string]*anpi.Delivery{
		"fallback to LINE":                   copyOn("noto", anpi.LINEChannel),
		"fallback to email, no work email":   copyOn("noto", anpi.EmailChannel),
		"fallback to SMS":                    copyOn("joetsu", anpi.SMSChannel),
		"voice":                              copyOn("toyama", anpi.VoiceChannel),
		"a contact on the wrong channel":     {ID: "x1", SurveyID: sv.ID, UserID: "joetsu", Channel: anpi.SMSChannel, ContactID: "c-joetsu-line"},
		"someone else's contact":             {ID: "x2", SurveyID: sv.ID, UserID: "tokyo", Channel: anpi.FCMChannel, ContactID: "c-noto-fcm"},
		"a broken contact":                   {ID: "x3", SurveyID: sv.ID, UserID: "broken", Channel: anpi.FCMChannel, ContactID: "c-broken-fcm"},
		"a reminder round":                   {ID: "x4", SurveyID: sv.ID, UserID: "noto", Channel: anpi.FCMChannel, ContactID: "c-noto-fcm", Round: 1},
		"a contact deleted since it was due": e.deliveries(sv.ID)["tokyo/fcm"],
	} {
		if name == "a contact deleted since it was due" {
			require.NoError(t, e.st.DeleteContact(e.ctx, "c-tokyo-fcm"))
		}
		_, _, err := e.svc.Render(e.ctx, d)
		require.Equal(t, anpi.NotFound, anpi.Code(err), "%s: %v", name, err)
	}

	// Past its deadline a check is not sent.
	moveClockTo(e.clock, sv.Deadline)
	_, _, err := e.svc.Render(e.ctx, e.deliveries(sv.ID)["noto/fcm"])
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))
}

// moveClockTo sets the clock to t (forwards or back).
func moveClockTo(c *fakeClock, t time.Time) { c.Advance(t.Sub(c.Now())) }

func TestConfirmContact(t *testing.T) {
	e := newEnv(t)
	sv := e.startCheck().Survey
	line := e.checkLink(sv.ID, "joetsu/line")
	phone := e.checkLink(sv.ID, "joetsu/sms")
	work := e.checkLink(sv.ID, "kaga/email")
	e.clock.Advance(time.Hour)
	now := e.clock.Now()

	// The page's GET shows the check's form and records nothing.
	info, err := e.svc.LookupToken(e.ctx, line)
	require.NoError(t, err)
	require.Equal(t, anpi.ContactCheckFormID, info.Survey.Form.ID)
	require.True(t, info.Open)
	require.Equal(t, anpi.ContactCheck{}, e.contact("c-joetsu-line").Check)

	// The POST confirms the contact the link was sent to, and only it.
	got, err := e.svc.ConfirmContact(e.ctx, line)
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("joetsu"), got.UserID)
	require.Equal(t, sv.ID, got.SurveyID)
	require.Equal(t, anpi.ContactID("c-joetsu-line"), got.Contact.ID)
	require.True(t, got.Contact.Verified)
	require.True(t, got.Response.Chose(anpi.ContactCheckQuestion, anpi.ContactCheckReceived))
	require.Equal(t, anpi.ContactCheck{Verified: true, VerifiedAt: now, LastChecked: now}, e.contact("c-joetsu-line").Check)
	require.Equal(t, anpi.ContactCheck{}, e.contact("c-joetsu-phone").Check, "the phone was not confirmed")
	tally, err := e.st.Tally(e.ctx, sv.ID)
	require.NoError(t, err)
	require.Equal(t, 1, tally.Answered)

	// Confirming again is harmless; the phone's own link confirms the phone.
	_, err = e.svc.ConfirmContact(e.ctx, line)
	require.NoError(t, err)
	got, err = e.svc.ConfirmContact(e.ctx, phone)
	require.NoError(t, err)
	require.Equal(t, anpi.ContactID("c-joetsu-phone"), got.Contact.ID)
	require.True(t, e.contact("c-joetsu-phone").Check.Verified)
	tally, err = e.st.Tally(e.ctx, sv.ID)
	require.NoError(t, err)
	require.Equal(t, 1, tally.Answered, "one user")

	// The work email has no check state: the response records it.
	got, err = e.svc.ConfirmContact(e.ctx, work)
	require.NoError(t, err)
	require.Nil(t, got.Contact)
	require.Equal(t, anpi.UserID("kaga"), got.UserID)

	// A link cannot be altered to confirm another contact: its hash no
	// longer matches.
	forged := line[:35] + phone[35:]
	_, err = e.svc.ConfirmContact(e.ctx, forged)
	require.Equal(t, anpi.NotFound, anpi.Code(err))

	// Safety answer links, and anything else, are no confirmation links.
	_, err = e.svc.ConfirmContact(e.ctx, "nonsense")
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	e2 := newEnv(t, quakeRule)
	safety := e2.feed(docVXSE51).Effects[0].Survey
	tok := e2.linkFor(safety, "noto/fcm")
	_, err = e2.svc.ConfirmContact(e2.ctx, tok)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	require.Equal(t, "anpi: answer link is unknown or no longer valid", err.Error())

	// Past the deadline the link no longer works.
	moveClockTo(e.clock, sv.Deadline)
	_, err = e.svc.ConfirmContact(e.ctx, phone)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
}

func TestAnswerContactCheckWrong(t *testing.T) {
	e := newEnv(t)
	sv := e.startCheck().Survey
	tok := e.checkLink(sv.ID, "toyama/sms")
	now := e.clock.Now()

	// Whoever got the message says it is not for them: the number is
	// marked broken, so no safety check goes to it.
	wrong := []anpi.Answer{{QuestionID: anpi.ContactCheckQuestion, Choices: []string{anpi.ContactCheckWrong}}}
	_, err := e.svc.AnswerByToken(e.ctx, tok, wrong, anpi.ViaWeb)
	require.NoError(t, err)
	c := e.contact("c-toyama-phone").Check
	require.True(t, c.Broken)
	require.False(t, c.Verified)
	require.Equal(t, now, c.LastErrorAt)
	require.Contains(t, c.LastError, "not for them")
	got, err := e.st.AdminUserView(e.ctx, "toyama")
	require.NoError(t, err)
	require.True(t, got.Contacts[0].Failing())

	// A safety check no longer reaches toyama by SMS.
	safety, err := e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "安否確認", Targeting: anpi.Targeting{Users: []anpi.UserID{"toyama"}}})
	require.NoError(t, err)
	require.Equal(t, 1, safety.NoContact)

	// A mistake: answering again undoes it. AnswerByToken is the way of a
	// generic answer page; it verifies as ConfirmContact does.
	received := []anpi.Answer{{QuestionID: anpi.ContactCheckQuestion, Choices: []string{anpi.ContactCheckReceived}}}
	_, err = e.svc.AnswerByToken(e.ctx, tok, received, anpi.ViaWeb)
	require.NoError(t, err)
	require.Equal(t, anpi.ContactCheck{Verified: true, VerifiedAt: now, LastChecked: now}, e.contact("c-toyama-phone").Check)

	// Safety answers do not fit the check's form.
	_, err = e.svc.AnswerByToken(e.ctx, tok, safe(), anpi.ViaWeb)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	require.True(t, e.contact("c-toyama-phone").Check.Verified, "a refused answer changes nothing")

	// A contact deleted since its check was sent: the answer is recorded,
	// there is nothing to verify.
	tok = e.checkLink(sv.ID, "tokyo/fcm")
	require.NoError(t, e.st.DeleteContact(e.ctx, "c-tokyo-fcm"))
	got2, err := e.svc.ConfirmContact(e.ctx, tok)
	require.NoError(t, err)
	require.Nil(t, got2.Contact)
}

func TestPeriodicContactCheck(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	e := newEnv(t)
	// t0 is 2024-01-01 16:25 JST: January's check (due at 10:00) is late by
	// less than a quarter of its period, so the first tick starts it.
	e.svc = e.newService(&anpi.Options{ContactCheck: &anpi.ContactCheckOptions{}})
	_, err := e.svc.Tick(e.ctx)
	require.NoError(t, err)
	checks := e.contactChecks()
	require.Len(t, checks, 1)
	jan := checks[0]
	require.Equal(t, anpi.SurveyID("contact-check-20240101-1000"), jan.ID)
	require.True(t, time.Date(2024, 2, 1, 10, 0, 0, 0, jst).Equal(jan.Deadline), "links work until the next check")
	require.Empty(t, jan.CreatedBy, "started by the system")
	require.Len(t, e.deliveries(jan.ID), 9)
	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(jan.ID)})
	require.NoError(t, err)
	require.Len(t, audit, 1)
	require.Empty(t, audit[0].Actor)

	// Ticks, a restart and a second replica start nothing more this month.
	_, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	replica := e.newService(&anpi.Options{ContactCheck: &anpi.ContactCheckOptions{}})
	moveClockTo(e.clock, time.Date(2024, 2, 1, 9, 59, 0, 0, jst))
	_, err = replica.Tick(e.ctx)
	require.NoError(t, err)
	require.Len(t, e.contactChecks(), 1)

	// February's at 10:00 JST on the 1st, once.
	moveClockTo(e.clock, time.Date(2024, 2, 1, 10, 0, 0, 0, jst))
	_, err = replica.Tick(e.ctx)
	require.NoError(t, err)
	_, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	checks = e.contactChecks()
	require.Len(t, checks, 2)
	require.Equal(t, anpi.SurveyID("contact-check-20240201-1000"), checks[0].ID)
	require.True(t, time.Date(2024, 3, 1, 10, 0, 0, 0, jst).Equal(checks[0].Deadline))

	// A December check rolls over the year.
	moveClockTo(e.clock, time.Date(2024, 12, 1, 11, 0, 0, 0, jst))
	_, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	dec := e.contactChecks()[0]
	require.Equal(t, anpi.SurveyID("contact-check-20241201-1000"), dec.ID)
	require.True(t, time.Date(2025, 1, 1, 10, 0, 0, 0, jst).Equal(dec.Deadline))
}

func TestPeriodicContactCheckNotLate(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	e := newEnv(t)
	// A Service first started on the 20th sends no check before the 1st:
	// people are not all messaged at once on the day it is installed.
	moveClockTo(e.clock, time.Date(2024, 1, 20, 12, 0, 0, 0, jst))
	e.svc = e.newService(&anpi.Options{ContactCheck: &anpi.ContactCheckOptions{}})
	_, err := e.svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Empty(t, e.contactChecks())
	moveClockTo(e.clock, time.Date(2024, 2, 1, 10, 0, 0, 0, jst))
	_, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Len(t, e.contactChecks(), 1)

	// Without the option, Tick starts none.
	e2 := newEnv(t)
	_, err = e2.svc.Tick(e2.ctx)
	require.NoError(t, err)
	require.Empty(t, e2.contactChecks())
}

func TestPeriodicContactCheckEvery(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	e := newEnv(t)
	moveClockTo(e.clock, time.Date(2024, 3, 5, 8, 0, 0, 0, jst))
	e.svc = e.newService(&anpi.Options{ContactCheck: &anpi.ContactCheckOptions{Every: 24 * time.Hour, At: 9 * time.Hour, Window: 2 * time.Hour}})
	_, err := e.svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Empty(t, e.contactChecks(), "yesterday's 09:00 is too late")
	moveClockTo(e.clock, time.Date(2024, 3, 5, 9, 0, 0, 0, jst))
	_, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	checks := e.contactChecks()
	require.Len(t, checks, 1)
	require.Equal(t, anpi.SurveyID("contact-check-20240305-0900"), checks[0].ID)
	require.True(t, time.Date(2024, 3, 5, 11, 0, 0, 0, jst).Equal(checks[0].Deadline), "the window")
}

func TestContactCheckOptionsValidated(t *testing.T) {
	e := newEnv(t)
	for name, o := range map[string]*anpi.Options{
		"every too short":     {ContactCheck: &anpi.ContactCheckOptions{Every: time.Minute}},
		"negative every":      {ContactCheck: &anpi.ContactCheckOptions{Every: -time.Hour}},
		"at beyond the day":   {ContactCheck: &anpi.ContactCheckOptions{Every: 24 * time.Hour, At: 24 * time.Hour}},
		"at beyond the month": {ContactCheck: &anpi.ContactCheckOptions{At: 28 * 24 * time.Hour}},
		"negative at":         {ContactCheck: &anpi.ContactCheckOptions{At: -time.Hour}},
		"negative window":     {ContactCheck: &anpi.ContactCheckOptions{Window: -time.Hour}},
		"negative invite ttl": {InvitationTTL: -time.Hour},
	} {
		o.Clock = e.clock.Now
		_, err := anpi.New(e.st, o)
		require.Equal(t, anpi.InvalidArgument, anpi.Code(err), name)
	}
}

// TestContactCheckThroughDispatcher sends a check with the dispatcher:
// each contact gets one message; a failure lands on its contact; the
// copies the dispatcher enqueues on other channels send nothing.
func TestContactCheckThroughDispatcher(t *testing.T) {
	e := newEnv(t)
	sv := e.startCheck().Survey
	clock := pace.NewFakeClock(e.clock.Now())
	senders := map[anpi.Channel]channel.Sender{}
	mem := map[anpi.Channel]*memchan.Sender{}
	limits := map[anpi.Channel]dispatch.Limit{}
	for _, c := range anpi.DefaultChannels() {
		mem[c] = memchan.New(&memchan.Options{Kind: channel.Kind(c), Now: clock.Now})
		senders[c] = mem[c]
		limits[c] = dispatch.Limit{Rate: 1000, Burst: 100, Batch: 100, Concurrency: 1}
	}
	mem[anpi.FCMChannel].FailWith("fcm-token-tokyo", channel.Errorf(channel.Unregistered, "fcm: 404 UNREGISTERED"))
	mem[anpi.SMSChannel].FailWith("+819033334444", channel.Errorf(channel.Permanent, "sms: 21211 invalid number"))
	d, err := dispatch.New(e.st, &dispatch.Options{Senders: senders, Renderer: e.svc, Limits: limits, Owner: "test", Clock: clock,
		Rand: rand.New(rand.NewPCG(1, 2))})
	require.NoError(t, err)
	for range 10 { // fallbacks may be claimed in later rounds
		st, err := d.Step(e.ctx)
		require.NoError(t, err)
		if st.Claimed == 0 {
			break
		}
	}

	sent := map[string]int{}
	for c, s := range mem {
		for _, m := range s.Sent() {
			sent[string(c)+":"+m.Message.To]++
		}
	}
	require.Equal(t, map[string]int{
		"fcm:fcm-token-noto": 1, "email:kaga@corp.example": 1, "line:U0123456789abcdef0123456789abcdef": 1,
		"sms:+819011112222": 1, "email:broken@home.example": 1,
	}, sent, "one message per contact, nothing on other channels for the failed ones")

	tokyo := e.contact("c-tokyo-fcm").Check
	require.True(t, tokyo.Broken)
	require.Equal(t, "fcm: 404 UNREGISTERED", tokyo.LastError)
	toyama := e.contact("c-toyama-phone").Check
	require.False(t, toyama.Broken)
	require.Contains(t, toyama.LastError, "21211")

	// Nothing is left to send.
	counts, err := e.st.CountDeliveries(e.ctx, sv.ID)
	require.NoError(t, err)
	require.Zero(t, counts[anpi.Queued]+counts[anpi.FailedTemporary]+counts[anpi.Sending])
	require.Equal(t, 5, counts[anpi.Sent])

	// Confirming the sent message verifies its contact.
	var url string
	for _, m := range mem[anpi.FCMChannel].Sent() {
		url = m.Message.URL
	}
	_, err = e.svc.ConfirmContact(e.ctx, checkTokenOf(t, url))
	require.NoError(t, err)
	require.True(t, e.contact("c-noto-fcm").Check.Verified)
}

func TestContactLists(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.Manager}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.Manager, Department: "kanazawa"}))
	require.NoError(t, e.st.CreateDepartment(e.ctx, &anpi.Department{ID: "osaka", Name: "大阪支店", ParentID: "hq"}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "tokyo", Role: anpi.Manager, Department: "osaka"}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "leave", Role: anpi.SystemAdmin}))
	require.NoError(t, e.st.RecordContactCheck(e.ctx, "c-toyama-phone", anpi.ContactCheck{LastError: "sms: 30003 unreachable +819033334444", LastErrorAt: t0}))

	ids := func(vs []*anpi.AdminUserView) []string {
		out := []string{}
		for _, v := range vs {
			out = append(out, string(v.User.ID))
		}
		return out
	}
	broken, err := e.svc.BrokenContacts(e.ctx, "admin")
	require.NoError(t, err)
	require.Equal(t, []string{"broken", "toyama"}, ids(broken))
	without, err := e.svc.UsersWithoutPrivateContact(e.ctx, "admin")
	require.NoError(t, err)
	require.Equal(t, []string{"admin", "kaga", "nobody"}, ids(without), "broken still has a working private email")

	// Administrators never see a private address (invariant 4), not even
	// in an error text.
	b, err := json.Marshal(append(broken, without...))
	require.NoError(t, err)
	for _, a := range []string{"+819033334444", "819033334444", "fcm-token-broken", "broken@home.example"} {
		require.NotContains(t, string(b), a)
	}

	// A manager of 金沢支店 sees its people; one of an empty department
	// sees nobody; others may not look.
	without, err = e.svc.UsersWithoutPrivateContact(e.ctx, "noto")
	require.NoError(t, err)
	require.Equal(t, []string{"kaga", "nobody"}, ids(without))
	broken, err = e.svc.BrokenContacts(e.ctx, "tokyo")
	require.NoError(t, err)
	require.Empty(t, broken)
	for _, who := range []anpi.UserID{"kaga", "leave"} { // no role; suspended
		_, err = e.svc.BrokenContacts(e.ctx, who)
		require.Equal(t, anpi.PermissionDenied, anpi.Code(err), who)
		_, err = e.svc.UsersWithoutPrivateContact(e.ctx, who)
		require.Equal(t, anpi.PermissionDenied, anpi.Code(err), who)
	}
	_, err = e.svc.BrokenContacts(e.ctx, "ghost")
	require.Equal(t, anpi.NotFound, anpi.Code(err))
}
