package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// responseFixture creates departments, users u1..u3 and an open survey "s"
// started at t0 whose recipients are u1 and u2.
func responseFixture(t *testing.T, st anpi.Store) {
	t.Helper()
	ctx := t.Context()
	mustDept(t, st, "hq", "")
	mustDept(t, st, "sales", "hq")
	u1 := newUser("u1", "E1", "sales")
	u1.Regions = []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}}
	u2 := newUser("u2", "E2", "hq")
	for _, u := range []*anpi.User{u1, u2, newUser("u3", "E3")} {
		mustUser(t, st, u)
	}
	mustSurvey(t, st, newSurvey("s", anpi.Open, t0()))
	_, err := st.AddRecipients(ctx, "s", []anpi.Recipient{recipient(t, st, "s", u1), recipient(t, st, "s", u2)})
	require.NoError(t, err)
}

func testResponses(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	responseFixture(t, st)

	r1 := newResponse("r1", "s", "u1", at(30*time.Second), "safe", "can")
	r1.Answers = append(r1.Answers, anpi.Answer{QuestionID: anpi.QuestionMessage, Text: "自宅にいます"})
	ok, err := st.RecordResponse(ctx, r1)
	require.NoError(t, err)
	require.True(t, ok)
	got, err := st.GetResponse(ctx, "s", "u1")
	require.NoError(t, err)
	want := r1.Clone()
	want.FirstAt = r1.At
	require.Equal(t, want, got, "FirstAt is set by the store")

	tl, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, 1, tl.Answered)
	require.Equal(t, 1, tl.Choices[anpi.QuestionSelf]["safe"])
	require.Equal(t, 1, tl.Departments["sales"].Answered)
	require.Equal(t, 1, tl.Subtrees["hq"].Answered)
	require.Equal(t, 0, tl.Departments["hq"].Answered)
	require.Equal(t, 1, tl.Regions["quake:350"].Choices[anpi.QuestionWork]["can"])
	require.Equal(t, map[int64]int{30: 1}, tl.AnswerSeconds)
	requireTallyMatchesRecount(t, st, "s")

	// A re-answer replaces the current answer, keeps the old one in the
	// history, keeps FirstAt and moves the counters.
	r2 := newResponse("r2", "s", "u1", at(90*time.Second), "minor", "cannot")
	r2.Channel = anpi.ViaLINE
	ok, err = st.RecordResponse(ctx, r2)
	require.NoError(t, err)
	require.True(t, ok)
	got, err = st.GetResponse(ctx, "s", "u1")
	require.NoError(t, err)
	want2 := r2.Clone()
	want2.FirstAt = r1.At
	require.Equal(t, want2, got)
	hist, err := st.ResponseHistory(ctx, "s", "u1")
	require.NoError(t, err)
	require.Equal(t, []*anpi.Response{want, want2}, hist, "oldest first, current last")
	tl, err = st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, 1, tl.Answered, "a re-answer is not a new answer")
	require.Equal(t, map[string]int{"minor": 1}, tl.Choices[anpi.QuestionSelf])
	require.Equal(t, map[string]int{"cannot": 1}, tl.Choices[anpi.QuestionWork])
	require.Equal(t, map[int64]int{30: 1}, tl.AnswerSeconds, "answer time counts from the first answer")
	requireTallyMatchesRecount(t, st, "s")

	ok, err = st.RecordResponse(ctx, newResponse("r3", "s", "u2", at(2*time.Minute), "serious", ""))
	require.NoError(t, err)
	require.True(t, ok)
	list, err := st.Responses(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, []anpi.ResponseID{"r2", "r3"}, ids(list, func(r *anpi.Response) anpi.ResponseID { return r.ID }), "current answers by user ID")
	tl, err = st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, 2, tl.Answered)
	require.Equal(t, 1.0, tl.ResponseRate())
	requireTallyMatchesRecount(t, st, "s")

	// Moving the start recounts the answer times.
	sv, err := st.GetSurvey(ctx, "s")
	require.NoError(t, err)
	sv.StartedAt = at(-time.Minute)
	require.NoError(t, st.UpdateSurvey(ctx, sv))
	requireTallyMatchesRecount(t, st, "s", "after StartedAt moved")

	hist, err = st.ResponseHistory(ctx, "s", "u3")
	require.NoError(t, err)
	require.Empty(t, hist, "no answers, no history")
	_, err = st.GetResponse(ctx, "s", "u3")
	requireCode(t, anpi.NotFound, err)
}

func testResponseIdempotent(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	responseFixture(t, st)
	r := newResponse("r1", "s", "u1", at(time.Minute), "safe", "")
	ok, err := st.RecordResponse(ctx, r)
	require.NoError(t, err)
	require.True(t, ok)
	before, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	for range 3 {
		ok, err = st.RecordResponse(ctx, r.Clone())
		require.NoError(t, err)
		require.False(t, ok, "the same response ID again changes nothing")
	}
	// Even with other content, a known ID is a retry.
	changed := newResponse("r1", "s", "u1", at(2*time.Minute), "serious", "")
	ok, err = st.RecordResponse(ctx, changed)
	require.NoError(t, err)
	require.False(t, ok)
	after, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, canonicalTally(t, before), canonicalTally(t, after))
	require.Equal(t, 1, after.Answered)
	require.Equal(t, map[string]int{"safe": 1}, after.Choices[anpi.QuestionSelf])
	hist, err := st.ResponseHistory(ctx, "s", "u1")
	require.NoError(t, err)
	require.Len(t, hist, 1)
	got, err := st.GetResponse(ctx, "s", "u1")
	require.NoError(t, err)
	require.Equal(t, []string{"safe"}, got.Answers[0].Choices)

	// A re-answer, then its retry.
	ok, err = st.RecordResponse(ctx, newResponse("r2", "s", "u1", at(3*time.Minute), "minor", ""))
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = st.RecordResponse(ctx, newResponse("r2", "s", "u1", at(3*time.Minute), "minor", ""))
	require.NoError(t, err)
	require.False(t, ok)
	hist, err = st.ResponseHistory(ctx, "s", "u1")
	require.NoError(t, err)
	require.Len(t, hist, 2)
	requireTallyMatchesRecount(t, st, "s")
}

func testResponseErrors(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	responseFixture(t, st)
	before, err := st.Tally(ctx, "s")
	require.NoError(t, err)

	_, err = st.RecordResponse(ctx, newResponse("x1", "s", "u3", at(time.Minute), "safe", ""))
	requireCode(t, anpi.NotFound, err, "not a recipient")
	_, err = st.RecordResponse(ctx, newResponse("x2", "ghost", "u1", at(time.Minute), "safe", ""))
	requireCode(t, anpi.NotFound, err, "unknown survey")
	_, err = st.RecordResponse(ctx, newResponse("x3", "s", "u1", at(time.Minute), "fine", ""))
	requireCode(t, anpi.InvalidArgument, err, "unknown choice")
	missing := newResponse("x4", "s", "u1", at(time.Minute), "safe", "")
	missing.Answers = []anpi.Answer{{QuestionID: anpi.QuestionWork, Choices: []string{"can"}}}
	_, err = st.RecordResponse(ctx, missing)
	requireCode(t, anpi.InvalidArgument, err, "required question unanswered")
	two := newResponse("x5", "s", "u1", at(time.Minute), "safe", "")
	two.Answers[0].Choices = []string{"safe", "minor"}
	_, err = st.RecordResponse(ctx, two)
	requireCode(t, anpi.InvalidArgument, err, "two choices for a single-choice question")
	noTime := newResponse("x6", "s", "u1", time.Time{}, "safe", "")
	_, err = st.RecordResponse(ctx, noTime)
	requireCode(t, anpi.InvalidArgument, err, "no time")

	for _, status := range []anpi.SurveyStatus{anpi.Draft, anpi.Held, anpi.Closed, anpi.Cancelled} {
		sv, err := st.GetSurvey(ctx, "s")
		require.NoError(t, err)
		sv.Status = status
		require.NoError(t, st.UpdateSurvey(ctx, sv))
		_, err = st.RecordResponse(ctx, newResponse("x7", "s", "u1", at(time.Minute), "safe", ""))
		requireCode(t, anpi.FailedPrecondition, err, "survey "+string(status))
	}
	after, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, canonicalTally(t, before), canonicalTally(t, after), "refused answers count nothing")
	_, err = st.GetResponse(ctx, "s", "u1")
	requireCode(t, anpi.NotFound, err)

	// A refused ID is not burnt: once the survey is open it records.
	sv, err := st.GetSurvey(ctx, "s")
	require.NoError(t, err)
	sv.Status = anpi.Open
	require.NoError(t, st.UpdateSurvey(ctx, sv))
	ok, err := st.RecordResponse(ctx, newResponse("x7", "s", "u1", at(time.Minute), "safe", ""))
	require.NoError(t, err)
	require.True(t, ok)
}

// testResponseViaToken checks Response.ViaToken: the answer records only
// while the token it names is stored for its survey and user and usable at
// its time, through the Store (the group committer, where there is one)
// and inside InTx alike; a refused one changes nothing, and the hash is
// not stored with the response.
func testResponseViaToken(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	responseFixture(t, st)
	good := newToken("good", "s", "u1")
	good.ExpiresAt = at(time.Hour)
	revoked := newToken("revoked", "s", "u2")
	other := newToken("other", "s", "u2") // u2's, used by u1
	require.NoError(t, st.PutAnswerTokens(ctx, []*anpi.AnswerToken{good, revoked, other}))
	_, err := st.RevokeAnswerTokens(ctx, "s", "u2", at(time.Minute))
	require.NoError(t, err)
	before, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	via := func(id string, u anpi.UserID, when time.Time, h anpi.TokenHash) *anpi.Response {
		r := newResponse(id, "s", u, when, "safe", "")
		r.ViaToken = &h
		return r
	}
	refused := []struct {
		name string
		r    *anpi.Response
	}{
		{"unknown token", via("v1", "u1", at(2*time.Minute), tokenHash("ghost"))},
		{"revoked token", via("v2", "u2", at(2*time.Minute), revoked.Hash)},
		{"someone else's token", via("v3", "u1", at(2*time.Minute), other.Hash)},
		{"expired token", via("v4", "u1", at(2*time.Hour), good.Hash)},
	}
	for _, c := range refused {
		_, err := st.RecordResponse(ctx, c.r)
		requireCode(t, anpi.NotFound, err, c.name)
		err = st.InTx(ctx, func(tx anpi.Tx) error {
			_, err := tx.RecordResponse(ctx, c.r)
			return err
		})
		requireCode(t, anpi.NotFound, err, c.name+", in InTx")
	}
	after, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, canonicalTally(t, before), canonicalTally(t, after), "refused answers count nothing")
	_, err = st.GetResponse(ctx, "s", "u1")
	requireCode(t, anpi.NotFound, err, "nothing recorded")

	r := via("v5", "u1", at(2*time.Minute), good.Hash)
	ok, err := st.RecordResponse(ctx, r)
	require.NoError(t, err)
	require.True(t, ok)
	got, err := st.GetResponse(ctx, "s", "u1")
	require.NoError(t, err)
	require.Nil(t, got.ViaToken, "the token's hash is not stored with the response")
	require.Equal(t, r.ID, got.ID)
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		_, err := tx.RecordResponse(ctx, via("v6", "u1", at(3*time.Minute), good.Hash))
		return err
	})
	require.NoError(t, err, "a usable token records inside InTx too")
	requireTallyMatchesRecount(t, st, "s")
}

// testTallyMatchesRecount runs a random sequence of recipients, answers,
// re-answers, retries and rolled-back transactions, and compares the
// counters with a recount along the way.
func testTallyMatchesRecount(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(20240101, 1610))
	depts := []anpi.DepartmentID{"hq", "sales", "east", "west", "plant"}
	mustDept(t, st, "hq", "")
	mustDept(t, st, "sales", "hq")
	mustDept(t, st, "east", "sales")
	mustDept(t, st, "west", "sales")
	mustDept(t, st, "plant", "")
	regions := []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}, {Kind: anpi.QuakeArea, Code: "351"}, {Kind: anpi.TsunamiRegion, Code: "300"}}
	var users []*anpi.User
	for i := range 40 {
		u := newUser(fmt.Sprintf("u%02d", i), fmt.Sprintf("E%02d", i))
		for _, d := range depts {
			if rng.IntN(4) == 0 {
				u.Departments = append(u.Departments, d)
			}
		}
		for _, r := range regions {
			if rng.IntN(3) == 0 {
				u.Regions = append(u.Regions, r)
			}
		}
		mustUser(t, st, u)
		users = append(users, u)
	}
	mustSurvey(t, st, newSurvey("s", anpi.Open, t0()))
	tree, err := st.Departments(ctx)
	require.NoError(t, err)

	self := []string{"safe", "minor", "serious"}
	work := []string{"", "can", "cannot", "undecided"}
	var recipients []anpi.UserID
	var sent []*anpi.Response // every response recorded, for retries
	seq := 0
	answer := func(u anpi.UserID) *anpi.Response {
		seq++
		return newResponse(fmt.Sprintf("r%04d", seq), "s", u, at(time.Duration(rng.IntN(3600))*time.Second), self[rng.IntN(len(self))], work[rng.IntN(len(work))])
	}
	for step := range 400 {
		switch k := rng.IntN(10); {
		case k < 2 || len(recipients) == 0: // add a few recipients, some again
			var rs []anpi.Recipient
			for range 1 + rng.IntN(6) {
				u := users[rng.IntN(len(users))]
				rs = append(rs, anpi.NewRecipient("s", u, tree))
				if !slices.Contains(recipients, u.ID) {
					recipients = append(recipients, u.ID)
				}
			}
			_, err := st.AddRecipients(ctx, "s", rs)
			require.NoError(t, err)
		case k < 7: // an answer or a re-answer
			r := answer(recipients[rng.IntN(len(recipients))])
			ok, err := st.RecordResponse(ctx, r)
			require.NoError(t, err)
			require.True(t, ok)
			sent = append(sent, r)
		case k < 8 && len(sent) > 0: // a retry
			ok, err := st.RecordResponse(ctx, sent[rng.IntN(len(sent))].Clone())
			require.NoError(t, err)
			require.False(t, ok)
		default: // answers and a recipient in a transaction that fails
			boom := errors.New("boom")
			err := st.InTx(ctx, func(tx anpi.Tx) error {
				for range 1 + rng.IntN(3) {
					if _, err := tx.RecordResponse(ctx, answer(recipients[rng.IntN(len(recipients))])); err != nil {
						return err
					}
				}
				if _, err := tx.AddRecipients(ctx, "s", []anpi.Recipient{anpi.NewRecipient("s", users[rng.IntN(len(users))], tree)}); err != nil {
					return err
				}
				return boom
			})
			require.ErrorIs(t, err, boom)
		}
		if step%50 == 49 {
			requireTallyMatchesRecount(t, st, "s", "after step %d", step)
		}
	}
	requireTallyMatchesRecount(t, st, "s")
	tl, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	rs, err := st.Recipients(ctx, "s")
	require.NoError(t, err)
	resps, err := st.Responses(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, len(recipients), tl.Targets)
	require.Len(t, rs, len(recipients))
	require.Equal(t, len(resps), tl.Answered)
	require.Greater(t, tl.Answered, 10, "the sequence should answer a fair share")
	for _, r := range resps {
		hist, err := st.ResponseHistory(ctx, "s", r.UserID)
		require.NoError(t, err)
		require.Equal(t, r, hist[len(hist)-1], "the current answer ends the history")
		require.True(t, r.FirstAt.Equal(hist[0].At), "FirstAt is the first answer's time")
	}
}
