package anpi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTargetingMatch(t *testing.T) {
	tree := testTree(t)
	u := &User{ID: "u1", Departments: []DepartmentID{"shibuya"}, Groups: []string{"防災班"}, Title: "部長", Regions: []Region{{QuakeArea, "350"}}, Status: Active}
	prev := map[UserID]*Response{"u1": answer("s0", "u1", time.Minute, "minor")}
	lookup := func(s SurveyID, id UserID) *Response {
		if s != "s0" {
			return nil
		}
		return prev[id]
	}
	for _, tc := range []struct {
		name string
		t    Targeting
		want bool
	}{
		{"everyone", Targeting{Everyone: true}, true},
		{"nothing", Targeting{}, false},
		{"direct department", Targeting{Departments: []DepartmentTarget{{ID: "shibuya"}}}, true},
		{"parent without subtree", Targeting{Departments: []DepartmentTarget{{ID: "sales"}}}, false},
		{"parent with subtree", Targeting{Departments: []DepartmentTarget{{ID: "sales", IncludeSubtree: true}}}, true},
		{"other subtree", Targeting{Departments: []DepartmentTarget{{ID: "dev", IncludeSubtree: true}}}, false},
		{"group", Targeting{Groups: []string{"防災班"}}, true},
		{"title", Targeting{Titles: []string{"部長"}}, true},
		{"region", Targeting{Regions: []Region{{QuakeArea, "350"}}}, true},
		{"other region", Targeting{Regions: []Region{{QuakeArea, "351"}}}, false},
		{"user", Targeting{Users: []UserID{"u1"}}, true},
		{"answered minor", Targeting{Answered: []AnswerFilter{{SurveyID: "s0", QuestionID: QuestionSelf, Choices: []string{"minor", "serious"}}}}, true},
		{"answered safe", Targeting{Answered: []AnswerFilter{{SurveyID: "s0", QuestionID: QuestionSelf, Choices: []string{"safe"}}}}, false},
		{"not answered s0", Targeting{NotAnswered: []SurveyID{"s0"}}, false},
		{"not answered s9", Targeting{NotAnswered: []SurveyID{"s9"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.t.Match(u, tree, lookup))
		})
	}
	suspended := u.Clone()
	suspended.Status = Suspended
	require.False(t, (&Targeting{Everyone: true}).Match(suspended, tree, lookup), "suspended users receive nothing")
	require.True(t, (&Targeting{}).IsEmpty())
	require.Equal(t, []DepartmentID{"a", "b"}, (&Targeting{Departments: []DepartmentTarget{{ID: "a"}, {ID: "b"}}}).DepartmentIDs())
}

func TestSurveyValidateAndClone(t *testing.T) {
	s := &Survey{ID: "s1", Kind: ManualSurvey, Title: "安否確認", Form: DefaultForm(), Status: Draft, CreatedAt: t0,
		Targeting: Targeting{Departments: []DepartmentTarget{{ID: "sales"}}}, Reminders: ReminderPolicy{Count: 2, Interval: 30 * time.Minute},
		Trigger: &Trigger{Source: "jma", EventID: "20260101000000"}}
	require.NoError(t, s.Validate())
	c := s.Clone()
	c.Form.Questions[0].Choices[0].Code = "x"
	c.Targeting.Departments[0].ID = "y"
	c.Trigger.EventID = "z"
	require.NoError(t, s.Validate())
	require.Equal(t, "20260101000000", s.Trigger.EventID)

	for _, tc := range []struct {
		change func(s *Survey)
		err    string
	}{
		{func(s *Survey) { s.Kind = "spam" }, `unknown kind "spam"`},
		{func(s *Survey) { s.Status = "lost" }, `unknown status "lost"`},
		{func(s *Survey) { s.Title = "" }, "title is required"},
		{func(s *Survey) { s.Form = nil }, "form is required"},
		{func(s *Survey) { s.Reminders = ReminderPolicy{Count: 3, Interval: time.Second} }, "reminders"},
		{func(s *Survey) { s.Deadline = t0.Add(-time.Hour) }, "deadline is before creation"},
		{func(s *Survey) { s.Targeting.Regions = []Region{{"x", "1"}} }, "targeting"},
		{func(s *Survey) { s.Legacy = &LegacyMessage{Occurrence: "x"} }, "sender is required"},
	} {
		c := s.Clone()
		tc.change(c)
		err := c.Validate()
		require.ErrorContains(t, err, tc.err)
		require.Equal(t, InvalidArgument, Code(err))
	}
}

func TestDeliveryBasics(t *testing.T) {
	d := &Delivery{ID: "d1", SurveyID: "s1", UserID: "u1", Channel: SMSChannel, ContactID: "c1", State: Queued}
	require.NoError(t, d.Validate())
	require.Equal(t, "s1/u1/sms/c1/0", d.IdempotencyKey())
	require.Equal(t, DeliveryKey{"s1", "u1", SMSChannel, "c1", 0}, d.Key())
	require.Equal(t, PhoneContact, VoiceChannel.ContactKind())
	require.True(t, Sent.Final())
	require.False(t, FailedTemporary.Final())
	bad := d.Clone()
	bad.State = Sent
	require.ErrorContains(t, bad.Validate(), "enqueue as queued")
	bad = d.Clone()
	bad.Channel = "pager"
	require.ErrorContains(t, bad.Validate(), `unknown channel "pager"`)
	require.Error(t, (&ClaimRequest{Owner: "w"}).Validate())
	require.NoError(t, (&ClaimRequest{Owner: "w", Limit: 1, Lease: time.Minute, Now: t0}).Validate())
}

func TestResponseValidate(t *testing.T) {
	r := answer("s", "u", 0, "safe")
	require.NoError(t, r.Validate(DefaultForm()))
	r.Channel = "pigeon"
	require.ErrorContains(t, r.Validate(DefaultForm()), `unknown channel "pigeon"`)
	r = answer("s", "u", 0, "great")
	require.ErrorContains(t, r.Validate(DefaultForm()), `unknown choice "great"`)
	require.True(t, answer("s", "u", 0, "safe").Chose(QuestionSelf, "minor", "safe"))
}

func TestRuleRecordAndAuditValidate(t *testing.T) {
	require.NoError(t, (&RuleRecord{ID: "r1", Spec: []byte(`{"kind":"earthquake"}`)}).Validate())
	require.ErrorContains(t, (&RuleRecord{ID: "r1", Spec: []byte(`[1]`)}).Validate(), "not a JSON object")
	require.ErrorContains(t, (&AuditEntry{}).Validate(), "time and action are required")
}
