package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// check is one subtest of the suite.
type check struct {
	name string
	fn   func(t *testing.T, st anpi.Store)
}

// checks returns the suite's subtests in the order Run runs them.
func checks() []check {
	return []check{
		{"Users", testUsers},
		{"ListUsers", testListUsers},
		{"UsersVersion", testUsersVersion},
		{"ReadTx", testReadTx},
		{"Departments", testDepartments},
		{"Roles", testRoles},
		{"Contacts", testContacts},
		{"ContactsOf", testContactsOf},
		{"GetUsers", testGetUsers},
		{"AdminViewPrivacy", testAdminViewPrivacy},
		{"Settings", testSettings},
		{"EngineState", testEngineState},
		{"Forms", testForms},
		{"Templates", testTemplates},
		{"Rules", testRules},
		{"Surveys", testSurveys},
		{"Recipients", testRecipients},
		{"Outbox/Enqueue", testEnqueue},
		{"Outbox/ClaimOrder", testClaimOrder},
		{"Outbox/ClaimChannels", testClaimChannels},
		{"Outbox/ExpiredLease", testExpiredLease},
		{"Outbox/EnqueueLeased", testEnqueueLeased},
		{"Outbox/FailDelivery", testFailDelivery},
		{"Outbox/CancelDeliveries", testCancelDeliveries},
		{"Outbox/CancelUserDeliveries", testCancelUserDeliveries},
		{"Outbox/MarkDelivered", testMarkDelivered},
		{"Outbox/ConcurrentClaims", testConcurrentClaims},
		{"Responses", testResponses},
		{"Responses/Idempotent", testResponseIdempotent},
		{"Responses/Errors", testResponseErrors},
		{"Responses/ViaToken", testResponseViaToken},
		{"Tally/MatchesRecount", testTallyMatchesRecount},
		{"Audit", testAudit},
		{"Tokens/PutAndGet", testTokens},
		{"Tokens/Errors", testTokenErrors},
		{"Tokens/Revoke", testRevokeTokens},
		{"Tokens/Rollback", testTokenRollback},
		{"Tokens/DeleteSurvey", testTokensOfDeletedSurvey},
		{"Messages/Threads", testThreads},
		{"Messages/Messages", testMessages},
		{"Messages/Boards", testBoards},
		{"Messages/Rollback", testMessagesRollback},
		{"Messages/ConcurrentAppends", testConcurrentAppends},
		{"Messages/NilAndCancelled", testMessagesNilAndCancelled},
		{"Copies", testCopies},
		{"Rollback/Error", testRollbackError},
		{"Rollback/Panic", testRollbackPanic},
		{"Rollback/Commit", testCommit},
		{"Rollback/SingleCall", testSingleCallAtomic},
		{"NilInputs", testNilInputs},
		{"CancelledContext", testCancelledContext},
	}
}

// Run runs the conformance suite. newStore must return a new, empty store
// each time it is called; Run closes it when the subtest ends.
func Run(t *testing.T, newStore func(t *testing.T) anpi.Store) {
	t.Helper()
	for _, c := range checks() {
		t.Run(c.name, func(t *testing.T) {
			st := newStore(t)
			require.NotNil(t, st, "newStore returned nil")
			t.Cleanup(func() { _ = st.Close() })
			c.fn(t, st)
		})
	}
}

// t0 is the suite's fixed clock: 2024-01-01 07:10 UTC (16:10 JST).
func t0() time.Time { return time.Date(2024, 1, 1, 7, 10, 0, 0, time.UTC) }

// at returns t0 plus d.
func at(d time.Duration) time.Time { return t0().Add(d) }

// requireCode fails unless err carries code. msgAndArgs are a message or
// a format and its arguments, as for require.
func requireCode(t *testing.T, code anpi.ErrorCode, err error, msgAndArgs ...any) {
	t.Helper()
	msg := ""
	if len(msgAndArgs) > 0 {
		if f, ok := msgAndArgs[0].(string); ok {
			msg = fmt.Sprintf(f, msgAndArgs[1:]...)
		} else {
			msg = fmt.Sprint(msgAndArgs...)
		}
	}
	require.Error(t, err, "want a %s error: %s", code, msg)
	require.Equal(t, code.String(), anpi.Code(err).String(), "error %q: %s", err, msg)
}

func newUser(id, code string, depts ...anpi.DepartmentID) *anpi.User {
	return &anpi.User{
		ID:           anpi.UserID(id),
		EmployeeCode: code,
		Name:         "社員 " + id,
		NameKana:     "シャイン",
		WorkEmail:    id + "@corp.example.jp",
		Departments:  depts,
		Status:       anpi.Active,
		Locale:       anpi.Japanese,
		CreatedAt:    t0(),
		UpdatedAt:    t0(),
	}
}

func mustUser(t *testing.T, st anpi.Tx, u *anpi.User) {
	t.Helper()
	require.NoError(t, st.CreateUser(t.Context(), u))
}

func mustDept(t *testing.T, st anpi.Tx, id, parent anpi.DepartmentID) {
	t.Helper()
	require.NoError(t, st.CreateDepartment(t.Context(), &anpi.Department{ID: id, Name: "部署 " + string(id), ParentID: parent}))
}

func newSurvey(id string, status anpi.SurveyStatus, created time.Time) *anpi.Survey {
	s := &anpi.Survey{
		ID:        anpi.SurveyID(id),
		Kind:      anpi.ManualSurvey,
		Title:     "安否確認 " + id,
		Form:      anpi.DefaultForm(),
		Targeting: anpi.Targeting{Everyone: true},
		Status:    status,
		CreatedAt: created,
	}
	if status != anpi.Draft {
		s.StartedAt = created
	}
	return s
}

func mustSurvey(t *testing.T, st anpi.Tx, s *anpi.Survey) {
	t.Helper()
	require.NoError(t, st.CreateSurvey(t.Context(), s))
}

// recipient freezes u for survey s with the store's department tree.
func recipient(t *testing.T, st anpi.Tx, s anpi.SurveyID, u *anpi.User) anpi.Recipient {
	t.Helper()
	tree, err := st.Departments(t.Context())
	require.NoError(t, err)
	return anpi.NewRecipient(s, u, tree)
}

func newDelivery(id string, s anpi.SurveyID, u anpi.UserID, ch anpi.Channel, next time.Time) *anpi.Delivery {
	return &anpi.Delivery{
		ID:            anpi.DeliveryID(id),
		SurveyID:      s,
		UserID:        u,
		Channel:       ch,
		State:         anpi.Queued,
		NextAttemptAt: next,
		CreatedAt:     t0(),
		UpdatedAt:     t0(),
	}
}

// newResponse answers the default form: self, and optionally work.
func newResponse(id string, s anpi.SurveyID, u anpi.UserID, when time.Time, self, work string) *anpi.Response {
	r := &anpi.Response{
		ID:       anpi.ResponseID(id),
		SurveyID: s,
		UserID:   u,
		Answers:  []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{self}}},
		Channel:  anpi.ViaWeb,
		At:       when,
	}
	if work != "" {
		r.Answers = append(r.Answers, anpi.Answer{QuestionID: anpi.QuestionWork, Choices: []string{work}})
	}
	return r
}

func ids[T any, ID ~string](xs []T, id func(T) ID) []ID {
	out := make([]ID, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

func deliveryIDs(ds []*anpi.Delivery) []anpi.DeliveryID {
	return ids(ds, func(d *anpi.Delivery) anpi.DeliveryID { return d.ID })
}

// nonZero drops zero counts, so stores may or may not report empty states.
func nonZero(m map[anpi.DeliveryState]int) map[anpi.DeliveryState]int {
	out := map[anpi.DeliveryState]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// canonicalTally renders a tally as JSON with empty maps and zero counts
// dropped, so that two tallies that count the same compare equal whatever
// nil-versus-empty choices a store makes.
func canonicalTally(t *testing.T, tl *anpi.Tally) string {
	t.Helper()
	require.NotNil(t, tl)
	return canonical(tl)
}

func canonical(tl *anpi.Tally) string {
	choices := func(c anpi.ChoiceCounts) map[string]map[string]int {
		out := map[string]map[string]int{}
		for q, m := range c {
			for code, n := range m {
				if n != 0 {
					if out[q] == nil {
						out[q] = map[string]int{}
					}
					out[q][code] = n
				}
			}
		}
		return out
	}
	type group struct {
		Targets, Answered int
		Choices           map[string]map[string]int
	}
	groups := func(m map[string]*anpi.GroupTally) map[string]group {
		out := map[string]group{}
		for k, g := range m {
			if g == nil || (g.Targets == 0 && g.Answered == 0 && len(choices(g.Choices)) == 0) {
				continue
			}
			out[k] = group{g.Targets, g.Answered, choices(g.Choices)}
		}
		return out
	}
	depts := func(m map[anpi.DepartmentID]*anpi.GroupTally) map[string]group {
		s := map[string]*anpi.GroupTally{}
		for k, g := range m {
			s[string(k)] = g
		}
		return groups(s)
	}
	secs := map[int64]int{}
	for k, v := range tl.AnswerSeconds {
		if v != 0 {
			secs[k] = v
		}
	}
	b, err := json.MarshalIndent(struct {
		SurveyID          anpi.SurveyID
		Targets, Answered int
		Choices           map[string]map[string]int
		Departments       map[string]group
		Subtrees          map[string]group
		Regions           map[string]group
		AnswerSeconds     map[int64]int
	}{tl.SurveyID, tl.Targets, tl.Answered, choices(tl.Choices), depts(tl.Departments), depts(tl.Subtrees), groups(tl.Regions), secs}, "", " ")
	if err != nil { // cannot happen: only maps of strings and ints
		return fmt.Sprintf("unprintable tally: %v", err)
	}
	return string(b)
}

// VerifyTally checks the stored counters of survey s against a recount
// (anpi.ComputeTally) from the stored recipients, current responses and
// the survey's StartedAt. It returns nil when they agree, and an error
// showing both when they do not. Store authors can call it from their own
// tests after any sequence of writes; the suite calls it throughout.
func VerifyTally(ctx context.Context, tx anpi.Tx, s anpi.SurveyID) error {
	sv, err := tx.GetSurvey(ctx, s)
	if err != nil {
		return err
	}
	rs, err := tx.Recipients(ctx, s)
	if err != nil {
		return err
	}
	resps, err := tx.Responses(ctx, s)
	if err != nil {
		return err
	}
	got, err := tx.Tally(ctx, s)
	if err != nil {
		return err
	}
	if got == nil {
		return fmt.Errorf("storetest: tally of survey %s: the store returned nil", s)
	}
	want := canonical(anpi.ComputeTally(s, sv.StartedAt, rs, resps))
	if have := canonical(got); have != want {
		return fmt.Errorf("storetest: tally of survey %s differs from a recount:\nstored counters:\n%s\nrecount:\n%s", s, have, want)
	}
	return nil
}

// requireTallyMatchesRecount fails the test unless VerifyTally passes.
func requireTallyMatchesRecount(t *testing.T, st anpi.Tx, s anpi.SurveyID, msgAndArgs ...any) {
	t.Helper()
	require.NoError(t, VerifyTally(t.Context(), st, s), msgAndArgs...)
}
