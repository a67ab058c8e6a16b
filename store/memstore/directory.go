package memstore

import (
	"context"
	"slices"
	"strings"

	"github.com/anpikit/anpi/anpi"
)

func (t *tx) checkDepartments(op string, u *anpi.User) error {
	for _, d := range u.Departments {
		if _, ok := t.d.depts[d]; !ok {
			return anpi.Errorf(anpi.NotFound, "memstore: %s %s: department %s does not exist", op, u.ID, d)
		}
	}
	return nil
}

func (t *tx) CreateUser(ctx context.Context, u *anpi.User) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if u == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: create user: nil user")
	}
	if err := u.Validate(); err != nil {
		return wrap("create user", err)
	}
	if _, ok := t.d.users[u.ID]; ok {
		return anpi.Errorf(anpi.AlreadyExists, "memstore: create user %s: already exists", u.ID)
	}
	if other, ok := t.d.byCode[u.EmployeeCode]; ok {
		return anpi.Errorf(anpi.AlreadyExists, "memstore: create user %s: employee code %q is taken by user %s", u.ID, u.EmployeeCode, other)
	}
	if err := t.checkDepartments("create user", u); err != nil {
		return err
	}
	c := u.Clone()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t.now()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	put(t, t.d.users, c.ID, c)
	put(t, t.d.byCode, c.EmployeeCode, c.ID)
	t.usersChanged()
	t.usersWritten()
	return nil
}

func (t *tx) UpdateUser(ctx context.Context, u *anpi.User) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if u == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: update user: nil user")
	}
	if err := u.Validate(); err != nil {
		return wrap("update user", err)
	}
	old, ok := t.d.users[u.ID]
	if !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: update user %s: does not exist", u.ID)
	}
	if other, ok := t.d.byCode[u.EmployeeCode]; ok && other != u.ID {
		return anpi.Errorf(anpi.AlreadyExists, "memstore: update user %s: employee code %q is taken by user %s", u.ID, u.EmployeeCode, other)
	}
	if err := t.checkDepartments("update user", u); err != nil {
		return err
	}
	c := u.Clone()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = old.CreatedAt
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = t.now()
	}
	del(t, t.d.byCode, old.EmployeeCode)
	put(t, t.d.users, c.ID, c)
	put(t, t.d.byCode, c.EmployeeCode, c.ID)
	t.usersWritten()
	return nil
}

func (t *tx) DeleteUser(ctx context.Context, id anpi.UserID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	u, ok := t.d.users[id]
	if !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: delete user %s: does not exist", id)
	}
	for _, c := range t.d.userContacts[id] {
		del(t, t.d.contacts, c)
	}
	del(t, t.d.userContacts, id)
	for g := range t.d.grants {
		if g.UserID == id {
			del(t, t.d.grants, g)
		}
	}
	del(t, t.d.byCode, u.EmployeeCode)
	del(t, t.d.users, id)
	t.usersChanged()
	t.usersWritten()
	return nil
}

func (t *tx) GetUser(ctx context.Context, id anpi.UserID) (*anpi.User, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	u, ok := t.d.users[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: user %s does not exist", id)
	}
	return u.Clone(), nil
}

func (t *tx) GetUsers(ctx context.Context, ids []anpi.UserID) (map[anpi.UserID]*anpi.User, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	out := make(map[anpi.UserID]*anpi.User, len(ids))
	for _, id := range ids {
		if u, ok := t.d.users[id]; ok {
			out[id] = u.Clone()
		}
	}
	return out, nil
}

func (t *tx) GetUserByEmployeeCode(ctx context.Context, code string) (*anpi.User, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	id, ok := t.d.byCode[code]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: no user has employee code %q", code)
	}
	return t.d.users[id].Clone(), nil
}

func (t *tx) ListUsers(ctx context.Context, q *anpi.UserQuery) ([]*anpi.User, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if q == nil {
		q = &anpi.UserQuery{}
	}
	if q.Limit < 0 {
		return nil, anpi.Errorf(anpi.InvalidArgument, "memstore: list users: negative limit %d", q.Limit)
	}
	if q.Status != "" && !q.Status.Valid() {
		return nil, anpi.Errorf(anpi.InvalidArgument, "memstore: list users: unknown status %q", q.Status)
	}
	out := []*anpi.User{}
	all := t.d.sortedUserIDs()
	start, _ := slices.BinarySearch(all, q.AfterID)
	for _, id := range all[start:] {
		if id == q.AfterID {
			continue
		}
		u := t.d.users[id]
		if q.Status != "" && u.Status != q.Status {
			continue
		}
		if q.Department != "" && !u.InDepartment(q.Department) {
			continue
		}
		out = append(out, u.Clone())
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

func (t *tx) CountUsers(ctx context.Context) (int, error) {
	if err := t.begin(ctx); err != nil {
		return 0, err
	}
	return len(t.d.users), nil
}

// UsersVersion is the count of user writes.
func (t *tx) UsersVersion(ctx context.Context) (int64, error) {
	if err := t.begin(ctx); err != nil {
		return 0, err
	}
	return t.d.usersVersion, nil
}

func (t *tx) CreateDepartment(ctx context.Context, d *anpi.Department) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if d == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: create department: nil department")
	}
	if err := d.Validate(); err != nil {
		return wrap("create department", err)
	}
	if _, ok := t.d.depts[d.ID]; ok {
		return anpi.Errorf(anpi.AlreadyExists, "memstore: create department %s: already exists", d.ID)
	}
	if d.ParentID != "" {
		if _, ok := t.d.depts[d.ParentID]; !ok {
			return anpi.Errorf(anpi.NotFound, "memstore: create department %s: parent %s does not exist", d.ID, d.ParentID)
		}
	}
	c := *d
	put(t, t.d.depts, c.ID, &c)
	return nil
}

func (t *tx) tree() (*anpi.DepartmentTree, error) {
	ds := make([]*anpi.Department, 0, len(t.d.depts))
	for _, d := range t.d.depts {
		ds = append(ds, d)
	}
	tree, err := anpi.NewDepartmentTree(ds)
	if err != nil {
		return nil, anpi.Errorf(anpi.Internal, "memstore: the stored department tree is broken: %w", err)
	}
	return tree, nil
}

func (t *tx) UpdateDepartment(ctx context.Context, d *anpi.Department) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if d == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: update department: nil department")
	}
	if err := d.Validate(); err != nil {
		return wrap("update department", err)
	}
	old, ok := t.d.depts[d.ID]
	if !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: update department %s: does not exist", d.ID)
	}
	if old.ParentID != d.ParentID {
		tree, err := t.tree()
		if err != nil {
			return err
		}
		if err := tree.CheckMove(d.ID, d.ParentID); err != nil {
			return wrap("update department "+string(d.ID), err)
		}
	}
	c := *d
	put(t, t.d.depts, c.ID, &c)
	return nil
}

func (t *tx) DeleteDepartment(ctx context.Context, id anpi.DepartmentID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if _, ok := t.d.depts[id]; !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: delete department %s: does not exist", id)
	}
	for _, d := range t.d.depts {
		if d.ParentID == id {
			return anpi.Errorf(anpi.FailedPrecondition, "memstore: delete department %s: it has child department %s", id, d.ID)
		}
	}
	for _, u := range t.d.users {
		if u.InDepartment(id) {
			return anpi.Errorf(anpi.FailedPrecondition, "memstore: delete department %s: user %s belongs to it", id, u.ID)
		}
	}
	// Grants scoped to the department go with it, so that a department
	// created later under the same ID does not inherit them.
	for g := range t.d.grants {
		if g.Department == id {
			del(t, t.d.grants, g)
		}
	}
	del(t, t.d.depts, id)
	return nil
}

func (t *tx) GetDepartment(ctx context.Context, id anpi.DepartmentID) (*anpi.Department, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	d, ok := t.d.depts[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: department %s does not exist", id)
	}
	c := *d
	return &c, nil
}

func (t *tx) Departments(ctx context.Context) (*anpi.DepartmentTree, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.tree()
}

func (t *tx) GrantRole(ctx context.Context, g anpi.RoleGrant) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if err := g.Validate(); err != nil {
		return wrap("grant role", err)
	}
	if _, ok := t.d.users[g.UserID]; !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: grant %s to %s: user does not exist", g.Role, g.UserID)
	}
	if g.Department != "" {
		if _, ok := t.d.depts[g.Department]; !ok {
			return anpi.Errorf(anpi.NotFound, "memstore: grant %s to %s: department %s does not exist", g.Role, g.UserID, g.Department)
		}
	}
	if _, ok := t.d.grants[g]; !ok {
		put(t, t.d.grants, g, struct{}{})
	}
	return nil
}

func (t *tx) RevokeRole(ctx context.Context, g anpi.RoleGrant) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if _, ok := t.d.grants[g]; !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: revoke %s from %s (department %q): no such grant", g.Role, g.UserID, g.Department)
	}
	del(t, t.d.grants, g)
	return nil
}

func (t *tx) RoleGrants(ctx context.Context, id anpi.UserID) ([]anpi.RoleGrant, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	out := []anpi.RoleGrant{}
	for g := range t.d.grants {
		if id == "" || g.UserID == id {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b anpi.RoleGrant) int {
		if c := strings.Compare(string(a.UserID), string(b.UserID)); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Department), string(b.Department)); c != 0 {
			return c
		}
		return strings.Compare(string(a.Role), string(b.Role))
	})
	return out, nil
}
