package dircsv

import (
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/anpikit/anpi/anpi"
)

// listSep separates the items of the departments, groups and roles cells.
const listSep = "|"

// UserRecord is one row of a users file, parsed and checked on its own
// (checks against the directory happen when planning).
type UserRecord struct {
	// Line is the row's line in the file (the header is line 1).
	Line int
	// User holds the row's values. ID is empty when the file gives none
	// (an existing user keeps his; a new one gets the employee code);
	// Status and Locale are empty when the cell is blank (an existing user
	// keeps his; a new one is Active and Japanese). Fields whose column the
	// file lacks are zero and are left alone by an import.
	User anpi.User
	// Roles are the grants of the roles cell, UserID left empty.
	Roles []anpi.RoleGrant
}

// UsersFile is a parsed users file.
type UsersFile struct {
	// Columns are the canonical names of the file's columns, in export
	// order (see the package documentation).
	Columns []string
	Records []UserRecord

	has   []bool   // by user column index
	names []string // by user column index: the header as written
}

// Has reports whether the file has the column with canonical name col
// ("work_email", "roles", …).
func (u *UsersFile) Has(col string) bool { return slices.Contains(u.Columns, col) }

// ParseUsers reads and checks a users file: encoding, header and every row
// on its own (duplicate employee codes and IDs, names, email, regions,
// status, locale, roles; never a SystemAdmin grant). It does not look at a
// directory: unknown departments are found by PlanImport. Problems come back
// together as an *ImportError inside an anpi.InvalidArgument error.
func ParseUsers(r io.Reader, opts *Options) (*UsersFile, error) {
	errs := newErrList(opts)
	u, err := parseUsers(r, opts, errs)
	if err != nil {
		return nil, err
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return u, nil
}

func parseUsers(r io.Reader, opts *Options, errs *errList) (*UsersFile, error) {
	text, err := readText(r, fileUsers, opts, errs)
	if err != nil || text == nil {
		return nil, err
	}
	rows := strings.Count(*text, "\n") // about the number of rows
	out := &UsersFile{Records: make([]UserRecord, 0, rows)}
	codes := make(map[string]int, rows)
	ids := map[anpi.UserID]int{}
	t := readTable(*text, fileUsers, userColumns(), errs, func(t *table, line int, cells []string) {
		rec, ok := parseUserRow(t, line, cells, errs)
		if code := rec.User.EmployeeCode; code != "" {
			if prev, dup := codes[code]; dup {
				errs.addf(fileUsers, line, t.name(uEmployeeCode), "duplicate %s (also on line %d)", code, prev)
				ok = false
			} else {
				codes[code] = line
			}
		}
		if id := rec.User.ID; id != "" {
			if prev, dup := ids[id]; dup {
				errs.addf(fileUsers, line, t.name(uID), "duplicate %s (also on line %d)", id, prev)
				ok = false
			} else {
				ids[id] = line
			}
		}
		if ok {
			out.Records = append(out.Records, rec)
		}
	})
	if t == nil {
		return nil, nil
	}
	out.has = make([]bool, numUserColumns)
	out.names = make([]string, numUserColumns)
	for i, c := range userColumns() {
		out.names[i] = t.name(i)
		if t.has(i) {
			out.has[i] = true
			out.Columns = append(out.Columns, c.name)
		}
	}
	return out, nil
}

// readText reads and decodes a whole file. A decoding problem goes to errs
// and the text is nil; a read error is returned.
func readText(r io.Reader, file string, opts *Options, errs *errList) (*string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("dircsv: read %s file: %w", file, err)
	}
	text, err := decode(data, opts.orDefault().Encoding)
	if err != nil {
		errs.add(file, 0, "", err)
		return nil, nil
	}
	return &text, nil
}

// parseUserRow parses the cells of one row. ok is false when a problem was
// added to errs. t is the file's header.
func parseUserRow(t *table, line int, cells []string, errs *errList) (rec UserRecord, ok bool) {
	ok = true
	fail := func(col int, format string, args ...any) {
		errs.addf(fileUsers, line, t.name(col), format, args...)
		ok = false
	}
	rec.Line = line
	u := &rec.User

	u.EmployeeCode = strings.TrimSpace(cells[uEmployeeCode])
	if err := checkCode(u.EmployeeCode); err != nil {
		fail(uEmployeeCode, "%v", err)
	}
	if v := strings.TrimSpace(cells[uID]); v != "" {
		if err := checkCode(v); err != nil {
			fail(uID, "%v", err)
		}
		u.ID = anpi.UserID(v)
	}
	u.Name = cells[uName]
	if strings.TrimSpace(u.Name) == "" {
		fail(uName, "is required")
	} else if n := utf8.RuneCountInString(u.Name); n > anpi.MaxNameLen {
		fail(uName, "%d characters, more than %d", n, anpi.MaxNameLen)
	}
	u.NameKana = cells[uNameKana]
	if n := utf8.RuneCountInString(u.NameKana); n > anpi.MaxNameLen {
		fail(uNameKana, "%d characters, more than %d", n, anpi.MaxNameLen)
	}
	u.WorkEmail = strings.TrimSpace(cells[uWorkEmail])
	if u.WorkEmail != "" {
		if a, err := mail.ParseAddress(u.WorkEmail); err != nil || a.Address != u.WorkEmail || a.Name != "" {
			fail(uWorkEmail, "%q is not an email address", u.WorkEmail)
		}
	}
	for _, d := range splitList(cells[uDepartments]) {
		if err := checkCode(d); err != nil {
			fail(uDepartments, "department %v", err)
			continue
		}
		if slices.Contains(u.Departments, anpi.DepartmentID(d)) {
			fail(uDepartments, "department %s listed twice", d)
			continue
		}
		u.Departments = append(u.Departments, anpi.DepartmentID(d))
	}
	if len(u.Departments) > anpi.MaxUserDept {
		fail(uDepartments, "%d departments, more than %d", len(u.Departments), anpi.MaxUserDept)
	}
	u.Groups = splitList(cells[uGroups])
	if len(u.Groups) > anpi.MaxGroups {
		fail(uGroups, "%d groups, more than %d", len(u.Groups), anpi.MaxGroups)
	}
	u.Title = cells[uTitle]
	for _, s := range strings.FieldsFunc(cells[uRegions], func(r rune) bool { return r == '|' || isSpace(r) }) {
		reg, err := anpi.ParseRegion(s)
		if err != nil {
			fail(uRegions, "%v", strings.TrimPrefix(err.Error(), "anpi: "))
			continue
		}
		if slices.Contains(u.Regions, reg) {
			fail(uRegions, "region %s listed twice", reg)
			continue
		}
		u.Regions = append(u.Regions, reg)
	}
	if len(u.Regions) > anpi.MaxRegions {
		fail(uRegions, "%d regions, more than %d", len(u.Regions), anpi.MaxRegions)
	}
	if v := strings.TrimSpace(cells[uStatus]); v != "" {
		s, known := parseStatus(v)
		if !known {
			fail(uStatus, "unknown status %q (want active, suspended, 有効 or 停止)", v)
		}
		u.Status = s
	}
	if v := strings.TrimSpace(cells[uLocale]); v != "" {
		l, known := parseLocale(v)
		if !known {
			fail(uLocale, "unknown locale %q (want ja or en)", v)
		}
		u.Locale = l
	}
	for _, s := range splitList(cells[uRoles]) {
		g, err := parseGrant(s)
		if err != nil {
			fail(uRoles, "%v", err)
			continue
		}
		if slices.Contains(rec.Roles, g) {
			fail(uRoles, "%s listed twice", s)
			continue
		}
		rec.Roles = append(rec.Roles, g)
	}
	if ok {
		// The model's own check, as a backstop for what the cells missed.
		v := u.Clone()
		if v.ID == "" {
			v.ID = anpi.UserID(v.EmployeeCode)
		}
		if v.Status == "" {
			v.Status = anpi.Active
		}
		if v.Locale == "" {
			v.Locale = anpi.Japanese
		}
		if err := v.Validate(); err != nil {
			errs.add(fileUsers, line, "", err)
			ok = false
		}
	}
	return rec, ok
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\u3000' || r == '\r' || r == '\n' }

// splitList splits a cell at listSep, trimming spaces and dropping empty
// items; nil for a blank cell.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []string
	for _, item := range strings.Split(s, listSep) {
		if item = strings.TrimFunc(item, isSpace); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// checkCode checks an ID or employee code as anpi does: not empty, at most
// anpi.MaxCodeLen bytes, no surrounding spaces or control characters.
func checkCode(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is required")
	case len(s) > anpi.MaxCodeLen:
		return fmt.Errorf("%q is longer than %d bytes", s, anpi.MaxCodeLen)
	case strings.TrimSpace(s) != s || strings.ContainsAny(s, "\x00\r\n\t"):
		return fmt.Errorf("%q has spaces or control characters", s)
	}
	return nil
}

func parseStatus(s string) (anpi.UserStatus, bool) {
	switch strings.ToLower(s) {
	case "active", "有効":
		return anpi.Active, true
	case "suspended", "停止":
		return anpi.Suspended, true
	}
	return "", false
}

func parseLocale(s string) (anpi.Locale, bool) {
	switch strings.ToLower(s) {
	case "ja", "日本語":
		return anpi.Japanese, true
	case "en", "英語", "english":
		return anpi.English, true
	}
	return "", false
}

// parseGrant parses "manager", "crisis_manager@D001", "マネージャー@D001", …
func parseGrant(s string) (anpi.RoleGrant, error) {
	name, dept, scoped := strings.Cut(s, "@")
	name = strings.TrimSpace(name)
	var g anpi.RoleGrant
	switch strings.ToLower(strings.NewReplacer(" ", "_", "-", "_").Replace(name)) {
	case "manager", "マネージャー":
		g.Role = anpi.Manager
	case "crisis_manager", "危機管理責任者":
		g.Role = anpi.CrisisManager
	case "system_admin", "システム管理者":
		return g, fmt.Errorf("%s: system administrators cannot be granted by CSV", s)
	default:
		return g, fmt.Errorf("unknown role %q (want manager, crisis_manager, マネージャー or 危機管理責任者, optionally @department)", name)
	}
	if scoped {
		dept = strings.TrimSpace(dept)
		if err := checkCode(dept); err != nil {
			return g, fmt.Errorf("%s: department %v", s, err)
		}
		g.Department = anpi.DepartmentID(dept)
	}
	return g, nil
}

// formatGrant is the inverse of parseGrant.
func formatGrant(g anpi.RoleGrant) string {
	if g.Department == "" {
		return string(g.Role)
	}
	return string(g.Role) + "@" + string(g.Department)
}
