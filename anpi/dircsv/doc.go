// Package dircsv imports and exports the directory (users, departments and
// role grants) as CSV files, the way HR systems and Excel in Japan produce
// them.
//
// # Importing
//
// An import reads a departments file, a users file, or both (Files), and
// works in two steps: PlanImport computes a Plan (what would be added,
// changed and removed) against the directory a transaction sees, and
// Plan.Apply performs it. DryRun plans in a transaction of its own and
// changes nothing; Import plans and applies in one transaction, so an
// import is all or nothing: one bad row, or one failing write, and the
// directory stays as it was.
//
// Users are keyed by employee code. The default Mode, Upsert, adds and
// changes what the files list and removes nothing. Sync also removes the
// users absent from the users file (but never a user holding a
// SystemAdmin grant: he is kept and listed in Plan.KeptUsers) and the
// departments absent from the departments file (only when, after the
// import, no user belongs to them and no role grant is scoped to them;
// otherwise the import fails). Departments are applied first, so the users
// file may refer to departments the same import adds.
//
// A column the file lacks leaves that field alone (new users get the zero
// value); a blank cell clears the field, except blank status and locale
// cells, which keep the user's (new users are active and Japanese), and a
// blank id cell (an existing user keeps his ID; a new user's ID is his
// employee code; IDs never change). The roles column, when present, makes
// each listed user's grants exactly the listed ones, except SystemAdmin
// grants, which an import never adds or removes: any system_admin value is
// an error ("system administrators cannot be granted by CSV").
//
// # Errors
//
// Every problem of the files is reported at once, up to Options.MaxErrors
// (100 by default), as an *ImportError of RowErrors naming the file, the
// line and the column as the file's header spells it:
//
//	dircsv: 2 errors:
//	users: line 5: employee_code: duplicate E0001 (also on line 3)
//	users: line 7: 所属地域: region "quake:35": quake code must be 3 digits
//
// The error returned is an *anpi.Error with code anpi.InvalidArgument that
// wraps the *ImportError (get it with errors.As). Files are checked on
// their own (encoding, header, every cell, duplicates, the model's
// validation) and then against the directory (unknown departments, IDs
// that belong to someone else, department cycles, departments a Sync
// import cannot remove).
//
// # Encodings
//
// Imports detect the encoding (Options.Encoding Auto): a UTF-8 byte order
// mark means UTF-8; else valid UTF-8 is UTF-8; else the file is read as
// Shift_JIS (Windows-31J, as Excel writes "CSV" in Japan). A file that is
// neither fails with the offset and line of the first bad byte; a file
// that is valid EUC-JP without a byte only Shift_JIS uses, and UTF-16, are
// refused with a message saying so; control characters other than tab, CR
// and LF are refused. Set Encoding to UTF8 or ShiftJIS to skip detection.
//
// Exports write UTF-8 with a byte order mark (Options.NoBOM leaves it
// out), or Shift_JIS with Encoding ShiftJIS; a character Shift_JIS cannot
// carry exactly (𠮷, emoji, ¥ which would come back as a backslash) fails
// the export with the line, the employee or department, and the column.
// Exports write English headers, or Japanese ones with
// Options.JapaneseHeaders; cell values (status, roles) are always written
// in English, and read in either language.
//
// # CSV injection
//
// A cell that starts with =, +, -, @, a tab or a CR could be taken for a
// formula by a spreadsheet, so exports prefix it with a single quote.
// Imports remove one leading quote from a cell when what follows, after
// any further quotes, starts with one of those characters. So an export
// reads back exactly, and a cell typed by hand with a quote reads as meant:
//
//	value      exported as   read back as
//	-部長      '-部長        -部長
//	=SUM(A1)   '=SUM(A1)     =SUM(A1)
//	'=x        ''=x          '=x
//	'abc       'abc          'abc
//
// # Users file columns
//
// Headers are matched after Unicode NFKC folding, ignoring case, with
// spaces and hyphens read as underscores. Unknown and duplicate columns
// are errors; a column with an empty header must be empty.
//
//	English        Japanese        also accepted             content
//	employee_code  社員番号        社員コード, 従業員番号    required; the key of the import
//	id             ユーザーID      user_id                   optional; default: the employee code
//	name           氏名            名前                      required
//	name_kana      フリガナ        kana, ふりがな, カナ
//	work_email     メールアドレス  email, 会社メールアドレス a bare address, taro@example.jp
//	departments    部署            department, 部署ID        department IDs separated by |
//	groups         連絡グループ    group                     contact groups separated by |
//	title          役職
//	regions        所属地域        region                    kind:code separated by spaces (or |):
//	                                                         quake:350 tsunami:300 warning:1310100
//	                                                         (地震:, 津波:, 警報: too; see anpi.ParseRegion)
//	status         状態            ステータス                active or suspended (有効, 停止)
//	locale         言語            language                  ja or en (日本語, 英語)
//	roles          権限            role                      grants separated by |: manager,
//	                                                         crisis_manager (マネージャー, 危機管理責任者),
//	                                                         each company-wide or @department:
//	                                                         crisis_manager@D001
//
// Items of | lists are trimmed of spaces and empty items are ignored; a
// group that contains | or starts or ends with a space cannot be exported.
// Exports write every column, users ordered by employee code, and leave
// SystemAdmin grants out of the roles column (CSV cannot grant them, and
// an import never removes them).
//
// # Departments file columns
//
//	English  Japanese  also accepted    content
//	id       部署ID    department_id    required
//	name     部署名    department_name  required
//	parent   親部署ID  parent_id        the parent's ID; blank for a top-level department
//	order    表示順    sort_order       a whole number sorting siblings (blank: 0)
//
// Rows may come in any order; parents are created before their children
// and moves are applied so that the tree stays valid at every step.
// Exports write the tree parents first, siblings in display order.
package dircsv
