package anpi

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func answer(s SurveyID, u UserID, at time.Duration, self string) *Response {
	return &Response{ID: ResponseID(fmt.Sprint(u, at)), SurveyID: s, UserID: u, Channel: ViaWeb, At: t0.Add(at),
		Answers: []Answer{{QuestionID: QuestionSelf, Choices: []string{self}}}}
}

func TestTallyCountsAndRollUp(t *testing.T) {
	tree := testTree(t)
	users := []*User{
		{ID: "a", Departments: []DepartmentID{"shibuya"}, Regions: []Region{{QuakeArea, "350"}}},
		{ID: "b", Departments: []DepartmentID{"tokyo", "osaka"}, Regions: []Region{{QuakeArea, "350"}, {QuakeArea, "550"}}},
		{ID: "c", Departments: []DepartmentID{"dev"}},
		{ID: "d", Departments: []DepartmentID{"osaka"}, Regions: []Region{{QuakeArea, "550"}}},
	}
	var rs []Recipient
	for _, u := range users {
		rs = append(rs, NewRecipient("s", u, tree))
	}
	responses := []*Response{answer("s", "a", 30*time.Second, "safe"), answer("s", "b", 2*time.Minute, "minor"), answer("s", "d", 10*time.Minute, "safe"),
		answer("s", "stranger", time.Minute, "safe")}
	tally := ComputeTally("s", t0, rs, responses)

	require.Equal(t, 4, tally.Targets)
	require.Equal(t, 3, tally.Answered, "a non-recipient's answer is ignored")
	require.InDelta(t, 0.75, tally.ResponseRate(), 1e-9)
	require.Equal(t, map[string]int{"safe": 2, "minor": 1}, tally.Choices[QuestionSelf])

	// b is in tokyo and osaka, both under sales: sales counts him once.
	sales := tally.Subtrees["sales"]
	require.Equal(t, 3, sales.Targets)
	require.Equal(t, 3, sales.Answered)
	require.Equal(t, 4, tally.Subtrees["hq"].Targets)
	require.Equal(t, 2, tally.Departments["osaka"].Targets)
	require.Equal(t, 1, tally.Departments["tokyo"].Targets)
	require.Equal(t, 0, tally.Departments["dev"].Answered)
	require.Equal(t, 0.0, tally.Departments["dev"].ResponseRate())
	require.Equal(t, map[string]int{"safe": 1, "minor": 1}, tally.Regions["quake:350"].Choices[QuestionSelf])

	q := tally.AnswerTimes()
	require.Equal(t, Quartiles{Q1: 30 * time.Second, Median: 2 * time.Minute, Q3: 10 * time.Minute}, q)
	require.Equal(t, Quartiles{}, NewTally("x").AnswerTimes())
	require.Equal(t, 0.0, NewTally("x").ResponseRate())
}

// TestIncrementalTallyEqualsRecount drives the counters the way a store does
// (recipients, answers, re-answers in random order) and checks them against
// a recount after every step.
func TestIncrementalTallyEqualsRecount(t *testing.T) {
	tree := testTree(t)
	rng := rand.New(rand.NewPCG(1, 2))
	depts := []DepartmentID{"hq", "sales", "tokyo", "shibuya", "osaka", "dev"}
	codes := []string{"safe", "minor", "serious"}
	live := NewTally("s")
	recipients := map[UserID]Recipient{}
	current := map[UserID]*Response{}
	firstAt := map[UserID]time.Time{}
	for step := range 2000 {
		id := UserID(fmt.Sprint("u", rng.IntN(60)))
		r, isRecipient := recipients[id]
		switch {
		case !isRecipient:
			u := &User{ID: id, Departments: []DepartmentID{depts[rng.IntN(len(depts))]}, Regions: []Region{{QuakeArea, fmt.Sprint(300 + rng.IntN(3))}}}
			if rng.IntN(3) == 0 {
				u.Departments = append(u.Departments, "dev")
			}
			r = NewRecipient("s", u, tree)
			recipients[id] = r
			live.AddRecipient(r)
		default:
			resp := answer("s", id, time.Duration(step)*time.Second, codes[rng.IntN(len(codes))])
			old := current[id]
			live.AddResponse(r, t0, old, resp)
			if old == nil {
				firstAt[id] = resp.At
			}
			resp.FirstAt = firstAt[id]
			current[id] = resp
		}
		if step%97 == 0 || step == 1999 {
			var rs []Recipient
			for _, r := range recipients {
				rs = append(rs, r)
			}
			var resps []*Response
			for _, r := range current {
				resps = append(resps, r)
			}
			require.Equal(t, ComputeTally("s", t0, rs, resps), live, "step %d", step)
		}
	}
	require.Equal(t, live, live.Clone())
}
