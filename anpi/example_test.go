package anpi_test

import (
	"fmt"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// Build a department tree and ask subtree questions.
func ExampleNewDepartmentTree() {
	tree, err := anpi.NewDepartmentTree([]*anpi.Department{
		{ID: "hq", Name: "本社"},
		{ID: "sales", Name: "営業部", ParentID: "hq"},
		{ID: "tokyo", Name: "東京営業所", ParentID: "sales"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(tree.Ancestors("tokyo"))
	fmt.Println(tree.Within("tokyo", "hq"))
	fmt.Println(tree.CheckMove("hq", "tokyo"))
	// Output:
	// [sales hq]
	// true
	// anpi: move department hq under tokyo: a department cannot move into its own subtree
}

// Check whether a department-scoped crisis manager may start a send.
func ExampleAuthorizer_Authorize() {
	tree, _ := anpi.NewDepartmentTree([]*anpi.Department{
		{ID: "sales", Name: "営業部"},
		{ID: "tokyo", Name: "東京営業所", ParentID: "sales"},
		{ID: "dev", Name: "開発部"},
	})
	az := &anpi.Authorizer{Tree: tree}
	suzuki := anpi.Actor{
		User:   &anpi.User{ID: "suzuki", Status: anpi.Active},
		Grants: []anpi.RoleGrant{{UserID: "suzuki", Role: anpi.CrisisManager, Department: "sales"}},
	}
	fmt.Println(az.Authorize(suzuki, anpi.StartSend, anpi.TargetDepartments("tokyo")))
	err := az.Authorize(suzuki, anpi.StartSend, anpi.TargetDepartments("dev"))
	fmt.Println(anpi.Code(err), err)
	// Output:
	// <nil>
	// PermissionDenied anpi: start_send: user suzuki lacks crisis_manager rights over departments dev
}

// Validate answers to the built-in 安否 form.
func ExampleForm_ValidateAnswers() {
	form := anpi.DefaultForm()
	fmt.Println(form.ValidateAnswers([]anpi.Answer{
		{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}},
		{QuestionID: anpi.QuestionWork, Choices: []string{"cannot"}},
	}))
	fmt.Println(form.ValidateAnswers([]anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"fine"}}}))
	// Output:
	// <nil>
	// anpi: answer "self": unknown choice "fine"
}

// Render one template for email and for SMS (at most 70 characters, the
// answer link kept whole).
func ExampleTemplate_Render() {
	tpl := &anpi.Template{
		ID:      "quake",
		Subject: anpi.Text{Ja: "【安否確認】{event}"},
		Body:    anpi.Text{Ja: "{recipient} 様\n安否を回答してください。\n{url}"},
	}
	v := anpi.Values{Recipient: "山田", Event: "震度6弱 東京都２３区", URL: "https://anpi.example.jp/a/Xk3"}
	mail, _ := tpl.Render(anpi.Japanese, anpi.LongStyle, v)
	sms, _ := tpl.Render(anpi.Japanese, anpi.SMSStyle, v)
	fmt.Println(mail.Subject)
	fmt.Println(mail.Text)
	fmt.Println(sms.Text)
	// Output:
	// 【安否確認】震度6弱 東京都２３区
	// 山田 様
	// 安否を回答してください。
	// https://anpi.example.jp/a/Xk3
	// 【安否確認】震度6弱 東京都２３区 https://anpi.example.jp/a/Xk3
}

// Compute a tally with the per-department roll-up and answer-time quartiles.
func ExampleComputeTally() {
	tree, _ := anpi.NewDepartmentTree([]*anpi.Department{
		{ID: "sales", Name: "営業部"},
		{ID: "tokyo", Name: "東京営業所", ParentID: "sales"},
	})
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	users := []*anpi.User{
		{ID: "a", Departments: []anpi.DepartmentID{"tokyo"}},
		{ID: "b", Departments: []anpi.DepartmentID{"sales"}},
	}
	var rs []anpi.Recipient
	for _, u := range users {
		rs = append(rs, anpi.NewRecipient("s1", u, tree))
	}
	answers := []*anpi.Response{{
		ID: "r1", SurveyID: "s1", UserID: "a", Channel: anpi.ViaWeb, At: start.Add(2 * time.Minute),
		Answers: []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}},
	}}
	t := anpi.ComputeTally("s1", start, rs, answers)
	fmt.Printf("answered %d of %d (%.0f%%)\n", t.Answered, t.Targets, 100*t.ResponseRate())
	fmt.Println("sales subtree:", t.Subtrees["sales"].Answered, "of", t.Subtrees["sales"].Targets)
	fmt.Println("safe:", t.Choices[anpi.QuestionSelf]["safe"])
	fmt.Println("median answer time:", t.AnswerTimes().Median)
	// Output:
	// answered 1 of 2 (50%)
	// sales subtree: 1 of 2
	// safe: 1
	// median answer time: 2m0s
}

// An administrator's view of a user never carries a private address.
func ExampleNewAdminUserView() {
	u := &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "山田", Status: anpi.Active, Locale: anpi.Japanese}
	private := &anpi.Contact{ID: "c1", UserID: "u1", Kind: anpi.EmailContact, Scope: anpi.PrivateScope,
		Address: "yamada@example.net", Check: anpi.ContactCheck{Verified: true}}
	v := anpi.NewAdminUserView(u, []*anpi.Contact{private})
	fmt.Printf("%+v\n", v.Contacts[0])
	// Output:
	// {ID:c1 Kind:email Scope:private Registered:true Verified:true LastChecked:0001-01-01 00:00:00 +0000 UTC LastError: LastErrorAt:0001-01-01 00:00:00 +0000 UTC Broken:false}
}
