package anpi_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

func TestDrafts(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.CrisisManager}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.CrisisManager, Department: "kanazawa"}))
	kanazawa := anpi.Targeting{Departments: []anpi.DepartmentTarget{{ID: "kanazawa"}}}

	// Saving: a draft asks nobody; it may be incomplete, but not aimed
	// beyond its author's rights.
	_, err := e.svc.SaveDraft(e.ctx, "tokyo", &anpi.SendRequest{Title: "x"})
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "no role: %v", err)
	_, err = e.svc.SaveDraft(e.ctx, "noto", &anpi.SendRequest{Title: "x", Targeting: anpi.Targeting{Everyone: true}})
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "beyond his department: %v", err)
	_, err = e.svc.SaveDraft(e.ctx, "noto", &anpi.SendRequest{Title: "", Targeting: kanazawa})
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "no title: %v", err)
	_, err = e.svc.SaveDraft(e.ctx, "noto", &anpi.SendRequest{Title: "x", TestTo: []anpi.UserID{"noto"}})
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "test recipients: %v", err)

	d, err := e.svc.SaveDraft(e.ctx, "noto", &anpi.SendRequest{Title: "金沢支店 安否確認（下書き）"})
	require.NoError(t, err)
	require.Equal(t, anpi.Draft, d.Status)
	require.Regexp(t, `^draft-`, d.ID)
	ds, err := e.st.Deliveries(e.ctx, d.ID)
	require.NoError(t, err)
	require.Empty(t, ds, "a draft sends nothing")
	_, err = e.svc.SendDraft(e.ctx, "noto", d.ID)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "an incomplete draft is not sent: %v", err)

	// Editing: the author, or a company-wide crisis manager.
	d, err = e.svc.SaveDraft(e.ctx, "noto", &anpi.SendRequest{ID: d.ID, Title: "金沢支店 安否確認", Targeting: kanazawa})
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("noto"), d.CreatedBy)
	other, err := e.svc.SaveDraft(e.ctx, "admin", &anpi.SendRequest{Title: "全社 安否確認", Targeting: anpi.Targeting{Everyone: true}})
	require.NoError(t, err)
	_, err = e.svc.SaveDraft(e.ctx, "noto", &anpi.SendRequest{ID: other.ID, Title: "mine now", Targeting: kanazawa})
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "another's draft: %v", err)
	mine, err := e.svc.Drafts(e.ctx, "noto")
	require.NoError(t, err)
	require.Len(t, mine, 1)
	require.Equal(t, d.ID, mine[0].ID)
	all, err := e.svc.Drafts(e.ctx, "admin")
	require.NoError(t, err)
	require.Len(t, all, 2)
	listed, err := e.svc.Surveys(e.ctx, "admin", nil)
	require.NoError(t, err)
	require.Empty(t, listed, "drafts are not surveys yet")
	_, err = e.svc.SurveyFor(e.ctx, "admin", other.ID)
	require.Equal(t, anpi.NotFound, anpi.Code(err))

	// A test send of the draft first: to the chosen, labelled, the draft stays.
	test, err := e.svc.SendDraft(e.ctx, "noto", d.ID, "noto")
	require.NoError(t, err)
	require.Equal(t, anpi.TestSurvey, test.Survey.Kind)
	require.NotEqual(t, d.ID, test.Survey.ID)
	require.Equal(t, 1, test.Recipients)
	m, _, err := e.svc.Render(e.ctx, e.deliveries(test.Survey.ID)["noto/fcm"])
	require.NoError(t, err)
	require.Contains(t, m.Text, "金沢支店 安否確認")
	kept, err := e.st.GetSurvey(e.ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, anpi.Draft, kept.Status)

	// Then the send: the draft becomes the survey.
	got, err := e.svc.SendDraft(e.ctx, "noto", d.ID)
	require.NoError(t, err)
	require.Equal(t, d.ID, got.Survey.ID)
	require.Equal(t, anpi.Open, got.Survey.Status)
	require.Equal(t, anpi.ManualSurvey, got.Survey.Kind)
	require.Equal(t, 7, got.Recipients, "everyone in 金沢支店 but the suspended")
	require.True(t, got.Survey.CreatedAt.Equal(d.CreatedAt))
	_, err = e.svc.SendDraft(e.ctx, "noto", d.ID)
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(err), "sent already: %v", err)
	require.Equal(t, anpi.FailedPrecondition, anpi.Code(e.svc.DeleteDraft(e.ctx, "noto", d.ID)), "a sent survey is no draft")

	// Deleting.
	require.Equal(t, anpi.PermissionDenied, anpi.Code(e.svc.DeleteDraft(e.ctx, "noto", other.ID)))
	require.NoError(t, e.svc.DeleteDraft(e.ctx, "admin", other.ID))
	_, err = e.st.GetSurvey(e.ctx, other.ID)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	require.Equal(t, anpi.NotFound, anpi.Code(e.svc.DeleteDraft(e.ctx, "admin", "draft-nope")))

	var actions []string
	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{Actor: "noto"})
	require.NoError(t, err)
	for _, a := range audit {
		actions = append(actions, a.Action)
	}
	require.Subset(t, actions, []string{"survey.draft_save", "survey.test_send", "survey.start"})
	audit, err = e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(other.ID)})
	require.NoError(t, err)
	require.Equal(t, "survey.draft_delete", audit[len(audit)-1].Action, "the last entry of the draft")
}
