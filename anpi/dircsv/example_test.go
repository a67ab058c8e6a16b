package dircsv_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dircsv"
	"github.com/anpikit/anpi/store/memstore"
)

// A dry run of a small Japanese users file against a directory that has
// the departments: nothing is written, the plan says what Import would do.
func ExampleDryRun() {
	ctx := context.Background()
	st := memstore.New(nil)
	defer st.Close()
	_ = st.CreateDepartment(ctx, &anpi.Department{ID: "D1", Name: "本社"})
	_ = st.CreateDepartment(ctx, &anpi.Department{ID: "D2", Name: "営業部", ParentID: "D1"})
	_ = st.CreateUser(ctx, &anpi.User{ID: "E0001", EmployeeCode: "E0001", Name: "山田 太郎",
		Departments: []anpi.DepartmentID{"D1"}, Status: anpi.Active, Locale: anpi.Japanese})

	const users = "社員番号,氏名,フリガナ,部署,役職,所属地域,権限\n" +
		"E0001,山田 太郎,ヤマダ タロウ,D2,部長,地震:350,マネージャー@D2\n" +
		"E0002,佐藤 花子,サトウ ハナコ,D2,,quake:350 warning:1310100,\n"
	p, err := dircsv.DryRun(ctx, st, dircsv.Files{Users: strings.NewReader(users)}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p)
	// Output:
	// users: 1 to add, 1 to change, 0 to remove, 0 unchanged; role grants: 1 to add, 0 to remove
	// + user E0002 佐藤 花子
	// ~ user E0001 山田 太郎: name_kana, departments, title, regions
	// + grant manager@D2 to E0001
}

// A file with mistakes: every problem is reported with its line and
// column, and nothing is imported.
func ExampleImport_errors() {
	ctx := context.Background()
	st := memstore.New(nil)
	defer st.Close()

	const users = "employee_code,name,work_email,regions,roles\n" +
		"E0001,山田 太郎,taro@example.jp,quake:350,system_admin\n" +
		"E0002,佐藤 花子,hanako.example.jp,quake:35,\n" +
		"E0001,鈴木 一郎,,,\n"
	_, err := dircsv.Import(ctx, st, dircsv.Files{Users: strings.NewReader(users)}, nil)
	fmt.Println(anpi.Code(err))
	fmt.Println(err)
	n, _ := st.CountUsers(ctx)
	fmt.Println("users:", n)
	// Output:
	// InvalidArgument
	// dircsv: 4 errors:
	// users: line 2: roles: system_admin: system administrators cannot be granted by CSV
	// users: line 3: work_email: "hanako.example.jp" is not an email address
	// users: line 3: regions: region "quake:35": quake code must be 3 digits
	// users: line 4: employee_code: duplicate E0001 (also on line 2)
	// users: 0
}

// Exporting with Japanese headers: cells that a spreadsheet would take for
// a formula get a leading single quote.
func ExampleExportUsers() {
	ctx := context.Background()
	st := memstore.New(nil)
	defer st.Close()
	_ = st.CreateUser(ctx, &anpi.User{ID: "E0001", EmployeeCode: "E0001", Name: "山田 太郎", Title: "-部長",
		Groups: []string{"=SUM(A1)", "災害対策本部"}, Status: anpi.Active, Locale: anpi.Japanese})
	_ = st.GrantRole(ctx, anpi.RoleGrant{UserID: "E0001", Role: anpi.CrisisManager})

	var b strings.Builder
	if err := dircsv.ExportUsers(ctx, st, &b, &dircsv.Options{JapaneseHeaders: true, NoBOM: true}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(b.String())
	// Output:
	// 社員番号,ユーザーID,氏名,フリガナ,メールアドレス,部署,連絡グループ,役職,所属地域,状態,言語,権限
	// E0001,E0001,山田 太郎,,,,'=SUM(A1)|災害対策本部,'-部長,,active,ja,crisis_manager
}
