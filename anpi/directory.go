package anpi

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// UserID identifies a user. It is chosen by the caller (often the HR system's
// key) and never reused.
type UserID string

// DepartmentID identifies a department (部署).
type DepartmentID string

// Locale is the language a user reads messages and pages in.
type Locale string

// The supported locales.
const (
	Japanese Locale = "ja"
	English  Locale = "en"
)

// Valid reports whether l is a supported locale.
func (l Locale) Valid() bool { return l == Japanese || l == English }

// UserStatus says whether a user receives sends.
type UserStatus string

// The user statuses. People on leave are suspended; leavers are deleted.
const (
	Active    UserStatus = "active"
	Suspended UserStatus = "suspended"
)

// Valid reports whether s is a known status.
func (s UserStatus) Valid() bool { return s == Active || s == Suspended }

// RegionKind says which JMA code system a Region code belongs to.
type RegionKind string

// The region kinds, each with its own code length.
const (
	// QuakeArea is an earthquake 細分区域 (3 digits, e.g. 350 東京都２３区).
	QuakeArea RegionKind = "quake"
	// TsunamiRegion is a 津波予報区 (3 digits, e.g. 300).
	TsunamiRegion RegionKind = "tsunami"
	// WarningArea is a weather-warning 市町村等 (7 digits, e.g. 1310100).
	WarningArea RegionKind = "warning"
)

// codeLen is the number of digits of each kind's codes.
func (k RegionKind) codeLen() int {
	switch k {
	case QuakeArea, TsunamiRegion:
		return 3
	case WarningArea:
		return 7
	}
	return 0
}

// Region is a JMA area a user belongs to (所属地域): a kind and a code. Codes
// are strings because leading zeros matter. Codes missing from today's JMA
// tables are accepted: the tables drift.
type Region struct {
	Kind RegionKind `json:"kind"`
	Code string     `json:"code"`
}

// String returns the canonical form "kind:code", e.g. "quake:350".
func (r Region) String() string { return string(r.Kind) + ":" + r.Code }

// Validate checks the kind and that the code has the kind's number of digits.
func (r Region) Validate() error {
	n := r.Kind.codeLen()
	if n == 0 {
		return Errorf(InvalidArgument, "anpi: region %q: unknown kind %q (want quake, tsunami or warning)", r.String(), r.Kind)
	}
	if len(r.Code) != n || strings.Trim(r.Code, "0123456789") != "" {
		return Errorf(InvalidArgument, "anpi: region %q: %s code must be %d digits", r.String(), r.Kind, n)
	}
	return nil
}

// regionKindAliases maps the prefixes ParseRegion accepts to kinds.
var regionKindAliases = map[string]RegionKind{
	"quake": QuakeArea, "地震": QuakeArea,
	"tsunami": TsunamiRegion, "津波": TsunamiRegion,
	"warning": WarningArea, "警報": WarningArea, "気象": WarningArea,
}

// ParseRegion parses "kind:code" ("quake:350", "tsunami:300",
// "warning:1310100"; the Japanese prefixes 地震, 津波 and 警報 are accepted too).
// A bare 7-digit code is a WarningArea; a bare 3-digit code is ambiguous and
// refused.
func ParseRegion(s string) (Region, error) {
	s = strings.TrimSpace(s)
	kind, code, ok := strings.Cut(s, ":")
	if !ok {
		kind, code, ok = strings.Cut(s, "：") // full-width colon from Japanese spreadsheets
	}
	if !ok {
		if len(s) == 7 {
			r := Region{Kind: WarningArea, Code: s}
			return r, r.Validate()
		}
		return Region{}, Errorf(InvalidArgument, "anpi: region %q: want kind:code, e.g. quake:350", s)
	}
	k, known := regionKindAliases[strings.ToLower(strings.TrimSpace(kind))]
	if !known {
		return Region{}, Errorf(InvalidArgument, "anpi: region %q: unknown kind %q (want quake, tsunami or warning)", s, kind)
	}
	r := Region{Kind: k, Code: strings.TrimSpace(code)}
	return r, r.Validate()
}

// User is a person in the directory. Everything here is administrator data:
// the private contacts a user registers himself are Contacts, kept apart.
type User struct {
	ID           UserID `json:"id"`
	EmployeeCode string `json:"employeeCode"` // unique, the key of CSV imports
	Name         string `json:"name"`
	NameKana     string `json:"nameKana,omitempty"`
	// WorkEmail is the company address set by administrators; it is not
	// private and administrators may see it.
	WorkEmail   string         `json:"workEmail,omitempty"`
	Departments []DepartmentID `json:"departments,omitempty"`
	// Groups and Title are the targeting keys of the legacy mail service
	// (連絡グループ, 役職).
	Groups    []string   `json:"groups,omitempty"`
	Title     string     `json:"title,omitempty"`
	Regions   []Region   `json:"regions,omitempty"`
	Status    UserStatus `json:"status"`
	Locale    Locale     `json:"locale"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// Field limits of a User.
const (
	MaxNameLen  = 100 // characters of Name and NameKana
	MaxCodeLen  = 64  // bytes of IDs and EmployeeCode
	MaxRegions  = 32  // regions per user
	MaxGroups   = 32  // groups per user
	MaxUserDept = 32  // departments per user
)

// Validate checks every field of u and names the first one that is wrong.
// It does not check that departments exist: stores do that.
func (u *User) Validate() error {
	if err := checkID("user id", string(u.ID)); err != nil {
		return err
	}
	if err := checkID("user "+string(u.ID)+": employee code", u.EmployeeCode); err != nil {
		return err
	}
	if strings.TrimSpace(u.Name) == "" {
		return Errorf(InvalidArgument, "anpi: user %s: name is required", u.ID)
	}
	if utf8.RuneCountInString(u.Name) > MaxNameLen || utf8.RuneCountInString(u.NameKana) > MaxNameLen {
		return Errorf(InvalidArgument, "anpi: user %s: name longer than %d characters", u.ID, MaxNameLen)
	}
	if u.WorkEmail != "" {
		if err := checkEmail(u.WorkEmail); err != nil {
			return Errorf(InvalidArgument, "anpi: user %s: work email: %w", u.ID, err)
		}
	}
	if !u.Status.Valid() {
		return Errorf(InvalidArgument, "anpi: user %s: unknown status %q (want active or suspended)", u.ID, u.Status)
	}
	if !u.Locale.Valid() {
		return Errorf(InvalidArgument, "anpi: user %s: unknown locale %q (want ja or en)", u.ID, u.Locale)
	}
	if len(u.Departments) > MaxUserDept || len(u.Groups) > MaxGroups || len(u.Regions) > MaxRegions {
		return Errorf(InvalidArgument, "anpi: user %s: too many departments, groups or regions", u.ID)
	}
	for i, d := range u.Departments {
		if d == "" {
			return Errorf(InvalidArgument, "anpi: user %s: department %d is empty", u.ID, i+1)
		}
		if slices.Contains(u.Departments[:i], d) {
			return Errorf(InvalidArgument, "anpi: user %s: department %s listed twice", u.ID, d)
		}
	}
	for i, r := range u.Regions {
		if err := r.Validate(); err != nil {
			return Errorf(InvalidArgument, "anpi: user %s: %w", u.ID, err)
		}
		if slices.Contains(u.Regions[:i], r) {
			return Errorf(InvalidArgument, "anpi: user %s: region %s listed twice", u.ID, r)
		}
	}
	return nil
}

// Clone returns a deep copy of u.
func (u *User) Clone() *User {
	c := *u
	c.Departments = slices.Clone(u.Departments)
	c.Groups = slices.Clone(u.Groups)
	c.Regions = slices.Clone(u.Regions)
	return &c
}

// InDepartment reports whether u belongs directly to department d.
func (u *User) InDepartment(d DepartmentID) bool { return slices.Contains(u.Departments, d) }

// checkID validates an identifier: non-empty, printable, no surrounding
// spaces, at most MaxCodeLen bytes.
func checkID(what, id string) error {
	switch {
	case id == "":
		return Errorf(InvalidArgument, "anpi: %s is required", what)
	case len(id) > MaxCodeLen:
		return Errorf(InvalidArgument, "anpi: %s %q is longer than %d bytes", what, id, MaxCodeLen)
	case strings.TrimSpace(id) != id || strings.ContainsAny(id, "\x00\r\n\t"):
		return Errorf(InvalidArgument, "anpi: %s %q has spaces or control characters", what, id)
	case !utf8.ValidString(id):
		return Errorf(InvalidArgument, "anpi: %s is not valid UTF-8", what)
	}
	return nil
}

// checkEmail accepts a bare address (no display name) such as a@example.jp.
func checkEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fmt.Errorf("%q is not an email address", s)
	}
	return nil
}

// Department is a node of the department tree (部署). ParentID is empty for a
// top-level department. The tree has unlimited depth.
type Department struct {
	ID       DepartmentID `json:"id"`
	Name     string       `json:"name"`
	ParentID DepartmentID `json:"parentId,omitempty"`
	// Order sorts siblings for display; ties sort by ID.
	Order int `json:"order,omitempty"`
}

// Validate checks the department's own fields (not its place in a tree).
func (d *Department) Validate() error {
	if err := checkID("department id", string(d.ID)); err != nil {
		return err
	}
	if strings.TrimSpace(d.Name) == "" {
		return Errorf(InvalidArgument, "anpi: department %s: name is required", d.ID)
	}
	if utf8.RuneCountInString(d.Name) > MaxNameLen {
		return Errorf(InvalidArgument, "anpi: department %s: name longer than %d characters", d.ID, MaxNameLen)
	}
	if d.ParentID == d.ID {
		return Errorf(InvalidArgument, "anpi: department %s: is its own parent", d.ID)
	}
	return nil
}

// DepartmentTree is an immutable, validated view of the departments that
// answers tree questions (ancestors, descendants, subtree membership). Build
// one with NewDepartmentTree; it is safe for concurrent use.
type DepartmentTree struct {
	byID     map[DepartmentID]*Department
	children map[DepartmentID][]DepartmentID // "" holds the top level
}

// NewDepartmentTree validates ds (unique IDs, existing parents, no cycles) and
// builds the tree. The departments are copied.
func NewDepartmentTree(ds []*Department) (*DepartmentTree, error) {
	t := &DepartmentTree{byID: make(map[DepartmentID]*Department, len(ds)), children: map[DepartmentID][]DepartmentID{}}
	for _, d := range ds {
		if err := d.Validate(); err != nil {
			return nil, err
		}
		if _, dup := t.byID[d.ID]; dup {
			return nil, Errorf(AlreadyExists, "anpi: department %s: listed twice", d.ID)
		}
		c := *d
		t.byID[d.ID] = &c
	}
	for _, d := range t.byID {
		if d.ParentID != "" {
			if _, ok := t.byID[d.ParentID]; !ok {
				return nil, Errorf(NotFound, "anpi: department %s: parent %s does not exist", d.ID, d.ParentID)
			}
		}
		t.children[d.ParentID] = append(t.children[d.ParentID], d.ID)
	}
	for p := range t.children {
		t.sortSiblings(t.children[p])
	}
	// Every department must be reachable from the top level; the rest sit on cycles.
	if n := len(t.walk("", nil)); n != len(t.byID) {
		for id := range t.byID {
			if t.Depth(id) < 0 {
				return nil, Errorf(InvalidArgument, "anpi: department %s: its parents form a cycle", id)
			}
		}
	}
	return t, nil
}

func (t *DepartmentTree) sortSiblings(ids []DepartmentID) {
	slices.SortFunc(ids, func(a, b DepartmentID) int {
		da, db := t.byID[a], t.byID[b]
		if da.Order != db.Order {
			return da.Order - db.Order
		}
		return strings.Compare(string(a), string(b))
	})
}

// walk appends the descendants of id (excluding id) in depth-first,
// sibling-ordered sequence.
func (t *DepartmentTree) walk(id DepartmentID, out []DepartmentID) []DepartmentID {
	for _, c := range t.children[id] {
		out = append(out, c)
		out = t.walk(c, out)
	}
	return out
}

// Len returns the number of departments.
func (t *DepartmentTree) Len() int { return len(t.byID) }

// Get returns a copy of the department, or nil when it does not exist.
func (t *DepartmentTree) Get(id DepartmentID) *Department {
	d, ok := t.byID[id]
	if !ok {
		return nil
	}
	c := *d
	return &c
}

// Has reports whether the department exists.
func (t *DepartmentTree) Has(id DepartmentID) bool { _, ok := t.byID[id]; return ok }

// All returns every department, parents before children, siblings in order.
func (t *DepartmentTree) All() []*Department {
	ids := t.walk("", nil)
	out := make([]*Department, len(ids))
	for i, id := range ids {
		out[i] = t.Get(id)
	}
	return out
}

// Children returns the direct children of id ("" for the top level).
func (t *DepartmentTree) Children(id DepartmentID) []DepartmentID {
	return slices.Clone(t.children[id])
}

// Ancestors returns the parents of id, nearest first, ending at the top level.
func (t *DepartmentTree) Ancestors(id DepartmentID) []DepartmentID {
	var out []DepartmentID
	for d := t.byID[id]; d != nil && d.ParentID != ""; d = t.byID[d.ParentID] {
		out = append(out, d.ParentID)
		if len(out) > len(t.byID) { // impossible in a validated tree; guards misuse
			break
		}
	}
	return out
}

// Descendants returns every department below id (not id itself), depth
// first, siblings in order.
func (t *DepartmentTree) Descendants(id DepartmentID) []DepartmentID { return t.walk(id, nil) }

// Depth returns 0 for a top-level department, 1 for its children and so on;
// -1 for an unknown department or one on a cycle.
func (t *DepartmentTree) Depth(id DepartmentID) int {
	d, ok := t.byID[id]
	for n := 0; ok; n++ {
		if d.ParentID == "" {
			return n
		}
		if n > len(t.byID) {
			return -1
		}
		d, ok = t.byID[d.ParentID]
	}
	return -1
}

// Within reports whether id is root or one of root's descendants.
func (t *DepartmentTree) Within(id, root DepartmentID) bool {
	if _, ok := t.byID[id]; !ok {
		return false
	}
	return id == root || slices.Contains(t.Ancestors(id), root)
}

// Scope returns the departments a member of ds counts toward in a subtree
// roll-up: ds and all their ancestors, each once, sorted. Unknown
// departments are kept (a tally must not lose a recipient).
func (t *DepartmentTree) Scope(ds []DepartmentID) []DepartmentID {
	var out []DepartmentID
	for _, d := range ds {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
		for _, a := range t.Ancestors(d) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.Sort(out)
	return out
}

// CheckMove reports whether department id may move under newParent ("" for
// the top level): both must exist and newParent must not lie in id's subtree.
func (t *DepartmentTree) CheckMove(id, newParent DepartmentID) error {
	if !t.Has(id) {
		return Errorf(NotFound, "anpi: department %s does not exist", id)
	}
	if newParent == "" {
		return nil
	}
	if !t.Has(newParent) {
		return Errorf(NotFound, "anpi: move department %s: parent %s does not exist", id, newParent)
	}
	if t.Within(newParent, id) {
		return Errorf(InvalidArgument, "anpi: move department %s under %s: a department cannot move into its own subtree", id, newParent)
	}
	return nil
}
