package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/anpikit/anpi/anpi"
)

func userUTC(u *anpi.User) *anpi.User {
	c := u.Clone()
	c.CreatedAt, c.UpdatedAt = utc(c.CreatedAt), utc(c.UpdatedAt)
	return c
}

func (t *tx) checkDepartments(ctx context.Context, op string, u *anpi.User) error {
	for _, d := range u.Departments {
		ok, err := t.exists(ctx, op, "SELECT 1 FROM departments WHERE id = ?", string(d))
		if err != nil {
			return err
		}
		if !ok {
			return anpi.Errorf(anpi.NotFound, "sqlite: %s %s: department %s does not exist", op, u.ID, d)
		}
	}
	return nil
}

// userByCode returns the ID of the user with the employee code, or "".
func (t *tx) userByCode(ctx context.Context, op, code string) (anpi.UserID, error) {
	var id string
	if _, err := t.one(ctx, op, "SELECT id FROM users WHERE employee_code = ?", []any{code}, &id); err != nil {
		return "", err
	}
	return anpi.UserID(id), nil
}

func (t *tx) userExists(ctx context.Context, op string, id anpi.UserID) (bool, error) {
	return t.exists(ctx, op, "SELECT 1 FROM users WHERE id = ?", string(id))
}

func (t *tx) writeUser(ctx context.Context, op string, c *anpi.User, insert bool) error {
	data, err := encode(op, c)
	if err != nil {
		return err
	}
	if insert {
		_, err = t.exec(ctx, op, "INSERT INTO users (id, employee_code, status, data) VALUES (?, ?, ?, ?)", string(c.ID), c.EmployeeCode, string(c.Status), data)
	} else {
		_, err = t.exec(ctx, op, "UPDATE users SET employee_code = ?, status = ?, data = ? WHERE id = ?", c.EmployeeCode, string(c.Status), data, string(c.ID))
	}
	if err != nil {
		return err
	}
	if !insert {
		if _, err := t.exec(ctx, op, "DELETE FROM user_departments WHERE user_id = ?", string(c.ID)); err != nil {
			return err
		}
	}
	for _, d := range c.Departments {
		if _, err := t.exec(ctx, op, "INSERT INTO user_departments (user_id, department_id) VALUES (?, ?)", string(c.ID), string(d)); err != nil {
			return err
		}
	}
	t.usersWritten = true
	return nil
}

func (t *tx) CreateUser(ctx context.Context, u *anpi.User) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if u == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: create user: nil user")
	}
	if err := u.Validate(); err != nil {
		return wrap("create user", err)
	}
	if ok, err := t.userExists(ctx, "create user", u.ID); err != nil {
		return err
	} else if ok {
		return anpi.Errorf(anpi.AlreadyExists, "sqlite: create user %s: already exists", u.ID)
	}
	if other, err := t.userByCode(ctx, "create user", u.EmployeeCode); err != nil {
		return err
	} else if other != "" {
		return anpi.Errorf(anpi.AlreadyExists, "sqlite: create user %s: employee code %q is taken by user %s", u.ID, u.EmployeeCode, other)
	}
	if err := t.checkDepartments(ctx, "create user", u); err != nil {
		return err
	}
	c := userUTC(u)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t.now()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	return t.writeUser(ctx, "create user "+string(u.ID), c, true)
}

func (t *tx) UpdateUser(ctx context.Context, u *anpi.User) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if u == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: update user: nil user")
	}
	if err := u.Validate(); err != nil {
		return wrap("update user", err)
	}
	old, err := t.getUser(ctx, "update user", u.ID)
	if err != nil {
		return err
	}
	if old == nil {
		return anpi.Errorf(anpi.NotFound, "sqlite: update user %s: does not exist", u.ID)
	}
	if other, err := t.userByCode(ctx, "update user", u.EmployeeCode); err != nil {
		return err
	} else if other != "" && other != u.ID {
		return anpi.Errorf(anpi.AlreadyExists, "sqlite: update user %s: employee code %q is taken by user %s", u.ID, u.EmployeeCode, other)
	}
	if err := t.checkDepartments(ctx, "update user", u); err != nil {
		return err
	}
	c := userUTC(u)
	if c.CreatedAt.IsZero() {
		c.CreatedAt = old.CreatedAt
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = t.now()
	}
	return t.writeUser(ctx, "update user "+string(u.ID), c, false)
}

func (t *tx) DeleteUser(ctx context.Context, id anpi.UserID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	// Contacts, grants and memberships go with the user (ON DELETE CASCADE).
	res, err := t.exec(ctx, "delete user", "DELETE FROM users WHERE id = ?", string(id))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return anpi.Errorf(anpi.NotFound, "sqlite: delete user %s: does not exist", id)
	}
	t.usersWritten = true
	return nil
}

// getUser returns the user, or nil when absent.
func (t *tx) getUser(ctx context.Context, op string, id anpi.UserID) (*anpi.User, error) {
	var data []byte
	ok, err := t.one(ctx, op, "SELECT data FROM users WHERE id = ?", []any{string(id)}, &data)
	if err != nil || !ok {
		return nil, err
	}
	u := new(anpi.User)
	return u, decode(op, data, u)
}

func (t *tx) GetUser(ctx context.Context, id anpi.UserID) (*anpi.User, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	u, err := t.getUser(ctx, "get user", id)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: user %s does not exist", id)
	}
	return u, nil
}

func (t *tx) GetUsers(ctx context.Context, ids []anpi.UserID) (map[anpi.UserID]*anpi.User, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	out := make(map[anpi.UserID]*anpi.User, len(ids))
	uniq := make([]string, 0, len(ids))
	seen := make(map[anpi.UserID]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, string(id))
		}
	}
	op := fmt.Sprintf("get %d users", len(uniq))
	for lo := 0; lo < len(uniq); lo += contactsOfChunk {
		ids, err := encode(op, uniq[lo:min(lo+contactsOfChunk, len(uniq))])
		if err != nil {
			return nil, err
		}
		us, err := list[anpi.User](t, ctx, op, "SELECT data FROM users WHERE "+inJSON("id"), string(ids))
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			out[u.ID] = u
		}
	}
	return out, nil
}

func (t *tx) GetUserByEmployeeCode(ctx context.Context, code string) (*anpi.User, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	var data []byte
	ok, err := t.one(ctx, "get user by employee code", "SELECT data FROM users WHERE employee_code = ?", []any{code}, &data)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: no user has employee code %q", code)
	}
	u := new(anpi.User)
	return u, decode("get user by employee code", data, u)
}

func (t *tx) ListUsers(ctx context.Context, q *anpi.UserQuery) ([]*anpi.User, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if q == nil {
		q = &anpi.UserQuery{}
	}
	if q.Limit < 0 {
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: list users: negative limit %d", q.Limit)
	}
	if q.Status != "" && !q.Status.Valid() {
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: list users: unknown status %q", q.Status)
	}
	var b strings.Builder
	var args []any
	b.WriteString("SELECT u.data FROM users u")
	if q.Department != "" {
		b.WriteString(" JOIN user_departments m ON m.user_id = u.id AND m.department_id = ?")
		args = append(args, string(q.Department))
	}
	b.WriteString(" WHERE u.id > ?")
	args = append(args, string(q.AfterID))
	if q.Status != "" {
		b.WriteString(" AND u.status = ?")
		args = append(args, string(q.Status))
	}
	b.WriteString(" ORDER BY u.id")
	if q.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, q.Limit)
	}
	return list[anpi.User](t, ctx, "list users", b.String(), args...)
}

func (t *tx) CountUsers(ctx context.Context) (int, error) {
	if err := t.begin(ctx); err != nil {
		return 0, err
	}
	var n int
	_, err := t.one(ctx, "count users", "SELECT COUNT(*) FROM users", nil, &n)
	return n, err
}

// UsersVersion reads the counter that flush moves once per transaction
// that wrote users (migration 0007).
func (t *tx) UsersVersion(ctx context.Context) (int64, error) {
	if err := t.begin(ctx); err != nil {
		return 0, err
	}
	var n int64
	_, err := t.one(ctx, "users version", "SELECT n FROM users_version", nil, &n)
	return n, err
}

func (t *tx) getDepartment(ctx context.Context, op string, id anpi.DepartmentID) (*anpi.Department, error) {
	var data []byte
	ok, err := t.one(ctx, op, "SELECT data FROM departments WHERE id = ?", []any{string(id)}, &data)
	if err != nil || !ok {
		return nil, err
	}
	d := new(anpi.Department)
	return d, decode(op, data, d)
}

func (t *tx) CreateDepartment(ctx context.Context, d *anpi.Department) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if d == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: create department: nil department")
	}
	if err := d.Validate(); err != nil {
		return wrap("create department", err)
	}
	if old, err := t.getDepartment(ctx, "create department", d.ID); err != nil {
		return err
	} else if old != nil {
		return anpi.Errorf(anpi.AlreadyExists, "sqlite: create department %s: already exists", d.ID)
	}
	if d.ParentID != "" {
		if p, err := t.getDepartment(ctx, "create department", d.ParentID); err != nil {
			return err
		} else if p == nil {
			return anpi.Errorf(anpi.NotFound, "sqlite: create department %s: parent %s does not exist", d.ID, d.ParentID)
		}
	}
	data, err := encode("create department", d)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "create department "+string(d.ID), "INSERT INTO departments (id, parent_id, data) VALUES (?, ?, ?)", string(d.ID), string(d.ParentID), data)
	return err
}

func (t *tx) tree(ctx context.Context) (*anpi.DepartmentTree, error) {
	ds, err := list[anpi.Department](t, ctx, "departments", "SELECT data FROM departments")
	if err != nil {
		return nil, err
	}
	tree, err := anpi.NewDepartmentTree(ds)
	if err != nil {
		return nil, anpi.Errorf(anpi.Internal, "sqlite: the stored department tree is broken: %w", err)
	}
	return tree, nil
}

func (t *tx) UpdateDepartment(ctx context.Context, d *anpi.Department) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if d == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: update department: nil department")
	}
	if err := d.Validate(); err != nil {
		return wrap("update department", err)
	}
	old, err := t.getDepartment(ctx, "update department", d.ID)
	if err != nil {
		return err
	}
	if old == nil {
		return anpi.Errorf(anpi.NotFound, "sqlite: update department %s: does not exist", d.ID)
	}
	if old.ParentID != d.ParentID {
		tree, err := t.tree(ctx)
		if err != nil {
			return err
		}
		if err := tree.CheckMove(d.ID, d.ParentID); err != nil {
			return wrap("update department "+string(d.ID), err)
		}
	}
	data, err := encode("update department", d)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "update department "+string(d.ID), "UPDATE departments SET parent_id = ?, data = ? WHERE id = ?", string(d.ParentID), data, string(d.ID))
	return err
}

func (t *tx) DeleteDepartment(ctx context.Context, id anpi.DepartmentID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	op := "delete department " + string(id)
	if d, err := t.getDepartment(ctx, op, id); err != nil {
		return err
	} else if d == nil {
		return anpi.Errorf(anpi.NotFound, "sqlite: delete department %s: does not exist", id)
	}
	var child string
	if ok, err := t.one(ctx, op, "SELECT id FROM departments WHERE parent_id = ? ORDER BY id LIMIT 1", []any{string(id)}, &child); err != nil {
		return err
	} else if ok {
		return anpi.Errorf(anpi.FailedPrecondition, "sqlite: delete department %s: it has child department %s", id, child)
	}
	var member string
	if ok, err := t.one(ctx, op, "SELECT user_id FROM user_departments WHERE department_id = ? ORDER BY user_id LIMIT 1", []any{string(id)}, &member); err != nil {
		return err
	} else if ok {
		return anpi.Errorf(anpi.FailedPrecondition, "sqlite: delete department %s: user %s belongs to it", id, member)
	}
	// Grants scoped to the department go with it, so that a department
	// created later under the same ID does not inherit them.
	if _, err := t.exec(ctx, op, "DELETE FROM role_grants WHERE department = ?", string(id)); err != nil {
		return err
	}
	_, err := t.exec(ctx, op, "DELETE FROM departments WHERE id = ?", string(id))
	return err
}

func (t *tx) GetDepartment(ctx context.Context, id anpi.DepartmentID) (*anpi.Department, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	d, err := t.getDepartment(ctx, "get department", id)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: department %s does not exist", id)
	}
	return d, nil
}

func (t *tx) Departments(ctx context.Context) (*anpi.DepartmentTree, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.tree(ctx)
}

func (t *tx) GrantRole(ctx context.Context, g anpi.RoleGrant) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if err := g.Validate(); err != nil {
		return wrap("grant role", err)
	}
	op := "grant role"
	if ok, err := t.userExists(ctx, op, g.UserID); err != nil {
		return err
	} else if !ok {
		return anpi.Errorf(anpi.NotFound, "sqlite: grant %s to %s: user does not exist", g.Role, g.UserID)
	}
	if g.Department != "" {
		if d, err := t.getDepartment(ctx, op, g.Department); err != nil {
			return err
		} else if d == nil {
			return anpi.Errorf(anpi.NotFound, "sqlite: grant %s to %s: department %s does not exist", g.Role, g.UserID, g.Department)
		}
	}
	_, err := t.exec(ctx, op, "INSERT OR IGNORE INTO role_grants (user_id, department, role) VALUES (?, ?, ?)", string(g.UserID), string(g.Department), string(g.Role))
	return err
}

func (t *tx) RevokeRole(ctx context.Context, g anpi.RoleGrant) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	res, err := t.exec(ctx, "revoke role", "DELETE FROM role_grants WHERE user_id = ? AND department = ? AND role = ?", string(g.UserID), string(g.Department), string(g.Role))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return anpi.Errorf(anpi.NotFound, "sqlite: revoke %s from %s (department %q): no such grant", g.Role, g.UserID, g.Department)
	}
	return nil
}

func (t *tx) RoleGrants(ctx context.Context, id anpi.UserID) ([]anpi.RoleGrant, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	query := "SELECT user_id, department, role FROM role_grants ORDER BY user_id, department, role"
	var args []any
	if id != "" {
		query = "SELECT user_id, department, role FROM role_grants WHERE user_id = ? ORDER BY user_id, department, role"
		args = append(args, string(id))
	}
	rows, err := t.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify("role grants", err)
	}
	defer rows.Close()
	out := []anpi.RoleGrant{}
	for rows.Next() {
		var u, d, r string
		if err := rows.Scan(&u, &d, &r); err != nil {
			return nil, classify("role grants", err)
		}
		out = append(out, anpi.RoleGrant{UserID: anpi.UserID(u), Department: anpi.DepartmentID(d), Role: anpi.Role(r)})
	}
	if err := rows.Err(); err != nil {
		return nil, classify("role grants", err)
	}
	return out, nil
}
