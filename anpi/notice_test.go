package anpi_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// An administrators-only rule asks nobody: its administrators hear of the
// event through the Notifier, and the audit log says so.
func TestAdminsOnlyRuleNotifiesItsAdministrators(t *testing.T) {
	e := newEnv(t, `{"id":"quake-notice","kind":"earthquake","earthquake":{"threshold":"5-"},"admins":["admin","leave"],"options":{"adminsOnly":true}}`)
	var got []*anpi.Notification
	e.svc = e.newService(&anpi.Options{Notifier: anpi.NotifierFunc(func(_ context.Context, n *anpi.Notification) error {
		got = append(got, n)
		return nil
	})})
	out := e.feed(docVXSE51)
	require.Len(t, out.Effects, 1, "%+v", out.Effects)
	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, svs, "nobody is asked")
	require.Len(t, got, 1)
	n := got[0]
	require.Equal(t, anpi.RuleNoticeNotification, n.Kind)
	require.Equal(t, []anpi.UserID{"admin"}, n.To, "suspended administrators are not told")
	require.Equal(t, "quake-notice", n.Notice.Rule)
	require.Positive(t, n.Notice.InScope)
	require.NotEmpty(t, n.Notice.Reason)
	entries, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{})
	require.NoError(t, err)
	require.Equal(t, "rule.notice", entries[len(entries)-1].Action)
}

// Options.AutoReminders gives automatic surveys their reminder policy:
// those reached who have not answered get round 1 after the interval.
func TestAutoSurveysGetTheReminderPolicy(t *testing.T) {
	e := newEnv(t, quakeRule)
	policy := anpi.ReminderPolicy{Count: 1, Interval: 10 * time.Minute}
	e.svc = e.newService(&anpi.Options{AutoReminders: policy, SummaryAfter: -1})
	out := e.feed(docVXSE51)
	require.NotEmpty(t, out.Effects)
	sv := out.Effects[0].Survey
	got, err := e.st.GetSurvey(e.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, policy, got.Reminders)

	// Everyone queued is sent (as a dispatcher would), then time passes.
	claimed, err := e.st.ClaimDeliveries(e.ctx, anpi.ClaimRequest{Owner: "test", Limit: 100, Lease: time.Minute, Now: e.clock.Now()})
	require.NoError(t, err)
	require.NotEmpty(t, claimed)
	for _, d := range claimed {
		require.NoError(t, e.st.CompleteDelivery(e.ctx, d.ID, "test", anpi.SendResult{ProviderID: "p-" + string(d.ID), At: e.clock.Now()}))
	}
	require.Empty(t, e.rounds(sv, 1))
	e.clock.Advance(10*time.Minute + time.Second)
	_, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	queued := 0
	for key, st := range e.rounds(sv, 1) {
		if st == anpi.Queued {
			queued++
		} else {
			require.Equal(t, anpi.SkippedNoContact, st, key)
		}
	}
	require.Equal(t, len(claimed), queued, "each one reached and silent is reminded once")

	_, err = anpi.New(e.st, &anpi.Options{AutoReminders: anpi.ReminderPolicy{Count: 1}})
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "an interval under a minute: %v", err)
}
