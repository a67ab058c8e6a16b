package anpi_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// exportEnv is a survey to everyone, sent by admin (a company-wide system
// administrator), with three answers:
//
//	noto    at +1 min (admin): 無事, cannot come to work, message "=1+1"
//	kaga    at +2 min (sms):   無事
//	joetsu  at +3 min (line):  軽傷, can come to work
//
// noto's push was sent. noto is a Manager of 金沢支店, kaga a company-wide
// Manager; toyama is renamed "@toyama"; broken has left the company.
func exportEnv(t *testing.T) (*env, anpi.SurveyID) {
	e := newEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.SystemAdmin}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.Manager, Department: "kanazawa"}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "kaga", Role: anpi.Manager}))
	got, err := e.svc.StartSurvey(e.ctx, "admin", &anpi.SendRequest{Title: "安否確認", Targeting: anpi.Targeting{Everyone: true}})
	require.NoError(t, err)
	sv := got.Survey.ID
	e.settle(sv, map[string]anpi.DeliveryState{"noto/fcm/0": anpi.Sent})
	answer := func(user string, after time.Duration, via anpi.ResponseChannel, as ...anpi.Answer) {
		e.clock.Advance(t0.Add(after).Sub(e.clock.Now()))
		_, err := e.svc.AnswerAs(e.ctx, sv, anpi.UserID(user), as, via)
		require.NoError(t, err)
	}
	answer("noto", time.Minute, anpi.ViaAdmin, anpi.Answer{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}},
		anpi.Answer{QuestionID: anpi.QuestionWork, Choices: []string{"cannot"}}, anpi.Answer{QuestionID: anpi.QuestionMessage, Text: "=1+1"})
	answer("kaga", 2*time.Minute, anpi.ViaSMS, anpi.Answer{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}})
	answer("joetsu", 3*time.Minute, anpi.ViaLINE, anpi.Answer{QuestionID: anpi.QuestionSelf, Choices: []string{"minor"}},
		anpi.Answer{QuestionID: anpi.QuestionWork, Choices: []string{"can"}})
	u, err := e.st.GetUser(e.ctx, "toyama")
	require.NoError(t, err)
	u.Name = "@toyama"
	require.NoError(t, e.st.UpdateUser(e.ctx, u))
	require.NoError(t, e.st.DeleteUser(e.ctx, "broken"))
	e.clock.Advance(time.Hour)
	return e, sv
}

// export runs ExportCSV and parses what it wrote, checking the byte order
// mark.
func (e *env) export(actor anpi.UserID, sv anpi.SurveyID, f *anpi.ExportFilter) ([][]string, error) {
	e.t.Helper()
	var buf bytes.Buffer
	err := e.svc.ExportCSV(e.ctx, actor, sv, f, &buf)
	if err != nil {
		require.Zero(e.t, buf.Len(), "a failed export writes nothing")
		return nil, err
	}
	data, ok := bytes.CutPrefix(buf.Bytes(), []byte("\ufeff"))
	require.True(e.t, ok, "UTF-8 with a byte order mark")
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	require.NoError(e.t, err)
	return rows, nil
}

func TestExportCSV(t *testing.T) {
	e, sv := exportEnv(t)
	rows, err := e.export("admin", sv, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"社員番号", "利用者ID", "氏名", "部署", "地域", "回答", "あなたの状況", "家族の状況", "家屋の状況", "出社", "メッセージ",
		"回答日時", "回答経路", "連絡手段"}, rows[0])
	require.Equal(t, [][]string{
		{"E-admin", "admin", "admin san", "本社", "quake:350", "未回答", "", "", "", "", "", "", "", ""},
		{"E-joetsu", "joetsu", "joetsu san", "金沢支店", "quake:370", "回答済", "軽傷", "", "", "可能", "", "2024-01-01 16:28:00", "line", ""},
		{"E-kaga", "kaga", "kaga san", "金沢支店", "quake:391", "回答済", "無事", "", "", "", "", "2024-01-01 16:27:00", "sms", ""},
		{"E-nobody", "nobody", "nobody san", "金沢支店", "quake:390", "未回答", "", "", "", "", "", "", "", ""},
		{"E-noto", "noto", "noto san", "金沢支店", "quake:390", "回答済", "無事", "", "", "不可能", "'=1+1", "2024-01-01 16:26:00", "admin", "fcm"},
		{"E-tokyo", "tokyo", "tokyo san", "金沢支店", "quake:350", "未回答", "", "", "", "", "", "", "", ""},
		{"E-toyama", "toyama", "'@toyama", "金沢支店", "quake:380", "未回答", "", "", "", "", "", "", "", ""},
		{"", "broken", "（削除済み）", "金沢支店", "quake:390", "未回答", "", "", "", "", "", "", "", ""},
	}, rows[1:], "by employee code, those who left last; formulas escaped; times in JST")

	es, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: string(sv)})
	require.NoError(t, err)
	last := es[len(es)-1]
	require.Equal(t, "survey.export", last.Action)
	require.Equal(t, anpi.UserID("admin"), last.Actor)
	require.Equal(t, "survey", last.TargetKind)
	require.Equal(t, e.clock.Now(), last.At)
	require.Equal(t, "csv: 8 rows; filter: everyone", last.Detail)

	// An English reader gets English headers and labels.
	rows, err = e.export("kaga", sv, &anpi.ExportFilter{Question: anpi.QuestionSelf, Choices: []string{"minor", "serious"}})
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"employee_code", "user_id", "name", "departments", "regions", "answered", "Your condition", "Your family", "Your home", "Coming to work", "Message",
			"answered_at", "answered_via", "reached_on"},
		{"E-joetsu", "joetsu", "joetsu san", "金沢支店", "quake:370", "yes", "Minor injury", "", "", "Possible", "", "2024-01-01 16:28:00", "line", ""},
	}, rows)
}

func TestExportCSVFilters(t *testing.T) {
	e, sv := exportEnv(t)
	for _, tc := range []struct {
		name   string
		filter *anpi.ExportFilter
		users  []string
	}{
		{"nil", nil, []string{"admin", "joetsu", "kaga", "nobody", "noto", "tokyo", "toyama", "broken"}},
		{"empty", &anpi.ExportFilter{}, []string{"admin", "joetsu", "kaga", "nobody", "noto", "tokyo", "toyama", "broken"}},
		{"department with its subtree", &anpi.ExportFilter{Department: "hq"}, []string{"admin", "joetsu", "kaga", "nobody", "noto", "tokyo", "toyama", "broken"}},
		{"department", &anpi.ExportFilter{Department: "kanazawa"}, []string{"joetsu", "kaga", "nobody", "noto", "tokyo", "toyama", "broken"}},
		{"unknown department", &anpi.ExportFilter{Department: "osaka"}, nil},
		{"region", &anpi.ExportFilter{Region: anpi.Region{Kind: anpi.QuakeArea, Code: "390"}}, []string{"nobody", "noto", "broken"}},
		{"chose", &anpi.ExportFilter{Question: anpi.QuestionWork, Choices: []string{"cannot"}}, []string{"noto"}},
		{"chose any of", &anpi.ExportFilter{Question: anpi.QuestionSelf, Choices: []string{"safe", "minor"}}, []string{"joetsu", "kaga", "noto"}},
		{"not answered", &anpi.ExportFilter{NotAnswered: true}, []string{"admin", "nobody", "tokyo", "toyama", "broken"}},
		{"all at once", &anpi.ExportFilter{Department: "kanazawa", Region: anpi.Region{Kind: anpi.QuakeArea, Code: "390"}, NotAnswered: true}, []string{"nobody", "broken"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := e.export("admin", sv, tc.filter)
			require.NoError(t, err)
			var users []string
			for _, r := range rows[1:] {
				users = append(users, r[1])
			}
			require.Equal(t, tc.users, users)
		})
	}
	es, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{Actor: "admin", TargetID: string(sv)})
	require.NoError(t, err)
	require.Equal(t, "csv: 2 rows; filter: department kanazawa (with its subtree), region quake:390, not answered", es[len(es)-1].Detail)
}

func TestExportCSVErrors(t *testing.T) {
	e, sv := exportEnv(t)
	before := len(e.audits(string(sv)))
	for _, tc := range []struct {
		name   string
		actor  anpi.UserID
		survey anpi.SurveyID
		filter *anpi.ExportFilter
		code   anpi.ErrorCode
		msg    string
	}{
		{"no role", "tokyo", sv, nil, anpi.PermissionDenied, "user tokyo lacks manager rights over the company"},
		{"scoped manager, whole company", "noto", sv, nil, anpi.PermissionDenied, "user noto lacks manager rights over the company"},
		{"scoped manager, another department", "noto", sv, &anpi.ExportFilter{Department: "hq"}, anpi.PermissionDenied, "over departments hq"},
		{"unknown actor", "ghost", sv, nil, anpi.NotFound, "ghost"},
		{"unknown survey", "admin", "nope", nil, anpi.NotFound, "nope"},
		{"unknown question", "admin", sv, &anpi.ExportFilter{Question: "pets", Choices: []string{"cat"}}, anpi.InvalidArgument, `question "pets" is not in the survey's form`},
		{"unknown choice", "admin", sv, &anpi.ExportFilter{Question: anpi.QuestionSelf, Choices: []string{"fine"}}, anpi.InvalidArgument, `question "self" has no choice "fine"`},
		{"question without choices", "admin", sv, &anpi.ExportFilter{Question: anpi.QuestionSelf}, anpi.InvalidArgument, "question and choices go together"},
		{"free text", "admin", sv, &anpi.ExportFilter{Question: anpi.QuestionMessage, Choices: []string{"x"}}, anpi.InvalidArgument, "free text"},
		{"not answered and chose", "admin", sv, &anpi.ExportFilter{NotAnswered: true, Question: anpi.QuestionSelf, Choices: []string{"safe"}}, anpi.InvalidArgument, "notAnswered excludes"},
		{"bad region", "admin", sv, &anpi.ExportFilter{Region: anpi.Region{Kind: anpi.QuakeArea, Code: "35"}}, anpi.InvalidArgument, "3 digits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.export(tc.actor, tc.survey, tc.filter)
			require.Equal(t, tc.code, anpi.Code(err), "%v", err)
			require.ErrorContains(t, err, tc.msg)
			_, err = e.svc.Tally(e.ctx, tc.actor, tc.survey, tc.filter)
			require.Equal(t, tc.code, anpi.Code(err), "tally: %v", err)
		})
	}
	require.Len(t, e.audits(string(sv)), before, "a refused export is not an export")
	require.Equal(t, anpi.InvalidArgument, anpi.Code(e.svc.ExportCSV(e.ctx, "admin", sv, nil, nil)))

	// A manager of 金沢支店 exports his department, and all of a send to it.
	rows, err := e.export("noto", sv, &anpi.ExportFilter{Department: "kanazawa"})
	require.NoError(t, err)
	require.Len(t, rows, 8)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.CrisisManager, Department: "kanazawa"}))
	got, err := e.svc.StartSurvey(e.ctx, "noto", &anpi.SendRequest{Title: "金沢支店", Targeting: anpi.Targeting{
		Departments: []anpi.DepartmentTarget{{ID: "kanazawa"}}}})
	require.NoError(t, err)
	rows, err = e.export("noto", got.Survey.ID, nil)
	require.NoError(t, err)
	require.Len(t, rows, 7, "header and the six active members left")
}

func TestServiceTally(t *testing.T) {
	e, sv := exportEnv(t)
	all, err := e.svc.Tally(e.ctx, "admin", sv, nil)
	require.NoError(t, err)
	require.False(t, all.Filtered)
	stored, err := e.st.Tally(e.ctx, sv)
	require.NoError(t, err)
	require.Equal(t, stored, all.Tally, "the store's counters")
	require.Equal(t, sv, all.Survey.ID)
	require.Equal(t, anpi.Quartiles{Q1: time.Minute, Median: 2 * time.Minute, Q3: 3 * time.Minute}, all.AnswerTimes)

	for _, tc := range []struct {
		name              string
		actor             anpi.UserID
		filter            *anpi.ExportFilter
		targets, answered int
		times             anpi.Quartiles
	}{
		{"empty filter", "admin", &anpi.ExportFilter{}, 8, 3, all.AnswerTimes},
		{"department", "noto", &anpi.ExportFilter{Department: "kanazawa"}, 7, 3, all.AnswerTimes},
		{"chose safe", "kaga", &anpi.ExportFilter{Question: anpi.QuestionSelf, Choices: []string{"safe"}}, 2, 2,
			anpi.Quartiles{Q1: time.Minute, Median: time.Minute, Q3: 2 * time.Minute}},
		{"not answered", "admin", &anpi.ExportFilter{NotAnswered: true}, 5, 0, anpi.Quartiles{}},
		{"region", "admin", &anpi.ExportFilter{Region: anpi.Region{Kind: anpi.QuakeArea, Code: "370"}}, 1, 1,
			anpi.Quartiles{Q1: 3 * time.Minute, Median: 3 * time.Minute, Q3: 3 * time.Minute}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := e.svc.Tally(e.ctx, tc.actor, sv, tc.filter)
			require.NoError(t, err)
			require.Equal(t, !tc.filter.IsEmpty(), v.Filtered)
			require.Equal(t, tc.targets, v.Tally.Targets)
			require.Equal(t, tc.answered, v.Tally.Answered)
			require.Equal(t, tc.times, v.AnswerTimes)
		})
	}
	v, err := e.svc.Tally(e.ctx, "admin", sv, &anpi.ExportFilter{Department: "kanazawa"})
	require.NoError(t, err)
	require.Equal(t, 2, v.Tally.Choices[anpi.QuestionSelf]["safe"])
	require.Equal(t, 7, v.Tally.Subtrees["kanazawa"].Targets)
	require.NotContains(t, v.Tally.Departments, anpi.DepartmentID("hq"), "admin of 本社 is filtered out")
}

func TestExportFilterString(t *testing.T) {
	var f *anpi.ExportFilter
	require.True(t, f.IsEmpty())
	require.Equal(t, "everyone", f.String())
	require.NoError(t, f.Validate(nil))
	require.True(t, f.Match(anpi.Recipient{}, nil))
	f = &anpi.ExportFilter{Question: anpi.QuestionWork, Choices: []string{"cannot", "undecided"}}
	require.Equal(t, "question work chose cannot|undecided", f.String())
	require.False(t, strings.Contains(f.String(), "not answered"))
}
