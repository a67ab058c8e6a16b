package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
)

// A department tree, three employees, a survey sent to all of them, two
// answers and a correction, and the live tally.
func Example() {
	ctx := context.Background()
	start := time.Date(2024, 1, 1, 7, 10, 0, 0, time.UTC) // 16:10 JST
	st := memstore.New(&memstore.Options{Now: func() time.Time { return start }})
	defer st.Close()

	for _, d := range []*anpi.Department{
		{ID: "hq", Name: "本社"},
		{ID: "sales", Name: "営業部", ParentID: "hq"},
		{ID: "kanazawa", Name: "金沢営業所", ParentID: "sales"},
	} {
		if err := st.CreateDepartment(ctx, d); err != nil {
			fmt.Println(err)
			return
		}
	}
	users := []*anpi.User{
		{ID: "u1", EmployeeCode: "E001", Name: "山田 太郎", Departments: []anpi.DepartmentID{"kanazawa"}, Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "u2", EmployeeCode: "E002", Name: "佐藤 花子", Departments: []anpi.DepartmentID{"sales"}, Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "u3", EmployeeCode: "E003", Name: "John Smith", Departments: []anpi.DepartmentID{"hq"}, Status: anpi.Active, Locale: anpi.English},
	}
	survey := &anpi.Survey{ID: "quake-0101", Kind: anpi.AutoSurvey, Title: "震度7 石川県能登", Form: anpi.DefaultForm(),
		Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, StartedAt: start}

	// The directory, the survey and its recipients in one transaction.
	err := st.InTx(ctx, func(tx anpi.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		if err := tx.CreateSurvey(ctx, survey); err != nil {
			return err
		}
		tree, err := tx.Departments(ctx)
		if err != nil {
			return err
		}
		var rs []anpi.Recipient
		for _, u := range users {
			rs = append(rs, anpi.NewRecipient(survey.ID, u, tree))
		}
		_, err = tx.AddRecipients(ctx, survey.ID, rs)
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	answer := func(id string, u anpi.UserID, after time.Duration, self, work string) {
		r := &anpi.Response{ID: anpi.ResponseID(id), SurveyID: survey.ID, UserID: u, Channel: anpi.ViaWeb, At: start.Add(after),
			Answers: []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{self}}, {QuestionID: anpi.QuestionWork, Choices: []string{work}}}}
		if _, err := st.RecordResponse(ctx, r); err != nil {
			fmt.Println(err)
		}
	}
	answer("r1", "u1", 2*time.Minute, "minor", "cannot")
	answer("r2", "u2", 4*time.Minute, "safe", "can")
	answer("r3", "u1", 9*time.Minute, "safe", "cannot") // u1 corrects his answer
	answer("r3", "u1", 9*time.Minute, "safe", "cannot") // a retried request counts once

	tl, err := st.Tally(ctx, survey.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("answered %d of %d (%.0f%%)\n", tl.Answered, tl.Targets, 100*tl.ResponseRate())
	fmt.Println("本人:", tl.Choices[anpi.QuestionSelf])
	fmt.Println("出社:", tl.Choices[anpi.QuestionWork])
	for _, d := range []anpi.DepartmentID{"hq", "sales", "kanazawa"} {
		g := tl.Subtrees[d]
		fmt.Printf("subtree %s: %d of %d answered\n", d, g.Answered, g.Targets)
	}
	fmt.Println("median answer time:", tl.AnswerTimes().Median)
	hist, _ := st.ResponseHistory(ctx, survey.ID, "u1")
	fmt.Println("answers kept for u1:", len(hist))
	// Output:
	// answered 2 of 3 (67%)
	// 本人: map[safe:2]
	// 出社: map[can:1 cannot:1]
	// subtree hq: 2 of 3 answered
	// subtree sales: 2 of 2 answered
	// subtree kanazawa: 1 of 1 answered
	// median answer time: 2m0s
	// answers kept for u1: 2
}

// The outbox: enqueue deliveries with the survey, then workers claim them
// under a lease and record the result.
func ExampleStore_ClaimDeliveries() {
	ctx := context.Background()
	now := time.Date(2024, 1, 1, 7, 10, 0, 0, time.UTC)
	st := memstore.New(nil)
	defer st.Close()

	err := st.InTx(ctx, func(tx anpi.Tx) error {
		s := &anpi.Survey{ID: "s1", Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(), Status: anpi.Open, CreatedAt: now}
		if err := tx.CreateSurvey(ctx, s); err != nil {
			return err
		}
		_, err := tx.EnqueueDeliveries(ctx, []*anpi.Delivery{
			{ID: "d1", SurveyID: "s1", UserID: "u1", Channel: anpi.EmailChannel, State: anpi.Queued, NextAttemptAt: now},
			{ID: "d2", SurveyID: "s1", UserID: "u2", Channel: anpi.EmailChannel, State: anpi.Queued, NextAttemptAt: now},
			{ID: "d3", SurveyID: "s1", UserID: "u3", Channel: anpi.LINEChannel, State: anpi.SkippedNoContact},
		})
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	ds, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "worker-1", Limit: 10, Lease: time.Minute, Now: now})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range ds {
		fmt.Println("claimed", d.ID, d.State, "attempt", d.Attempts)
	}
	_ = st.CompleteDelivery(ctx, "d1", "worker-1", anpi.SendResult{ProviderID: "msg-1", At: now.Add(time.Second)})
	_ = st.FailDelivery(ctx, "d2", "worker-1", anpi.SendFailure{Error: "421 busy", At: now.Add(time.Second), RetryAt: now.Add(time.Minute)})

	counts, _ := st.CountDeliveries(ctx, "s1")
	fmt.Println(counts)
	ds, _ = st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "worker-2", Limit: 10, Lease: time.Minute, Now: now.Add(time.Minute)})
	fmt.Println("retried:", ds[0].ID, "attempt", ds[0].Attempts)
	// Output:
	// claimed d1 sending attempt 1
	// claimed d2 sending attempt 1
	// map[failed_temporary:1 sent:1 skipped_no_contact:1]
	// retried: d2 attempt 2
}
