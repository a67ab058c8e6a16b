package dircsv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/anpikit/anpi/internal/csvcell"
)

// column describes one column a file may have.
type column struct {
	name     string   // canonical English header, written by exports
	ja       string   // Japanese header, written by exports with JapaneseHeaders
	aliases  []string // further accepted headers
	required bool
}

// header returns the name an export writes.
func (c column) header(japanese bool) string {
	if japanese {
		return c.ja
	}
	return c.name
}

// Indexes into userColumns.
const (
	uEmployeeCode = iota
	uID
	uName
	uNameKana
	uWorkEmail
	uDepartments
	uGroups
	uTitle
	uRegions
	uStatus
	uLocale
	uRoles
	numUserColumns
)

// userColumns returns the columns of a users file, in export order.
func userColumns() []column {
	return []column{
		uEmployeeCode: {name: "employee_code", ja: "社員番号", aliases: []string{"社員コード", "従業員番号"}, required: true},
		uID:           {name: "id", ja: "ユーザーID", aliases: []string{"user_id"}},
		uName:         {name: "name", ja: "氏名", aliases: []string{"名前"}, required: true},
		uNameKana:     {name: "name_kana", ja: "フリガナ", aliases: []string{"kana", "ふりがな", "カナ"}},
		uWorkEmail:    {name: "work_email", ja: "メールアドレス", aliases: []string{"email", "会社メールアドレス"}},
		uDepartments:  {name: "departments", ja: "部署", aliases: []string{"department", "部署ID"}},
		uGroups:       {name: "groups", ja: "連絡グループ", aliases: []string{"group"}},
		uTitle:        {name: "title", ja: "役職"},
		uRegions:      {name: "regions", ja: "所属地域", aliases: []string{"region"}},
		uStatus:       {name: "status", ja: "状態", aliases: []string{"ステータス"}},
		uLocale:       {name: "locale", ja: "言語", aliases: []string{"language"}},
		uRoles:        {name: "roles", ja: "権限", aliases: []string{"role"}},
	}
}

// Indexes into departmentColumns.
const (
	dID = iota
	dName
	dParent
	dOrder
	numDepartmentColumns
)

// departmentColumns returns the columns of a departments file, in export
// order.
func departmentColumns() []column {
	return []column{
		dID:     {name: "id", ja: "部署ID", aliases: []string{"department_id"}, required: true},
		dName:   {name: "name", ja: "部署名", aliases: []string{"department_name"}, required: true},
		dParent: {name: "parent", ja: "親部署ID", aliases: []string{"parent_id"}},
		dOrder:  {name: "order", ja: "表示順", aliases: []string{"sort_order"}},
	}
}

// normHeader folds a header for matching: NFKC (full-width letters to
// ASCII, half-width katakana to full-width), lower case, spaces and hyphens
// to underscores.
func normHeader(s string) string {
	s = strings.ToLower(strings.TrimSpace(norm.NFKC.String(s)))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(s)
}

// table is the header of a file mapped to its columns.
type table struct {
	file   string
	cols   []column
	pos    []int    // column → index in a record, -1 when absent
	header []string // index in a record → header text as written
	blank  []bool   // index in a record → header is empty
}

// has reports whether the file has column c.
func (t *table) has(c int) bool { return t.pos[c] >= 0 }

// name returns column c's header as written in the file.
func (t *table) name(c int) string {
	if t.pos[c] >= 0 {
		return t.header[t.pos[c]]
	}
	return t.cols[c].name
}

// parseHeader maps the header record, on line line, to columns. Unknown,
// duplicate and missing required columns are errors.
func parseHeader(file string, line int, cols []column, rec []string, errs *errList) *table {
	t := &table{file: file, cols: cols, pos: make([]int, len(cols)), header: make([]string, len(rec)), blank: make([]bool, len(rec))}
	for i := range t.pos {
		t.pos[i] = -1
	}
	lookup := map[string]int{}
	for i, c := range cols {
		lookup[normHeader(c.name)] = i
		lookup[normHeader(c.ja)] = i
		for _, a := range c.aliases {
			lookup[normHeader(a)] = i
		}
	}
	var unknown []string
	for i, h := range rec {
		t.header[i] = h
		n := normHeader(h)
		if n == "" {
			t.blank[i] = true
			continue
		}
		c, ok := lookup[n]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q", h))
			continue
		}
		if p := t.pos[c]; p >= 0 {
			errs.addf(file, line, h, "duplicate column: %q and %q are both %s", rec[p], h, cols[c].name)
			continue
		}
		t.pos[c] = i
	}
	if len(unknown) > 0 {
		var known []string
		for _, c := range cols {
			known = append(known, c.name+"/"+c.ja)
		}
		errs.addf(file, line, "", "unknown columns %s (known: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	for i, c := range cols {
		if c.required && t.pos[i] < 0 {
			errs.addf(file, line, "", "missing required column %s (%s)", c.name, c.ja)
		}
	}
	return t
}

// readTable reads CSV text: the header, then each non-blank row, calling
// row with the header, the row's line and its cells indexed by column ("" for absent
// columns), CSV-injection escapes removed. Problems go to errs; it stops
// early when errs is full. It returns nil when the header is unusable.
func readTable(text, file string, cols []column, errs *errList, row func(t *table, line int, cells []string)) *table {
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	rec, err := r.Read()
	if err == io.EOF {
		errs.addf(file, 1, "", "the file is empty: want a header line")
		return nil
	}
	if err != nil {
		addCSVError(errs, file, err)
		return nil
	}
	before := len(errs.rows)
	line, _ := r.FieldPos(0)
	t := parseHeader(file, line, cols, rec, errs)
	if len(errs.rows) > before {
		return nil
	}
	cells := make([]string, len(cols))
	for !errs.full() {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			addCSVError(errs, file, err)
			continue
		}
		line, _ := r.FieldPos(0)
		if allBlank(rec) {
			continue
		}
		if len(rec) != len(t.header) {
			errs.addf(file, line, "", "the row has %d cells, the header %d", len(rec), len(t.header))
			continue
		}
		ok := true
		for i, v := range rec {
			if t.blank[i] && strings.TrimSpace(v) != "" {
				errs.addf(file, line, fmt.Sprintf("column %d", i+1), "the column has no header but the cell holds %q", v)
				ok = false
			}
		}
		if !ok {
			continue
		}
		for c := range cells {
			cells[c] = ""
			if p := t.pos[c]; p >= 0 {
				cells[c] = csvcell.Unescape(rec[p])
			}
		}
		row(t, line, cells)
	}
	return t
}

func addCSVError(errs *errList, file string, err error) {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if pe.StartLine != pe.Line && pe.StartLine > 0 {
			errs.addf(file, pe.StartLine, "", "bad CSV: %v (at line %d, column %d)", pe.Err, pe.Line, pe.Column)
			return
		}
		errs.addf(file, pe.Line, "", "bad CSV at column %d: %v", pe.Column, pe.Err)
		return
	}
	errs.addf(file, 0, "", "bad CSV: %v", err)
}

func allBlank(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}
