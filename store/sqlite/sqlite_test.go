package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/storetest"
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

func TestMigrationsAreNumberedWithoutGaps(t *testing.T) {
	ms := migrationFiles()
	require.GreaterOrEqual(t, len(ms), 2)
	for i, m := range ms {
		require.Equal(t, i+1, m.version, m.name)
	}
	require.Equal(t, len(ms), SchemaVersion())
}

func TestMigrateFromEmpty(t *testing.T) {
	st := openTest(t, nil)
	v, err := schemaVersion(t.Context(), st.rdb)
	require.NoError(t, err)
	require.Equal(t, SchemaVersion(), v)
}

// TestMigrateFromVersion1 builds a database at schema version 1 (no tally
// table), fills it with rows as version 1 stored them, and opens it: the
// upgrade keeps the data and fills the counters from a recount.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	require.NoError(t, err)
	require.NoError(t, migrate(ctx, db, 1, time.Now, nil))
	v, err := schemaVersion(ctx, db)
	require.NoError(t, err)
	require.Equal(t, 1, v)
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE name = 'tally'").Scan(&n))
	require.Zero(t, n, "version 1 has no tally table")
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE name = 'answer_tokens'").Scan(&n))
	require.Zero(t, n, "version 1 has no answer_tokens table")

	survey := &anpi.Survey{ID: "s", Kind: anpi.ManualSurvey, Title: "旧", Form: anpi.DefaultForm(), Status: anpi.Open, CreatedAt: t0, StartedAt: t0, Targeting: anpi.Targeting{Everyone: true}}
	data, err := encode("test", survey)
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO surveys (id, kind, status, event_id, created_at, data) VALUES ('s', 'manual', 'open', '', ?, ?)", t0.UnixNano(), data)
	require.NoError(t, err)
	u := &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "旧社員", Status: anpi.Active, Locale: anpi.Japanese, CreatedAt: t0, UpdatedAt: t0}
	data, err = encode("test", u)
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO users (id, employee_code, status, data) VALUES ('u1', 'E1', 'active', ?)", data)
	require.NoError(t, err)
	for i, uid := range []string{"u1", "u2", "u3"} {
		rec := anpi.Recipient{SurveyID: "s", UserID: anpi.UserID(uid), Regions: []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}}}
		rdata, err := encode("test", rec)
		require.NoError(t, err)
		_, err = db.Exec("INSERT INTO recipients (survey_id, user_id, data) VALUES ('s', ?, ?)", uid, rdata)
		require.NoError(t, err)
		if i == 2 {
			continue // u3 never answered
		}
		r := answer("r-"+uid, anpi.UserID(uid), t0.Add(time.Duration(i+1)*time.Minute), "safe")
		r.FirstAt = r.At
		rdata, err = encode("test", r)
		require.NoError(t, err)
		res, err := db.Exec("INSERT INTO responses (id, survey_id, user_id, data) VALUES (?, 's', ?, ?)", string(r.ID), uid, rdata)
		require.NoError(t, err)
		rid, err := res.LastInsertId()
		require.NoError(t, err)
		_, err = db.Exec("UPDATE recipients SET cur = ? WHERE survey_id = 's' AND user_id = ?", rid, uid)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	st, err := Open(ctx, path, &Options{Sealer: testSealer(t, "k1")})
	require.NoError(t, err)
	defer st.Close()
	v, err = schemaVersion(ctx, st.rdb)
	require.NoError(t, err)
	require.Equal(t, SchemaVersion(), v)
	got, err := st.GetUser(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, u, got, "the upgrade keeps the rows")
	tl, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, 3, tl.Targets)
	require.Equal(t, 2, tl.Answered)
	require.Equal(t, 2, tl.Regions["quake:350"].Choices[anpi.QuestionSelf]["safe"])
	require.NoError(t, storetest.VerifyTally(ctx, st, "s"))
	// The upgraded store keeps counting.
	ok, err := st.RecordResponse(ctx, answer("r-u3", "u3", t0.Add(5*time.Minute), "minor"))
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, storetest.VerifyTally(ctx, st, "s"))
	// And holds answer tokens for the surveys it had.
	tk := &anpi.AnswerToken{Hash: anpi.TokenHash{1}, SurveyID: "s", UserID: "u3", CreatedAt: t0}
	require.NoError(t, st.PutAnswerTokens(ctx, []*anpi.AnswerToken{tk}))
	got2, err := st.AnswerToken(ctx, tk.Hash)
	require.NoError(t, err)
	require.Equal(t, tk, got2)
}

// TestMigrateFromVersion2 builds a database at schema version 2 (no
// answer_tokens table) with a draft survey in it, and opens it: the
// upgrade adds the table, keyed by hash and tied to the surveys that were
// already there.
func TestMigrateFromVersion2(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	require.NoError(t, err)
	require.NoError(t, migrate(ctx, db, 2, time.Now, nil))
	v, err := schemaVersion(ctx, db)
	require.NoError(t, err)
	require.Equal(t, 2, v)
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE name = 'tally'").Scan(&n))
	require.Equal(t, 1, n, "version 2 has the tally table")
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE name = 'answer_tokens'").Scan(&n))
	require.Zero(t, n, "version 2 has no answer_tokens table")
	survey := &anpi.Survey{ID: "old", Kind: anpi.ManualSurvey, Title: "旧", Form: anpi.DefaultForm(), Status: anpi.Draft, CreatedAt: t0, Targeting: anpi.Targeting{Everyone: true}}
	data, err := encode("test", survey)
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO surveys (id, kind, status, event_id, created_at, data) VALUES ('old', 'manual', 'draft', '', ?, ?)", t0.UnixNano(), data)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	v, err = schemaVersion(ctx, st.rdb)
	require.NoError(t, err)
	require.Equal(t, SchemaVersion(), v)
	got, err := st.GetSurvey(ctx, "old")
	require.NoError(t, err)
	require.Equal(t, survey, got, "the upgrade keeps the rows")

	tk := &anpi.AnswerToken{Hash: anpi.TokenHash{2}, SurveyID: "old", UserID: "u1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	require.NoError(t, st.PutAnswerTokens(ctx, []*anpi.AnswerToken{tk}))
	gotTk, err := st.AnswerToken(ctx, tk.Hash)
	require.NoError(t, err)
	require.Equal(t, tk, gotTk)
	require.NoError(t, st.DeleteSurvey(ctx, "old"))
	_, err = st.AnswerToken(ctx, tk.Hash)
	requireCode(t, anpi.NotFound, err)
}

// TestAnswerTokenQueryPlans checks that the look-up on every answer-page
// hit reads the primary key, and that revocation and the cascade of a
// survey's deletion use the (survey_id, user_id) index, never a scan.
func TestAnswerTokenQueryPlans(t *testing.T) {
	st := openTest(t, &Options{AllowPlaintextContacts: true})
	plan := func(query string, args ...any) string {
		t.Helper()
		rows, err := st.rdb.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
		require.NoError(t, err)
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, parent, notused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
			b.WriteString(detail + "\n")
		}
		require.NoError(t, rows.Err())
		return b.String()
	}
	h := make([]byte, 32)
	p := plan("SELECT survey_id, user_id, created_at, expires_at, revoked_at FROM answer_tokens WHERE hash = ?", h)
	require.Contains(t, p, "SEARCH answer_tokens USING PRIMARY KEY (hash=?)", p)
	p = plan("UPDATE answer_tokens SET revoked_at = ? WHERE survey_id = ? AND user_id = ? AND revoked_at IS NULL", 1, "s", "u")
	require.Contains(t, p, "SEARCH answer_tokens USING INDEX answer_tokens_user (survey_id=? AND user_id=?)", p)
	p = plan("UPDATE answer_tokens SET revoked_at = ? WHERE survey_id = ? AND revoked_at IS NULL", 1, "s")
	require.Contains(t, p, "SEARCH answer_tokens USING INDEX answer_tokens_user (survey_id=?)", p)
	p = plan("DELETE FROM answer_tokens WHERE survey_id = ?", "s") // what the cascade runs
	require.Contains(t, p, "SEARCH answer_tokens USING INDEX answer_tokens_user (survey_id=?)", p)
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "anpi.db")
	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	future := SchemaVersion() + 7
	err = execW(t, st, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future.sql', 0)", future)
	require.NoError(t, err)
	require.NoError(t, st.Close())

	_, err = Open(ctx, path, &Options{AllowPlaintextContacts: true})
	requireCode(t, anpi.FailedPrecondition, err)
	require.Contains(t, err.Error(), fmt.Sprintf("schema version %d", future))
	require.Contains(t, err.Error(), fmt.Sprintf("version %d that this program knows", SchemaVersion()))
	// The refused Open released the lock: nothing holds the file.
	db, err := sql.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	defer db.Close()
	v, err := schemaVersion(ctx, db)
	require.NoError(t, err)
	require.Equal(t, future, v, "a refused database is left as it was")
}

func TestOpenOptions(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	_, err := Open(ctx, filepath.Join(dir, "a.db"), nil)
	requireCode(t, anpi.InvalidArgument, err)
	require.Contains(t, err.Error(), "Sealer")
	_, err = Open(ctx, "", &Options{AllowPlaintextContacts: true})
	requireCode(t, anpi.InvalidArgument, err)
	if lockSupported {
		_, err = Open(ctx, filepath.Join(dir, "missing", "x.db"), &Options{AllowPlaintextContacts: true})
		requireCode(t, anpi.InvalidArgument, err)
	}
	_, err = Open(ctx, filepath.Join(dir, "b.db"), &Options{AllowPlaintextContacts: true, Synchronous: "sometimes"})
	requireCode(t, anpi.InvalidArgument, err)
	st, err := Open(ctx, filepath.Join(dir, "c.db"), &Options{AllowPlaintextContacts: true, Synchronous: Normal})
	require.NoError(t, err)
	var mode string
	require.NoError(t, st.rdb.QueryRow("PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
	require.NoError(t, st.Close())
	require.NoError(t, st.Close(), "Close twice")
	_, err = st.GetUser(ctx, "u")
	requireCode(t, anpi.FailedPrecondition, err)
	_, err = st.RecordResponse(ctx, answer("r", "u", t0, "safe"))
	requireCode(t, anpi.FailedPrecondition, err)
	requireCode(t, anpi.FailedPrecondition, st.InTx(ctx, func(anpi.Tx) error { return nil }))
}

func TestPragmas(t *testing.T) {
	st := openTest(t, nil)
	var sync, fk int
	require.NoError(t, st.w.conn.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync))
	require.Equal(t, 2, sync, "FULL")
	require.NoError(t, st.rdb.QueryRow("PRAGMA foreign_keys").Scan(&fk))
	require.Equal(t, 1, fk)
}

func TestSecondOpenInProcessRefused(t *testing.T) {
	if !lockSupported {
		t.Skip("no lock file on this system")
	}
	st := openTest(t, nil)
	_, err := Open(t.Context(), st.Path(), &Options{AllowPlaintextContacts: true})
	requireCode(t, anpi.FailedPrecondition, err)
	require.Contains(t, err.Error(), "already open")
}

// The helper process for the locking tests: it opens the database named by
// ANPI_SQLITE_HELPER_DB, prints "opened" or the error code, and holds the
// database until its standard input closes.
func TestHelperOpen(t *testing.T) {
	path := os.Getenv("ANPI_SQLITE_HELPER_DB")
	if path == "" {
		t.Skip("helper process for TestOpenFromTwoProcesses")
	}
	st, err := Open(context.Background(), path, &Options{AllowPlaintextContacts: true})
	if err != nil {
		fmt.Println("error", anpi.Code(err))
		return
	}
	fmt.Println("opened")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = st.Close()
}

func helperCmd(t *testing.T, path string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpen$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ANPI_SQLITE_HELPER_DB="+path)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestOpenFromTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	if !lockSupported {
		t.Skip("no lock file on this system")
	}
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "anpi.db")

	// The child holds the database: we cannot open it.
	cmd := helperCmd(t, path)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "opened\n", line)
	_, err = Open(ctx, path, &Options{AllowPlaintextContacts: true})
	requireCode(t, anpi.FailedPrecondition, err)
	require.Contains(t, err.Error(), "another process")
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())

	// The child is gone: we can; now the child cannot.
	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	out, err := helperCmd(t, path).Output()
	require.NoError(t, err)
	require.Contains(t, string(out), "error FailedPrecondition")
}

func TestPrivateContactsSealedAtRest(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, nil)
	const secret = "kazoku-secret-7Q2@home.example.jp"
	const label = "妻の携帯XYZ"
	const phone = "+819087654321"
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "社員", WorkEmail: "u1@corp.example.jp", Status: anpi.Active, Locale: anpi.Japanese}))
	require.NoError(t, st.PutContact(ctx, &anpi.Contact{ID: "c1", UserID: "u1", Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: secret}))
	require.NoError(t, st.PutContact(ctx, &anpi.Contact{ID: "c2", UserID: "u1", Kind: anpi.PhoneContact, Scope: anpi.FamilyScope, Address: phone, Label: label}))
	require.NoError(t, st.PutContact(ctx, &anpi.Contact{ID: "c3", UserID: "u1", Kind: anpi.EmailContact, Scope: anpi.WorkScope, Address: "u1@corp.example.jp"}))
	require.NoError(t, st.RecordContactCheck(ctx, "c1", anpi.ContactCheck{LastError: "550 5.1.1 <" + secret + ">: no such user", LastErrorAt: t0}))

	got, err := st.GetContact(ctx, "c1")
	require.NoError(t, err)
	require.Equal(t, secret, got.Address, "the owner reads his address back")
	got, err = st.GetContact(ctx, "c2")
	require.NoError(t, err)
	require.Equal(t, label, got.Label)

	raw := func() []byte {
		var all []byte
		for _, suffix := range []string{"", "-wal"} {
			b, err := os.ReadFile(st.Path() + suffix)
			if err == nil {
				all = append(all, b...)
			}
		}
		return all
	}
	before := raw() // the WAL holds the pages before the checkpoint
	require.NoError(t, st.Checkpoint(ctx))
	for _, b := range [][]byte{before, raw()} {
		require.NotEmpty(t, b)
		require.False(t, bytes.Contains(b, []byte(secret)), "private address in the file")
		require.False(t, bytes.Contains(b, []byte("kazoku-secret")), "local part in the file")
		require.False(t, bytes.Contains(b, []byte(phone)), "family phone in the file")
		require.False(t, bytes.Contains(b, []byte(label)), "family label in the file")
		require.True(t, bytes.Contains(b, []byte("u1@corp.example.jp")), "the work email may stay plain (and proves the grep sees rows)")
	}

	// A copy of the file without the key reveals nothing and opens nothing.
	require.NoError(t, st.Close())
	plain, err := Open(ctx, st.Path(), &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	_, err = plain.GetContact(ctx, "c1")
	requireCode(t, anpi.FailedPrecondition, err)
	c3, err := plain.GetContact(ctx, "c3")
	require.NoError(t, err)
	require.Equal(t, "u1@corp.example.jp", c3.Address)
	require.NoError(t, plain.Close())

	// A sealed value moved to another row does not open (ID as additional data).
	db, err := sql.Open("sqlite", "file:"+st.Path())
	require.NoError(t, err)
	_, err = db.Exec("UPDATE contacts SET data = (SELECT data FROM contacts WHERE id = 'c1') WHERE id = 'c2'")
	require.NoError(t, err)
	require.NoError(t, db.Close())
	st2, err := Open(ctx, st.Path(), &Options{Sealer: testSealer(t, "k1")})
	require.NoError(t, err)
	defer st2.Close()
	_, err = st2.GetContact(ctx, "c2")
	requireCode(t, anpi.FailedPrecondition, err)
}

func TestRotateSealed(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "anpi.db")
	// Some contacts were stored in the clear, others with key k1.
	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "u0", EmployeeCode: "E0", Name: "社員", Status: anpi.Active, Locale: anpi.Japanese}))
	require.NoError(t, st.PutContact(ctx, &anpi.Contact{ID: "plain", UserID: "u0", Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: "plain@home.example.jp"}))
	require.NoError(t, st.Close())
	st, err = Open(ctx, path, &Options{Sealer: testSealer(t, "k1")})
	require.NoError(t, err)
	for i := range 7 {
		id := anpi.UserID(fmt.Sprintf("u%d", i+1))
		require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: id, EmployeeCode: "E" + string(id), Name: "社員", Status: anpi.Active, Locale: anpi.Japanese}))
		require.NoError(t, st.PutContact(ctx, &anpi.Contact{ID: anpi.ContactID("c" + string(id)), UserID: id, Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: string(id) + "@home.example.jp"}))
	}
	require.NoError(t, st.PutContact(ctx, &anpi.Contact{ID: "work", UserID: "u1", Kind: anpi.EmailContact, Scope: anpi.WorkScope, Address: "u1@corp.example.jp"}))
	n, err := st.RotateSealed(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the plaintext contact needed sealing")
	require.NoError(t, st.Close())

	// Rotate to k2.
	s2 := testSealer(t, "k2")
	st, err = Open(ctx, path, &Options{Sealer: s2})
	require.NoError(t, err)
	defer st.Close()
	n, err = st.RotateSealed(ctx, 3)
	require.NoError(t, err)
	require.Equal(t, 8, n, "seven k1 contacts and the one sealed by the last run")
	n, err = st.RotateSealed(ctx, 3)
	require.NoError(t, err)
	require.Zero(t, n, "nothing stale is left")
	rows, err := st.rdb.Query("SELECT id, sealed, data FROM contacts WHERE scope <> 'work'")
	require.NoError(t, err)
	defer rows.Close()
	k := 0
	for rows.Next() {
		var id string
		var sealed bool
		var data []byte
		require.NoError(t, rows.Scan(&id, &sealed, &data))
		require.True(t, sealed, id)
		require.False(t, s2.Stale(data), id)
		k++
	}
	require.Equal(t, 8, k)
	c, err := st.GetContact(ctx, "plain")
	require.NoError(t, err)
	require.Equal(t, "plain@home.example.jp", c.Address)
}

func TestGroupCommit(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, &Options{GroupCommitWindow: 5 * time.Millisecond})
	seedSurvey(t, st, 300)
	var wg sync.WaitGroup
	errs := make([]error, 300)
	oks := make([]bool, 300)
	for i := range 300 {
		wg.Go(func() {
			r := answer(fmt.Sprintf("r%d", i), anpi.UserID(fmt.Sprintf("u%05d", i)), t0.Add(time.Duration(i)*time.Second), []string{"safe", "minor", "serious"}[i%3])
			switch i {
			case 7:
				r.UserID = "stranger" // not a recipient
			case 8:
				r.Answers[0].Choices = []string{"unknown-choice"}
			}
			oks[i], errs[i] = st.RecordResponse(ctx, r)
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch i {
		case 7:
			requireCode(t, anpi.NotFound, err)
		case 8:
			requireCode(t, anpi.InvalidArgument, err)
		default:
			require.NoError(t, err, i)
			require.True(t, oks[i], i)
		}
	}
	txs, answers, fallbacks := st.GroupCommitStats()
	t.Logf("%d answers in %d transactions, %d fallbacks", answers, txs, fallbacks)
	require.Equal(t, int64(300), answers)
	require.Less(t, txs, int64(300)/2, "answers share transactions")
	tl, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, 298, tl.Answered)
	require.NoError(t, storetest.VerifyTally(ctx, st, "s"))
	// Retrying an acknowledged answer changes nothing.
	ok, err := st.RecordResponse(ctx, answer("r1", "u00001", t0, "serious"))
	require.NoError(t, err)
	require.False(t, ok)
	// A re-answer moves counts, and the durable state survives a reopen.
	ok, err = st.RecordResponse(ctx, answer("r1-again", "u00001", t0.Add(time.Hour), "serious"))
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, st.Close())
	st2, err := Open(ctx, st.Path(), &Options{Sealer: testSealer(t, "k1")})
	require.NoError(t, err)
	defer st2.Close()
	tl2, err := st2.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, 298, tl2.Answered)
	require.Equal(t, tl.Choices[anpi.QuestionSelf]["serious"]+1, tl2.Choices[anpi.QuestionSelf]["serious"])
	require.Equal(t, tl.Choices[anpi.QuestionSelf]["minor"]-1, tl2.Choices[anpi.QuestionSelf]["minor"])
	require.NoError(t, storetest.VerifyTally(ctx, st2, "s"))
}

// TestGroupCommitFallback makes the shared transaction fail at commit (a
// deferred foreign key that no single answer violates on its own is hard
// to arrange, so the test fails the flush instead: a tally row damaged on
// disk) and checks that each answer is then committed alone.
func TestGroupCommitFallback(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, &Options{GroupCommitWindow: 20 * time.Millisecond})
	seedSurvey(t, st, 10)
	// Damage the histogram row the first answers fall in: flushing it fails.
	err := execW(t, st, "INSERT INTO tally (survey_id, kind, grp, data) VALUES ('s', 'h', '0', 'not json')")
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range 10 {
		wg.Go(func() {
			_, errs[i] = st.RecordResponse(ctx, answer(fmt.Sprintf("r%d", i), anpi.UserID(fmt.Sprintf("u%05d", i)), t0.Add(time.Duration(i)*time.Second), "safe"))
		})
	}
	wg.Wait()
	_, _, fallbacks := st.GroupCommitStats()
	require.Positive(t, fallbacks)
	for i, err := range errs {
		requireCode(t, anpi.Internal, err) // every answer touches the damaged row
		_ = i
	}
	// Repair the row: answers alone succeed again, and nothing half-done is left.
	err = execW(t, st, "DELETE FROM tally WHERE kind = 'h'")
	require.NoError(t, err)
	n := 0
	require.NoError(t, st.rdb.QueryRow("SELECT COUNT(*) FROM responses").Scan(&n))
	require.Zero(t, n)
	_, err = st.RecordResponse(ctx, answer("ok", "u00001", t0, "safe"))
	require.NoError(t, err)
}

func TestRecordResponseContext(t *testing.T) {
	st := openTest(t, nil)
	seedSurvey(t, st, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := st.RecordResponse(ctx, answer("r", "u00000", t0, "safe"))
	requireCode(t, anpi.Unavailable, err)
	_, err = st.RecordResponse(t.Context(), nil)
	requireCode(t, anpi.InvalidArgument, err)
}

func TestClassify(t *testing.T) {
	st := openTest(t, nil)
	err := execW(t, st, "INSERT INTO config (key, data) VALUES ('x', 'a')")
	require.NoError(t, err)
	err = execW(t, st, "INSERT INTO config (key, data) VALUES ('x', 'b')")
	requireCode(t, anpi.AlreadyExists, classify("test", err))
	err = execW(t, st, "INSERT INTO contacts (id, user_id, kind, scope, sealed, data) VALUES ('c', 'nobody', 'email', 'work', 0, '{}')")
	requireCode(t, anpi.FailedPrecondition, classify("test", err))
	requireCode(t, anpi.Unavailable, classify("test", context.Canceled))
	require.True(t, strings.HasPrefix(classify("test", err).Error(), "sqlite: test: "))
}

// TestGroupCommitQueueBounded holds the writer in a transaction so that
// the committer cannot commit: it holds one answer (batches of one here),
// the next fills its queue (capacity 1), and a third caller waits to
// enqueue; when his context ends he gets Unavailable. Once the writer is
// free the others commit.
func TestGroupCommitQueueBounded(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, &Options{GroupCommitQueue: 1, GroupCommitMax: 1, GroupCommitWindow: -1})
	seedSurvey(t, st, 3)
	entered, release := make(chan struct{}), make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- st.InTx(ctx, func(anpi.Tx) error {
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := st.RecordResponse(ctx, answer(fmt.Sprintf("r%d", i), anpi.UserID(fmt.Sprintf("u%05d", i)), t0, "safe"))
			errs <- err
		}()
	}
	for len(st.gc.queue) < cap(st.gc.queue) { // wait until the queue is full
		runtime.Gosched()
	}
	cctx, cancel := context.WithCancel(ctx)
	third := make(chan error, 1)
	go func() {
		_, err := st.RecordResponse(cctx, answer("r2", "u00002", t0, "safe"))
		third <- err
	}()
	cancel()
	requireCode(t, anpi.Unavailable, <-third)
	close(release)
	require.NoError(t, <-txDone)
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	tl, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.GreaterOrEqual(t, tl.Answered, 2)
	require.NoError(t, storetest.VerifyTally(ctx, st, "s"))
}

// TestTallyReadsCountersOnly damages every recipient and response row
// after the answers are counted: Tally still answers from its counters,
// since it never recounts.
func TestTallyReadsCountersOnly(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, nil)
	seedSurvey(t, st, 30)
	for i := range 20 {
		_, err := st.RecordResponse(ctx, answer(fmt.Sprintf("r%d", i), anpi.UserID(fmt.Sprintf("u%05d", i)), t0.Add(time.Duration(i)*time.Second), "minor"))
		require.NoError(t, err)
	}
	_, err := st.RecordResponse(ctx, answer("again", "u00000", t0.Add(time.Hour), "safe")) // a re-answer moves counts
	require.NoError(t, err)
	want, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.NoError(t, execW(t, st, "UPDATE responses SET data = 'damaged'"))
	require.NoError(t, execW(t, st, "UPDATE recipients SET data = 'damaged'"))
	got, err := st.Tally(ctx, "s")
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, 30, got.Targets)
	require.Equal(t, 20, got.Answered)
	require.Equal(t, 19, got.Choices[anpi.QuestionSelf]["minor"])
	require.Equal(t, 1, got.Choices[anpi.QuestionSelf]["safe"])
	require.Len(t, got.AnswerSeconds, 20, "a re-answer keeps the first answer's time")
	_, err = st.Responses(ctx, "s")
	requireCode(t, anpi.Internal, err) // the damage is real
}

func TestRuleSpecKeptByteForByte(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, nil)
	spec := json.RawMessage("{ \"area\": \"<350>\",\n  \"min\": \"5-\" }")
	require.NoError(t, st.PutRule(ctx, &anpi.RuleRecord{ID: "r", Name: "能登", Enabled: true, Spec: spec, UpdatedAt: t0}))
	r, err := st.GetRule(ctx, "r")
	require.NoError(t, err)
	require.Equal(t, string(spec), string(r.Spec))
	require.Equal(t, 1, r.Version)
	rs, err := st.ListRules(ctx)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, string(spec), string(rs[0].Spec))
}

// TestMigrateFromVersion6 opens a database of version 6 (no users version
// yet): the upgrade adds the counter at 0 for the users already there,
// and the next write of a user moves it.
func TestMigrateFromVersion6(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v6.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	require.NoError(t, err)
	require.NoError(t, migrate(ctx, db, 6, time.Now, nil))
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM sqlite_master WHERE name = 'users_version'").Scan(&n))
	require.Zero(t, n, "version 6 has no users version")
	require.NoError(t, db.Close())

	st, err := Open(ctx, path, &Options{AllowPlaintextContacts: true})
	require.NoError(t, err)
	defer st.Close()
	v, err := st.UsersVersion(ctx)
	require.NoError(t, err)
	require.NoError(t, st.CreateDepartment(ctx, &anpi.Department{ID: "hq", Name: "本社"}))
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "安否 太郎", Departments: []anpi.DepartmentID{"hq"}, Status: anpi.Active, Locale: anpi.Japanese}))
	v2, err := st.UsersVersion(ctx)
	require.NoError(t, err)
	require.Greater(t, v2, v, "a created user moves the version")
}

// TestReadTxBesideWriter: a read transaction runs while a write
// transaction holds the writer, and sees the last commit, not the write in
// progress.
func TestReadTxBesideWriter(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, &Options{AllowPlaintextContacts: true})
	require.NoError(t, st.CreateDepartment(ctx, &anpi.Department{ID: "hq", Name: "本社"}))
	wrote, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- st.InTx(ctx, func(tx anpi.Tx) error {
			err := tx.CreateUser(ctx, &anpi.User{ID: "u1", EmployeeCode: "E1", Name: "安否 太郎", Departments: []anpi.DepartmentID{"hq"}, Status: anpi.Active, Locale: anpi.Japanese})
			close(wrote)
			<-release
			return err
		})
	}()
	<-wrote
	var n int
	require.NoError(t, st.ReadTx(ctx, func(tx anpi.Tx) error {
		var err error
		n, err = tx.CountUsers(ctx)
		return err
	}), "the read does not wait for the writer")
	require.Zero(t, n, "the write in progress is not seen")
	close(release)
	require.NoError(t, <-done)
	require.NoError(t, st.ReadTx(ctx, func(tx anpi.Tx) error {
		var err error
		n, err = tx.CountUsers(ctx)
		return err
	}))
	require.Equal(t, 1, n, "the commit is seen")
}

// TestReadsWithEveryReaderBusy: read transactions that need statements
// not prepared yet, while every reader connection is held by another of
// them, all finish (a statement that cannot be prepared at once runs
// unprepared) instead of waiting for each other.
func TestReadsWithEveryReaderBusy(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, &Options{AllowPlaintextContacts: true, Readers: 2})
	require.NoError(t, st.CreateDepartment(ctx, &anpi.Department{ID: "hq", Name: "本社"}))
	const n = 16
	inside := make(chan struct{}, n)
	release := make(chan struct{})
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- st.ReadTx(ctx, func(tx anpi.Tx) error {
				inside <- struct{}{}
				<-release
				// A different query each: none is prepared yet.
				_, err := tx.ListUsers(ctx, &anpi.UserQuery{Limit: i + 1})
				return err
			})
		}()
	}
	<-inside
	<-inside // both readers are held
	close(release)
	for range n {
		select {
		case err := <-errs:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("read transactions wait for each other")
		}
	}
}

// TestReaderMmap: readers map the file by default (1 GiB), or not at all
// with a negative ReaderMmap; either way they read every commit.
func TestReaderMmap(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		opt  int64
		want int64
	}{{0, 1 << 30}, {-1, 0}, {64 << 20, 64 << 20}} {
		st := openTest(t, &Options{ReaderMmap: c.opt})
		var got int64
		require.NoError(t, st.rdb.QueryRowContext(ctx, "PRAGMA mmap_size").Scan(&got))
		require.Equal(t, c.want, got, "ReaderMmap %d", c.opt)
		for i := range 3 {
			id := anpi.UserID(fmt.Sprintf("u%d", i))
			require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: id, EmployeeCode: string(id), Name: "x", Status: anpi.Active, Locale: anpi.Japanese}))
			u, err := st.GetUser(ctx, id)
			require.NoError(t, err, "ReaderMmap %d: a reader sees commit %d", c.opt, i)
			require.Equal(t, id, u.ID)
		}
	}
}
