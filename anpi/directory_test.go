package anpi

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseRegion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Region
		err  string
	}{
		{in: "quake:350", want: Region{QuakeArea, "350"}},
		{in: " tsunami:300 ", want: Region{TsunamiRegion, "300"}},
		{in: "warning:1310100", want: Region{WarningArea, "1310100"}},
		{in: "地震：350", want: Region{QuakeArea, "350"}},
		{in: "津波:100", want: Region{TsunamiRegion, "100"}},
		{in: "1310100", want: Region{WarningArea, "1310100"}},
		{in: "350", err: "want kind:code"},
		{in: "quake:35", err: "must be 3 digits"},
		{in: "quake:35a", err: "must be 3 digits"},
		{in: "warning:131010", err: "must be 7 digits"},
		{in: "volcano:123", err: `unknown kind "volcano"`},
		{in: "", err: "want kind:code"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRegion(tc.in)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				require.Equal(t, InvalidArgument, Code(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			back, err := ParseRegion(got.String())
			require.NoError(t, err)
			require.Equal(t, got, back)
		})
	}
}

func validUser() *User {
	return &User{ID: "u1", EmployeeCode: "E0001", Name: "山田 太郎", NameKana: "ヤマダ タロウ", WorkEmail: "taro@example.co.jp",
		Departments: []DepartmentID{"sales"}, Regions: []Region{{QuakeArea, "350"}}, Status: Active, Locale: Japanese}
}

func TestUserValidate(t *testing.T) {
	require.NoError(t, validUser().Validate())
	for _, tc := range []struct {
		name   string
		change func(u *User)
		err    string
	}{
		{"no id", func(u *User) { u.ID = "" }, "user id is required"},
		{"padded id", func(u *User) { u.ID = " u1" }, "spaces"},
		{"no employee code", func(u *User) { u.EmployeeCode = "" }, "employee code is required"},
		{"no name", func(u *User) { u.Name = "  " }, "name is required"},
		{"long name", func(u *User) { u.Name = strings.Repeat("あ", MaxNameLen+1) }, "longer than"},
		{"bad email", func(u *User) { u.WorkEmail = "taro at example" }, "work email"},
		{"email with name", func(u *User) { u.WorkEmail = "Taro <taro@example.jp>" }, "work email"},
		{"bad status", func(u *User) { u.Status = "gone" }, `unknown status "gone"`},
		{"bad locale", func(u *User) { u.Locale = "fr" }, `unknown locale "fr"`},
		{"dup department", func(u *User) { u.Departments = []DepartmentID{"a", "a"} }, "listed twice"},
		{"bad region", func(u *User) { u.Regions = []Region{{QuakeArea, "1"}} }, "must be 3 digits"},
		{"dup region", func(u *User) { u.Regions = []Region{{QuakeArea, "350"}, {QuakeArea, "350"}} }, "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := validUser()
			tc.change(u)
			err := u.Validate()
			require.ErrorContains(t, err, tc.err)
			require.Equal(t, InvalidArgument, Code(err))
		})
	}
}

func TestUserCloneIsDeep(t *testing.T) {
	u := validUser()
	c := u.Clone()
	c.Departments[0] = "other"
	c.Regions[0].Code = "999"
	require.Equal(t, DepartmentID("sales"), u.Departments[0])
	require.Equal(t, "350", u.Regions[0].Code)
}

// testTree builds:
//
//	hq
//	├── sales
//	│   ├── tokyo
//	│   │   └── shibuya
//	│   └── osaka
//	└── dev
func testTree(t *testing.T) *DepartmentTree {
	t.Helper()
	tree, err := NewDepartmentTree([]*Department{
		{ID: "hq", Name: "本社"},
		{ID: "sales", Name: "営業部", ParentID: "hq", Order: 1},
		{ID: "dev", Name: "開発部", ParentID: "hq", Order: 2},
		{ID: "tokyo", Name: "東京営業所", ParentID: "sales", Order: 1},
		{ID: "osaka", Name: "大阪営業所", ParentID: "sales", Order: 2},
		{ID: "shibuya", Name: "渋谷出張所", ParentID: "tokyo"},
	})
	require.NoError(t, err)
	return tree
}

func TestDepartmentTree(t *testing.T) {
	tree := testTree(t)
	require.Equal(t, 6, tree.Len())
	require.Equal(t, []DepartmentID{"tokyo", "sales", "hq"}, tree.Ancestors("shibuya"))
	require.Empty(t, tree.Ancestors("hq"))
	require.Equal(t, []DepartmentID{"tokyo", "shibuya", "osaka"}, tree.Descendants("sales"))
	require.Equal(t, []DepartmentID{"sales", "tokyo", "shibuya", "osaka", "dev"}, tree.Descendants("hq"))
	require.Equal(t, 3, tree.Depth("shibuya"))
	require.Equal(t, -1, tree.Depth("nope"))
	require.True(t, tree.Within("shibuya", "sales"))
	require.True(t, tree.Within("sales", "sales"))
	require.False(t, tree.Within("dev", "sales"))
	require.False(t, tree.Within("nope", "sales"))
	require.Equal(t, []DepartmentID{"hq", "osaka", "sales", "shibuya", "tokyo"}, tree.Scope([]DepartmentID{"shibuya", "osaka"}))
	ids := []DepartmentID{}
	for _, d := range tree.All() {
		ids = append(ids, d.ID)
	}
	require.Equal(t, []DepartmentID{"hq", "sales", "tokyo", "shibuya", "osaka", "dev"}, ids)

	require.NoError(t, tree.CheckMove("tokyo", "dev"))
	require.NoError(t, tree.CheckMove("tokyo", ""))
	err := tree.CheckMove("sales", "shibuya")
	require.ErrorContains(t, err, "own subtree")
	require.Equal(t, InvalidArgument, Code(err))
	require.Equal(t, NotFound, Code(tree.CheckMove("sales", "nope")))
	require.Equal(t, NotFound, Code(tree.CheckMove("nope", "")))

	// Get returns a copy.
	d := tree.Get("sales")
	d.Name = "changed"
	require.Equal(t, "営業部", tree.Get("sales").Name)
}

func TestDepartmentTreeRejectsBadInput(t *testing.T) {
	_, err := NewDepartmentTree([]*Department{{ID: "a", Name: "A", ParentID: "b"}, {ID: "b", Name: "B", ParentID: "a"}})
	require.ErrorContains(t, err, "cycle")
	_, err = NewDepartmentTree([]*Department{{ID: "a", Name: "A", ParentID: "x"}})
	require.Equal(t, NotFound, Code(err))
	_, err = NewDepartmentTree([]*Department{{ID: "a", Name: "A"}, {ID: "a", Name: "A2"}})
	require.Equal(t, AlreadyExists, Code(err))
	_, err = NewDepartmentTree([]*Department{{ID: "a", Name: ""}})
	require.ErrorContains(t, err, "name is required")
	_, err = NewDepartmentTree([]*Department{{ID: "a", Name: "A", ParentID: "a"}})
	require.ErrorContains(t, err, "own parent")
}

func TestDeepTree(t *testing.T) {
	var ds []*Department
	parent := DepartmentID("")
	for i := range 500 { // unlimited depth: no recursion limit in practice
		id := DepartmentID("d" + strings.Repeat("x", i%5) + string(rune('a'+i%26)) + strconv.Itoa(i))
		ds = append(ds, &Department{ID: id, Name: "n", ParentID: parent})
		parent = id
	}
	tree, err := NewDepartmentTree(ds)
	require.NoError(t, err)
	require.Equal(t, 499, tree.Depth(parent))
	require.Len(t, tree.Ancestors(parent), 499)
	require.Len(t, tree.Descendants(ds[0].ID), 499)
}
