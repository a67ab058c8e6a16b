package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/sqlite"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "anpi-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	// A real deployment loads its key from a secret store.
	sealer, err := anpi.NewAESSealer("2024", map[string][]byte{"2024": bytes.Repeat([]byte{7}, 32)}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "anpi.db"), &sqlite.Options{Sealer: sealer})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()

	start := time.Date(2024, 1, 1, 7, 10, 0, 0, time.UTC)
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		if err := tx.CreateDepartment(ctx, &anpi.Department{ID: "sales", Name: "営業部"}); err != nil {
			return err
		}
		var rs []anpi.Recipient
		for _, id := range []anpi.UserID{"u1", "u2"} {
			u := &anpi.User{ID: id, EmployeeCode: "E-" + string(id), Name: "社員 " + string(id), Departments: []anpi.DepartmentID{"sales"}, Status: anpi.Active, Locale: anpi.Japanese}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			rs = append(rs, anpi.NewRecipient("quake", u, nil))
		}
		s := &anpi.Survey{ID: "quake", Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(), Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedAt: start, StartedAt: start}
		if err := tx.CreateSurvey(ctx, s); err != nil {
			return err
		}
		_, err := tx.AddRecipients(ctx, "quake", rs)
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Answers go through the group committer: RecordResponse returns once
	// the answer is on disk.
	_, err = st.RecordResponse(ctx, &anpi.Response{
		ID: "r1", SurveyID: "quake", UserID: "u1", Channel: anpi.ViaWeb, At: start.Add(90 * time.Second),
		Answers: []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	tl, err := st.Tally(ctx, "quake")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("answered %d of %d, safe: %d\n", tl.Answered, tl.Targets, tl.Choices[anpi.QuestionSelf]["safe"])
	fmt.Printf("sales: %d of %d\n", tl.Departments["sales"].Answered, tl.Departments["sales"].Targets)
	fmt.Println("median answer time:", tl.AnswerTimes().Median)
	// Output:
	// answered 1 of 2, safe: 1
	// sales: 1 of 2
	// median answer time: 1m30s
}
