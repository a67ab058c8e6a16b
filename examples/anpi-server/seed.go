package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// demo says what seedDemo created.
type demo struct {
	SurveyID anpi.SurveyID
}

// seedDemo fills st with a demo organisation of n users: a department tree,
// users spread over departments and regions (Tokyo, Kanagawa, Osaka,
// Aichi, Miyagi), a private contact for most of them, an administrator, and
// one open survey in which about two thirds have answered.
func seedDemo(ctx context.Context, st anpi.Store, n int, seed uint64, now time.Time) (*demo, error) {
	if n < 1 {
		return nil, fmt.Errorf("want at least 1 demo user, got %d", n)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	depts := []*anpi.Department{
		{ID: "hq", Name: "本社"},
		{ID: "sales", Name: "営業本部", ParentID: "hq", Order: 1},
		{ID: "sales-tokyo", Name: "東京営業部", ParentID: "sales", Order: 1},
		{ID: "sales-osaka", Name: "大阪営業部", ParentID: "sales", Order: 2},
		{ID: "dev", Name: "開発本部", ParentID: "hq", Order: 2},
		{ID: "dev-platform", Name: "基盤開発部", ParentID: "dev", Order: 1},
		{ID: "dev-app", Name: "アプリ開発部", ParentID: "dev", Order: 2},
		{ID: "admin", Name: "管理本部", ParentID: "hq", Order: 3},
		{ID: "general-affairs", Name: "総務部", ParentID: "admin", Order: 1},
		{ID: "hr", Name: "人事部", ParentID: "admin", Order: 2},
	}
	leaves := []anpi.DepartmentID{"sales-tokyo", "sales-osaka", "dev-platform", "dev-app", "general-affairs", "hr"}
	areas := []string{"350", "351", "360", "520", "450", "222"} // 東京都２３区, 多摩東部, 神奈川県東部, 大阪府北部, 愛知県東部, 宮城県中部
	family := []string{"佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"}
	given := []string{"太郎", "花子", "健太", "美咲", "翔", "陽菜", "大輔", "結衣", "拓也", "さくら"}

	var s *demo
	err := st.InTx(ctx, func(tx anpi.Tx) error {
		for _, d := range depts {
			if err := tx.CreateDepartment(ctx, d); err != nil {
				return err
			}
		}
		tree, err := tx.Departments(ctx)
		if err != nil {
			return err
		}
		var users []*anpi.User
		for i := range n {
			u := &anpi.User{
				ID:           anpi.UserID(fmt.Sprintf("u%04d", i+1)),
				EmployeeCode: fmt.Sprintf("E%05d", i+1),
				Name:         family[rng.IntN(len(family))] + " " + given[rng.IntN(len(given))],
				WorkEmail:    fmt.Sprintf("user%04d@example.co.jp", i+1),
				Departments:  []anpi.DepartmentID{leaves[rng.IntN(len(leaves))]},
				Regions:      []anpi.Region{{Kind: anpi.QuakeArea, Code: areas[rng.IntN(len(areas))]}},
				Status:       anpi.Active,
				Locale:       anpi.Japanese,
			}
			if i == 0 {
				u.Name, u.Departments = "管理 者", []anpi.DepartmentID{"general-affairs"}
			}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			users = append(users, u)
			if rng.IntN(10) < 8 { // most users registered a private address
				c := &anpi.Contact{ID: anpi.ContactID(fmt.Sprintf("c%04d", i+1)), UserID: u.ID, Kind: anpi.EmailContact,
					Scope: anpi.PrivateScope, Address: fmt.Sprintf("private%04d@example.net", i+1)}
				if err := tx.PutContact(ctx, c); err != nil {
					return err
				}
			}
		}
		if err := tx.GrantRole(ctx, anpi.RoleGrant{UserID: users[0].ID, Role: anpi.SystemAdmin}); err != nil {
			return err
		}
		survey := &anpi.Survey{
			ID: "demo-1", Kind: anpi.DrillSurvey, Title: "【訓練】震度6弱 東京都２３区", Form: anpi.DefaultForm(),
			Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedBy: users[0].ID,
			CreatedAt: now.Add(-30 * time.Minute), StartedAt: now.Add(-30 * time.Minute), Deadline: now.Add(24 * time.Hour),
		}
		if err := tx.CreateSurvey(ctx, survey); err != nil {
			return err
		}
		recipients := make([]anpi.Recipient, len(users))
		for i, u := range users {
			recipients[i] = anpi.NewRecipient(survey.ID, u, tree)
		}
		if _, err := tx.AddRecipients(ctx, survey.ID, recipients); err != nil {
			return err
		}
		selfCodes := []string{"safe", "safe", "safe", "safe", "minor", "serious"}
		workCodes := []string{"can", "cannot", "undecided"}
		for i, u := range users {
			if rng.IntN(3) == 0 {
				continue // has not answered yet
			}
			r := &anpi.Response{
				ID: anpi.ResponseID(fmt.Sprintf("r%04d", i+1)), SurveyID: survey.ID, UserID: u.ID, Channel: anpi.ViaWeb,
				At: survey.StartedAt.Add(time.Duration(30+rng.IntN(900)) * time.Second),
				Answers: []anpi.Answer{
					{QuestionID: anpi.QuestionSelf, Choices: []string{selfCodes[rng.IntN(len(selfCodes))]}},
					{QuestionID: anpi.QuestionWork, Choices: []string{workCodes[rng.IntN(len(workCodes))]}},
				},
			}
			if _, err := tx.RecordResponse(ctx, r); err != nil {
				return err
			}
		}
		s = &demo{SurveyID: survey.ID}
		return nil
	})
	return s, err
}
