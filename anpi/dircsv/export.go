package dircsv

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/internal/csvcell"
)

// ExportUsers writes every user of the directory tx sees as a users file
// with all columns, ordered by employee code. The roles column holds every
// role grant except SystemAdmin grants, which CSV cannot carry (they are
// left out; an import never removes them). Exporting fails, writing
// nothing, when a value cannot be written so that it reads back the same:
// a character Shift_JIS lacks (with Encoding ShiftJIS), or a group that
// contains "|" or starts or ends with a space.
func ExportUsers(ctx context.Context, tx anpi.Tx, w io.Writer, opts *Options) error {
	opts = opts.orDefault()
	users, err := tx.ListUsers(ctx, &anpi.UserQuery{})
	if err != nil {
		return fmt.Errorf("dircsv: export users: %w", err)
	}
	grants, err := tx.RoleGrants(ctx, "")
	if err != nil {
		return fmt.Errorf("dircsv: export users: %w", err)
	}
	byUser := map[anpi.UserID][]string{}
	for _, g := range grants {
		if g.Role != anpi.SystemAdmin {
			byUser[g.UserID] = append(byUser[g.UserID], formatGrant(g))
		}
	}
	slices.SortFunc(users, func(a, b *anpi.User) int { return strings.Compare(a.EmployeeCode, b.EmployeeCode) })
	cols := userColumns()
	rows := make([][]string, 0, len(users))
	for i, u := range users {
		for _, g := range u.Groups {
			if g == "" || strings.Contains(g, listSep) || strings.TrimFunc(g, isSpace) != g {
				return anpi.Errorf(anpi.InvalidArgument, "dircsv: export users: line %d (employee %s): %s: group %q cannot be written: it is empty, contains %q or starts or ends with a space",
					i+2, u.EmployeeCode, cols[uGroups].header(opts.JapaneseHeaders), g, listSep)
			}
		}
		for _, d := range u.Departments {
			if strings.Contains(string(d), listSep) {
				return anpi.Errorf(anpi.InvalidArgument, "dircsv: export users: line %d (employee %s): %s: department id %q contains %q",
					i+2, u.EmployeeCode, cols[uDepartments].header(opts.JapaneseHeaders), d, listSep)
			}
		}
		roles := byUser[u.ID]
		slices.Sort(roles)
		regions := make([]string, len(u.Regions))
		for j, r := range u.Regions {
			regions[j] = r.String()
		}
		depts := make([]string, len(u.Departments))
		for j, d := range u.Departments {
			depts[j] = string(d)
		}
		row := make([]string, numUserColumns)
		row[uEmployeeCode] = u.EmployeeCode
		row[uID] = string(u.ID)
		row[uName] = u.Name
		row[uNameKana] = u.NameKana
		row[uWorkEmail] = u.WorkEmail
		row[uDepartments] = strings.Join(depts, listSep)
		row[uGroups] = strings.Join(u.Groups, listSep)
		row[uTitle] = u.Title
		row[uRegions] = strings.Join(regions, " ")
		row[uStatus] = string(u.Status)
		row[uLocale] = string(u.Locale)
		row[uRoles] = strings.Join(roles, listSep)
		rows = append(rows, row)
	}
	return writeFile(w, fileUsers, cols, rows, func(i int) string { return "employee " + rows[i][uEmployeeCode] }, opts)
}

// ExportDepartments writes every department of the directory tx sees as a
// departments file, parents before children and siblings in display order.
func ExportDepartments(ctx context.Context, tx anpi.Tx, w io.Writer, opts *Options) error {
	opts = opts.orDefault()
	tree, err := tx.Departments(ctx)
	if err != nil {
		return fmt.Errorf("dircsv: export departments: %w", err)
	}
	var rows [][]string
	for _, d := range tree.All() {
		row := make([]string, numDepartmentColumns)
		row[dID] = string(d.ID)
		row[dName] = d.Name
		row[dParent] = string(d.ParentID)
		row[dOrder] = strconv.Itoa(d.Order)
		rows = append(rows, row)
	}
	return writeFile(w, fileDepartments, departmentColumns(), rows, func(i int) string { return "department " + rows[i][dID] }, opts)
}

// writeFile escapes the cells, checks that they survive the encoding, and
// writes the header and rows in the encoding opts asks for. what names a
// row in errors.
func writeFile(w io.Writer, file string, cols []column, rows [][]string, what func(i int) string, opts *Options) error {
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.header(opts.JapaneseHeaders)
	}
	if opts.Encoding != Auto && opts.Encoding != UTF8 && opts.Encoding != ShiftJIS {
		return anpi.Errorf(anpi.InvalidArgument, "dircsv: export %s: unknown encoding %d", file, int(opts.Encoding))
	}
	sjis := opts.Encoding == ShiftJIS
	var buf bytes.Buffer
	if !sjis && !opts.NoBOM {
		buf.WriteString(utf8BOM)
	}
	cw := csv.NewWriter(&buf)
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("dircsv: export %s: %w", file, err)
	}
	for i, row := range rows {
		for j, v := range row {
			if sjis {
				if r, bad := shiftJISBad(v); bad {
					return anpi.Errorf(anpi.InvalidArgument, "dircsv: export %s: line %d (%s): %s: %q cannot be written in Shift_JIS (in %q)",
						file, i+2, what(i), header[j], r, v)
				}
			}
			row[j] = csvcell.Escape(v)
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("dircsv: export %s: %w", file, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("dircsv: export %s: %w", file, err)
	}
	out := buf.Bytes()
	if sjis {
		var err error
		if out, err = encodeShiftJIS(out); err != nil {
			return anpi.Errorf(anpi.InvalidArgument, "dircsv: export %s: Shift_JIS: %w", file, err)
		}
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("dircsv: export %s: %w", file, err)
	}
	return nil
}
