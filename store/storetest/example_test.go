package storetest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
	"github.com/anpikit/anpi/store/storetest"
)

// A store package runs the suite from a test of its own. (An example cannot
// receive a *testing.T, so this one only shows the call.)
func ExampleRun() {
	conformance := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) anpi.Store { return memstore.New(nil) })
	}
	_ = conformance // in mystore_test.go: func TestConformance(t *testing.T) { ... }
}

// VerifyTally compares a survey's live counters with a recount from its
// recipients and answers.
func ExampleVerifyTally() {
	ctx := context.Background()
	start := time.Date(2024, 1, 1, 7, 10, 0, 0, time.UTC)
	st := memstore.New(nil)
	defer st.Close()

	survey := &anpi.Survey{ID: "s1", Kind: anpi.DrillSurvey, Title: "防災訓練", Form: anpi.DefaultForm(),
		Status: anpi.Open, CreatedAt: start, StartedAt: start}
	u := &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "山田 太郎", Status: anpi.Active, Locale: anpi.Japanese}
	err := st.InTx(ctx, func(tx anpi.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := tx.CreateSurvey(ctx, survey); err != nil {
			return err
		}
		_, err := tx.AddRecipients(ctx, "s1", []anpi.Recipient{anpi.NewRecipient("s1", u, nil)})
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, self := range []string{"minor", "safe"} { // an answer, then a correction
		_, err := st.RecordResponse(ctx, &anpi.Response{ID: anpi.ResponseID(fmt.Sprint("r", i)), SurveyID: "s1", UserID: "u1",
			Answers: []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{self}}},
			Channel: anpi.ViaWeb, At: start.Add(time.Duration(i+1) * time.Minute)})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println("counters agree with a recount:", storetest.VerifyTally(ctx, st, "s1") == nil)
	// Output:
	// counters agree with a recount: true
}
