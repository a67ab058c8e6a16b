package anpi_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/rules"
)

const ruleQuake5Lower = `{"id":"quake-5lower","name":"震度5弱以上","kind":"earthquake","earthquake":{"threshold":"5-"}}`

// adminEnv is newEnv with admin a company-wide crisis manager and noto a
// manager over 金沢支店 (everyone but admin, who is in 本社).
func adminEnv(t *testing.T) *env {
	e := newEnv(t, ruleQuake5Lower)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.CrisisManager}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.Manager, Department: "kanazawa"}))
	return e
}

func TestSurveysScoped(t *testing.T) {
	e := adminEnv(t)
	hq, err := e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "本社のみ", Targeting: anpi.Targeting{Departments: []anpi.DepartmentTarget{{ID: "hq"}}}})
	require.NoError(t, err)
	all, err := e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "全社", Targeting: anpi.Targeting{Everyone: true}})
	require.NoError(t, err)
	_, err = e.svc.AnswerAs(e.ctx, all.Survey.ID, "admin", []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}}, anpi.ViaAdmin)
	require.NoError(t, err)
	_, err = e.svc.AnswerAs(e.ctx, all.Survey.ID, "noto", []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}}, anpi.ViaAdmin)
	require.NoError(t, err)

	ls, err := e.svc.Surveys(e.ctx, "admin", nil)
	require.NoError(t, err)
	require.Len(t, ls, 2)
	for _, l := range ls {
		require.Empty(t, l.Scope, "company-wide: whole surveys")
	}

	ls, err = e.svc.Surveys(e.ctx, "noto", nil)
	require.NoError(t, err)
	require.Len(t, ls, 1, "the 本社 survey has nobody of 金沢支店: not listed")
	require.Equal(t, all.Survey.ID, ls[0].Survey.ID)
	require.Equal(t, anpi.DepartmentID("kanazawa"), ls[0].Scope)
	require.Equal(t, 7, ls[0].Targets, "金沢支店's active users: not admin")
	require.Equal(t, 1, ls[0].Answered, "noto's answer, not admin's")

	_, err = e.svc.SurveyFor(e.ctx, "noto", hq.Survey.ID)
	require.Equal(t, anpi.NotFound, anpi.Code(err), "invisible is not found")
	l, err := e.svc.SurveyFor(e.ctx, "noto", all.Survey.ID)
	require.NoError(t, err)
	require.Equal(t, anpi.DepartmentID("kanazawa"), l.Scope)
	_, err = e.svc.Surveys(e.ctx, "tokyo", nil)
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "no role")
	_, err = e.svc.Surveys(e.ctx, "ghost", nil)
	require.Equal(t, anpi.NotFound, anpi.Code(err))

	un, err := e.svc.Unanswered(e.ctx, "noto", all.Survey.ID, &anpi.ExportFilter{Department: "kanazawa"})
	require.NoError(t, err)
	require.Len(t, un, 6)
	for _, u := range un {
		require.NotEqual(t, anpi.UserID("noto"), u.UserID)
		require.NotEmpty(t, u.Name)
	}
	_, err = e.svc.Unanswered(e.ctx, "noto", all.Survey.ID, nil)
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "the whole company is beyond noto")
}

func TestAuthorizeAndDirectoryReads(t *testing.T) {
	e := adminEnv(t)
	require.NoError(t, e.svc.Authorize(e.ctx, "admin", anpi.StartSend, anpi.TargetCompany()))
	require.Equal(t, anpi.PermissionDenied, anpi.Code(e.svc.Authorize(e.ctx, "noto", anpi.StartSend, anpi.TargetCompany())))
	require.NoError(t, e.svc.Authorize(e.ctx, "noto", anpi.ViewTallies, anpi.TargetDepartments("kanazawa")))
	require.Equal(t, anpi.NotFound, anpi.Code(e.svc.Authorize(e.ctx, "ghost", anpi.ViewTallies, anpi.TargetCompany())))

	views, err := e.svc.AdminUsers(e.ctx, "noto")
	require.NoError(t, err)
	require.Len(t, views, 7, "金沢支店's active users")
	data, err := json.Marshal(views)
	require.NoError(t, err)
	for _, addr := range []string{"fcm-token-noto", "+819011112222", "broken@home.example", "U0123456789abcdef"} {
		require.NotContains(t, string(data), addr)
	}
	_, err = e.svc.AdminUsers(e.ctx, "tokyo")
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err))

	tree, err := e.svc.Departments(e.ctx, "noto")
	require.NoError(t, err)
	require.True(t, tree.Has("hq"))
	_, err = e.svc.Departments(e.ctx, "tokyo")
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err))

	rs, err := e.svc.Rules(e.ctx, "noto")
	require.NoError(t, err)
	require.Len(t, rs, 1)
	_, err = e.svc.Rules(e.ctx, "tokyo")
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err))
}

func TestSimulateIsPureAndScoped(t *testing.T) {
	e := adminEnv(t)
	sc := rules.Scenario{Quake: []rules.QuakeArea{{Area: "390", Intensity: jma.Intensity6Lower}, {Area: "350", Intensity: jma.Intensity5Lower}}}
	sim, err := e.svc.Simulate(e.ctx, "admin", sc)
	require.NoError(t, err)
	var ids []anpi.UserID
	for _, u := range sim.Users {
		ids = append(ids, u.ID)
	}
	require.Equal(t, []anpi.UserID{"admin", "broken", "nobody", "noto", "tokyo"}, ids, "active users of 390 and 350; leave is suspended")
	require.Equal(t, 5, sim.Total)
	require.Zero(t, sim.OutOfScope)
	require.Len(t, sim.Decisions, 1)
	require.Equal(t, rules.ActionSend, sim.Decisions[0].Action)
	require.Equal(t, 5, sim.Decisions[0].Recipients)

	sim, err = e.svc.Simulate(e.ctx, "noto", sc)
	require.NoError(t, err)
	require.Equal(t, 5, sim.Total)
	require.Equal(t, 1, sim.OutOfScope, "admin is in 本社")
	require.Len(t, sim.Users, 4)

	sim, err = e.svc.Simulate(e.ctx, "admin", rules.Scenario{Quake: []rules.QuakeArea{{Area: "390", Intensity: jma.Intensity4}}})
	require.NoError(t, err)
	require.Zero(t, sim.Total, "below the threshold")

	_, err = e.svc.Simulate(e.ctx, "tokyo", sc)
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err))

	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, svs)
	audit, err := e.st.ListAudit(e.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, audit)
	// The Service's event memory is untouched: the real report still sends.
	out := e.feed(docVXSE53)
	require.NotEmpty(t, out.Effects)
	require.NotEmpty(t, out.Effects[0].Survey)
}

func TestAuditUpload(t *testing.T) {
	e := adminEnv(t)
	out := e.feed(docVXSE53)
	require.NoError(t, e.svc.AuditUpload(e.ctx, "admin", 1234, out, nil))
	require.NoError(t, e.svc.AuditUpload(e.ctx, "admin", 7, nil, anpi.Errorf(anpi.InvalidArgument, "bad xml")))
	require.Equal(t, anpi.NotFound, anpi.Code(e.svc.AuditUpload(e.ctx, "ghost", 7, nil, nil)))
	es, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{Actor: "admin"})
	require.NoError(t, err)
	require.Len(t, es, 2)
	require.Equal(t, "jma.upload", es[0].Action)
	require.Equal(t, "report", es[0].TargetKind)
	require.Contains(t, es[0].TargetID, "VXSE53@")
	require.Contains(t, es[0].Detail, "1234 bytes; VXSE53 通常")
	require.Contains(t, es[0].Detail, "surveys "+string(out.Effects[0].Survey))
	require.Equal(t, "7 bytes; not applied: InvalidArgument", es[1].Detail)
}
