package dircsv

import (
	"fmt"
	"strings"

	"github.com/anpikit/anpi/anpi"
)

// The names of the files in RowError.File.
const (
	fileUsers       = "users"
	fileDepartments = "departments"
)

// DefaultMaxErrors is how many row errors an import collects before it
// stops reading, unless Options.MaxErrors says otherwise.
const DefaultMaxErrors = 100

// RowError is one problem in an imported file: which file, which line
// (1 is the header; 0 when the problem is not on one line, such as a
// department a Sync import cannot remove) and which column (as written in
// the file's header; empty when the problem is not in one cell).
type RowError struct {
	File   string // "users" or "departments"
	Line   int
	Column string
	Err    error
}

// Error returns "users: line 5: employee_code: duplicate E0001 (also on line 3)".
func (e *RowError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Column != "" {
		b.WriteString(e.Column)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *RowError) Unwrap() error { return e.Err }

// ImportError is every problem found in the files of an import, in file and
// line order. An import that finds any changes nothing. Functions of this
// package return it wrapped in an *anpi.Error with code
// anpi.InvalidArgument; get it back with errors.As.
type ImportError struct {
	Rows []RowError
	// More counts the problems left out after the cap (Options.MaxErrors).
	More int
}

// Error lists every row error, one per line.
func (e *ImportError) Error() string {
	var b strings.Builder
	n := len(e.Rows) + e.More
	if n == 1 {
		b.WriteString("dircsv: 1 error:")
	} else {
		fmt.Fprintf(&b, "dircsv: %d errors:", n)
	}
	for i := range e.Rows {
		b.WriteString("\n")
		b.WriteString(e.Rows[i].Error())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n… and %d more", e.More)
	}
	return b.String()
}

// errList collects row errors up to a cap.
type errList struct {
	max  int
	rows []RowError
	more int
}

func newErrList(opts *Options) *errList {
	return &errList{max: opts.maxErrors()}
}

func (l *errList) add(file string, line int, column string, err error) {
	if len(l.rows) >= l.max {
		l.more++
		return
	}
	l.rows = append(l.rows, RowError{File: file, Line: line, Column: column, Err: err})
}

func (l *errList) addf(file string, line int, column string, format string, args ...any) {
	l.add(file, line, column, fmt.Errorf(format, args...))
}

// full reports whether the cap is reached, so readers can stop early.
func (l *errList) full() bool { return len(l.rows) >= l.max }

func (l *errList) empty() bool { return len(l.rows) == 0 && l.more == 0 }

// err returns nil or the collected errors as an InvalidArgument *anpi.Error
// wrapping an *ImportError.
func (l *errList) err() error {
	if l.empty() {
		return nil
	}
	return anpi.Errorf(anpi.InvalidArgument, "%w", &ImportError{Rows: l.rows, More: l.more})
}
