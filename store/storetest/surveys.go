package storetest

import (
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

func testSurveys(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	s1 := newSurvey("s1", anpi.Draft, t0())
	s1.Deadline = at(24 * time.Hour)
	s1.Reminders = anpi.ReminderPolicy{Count: 2, Interval: 30 * time.Minute}
	s1.Admins = []anpi.UserID{"boss"}
	s1.Targeting = anpi.Targeting{Departments: []anpi.DepartmentTarget{{ID: "hq", IncludeSubtree: true}}, Regions: []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}}}
	s1.Legacy = &anpi.LegacyMessage{Occurrence: "地震発生", StatusNote: "本社被害なし", Sender: "総務部"}
	s2 := newSurvey("s2", anpi.Open, at(time.Minute))
	s2.Kind = anpi.AutoSurvey
	s2.Trigger = &anpi.Trigger{Source: "jma", EventID: "20240101161018", RuleID: "r1", ReportID: "rep1", Summary: "震度7 石川県能登"}
	s3 := newSurvey("s3", anpi.Closed, at(2*time.Minute))
	s3.ClosedAt = at(time.Hour)
	for _, s := range []*anpi.Survey{s1, s2, s3} {
		mustSurvey(t, st, s)
	}
	got, err := st.GetSurvey(ctx, "s1")
	require.NoError(t, err)
	require.Equal(t, s1, got)
	got, err = st.GetSurvey(ctx, "s2")
	require.NoError(t, err)
	require.Equal(t, s2, got)

	requireCode(t, anpi.AlreadyExists, st.CreateSurvey(ctx, newSurvey("s1", anpi.Draft, t0())))
	noForm := newSurvey("s4", anpi.Draft, t0())
	noForm.Form = nil
	requireCode(t, anpi.InvalidArgument, st.CreateSurvey(ctx, noForm), "no form")
	_, err = st.GetSurvey(ctx, "s4")
	requireCode(t, anpi.NotFound, err)

	surveyIDs := func(ss []*anpi.Survey) []anpi.SurveyID {
		return ids(ss, func(s *anpi.Survey) anpi.SurveyID { return s.ID })
	}
	list, err := st.ListSurveys(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, []anpi.SurveyID{"s3", "s2", "s1"}, surveyIDs(list), "newest first")
	list, err = st.ListSurveys(ctx, &anpi.SurveyQuery{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []anpi.SurveyID{"s3", "s2"}, surveyIDs(list))
	list, err = st.ListSurveys(ctx, &anpi.SurveyQuery{Kind: anpi.ManualSurvey})
	require.NoError(t, err)
	require.Equal(t, []anpi.SurveyID{"s3", "s1"}, surveyIDs(list))
	list, err = st.ListSurveys(ctx, &anpi.SurveyQuery{Status: anpi.Open})
	require.NoError(t, err)
	require.Equal(t, []anpi.SurveyID{"s2"}, surveyIDs(list))
	list, err = st.ListSurveys(ctx, &anpi.SurveyQuery{TriggerEventID: "20240101161018"})
	require.NoError(t, err)
	require.Equal(t, []anpi.SurveyID{"s2"}, surveyIDs(list))
	list, err = st.ListSurveys(ctx, &anpi.SurveyQuery{TriggerEventID: "other"})
	require.NoError(t, err)
	require.Empty(t, list)

	s1.Title = "安否確認（再）"
	s1.Status = anpi.Held
	require.NoError(t, st.UpdateSurvey(ctx, s1))
	got, err = st.GetSurvey(ctx, "s1")
	require.NoError(t, err)
	require.Equal(t, s1, got)
	requireCode(t, anpi.NotFound, st.UpdateSurvey(ctx, newSurvey("ghost", anpi.Draft, t0())))
	bad := s1.Clone()
	bad.Title = ""
	requireCode(t, anpi.InvalidArgument, st.UpdateSurvey(ctx, bad))

	// Only drafts can be deleted; their recipients and deliveries go too.
	requireCode(t, anpi.FailedPrecondition, st.DeleteSurvey(ctx, "s2"), "open")
	requireCode(t, anpi.FailedPrecondition, st.DeleteSurvey(ctx, "s1"), "held")
	s1.Status = anpi.Draft
	require.NoError(t, st.UpdateSurvey(ctx, s1))
	mustUser(t, st, newUser("u1", "E1"))
	u, err := st.GetUser(ctx, "u1")
	require.NoError(t, err)
	_, err = st.AddRecipients(ctx, "s1", []anpi.Recipient{recipient(t, st, "s1", u)})
	require.NoError(t, err)
	_, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{newDelivery("d1", "s1", "u1", anpi.EmailChannel, t0())})
	require.NoError(t, err)
	require.NoError(t, st.DeleteSurvey(ctx, "s1"))
	_, err = st.GetSurvey(ctx, "s1")
	requireCode(t, anpi.NotFound, err)
	_, err = st.GetDelivery(ctx, "d1")
	requireCode(t, anpi.NotFound, err, "deliveries go with the draft")
	claimed, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w", Limit: 10, Lease: time.Minute, Now: at(time.Hour)})
	require.NoError(t, err)
	require.Empty(t, claimed, "a deleted draft's deliveries are not claimable")
	_, err = st.GetRecipient(ctx, "s1", "u1")
	requireCode(t, anpi.NotFound, err)
	requireCode(t, anpi.NotFound, st.DeleteSurvey(ctx, "s1"))
	list, err = st.ListSurveys(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, []anpi.SurveyID{"s3", "s2"}, surveyIDs(list))
}

func testRecipients(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustDept(t, st, "hq", "")
	mustDept(t, st, "sales", "hq")
	mustDept(t, st, "east", "sales")
	var us []*anpi.User
	for i, d := range []anpi.DepartmentID{"hq", "sales", "east", "east"} {
		u := newUser(string(rune('a'+i))+"-user", string(rune('A'+i)), d)
		u.Regions = []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}}
		mustUser(t, st, u)
		us = append(us, u)
	}
	mustSurvey(t, st, newSurvey("s", anpi.Open, t0()))
	rs := make([]anpi.Recipient, len(us))
	for i, u := range us {
		rs[i] = recipient(t, st, "s", u)
	}

	n, err := st.AddRecipients(ctx, "s", rs[:3])
	require.NoError(t, err)
	require.Equal(t, 3, n)
	n, err = st.AddRecipients(ctx, "s", rs[1:])
	require.NoError(t, err)
	require.Equal(t, 1, n, "recipients already present are skipped")
	n, err = st.AddRecipients(ctx, "s", rs)
	require.NoError(t, err)
	require.Equal(t, 0, n)

	got, err := st.Recipients(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, rs, got, "by user ID")
	r, err := st.GetRecipient(ctx, "s", us[2].ID)
	require.NoError(t, err)
	require.Equal(t, rs[2], *r)
	require.Equal(t, []anpi.DepartmentID{"east", "hq", "sales"}, r.Scope)
	_, err = st.GetRecipient(ctx, "s", "ghost")
	requireCode(t, anpi.NotFound, err)
	_, err = st.AddRecipients(ctx, "ghost", rs)
	requireCode(t, anpi.NotFound, err, "unknown survey")

	tl, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, anpi.SurveyID("s"), tl.SurveyID)
	require.Equal(t, 4, tl.Targets, "each recipient counted once")
	require.Equal(t, 0, tl.Answered)
	require.Equal(t, 2, tl.Departments["east"].Targets)
	require.Equal(t, 1, tl.Departments["hq"].Targets)
	require.Equal(t, 4, tl.Subtrees["hq"].Targets)
	require.Equal(t, 3, tl.Subtrees["sales"].Targets)
	require.Equal(t, 4, tl.Regions["quake:350"].Targets)
	requireTallyMatchesRecount(t, st, "s")
	_, err = st.Tally(ctx, "ghost")
	requireCode(t, anpi.NotFound, err)
}
