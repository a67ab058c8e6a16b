package anpi_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

func TestStartSurvey(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.CrisisManager}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.CrisisManager, Department: "kanazawa"}))
	req := &anpi.SendRequest{Title: "避難訓練のお知らせ", Targeting: anpi.Targeting{Everyone: true}}

	// Someone without a role may not send.
	_, err := e.svc.StartSurvey(e.ctx, "tokyo", req)
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err))
	// A crisis manager of 金沢支店 may not send to everyone, nor to someone
	// outside his department.
	_, err = e.svc.StartSurvey(e.ctx, "noto", req)
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err))
	_, err = e.svc.StartSurvey(e.ctx, "noto", &anpi.SendRequest{Title: "x", Targeting: anpi.Targeting{Users: []anpi.UserID{"admin"}}})
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err))
	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, svs, "a refused send writes nothing")

	// ... but may send to his department.
	got, err := e.svc.StartSurvey(e.ctx, "noto", &anpi.SendRequest{Title: "金沢支店 安否確認",
		Targeting: anpi.Targeting{Departments: []anpi.DepartmentTarget{{ID: "kanazawa"}}}})
	require.NoError(t, err)
	require.Equal(t, 7, got.Recipients, "everyone in 金沢支店 but the suspended")
	require.Equal(t, anpi.ManualSurvey, got.Survey.Kind)
	require.Equal(t, anpi.UserID("noto"), got.Survey.CreatedBy)

	got, err = e.svc.StartSurvey(e.ctx, "admin", req)
	require.NoError(t, err)
	sv := got.Survey.ID
	require.Equal(t, 8, got.Recipients)
	require.Equal(t, 6, got.Queued)
	require.Equal(t, 2, got.NoContact, "nobody, and admin who has no contact")
	ds := e.deliveries(sv)
	require.Equal(t, anpi.ContactID("c-noto-fcm"), ds["noto/fcm"].ContactID)
	m, _, err := e.svc.Render(e.ctx, ds["noto/fcm"])
	require.NoError(t, err)
	require.Contains(t, m.Text, "避難訓練のお知らせ")
	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(sv)})
	require.NoError(t, err)
	require.Equal(t, "survey.start", audit[0].Action)
	require.Equal(t, anpi.UserID("admin"), audit[0].Actor)

	// A follow-up to those who have not answered.
	_, err = e.svc.AnswerAs(e.ctx, sv, "noto", safe(), anpi.ViaAdmin)
	require.NoError(t, err)
	got, err = e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "再送: 未回答の方へ", Targeting: anpi.Targeting{NotAnswered: []anpi.SurveyID{sv}}})
	require.NoError(t, err)
	require.Equal(t, 7, got.Recipients)
	require.NotContains(t, e.recipients(got.Survey.ID), "noto")

	_, err = e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "x"})
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	_, err = e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "x", Targeting: anpi.Targeting{Titles: []string{"社長"}}})
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))
	_, err = e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "x", Targeting: anpi.Targeting{NotAnswered: []anpi.SurveyID{"nope"}}})
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	_, err = e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "", Targeting: anpi.Targeting{Everyone: true}})
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	_, err = e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{ID: sv, Title: "again", Targeting: anpi.Targeting{Everyone: true}})
	require.Equal(t, anpi.AlreadyExists, anpi.Code(err), "a retried request with its ID does not send twice")
}

func TestStartSurveyTestSend(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.CrisisManager}))
	got, err := e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "本番前の確認", Targeting: anpi.Targeting{Everyone: true},
		TestTo: []anpi.UserID{"noto", "kaga"}})
	require.NoError(t, err)
	require.Equal(t, anpi.TestSurvey, got.Survey.Kind)
	require.Equal(t, []string{"kaga", "noto"}, e.recipients(got.Survey.ID))
	ds := e.deliveries(got.Survey.ID)
	m, _, err := e.svc.Render(e.ctx, ds["kaga/email"])
	require.NoError(t, err)
	require.Contains(t, m.Subject, "[DRILL]", "a test is labelled in every message")
	require.NotEqual(t, "high", m.Priority.String())

	_, err = e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "x", TestTo: []anpi.UserID{"leave"}})
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err))
}
