package dircsv

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/anpikit/anpi/anpi"
)

// DepartmentRecord is one row of a departments file.
type DepartmentRecord struct {
	// Line is the row's line in the file (the header is line 1).
	Line int
	// Department holds the row's values; fields whose column the file
	// lacks are zero and are left alone by an import.
	Department anpi.Department
}

// DepartmentsFile is a parsed departments file.
type DepartmentsFile struct {
	// Columns are the canonical names of the file's columns.
	Columns []string
	Records []DepartmentRecord

	has   []bool   // by department column index
	names []string // by department column index: the header as written
}

// Has reports whether the file has the column with canonical name col
// ("parent", "order", …).
func (d *DepartmentsFile) Has(col string) bool { return slices.Contains(d.Columns, col) }

// ParseDepartments reads and checks a departments file: encoding, header
// and every row on its own (IDs, duplicates, names, order). Parents and
// cycles are checked by PlanImport, against the directory.
func ParseDepartments(r io.Reader, opts *Options) (*DepartmentsFile, error) {
	errs := newErrList(opts)
	d, err := parseDepartments(r, opts, errs)
	if err != nil {
		return nil, err
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return d, nil
}

func parseDepartments(r io.Reader, opts *Options, errs *errList) (*DepartmentsFile, error) {
	text, err := readText(r, fileDepartments, opts, errs)
	if err != nil || text == nil {
		return nil, err
	}
	out := &DepartmentsFile{}
	ids := map[anpi.DepartmentID]int{}
	t := readTable(*text, fileDepartments, departmentColumns(), errs, func(t *table, line int, cells []string) {
		ok := true
		fail := func(col int, format string, args ...any) {
			errs.addf(fileDepartments, line, t.name(col), format, args...)
			ok = false
		}
		rec := DepartmentRecord{Line: line}
		d := &rec.Department
		d.ID = anpi.DepartmentID(strings.TrimSpace(cells[dID]))
		if err := checkCode(string(d.ID)); err != nil {
			fail(dID, "%v", err)
		} else if prev, dup := ids[d.ID]; dup {
			fail(dID, "duplicate %s (also on line %d)", d.ID, prev)
		} else {
			ids[d.ID] = line
		}
		d.Name = cells[dName]
		if strings.TrimSpace(d.Name) == "" {
			fail(dName, "is required")
		} else if n := utf8.RuneCountInString(d.Name); n > anpi.MaxNameLen {
			fail(dName, "%d characters, more than %d", n, anpi.MaxNameLen)
		}
		if p := strings.TrimSpace(cells[dParent]); p != "" {
			if err := checkCode(p); err != nil {
				fail(dParent, "%v", err)
			} else if p == string(d.ID) {
				fail(dParent, "department %s cannot be its own parent", d.ID)
			}
			d.ParentID = anpi.DepartmentID(p)
		}
		if v := strings.TrimSpace(cells[dOrder]); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				fail(dOrder, "%q is not a whole number", v)
			}
			d.Order = n
		}
		if ok {
			if err := d.Validate(); err != nil { // backstop
				errs.add(fileDepartments, line, "", err)
				ok = false
			}
		}
		if ok {
			out.Records = append(out.Records, rec)
		}
	})
	if t == nil {
		return nil, nil
	}
	out.has = make([]bool, numDepartmentColumns)
	out.names = make([]string, numDepartmentColumns)
	for i, c := range departmentColumns() {
		out.names[i] = t.name(i)
		if t.has(i) {
			out.has[i] = true
			out.Columns = append(out.Columns, c.name)
		}
	}
	return out, nil
}
