package anpi_test

import (
	"context"
	"fmt"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
)

// Compose a manual send as a draft, test-send it to yourself, then send it.
func ExampleService_SendDraft() {
	ctx := context.Background()
	st := memstore.New(nil)
	_ = st.CreateDepartment(ctx, &anpi.Department{ID: "osaka", Name: "大阪支店"})
	for _, u := range []anpi.UserID{"kimura", "mori", "ueda"} {
		_ = st.CreateUser(ctx, &anpi.User{ID: u, EmployeeCode: string(u), Name: string(u), Status: anpi.Active,
			Locale: anpi.Japanese, Departments: []anpi.DepartmentID{"osaka"}, WorkEmail: string(u) + "@corp.example"})
	}
	_ = st.GrantRole(ctx, anpi.RoleGrant{UserID: "kimura", Role: anpi.CrisisManager, Department: "osaka"})
	svc, err := anpi.New(st, nil)
	if err != nil {
		panic(err)
	}

	draft, err := svc.SaveDraft(ctx, "kimura", &anpi.SendRequest{Title: "大阪支店 台風21号 安否確認",
		Targeting: anpi.Targeting{Departments: []anpi.DepartmentTarget{{ID: "osaka"}}}})
	if err != nil {
		panic(err)
	}
	test, err := svc.SendDraft(ctx, "kimura", draft.ID, "kimura") // to himself first
	if err != nil {
		panic(err)
	}
	fmt.Println(test.Survey.Kind, test.Recipients)
	sent, err := svc.SendDraft(ctx, "kimura", draft.ID)
	if err != nil {
		panic(err)
	}
	fmt.Println(sent.Survey.ID == draft.ID, sent.Survey.Status, sent.Recipients)
	drafts, _ := svc.Drafts(ctx, "kimura")
	fmt.Println(len(drafts), "drafts left")
	// Output:
	// test 1
	// true open 3
	// 0 drafts left
}
