package dircsv

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/japanese"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
)

// fixedNow is the clock of the test stores.
func fixedNow() time.Time { return time.Date(2026, 3, 11, 5, 46, 0, 0, time.UTC) }

func newStore(t testing.TB) *memstore.Store {
	t.Helper()
	st := memstore.New(&memstore.Options{Now: fixedNow})
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// directory is everything an import may touch, timestamps left out.
type directory struct {
	Departments []anpi.Department
	Users       []anpi.User
	Grants      []anpi.RoleGrant
}

func snapshot(t testing.TB, st anpi.Store) directory {
	t.Helper()
	ctx := context.Background()
	var d directory
	tree, err := st.Departments(ctx)
	require.NoError(t, err)
	for _, x := range tree.All() {
		d.Departments = append(d.Departments, *x)
	}
	users, err := st.ListUsers(ctx, nil)
	require.NoError(t, err)
	for _, u := range users {
		c := *u.Clone()
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
		if len(c.Departments) == 0 {
			c.Departments = nil
		}
		if len(c.Groups) == 0 {
			c.Groups = nil
		}
		if len(c.Regions) == 0 {
			c.Regions = nil
		}
		d.Users = append(d.Users, c)
	}
	gs, err := st.RoleGrants(ctx, "")
	require.NoError(t, err)
	slices.SortFunc(gs, func(a, b anpi.RoleGrant) int {
		return strings.Compare(string(a.UserID)+" "+formatGrant(a), string(b.UserID)+" "+formatGrant(b))
	})
	if len(gs) > 0 {
		d.Grants = gs
	}
	return d
}

// seed fills st with a small directory: a tree of four departments, three
// users (one a system administrator) and some grants.
func seed(t testing.TB, st anpi.Store) {
	t.Helper()
	ctx := context.Background()
	for _, d := range []*anpi.Department{
		{ID: "D1", Name: "本社", Order: 1},
		{ID: "D2", Name: "営業部", ParentID: "D1", Order: 1},
		{ID: "D3", Name: "開発部", ParentID: "D1", Order: 2},
		{ID: "D9", Name: "旧総務部", Order: 9},
	} {
		require.NoError(t, st.CreateDepartment(ctx, d))
	}
	for _, u := range []*anpi.User{
		{ID: "U0001", EmployeeCode: "E0001", Name: "山田 太郎", NameKana: "ヤマダ タロウ", WorkEmail: "taro@example.jp",
			Departments: []anpi.DepartmentID{"D2"}, Title: "部長", Regions: []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}},
			Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "U0002", EmployeeCode: "E0002", Name: "佐藤 花子", Departments: []anpi.DepartmentID{"D3"},
			Status: anpi.Active, Locale: anpi.English},
		{ID: "ADMIN", EmployeeCode: "A0001", Name: "管理者", Status: anpi.Active, Locale: anpi.Japanese},
	} {
		require.NoError(t, st.CreateUser(ctx, u))
	}
	for _, g := range []anpi.RoleGrant{
		{UserID: "U0001", Role: anpi.Manager, Department: "D2"},
		{UserID: "U0001", Role: anpi.SystemAdmin},
		{UserID: "ADMIN", Role: anpi.SystemAdmin},
	} {
		require.NoError(t, st.GrantRole(ctx, g))
	}
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// sjis encodes UTF-8 text as Shift_JIS.
func sjis(t testing.TB, s string) []byte {
	t.Helper()
	b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(s))
	require.NoError(t, err)
	return b
}

// usersFile returns Files with a users file only.
func usersFile(s string) Files { return Files{Users: strings.NewReader(s)} }

func bytesFile(b []byte) Files { return Files{Users: bytes.NewReader(b)} }
