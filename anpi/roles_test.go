package anpi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func actor(id UserID, grants ...RoleGrant) Actor {
	for i := range grants {
		grants[i].UserID = id
	}
	return Actor{User: &User{ID: id, EmployeeCode: string(id), Name: string(id), Status: Active, Locale: Japanese}, Grants: grants}
}

func TestAuthorizeMatrix(t *testing.T) {
	tree := testTree(t)
	a := &Authorizer{Tree: tree}
	salesUser := &User{ID: "s1", Departments: []DepartmentID{"tokyo"}, Status: Active}
	devUser := &User{ID: "d1", Departments: []DepartmentID{"dev"}, Status: Active}
	bothUser := &User{ID: "b1", Departments: []DepartmentID{"dev", "osaka"}, Status: Active}
	noDeptUser := &User{ID: "n1", Status: Active}

	nobody := actor("nobody")
	mgrAll := actor("mgrAll", RoleGrant{Role: Manager})
	mgrSales := actor("mgrSales", RoleGrant{Role: Manager, Department: "sales"})
	cmAll := actor("cmAll", RoleGrant{Role: CrisisManager})
	cmSales := actor("cmSales", RoleGrant{Role: CrisisManager, Department: "sales"})
	saAll := actor("saAll", RoleGrant{Role: SystemAdmin})
	saSales := actor("saSales", RoleGrant{Role: SystemAdmin, Department: "sales"})

	type row struct {
		name   string
		actor  Actor
		action Action
		target Target
		ok     bool
	}
	rows := []row{
		// Viewing: managers and above, within scope.
		{"nobody views", nobody, ViewTallies, TargetDepartments("sales"), false},
		{"company manager views sales", mgrAll, ViewTallies, TargetDepartments("sales"), true},
		{"sales manager views tokyo", mgrSales, ViewTallies, TargetDepartments("tokyo"), true},
		{"sales manager views dev", mgrSales, ViewTallies, TargetDepartments("dev"), false},
		{"sales manager views sales+dev", mgrSales, ViewTallies, TargetDepartments("sales", "dev"), false},
		{"sales manager views company", mgrSales, ViewTallies, TargetCompany(), false},
		{"sales manager sees sales user's contacts", mgrSales, ViewContactStatus, TargetUser(salesUser), true},
		{"sales manager sees dev user's contacts", mgrSales, ViewContactStatus, TargetUser(devUser), false},
		{"sales manager sees user in dev and osaka", mgrSales, ViewContactStatus, TargetUser(bothUser), true},
		{"sales manager sees user without department", mgrSales, ViewContactStatus, TargetUser(noDeptUser), false},
		{"company manager sees user without department", mgrAll, ViewContactStatus, TargetUser(noDeptUser), true},
		{"crisis manager views (higher role)", cmSales, ViewTallies, TargetDepartments("osaka"), true},
		// Sends: crisis managers, within scope.
		{"manager sends", mgrAll, StartSend, TargetDepartments("sales"), false},
		{"company crisis manager sends to all", cmAll, StartSend, TargetCompany(), true},
		{"sales crisis manager sends to sales", cmSales, StartSend, TargetDepartments("sales"), true},
		{"sales crisis manager sends to dev", cmSales, StartSend, TargetDepartments("dev"), false},
		{"sales crisis manager sends to all", cmSales, StartSend, TargetCompany(), false},
		{"system admin sends", saSales, StartSend, TargetDepartments("tokyo"), true},
		// Rules are company-wide objects.
		{"company crisis manager edits rules", cmAll, EditRules, TargetCompany(), true},
		{"sales crisis manager edits rules", cmSales, EditRules, TargetDepartments("sales"), false},
		{"manager edits rules", mgrAll, EditRules, TargetCompany(), false},
		// Directory management: system admins, within scope.
		{"crisis manager manages users", cmAll, ManageUsers, TargetUser(salesUser), false},
		{"sales admin manages sales user", saSales, ManageUsers, TargetUser(salesUser), true},
		{"sales admin manages dev user", saSales, ManageUsers, TargetUser(devUser), false},
		{"sales admin manages tokyo dept", saSales, ManageDepartments, TargetDepartments("tokyo"), true},
		{"sales admin manages hq dept", saSales, ManageDepartments, TargetDepartments("hq"), false},
		{"sales admin manages settings", saSales, ManageSettings, TargetDepartments("sales"), false},
		{"company admin manages settings", saAll, ManageSettings, TargetCompany(), true},
		// Roles: a scoped admin grants scoped roles below him; system admin grants need company-wide.
		{"sales admin grants tokyo manager", saSales, ManageRoles, TargetGrant(RoleGrant{Role: Manager, Department: "tokyo"}), true},
		{"sales admin grants dev manager", saSales, ManageRoles, TargetGrant(RoleGrant{Role: Manager, Department: "dev"}), false},
		{"sales admin grants company manager", saSales, ManageRoles, TargetGrant(RoleGrant{Role: Manager}), false},
		{"sales admin grants tokyo system admin", saSales, ManageRoles, TargetGrant(RoleGrant{Role: SystemAdmin, Department: "tokyo"}), false},
		{"company admin grants system admin", saAll, ManageRoles, TargetGrant(RoleGrant{Role: SystemAdmin}), true},
		// Boards and messages.
		{"nobody creates a board", nobody, CreateBoard, TargetCompany(), false},
		{"scoped manager creates a board in sales", mgrSales, CreateBoard, TargetDepartments("sales"), true},
		{"nobody writes a message (administrators only)", nobody, CreateMessage, TargetCompany(), false},
		{"manager writes a message", mgrSales, CreateMessage, TargetCompany(), true},
		// Self service.
		{"user edits own contacts", actor("s1"), EditOwnContacts, TargetUser(salesUser), true},
		{"user edits another's contacts", actor("s1"), EditOwnContacts, TargetUser(devUser), false},
		{"admin edits another's contacts", saAll, EditOwnContacts, TargetUser(devUser), false},
		{"user edits own regions (setting off)", actor("s1"), EditOwnRegions, TargetUser(salesUser), false},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			err := a.Authorize(r.actor, r.action, r.target)
			if r.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				require.Equal(t, PermissionDenied, Code(err), err.Error())
			}
		})
	}
}

func TestAuthorizeSettings(t *testing.T) {
	tree := testTree(t)
	salesUser := &User{ID: "s1", Departments: []DepartmentID{"tokyo"}, Status: Active}
	strict := &Authorizer{Tree: tree}
	open := &Authorizer{Tree: tree, Settings: Settings{MessageCreators: Everyone, ManagersMaySend: true, UsersMayEditRegions: true}}
	mgr := actor("m", RoleGrant{Role: Manager, Department: "sales"})
	plain := actor("s1")

	require.Error(t, strict.Authorize(mgr, StartSend, TargetDepartments("tokyo")))
	require.NoError(t, open.Authorize(mgr, StartSend, TargetDepartments("tokyo")))
	require.Error(t, open.Authorize(mgr, StartSend, TargetDepartments("dev")), "the setting widens the role, not the scope")
	require.Error(t, strict.Authorize(plain, CreateMessage, TargetCompany()))
	require.NoError(t, open.Authorize(plain, CreateMessage, TargetCompany()))
	require.NoError(t, open.Authorize(plain, EditOwnRegions, TargetUser(salesUser)))
}

func TestAuthorizeRefusals(t *testing.T) {
	a := &Authorizer{Tree: testTree(t)}
	sa := actor("sa", RoleGrant{Role: SystemAdmin})
	sa.User.Status = Suspended
	err := a.Authorize(sa, ManageSettings, TargetCompany())
	require.ErrorContains(t, err, "suspended")
	require.Equal(t, PermissionDenied, Code(a.Authorize(Actor{}, ViewTallies, TargetCompany())))
	require.Equal(t, InvalidArgument, Code(a.Authorize(actor("x", RoleGrant{Role: SystemAdmin}), "fly", TargetCompany())))
	// A grant that belongs to someone else does not count.
	stolen := actor("x")
	stolen.Grants = []RoleGrant{{UserID: "sa", Role: SystemAdmin}}
	require.Error(t, a.Authorize(stolen, ManageSettings, TargetCompany()))
	// A scoped grant without a tree grants nothing.
	noTree := &Authorizer{}
	require.Error(t, noTree.Authorize(actor("m", RoleGrant{Role: Manager, Department: "sales"}), ViewTallies, TargetDepartments("sales")))
}

func TestSettingsAndGrantValidate(t *testing.T) {
	require.NoError(t, (&Settings{}).Validate())
	require.ErrorContains(t, (&Settings{MessageCreators: "cats"}).Validate(), "messageCreators")
	require.NoError(t, RoleGrant{UserID: "u", Role: Manager, Department: "d"}.Validate())
	require.ErrorContains(t, RoleGrant{UserID: "u", Role: "king"}.Validate(), `unknown role "king"`)
}
