package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// snapshot is everything a store holds that the fixture of the rollback
// tests touches, read back through the public methods.
type snapshot struct {
	Users       []*anpi.User
	Count       int
	Departments []*anpi.Department
	Grants      []anpi.RoleGrant
	Contacts    map[anpi.UserID][]*anpi.Contact
	Settings    anpi.Settings
	Forms       []*anpi.Form
	Templates   []*anpi.Template
	Rules       []*anpi.RuleRecord
	Surveys     []*anpi.Survey
	Recipients  map[anpi.SurveyID][]anpi.Recipient
	Deliveries  map[anpi.SurveyID][]*anpi.Delivery
	Counts      map[anpi.SurveyID]map[anpi.DeliveryState]int
	Responses   map[anpi.SurveyID][]*anpi.Response
	History     map[anpi.SurveyID]map[anpi.UserID][]*anpi.Response
	Tallies     map[anpi.SurveyID]string
	Audit       []*anpi.AuditEntry
}

func takeSnapshot(t *testing.T, st anpi.Tx) *snapshot {
	t.Helper()
	ctx := t.Context()
	s := &snapshot{
		Contacts:   map[anpi.UserID][]*anpi.Contact{},
		Recipients: map[anpi.SurveyID][]anpi.Recipient{},
		Deliveries: map[anpi.SurveyID][]*anpi.Delivery{},
		Counts:     map[anpi.SurveyID]map[anpi.DeliveryState]int{},
		Responses:  map[anpi.SurveyID][]*anpi.Response{},
		History:    map[anpi.SurveyID]map[anpi.UserID][]*anpi.Response{},
		Tallies:    map[anpi.SurveyID]string{},
	}
	var err error
	s.Users, err = st.ListUsers(ctx, nil)
	require.NoError(t, err)
	s.Count, err = st.CountUsers(ctx)
	require.NoError(t, err)
	tree, err := st.Departments(ctx)
	require.NoError(t, err)
	s.Departments = tree.All()
	s.Grants, err = st.RoleGrants(ctx, "")
	require.NoError(t, err)
	for _, u := range s.Users {
		s.Contacts[u.ID], err = st.Contacts(ctx, u.ID)
		require.NoError(t, err)
	}
	s.Settings, err = st.Settings(ctx)
	require.NoError(t, err)
	s.Forms, err = st.ListForms(ctx)
	require.NoError(t, err)
	s.Templates, err = st.ListTemplates(ctx)
	require.NoError(t, err)
	s.Rules, err = st.ListRules(ctx)
	require.NoError(t, err)
	s.Surveys, err = st.ListSurveys(ctx, nil)
	require.NoError(t, err)
	for _, sv := range s.Surveys {
		id := sv.ID
		s.Recipients[id], err = st.Recipients(ctx, id)
		require.NoError(t, err)
		s.Deliveries[id], err = st.Deliveries(ctx, id)
		require.NoError(t, err)
		counts, err := st.CountDeliveries(ctx, id)
		require.NoError(t, err)
		s.Counts[id] = nonZero(counts)
		s.Responses[id], err = st.Responses(ctx, id)
		require.NoError(t, err)
		s.History[id] = map[anpi.UserID][]*anpi.Response{}
		for _, r := range s.Recipients[id] {
			s.History[id][r.UserID], err = st.ResponseHistory(ctx, id, r.UserID)
			require.NoError(t, err)
		}
		tl, err := st.Tally(ctx, id)
		require.NoError(t, err)
		s.Tallies[id] = canonicalTally(t, tl)
	}
	s.Audit, err = st.ListAudit(ctx, nil)
	require.NoError(t, err)
	return s
}

// requireSameSnapshot compares two snapshots part by part, so that a
// failure names what changed.
func requireSameSnapshot(t *testing.T, want, got *snapshot, msg string) {
	t.Helper()
	w, g := reflect.ValueOf(want).Elem(), reflect.ValueOf(got).Elem()
	for i := range w.NumField() {
		name := w.Type().Field(i).Name
		require.Equal(t, w.Field(i).Interface(), g.Field(i).Interface(), "%s: %s differ", msg, name)
	}
}

// rollbackFixture fills a store with one of everything; the rollback tests
// then change all of it in one transaction.
func rollbackFixture(t *testing.T, st anpi.Store) {
	t.Helper()
	ctx := t.Context()
	mustDept(t, st, "hq", "")
	mustDept(t, st, "sales", "hq")
	mustDept(t, st, "plant", "")
	u0 := newUser("u0", "E0", "sales")
	mustUser(t, st, u0)
	require.NoError(t, st.PutContact(ctx, contact("c0", "u0", anpi.EmailContact, anpi.PrivateScope, "u0@home.example.jp")))
	require.NoError(t, st.GrantRole(ctx, anpi.RoleGrant{UserID: "u0", Role: anpi.Manager}))
	require.NoError(t, st.PutSettings(ctx, anpi.Settings{ManagersMaySend: true}))
	require.NoError(t, st.PutForm(ctx, anpi.DefaultForm()))
	require.NoError(t, st.PutTemplate(ctx, &anpi.Template{ID: "t0", Subject: anpi.Text{Ja: "件名"}, Body: anpi.Text{Ja: "本文"}}))
	require.NoError(t, st.PutRule(ctx, &anpi.RuleRecord{ID: "r0", Spec: json.RawMessage(`{"a":1}`), UpdatedAt: t0()}))
	mustSurvey(t, st, newSurvey("s0", anpi.Open, t0()))
	_, err := st.AddRecipients(ctx, "s0", []anpi.Recipient{recipient(t, st, "s0", u0)})
	require.NoError(t, err)
	_, err = st.EnqueueDeliveries(ctx, []*anpi.Delivery{
		newDelivery("d0", "s0", "u0", anpi.EmailChannel, t0()),
		newDelivery("d1", "s0", "u0", anpi.SMSChannel, at(time.Second)),
	})
	require.NoError(t, err)
	require.Len(t, claim(t, st, "w", 1, at(time.Minute)), 1) // d0 is sending
	_, err = st.RecordResponse(ctx, newResponse("resp0", "s0", "u0", at(time.Minute), "safe", "can"))
	require.NoError(t, err)
	_, err = st.AppendAudit(ctx, &anpi.AuditEntry{At: t0(), Action: "fixture"})
	require.NoError(t, err)
}

// writeEverything changes every kind of object inside tx, checking that the
// transaction reads its own writes.
func writeEverything(t *testing.T, tx anpi.Tx) {
	t.Helper()
	ctx := t.Context()
	u1 := newUser("u1", "E1", "hq")
	require.NoError(t, tx.CreateUser(ctx, u1))
	got, err := tx.GetUser(ctx, "u1")
	require.NoError(t, err, "a transaction reads its own writes")
	require.Equal(t, u1, got)
	u0, err := tx.GetUser(ctx, "u0")
	require.NoError(t, err)
	u0.Name = "変更"
	u0.EmployeeCode = "E0-new"
	require.NoError(t, tx.UpdateUser(ctx, u0))
	require.NoError(t, tx.CreateDepartment(ctx, &anpi.Department{ID: "new", Name: "新部署", ParentID: "plant"}))
	require.NoError(t, tx.UpdateDepartment(ctx, &anpi.Department{ID: "sales", Name: "営業", ParentID: "plant"}))
	require.NoError(t, tx.PutContact(ctx, contact("c1", "u1", anpi.EmailContact, anpi.PrivateScope, "u1@home.example.jp")))
	require.NoError(t, tx.RecordContactCheck(ctx, "c0", anpi.ContactCheck{Broken: true}))
	require.NoError(t, tx.DeleteContact(ctx, "c0"))
	require.NoError(t, tx.GrantRole(ctx, anpi.RoleGrant{UserID: "u1", Role: anpi.SystemAdmin}))
	require.NoError(t, tx.RevokeRole(ctx, anpi.RoleGrant{UserID: "u0", Role: anpi.Manager}))
	require.NoError(t, tx.PutSettings(ctx, anpi.Settings{MessageCreators: anpi.Everyone}))
	require.NoError(t, tx.PutForm(ctx, customForm()))
	require.NoError(t, tx.DeleteForm(ctx, anpi.DefaultFormID))
	require.NoError(t, tx.PutTemplate(ctx, &anpi.Template{ID: "t1", Subject: anpi.Text{Ja: "件名"}, Body: anpi.Text{Ja: "本文"}}))
	require.NoError(t, tx.DeleteTemplate(ctx, "t0"))
	require.NoError(t, tx.PutRule(ctx, &anpi.RuleRecord{ID: "r0", Spec: json.RawMessage(`{"a":2}`), UpdatedAt: t0()}))
	require.NoError(t, tx.PutRule(ctx, &anpi.RuleRecord{ID: "r1", Spec: json.RawMessage(`{}`), UpdatedAt: t0()}))

	mustSurvey(t, tx, newSurvey("s1", anpi.Open, at(time.Hour)))
	s0, err := tx.GetSurvey(ctx, "s0")
	require.NoError(t, err)
	s0.Title = "変更"
	require.NoError(t, tx.UpdateSurvey(ctx, s0))
	for _, s := range []anpi.SurveyID{"s0", "s1"} {
		n, err := tx.AddRecipients(ctx, s, []anpi.Recipient{recipient(t, tx, s, u1)})
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	n, err := tx.EnqueueDeliveries(ctx, []*anpi.Delivery{
		newDelivery("d2", "s0", "u1", anpi.EmailChannel, t0()),
		newDelivery("d3", "s1", "u1", anpi.EmailChannel, t0()),
	})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	claimed, err := tx.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "w2", Limit: 10, Lease: time.Minute, Now: at(time.Hour)})
	require.NoError(t, err)
	require.Len(t, claimed, 4, "d0 (expired lease), d1, d2, d3")
	require.NoError(t, tx.CompleteDelivery(ctx, "d0", "w2", anpi.SendResult{At: at(time.Hour)}))
	require.NoError(t, tx.FailDelivery(ctx, "d1", "w2", anpi.SendFailure{Error: "x", At: at(time.Hour), Permanent: true}))
	require.NoError(t, tx.MarkDelivered(ctx, "d0", at(time.Hour)))
	for _, r := range []*anpi.Response{
		newResponse("resp1", "s0", "u0", at(2*time.Minute), "serious", "cannot"), // a re-answer
		newResponse("resp2", "s0", "u1", at(3*time.Minute), "minor", ""),
		newResponse("resp3", "s1", "u1", at(61*time.Minute), "safe", ""),
	} {
		ok, err := tx.RecordResponse(ctx, r)
		require.NoError(t, err)
		require.True(t, ok)
	}
	tl, err := tx.Tally(ctx, "s0")
	require.NoError(t, err)
	require.Equal(t, 2, tl.Answered, "the transaction sees its own counters")
	_, err = tx.AppendAudit(ctx, &anpi.AuditEntry{At: at(time.Hour), Action: "inside"})
	require.NoError(t, err)
	require.NoError(t, tx.DeleteUser(ctx, "u0"))
	mustSurvey(t, tx, newSurvey("draft", anpi.Draft, at(2*time.Hour)))
	require.NoError(t, tx.DeleteSurvey(ctx, "draft"))
}

func testRollbackError(t *testing.T, st anpi.Store) {
	rollbackFixture(t, st)
	before := takeSnapshot(t, st)
	boom := errors.New("boom")
	err := st.InTx(t.Context(), func(tx anpi.Tx) error {
		writeEverything(t, tx)
		return boom
	})
	require.ErrorIs(t, err, boom, "InTx returns fn's error")
	requireSameSnapshot(t, before, takeSnapshot(t, st), "a failed transaction leaves nothing")
	// The store still works, and the rolled-back IDs are free.
	require.NoError(t, st.InTx(t.Context(), func(tx anpi.Tx) error {
		writeEverything(t, tx)
		return nil
	}))
}

func testRollbackPanic(t *testing.T, st anpi.Store) {
	rollbackFixture(t, st)
	before := takeSnapshot(t, st)
	require.PanicsWithValue(t, "boom", func() {
		_ = st.InTx(t.Context(), func(tx anpi.Tx) error {
			writeEverything(t, tx)
			panic("boom")
		})
	}, "InTx panics on with fn's value")
	requireSameSnapshot(t, before, takeSnapshot(t, st), "a panicking transaction leaves nothing")
	_, err := st.GetUser(t.Context(), "u1")
	requireCode(t, anpi.NotFound, err, "the store is usable after a panic")
}

func testCommit(t *testing.T, st anpi.Store) {
	rollbackFixture(t, st)
	before := takeSnapshot(t, st)
	require.NoError(t, st.InTx(t.Context(), func(tx anpi.Tx) error {
		writeEverything(t, tx)
		return nil
	}))
	after := takeSnapshot(t, st)
	require.NotEqual(t, before, after)
	ctx := t.Context()
	_, err := st.GetUser(ctx, "u0")
	requireCode(t, anpi.NotFound, err)
	u1, err := st.GetUser(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, "u1", string(u1.ID))
	_, err = st.GetContact(ctx, "c0")
	requireCode(t, anpi.NotFound, err)
	tree, err := st.Departments(ctx)
	require.NoError(t, err)
	require.Equal(t, []anpi.DepartmentID{"plant"}, tree.Ancestors("sales"))
	tl, err := st.Tally(ctx, "s0")
	require.NoError(t, err)
	require.Equal(t, 2, tl.Targets)
	require.Equal(t, 2, tl.Answered)
	requireTallyMatchesRecount(t, st, "s0")
	requireTallyMatchesRecount(t, st, "s1")
	d, err := st.GetDelivery(ctx, "d0")
	require.NoError(t, err)
	require.Equal(t, anpi.Delivered, d.State)
	r, err := st.GetRule(ctx, "r0")
	require.NoError(t, err)
	require.Equal(t, 2, r.Version)
	require.Len(t, after.Audit, 2)
}

// testSingleCallAtomic: a call on the Store is a transaction of its own, so
// a batch with one bad element changes nothing.
func testSingleCallAtomic(t *testing.T, st anpi.Store) {
	rollbackFixture(t, st)
	ctx := t.Context()
	before := takeSnapshot(t, st)
	bad := newDelivery("bad", "s0", "u0", anpi.EmailChannel, t0())
	bad.State = anpi.Sent
	_, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{
		newDelivery("ok1", "s0", "u0", anpi.FCMChannel, t0()),
		newDelivery("ok2", "s0", "u0", anpi.APNsChannel, t0()),
		bad,
	})
	requireCode(t, anpi.InvalidArgument, err)
	u, err := st.GetUser(ctx, "u0")
	require.NoError(t, err)
	r := recipient(t, st, "s0", u)
	r.UserID = "u-other"
	_, err = st.AddRecipients(ctx, "s0", []anpi.Recipient{r, {SurveyID: "s0", UserID: "u-bad", Regions: []anpi.Region{{Kind: "moon", Code: "1"}}}})
	requireCode(t, anpi.InvalidArgument, err)
	requireSameSnapshot(t, before, takeSnapshot(t, st), "a refused batch adds nothing")
}

func testNilInputs(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustSurvey(t, st, newSurvey("s", anpi.Open, t0()))
	calls := map[string]func() error{
		"CreateUser":       func() error { return st.CreateUser(ctx, nil) },
		"UpdateUser":       func() error { return st.UpdateUser(ctx, nil) },
		"CreateDepartment": func() error { return st.CreateDepartment(ctx, nil) },
		"UpdateDepartment": func() error { return st.UpdateDepartment(ctx, nil) },
		"PutContact":       func() error { return st.PutContact(ctx, nil) },
		"PutForm":          func() error { return st.PutForm(ctx, nil) },
		"PutTemplate":      func() error { return st.PutTemplate(ctx, nil) },
		"PutRule":          func() error { return st.PutRule(ctx, nil) },
		"CreateSurvey":     func() error { return st.CreateSurvey(ctx, nil) },
		"UpdateSurvey":     func() error { return st.UpdateSurvey(ctx, nil) },
		"EnqueueDeliveries": func() error {
			_, err := st.EnqueueDeliveries(ctx, []*anpi.Delivery{nil})
			return err
		},
		"RecordResponse": func() error { _, err := st.RecordResponse(ctx, nil); return err },
		"AppendAudit":    func() error { _, err := st.AppendAudit(ctx, nil); return err },
		"PutAnswerTokens": func() error {
			return st.PutAnswerTokens(ctx, []*anpi.AnswerToken{nil})
		},
		"InTx": func() error { return st.InTx(ctx, nil) },
		"CreateSurvey without form": func() error {
			s := newSurvey("s2", anpi.Draft, t0())
			s.Form = nil
			return st.CreateSurvey(ctx, s)
		},
		"RecordResponse without answers": func() error {
			_, err := st.RecordResponse(ctx, &anpi.Response{ID: "r", SurveyID: "s", UserID: "u", Channel: anpi.ViaWeb, At: t0()})
			return err
		},
	}
	for name, call := range calls {
		var err error
		require.NotPanics(t, func() { err = call() }, name)
		requireCode(t, anpi.InvalidArgument, err, name)
	}
	// nil queries mean "everything".
	_, err := st.ListUsers(ctx, nil)
	require.NoError(t, err)
	_, err = st.ListSurveys(ctx, nil)
	require.NoError(t, err)
	_, err = st.ListAudit(ctx, nil)
	require.NoError(t, err)
	n, err := st.AddRecipients(ctx, "s", nil)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = st.EnqueueDeliveries(ctx, nil)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, st.PutAnswerTokens(ctx, nil))
}

func testCancelledContext(t *testing.T, st anpi.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := st.CreateUser(ctx, newUser("u1", "E1"))
	requireCode(t, anpi.Unavailable, err, "write")
	_, err = st.GetUser(ctx, "u1")
	requireCode(t, anpi.Unavailable, err, "read")
	err = st.InTx(ctx, func(tx anpi.Tx) error { return tx.CreateUser(ctx, newUser("u1", "E1")) })
	requireCode(t, anpi.Unavailable, err, "transaction")
	_, err = st.AnswerToken(ctx, tokenHash("a"))
	requireCode(t, anpi.Unavailable, err, "token look-up")
	n, err := st.CountUsers(t.Context())
	require.NoError(t, err)
	require.Zero(t, n, "nothing was written")
}
