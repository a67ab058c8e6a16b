package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2024, 1, 1, 7, 10, 0, 0, time.UTC)

func requireCode(t testing.TB, code anpi.ErrorCode, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code.String(), anpi.Code(err).String(), "error: %v", err)
}

// seedSurvey creates departments, n users in them and an open survey "s"
// with the users as recipients.
func seedSurvey(t testing.TB, st anpi.Store, n int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		for _, d := range []*anpi.Department{{ID: "hq", Name: "本社"}, {ID: "sales", Name: "営業", ParentID: "hq"}, {ID: "plant", Name: "工場"}} {
			if err := tx.CreateDepartment(ctx, d); err != nil {
				return err
			}
		}
		tree, err := tx.Departments(ctx)
		if err != nil {
			return err
		}
		if err := tx.CreateSurvey(ctx, &anpi.Survey{ID: "s", Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(),
			Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedAt: t0, StartedAt: t0}); err != nil {
			return err
		}
		var rs []anpi.Recipient
		for i := range n {
			dept := []anpi.DepartmentID{"sales", "plant", "hq"}[i%3]
			u := &anpi.User{ID: anpi.UserID(fmt.Sprintf("u%05d", i)), EmployeeCode: fmt.Sprintf("E%05d", i), Name: "社員", Status: anpi.Active, Locale: anpi.Japanese,
				Departments: []anpi.DepartmentID{dept}, Regions: []anpi.Region{{Kind: anpi.QuakeArea, Code: fmt.Sprintf("%03d", 350+i%4)}}}
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			rs = append(rs, anpi.NewRecipient("s", u, tree))
		}
		_, err = tx.AddRecipients(ctx, "s", rs)
		return err
	}))
}

func answer(id string, u anpi.UserID, at time.Time, self string) *anpi.Response {
	return &anpi.Response{ID: anpi.ResponseID(id), SurveyID: "s", UserID: u, Channel: anpi.ViaWeb, At: at,
		Answers: []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{self}}}}
}

func verifyTally(t testing.TB, st anpi.Store, s anpi.SurveyID) {
	t.Helper()
	require.NoError(t, st.InTx(context.Background(), func(tx anpi.Tx) error { return storetest.VerifyTally(context.Background(), tx, s) }))
}

func TestMigrationsAreNumberedWithoutGaps(t *testing.T) {
	ms := migrationFiles()
	require.GreaterOrEqual(t, len(ms), 2)
	for i, m := range ms {
		require.Equal(t, i+1, m.version, m.name)
	}
	require.Equal(t, len(ms), SchemaVersion())
}

func schemaVersions(t testing.TB, schema string) []int {
	t.Helper()
	rows, err := rawPool(t).Query(context.Background(), "SELECT version FROM "+pgx.Identifier{schema, "schema_version"}.Sanitize()+" ORDER BY version")
	require.NoError(t, err)
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(t, err)
	out := make([]int, len(vs))
	for i, v := range vs {
		out[i] = int(v)
	}
	return out
}

// TestConcurrentOpenMigratesOnce opens one empty schema from several
// stores at once, as replicas starting together do: the advisory lock lets
// one migrate and the others find the work done.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	url, schema := testSchema(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	stores := make([]*Store, replicas)
	for i := range replicas {
		wg.Go(func() {
			stores[i], errs[i] = Open(context.Background(), url, &Options{Schema: schema, AllowPlaintextContacts: true})
		})
	}
	wg.Wait()
	for i := range replicas {
		require.NoError(t, errs[i])
		require.NoError(t, stores[i].Close())
	}
	want := []int{}
	for v := 1; v <= SchemaVersion(); v++ {
		want = append(want, v)
	}
	require.Equal(t, want, schemaVersions(t, schema))
}

// allVersions returns 1 … SchemaVersion().
func allVersions() []int {
	out := []int{}
	for v := 1; v <= SchemaVersion(); v++ {
		out = append(out, v)
	}
	return out
}

// TestMigrateFromVersion1 writes data, turns the schema back into what
// version 1 was (migrations 2 to 4 only add tables: the counters, the
// answer tokens, threads and boards; migration 5 replaces indexes) and
// reopens it: the upgrade keeps every row and fills the counters from a
// recount.
func TestMigrateFromVersion1(t *testing.T) {
	t.Parallel()
	url, schema := testSchema(t)
	ctx := context.Background()
	st, err := Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	seedSurvey(t, st, 30)
	for i := range 20 {
		_, err := st.RecordResponse(ctx, answer(fmt.Sprintf("r%d", i), anpi.UserID(fmt.Sprintf("u%05d", i)), t0.Add(time.Duration(i)*time.Second), []string{"safe", "minor"}[i%2]))
		require.NoError(t, err)
	}
	_, err = st.RecordResponse(ctx, answer("r-again", "u00001", t0.Add(time.Minute), "serious"))
	require.NoError(t, err)
	before, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.NoError(t, st.Close())

	pool := rawPool(t)
	_, err = pool.Exec(ctx, undoMigration7(schema)+undoMigration6(schema)+undoMigration5(schema)+fmt.Sprintf("DROP TABLE %[1]s.tally_groups, %[1]s.tally_choices, %[1]s.tally_seconds, %[1]s.answer_tokens, %[1]s.posts, %[1]s.boards, %[1]s.messages, %[1]s.thread_members, %[1]s.threads; DELETE FROM %[1]s.schema_version WHERE version > 1", pgx.Identifier{schema}.Sanitize()))
	require.NoError(t, err)
	require.Equal(t, []int{1}, schemaVersions(t, schema))

	st, err = Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	require.Equal(t, allVersions(), schemaVersions(t, schema))
	n, err := st.CountUsers(ctx)
	require.NoError(t, err)
	require.Equal(t, 30, n)
	hist, err := st.ResponseHistory(ctx, "s", "u00001")
	require.NoError(t, err)
	require.Len(t, hist, 2)
	after, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, before, after)
	require.Equal(t, 20, after.Answered)
	verifyTally(t, st, "s")
}

// TestMigrateFromVersion2 writes data, turns the schema back into what
// version 2 was (migrations 3 and 4 only add tables, migration 5 replaces
// indexes) and reopens it: the upgrade keeps every row, and the surveys
// that were there take tokens.
func TestMigrateFromVersion2(t *testing.T) {
	t.Parallel()
	url, schema := testSchema(t)
	ctx := context.Background()
	st, err := Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	seedSurvey(t, st, 6)
	_, err = st.RecordResponse(ctx, answer("r0", "u00000", t0.Add(time.Second), "safe"))
	require.NoError(t, err)
	before, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.NoError(t, st.Close())

	pool := rawPool(t)
	_, err = pool.Exec(ctx, undoMigration7(schema)+undoMigration6(schema)+undoMigration5(schema)+fmt.Sprintf("DROP TABLE %[1]s.answer_tokens, %[1]s.posts, %[1]s.boards, %[1]s.messages, %[1]s.thread_members, %[1]s.threads; DELETE FROM %[1]s.schema_version WHERE version > 2", pgx.Identifier{schema}.Sanitize()))
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, schemaVersions(t, schema))

	st, err = Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	require.Equal(t, allVersions(), schemaVersions(t, schema))
	after, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, before, after, "the upgrade keeps the rows")
	tk := &anpi.AnswerToken{Hash: anpi.TokenHash{2}, SurveyID: "s", UserID: "u00001", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	require.NoError(t, st.PutAnswerTokens(ctx, []*anpi.AnswerToken{tk}))
	got, err := st.AnswerToken(ctx, tk.Hash)
	require.NoError(t, err)
	require.Equal(t, tk, got)
	n, err := st.RevokeAnswerTokens(ctx, "s", "u00001", t0.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// TestAnswerTokenQueryPlans checks, on an analysed table of a few thousand
// tokens, that the look-up on every answer-page hit is a primary-key probe
// and that revoking one recipient's tokens uses the (survey_id, user_id)
// index.
func TestAnswerTokenQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t, nil)
	var ts []*anpi.AnswerToken
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		for s := range 20 {
			sv := anpi.SurveyID(fmt.Sprintf("s%02d", s))
			if err := tx.CreateSurvey(ctx, &anpi.Survey{ID: sv, Kind: anpi.ManualSurvey, Title: "安否確認", Form: anpi.DefaultForm(),
				Targeting: anpi.Targeting{Everyone: true}, Status: anpi.Open, CreatedAt: t0, StartedAt: t0}); err != nil {
				return err
			}
			for u := range 200 {
				_, h, err := anpi.NewAnswerToken(nil)
				if err != nil {
					return err
				}
				ts = append(ts, &anpi.AnswerToken{Hash: h, SurveyID: sv, UserID: anpi.UserID(fmt.Sprintf("u%03d", u)), CreatedAt: t0})
			}
		}
		return tx.PutAnswerTokens(ctx, ts)
	}))
	pool := rawPool(t)
	_, err := pool.Exec(ctx, "ANALYZE "+pgx.Identifier{st.Schema(), "answer_tokens"}.Sanitize())
	require.NoError(t, err)
	plan := func(query string, args ...any) string {
		t.Helper()
		rows, err := pool.Query(ctx, "EXPLAIN "+st.sql(query), args...)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return strings.Join(lines, "\n")
	}
	p := plan("SELECT survey_id, user_id, created_at, expires_at, revoked_at FROM {answer_tokens} WHERE hash = ?", ts[7].Hash[:])
	require.Contains(t, p, "Index Scan using answer_tokens_pkey", p)
	p = plan("UPDATE {answer_tokens} SET revoked_at = ? WHERE survey_id = ? AND user_id = ? AND revoked_at IS NULL", int64(1), "s03", "u007")
	require.Contains(t, p, "answer_tokens_user", p)
	got, err := st.AnswerToken(ctx, ts[7].Hash)
	require.NoError(t, err)
	require.Equal(t, ts[7], got)
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	url, schema := testSchema(t)
	ctx := context.Background()
	st, err := Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	require.NoError(t, st.Close())
	newer := SchemaVersion() + 7
	_, err = rawPool(t).Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "schema_version"}.Sanitize()+" (version, name, applied_at) VALUES ($1, 'future.sql', now())", newer)
	require.NoError(t, err)
	_, err = Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	requireCode(t, anpi.FailedPrecondition, err)
	require.Contains(t, err.Error(), fmt.Sprintf("version %d", newer))
	require.Contains(t, err.Error(), fmt.Sprintf("version %d", SchemaVersion()))
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	url := testURL(t)
	ctx := context.Background()
	_, err := Open(ctx, url, &Options{Schema: newSchemaName(t)})
	requireCode(t, anpi.InvalidArgument, err)
	require.Contains(t, err.Error(), "Sealer")
	_, err = Open(ctx, "postgres://user:secret@[::1", &Options{AllowPlaintextContacts: true})
	requireCode(t, anpi.InvalidArgument, err)
	require.NotContains(t, err.Error(), "secret", "the URL's password stays out of errors")
	_, err = Open(ctx, url, &Options{Schema: string(bytes.Repeat([]byte("x"), 64)), AllowPlaintextContacts: true})
	requireCode(t, anpi.InvalidArgument, err)
	_, err = New(ctx, nil, &Options{AllowPlaintextContacts: true})
	requireCode(t, anpi.InvalidArgument, err)

	// Nobody listens on port 1 of the loopback interface.
	_, err = Open(ctx, "postgres://postgres@127.0.0.1:1/anpi?sslmode=disable&connect_timeout=5", &Options{AllowPlaintextContacts: true})
	requireCode(t, anpi.Unavailable, err)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Open(cctx, url, &Options{AllowPlaintextContacts: true, Schema: newSchemaName(t)})
	requireCode(t, anpi.Unavailable, err)
}

// TestNewOnCallersPool runs a store on a pool the caller owns: Close
// leaves the pool open.
func TestNewOnCallersPool(t *testing.T) {
	t.Parallel()
	_, schema := testSchema(t)
	pool := rawPool(t)
	ctx := context.Background()
	st, err := New(ctx, pool, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	require.Equal(t, schema, st.Schema())
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "社員", Status: anpi.Active, Locale: anpi.Japanese}))
	require.NoError(t, st.Close())
	require.NoError(t, st.Close(), "a second Close is a no-op")
	_, err = st.GetUser(ctx, "u1")
	requireCode(t, anpi.FailedPrecondition, err)
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "users"}.Sanitize()).Scan(&n))
	require.Equal(t, 1, n, "the pool still works")
}

func TestClassify(t *testing.T) {
	require.NoError(t, classify("x", nil))
	requireCode(t, anpi.Unavailable, classify("x", context.Canceled))
	requireCode(t, anpi.Internal, classify("x", errors.New("boom")))
	requireCode(t, anpi.NotFound, classify("x", anpi.Errorf(anpi.NotFound, "gone")))
}

func TestNULInTextIsInvalidArgument(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	err := st.CreateUser(context.Background(), &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "社員\x00", Status: anpi.Active, Locale: anpi.Japanese})
	if err != nil { // the name is kept in JSON, where a NUL is escaped; either outcome is clean
		requireCode(t, anpi.InvalidArgument, err)
	}
	_, err = st.RecordResponse(context.Background(), answer("r1", "u1", t0, "safe"))
	requireCode(t, anpi.NotFound, err)
	_, err = st.GetSurvey(context.Background(), "s\x00")
	requireCode(t, anpi.InvalidArgument, err)
}

func testSealer(t testing.TB, current string) *anpi.AESSealer {
	t.Helper()
	keys := map[string][]byte{"k1": bytes.Repeat([]byte{1}, 32), "k2": bytes.Repeat([]byte{2}, 32)}
	s, err := anpi.NewAESSealer(current, keys, nil)
	require.NoError(t, err)
	return s
}

// rawContacts reads the contacts table behind the store's back.
func rawContacts(t testing.TB, schema string) map[string][]byte {
	t.Helper()
	rows, err := rawPool(t).Query(context.Background(), "SELECT id, data FROM "+pgx.Identifier{schema, "contacts"}.Sanitize())
	require.NoError(t, err)
	out := map[string][]byte{}
	var id string
	var data []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &data}, func() error { out[id] = bytes.Clone(data); return nil })
	require.NoError(t, err)
	return out
}

func TestPrivateContactsSealedAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t, &Options{Sealer: testSealer(t, "k1")})
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "社員", Status: anpi.Active, Locale: anpi.Japanese}))
	private := &anpi.Contact{ID: "c-private", UserID: "u1", Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: "taro.private@example.jp", Label: "自宅PC"}
	family := &anpi.Contact{ID: "c-family", UserID: "u1", Kind: anpi.PhoneContact, Scope: anpi.FamilyScope, Address: "+819012345678", Label: "妻"}
	work := &anpi.Contact{ID: "c-work", UserID: "u1", Kind: anpi.EmailContact, Scope: anpi.WorkScope, Address: "taro@corp.example.jp"}
	for _, c := range []*anpi.Contact{private, family, work} {
		require.NoError(t, st.PutContact(ctx, c))
	}
	require.NoError(t, st.RecordContactCheck(ctx, "c-private", anpi.ContactCheck{LastError: "550 5.1.1 <taro.private@example.jp>: user unknown", LastErrorAt: t0}))

	raw := rawContacts(t, st.Schema())
	for _, secret := range []string{"taro.private", "example.jp", "自宅PC"} {
		require.NotContains(t, string(raw["c-private"]), secret)
	}
	for _, secret := range []string{"9012345678", "妻"} {
		require.NotContains(t, string(raw["c-family"]), secret)
	}
	require.Contains(t, string(raw["c-work"]), "taro@corp.example.jp", "the work email is not private")
	id, err := anpi.KeyID(raw["c-private"])
	require.NoError(t, err)
	require.Equal(t, "k1", id)

	got, err := st.GetContact(ctx, "c-private")
	require.NoError(t, err)
	require.Equal(t, "taro.private@example.jp", got.Address)
	require.Equal(t, "自宅PC", got.Label)

	// A sealed value moved to another row does not open there.
	_, err = rawPool(t).Exec(ctx, "UPDATE "+pgx.Identifier{st.Schema(), "contacts"}.Sanitize()+" SET data = $1 WHERE id = 'c-family'", raw["c-private"])
	require.NoError(t, err)
	_, err = st.GetContact(ctx, "c-family")
	requireCode(t, anpi.FailedPrecondition, err)
}

func TestRotateSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, schema := testSchema(t)
	// Written in the clear first (a store without a Sealer), then under k1.
	plain, err := Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	require.NoError(t, plain.CreateUser(ctx, &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "社員", Status: anpi.Active, Locale: anpi.Japanese}))
	require.NoError(t, plain.PutContact(ctx, &anpi.Contact{ID: "c0", UserID: "u1", Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: "clear@example.jp"}))
	_, err = plain.RotateSealed(ctx, 10)
	requireCode(t, anpi.FailedPrecondition, err)
	require.NoError(t, plain.Close())

	k1, err := Open(ctx, url, &Options{Schema: schema, Sealer: testSealer(t, "k1")})
	require.NoError(t, err)
	for i := 1; i <= 2; i++ {
		require.NoError(t, k1.PutContact(ctx, &anpi.Contact{ID: anpi.ContactID(fmt.Sprintf("c%d", i)), UserID: "u1", Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: fmt.Sprintf("p%d@example.jp", i)}))
	}
	require.NoError(t, k1.PutContact(ctx, &anpi.Contact{ID: "c9", UserID: "u1", Kind: anpi.PhoneContact, Scope: anpi.FamilyScope, Address: "+819011112222"}))
	require.NoError(t, k1.Close())

	k2, err := Open(ctx, url, &Options{Schema: schema, Sealer: testSealer(t, "k2")})
	require.NoError(t, err)
	defer k2.Close()
	n, err := k2.RotateSealed(ctx, 2)
	require.NoError(t, err)
	require.Equal(t, 4, n, "the clear one and the three sealed with k1")
	for id, data := range rawContacts(t, schema) {
		key, err := anpi.KeyID(data)
		require.NoError(t, err, id)
		require.Equal(t, "k2", key, id)
	}
	n, err = k2.RotateSealed(ctx, 0)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to rotate")
	c, err := k2.GetContact(ctx, "c0")
	require.NoError(t, err)
	require.Equal(t, "clear@example.jp", c.Address)
}

// TestTallyReadsCounters removes the responses behind the store's back:
// Tally still reports them, because it reads counters, never recounts.
func TestTallyReadsCounters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t, nil)
	seedSurvey(t, st, 9)
	for i := range 6 {
		_, err := st.RecordResponse(ctx, answer(fmt.Sprintf("r%d", i), anpi.UserID(fmt.Sprintf("u%05d", i)), t0.Add(time.Duration(i)*time.Second), "safe"))
		require.NoError(t, err)
	}
	// A re-answer moves the counts.
	_, err := st.RecordResponse(ctx, answer("r0b", "u00000", t0.Add(time.Hour), "serious"))
	require.NoError(t, err)
	verifyTally(t, st, "s")
	tl, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, 9, tl.Targets)
	require.Equal(t, 6, tl.Answered)
	require.Equal(t, map[string]int{"safe": 5, "serious": 1}, tl.Choices[anpi.QuestionSelf])
	require.Equal(t, 1, tl.AnswerSeconds[0], "the first answer's time counts")

	_, err = rawPool(t).Exec(ctx, "UPDATE "+pgx.Identifier{st.Schema(), "recipients"}.Sanitize()+" SET cur = NULL")
	require.NoError(t, err)
	again, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, tl, again)
}

// TestClaimsAcrossReplicas has two stores on one schema, as two server
// replicas, claim one outbox with four workers each.
func TestClaimsAcrossReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, schema := testSchema(t)
	var stores []*Store
	for range 2 {
		st, err := Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
		require.NoError(t, err)
		defer st.Close()
		stores = append(stores, st)
	}
	const total = 3000
	require.NoError(t, stores[0].CreateSurvey(ctx, &anpi.Survey{ID: "s", Kind: anpi.ManualSurvey, Title: "t", Form: anpi.DefaultForm(), Status: anpi.Open, CreatedAt: t0}))
	var ds []*anpi.Delivery
	for i := range total {
		ds = append(ds, &anpi.Delivery{ID: anpi.DeliveryID(fmt.Sprintf("d%05d", i)), SurveyID: "s", UserID: anpi.UserID(fmt.Sprintf("u%05d", i)),
			Channel: anpi.EmailChannel, State: anpi.Queued, NextAttemptAt: t0.Add(time.Duration(i%50) * time.Millisecond)})
	}
	n, err := stores[1].EnqueueDeliveries(ctx, ds)
	require.NoError(t, err)
	require.Equal(t, total, n)
	n, err = stores[0].EnqueueDeliveries(ctx, ds)
	require.NoError(t, err)
	require.Zero(t, n, "existing keys are skipped")

	var mu sync.Mutex
	owners := map[anpi.DeliveryID]string{}
	var errs []error
	var wg sync.WaitGroup
	for r, st := range stores {
		for w := range 4 {
			owner := fmt.Sprintf("replica%d/worker%d", r, w)
			wg.Go(func() {
				for {
					got, err := st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: owner, Limit: 25, Lease: time.Hour, Now: t0.Add(time.Second)})
					if err == nil {
						for _, d := range got {
							if err = st.CompleteDelivery(ctx, d.ID, owner, anpi.SendResult{ProviderID: "p", At: t0.Add(time.Second)}); err != nil {
								break
							}
						}
					}
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					}
					for _, d := range got {
						if prev, dup := owners[d.ID]; dup {
							errs = append(errs, fmt.Errorf("%s claimed by %s and %s", d.ID, prev, owner))
						}
						owners[d.ID] = owner
					}
					mu.Unlock()
					if err != nil || len(got) == 0 {
						return
					}
				}
			})
		}
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Len(t, owners, total)
	counts, err := stores[0].CountDeliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Sent: total}, counts)
}

func TestGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t, &Options{GroupCommitWindow: 2 * time.Millisecond})
	const users, rounds = 200, 3
	seedSurvey(t, st, users)
	var wg sync.WaitGroup
	errs := make(chan error, users*rounds)
	for u := range users {
		wg.Go(func() {
			for r := range rounds {
				ok, err := st.RecordResponse(ctx, answer(fmt.Sprintf("r%d-%d", u, r), anpi.UserID(fmt.Sprintf("u%05d", u)), t0.Add(time.Duration(u+r)*time.Second), []string{"safe", "minor", "serious"}[(u+r)%3]))
				if err == nil && !ok {
					err = fmt.Errorf("answer %d-%d: not recorded", u, r)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	txs, answers, fallbacks := st.GroupCommitStats()
	require.Equal(t, int64(users*rounds), answers)
	require.Less(t, txs, answers, "answers shared transactions")
	require.Zero(t, fallbacks)
	tl, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, users, tl.Answered)
	verifyTally(t, st, "s")
	for u := range users {
		h, err := st.ResponseHistory(ctx, "s", anpi.UserID(fmt.Sprintf("u%05d", u)))
		require.NoError(t, err)
		require.Len(t, h, rounds)
		for r, resp := range h {
			require.Equal(t, anpi.ResponseID(fmt.Sprintf("r%d-%d", u, r)), resp.ID, "history in order")
		}
	}
	// A retry changes nothing.
	ok, err := st.RecordResponse(ctx, answer("r0-0", "u00000", t0, "safe"))
	require.NoError(t, err)
	require.False(t, ok)
}

// TestGroupCommitFallback sends, among good answers, one whose survey ID
// the server refuses (a NUL byte): its batch fails as a whole, and each
// answer is then recorded alone, so only the bad one fails.
func TestGroupCommitFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t, &Options{GroupCommitWindow: 20 * time.Millisecond})
	seedSurvey(t, st, 20)
	var wg sync.WaitGroup
	results := make([]error, 21)
	for i := range 20 {
		wg.Go(func() {
			_, results[i] = st.RecordResponse(ctx, answer(fmt.Sprintf("r%d", i), anpi.UserID(fmt.Sprintf("u%05d", i)), t0, "safe"))
		})
	}
	wg.Go(func() {
		bad := answer("bad", "u00000", t0, "safe")
		bad.SurveyID = "s\x00"
		_, results[20] = st.RecordResponse(ctx, bad)
	})
	wg.Wait()
	for i := range 20 {
		require.NoError(t, results[i])
	}
	requireCode(t, anpi.InvalidArgument, results[20])
	_, _, fallbacks := st.GroupCommitStats()
	require.GreaterOrEqual(t, fallbacks, int64(1))
	tl, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, 20, tl.Answered)
	verifyTally(t, st, "s")
}

func TestRecordResponseCancelled(t *testing.T) {
	t.Parallel()
	st := openTest(t, nil)
	seedSurvey(t, st, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := st.RecordResponse(ctx, answer("r", "u00000", t0, "safe"))
	requireCode(t, anpi.Unavailable, err)
}

// TestWaitForDeliveries wakes a waiting dispatcher with an enqueue made
// through another store (another replica).
func TestWaitForDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, schema := testSchema(t)
	waiter, err := Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer waiter.Close()
	sender, err := Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer sender.Close()
	require.NoError(t, sender.CreateSurvey(ctx, &anpi.Survey{ID: "s", Kind: anpi.ManualSurvey, Title: "t", Form: anpi.DefaultForm(), Status: anpi.Open, CreatedAt: t0}))

	// An ended context ends the wait.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	requireCode(t, anpi.Unavailable, waiter.WaitForDeliveries(cctx))

	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	woke := make(chan error, 1)
	go func() { woke <- waiter.WaitForDeliveries(wctx) }()
	// The waiter may not be listening yet when an enqueue commits, so
	// enqueue until it wakes (the channel is polled, nothing sleeps).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		n, err := sender.EnqueueDeliveries(ctx, []*anpi.Delivery{{ID: anpi.DeliveryID(fmt.Sprintf("d%d", i)), SurveyID: "s", UserID: anpi.UserID(fmt.Sprintf("u%d", i)), Channel: anpi.EmailChannel, State: anpi.Queued}})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		select {
		case err := <-woke:
			require.NoError(t, err)
			return
		case <-tick.C:
		}
	}
}

// TestBulkEnqueueFallback enqueues more than copyThreshold deliveries,
// some with keys already stored or repeated in the batch: COPY fails, and
// the ON CONFLICT path skips exactly those. A taken ID is AlreadyExists
// and adds nothing.
func TestBulkEnqueueFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t, nil)
	require.NoError(t, st.CreateSurvey(ctx, &anpi.Survey{ID: "s", Kind: anpi.ManualSurvey, Title: "t", Form: anpi.DefaultForm(), Status: anpi.Open, CreatedAt: t0}))
	mk := func(id string, user int) *anpi.Delivery {
		return &anpi.Delivery{ID: anpi.DeliveryID(id), SurveyID: "s", UserID: anpi.UserID(fmt.Sprintf("u%05d", user)), Channel: anpi.EmailChannel, State: anpi.Queued, NextAttemptAt: t0}
	}
	var first []*anpi.Delivery
	for i := range 1500 {
		first = append(first, mk(fmt.Sprintf("a%05d", i), i))
	}
	n, err := st.EnqueueDeliveries(ctx, first)
	require.NoError(t, err)
	require.Equal(t, 1500, n)

	var second []*anpi.Delivery
	for i := 1000; i < 2500; i++ { // 500 stored keys, 1000 new ones
		second = append(second, mk(fmt.Sprintf("b%05d", i), i))
	}
	second = append(second, mk("b-dup", 2400)) // a key repeated in the batch
	n, err = st.EnqueueDeliveries(ctx, second)
	require.NoError(t, err)
	require.Equal(t, 1000, n)
	_, err = st.GetDelivery(ctx, "b01000")
	requireCode(t, anpi.NotFound, err)
	_, err = st.GetDelivery(ctx, "b-dup")
	requireCode(t, anpi.NotFound, err)
	d, err := st.GetDelivery(ctx, "b02400")
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("u02400"), d.UserID)

	var third []*anpi.Delivery
	for i := 5000; i < 6200; i++ {
		third = append(third, mk(fmt.Sprintf("c%05d", i), i))
	}
	third = append(third, mk("a00007", 9999)) // an ID taken by another key
	_, err = st.EnqueueDeliveries(ctx, third)
	requireCode(t, anpi.AlreadyExists, err)
	counts, err := st.CountDeliveries(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.Queued: 2500}, counts)
}

// TestAnswersAcrossReplicas has two stores on one schema record answers,
// and answers again, for the same few users at once: row locks order
// them, each re-answer moves the counts from the answer it replaced, and
// the counters equal a recount.
func TestAnswersAcrossReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, schema := testSchema(t)
	var stores []*Store
	for range 3 {
		st, err := Open(ctx, url, &Options{Schema: schema, AllowPlaintextContacts: true, GroupCommitWindow: -1})
		require.NoError(t, err)
		defer st.Close()
		stores = append(stores, st)
	}
	seedSurvey(t, stores[0], 5)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for r, st := range stores {
		for g := range 4 {
			wg.Go(func() {
				for i := range 40 {
					u := anpi.UserID(fmt.Sprintf("u%05d", (i+g)%5))
					resp := answer(fmt.Sprintf("r%d-%d-%d", r, g, i), u, t0.Add(time.Duration(i)*time.Second), []string{"safe", "minor", "serious"}[(i+r)%3])
					var err error
					if g%2 == 0 {
						_, err = st.RecordResponse(ctx, resp)
					} else {
						err = st.InTx(ctx, func(tx anpi.Tx) error { _, err := tx.RecordResponse(ctx, resp); return err })
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	verifyTally(t, stores[0], "s")
	tl, err := stores[1].Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, 5, tl.Answered)
	n := 0
	for _, c := range tl.Choices[anpi.QuestionSelf] {
		n += c
	}
	require.Equal(t, 5, n, "one current answer per user")
}

// TestSchemaMadeByAdministrator opens, as a role that may not create
// schemas, a schema its administrator made and gave it.
func TestSchemaMadeByAdministrator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL, schema := testSchema(t)
	role := schema + "_role"
	admin := rawPool(t)
	_, err := admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %[1]s LOGIN; CREATE SCHEMA %[2]s AUTHORIZATION %[1]s", pgx.Identifier{role}.Sanitize(), pgx.Identifier{schema}.Sanitize()))
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE; DROP ROLE "+pgx.Identifier{role}.Sanitize())
		require.NoError(t, err)
	})
	cfg, err := pgx.ParseConfig(dbURL)
	require.NoError(t, err)
	u := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", role, cfg.Host, cfg.Port, cfg.Database)
	st, err := Open(ctx, u, &Options{Schema: schema, AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "社員", Status: anpi.Active, Locale: anpi.Japanese}))

	_, err = Open(ctx, u, &Options{Schema: schema + "_other", AllowPlaintextContacts: true})
	requireCode(t, anpi.FailedPrecondition, err) // permission denied: for the administrator to fix
	require.Contains(t, err.Error(), "create schema")
}

// TestInTxRetriesDeadlock makes two transactions lock two users in
// opposite orders: the server aborts one for the deadlock, InTx runs it
// again, and both commit.
func TestInTxRetriesDeadlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTest(t, nil)
	user := func(id string, name string) *anpi.User {
		return &anpi.User{ID: anpi.UserID(id), EmployeeCode: "E" + id, Name: name, Status: anpi.Active, Locale: anpi.Japanese}
	}
	require.NoError(t, st.CreateUser(ctx, user("1", "一")))
	require.NoError(t, st.CreateUser(ctx, user("2", "二")))
	var attempts atomic.Int32
	ready := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	var once [2]sync.Once
	run := func(me int, first, second string) error {
		return st.InTx(ctx, func(tx anpi.Tx) error {
			attempts.Add(1)
			if err := tx.UpdateUser(ctx, user(first, fmt.Sprintf("by %d", me))); err != nil {
				return err
			}
			once[me].Do(func() { // the first attempt waits until both hold their first lock
				close(ready[me])
				<-ready[1-me]
			})
			return tx.UpdateUser(ctx, user(second, fmt.Sprintf("by %d", me)))
		})
	}
	var wg sync.WaitGroup
	var errs [2]error
	wg.Go(func() { errs[0] = run(0, "1", "2") })
	wg.Go(func() { errs[1] = run(1, "2", "1") })
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.GreaterOrEqual(t, attempts.Load(), int32(3), "one transaction ran again")
	u1, err := st.GetUser(ctx, "1")
	require.NoError(t, err)
	u2, err := st.GetUser(ctx, "2")
	require.NoError(t, err)
	require.Equal(t, u1.Name, u2.Name, "the transaction committed last wrote both")
}
