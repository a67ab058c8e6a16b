package dircsv

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// seedRich fills st with a directory that exercises every column: Japanese
// names and kana (full- and half-width), IBM extension kanji, several
// departments, groups and regions, cells a spreadsheet would take for
// formulas, both statuses and locales, scoped and company-wide grants, and
// a SystemAdmin grant (which CSV does not carry).
func seedRich(t testing.TB, st anpi.Store) {
	t.Helper()
	ctx := context.Background()
	for _, d := range []*anpi.Department{
		{ID: "HQ", Name: "本社", Order: 0},
		{ID: "SALES", Name: "営業本部", ParentID: "HQ", Order: 2},
		{ID: "SALES-E", Name: "東日本営業部", ParentID: "SALES", Order: -1},
		{ID: "DEV", Name: "=開発部", ParentID: "HQ", Order: 1},
		{ID: "-X", Name: "+特命チーム", Order: 5},
	} {
		require.NoError(t, st.CreateDepartment(ctx, d))
	}
	users := []*anpi.User{
		{ID: "U1", EmployeeCode: "E0001", Name: "山田 太郎", NameKana: "ヤマダ タロウ", WorkEmail: "taro@example.jp",
			Departments: []anpi.DepartmentID{"SALES-E", "DEV"}, Groups: []string{"=SUM(A1)", "災害対策本部"}, Title: "-部長",
			Regions: []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}, {Kind: anpi.TsunamiRegion, Code: "300"}, {Kind: anpi.WarningArea, Code: "1310100"}},
			Status:  anpi.Active, Locale: anpi.Japanese},
		{ID: "U2", EmployeeCode: "E0002", Name: "髙橋 﨑子", NameKana: "ﾀｶﾊｼ ｻｷｺ", WorkEmail: "saki@example.jp",
			Departments: []anpi.DepartmentID{"HQ"}, Groups: []string{"@home", "+81"}, Title: "@課長",
			Status: anpi.Suspended, Locale: anpi.English},
		{ID: "E0003", EmployeeCode: "E0003", Name: "'=引用符", Title: "'-quoted", Groups: []string{"''+two quotes"},
			Status: anpi.Active, Locale: anpi.English},
		{ID: "U4", EmployeeCode: "-0004", Name: "\tタブ 始まり", Title: "\r改行", Departments: []anpi.DepartmentID{"-X"},
			Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "U5", EmployeeCode: "E0005", Name: "Jane \"JJ\" Doe, Jr.", NameKana: "ジェーン", Title: "CTO\n兼 部長",
			Status: anpi.Active, Locale: anpi.English},
	}
	for _, u := range users {
		require.NoError(t, st.CreateUser(ctx, u))
	}
	for _, g := range []anpi.RoleGrant{
		{UserID: "U1", Role: anpi.Manager, Department: "SALES"},
		{UserID: "U1", Role: anpi.CrisisManager, Department: "-X"},
		{UserID: "U2", Role: anpi.CrisisManager},
		{UserID: "E0003", Role: anpi.SystemAdmin},
		{UserID: "E0003", Role: anpi.Manager},
	} {
		require.NoError(t, st.GrantRole(ctx, g))
	}
}

func withoutSystemAdmins(d directory) directory {
	var gs []anpi.RoleGrant
	for _, g := range d.Grants {
		if g.Role != anpi.SystemAdmin {
			gs = append(gs, g)
		}
	}
	d.Grants = gs
	return d
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := newStore(t)
	seedRich(t, src)
	want := withoutSystemAdmins(snapshot(t, src))
	for _, enc := range []Encoding{UTF8, ShiftJIS} {
		for _, ja := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/japanese=%v", enc, ja), func(t *testing.T) {
				opts := &Options{Encoding: enc, JapaneseHeaders: ja}
				var depts, users bytes.Buffer
				require.NoError(t, ExportDepartments(ctx, src, &depts, opts))
				require.NoError(t, ExportUsers(ctx, src, &users, opts))
				if enc == UTF8 {
					require.True(t, bytes.HasPrefix(users.Bytes(), []byte(utf8BOM)))
					require.True(t, bytes.HasPrefix(depts.Bytes(), []byte(utf8BOM)))
				} else {
					require.False(t, utf8.Valid(users.Bytes()), "Shift_JIS, not UTF-8")
				}
				require.Contains(t, users.String(), ",'=SUM(A1)|", "escaped against CSV injection")

				dst := newStore(t)
				p, err := Import(ctx, dst, Files{Departments: bytes.NewReader(depts.Bytes()), Users: bytes.NewReader(users.Bytes())}, nil) // encoding detected
				require.NoError(t, err)
				require.Len(t, p.AddUsers, 5)
				require.Len(t, p.AddDepartments, 5)
				require.Equal(t, want, snapshot(t, dst))

				// Export again: the same bytes; import again: nothing to do.
				var users2 bytes.Buffer
				require.NoError(t, ExportUsers(ctx, dst, &users2, opts))
				require.Equal(t, users.String(), users2.String())
				p, err = Import(ctx, dst, Files{Departments: bytes.NewReader(depts.Bytes()), Users: bytes.NewReader(users.Bytes())}, &Options{Mode: Sync})
				require.NoError(t, err)
				require.True(t, p.Empty(), p.String())
			})
		}
	}
}

func TestExportUsersFormat(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	seed(t, st)
	var b bytes.Buffer
	require.NoError(t, ExportUsers(ctx, st, &b, &Options{NoBOM: true}))
	require.Equal(t, "employee_code,id,name,name_kana,work_email,departments,groups,title,regions,status,locale,roles\n"+
		"A0001,ADMIN,管理者,,,,,,,active,ja,\n"+
		"E0001,U0001,山田 太郎,ヤマダ タロウ,taro@example.jp,D2,,部長,quake:350,active,ja,manager@D2\n"+
		"E0002,U0002,佐藤 花子,,,D3,,,,active,en,\n", b.String())

	b.Reset()
	require.NoError(t, ExportDepartments(ctx, st, &b, &Options{JapaneseHeaders: true}))
	require.Equal(t, "\ufeff部署ID,部署名,親部署ID,表示順\nD1,本社,,1\nD2,営業部,D1,1\nD3,開発部,D1,2\nD9,旧総務部,,9\n", b.String())
}

func TestExportErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		user *anpi.User
		opts *Options
		err  string
	}{
		{name: "not in shift_jis", opts: &Options{Encoding: ShiftJIS},
			user: &anpi.User{ID: "U9", EmployeeCode: "E0009", Name: "𠮷田 太郎", Status: anpi.Active, Locale: anpi.Japanese},
			err:  `dircsv: export users: line 5 (employee E0009): name: '𠮷' cannot be written in Shift_JIS (in "𠮷田 太郎")`},
		{name: "yen sign in shift_jis", opts: &Options{Encoding: ShiftJIS, JapaneseHeaders: true},
			user: &anpi.User{ID: "U9", EmployeeCode: "E0009", Name: "a", Title: "¥", Status: anpi.Active, Locale: anpi.Japanese},
			err:  `dircsv: export users: line 5 (employee E0009): 役職: '¥' cannot be written in Shift_JIS`},
		{name: "group with separator",
			user: &anpi.User{ID: "U9", EmployeeCode: "E0009", Name: "a", Groups: []string{"a|b"}, Status: anpi.Active, Locale: anpi.Japanese},
			err:  `dircsv: export users: line 5 (employee E0009): groups: group "a|b" cannot be written`},
		{name: "group with spaces",
			user: &anpi.User{ID: "U9", EmployeeCode: "E0009", Name: "a", Groups: []string{" a"}, Status: anpi.Active, Locale: anpi.Japanese},
			err:  `groups: group " a" cannot be written`},
		{name: "unknown encoding", opts: &Options{Encoding: Encoding(7)},
			user: &anpi.User{ID: "U9", EmployeeCode: "E0009", Name: "a", Status: anpi.Active, Locale: anpi.Japanese},
			err:  "dircsv: export users: unknown encoding 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			seed(t, st)
			require.NoError(t, st.CreateUser(ctx, tc.user))
			var b bytes.Buffer
			err := ExportUsers(ctx, st, &b, tc.opts)
			require.ErrorContains(t, err, tc.err)
			require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
			require.Zero(t, b.Len(), "nothing written")
		})
	}
}
