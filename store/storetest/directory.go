package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

func testUsers(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustDept(t, st, "hq", "")
	mustDept(t, st, "sales", "hq")

	u := newUser("u1", "E001", "hq", "sales")
	u.Groups = []string{"本社"}
	u.Title = "課長"
	u.Regions = []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}, {Kind: anpi.WarningArea, Code: "1310100"}}
	mustUser(t, st, u)

	got, err := st.GetUser(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, u, got)
	got, err = st.GetUserByEmployeeCode(ctx, "E001")
	require.NoError(t, err)
	require.Equal(t, u, got)

	requireCode(t, anpi.AlreadyExists, st.CreateUser(ctx, newUser("u1", "E999")), "same id")
	requireCode(t, anpi.AlreadyExists, st.CreateUser(ctx, newUser("u2", "E001")), "same employee code")
	requireCode(t, anpi.NotFound, st.CreateUser(ctx, newUser("u2", "E002", "nowhere")), "unknown department")
	bad := newUser("u2", "E002")
	bad.Name = " "
	requireCode(t, anpi.InvalidArgument, st.CreateUser(ctx, bad), "empty name")
	bad = newUser("u2", "E002")
	bad.Regions = []anpi.Region{{Kind: anpi.QuakeArea, Code: "35"}}
	requireCode(t, anpi.InvalidArgument, st.CreateUser(ctx, bad), "bad region")
	_, err = st.GetUser(ctx, "u2")
	requireCode(t, anpi.NotFound, err, "failed creates leave nothing")
	_, err = st.GetUserByEmployeeCode(ctx, "E002")
	requireCode(t, anpi.NotFound, err)

	// Zero timestamps are filled by the store.
	u3 := newUser("u3", "E003")
	u3.CreatedAt, u3.UpdatedAt = time.Time{}, time.Time{}
	mustUser(t, st, u3)
	got, err = st.GetUser(ctx, "u3")
	require.NoError(t, err)
	require.False(t, got.CreatedAt.IsZero(), "CreatedAt filled")
	require.False(t, got.UpdatedAt.IsZero(), "UpdatedAt filled")

	n, err := st.CountUsers(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	// Update: a new employee code frees the old one.
	upd := u.Clone()
	upd.Name = "改名 太郎"
	upd.EmployeeCode = "E100"
	upd.Departments = []anpi.DepartmentID{"sales"}
	upd.Status = anpi.Suspended
	upd.UpdatedAt = at(time.Hour)
	require.NoError(t, st.UpdateUser(ctx, upd))
	got, err = st.GetUser(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, upd, got)
	_, err = st.GetUserByEmployeeCode(ctx, "E001")
	requireCode(t, anpi.NotFound, err, "old employee code")
	got, err = st.GetUserByEmployeeCode(ctx, "E100")
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("u1"), got.ID)

	requireCode(t, anpi.NotFound, st.UpdateUser(ctx, newUser("ghost", "E404")), "update missing user")
	taken := upd.Clone()
	taken.EmployeeCode = "E003"
	requireCode(t, anpi.AlreadyExists, st.UpdateUser(ctx, taken), "update to a taken code")
	nodept := upd.Clone()
	nodept.Departments = []anpi.DepartmentID{"nowhere"}
	requireCode(t, anpi.NotFound, st.UpdateUser(ctx, nodept), "update with unknown department")
	got, err = st.GetUser(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, upd, got, "failed updates change nothing")

	// Delete removes contacts and grants; survey records stay.
	require.NoError(t, st.PutContact(ctx, &anpi.Contact{ID: "c1", UserID: "u1", Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: "taro@home.example.jp", CreatedAt: t0()}))
	require.NoError(t, st.GrantRole(ctx, anpi.RoleGrant{UserID: "u1", Role: anpi.Manager}))
	s := newSurvey("s1", anpi.Open, t0())
	mustSurvey(t, st, s)
	_, err = st.AddRecipients(ctx, "s1", []anpi.Recipient{recipient(t, st, "s1", upd)})
	require.NoError(t, err)
	_, err = st.RecordResponse(ctx, newResponse("r1", "s1", "u1", at(time.Minute), "safe", ""))
	require.NoError(t, err)

	require.NoError(t, st.DeleteUser(ctx, "u1"))
	_, err = st.GetUser(ctx, "u1")
	requireCode(t, anpi.NotFound, err)
	_, err = st.GetContact(ctx, "c1")
	requireCode(t, anpi.NotFound, err, "contacts go with the user")
	grants, err := st.RoleGrants(ctx, "u1")
	require.NoError(t, err)
	require.Empty(t, grants, "grants go with the user")
	_, err = st.GetRecipient(ctx, "s1", "u1")
	require.NoError(t, err, "recipients stay for the record")
	_, err = st.GetResponse(ctx, "s1", "u1")
	require.NoError(t, err, "responses stay for the record")
	requireCode(t, anpi.NotFound, st.DeleteUser(ctx, "u1"), "delete twice")
	mustUser(t, st, newUser("u4", "E100")) // the code is free again
	n, err = st.CountUsers(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

func testListUsers(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustDept(t, st, "a", "")
	mustDept(t, st, "a1", "a")
	var all, inA, suspended []anpi.UserID
	var users []*anpi.User
	for i := range 25 {
		id := fmt.Sprintf("u%02d", i)
		u := newUser(id, "E"+id)
		switch i % 3 {
		case 0:
			u.Departments = []anpi.DepartmentID{"a"}
			inA = append(inA, u.ID)
		case 1:
			u.Departments = []anpi.DepartmentID{"a1"} // a subdepartment: not a direct member of a
		}
		if i%4 == 0 {
			u.Status = anpi.Suspended
			suspended = append(suspended, u.ID)
		}
		all = append(all, u.ID)
		users = append(users, u)
	}
	// Create in reverse so that ID order is not insertion order.
	for i := len(users) - 1; i >= 0; i-- {
		mustUser(t, st, users[i])
	}
	userIDs := func(us []*anpi.User) []anpi.UserID { return ids(us, func(u *anpi.User) anpi.UserID { return u.ID }) }

	got, err := st.ListUsers(ctx, nil)
	require.NoError(t, err)
	require.Equal(t, all, userIDs(got), "nil query: everyone by ID")
	got, err = st.ListUsers(ctx, &anpi.UserQuery{})
	require.NoError(t, err)
	require.Equal(t, all, userIDs(got))

	var paged []anpi.UserID
	after := anpi.UserID("")
	for range 10 {
		page, err := st.ListUsers(ctx, &anpi.UserQuery{AfterID: after, Limit: 10})
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 10)
		if len(page) == 0 {
			break
		}
		paged = append(paged, userIDs(page)...)
		after = page[len(page)-1].ID
	}
	require.Equal(t, all, paged, "pages of 10")

	got, err = st.ListUsers(ctx, &anpi.UserQuery{Department: "a"})
	require.NoError(t, err)
	require.Equal(t, inA, userIDs(got), "direct members only")
	got, err = st.ListUsers(ctx, &anpi.UserQuery{Status: anpi.Suspended})
	require.NoError(t, err)
	require.Equal(t, suspended, userIDs(got))
	var both []anpi.UserID
	for _, id := range inA {
		for _, s := range suspended {
			if id == s {
				both = append(both, id)
			}
		}
	}
	got, err = st.ListUsers(ctx, &anpi.UserQuery{Department: "a", Status: anpi.Suspended, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, both[:2], userIDs(got), "filters combine with a limit")
	got, err = st.ListUsers(ctx, &anpi.UserQuery{Department: "a", Status: anpi.Suspended, AfterID: both[1]})
	require.NoError(t, err)
	require.Equal(t, both[2:], userIDs(got), "filters combine with paging")
	got, err = st.ListUsers(ctx, &anpi.UserQuery{Department: "none"})
	require.NoError(t, err)
	require.Empty(t, got)
}

func testDepartments(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustDept(t, st, "a", "")
	mustDept(t, st, "b", "a")
	mustDept(t, st, "c", "b")
	mustDept(t, st, "d", "")
	requireCode(t, anpi.AlreadyExists, st.CreateDepartment(ctx, &anpi.Department{ID: "a", Name: "x"}))
	requireCode(t, anpi.NotFound, st.CreateDepartment(ctx, &anpi.Department{ID: "e", Name: "x", ParentID: "nowhere"}))
	requireCode(t, anpi.InvalidArgument, st.CreateDepartment(ctx, &anpi.Department{ID: "e", Name: ""}))
	_, err := st.GetDepartment(ctx, "e")
	requireCode(t, anpi.NotFound, err)

	tree, err := st.Departments(ctx)
	require.NoError(t, err)
	require.Equal(t, 4, tree.Len())
	require.Equal(t, []anpi.DepartmentID{"b", "a"}, tree.Ancestors("c"))

	// Rename and reorder.
	require.NoError(t, st.UpdateDepartment(ctx, &anpi.Department{ID: "d", Name: "大阪支社", Order: 5}))
	got, err := st.GetDepartment(ctx, "d")
	require.NoError(t, err)
	require.Equal(t, &anpi.Department{ID: "d", Name: "大阪支社", Order: 5}, got)

	// A move takes the subtree along.
	require.NoError(t, st.UpdateDepartment(ctx, &anpi.Department{ID: "b", Name: "部署 b", ParentID: "d"}))
	tree, err = st.Departments(ctx)
	require.NoError(t, err)
	require.Equal(t, []anpi.DepartmentID{"b", "d"}, tree.Ancestors("c"))
	require.True(t, tree.Within("c", "d"))
	require.False(t, tree.Within("c", "a"))

	// Moves into the own subtree, to nowhere, or of nothing are refused
	// and change nothing.
	requireCode(t, anpi.InvalidArgument, st.UpdateDepartment(ctx, &anpi.Department{ID: "d", Name: "x", ParentID: "c"}), "into own subtree")
	requireCode(t, anpi.InvalidArgument, st.UpdateDepartment(ctx, &anpi.Department{ID: "d", Name: "x", ParentID: "b"}), "under own child")
	requireCode(t, anpi.InvalidArgument, st.UpdateDepartment(ctx, &anpi.Department{ID: "b", Name: "x", ParentID: "b"}), "under itself")
	requireCode(t, anpi.NotFound, st.UpdateDepartment(ctx, &anpi.Department{ID: "b", Name: "x", ParentID: "nowhere"}), "under nothing")
	requireCode(t, anpi.NotFound, st.UpdateDepartment(ctx, &anpi.Department{ID: "zz", Name: "x"}), "missing department")
	tree, err = st.Departments(ctx)
	require.NoError(t, err)
	require.Equal(t, []anpi.DepartmentID{"b", "d"}, tree.Ancestors("c"))
	require.Equal(t, 0, tree.Depth("d"))
	got, err = st.GetDepartment(ctx, "d")
	require.NoError(t, err)
	require.Equal(t, "大阪支社", got.Name)

	// Back to the top level.
	require.NoError(t, st.UpdateDepartment(ctx, &anpi.Department{ID: "b", Name: "部署 b"}))
	tree, err = st.Departments(ctx)
	require.NoError(t, err)
	require.Equal(t, []anpi.DepartmentID{"b"}, tree.Ancestors("c"))

	// Deletion needs no children and no members.
	mustUser(t, st, newUser("u1", "E1", "c"))
	requireCode(t, anpi.FailedPrecondition, st.DeleteDepartment(ctx, "b"), "has a child")
	requireCode(t, anpi.FailedPrecondition, st.DeleteDepartment(ctx, "c"), "has a member")
	requireCode(t, anpi.NotFound, st.DeleteDepartment(ctx, "zz"))
	u, err := st.GetUser(ctx, "u1")
	require.NoError(t, err)
	u.Departments = nil
	require.NoError(t, st.UpdateUser(ctx, u))
	require.NoError(t, st.DeleteDepartment(ctx, "c"))
	require.NoError(t, st.DeleteDepartment(ctx, "b"))
	_, err = st.GetDepartment(ctx, "c")
	requireCode(t, anpi.NotFound, err)
	tree, err = st.Departments(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, tree.Len())
}

func testRoles(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustDept(t, st, "a", "")
	mustUser(t, st, newUser("u1", "E1"))
	mustUser(t, st, newUser("u2", "E2"))
	g1 := anpi.RoleGrant{UserID: "u1", Role: anpi.Manager}
	g2 := anpi.RoleGrant{UserID: "u1", Role: anpi.CrisisManager, Department: "a"}
	g3 := anpi.RoleGrant{UserID: "u2", Role: anpi.SystemAdmin}
	for _, g := range []anpi.RoleGrant{g1, g2, g3, g1} { // g1 twice: idempotent
		require.NoError(t, st.GrantRole(ctx, g))
	}
	requireCode(t, anpi.NotFound, st.GrantRole(ctx, anpi.RoleGrant{UserID: "ghost", Role: anpi.Manager}), "unknown user")
	requireCode(t, anpi.NotFound, st.GrantRole(ctx, anpi.RoleGrant{UserID: "u1", Role: anpi.Manager, Department: "nowhere"}), "unknown department")
	requireCode(t, anpi.InvalidArgument, st.GrantRole(ctx, anpi.RoleGrant{UserID: "u1", Role: "king"}), "unknown role")

	got, err := st.RoleGrants(ctx, "u1")
	require.NoError(t, err)
	require.ElementsMatch(t, []anpi.RoleGrant{g1, g2}, got)
	got, err = st.RoleGrants(ctx, "")
	require.NoError(t, err)
	require.ElementsMatch(t, []anpi.RoleGrant{g1, g2, g3}, got)

	require.NoError(t, st.RevokeRole(ctx, g2))
	requireCode(t, anpi.NotFound, st.RevokeRole(ctx, g2), "revoke twice")
	got, err = st.RoleGrants(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, []anpi.RoleGrant{g1}, got)
}

// testUsersVersion: every committed write of users moves the version,
// reads and writes of other things do not, and a transaction that writes
// many users moves it (at least) once.
func testUsersVersion(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	version := func() int64 {
		t.Helper()
		v, err := st.UsersVersion(ctx)
		require.NoError(t, err)
		return v
	}
	mustDept(t, st, "hq", "")
	v0 := version()
	require.Equal(t, v0, version(), "reading moves nothing")

	mustUser(t, st, newUser("u1", "E001", "hq"))
	v1 := version()
	require.NotEqual(t, v0, v1, "a created user")
	_, err := st.GetUser(ctx, "u1")
	require.NoError(t, err)
	_, err = st.ListUsers(ctx, nil)
	require.NoError(t, err)
	mustDept(t, st, "sales", "hq")
	require.Equal(t, v1, version(), "reads of users and a department written move nothing")

	u := newUser("u1", "E001", "hq")
	u.Name = "改名 太郎"
	require.NoError(t, st.UpdateUser(ctx, u))
	v2 := version()
	require.NotEqual(t, v1, v2, "an updated user")

	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		for i := range 3 {
			if err := tx.CreateUser(ctx, newUser(fmt.Sprintf("v%d", i), fmt.Sprintf("V%03d", i), "hq")); err != nil {
				return err
			}
		}
		return nil
	}))
	v3 := version()
	require.NotEqual(t, v2, v3, "users created in one transaction")

	require.NoError(t, st.DeleteUser(ctx, "v0"))
	require.NotEqual(t, v3, version(), "a deleted user")
}

// testReadTx: a read transaction reads what was committed, returns fn's
// error as it is, and refuses writes, which change nothing.
func testReadTx(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustDept(t, st, "hq", "")
	mustUser(t, st, newUser("u1", "E001", "hq"))
	var n int
	require.NoError(t, st.ReadTx(ctx, func(tx anpi.Tx) error {
		u, err := tx.GetUser(ctx, "u1")
		if err != nil {
			return err
		}
		require.Equal(t, anpi.UserID("u1"), u.ID)
		n, err = tx.CountUsers(ctx)
		return err
	}))
	require.Equal(t, 1, n)

	mine := errors.New("mine")
	require.ErrorIs(t, st.ReadTx(ctx, func(anpi.Tx) error { return mine }), mine)

	err := st.ReadTx(ctx, func(tx anpi.Tx) error {
		return tx.CreateUser(ctx, newUser("u2", "E002", "hq"))
	})
	require.Error(t, err, "a write in a read transaction")
	_, err = st.GetUser(ctx, "u2")
	requireCode(t, anpi.NotFound, err, "the refused write changed nothing")
	requireCode(t, anpi.InvalidArgument, st.ReadTx(ctx, nil), "nil function")
}
