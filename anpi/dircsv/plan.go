package dircsv

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// Files are the inputs of one import: a departments file, a users file, or
// both. Departments are planned and applied first, so the users file may
// refer to departments the same import adds.
type Files struct {
	Departments io.Reader // nil: leave departments alone
	Users       io.Reader // nil: leave users and role grants alone
}

// UserChange is a user an import adds, changes or removes.
type UserChange struct {
	Line   int        // the row in the users file; 0 for removals
	Before *anpi.User // nil when added
	// After is nil when removed. Its CreatedAt (added users) and UpdatedAt
	// are zero, for the store to stamp.
	After *anpi.User
	// Fields lists the columns that change ("name", "departments", …);
	// nil for additions and removals.
	Fields []string
}

// DepartmentChange is a department an import adds, changes or removes.
type DepartmentChange struct {
	Line   int              // the row in the departments file; 0 for removals
	Before *anpi.Department // nil when added
	After  *anpi.Department // nil when removed
	Fields []string         // "name", "parent", "order"; nil for additions and removals
}

// GrantChange is a role grant an import adds or removes.
type GrantChange struct {
	Line  int // the row in the users file
	Grant anpi.RoleGrant
}

// Plan is what an import does to the directory: the additions, changes
// and removals, each list in the order Apply performs it. A Plan is made
// by PlanImport (or DryRun and Import) against one transaction's view of
// the directory.
type Plan struct {
	Mode Mode

	// AddDepartments and ChangeDepartments are in tree order, parents
	// first; RemoveDepartments children first.
	AddDepartments       []DepartmentChange
	ChangeDepartments    []DepartmentChange
	RemoveDepartments    []DepartmentChange
	UnchangedDepartments int

	// AddUsers and ChangeUsers are in file order, RemoveUsers by employee
	// code.
	AddUsers       []UserChange
	ChangeUsers    []UserChange
	RemoveUsers    []UserChange
	UnchangedUsers int
	// KeptUsers are users absent from a Sync users file who are not
	// removed because they hold a SystemAdmin grant.
	KeptUsers []*anpi.User

	// Grants and Revokes are the role grants to add and to remove, for
	// users in the users file only; SystemAdmin grants are never among
	// them.
	Grants  []GrantChange
	Revokes []GrantChange

	users, departments bool // which files the import had
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	return len(p.AddDepartments)+len(p.ChangeDepartments)+len(p.RemoveDepartments)+
		len(p.AddUsers)+len(p.ChangeUsers)+len(p.RemoveUsers)+len(p.Grants)+len(p.Revokes) == 0
}

// Summary returns the counts in one line, e.g. "departments: 1 to add, 0
// to change, 0 to remove, 4 unchanged; users: 2 to add, …".
func (p *Plan) Summary() string {
	var parts []string
	if p.departments {
		parts = append(parts, fmt.Sprintf("departments: %d to add, %d to change, %d to remove, %d unchanged",
			len(p.AddDepartments), len(p.ChangeDepartments), len(p.RemoveDepartments), p.UnchangedDepartments))
	}
	if p.users {
		s := fmt.Sprintf("users: %d to add, %d to change, %d to remove, %d unchanged",
			len(p.AddUsers), len(p.ChangeUsers), len(p.RemoveUsers), p.UnchangedUsers)
		if len(p.KeptUsers) > 0 {
			s += fmt.Sprintf(", %d system administrators kept", len(p.KeptUsers))
		}
		parts = append(parts, s)
		parts = append(parts, fmt.Sprintf("role grants: %d to add, %d to remove", len(p.Grants), len(p.Revokes)))
	}
	if len(parts) == 0 {
		return "nothing to import"
	}
	return strings.Join(parts, "; ")
}

// String returns the summary and then one line per change:
// "+ user E0001 山田 太郎", "~ user E0002 佐藤 花子: title, regions",
// "- department D9 旧総務部", "+ grant manager@D1 to E0001", …
func (p *Plan) String() string {
	var b strings.Builder
	b.WriteString(p.Summary())
	line := func(format string, args ...any) {
		b.WriteString("\n")
		fmt.Fprintf(&b, format, args...)
	}
	for _, c := range p.AddDepartments {
		line("+ department %s %s%s", c.After.ID, c.After.Name, parentNote(c.After))
	}
	for _, c := range p.ChangeDepartments {
		line("~ department %s %s: %s", c.After.ID, c.After.Name, strings.Join(c.Fields, ", "))
	}
	for _, c := range p.RemoveDepartments {
		line("- department %s %s", c.Before.ID, c.Before.Name)
	}
	for _, c := range p.AddUsers {
		line("+ user %s %s", c.After.EmployeeCode, c.After.Name)
	}
	for _, c := range p.ChangeUsers {
		line("~ user %s %s: %s", c.After.EmployeeCode, c.After.Name, strings.Join(c.Fields, ", "))
	}
	for _, c := range p.RemoveUsers {
		line("- user %s %s", c.Before.EmployeeCode, c.Before.Name)
	}
	for _, u := range p.KeptUsers {
		line("= user %s %s kept: holds system_admin", u.EmployeeCode, u.Name)
	}
	for _, g := range p.Grants {
		line("+ grant %s to %s", formatGrant(g.Grant), g.Grant.UserID)
	}
	for _, g := range p.Revokes {
		line("- grant %s from %s", formatGrant(g.Grant), g.Grant.UserID)
	}
	return b.String()
}

func parentNote(d *anpi.Department) string {
	if d.ParentID == "" {
		return ""
	}
	return " (under " + string(d.ParentID) + ")"
}

// input is the parsed files of an import.
type input struct {
	users *UsersFile
	depts *DepartmentsFile
}

// parseFiles reads and checks the files, collecting the problems of both.
func parseFiles(f Files, opts *Options) (*input, error) {
	errs := newErrList(opts)
	in := &input{}
	var err error
	if f.Departments != nil {
		if in.depts, err = parseDepartments(f.Departments, opts, errs); err != nil {
			return nil, err
		}
	}
	if f.Users != nil {
		if in.users, err = parseUsers(f.Users, opts, errs); err != nil {
			return nil, err
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return in, nil
}

// PlanImport reads the files and computes what importing them would change
// in the directory tx sees, changing nothing. Problems in the files, and
// problems only the directory reveals (unknown departments, IDs that
// belong to someone else, a department a Sync import cannot remove), come
// back together as an *ImportError inside an anpi.InvalidArgument error.
func PlanImport(ctx context.Context, tx anpi.Tx, f Files, opts *Options) (*Plan, error) {
	in, err := parseFiles(f, opts)
	if err != nil {
		return nil, err
	}
	return in.plan(ctx, tx, opts)
}

// DryRun is PlanImport in a transaction of st's own: it reports what Import
// would do and changes nothing.
func DryRun(ctx context.Context, st anpi.Store, f Files, opts *Options) (*Plan, error) {
	in, err := parseFiles(f, opts)
	if err != nil {
		return nil, err
	}
	var p *Plan
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		var err error
		p, err = in.plan(ctx, tx, opts)
		return err
	})
	return p, err
}

// Import reads the files, plans and applies the import in one transaction
// of st, and returns the plan it applied. Any problem in the files, or any
// failing write, changes nothing.
func Import(ctx context.Context, st anpi.Store, f Files, opts *Options) (*Plan, error) {
	in, err := parseFiles(f, opts)
	if err != nil {
		return nil, err
	}
	var p *Plan
	err = st.InTx(ctx, func(tx anpi.Tx) error {
		var err error
		if p, err = in.plan(ctx, tx, opts); err != nil {
			return err
		}
		return p.Apply(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// planner holds the state of one planning run.
type planner struct {
	ctx  context.Context
	tx   anpi.Tx
	mode Mode
	errs *errList
	p    *Plan

	curTree    *anpi.DepartmentTree
	curDepts   map[anpi.DepartmentID]*anpi.Department
	finalTree  *anpi.DepartmentTree
	finalDepts map[anpi.DepartmentID]*anpi.Department // after the departments file; nil without one
	removeDept map[anpi.DepartmentID]bool

	users    []*anpi.User // the directory's users, by ID; nil until loaded
	grants   map[anpi.UserID][]anpi.RoleGrant
	inFile   map[string]bool // employee codes of the users file
	afterFor map[anpi.UserID]*anpi.User
}

func (in *input) plan(ctx context.Context, tx anpi.Tx, opts *Options) (*Plan, error) {
	opts = opts.orDefault()
	pl := &planner{ctx: ctx, tx: tx, mode: opts.Mode, errs: newErrList(opts),
		p: &Plan{Mode: opts.Mode, users: in.users != nil, departments: in.depts != nil}}
	tree, err := tx.Departments(ctx)
	if err != nil {
		return nil, fmt.Errorf("dircsv: read departments: %w", err)
	}
	pl.curDepts = map[anpi.DepartmentID]*anpi.Department{}
	for _, d := range tree.All() {
		pl.curDepts[d.ID] = d
	}
	pl.curTree, pl.finalTree = tree, tree
	if in.depts != nil {
		if err := pl.planDepartments(in.depts); err != nil {
			return nil, err
		}
	}
	if in.users != nil {
		if err := pl.planUsers(in.users); err != nil {
			return nil, err
		}
	}
	if len(pl.p.RemoveDepartments) > 0 && pl.errs.empty() {
		if err := pl.checkRemovable(); err != nil {
			return nil, err
		}
	}
	if err := pl.errs.err(); err != nil {
		return nil, err
	}
	return pl.p, nil
}

func (pl *planner) planDepartments(df *DepartmentsFile) error {
	final := map[anpi.DepartmentID]*anpi.Department{}
	if pl.mode != Sync {
		for id, d := range pl.curDepts {
			final[id] = d
		}
	}
	lineOf := map[anpi.DepartmentID]int{}
	for _, rec := range df.Records {
		r := rec.Department
		next := &anpi.Department{ID: r.ID}
		if cur := pl.curDepts[r.ID]; cur != nil {
			c := *cur
			next = &c
		}
		next.Name = r.Name
		if df.has[dParent] {
			next.ParentID = r.ParentID
		}
		if df.has[dOrder] {
			next.Order = r.Order
		}
		final[r.ID] = next
		lineOf[r.ID] = rec.Line
	}
	pl.finalDepts = final
	// Parents must exist in the result; the result must be a tree.
	col := df.names[dParent]
	bad := false
	for _, rec := range df.Records {
		d := final[rec.Department.ID]
		if d.ParentID == "" {
			continue
		}
		if final[d.ParentID] == nil {
			why := ""
			if pl.curDepts[d.ParentID] != nil {
				why = " (a sync import removes the departments absent from the file)"
			}
			pl.errs.addf(fileDepartments, rec.Line, col, "parent department %s does not exist%s", d.ParentID, why)
			bad = true
			continue
		}
		if cycle := findCycle(final, d.ID); cycle != nil {
			pl.errs.addf(fileDepartments, rec.Line, col, "parent %s makes a cycle: %s", d.ParentID, strings.Join(cycle, " → "))
			bad = true
		}
	}
	if bad {
		return nil
	}
	list := make([]*anpi.Department, 0, len(final))
	for _, d := range final {
		list = append(list, d)
	}
	tree, err := anpi.NewDepartmentTree(list)
	if err != nil {
		pl.errs.add(fileDepartments, 0, "", err)
		return nil
	}
	pl.finalTree = tree
	for _, d := range tree.All() {
		line, ok := lineOf[d.ID]
		if !ok {
			continue
		}
		cur := pl.curDepts[d.ID]
		if cur == nil {
			pl.p.AddDepartments = append(pl.p.AddDepartments, DepartmentChange{Line: line, After: d})
			continue
		}
		var fields []string
		if cur.Name != d.Name {
			fields = append(fields, "name")
		}
		if cur.ParentID != d.ParentID {
			fields = append(fields, "parent")
		}
		if cur.Order != d.Order {
			fields = append(fields, "order")
		}
		if fields == nil {
			pl.p.UnchangedDepartments++
			continue
		}
		pl.p.ChangeDepartments = append(pl.p.ChangeDepartments, DepartmentChange{Line: line, Before: cur, After: d, Fields: fields})
	}
	if pl.mode == Sync {
		pl.removeDept = map[anpi.DepartmentID]bool{}
		all := make([]anpi.DepartmentID, 0, len(pl.curDepts))
		for id := range pl.curDepts {
			all = append(all, id)
		}
		// Children first: deepest first, then by ID.
		cur := pl.curTree
		slices.SortFunc(all, func(a, b anpi.DepartmentID) int {
			if da, db := cur.Depth(a), cur.Depth(b); da != db {
				return db - da
			}
			return strings.Compare(string(a), string(b))
		})
		for _, id := range all {
			if _, keep := lineOf[id]; !keep {
				pl.removeDept[id] = true
				pl.p.RemoveDepartments = append(pl.p.RemoveDepartments, DepartmentChange{Before: pl.curDepts[id]})
			}
		}
	}
	return nil
}

// findCycle returns the IDs on the cycle through start's parents, or nil.
func findCycle(ds map[anpi.DepartmentID]*anpi.Department, start anpi.DepartmentID) []string {
	path := []string{string(start)}
	id := ds[start].ParentID
	for steps := 0; id != "" && steps <= len(ds); steps++ {
		path = append(path, string(id))
		if id == start {
			return path
		}
		d := ds[id]
		if d == nil {
			return nil
		}
		id = d.ParentID
	}
	return nil
}

// deptExists reports whether department id exists after the import. It
// holds even when the departments file has errors (a cycle, a missing
// parent), so that users are not blamed for them too.
func (pl *planner) deptExists(id anpi.DepartmentID) bool {
	if pl.finalDepts != nil {
		return pl.finalDepts[id] != nil
	}
	return pl.finalTree.Has(id)
}

func (pl *planner) loadUsers() error {
	if pl.users != nil {
		return nil
	}
	users, err := pl.tx.ListUsers(pl.ctx, &anpi.UserQuery{})
	if err != nil {
		return fmt.Errorf("dircsv: read users: %w", err)
	}
	grants, err := pl.tx.RoleGrants(pl.ctx, "")
	if err != nil {
		return fmt.Errorf("dircsv: read role grants: %w", err)
	}
	pl.users = users
	if pl.users == nil {
		pl.users = []*anpi.User{}
	}
	pl.grants = map[anpi.UserID][]anpi.RoleGrant{}
	for _, g := range grants {
		pl.grants[g.UserID] = append(pl.grants[g.UserID], g)
	}
	return nil
}

func (pl *planner) planUsers(uf *UsersFile) error {
	if err := pl.loadUsers(); err != nil {
		return err
	}
	colName := func(c int) string { return uf.names[c] }
	byCode := make(map[string]*anpi.User, len(pl.users))
	byID := make(map[anpi.UserID]*anpi.User, len(pl.users))
	for _, u := range pl.users {
		byCode[u.EmployeeCode] = u
		byID[u.ID] = u
	}
	pl.inFile = make(map[string]bool, len(uf.Records))
	pl.afterFor = map[anpi.UserID]*anpi.User{}
	idLine := make(map[anpi.UserID]int, len(uf.Records))
	for i := range uf.Records {
		rec := &uf.Records[i]
		r := &rec.User
		line := rec.Line
		pl.inFile[r.EmployeeCode] = true
		ok := true
		fail := func(c int, format string, args ...any) {
			pl.errs.addf(fileUsers, line, colName(c), format, args...)
			ok = false
		}
		cur := byCode[r.EmployeeCode]
		id := r.ID
		if cur != nil {
			if id != "" && id != cur.ID {
				fail(uID, "employee %s has id %s in the directory, not %s (ids never change)", r.EmployeeCode, cur.ID, id)
			}
			id = cur.ID
		} else {
			if id == "" {
				id = anpi.UserID(r.EmployeeCode)
			}
			if other := byID[id]; other != nil {
				fail(uID, "id %s already belongs to employee %s", id, other.EmployeeCode)
			}
		}
		if prev, dup := idLine[id]; dup {
			fail(uID, "id %s is also the id of line %d", id, prev)
		} else {
			idLine[id] = line
		}
		next := &anpi.User{ID: id, EmployeeCode: r.EmployeeCode, Status: anpi.Active, Locale: anpi.Japanese}
		if cur != nil {
			next = cur.Clone()
		}
		next.Name = r.Name
		if uf.has[uNameKana] {
			next.NameKana = r.NameKana
		}
		if uf.has[uWorkEmail] {
			next.WorkEmail = r.WorkEmail
		}
		if uf.has[uDepartments] {
			next.Departments = slices.Clone(r.Departments)
			for _, d := range next.Departments {
				if !pl.deptExists(d) {
					fail(uDepartments, "department %s does not exist", d)
				}
			}
		}
		if uf.has[uGroups] {
			next.Groups = slices.Clone(r.Groups)
		}
		if uf.has[uTitle] {
			next.Title = r.Title
		}
		if uf.has[uRegions] {
			next.Regions = slices.Clone(r.Regions)
		}
		if r.Status != "" {
			next.Status = r.Status
		}
		if r.Locale != "" {
			next.Locale = r.Locale
		}
		var want []anpi.RoleGrant
		if uf.has[uRoles] {
			for _, g := range rec.Roles {
				g.UserID = id
				if g.Department != "" && !pl.deptExists(g.Department) {
					fail(uRoles, "%s: department %s does not exist", formatGrant(g), g.Department)
				}
				want = append(want, g)
			}
		}
		if !ok {
			continue
		}
		if err := next.Validate(); err != nil {
			pl.errs.add(fileUsers, line, "", err)
			continue
		}
		pl.afterFor[id] = next
		if cur == nil {
			pl.p.AddUsers = append(pl.p.AddUsers, UserChange{Line: line, After: next})
		} else if fields := userDiff(cur, next); fields != nil {
			next.UpdatedAt = time.Time{} // the store stamps it
			pl.p.ChangeUsers = append(pl.p.ChangeUsers, UserChange{Line: line, Before: cur, After: next, Fields: fields})
		} else {
			pl.p.UnchangedUsers++
		}
		if uf.has[uRoles] {
			have := pl.grants[id]
			for _, g := range have {
				if g.Role != anpi.SystemAdmin && !slices.Contains(want, g) {
					pl.p.Revokes = append(pl.p.Revokes, GrantChange{Line: line, Grant: g})
				}
			}
			for _, g := range want {
				if !slices.Contains(have, g) {
					pl.p.Grants = append(pl.p.Grants, GrantChange{Line: line, Grant: g})
				}
			}
		}
	}
	if pl.mode == Sync {
		rest := make([]*anpi.User, 0)
		for _, u := range pl.users {
			if !pl.inFile[u.EmployeeCode] {
				rest = append(rest, u)
			}
		}
		slices.SortFunc(rest, func(a, b *anpi.User) int { return strings.Compare(a.EmployeeCode, b.EmployeeCode) })
		for _, u := range rest {
			if slices.ContainsFunc(pl.grants[u.ID], func(g anpi.RoleGrant) bool { return g.Role == anpi.SystemAdmin }) {
				pl.p.KeptUsers = append(pl.p.KeptUsers, u)
				continue
			}
			pl.p.RemoveUsers = append(pl.p.RemoveUsers, UserChange{Before: u})
		}
	}
	return nil
}

// userDiff names the columns in which next differs from cur, or nil.
func userDiff(cur, next *anpi.User) []string {
	var f []string
	add := func(changed bool, col int) {
		if changed {
			f = append(f, userColumns()[col].name)
		}
	}
	add(cur.Name != next.Name, uName)
	add(cur.NameKana != next.NameKana, uNameKana)
	add(cur.WorkEmail != next.WorkEmail, uWorkEmail)
	add(!slices.Equal(cur.Departments, next.Departments), uDepartments)
	add(!slices.Equal(cur.Groups, next.Groups), uGroups)
	add(cur.Title != next.Title, uTitle)
	add(!slices.Equal(cur.Regions, next.Regions), uRegions)
	add(cur.Status != next.Status, uStatus)
	add(cur.Locale != next.Locale, uLocale)
	return f
}

// checkRemovable fails the departments a Sync import would remove while
// users (after the import) still belong to them or role grants are scoped
// to them.
func (pl *planner) checkRemovable() error {
	if err := pl.loadUsers(); err != nil {
		return err
	}
	removedUser := map[anpi.UserID]bool{}
	for _, c := range pl.p.RemoveUsers {
		removedUser[c.Before.ID] = true
	}
	members := map[anpi.DepartmentID][]string{}
	count := func(u *anpi.User) {
		for _, d := range u.Departments {
			if pl.removeDept[d] {
				members[d] = append(members[d], u.EmployeeCode)
			}
		}
	}
	for _, u := range pl.users {
		if removedUser[u.ID] {
			continue
		}
		if next := pl.afterFor[u.ID]; next != nil {
			count(next)
		} else {
			count(u)
		}
	}
	for _, c := range pl.p.AddUsers {
		count(c.After)
	}
	revoked := map[anpi.RoleGrant]bool{}
	for _, g := range pl.p.Revokes {
		revoked[g.Grant] = true
	}
	scoped := map[anpi.DepartmentID][]string{}
	for id, gs := range pl.grants {
		if removedUser[id] {
			continue
		}
		for _, g := range gs {
			if pl.removeDept[g.Department] && !revoked[g] {
				scoped[g.Department] = append(scoped[g.Department], formatGrant(g)+" of "+string(g.UserID))
			}
		}
	}
	for _, c := range pl.p.RemoveDepartments {
		d := c.Before
		if m := members[d.ID]; len(m) > 0 {
			slices.Sort(m)
			pl.errs.addf(fileDepartments, 0, "", "department %s (%s) is absent from the file but %d users still belong to it (%s): a sync import removes only empty departments",
				d.ID, d.Name, len(m), strings.Join(firstN(m, 5), ", "))
		}
		if s := scoped[d.ID]; len(s) > 0 {
			slices.Sort(s)
			pl.errs.addf(fileDepartments, 0, "", "department %s (%s) is absent from the file but role grants are scoped to it (%s): revoke them first",
				d.ID, d.Name, strings.Join(firstN(s, 5), ", "))
		}
	}
	return nil
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), "…")
}

// Apply performs the plan in tx: departments added and changed (parents
// first), users added and changed, role grants revoked and granted, users
// removed, departments removed (children first). Run it in the
// transaction the plan was made in (Import does), so that a failing write
// changes nothing.
func (p *Plan) Apply(ctx context.Context, tx anpi.Tx) error {
	for _, c := range p.AddDepartments {
		if err := tx.CreateDepartment(ctx, c.After); err != nil {
			return fmt.Errorf("dircsv: departments line %d: add department %s: %w", c.Line, c.After.ID, err)
		}
	}
	for _, c := range p.ChangeDepartments {
		if err := tx.UpdateDepartment(ctx, c.After); err != nil {
			return fmt.Errorf("dircsv: departments line %d: change department %s: %w", c.Line, c.After.ID, err)
		}
	}
	for _, c := range p.AddUsers {
		if err := tx.CreateUser(ctx, c.After); err != nil {
			return fmt.Errorf("dircsv: users line %d: add user %s: %w", c.Line, c.After.EmployeeCode, err)
		}
	}
	for _, c := range p.ChangeUsers {
		if err := tx.UpdateUser(ctx, c.After); err != nil {
			return fmt.Errorf("dircsv: users line %d: change user %s: %w", c.Line, c.After.EmployeeCode, err)
		}
	}
	for _, g := range p.Revokes {
		if err := tx.RevokeRole(ctx, g.Grant); err != nil {
			return fmt.Errorf("dircsv: users line %d: revoke %s from %s: %w", g.Line, formatGrant(g.Grant), g.Grant.UserID, err)
		}
	}
	for _, g := range p.Grants {
		if err := tx.GrantRole(ctx, g.Grant); err != nil {
			return fmt.Errorf("dircsv: users line %d: grant %s to %s: %w", g.Line, formatGrant(g.Grant), g.Grant.UserID, err)
		}
	}
	for _, c := range p.RemoveUsers {
		if err := tx.DeleteUser(ctx, c.Before.ID); err != nil {
			return fmt.Errorf("dircsv: remove user %s: %w", c.Before.EmployeeCode, err)
		}
	}
	for _, c := range p.RemoveDepartments {
		if err := tx.DeleteDepartment(ctx, c.Before.ID); err != nil {
			return fmt.Errorf("dircsv: remove department %s: %w", c.Before.ID, err)
		}
	}
	return nil
}
