package anpi_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
)

// exampleCompany is a store with 本社 and 大阪支店, two employees, an
// administrator (Sato, a company-wide system administrator), and a send
// from Sato to both employees with one reminder after 30 minutes. Both
// first messages went out; Yamada answered. now is the clock.
func exampleCompany(ctx context.Context, now *time.Time) (*anpi.Service, anpi.Store, anpi.SurveyID, error) {
	clock := func() time.Time { return *now }
	st := memstore.New(&memstore.Options{Now: clock})
	for _, d := range []*anpi.Department{{ID: "hq", Name: "本社"}, {ID: "osaka", Name: "大阪支店", ParentID: "hq"}} {
		if err := st.CreateDepartment(ctx, d); err != nil {
			return nil, nil, "", err
		}
	}
	for _, u := range []*anpi.User{
		{ID: "sato", EmployeeCode: "E0", Name: "佐藤 花子", WorkEmail: "sato@corp.example", Departments: []anpi.DepartmentID{"hq"}, Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "yamada", EmployeeCode: "E1", Name: "山田 太郎", WorkEmail: "yamada@corp.example", Departments: []anpi.DepartmentID{"osaka"}, Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "suzuki", EmployeeCode: "E2", Name: "鈴木 一郎", WorkEmail: "suzuki@corp.example", Departments: []anpi.DepartmentID{"osaka"}, Status: anpi.Active, Locale: anpi.Japanese},
	} {
		if err := st.CreateUser(ctx, u); err != nil {
			return nil, nil, "", err
		}
	}
	if err := st.GrantRole(ctx, anpi.RoleGrant{UserID: "sato", Role: anpi.SystemAdmin}); err != nil {
		return nil, nil, "", err
	}
	svc, err := anpi.New(st, &anpi.Options{Clock: clock, BaseURL: "https://anpi.corp.example"})
	if err != nil {
		return nil, nil, "", err
	}
	started, err := svc.StartSurvey(ctx, "sato", &anpi.SendRequest{
		Title:     "大阪府北部の地震",
		Targeting: anpi.Targeting{Departments: []anpi.DepartmentTarget{{ID: "osaka"}}},
		Reminders: anpi.ReminderPolicy{Count: 1, Interval: 30 * time.Minute},
		Admins:    []anpi.UserID{"sato"},
	})
	if err != nil {
		return nil, nil, "", err
	}
	sv := started.Survey.ID
	// The dispatcher's side: both first messages go out.
	ds, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "example", Limit: 10, Lease: time.Minute, Now: *now})
	if err != nil {
		return nil, nil, "", err
	}
	for _, d := range ds {
		if err := st.CompleteDelivery(ctx, d.ID, "example", anpi.SendResult{At: *now}); err != nil {
			return nil, nil, "", err
		}
	}
	*now = now.Add(3 * time.Minute)
	_, err = svc.AnswerAs(ctx, sv, "yamada", []anpi.Answer{
		{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}},
		{QuestionID: anpi.QuestionWork, Choices: []string{"cannot"}},
		{QuestionID: anpi.QuestionMessage, Text: "=自宅待機します"},
	}, anpi.ViaWeb)
	return svc, st, sv, err
}

// Ten minutes after a send its administrators get a summary; each
// reminder round goes to those who have not answered. Run calls Tick, which
// calls FollowUp; here the clock is moved by hand.
func ExampleService_FollowUp() {
	ctx := context.Background()
	now := time.Date(2030, 4, 1, 1, 0, 0, 0, time.UTC) // 10:00 JST
	svc, st, sv, err := exampleCompany(ctx, &now)
	if err != nil {
		fmt.Println(err)
		return
	}

	render := func(f anpi.FollowUp) {
		ds, _ := st.Deliveries(ctx, sv)
		for _, d := range ds {
			if d.Round != f.Round {
				continue
			}
			m, _, err := svc.Render(ctx, d)
			if err != nil {
				fmt.Println(err)
				return
			}
			fmt.Printf("to %s via %s: %s\n", d.UserID, d.Channel, m.Subject)
			if f.Round == anpi.SummaryRound {
				_, table, _ := strings.Cut(m.Text, "■ 部署別")
				fmt.Print("■ 部署別" + table)
			}
		}
	}
	for _, after := range []time.Duration{10 * time.Minute, 30 * time.Minute} {
		now = time.Date(2030, 4, 1, 1, 0, 0, 0, time.UTC).Add(after)
		done, err := svc.FollowUp(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, f := range done {
			render(f)
		}
	}
	// Output:
	// to sato via email: 【集計】大阪府北部の地震：回答率 50.0%（2人中1人）
	// ■ 部署別（下位部署を含む）
	//   対象  回答  回答率  部署
	//      2     1   50.0%  本社
	//      2     1   50.0%    大阪支店
	// to suzuki via email: 【再通知】【安否確認】大阪府北部の地震
}

// An administrator exports the answers for Excel: UTF-8 with a byte order
// mark, cells that could start a formula escaped, times in Japan time. The
// export is audited.
func ExampleService_ExportCSV() {
	ctx := context.Background()
	now := time.Date(2030, 4, 1, 1, 0, 0, 0, time.UTC)
	svc, _, sv, err := exampleCompany(ctx, &now)
	if err != nil {
		fmt.Println(err)
		return
	}
	var buf bytes.Buffer
	if err := svc.ExportCSV(ctx, "sato", sv, &anpi.ExportFilter{Department: "osaka"}, &buf); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(strings.TrimPrefix(buf.String(), "\ufeff"))

	v, err := svc.Tally(ctx, "sato", sv, &anpi.ExportFilter{Question: anpi.QuestionWork, Choices: []string{"cannot"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("cannot come to work: %d, answered after %s (median)\n", v.Tally.Targets, v.AnswerTimes.Median)

	log, _ := svc.Audit(ctx, "sato", &anpi.AuditQuery{TargetID: string(sv)})
	for _, e := range log {
		fmt.Println(e.Actor, e.Action, e.Detail)
	}
	// Output:
	// 社員番号,利用者ID,氏名,部署,地域,回答,あなたの状況,家族の状況,家屋の状況,出社,メッセージ,回答日時,回答経路,連絡手段
	// E1,yamada,山田 太郎,大阪支店,,回答済,無事,,,不可能,'=自宅待機します,2030-04-01 10:03:00,web,email
	// E2,suzuki,鈴木 一郎,大阪支店,,未回答,,,,,,,,email
	// cannot come to work: 1, answered after 3m0s (median)
	// sato survey.start 2 recipients, 2 deliveries queued, 0 without a contact
	// sato survey.export csv: 2 rows; filter: department osaka (with its subtree)
}
