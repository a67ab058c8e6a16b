package dircsv

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/japanese"

	"github.com/anpikit/anpi/anpi"
)

func TestImportUpsert(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	before := snapshot(t, st)

	const file = "employee_code,name,title,roles\n" +
		"E0001,山田 太郎,本部長,crisis_manager\n" +
		"E0004,新人 一号,,manager@D3\n" +
		"A0001,管理者,,\n"
	p, err := Import(ctx, st, usersFile(file), nil)
	require.NoError(t, err)
	require.Equal(t, "users: 1 to add, 1 to change, 0 to remove, 1 unchanged; role grants: 2 to add, 1 to remove", p.Summary())
	require.Equal(t, p.Summary()+"\n"+
		"+ user E0004 新人 一号\n"+
		"~ user E0001 山田 太郎: title\n"+
		"+ grant crisis_manager to U0001\n"+
		"+ grant manager@D3 to E0004\n"+
		"- grant manager@D2 from U0001", p.String())
	require.Equal(t, 3, p.AddUsers[0].Line)
	require.Equal(t, 2, p.ChangeUsers[0].Line)

	after := snapshot(t, st)
	want := before
	want.Users = []anpi.User{
		before.Users[0], // ADMIN: unchanged
		{ID: "E0004", EmployeeCode: "E0004", Name: "新人 一号", Status: anpi.Active, Locale: anpi.Japanese},
		before.Users[1], // U0001
		before.Users[2], // U0002: not in the file, left alone
	}
	want.Users[2].Title = "本部長" // columns the file lacks (kana, email, departments, regions) are kept
	want.Grants = []anpi.RoleGrant{
		{UserID: "ADMIN", Role: anpi.SystemAdmin},
		{UserID: "E0004", Role: anpi.Manager, Department: "D3"},
		{UserID: "U0001", Role: anpi.CrisisManager},
		{UserID: "U0001", Role: anpi.SystemAdmin}, // never touched by CSV
	}
	require.Equal(t, want, after)

	// The same file again changes nothing.
	p, err = Import(ctx, st, usersFile(file), nil)
	require.NoError(t, err)
	require.True(t, p.Empty())
	require.Equal(t, 3, p.UnchangedUsers)
	require.Equal(t, after, snapshot(t, st))
}

func TestImportBlankCells(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	// Blank status and locale keep the user's; other blank cells clear the field.
	p, err := Import(ctx, st, usersFile("employee_code,name,name_kana,work_email,departments,regions,status,locale,roles\nE0002,佐藤 花子,,,,,,,\n"), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"departments"}, p.ChangeUsers[0].Fields)
	u, err := st.GetUser(ctx, "U0002")
	require.NoError(t, err)
	require.Empty(t, u.Departments)
	require.Equal(t, anpi.English, u.Locale)
	require.Equal(t, anpi.Active, u.Status)

	p, err = Import(ctx, st, usersFile("employee_code,name,status,locale\nE0002,佐藤 花子,停止,ja\n"), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"status", "locale"}, p.ChangeUsers[0].Fields)
	u, err = st.GetUser(ctx, "U0002")
	require.NoError(t, err)
	require.Equal(t, anpi.Suspended, u.Status)
	require.Equal(t, anpi.Japanese, u.Locale)
}

func TestImportSyncUsers(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	p, err := Import(ctx, st, usersFile("employee_code,name\nE0001,山田 太郎\n"), &Options{Mode: Sync})
	require.NoError(t, err)
	require.Equal(t, "users: 0 to add, 0 to change, 1 to remove, 1 unchanged, 1 system administrators kept; role grants: 0 to add, 0 to remove", p.Summary())
	require.Equal(t, anpi.UserID("U0002"), p.RemoveUsers[0].Before.ID)
	require.Equal(t, anpi.UserID("ADMIN"), p.KeptUsers[0].ID)
	d := snapshot(t, st)
	require.Len(t, d.Users, 2)
	require.Equal(t, anpi.UserID("ADMIN"), d.Users[0].ID)
	require.Equal(t, anpi.UserID("U0001"), d.Users[1].ID)
	require.Len(t, d.Grants, 3, "no roles column: grants untouched")
}

func TestImportDepartments(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)

	// Swap 本社 and 営業部 (D2 was under D1) and add a child under a new department.
	const depts = "id,name,parent\nD1,本社,D2\nD2,営業本部,\nD5,東日本営業部,D2\nD6,仙台営業所,D5\n"
	p, err := Import(ctx, st, Files{Departments: strings.NewReader(depts)}, nil)
	require.NoError(t, err)
	require.Equal(t, "departments: 2 to add, 2 to change, 0 to remove, 0 unchanged\n"+
		"+ department D5 東日本営業部 (under D2)\n"+
		"+ department D6 仙台営業所 (under D5)\n"+
		"~ department D2 営業本部: name, parent\n"+
		"~ department D1 本社: parent", p.String())
	tree, err := st.Departments(ctx)
	require.NoError(t, err)
	require.Equal(t, []anpi.DepartmentID{"D1", "D2"}, tree.Ancestors("D3"))
	require.Equal(t, []anpi.DepartmentID{"D5", "D2"}, tree.Ancestors("D6"))
	require.Equal(t, 1, tree.Get("D1").Order, "no order column: order kept")

	// Users may refer to departments added by the same import.
	p, err = Import(ctx, st, Files{
		Departments: strings.NewReader("部署ID,部署名,親部署ID\nD7,大阪営業所,D2\n"),
		Users:       strings.NewReader("社員番号,氏名,部署,権限\nE0009,大阪 太郎,D7,マネージャー@D7\n"),
	}, nil)
	require.NoError(t, err)
	require.Equal(t, "departments: 1 to add, 0 to change, 0 to remove, 0 unchanged; users: 1 to add, 0 to change, 0 to remove, 0 unchanged; role grants: 1 to add, 0 to remove", p.Summary())
}

func TestImportSyncDepartments(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	before := snapshot(t, st)

	// D3 is absent but 佐藤 花子 belongs to it: nothing is removed.
	_, err := Import(ctx, st, Files{Departments: strings.NewReader("id,name,parent,order\nD1,本社,,1\nD2,営業部,D1,1\n")}, &Options{Mode: Sync})
	require.Equal(t, "dircsv: 1 error:\ndepartments: department D3 (開発部) is absent from the file but 1 users still belong to it (E0002): a sync import removes only empty departments",
		importErr(t, err).Error())
	require.Equal(t, before, snapshot(t, st))

	// A grant scoped to a department blocks its removal too.
	_, err = Import(ctx, st, Files{Departments: strings.NewReader("id,name,parent,order\nD1,本社,,1\nD3,開発部,D1,2\n")}, &Options{Mode: Sync})
	require.ErrorContains(t, importErr(t, err), "department D2 (営業部) is absent from the file but role grants are scoped to it (manager@D2 of U0001)")
	require.Equal(t, before, snapshot(t, st))

	// The same import that empties a department may remove it.
	p, err := Import(ctx, st, Files{
		Departments: strings.NewReader("id,name,parent,order\nD1,本社,,1\nD2,営業部,D1,1\n"),
		Users:       strings.NewReader("employee_code,name,departments\nE0002,佐藤 花子,D2\n"),
	}, &Options{Mode: Sync})
	require.NoError(t, err)
	require.Equal(t, "departments: 0 to add, 0 to change, 2 to remove, 2 unchanged; users: 0 to add, 1 to change, 0 to remove, 0 unchanged, 2 system administrators kept; role grants: 0 to add, 0 to remove", p.Summary())
	tree, err := st.Departments(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, tree.Len())
	require.False(t, tree.Has("D9"))
}

func TestImportPlanErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		files Files
		mode  Mode
		err   string
	}{
		{name: "unknown department", files: usersFile("employee_code,name,departments\nE0005,新人,D2|D7\n"),
			err: "users: line 2: departments: department D7 does not exist"},
		{name: "unknown role department", files: usersFile("employee_code,name,roles\nE0005,新人,manager@D8\n"),
			err: "users: line 2: roles: manager@D8: department D8 does not exist"},
		{name: "department removed by the same sync", mode: Sync, files: Files{
			Departments: strings.NewReader("id,name\nD1,本社\n"),
			Users:       strings.NewReader("employee_code,name,departments\nE0001,山田,D2\n")},
			err: "users: line 2: departments: department D2 does not exist"},
		{name: "id of someone else", files: usersFile("employee_code,id,name\nE0005,U0001,新人\n"),
			err: "users: line 2: id: id U0001 already belongs to employee E0001"},
		{name: "default id of someone else", files: usersFile("employee_code,name\nU0002,新人\n"),
			err: "users: line 2: id: id U0002 already belongs to employee E0002"},
		{name: "changed id", files: usersFile("employee_code,id,name\nE0001,X1,山田\n"),
			err: "users: line 2: id: employee E0001 has id U0001 in the directory, not X1 (ids never change)"},
		{name: "same id twice", files: usersFile("employee_code,id,name\nE0005,,a\nE0006,E0005,b\n"),
			err: "users: line 3: id: id E0005 is also the id of line 2"},
		{name: "unknown parent", files: Files{Departments: strings.NewReader("id,name,parent\nD5,x,D8\n")},
			err: "departments: line 2: parent: parent department D8 does not exist"},
		{name: "cycle", files: Files{Departments: strings.NewReader("id,name,parent\nD1,本社,D2\n")},
			err: "departments: line 2: parent: parent D2 makes a cycle: D1 → D2 → D1"},
		{name: "cycle, and users of the departments", files: Files{
			Departments: strings.NewReader("id,name,parent\nD1,本社,D5\nD5,新部署,D2\n"),
			Users:       strings.NewReader("employee_code,name,departments,roles\nE0001,山田,D5,manager@D5\n")},
			err: "dircsv: 2 errors:\n" +
				"departments: line 2: parent: parent D5 makes a cycle: D1 → D5 → D2 → D1\n" +
				"departments: line 3: parent: parent D2 makes a cycle: D5 → D2 → D1 → D5"},
		{name: "parent removed by sync", mode: Sync, files: Files{Departments: strings.NewReader("id,name,parent\nD2,営業部,D1\n")},
			err: "departments: line 2: parent: parent department D1 does not exist (a sync import removes the departments absent from the file)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			seed(t, st)
			before := snapshot(t, st)
			_, err := Import(ctx, st, tc.files, &Options{Mode: tc.mode})
			require.ErrorContains(t, importErr(t, err), tc.err)
			require.Equal(t, before, snapshot(t, st))
		})
	}
}

// TestBadFilesChangeNothing imports bad files into a populated directory:
// each fails with an error naming the line and column, and the directory
// stays as it was.
func TestBadFilesChangeNothing(t *testing.T) {
	ctx := context.Background()
	const good = "社員番号,氏名,メールアドレス,部署,所属地域,権限\n" +
		"E0001,山田 太郎,taro@example.jp,D2,quake:350,マネージャー@D2\n" +
		"E0005,高橋 次郎,jiro@example.jp,D3,warning:1310100,\n"
	eucJP, err := japanese.EUCJP.NewEncoder().String(good)
	require.NoError(t, err)
	random := make([]byte, 512)
	for i := range random { // deterministic noise
		random[i] = byte(i*131 + i*i*7 + 3)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		err  string
	}{
		{name: "EUC-JP", in: []byte(eucJP), err: "users: not UTF-8 or Shift_JIS: the file looks like EUC-JP"},
		{name: "random bytes", in: random, err: "users: not UTF-8 or Shift_JIS: byte"},
		{name: "missing required column", in: []byte("社員番号,メールアドレス\nE0001,taro@example.jp\n"), err: "users: line 1: missing required column name (氏名)"},
		{name: "duplicate employee code", in: []byte(good + "E0001,山田 花子,,,,\n"), err: "users: line 4: 社員番号: duplicate E0001 (also on line 2)"},
		{name: "unknown department", in: []byte(good + "E0006,新人,,D404,,\n"), err: "users: line 4: 部署: department D404 does not exist"},
		{name: "system admin", in: []byte(good + "E0006,新人,,,,システム管理者\n"), err: "users: line 4: 権限: システム管理者: system administrators cannot be granted by CSV"},
		{name: "system admin in english", in: []byte(good + "E0006,新人,,,,manager|system_admin\n"), err: "users: line 4: 権限: system_admin: system administrators cannot be granted by CSV"},
		{name: "bad region", in: []byte(good + "E0006,新人,,,quake:12345,\n"), err: `users: line 4: 所属地域: region "quake:12345": quake code must be 3 digits`},
		{name: "bad email", in: []byte(good + "E0006,新人,jiro@@example.jp,,,\n"), err: `users: line 4: メールアドレス: "jiro@@example.jp" is not an email address`},
		{name: "bad row in shift_jis", in: sjis(t, good+"E0006,新人,,,津波:3,\n"), err: `users: line 4: 所属地域: region "tsunami:3": tsunami code must be 3 digits`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			seed(t, st)
			before := snapshot(t, st)
			_, err := Import(ctx, st, bytesFile(tc.in), nil)
			require.ErrorContains(t, importErr(t, err), tc.err)
			require.Equal(t, before, snapshot(t, st))
			_, err = DryRun(ctx, st, bytesFile(tc.in), nil)
			require.ErrorContains(t, err, tc.err)
		})
	}
	// The good file itself imports (so the failures above are the bad rows').
	st := newStore(t)
	seed(t, st)
	_, err = Import(ctx, st, usersFile(good), nil)
	require.NoError(t, err)
}

func TestDryRunChangesNothing(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	before := snapshot(t, st)
	p, err := DryRun(ctx, st, usersFile("employee_code,name\nE0001,山田 太郎 (改)\nE0007,新人\n"), &Options{Mode: Sync})
	require.NoError(t, err)
	require.Equal(t, "users: 1 to add, 1 to change, 1 to remove, 0 unchanged, 1 system administrators kept; role grants: 0 to add, 0 to remove", p.Summary())
	require.Equal(t, before, snapshot(t, st))

	p, err = PlanImport(ctx, st, usersFile("employee_code,name\nE0001,山田 太郎\n"), nil)
	require.NoError(t, err)
	require.True(t, p.Empty())
	require.Equal(t, before, snapshot(t, st))
}

// failingStore fails CreateUser for one employee code, inside transactions.
type failingStore struct {
	anpi.Store
	code string
}

func (s failingStore) InTx(ctx context.Context, fn func(anpi.Tx) error) error {
	return s.Store.InTx(ctx, func(tx anpi.Tx) error { return fn(failingTx{tx, s.code}) })
}

type failingTx struct {
	anpi.Tx
	code string
}

func (t failingTx) CreateUser(ctx context.Context, u *anpi.User) error {
	if u.EmployeeCode == t.code {
		return anpi.Errorf(anpi.Unavailable, "disk on fire")
	}
	return t.Tx.CreateUser(ctx, u)
}

func TestImportFailingWriteChangesNothing(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	before := snapshot(t, st)
	_, err := Import(ctx, failingStore{st, "E0006"}, Files{
		Departments: strings.NewReader("id,name\nD5,新部署\n"),
		Users:       strings.NewReader("employee_code,name,departments,roles\nE0001,山田 太郎,D5,\nE0005,a,,manager\nE0006,b,,\n"),
	}, nil)
	require.EqualError(t, err, "dircsv: users line 4: add user E0006: disk on fire")
	require.Equal(t, anpi.Unavailable, anpi.Code(err))
	require.Equal(t, before, snapshot(t, st))
}

func TestImportReadError(t *testing.T) {
	st := newStore(t)
	_, err := Import(context.Background(), st, Files{Users: errReader{}}, nil)
	require.ErrorContains(t, err, "dircsv: read users file: boom")
	require.False(t, errors.As(err, new(*ImportError)))
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("boom") }

func TestImportBothFilesErrors(t *testing.T) {
	st := newStore(t)
	_, err := Import(context.Background(), st, Files{
		Departments: bytes.NewReader([]byte("id,name\nD1,\n")),
		Users:       bytes.NewReader([]byte("employee_code,name,email\nE1,a,b\n")),
	}, nil)
	require.Equal(t, "dircsv: 2 errors:\n"+
		"departments: line 2: name: is required\n"+
		"users: line 2: email: \"b\" is not an email address", importErr(t, err).Error())
}

// A caller may plan and apply in a transaction of his own, together with
// other writes such as an audit entry.
func TestPlanAndApplyInCallersTransaction(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	err := st.InTx(ctx, func(tx anpi.Tx) error {
		p, err := PlanImport(ctx, tx, usersFile("employee_code,name\nE0008,新人\n"), nil)
		if err != nil {
			return err
		}
		if err := p.Apply(ctx, tx); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, &anpi.AuditEntry{At: fixedNow(), Actor: "ADMIN", Action: "directory.import", Detail: p.Summary()})
		return err
	})
	require.NoError(t, err)
	u, err := st.GetUserByEmployeeCode(ctx, "E0008")
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("E0008"), u.ID)
	require.Equal(t, fixedNow(), u.CreatedAt, "stamped by the store")
	entries, err := st.ListAudit(ctx, nil)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "users: 1 to add, 0 to change, 0 to remove, 0 unchanged; role grants: 0 to add, 0 to remove", entries[0].Detail)
}

func TestPlanStringAndNames(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	p, err := DryRun(ctx, st, Files{
		Departments: strings.NewReader("id,name,parent,order\nD1,本社,,1\nD2,営業部,D1,1\nD3,開発部,D1,2\n"),
		Users:       strings.NewReader("employee_code,name\nE0002,佐藤 花子\n"),
	}, &Options{Mode: Sync})
	require.NoError(t, err)
	require.Equal(t, "departments: 0 to add, 0 to change, 1 to remove, 3 unchanged; "+
		"users: 0 to add, 0 to change, 0 to remove, 1 unchanged, 2 system administrators kept; role grants: 0 to add, 0 to remove\n"+
		"- department D9 旧総務部\n"+
		"= user A0001 管理者 kept: holds system_admin\n"+
		"= user E0001 山田 太郎 kept: holds system_admin", p.String())
	require.Equal(t, Sync, p.Mode)
	require.Equal(t, "nothing to import", (&Plan{}).Summary())

	require.Equal(t, "sync", Sync.String())
	require.Equal(t, "upsert", Upsert.String())
	for e, s := range map[Encoding]string{Auto: "auto", UTF8: "utf-8", ShiftJIS: "shift_jis", Encoding(5): "unknown"} {
		require.Equal(t, s, e.String())
	}

	f, err := ParseDepartments(strings.NewReader("部署ID,部署名\nD1,本社\n"), nil)
	require.NoError(t, err)
	require.True(t, f.Has("name"))
	require.False(t, f.Has("parent"))

	cause := errors.New("cause")
	re := &RowError{Line: 3, Column: "name", Err: cause}
	require.ErrorIs(t, re, cause)
	require.Equal(t, "line 3: name: cause", re.Error())
}
