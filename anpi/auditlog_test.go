package anpi_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

func TestAuditLog(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.SystemAdmin}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.SystemAdmin, Department: "kanazawa"}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "kaga", Role: anpi.CrisisManager}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "leave", Role: anpi.SystemAdmin}))

	// Every administrative action of the Service leaves an entry: a send,
	// its reminders and summary (by the system), an export.
	got, err := e.svc.StartSurvey(e.ctx, "kaga", &anpi.SendRequest{Title: "安否確認", Targeting: anpi.Targeting{Users: []anpi.UserID{"noto", "joetsu"}},
		Reminders: anpi.ReminderPolicy{Count: 1, Interval: 10 * time.Minute}, Admins: []anpi.UserID{"tokyo"}})
	require.NoError(t, err)
	sv := got.Survey.ID
	e.settle(sv, map[string]anpi.DeliveryState{"noto/fcm/0": anpi.Sent, "joetsu/line/0": anpi.Sent})
	e.clock.Advance(10 * time.Minute)
	_, err = e.svc.Tick(e.ctx)
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	require.NoError(t, e.svc.ExportCSV(e.ctx, "kaga", sv, &anpi.ExportFilter{NotAnswered: true}, &bytes.Buffer{}))

	es, err := e.svc.Audit(e.ctx, "admin", &anpi.AuditQuery{TargetID: string(sv)})
	require.NoError(t, err)
	type line struct {
		actor  anpi.UserID
		action string
		at     time.Time
	}
	var lines []line
	for _, a := range es {
		require.Equal(t, "survey", a.TargetKind)
		require.NotEmpty(t, a.Detail)
		lines = append(lines, line{a.Actor, a.Action, a.At})
	}
	require.Equal(t, []line{
		{"kaga", "survey.start", t0},
		{"", "survey.summary", t0.Add(10 * time.Minute)},
		{"", "survey.remind", t0.Add(10 * time.Minute)},
		{"kaga", "survey.export", t0.Add(11 * time.Minute)},
	}, lines)

	es, err = e.svc.Audit(e.ctx, "admin", &anpi.AuditQuery{Actor: "kaga"})
	require.NoError(t, err)
	require.Len(t, es, 2)
	es, err = e.svc.Audit(e.ctx, "admin", nil)
	require.NoError(t, err)
	require.Len(t, es, 4)

	for _, tc := range []struct {
		actor anpi.UserID
		code  anpi.ErrorCode
	}{
		{"kaga", anpi.PermissionDenied},  // a crisis manager
		{"noto", anpi.PermissionDenied},  // a system administrator of one department
		{"leave", anpi.PermissionDenied}, // suspended
		{"tokyo", anpi.PermissionDenied}, // no role
		{"ghost", anpi.NotFound},
	} {
		_, err := e.svc.Audit(e.ctx, tc.actor, nil)
		require.Equal(t, tc.code, anpi.Code(err), "%s: %v", tc.actor, err)
	}
	_, err = e.svc.Audit(e.ctx, "kaga", nil)
	require.ErrorContains(t, err, "user kaga is not an active company-wide system administrator")
	_, err = e.svc.Audit(e.ctx, "admin", &anpi.AuditQuery{Limit: -1})
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
}
