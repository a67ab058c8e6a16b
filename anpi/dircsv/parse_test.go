package dircsv

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// importErr asserts that err is an InvalidArgument wrapping an
// *ImportError and returns the latter.
func importErr(t *testing.T, err error) *ImportError {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "%v", err)
	var ie *ImportError
	require.True(t, errors.As(err, &ie), "%v", err)
	return ie
}

func TestParseUsersFiles(t *testing.T) {
	ja, err := ParseUsers(strings.NewReader(string(readTestdata(t, "users_ja.csv"))), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"employee_code", "name", "name_kana", "work_email", "departments", "groups", "title", "regions", "status", "locale", "roles"}, ja.Columns)
	require.False(t, ja.Has("id"))
	require.Len(t, ja.Records, 3)
	r := ja.Records[0]
	require.Equal(t, 2, r.Line)
	require.Equal(t, anpi.User{
		EmployeeCode: "E0001", Name: "山田 太郎", NameKana: "ヤマダ タロウ", WorkEmail: "taro@example.jp",
		Departments: []anpi.DepartmentID{"D2"}, Groups: []string{"=SUM(A1)", "災害対策本部"}, Title: "-部長",
		Regions: []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}, {Kind: anpi.WarningArea, Code: "1310100"}},
		Status:  anpi.Active, Locale: anpi.Japanese,
	}, r.User)
	require.Equal(t, []anpi.RoleGrant{{Role: anpi.Manager, Department: "D2"}}, r.Roles)
	r = ja.Records[2]
	require.Equal(t, anpi.UserStatus(""), r.User.Status, "blank status: keep or default")
	require.Equal(t, anpi.Locale(""), r.User.Locale)
	require.Equal(t, []string{"@home"}, r.User.Groups)
	require.Equal(t, "+1", r.User.Title)
	require.Empty(t, r.Roles)

	// The same file in Shift_JIS reads the same.
	sj, err := ParseUsers(strings.NewReader(string(sjis(t, strings.TrimPrefix(string(readTestdata(t, "users_ja.csv")), "\ufeff")))), nil)
	require.NoError(t, err)
	require.Equal(t, ja, sj)

	en, err := ParseUsers(strings.NewReader(string(readTestdata(t, "users_en.csv"))), nil)
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("U0001"), en.Records[0].User.ID)
	require.Equal(t, "Hanako \"Hana\" Sato", en.Records[1].User.Name)
	require.Equal(t, []anpi.RoleGrant{{Role: anpi.Manager, Department: "D2"}, {Role: anpi.CrisisManager, Department: "D3"}}, en.Records[0].Roles)
}

func TestParseHeaders(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string
		cols   []string
		err    string
	}{
		{name: "english", header: "employee_code,name", cols: []string{"employee_code", "name"}},
		{name: "japanese", header: "社員番号,氏名,所属地域,権限", cols: []string{"employee_code", "name", "regions", "roles"}},
		{name: "case and spaces", header: " Employee Code ,NAME,Work-Email", cols: []string{"employee_code", "name", "work_email"}},
		{name: "full-width and half-width kana", header: "社員番号,氏名,ﾕｰｻﾞｰＩＤ", cols: []string{"employee_code", "id", "name"}},
		{name: "blank header column", header: "employee_code,name,", cols: []string{"employee_code", "name"}},
		{name: "unknown", header: "employee_code,name,生年月日,shoe size", err: `users: line 1: unknown columns "生年月日", "shoe size" (known: employee_code/社員番号`},
		{name: "missing employee code", header: "name,title", err: "users: line 1: missing required column employee_code (社員番号)"},
		{name: "missing name", header: "社員番号,役職", err: "users: line 1: missing required column name (氏名)"},
		{name: "duplicate", header: "employee_code,name,氏名", err: `users: line 1: 氏名: duplicate column: "name" and "氏名" are both name`},
		{name: "empty file", header: "", err: "users: line 1: the file is empty"},
		{name: "bad quote", header: "employee_code,\"name", err: "users: line 1: bad CSV"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.header
			if in != "" {
				in += "\nE1,山田" + strings.Repeat(",", strings.Count(tc.header, ",")-1) + "\n"
			}
			f, err := ParseUsers(strings.NewReader(in), nil)
			if tc.err != "" {
				require.ErrorContains(t, importErr(t, err), tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.cols, f.Columns)
		})
	}
}

func TestParseUserRows(t *testing.T) {
	const header = "employee_code,id,name,work_email,departments,groups,regions,status,locale,roles\n"
	for _, tc := range []struct {
		name string
		rows string
		err  string // "" means no error
	}{
		{name: "fine", rows: "E1,,山田,a@example.jp,D1|D2,g1 | g2,quake:350 津波:300,有効,en,manager|crisis_manager@D1\n"},
		{name: "blank rows are skipped", rows: ",,,,,,,,,\nE1,,山田,,,,,,,\n   ,,,,,,,,,\n"},
		{name: "duplicate employee code", rows: "E0001,,a,,,,,,,\nE0002,,b,,,,,,,\nE0001,,c,,,,,,,\n",
			err: "users: line 4: employee_code: duplicate E0001 (also on line 2)"},
		{name: "duplicate id", rows: "E1,U1,a,,,,,,,\nE2,U1,b,,,,,,,\n", err: "users: line 3: id: duplicate U1 (also on line 2)"},
		{name: "missing employee code", rows: ",,a,,,,,,,\n", err: "users: line 2: employee_code: is required"},
		{name: "spaces in id", rows: "E1,U 1 ,a,,,,,,,\n", err: ""},
		{name: "tab in employee code", rows: "E\t1,,a,,,,,,,\n", err: `users: line 2: employee_code: "E\t1" has spaces or control characters`},
		{name: "long employee code", rows: strings.Repeat("E", 65) + ",,a,,,,,,,\n", err: "employee_code: \"EEEE"},
		{name: "missing name", rows: "E1,,  ,,,,,,,\n", err: "users: line 2: name: is required"},
		{name: "long name", rows: "E1,," + strings.Repeat("山", 101) + ",,,,,,,\n", err: "users: line 2: name: 101 characters, more than 100"},
		{name: "bad email", rows: "E1,,a,taro at example.jp,,,,,,\n", err: `users: line 2: work_email: "taro at example.jp" is not an email address`},
		{name: "email with name", rows: "E1,,a,Taro <taro@example.jp>,,,,,,\n", err: "work_email: \"Taro <taro@example.jp>\" is not an email address"},
		{name: "bad region", rows: "E1,,a,,,,quake:35,,,\n", err: `users: line 2: regions: region "quake:35": quake code must be 3 digits`},
		{name: "ambiguous region", rows: "E1,,a,,,,350,,,\n", err: `users: line 2: regions: region "350": want kind:code`},
		{name: "region twice", rows: "E1,,a,,,,quake:350 地震:350,,,\n", err: "regions: region quake:350 listed twice"},
		{name: "department twice", rows: "E1,,a,,D1|D1,,,,,\n", err: "users: line 2: departments: department D1 listed twice"},
		{name: "bad status", rows: "E1,,a,,,,,retired,,\n", err: `users: line 2: status: unknown status "retired" (want active, suspended, 有効 or 停止)`},
		{name: "bad locale", rows: "E1,,a,,,,,,fr,\n", err: `users: line 2: locale: unknown locale "fr" (want ja or en)`},
		{name: "system admin", rows: "E1,,a,,,,,,,system_admin\n", err: "users: line 2: roles: system_admin: system administrators cannot be granted by CSV"},
		{name: "system admin in japanese", rows: "E1,,a,,,,,,,マネージャー|システム管理者\n", err: "users: line 2: roles: システム管理者: system administrators cannot be granted by CSV"},
		{name: "scoped system admin", rows: "E1,,a,,,,,,,System_Admin@D1\n", err: "roles: System_Admin@D1: system administrators cannot be granted by CSV"},
		{name: "unknown role", rows: "E1,,a,,,,,,,boss\n", err: `users: line 2: roles: unknown role "boss"`},
		{name: "role twice", rows: "E1,,a,,,,,,,manager@D1|マネージャー@D1\n", err: "roles: マネージャー@D1 listed twice"},
		{name: "role without department", rows: "E1,,a,,,,,,,manager@\n", err: "roles: manager@: department is required"},
		{name: "short row", rows: "E1,,a\n", err: "users: line 2: the row has 3 cells, the header 10"},
		{name: "bare quote", rows: "E1,,a\"b,,,,,,,\n", err: "users: line 2: bad CSV at column"},
		{name: "several errors, all reported", rows: "E1,,a,bad,,,,,,\nE2,,b,,,,quake:1,,,\nE1,,c,,,,,,,system_admin\n",
			err: "dircsv: 4 errors:\n" +
				"users: line 2: work_email: \"bad\" is not an email address\n" +
				"users: line 3: regions: region \"quake:1\": quake code must be 3 digits\n" +
				"users: line 4: roles: system_admin: system administrators cannot be granted by CSV\n" +
				"users: line 4: employee_code: duplicate E1 (also on line 2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseUsers(strings.NewReader(header+tc.rows), nil)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, importErr(t, err), tc.err)
		})
	}
}

func TestParseUsersErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("employee_code,name,work_email\n")
	for range 250 {
		b.WriteString("E1,a,bad\n")
	}
	_, err := ParseUsers(strings.NewReader(b.String()), &Options{MaxErrors: 10})
	ie := importErr(t, err)
	require.Len(t, ie.Rows, 10)
	require.Positive(t, ie.More)
	require.Contains(t, ie.Error(), "more")

	_, err = ParseUsers(strings.NewReader(b.String()), nil)
	require.Len(t, importErr(t, err).Rows, DefaultMaxErrors)
}

func TestParseDepartments(t *testing.T) {
	f, err := ParseDepartments(strings.NewReader(string(readTestdata(t, "departments_ja.csv"))), nil)
	require.NoError(t, err)
	require.Equal(t, []string{"id", "name", "parent", "order"}, f.Columns)
	require.Equal(t, []DepartmentRecord{
		{Line: 2, Department: anpi.Department{ID: "D1", Name: "本社", Order: 1}},
		{Line: 3, Department: anpi.Department{ID: "D2", Name: "営業部", ParentID: "D1", Order: -1}},
		{Line: 4, Department: anpi.Department{ID: "D4", Name: "品質保証部", ParentID: "D3", Order: 3}},
		{Line: 5, Department: anpi.Department{ID: "D3", Name: "開発部", ParentID: "D1", Order: 2}},
	}, f.Records)

	for _, tc := range []struct{ name, in, err string }{
		{name: "missing id column", in: "name\n本社\n", err: "departments: line 1: missing required column id (部署ID)"},
		{name: "missing name column", in: "部署ID\nD1\n", err: "departments: line 1: missing required column name (部署名)"},
		{name: "duplicate", in: "id,name\nD1,a\nD1,b\n", err: "departments: line 3: id: duplicate D1 (also on line 2)"},
		{name: "blank name", in: "id,name\nD1,\n", err: "departments: line 2: name: is required"},
		{name: "own parent", in: "id,name,parent\nD1,a,D1\n", err: "departments: line 2: parent: department D1 cannot be its own parent"},
		{name: "bad order", in: "id,name,order\nD1,a,first\n", err: `departments: line 2: order: "first" is not a whole number`},
		{name: "unknown column", in: "id,name,manager\nD1,a,b\n", err: `departments: line 1: unknown columns "manager"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDepartments(strings.NewReader(tc.in), nil)
			require.ErrorContains(t, importErr(t, err), tc.err)
		})
	}
}

func TestParseLinesCountPhysicalLines(t *testing.T) {
	// A quoted cell spanning lines moves the following rows down, as an
	// editor shows them.
	in := "employee_code,name,title,work_email\r\nE1,a,\"line one\r\nline two\",\r\nE2,b,,bad\r\n"
	_, err := ParseUsers(strings.NewReader(in), nil)
	require.Equal(t, "dircsv: 1 error:\nusers: line 4: work_email: \"bad\" is not an email address", importErr(t, err).Error())
}

func TestParseHeaderAfterBlankLines(t *testing.T) {
	_, err := ParseUsers(strings.NewReader("\n\nemployee_code,title\nE1,x\n"), nil)
	require.Equal(t, "dircsv: 1 error:\nusers: line 3: missing required column name (氏名)", importErr(t, err).Error())
}
