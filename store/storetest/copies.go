package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// testCopies changes objects after passing them in and after getting them
// back: the store must not notice.
func testCopies(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustDept(t, st, "hq", "")
	mustDept(t, st, "sales", "hq")

	t.Run("User", func(t *testing.T) {
		u := newUser("u1", "E1", "hq")
		u.Groups = []string{"g"}
		u.Regions = []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}}
		want := u.Clone()
		mustUser(t, st, u)
		u.Name, u.Departments[0], u.Groups[0], u.Regions[0].Code = "x", "sales", "x", "999"
		got, err := st.GetUser(ctx, "u1")
		require.NoError(t, err)
		require.Equal(t, want, got, "changing the input")
		got.Name, got.Departments[0], got.Groups[0], got.Regions[0].Code = "x", "sales", "x", "999"
		list, err := st.ListUsers(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, []*anpi.User{want}, list, "changing the output")
		list[0].Departments[0] = "sales"
		got, err = st.GetUserByEmployeeCode(ctx, "E1")
		require.NoError(t, err)
		require.Equal(t, want, got, "changing a listed user")
	})
	t.Run("Department", func(t *testing.T) {
		d := &anpi.Department{ID: "plant", Name: "工場"}
		require.NoError(t, st.CreateDepartment(ctx, d))
		d.ParentID = "hq"
		got, err := st.GetDepartment(ctx, "plant")
		require.NoError(t, err)
		require.Equal(t, anpi.DepartmentID(""), got.ParentID)
		got.Name = "x"
		got, err = st.GetDepartment(ctx, "plant")
		require.NoError(t, err)
		require.Equal(t, "工場", got.Name)
	})
	t.Run("Contact", func(t *testing.T) {
		c := contact("c1", "u1", anpi.EmailContact, anpi.PrivateScope, "me@home.example.jp")
		require.NoError(t, st.PutContact(ctx, c))
		c.Address = "other@home.example.jp"
		got, err := st.GetContact(ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, "me@home.example.jp", got.Address)
		got.Address = "x@example.jp"
		list, err := st.Contacts(ctx, "u1")
		require.NoError(t, err)
		require.Equal(t, "me@home.example.jp", list[0].Address)
		list[0].Address = "x@example.jp"
		v, err := st.AdminUserView(ctx, "u1")
		require.NoError(t, err)
		v.User.Departments[0] = "sales"
		v.Contacts[0].Broken = true
		got, err = st.GetContact(ctx, "c1")
		require.NoError(t, err)
		require.Equal(t, "me@home.example.jp", got.Address)
		require.False(t, got.Check.Broken)
		u, err := st.GetUser(ctx, "u1")
		require.NoError(t, err)
		require.Equal(t, []anpi.DepartmentID{"hq"}, u.Departments)
	})
	t.Run("Config", func(t *testing.T) {
		f := anpi.DefaultForm()
		require.NoError(t, st.PutForm(ctx, f))
		f.Questions[0].Choices[0].Code = "x"
		got, err := st.GetForm(ctx, f.ID)
		require.NoError(t, err)
		require.Equal(t, anpi.DefaultForm(), got)
		got.Questions[0].Choices[0].Code = "x"
		list, err := st.ListForms(ctx)
		require.NoError(t, err)
		require.Equal(t, []*anpi.Form{anpi.DefaultForm()}, list)

		tp := &anpi.Template{ID: "t", Subject: anpi.Text{Ja: "件名"}, Body: anpi.Text{Ja: "本文"}}
		require.NoError(t, st.PutTemplate(ctx, tp))
		tp.Subject.Ja = "x"
		gt, err := st.GetTemplate(ctx, "t")
		require.NoError(t, err)
		require.Equal(t, "件名", gt.Subject.Ja)

		spec := json.RawMessage(`{"a":1}`)
		require.NoError(t, st.PutRule(ctx, &anpi.RuleRecord{ID: "r", Spec: spec, UpdatedAt: t0()}))
		spec[5] = '9'
		r, err := st.GetRule(ctx, "r")
		require.NoError(t, err)
		require.JSONEq(t, `{"a":1}`, string(r.Spec))
		r.Spec[5] = '9'
		rs, err := st.ListRules(ctx)
		require.NoError(t, err)
		require.JSONEq(t, `{"a":1}`, string(rs[0].Spec))
	})
	t.Run("Survey", func(t *testing.T) {
		s := newSurvey("s", anpi.Open, t0())
		s.Trigger = &anpi.Trigger{EventID: "e"}
		s.Targeting.Users = []anpi.UserID{"u1"}
		want := s.Clone()
		mustSurvey(t, st, s)
		s.Form.Questions[0].Choices[0].Code = "x"
		s.Trigger.EventID = "x"
		s.Targeting.Users[0] = "x"
		got, err := st.GetSurvey(ctx, "s")
		require.NoError(t, err)
		require.Equal(t, want, got)
		got.Form.Questions[0].Choices[0].Code = "x"
		got.Trigger.EventID = "x"
		list, err := st.ListSurveys(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, []*anpi.Survey{want}, list)

		u, err := st.GetUser(ctx, "u1")
		require.NoError(t, err)
		rec := recipient(t, st, "s", u)
		wantRec := rec.Clone()
		rs := []anpi.Recipient{rec}
		_, err = st.AddRecipients(ctx, "s", rs)
		require.NoError(t, err)
		rs[0].Departments[0] = "x"
		rs[0].Scope[0] = "x"
		gr, err := st.GetRecipient(ctx, "s", "u1")
		require.NoError(t, err)
		require.Equal(t, wantRec, *gr)
		gr.Scope[0] = "x"
		all, err := st.Recipients(ctx, "s")
		require.NoError(t, err)
		require.Equal(t, []anpi.Recipient{wantRec}, all)
		all[0].Departments[0] = "x"

		d := newDelivery("d", "s", "u1", anpi.EmailChannel, t0())
		_, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{d})
		require.NoError(t, err)
		d.State = anpi.Sent
		claimed := claim(t, st, "w", 1, at(time.Minute))
		require.Len(t, claimed, 1, "the input's state did not change the store")
		claimed[0].LeaseOwner = "thief"
		require.NoError(t, st.CompleteDelivery(ctx, "d", "w", anpi.SendResult{At: at(time.Minute)}), "changing a claimed copy does not move the lease")

		r := newResponse("r", "s", "u1", at(time.Minute), "safe", "")
		_, err = st.RecordResponse(ctx, r)
		require.NoError(t, err)
		r.Answers[0].Choices[0] = "serious"
		got2, err := st.GetResponse(ctx, "s", "u1")
		require.NoError(t, err)
		require.Equal(t, []string{"safe"}, got2.Answers[0].Choices)
		got2.Answers[0].Choices[0] = "serious"
		hist, err := st.ResponseHistory(ctx, "s", "u1")
		require.NoError(t, err)
		require.Equal(t, []string{"safe"}, hist[0].Answers[0].Choices)
		hist[0].Answers[0].Choices[0] = "serious"
		resps, err := st.Responses(ctx, "s")
		require.NoError(t, err)
		require.Equal(t, []string{"safe"}, resps[0].Answers[0].Choices)

		tl, err := st.Tally(ctx, "s")
		require.NoError(t, err)
		tl.Answered = 99
		tl.Choices[anpi.QuestionSelf]["safe"] = 99
		tl.Departments["hq"].Answered = 99
		tl.Subtrees["hq"].Targets = 99
		tl.AnswerSeconds[60] = 99
		requireTallyMatchesRecount(t, st, "s", "changing a returned tally")
	})
	t.Run("Audit", func(t *testing.T) {
		e := &anpi.AuditEntry{At: t0(), Action: "a", Detail: "d"}
		_, err := st.AppendAudit(ctx, e)
		require.NoError(t, err)
		e.Detail = "x"
		list, err := st.ListAudit(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, "d", list[0].Detail)
		list[0].Detail = "x"
		list, err = st.ListAudit(ctx, nil)
		require.NoError(t, err)
		require.Equal(t, "d", list[0].Detail)
	})
}
