package anpi_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/sqlite"
)

// settle plays the dispatcher for the survey's claimable deliveries, keyed
// "user/channel/round": each becomes the state want says (Sent, Delivered,
// FailedPermanent); the rest fail temporarily and stay pending for an hour.
func (e *env) settle(sv anpi.SurveyID, want map[string]anpi.DeliveryState) {
	e.t.Helper()
	now := e.clock.Now()
	ds, err := e.st.ClaimDeliveries(e.ctx, anpi.ClaimRequest{Owner: "settle", Limit: 10000, Lease: time.Minute, Now: now})
	require.NoError(e.t, err)
	for _, d := range ds {
		k := fmt.Sprintf("%s/%s/%d", d.UserID, d.Channel, d.Round)
		switch want[k] {
		case anpi.Sent, anpi.Delivered:
			require.NoError(e.t, e.st.CompleteDelivery(e.ctx, d.ID, "settle", anpi.SendResult{ProviderID: "p-" + string(d.ID), At: now}))
			if want[k] == anpi.Delivered {
				require.NoError(e.t, e.st.MarkDelivered(e.ctx, d.ID, now))
			}
		case anpi.FailedPermanent:
			require.NoError(e.t, e.st.FailDelivery(e.ctx, d.ID, "settle", anpi.SendFailure{Error: "550 no such user", At: now, Permanent: true}))
		default:
			require.NoError(e.t, e.st.FailDelivery(e.ctx, d.ID, "settle", anpi.SendFailure{Error: "busy", At: now, RetryAt: now.Add(time.Hour)}))
		}
	}
}

// rounds returns the survey's deliveries of round k keyed "user/channel",
// with their states.
func (e *env) rounds(sv anpi.SurveyID, k int) map[string]anpi.DeliveryState {
	e.t.Helper()
	ds, err := e.st.Deliveries(e.ctx, sv)
	require.NoError(e.t, err)
	out := map[string]anpi.DeliveryState{}
	for _, d := range ds {
		if d.Round == k {
			key := string(d.UserID) + "/" + string(d.Channel)
			require.NotContains(e.t, out, key, "two deliveries of round %d", k)
			out[key] = d.State
		}
	}
	return out
}

// delivery returns the survey's one delivery of user on ch in round k.
func (e *env) delivery(sv anpi.SurveyID, user string, ch anpi.Channel, k int) *anpi.Delivery {
	e.t.Helper()
	ds, err := e.st.Deliveries(e.ctx, sv)
	require.NoError(e.t, err)
	for _, d := range ds {
		if d.UserID == anpi.UserID(user) && d.Channel == ch && d.Round == k {
			return d
		}
	}
	e.t.Fatalf("no delivery %s/%s/%d", user, ch, k)
	return nil
}

// audits returns the actions of the audit entries about target.
func (e *env) audits(target string) []string {
	e.t.Helper()
	es, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: target})
	require.NoError(e.t, err)
	var out []string
	for _, a := range es {
		out = append(out, a.Action)
	}
	return out
}

// start sends a manual survey as admin (granted CrisisManager).
func (e *env) start(req *anpi.SendRequest) anpi.SurveyID {
	e.t.Helper()
	require.NoError(e.t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.CrisisManager}))
	got, err := e.svc.StartSurvey(e.ctx, "admin", req)
	require.NoError(e.t, err)
	return got.Survey.ID
}

func TestReminders(t *testing.T) {
	e := newEnv(t)
	e.svc = e.newService(&anpi.Options{SummaryAfter: -1})
	sv := e.start(&anpi.SendRequest{Title: "安否確認", Targeting: anpi.Targeting{Everyone: true},
		Reminders: anpi.ReminderPolicy{Count: 2, Interval: 30 * time.Minute}, Deadline: t0.Add(2 * time.Hour)})
	require.Equal(t, map[string]anpi.DeliveryState{
		"admin/email": anpi.SkippedNoContact, "nobody/email": anpi.SkippedNoContact,
		"noto/fcm": anpi.Queued, "kaga/email": anpi.Queued, "joetsu/line": anpi.Queued, "toyama/sms": anpi.Queued,
		"tokyo/fcm": anpi.Queued, "broken/email": anpi.Queued,
	}, e.rounds(sv, 0))

	// The dispatcher: noto, tokyo and broken are reached; kaga's mail
	// bounces; joetsu's LINE fails and the SMS it falls back to gets
	// through; toyama's SMS is still being retried.
	e.settle(sv, map[string]anpi.DeliveryState{"noto/fcm/0": anpi.Sent, "tokyo/fcm/0": anpi.Delivered, "broken/email/0": anpi.Sent,
		"kaga/email/0": anpi.FailedPermanent, "joetsu/line/0": anpi.FailedPermanent})
	_, err := e.st.EnqueueDeliveries(e.ctx, []*anpi.Delivery{{ID: "dlv-joetsu-sms", SurveyID: sv, UserID: "joetsu", Channel: anpi.SMSChannel,
		State: anpi.Queued, NextAttemptAt: e.clock.Now()}})
	require.NoError(t, err)
	e.settle(sv, map[string]anpi.DeliveryState{"joetsu/sms/0": anpi.Sent})
	_, err = e.svc.AnswerAs(e.ctx, sv, "noto", safe(), anpi.ViaAdmin)
	require.NoError(t, err)

	e.clock.Advance(29 * time.Minute)
	got, err := e.svc.FollowUp(e.ctx)
	require.NoError(t, err)
	require.Empty(t, got, "not due yet")

	e.clock.Advance(time.Minute)
	got, err = e.svc.FollowUp(e.ctx)
	require.NoError(t, err)
	require.Equal(t, []anpi.FollowUp{{Survey: sv, Round: 1, Queued: 4, NoContact: 2, Waiting: 1}}, got)
	require.Equal(t, map[string]anpi.DeliveryState{
		"kaga/email":   anpi.Queued, // the bounce may be fixed: the first reachable channel again
		"joetsu/sms":   anpi.Queued, // where the first send finally got through
		"tokyo/fcm":    anpi.Queued,
		"broken/email": anpi.Queued,
		"admin/email":  anpi.SkippedNoContact,
		"nobody/email": anpi.SkippedNoContact,
	}, e.rounds(sv, 1), "noto answered; toyama's first send is still on its way")
	require.Equal(t, anpi.ContactID("c-broken-mail"), e.delivery(sv, "broken", anpi.EmailChannel, 1).ContactID)
	require.Equal(t, []string{"survey.start", "survey.remind"}, e.audits(string(sv)))

	// Again, and after a restart: nothing more.
	got, err = e.svc.FollowUp(e.ctx)
	require.NoError(t, err)
	require.Empty(t, got)
	e.svc = e.newService(&anpi.Options{SummaryAfter: -1})
	_, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Len(t, e.rounds(sv, 1), 6)
	require.Equal(t, []string{"survey.start", "survey.remind"}, e.audits(string(sv)))

	// The reminders are labelled, carry a fresh link, and SMS still fits.
	m, _, err := e.svc.Render(e.ctx, e.delivery(sv, "joetsu", anpi.SMSChannel, 1))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(m.Text, "【再通知】"), m.Text)
	require.LessOrEqual(t, utf8.RuneCountInString(m.Text), anpi.MaxSMSLen)
	require.NotEmpty(t, m.URL)
	require.Equal(t, "1", m.Data["round"])
	m, _, err = e.svc.Render(e.ctx, e.delivery(sv, "kaga", anpi.EmailChannel, 1))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(m.Subject, "[Reminder] [Safety check]"), m.Subject)
	require.Contains(t, m.Text, "[Reminder] We have not received your answer yet")
	_, err = e.svc.AnswerByToken(e.ctx, tokenOf(t, m.URL), safe(), anpi.ViaWeb)
	require.NoError(t, err, "kaga answers through the reminder's link")
	m, _, err = e.svc.Render(e.ctx, e.delivery(sv, "tokyo", anpi.FCMChannel, 1))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(m.Text, "【再通知】【安否確認】"), m.Text)

	// Round 2, through Tick: toyama was reached meanwhile, kaga answered.
	e.clock.Advance(30 * time.Minute)
	e.settle(sv, map[string]anpi.DeliveryState{"toyama/sms/0": anpi.Sent})
	_, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"admin/email", "broken/email", "joetsu/sms", "nobody/email", "tokyo/fcm", "toyama/sms"}, keys(e.rounds(sv, 2)))

	// There is no round 3.
	e.clock.Advance(30 * time.Minute)
	got, err = e.svc.FollowUp(e.ctx)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Empty(t, e.rounds(sv, 3))
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestReminderRounds(t *testing.T) {
	every10 := anpi.ReminderPolicy{Count: 3, Interval: 10 * time.Minute}
	for _, tc := range []struct {
		name     string
		policy   anpi.ReminderPolicy
		deadline time.Duration // after the start; 0 for none
		status   anpi.SurveyStatus
		calls    []time.Duration // when FollowUp runs, after the start
		rounds   []int           // the rounds enqueued
	}{
		{name: "no policy", calls: []time.Duration{10 * time.Minute, time.Hour}},
		{name: "each round once", policy: every10, calls: []time.Duration{5, 10, 11, 15, 20, 25, 30, 35, 40, 50}, rounds: []int{1, 2, 3}},
		{name: "stops at the deadline", policy: every10, deadline: 25 * time.Minute, calls: []time.Duration{10, 20, 30}, rounds: []int{1, 2}},
		{name: "deadline at the round", policy: every10, deadline: 20 * time.Minute, calls: []time.Duration{10, 20, 30}, rounds: []int{1}},
		{name: "a missed round is skipped", policy: every10, calls: []time.Duration{25, 35}, rounds: []int{2, 3}},
		{name: "too late for every round", policy: every10, calls: []time.Duration{40, 50}},
		{name: "closed", policy: every10, status: anpi.Closed, calls: []time.Duration{10, 20}},
		{name: "cancelled", policy: every10, status: anpi.Cancelled, calls: []time.Duration{10, 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.svc = e.newService(&anpi.Options{SummaryAfter: -1})
			req := &anpi.SendRequest{Title: "確認", Targeting: anpi.Targeting{Users: []anpi.UserID{"noto"}}, Reminders: tc.policy}
			if tc.deadline > 0 {
				req.Deadline = t0.Add(tc.deadline)
			}
			sv := e.start(req)
			e.settle(sv, map[string]anpi.DeliveryState{"noto/fcm/0": anpi.Sent})
			if tc.status != "" {
				s, err := e.st.GetSurvey(e.ctx, sv)
				require.NoError(t, err)
				s.Status = tc.status
				require.NoError(t, e.st.UpdateSurvey(e.ctx, s))
			}
			for _, at := range tc.calls {
				if at < time.Minute {
					at *= time.Minute
				}
				e.clock.Advance(t0.Add(at).Sub(e.clock.Now()))
				_, err := e.svc.FollowUp(e.ctx)
				require.NoError(t, err)
			}
			var rounds []int
			ds, err := e.st.Deliveries(e.ctx, sv)
			require.NoError(t, err)
			for _, d := range ds {
				if d.Round > 0 {
					rounds = append(rounds, d.Round)
				}
			}
			sort.Ints(rounds)
			require.Equal(t, tc.rounds, rounds)
		})
	}
}

func TestSummary(t *testing.T) {
	e := newEnv(t)
	u, err := e.st.GetUser(e.ctx, "admin")
	require.NoError(t, err)
	u.WorkEmail = "admin@corp.example"
	require.NoError(t, e.st.UpdateUser(e.ctx, u))
	sv := e.start(&anpi.SendRequest{Title: "地震 安否確認", Targeting: anpi.Targeting{Everyone: true},
		Admins: []anpi.UserID{"admin", "tokyo", "gone", "leave", "admin", "nobody"}})
	_, err = e.svc.AnswerAs(e.ctx, sv, "noto", safe(), anpi.ViaAdmin)
	require.NoError(t, err)
	_, err = e.svc.AnswerAs(e.ctx, sv, "joetsu", []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"minor"}}}, anpi.ViaLINE)
	require.NoError(t, err)

	e.clock.Advance(9 * time.Minute)
	got, err := e.svc.FollowUp(e.ctx)
	require.NoError(t, err)
	require.Empty(t, got)

	e.clock.Advance(time.Minute)
	got, err = e.svc.FollowUp(e.ctx)
	require.NoError(t, err)
	require.Equal(t, []anpi.FollowUp{{Survey: sv, Round: anpi.SummaryRound, Queued: 2, NoContact: 1}}, got)
	require.Equal(t, map[string]anpi.DeliveryState{
		"admin/email":  anpi.Queued,           // the long text, with the table
		"tokyo/fcm":    anpi.Queued,           // no email: the short text
		"nobody/email": anpi.SkippedNoContact, // for the record
	}, e.rounds(sv, anpi.SummaryRound), "gone is not in the directory, leave is suspended, admin is listed twice")
	require.Equal(t, []string{"survey.start", "survey.summary"}, e.audits(string(sv)))

	m, cid, err := e.svc.Render(e.ctx, e.delivery(sv, "admin", anpi.EmailChannel, anpi.SummaryRound))
	require.NoError(t, err)
	require.Empty(t, cid)
	require.Equal(t, "admin@corp.example", m.To)
	require.Equal(t, "【集計】地震 安否確認：回答率 25.0%（8人中2人）", m.Subject)
	require.Empty(t, m.URL, "no answer link")
	require.NotContains(t, m.Text, baseURL)
	require.Equal(t, "true", m.Data["summary"])
	for _, want := range []string{
		"（1/1 16:35 現在、送信から10分）",
		"対象 8人　回答 2人　未回答 6人　回答率 25.0%",
		"■ あなたの状況\n  無事: 1\n  軽傷: 1\n  重傷: 0\n",
		"  対象  回答  回答率  部署\n     8     2   25.0%  本社\n     7     2   28.6%    金沢支店\n",
	} {
		require.Contains(t, m.Text, want)
	}
	m, _, err = e.svc.Render(e.ctx, e.delivery(sv, "tokyo", anpi.FCMChannel, anpi.SummaryRound))
	require.NoError(t, err)
	require.Equal(t, "【集計】地震 安否確認：回答率 25.0%（2/8人） 無事 1・軽傷 1・重傷 0", m.Text)

	// Again, and after a restart: nothing more.
	e.clock.Advance(time.Minute)
	got, err = e.svc.FollowUp(e.ctx)
	require.NoError(t, err)
	require.Empty(t, got)
	e.svc = e.newService(nil)
	got, err = e.svc.FollowUp(e.ctx)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Len(t, e.rounds(sv, anpi.SummaryRound), 3)
	require.Equal(t, []string{"survey.start", "survey.summary"}, e.audits(string(sv)))
}

func TestSummaryOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration // Options.SummaryAfter
		at    time.Duration // when FollowUp runs, after the start
		sent  bool
	}{
		{name: "default ten minutes: early", at: 9*time.Minute + 59*time.Second},
		{name: "default ten minutes", at: 10 * time.Minute, sent: true},
		{name: "five minutes", after: 5 * time.Minute, at: 5 * time.Minute, sent: true},
		{name: "disabled", after: -1, at: time.Hour},
		{name: "an hour late", at: 70 * time.Minute, sent: true},
		{name: "more than an hour late", at: 70*time.Minute + time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.svc = e.newService(&anpi.Options{SummaryAfter: tc.after})
			sv := e.start(&anpi.SendRequest{Title: "確認", Targeting: anpi.Targeting{Users: []anpi.UserID{"noto"}}, Admins: []anpi.UserID{"tokyo"}})
			e.clock.Advance(tc.at)
			_, err := e.svc.FollowUp(e.ctx)
			require.NoError(t, err)
			require.Equal(t, tc.sent, len(e.rounds(sv, anpi.SummaryRound)) == 1)
		})
	}
}

func TestSummaryText(t *testing.T) {
	tree, err := anpi.NewDepartmentTree([]*anpi.Department{{ID: "hq", Name: "本社"}, {ID: "osaka", Name: "大阪支店", ParentID: "hq"}})
	require.NoError(t, err)
	sv := &anpi.Survey{ID: "s", Kind: anpi.DrillSurvey, Title: "【訓練】震度6弱 大阪府北部", Form: anpi.DefaultForm(), StartedAt: t0}
	tally := anpi.ComputeTally("s", t0, []anpi.Recipient{
		{UserID: "a", Departments: []anpi.DepartmentID{"osaka"}, Scope: []anpi.DepartmentID{"hq", "osaka"}},
		{UserID: "b", Departments: []anpi.DepartmentID{"gone"}, Scope: []anpi.DepartmentID{"gone"}},
		{UserID: "c"},
	}, []*anpi.Response{{UserID: "a", At: t0.Add(time.Minute), Answers: []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"serious"}}}}})
	at := t0.Add(75 * time.Minute)

	r := anpi.SummaryText(sv, tally, tree, anpi.English, anpi.LongStyle, at)
	require.Equal(t, "[DRILL] [Summary] 震度6弱 大阪府北部: 33.3% answered (1 of 3)", r.Subject)
	require.True(t, strings.HasPrefix(r.Text, "[DRILL] Summary of the safety check \"震度6弱 大阪府北部\" as of 1/1 17:40 JST, 1 h 15 min after it was sent."), r.Text)
	require.Contains(t, r.Text, "  Serious injury: 1\n")
	require.Contains(t, r.Text, " Targets Answered    Rate  Department\n"+
		"       1        1  100.0%  本社\n"+
		"       1        1  100.0%    大阪支店\n"+
		"       1        0    0.0%  gone\n", "a department deleted since comes last, by ID")

	r = anpi.SummaryText(sv, tally, nil, anpi.Japanese, anpi.SMSStyle, at)
	require.Equal(t, "【訓練】【集計】回答率33.3%(1/3人) 震度6弱 大阪府北部", r.Text)
	require.LessOrEqual(t, utf8.RuneCountInString(r.Text), anpi.MaxSMSLen)
	long := *sv
	long.Title = strings.Repeat("長", anpi.MaxTitleLen)
	r = anpi.SummaryText(&long, tally, nil, anpi.Japanese, anpi.SMSStyle, at)
	require.Equal(t, anpi.MaxSMSLen, utf8.RuneCountInString(r.Text))

	empty := anpi.NewTally("s")
	r = anpi.SummaryText(&anpi.Survey{ID: "s", Kind: anpi.ManualSurvey, Title: "t"}, empty, nil, anpi.Japanese, anpi.ShortStyle, at)
	require.Equal(t, "【集計】t：回答率 -（0/0人）", r.Text)
}

func TestFollowUpRetriesWhatTheStoreRefused(t *testing.T) {
	e := newEnv(t)
	sv := e.start(&anpi.SendRequest{Title: "確認", Targeting: anpi.Targeting{Users: []anpi.UserID{"noto"}},
		Reminders: anpi.ReminderPolicy{Count: 1, Interval: 10 * time.Minute}, Admins: []anpi.UserID{"tokyo"}})
	e.settle(sv, map[string]anpi.DeliveryState{"noto/fcm/0": anpi.Sent})
	flaky := &flakyStore{Store: e.st, fail: true}
	svc, err := anpi.New(flaky, &anpi.Options{Clock: e.clock.Now})
	require.NoError(t, err)
	e.clock.Advance(10 * time.Minute)
	_, err = svc.FollowUp(e.ctx)
	require.Equal(t, anpi.Unavailable, anpi.Code(err))
	require.ErrorContains(t, err, "summary")
	require.ErrorContains(t, err, "reminder 1")
	require.Empty(t, e.rounds(sv, 1))

	flaky.set(false)
	got, err := svc.FollowUp(e.ctx)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Len(t, e.rounds(sv, 1), 1)
	require.Len(t, e.rounds(sv, anpi.SummaryRound), 1)
}

// A restart for real: the store is a SQLite file, closed and opened again
// by a new process's Service, which must enqueue no reminder or summary
// twice.
func TestFollowUpRestartSQLite(t *testing.T) {
	ctx := t.Context()
	clock := &fakeClock{t: t0}
	path := filepath.Join(t.TempDir(), "anpi.db")
	open := func() (*sqlite.Store, *anpi.Service) {
		st, err := sqlite.Open(ctx, path, &sqlite.Options{Now: clock.Now, AllowPlaintextContacts: true})
		require.NoError(t, err)
		svc, err := anpi.New(st, &anpi.Options{Clock: clock.Now, Rand: rand.NewChaCha8([32]byte{3})})
		require.NoError(t, err)
		return st, svc
	}
	st, svc := open()
	for _, u := range []*anpi.User{
		{ID: "boss", EmployeeCode: "E0", Name: "boss", WorkEmail: "boss@corp.example", Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "a", EmployeeCode: "E1", Name: "a", WorkEmail: "a@corp.example", Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "b", EmployeeCode: "E2", Name: "b", WorkEmail: "b@corp.example", Status: anpi.Active, Locale: anpi.Japanese},
	} {
		require.NoError(t, st.CreateUser(ctx, u))
	}
	require.NoError(t, st.GrantRole(ctx, anpi.RoleGrant{UserID: "boss", Role: anpi.CrisisManager}))
	got, err := svc.StartSurvey(ctx, "boss", &anpi.SendRequest{Title: "確認", Targeting: anpi.Targeting{Users: []anpi.UserID{"a", "b"}},
		Reminders: anpi.ReminderPolicy{Count: 2, Interval: 10 * time.Minute}, Admins: []anpi.UserID{"boss"}})
	require.NoError(t, err)
	sv := got.Survey.ID
	ds, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "t", Limit: 10, Lease: time.Minute, Now: clock.Now()})
	require.NoError(t, err)
	for _, d := range ds {
		require.NoError(t, st.CompleteDelivery(ctx, d.ID, "t", anpi.SendResult{At: clock.Now()}))
	}
	clock.Advance(10 * time.Minute)
	done, err := svc.FollowUp(ctx)
	require.NoError(t, err)
	require.Equal(t, []anpi.FollowUp{{Survey: sv, Round: anpi.SummaryRound, Queued: 1}, {Survey: sv, Round: 1, Queued: 2}}, done)
	count := func(st anpi.Store) (int, int) {
		ds, err := st.Deliveries(ctx, sv)
		require.NoError(t, err)
		es, err := st.ListAudit(ctx, &anpi.AuditQuery{TargetID: string(sv)})
		require.NoError(t, err)
		return len(ds), len(es)
	}
	deliveries, audits := count(st)
	require.Equal(t, 5, deliveries)
	require.NoError(t, st.Close())

	st, svc = open()
	defer st.Close()
	clock.Advance(time.Minute)
	done, err = svc.FollowUp(ctx)
	require.NoError(t, err)
	require.Empty(t, done)
	_, err = svc.Tick(ctx)
	require.NoError(t, err)
	d2, a2 := count(st)
	require.Equal(t, deliveries, d2)
	require.Equal(t, audits, a2)

	// The next round still comes.
	clock.Advance(9 * time.Minute)
	done, err = svc.FollowUp(ctx)
	require.NoError(t, err)
	require.Equal(t, []anpi.FollowUp{{Survey: sv, Round: 2, Queued: 2}}, done)
}
