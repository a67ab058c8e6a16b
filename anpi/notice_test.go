package anpi_test

import (
	"context"
	"testing"

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
