package anpi

import (
	"slices"
)

// Role is an administrative role. Each role includes the rights of the ones
// before it: a CrisisManager may do what a Manager may, a SystemAdmin what a
// CrisisManager may.
type Role string

// The roles.
const (
	// Manager (マネージャー) views tallies and contact status.
	Manager Role = "manager"
	// CrisisManager (危機管理責任者) also starts sends and edits auto-send rules.
	CrisisManager Role = "crisis_manager"
	// SystemAdmin (システム管理者) also manages users, departments, roles and settings.
	SystemAdmin Role = "system_admin"
)

// rank orders the roles; 0 means unknown.
func (r Role) rank() int {
	switch r {
	case Manager:
		return 1
	case CrisisManager:
		return 2
	case SystemAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// RoleGrant gives a user a role, company-wide (Department empty) or over one
// department's subtree (部門〇〇): 3 roles × 2 scopes = 6 kinds of grant.
type RoleGrant struct {
	UserID     UserID       `json:"userId"`
	Role       Role         `json:"role"`
	Department DepartmentID `json:"department,omitempty"`
}

// CompanyWide reports whether the grant covers the whole company.
func (g RoleGrant) CompanyWide() bool { return g.Department == "" }

// Validate checks the grant's fields.
func (g RoleGrant) Validate() error {
	if err := checkID("role grant: user id", string(g.UserID)); err != nil {
		return err
	}
	if !g.Role.Valid() {
		return Errorf(InvalidArgument, "anpi: role grant for %s: unknown role %q", g.UserID, g.Role)
	}
	return nil
}

// Action is an administrative action checked by Authorize.
type Action string

// The actions and the least role each needs (see Authorize for the rest).
const (
	ViewTallies       Action = "view_tallies"        // Manager
	ViewContactStatus Action = "view_contact_status" // Manager
	ExportData        Action = "export_data"         // Manager
	StartSend         Action = "start_send"          // CrisisManager; Manager when Settings.ManagersMaySend
	EditRules         Action = "edit_rules"          // CrisisManager, company-wide target
	ManageUsers       Action = "manage_users"        // SystemAdmin
	ManageDepartments Action = "manage_departments"  // SystemAdmin
	ManageRoles       Action = "manage_roles"        // SystemAdmin; SystemAdmin grants need a company-wide SystemAdmin
	ManageSettings    Action = "manage_settings"     // SystemAdmin, company-wide target
	CreateBoard       Action = "create_board"        // any administrator role
	CreateMessage     Action = "create_message"      // any active user or administrators only, per Settings.MessageCreators
	EditOwnContacts   Action = "edit_own_contacts"   // the user himself
	EditOwnRegions    Action = "edit_own_regions"    // the user himself, when Settings.UsersMayEditRegions
)

// leastRole is the role an action needs, before settings and scope; ok is
// false for actions not decided by role alone.
func leastRole(a Action) (r Role, ok bool) {
	switch a {
	case ViewTallies, ViewContactStatus, ExportData, CreateBoard:
		return Manager, true
	case StartSend, EditRules:
		return CrisisManager, true
	case ManageUsers, ManageDepartments, ManageRoles, ManageSettings:
		return SystemAdmin, true
	}
	return "", false
}

// Who may create group messages.
const (
	AdministratorsOnly = "administrators" // users holding any role
	Everyone           = "everyone"       // every active user
)

// Settings are the company-wide switches that change permissions.
type Settings struct {
	// MessageCreators is AdministratorsOnly (the default when empty) or Everyone.
	MessageCreators string `json:"messageCreators,omitempty"`
	// ManagersMaySend lets Managers start manual sends, as CrisisManagers do.
	ManagersMaySend bool `json:"managersMaySend,omitempty"`
	// UsersMayEditRegions lets users add and remove their own regions.
	UsersMayEditRegions bool `json:"usersMayEditRegions,omitempty"`
}

// Validate checks the settings.
func (s *Settings) Validate() error {
	if s.MessageCreators != "" && s.MessageCreators != AdministratorsOnly && s.MessageCreators != Everyone {
		return Errorf(InvalidArgument, "anpi: settings: messageCreators %q: want %q or %q", s.MessageCreators, AdministratorsOnly, Everyone)
	}
	return nil
}

// Actor is who asks to do something: an active or suspended user and the
// roles granted to him.
type Actor struct {
	User   *User
	Grants []RoleGrant
}

// Target is what an action applies to. Build it with TargetCompany,
// TargetDepartments, TargetUser or TargetGrant.
type Target struct {
	company     bool
	departments []DepartmentID
	anyOf       bool // covered when any department is (a user in several departments)
	user        UserID
	grantRole   Role
}

// TargetCompany is a company-wide object: settings, rules, roles granted
// company-wide, a send to everyone.
func TargetCompany() Target { return Target{company: true} }

// TargetDepartments is a set of departments, each of which must be within the
// actor's scope (a send to these departments, a department to edit). An
// empty set means the whole company.
func TargetDepartments(ids ...DepartmentID) Target {
	if len(ids) == 0 {
		return TargetCompany()
	}
	return Target{departments: slices.Clone(ids)}
}

// TargetUser is one user, within the actor's scope when any of the user's
// departments is. A user in no department needs a company-wide grant.
func TargetUser(u *User) Target {
	if len(u.Departments) == 0 {
		return Target{company: true, user: u.ID}
	}
	return Target{departments: slices.Clone(u.Departments), anyOf: true, user: u.ID}
}

// TargetGrant is a role grant being given or taken away: the grant's scope,
// and the role it grants (a SystemAdmin grant needs a company-wide
// SystemAdmin).
func TargetGrant(g RoleGrant) Target {
	t := TargetDepartments(g.Department)
	if g.CompanyWide() {
		t = TargetCompany()
	}
	t.grantRole = g.Role
	return t
}

// Authorizer answers "may actor A do action X on target T". It needs the
// department tree for scoped grants and the settings. The zero Settings are
// the strictest.
type Authorizer struct {
	Tree     *DepartmentTree
	Settings Settings
}

// Authorize returns nil when the actor may perform the action on the target,
// and a PermissionDenied error saying why not otherwise. Suspended users may
// do nothing. Self-service actions (EditOwnContacts, EditOwnRegions) need the
// target to be the actor himself; EditOwnRegions also needs
// Settings.UsersMayEditRegions (administrators who may manage the user can
// always edit his regions with ManageUsers).
func (a *Authorizer) Authorize(actor Actor, action Action, target Target) error {
	if actor.User == nil {
		return Errorf(PermissionDenied, "anpi: %s: no actor", action)
	}
	if actor.User.Status != Active {
		return Errorf(PermissionDenied, "anpi: %s: user %s is suspended", action, actor.User.ID)
	}
	switch action {
	case EditOwnContacts, EditOwnRegions:
		if target.user != actor.User.ID {
			return Errorf(PermissionDenied, "anpi: %s: user %s may only change his own", action, actor.User.ID)
		}
		if action == EditOwnRegions && !a.Settings.UsersMayEditRegions {
			return Errorf(PermissionDenied, "anpi: %s: the settings do not let users edit their regions", action)
		}
		return nil
	case CreateMessage:
		if a.Settings.MessageCreators == Everyone {
			return nil
		}
		if len(actor.Grants) == 0 {
			return Errorf(PermissionDenied, "anpi: %s: user %s holds no administrator role", action, actor.User.ID)
		}
		return nil
	}
	need, ok := leastRole(action)
	if !ok {
		return Errorf(InvalidArgument, "anpi: authorize: unknown action %q", action)
	}
	if action == StartSend && a.Settings.ManagersMaySend {
		need = Manager
	}
	if (action == EditRules || action == ManageSettings) && !target.company {
		target = TargetCompany() // these objects are company-wide whatever the caller passed
	}
	if action == ManageRoles && target.grantRole == SystemAdmin {
		target = TargetCompany()
	}
	if a.covered(actor, need, target) {
		return nil
	}
	return Errorf(PermissionDenied, "anpi: %s: user %s lacks %s rights over %s", action, actor.User.ID, need, target.describe())
}

// covered reports whether some grant of at least role need covers target.
func (a *Authorizer) covered(actor Actor, need Role, t Target) bool {
	var scopes []DepartmentID
	for _, g := range actor.Grants {
		if g.UserID != actor.User.ID || g.Role.rank() < need.rank() {
			continue
		}
		if g.CompanyWide() {
			return true
		}
		scopes = append(scopes, g.Department)
	}
	if t.company || len(scopes) == 0 || a.Tree == nil {
		return false
	}
	inScope := func(d DepartmentID) bool {
		return slices.ContainsFunc(scopes, func(root DepartmentID) bool { return a.Tree.Within(d, root) })
	}
	if t.anyOf {
		return slices.ContainsFunc(t.departments, inScope)
	}
	for _, d := range t.departments {
		if !inScope(d) {
			return false
		}
	}
	return true
}

func (t Target) describe() string {
	switch {
	case t.user != "":
		return "user " + string(t.user)
	case t.company:
		return "the company"
	}
	s := "departments"
	for _, d := range t.departments {
		s += " " + string(d)
	}
	return s
}
