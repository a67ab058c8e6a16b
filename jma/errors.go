package jma

import "errors"

// MaxDocumentSize is the largest document Parse, Summarize and ParseFeed
// accept (16 MiB). The largest real documents are about 0.5 MB (VXSE53) and
// 4 MB (long feeds).
const MaxDocumentSize = 16 << 20

// Sentinel errors, matched with errors.Is. They are never reassigned.
var (
	// ErrTooLarge: the input exceeds MaxDocumentSize.
	ErrTooLarge = errors.New("document too large")
	// ErrSyntax: the input is not well-formed XML.
	ErrSyntax = errors.New("malformed xml")
	// ErrNotReport: the root element is not a JMA Report (or, for ParseFeed, not an Atom feed).
	ErrNotReport = errors.New("unexpected root element")
	// ErrInvalidValue: an element has a value outside its domain (e.g. MaxInt "8").
	ErrInvalidValue = errors.New("invalid value")
)

// ParseError describes why a document could not be parsed: which data type,
// which element path, and what was wrong. It unwraps to one of the sentinel
// errors (or to the underlying encoding/xml error).
type ParseError struct {
	Type string // data type code when known, e.g. "VXSE53"
	Path string // element path, e.g. "Body/Intensity"
	Msg  string // what was wrong, e.g. `unknown MaxInt "8"`
	Err  error  // sentinel or cause
}

// Error formats the error as "jma: parse VXSE53: Body/Intensity: unknown MaxInt \"8\"".
func (e *ParseError) Error() string {
	s := "jma: parse"
	if e.Type != "" {
		s += " " + e.Type
	}
	if e.Path != "" {
		s += ": " + e.Path
	}
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return s + ": " + msg
}

// Unwrap returns the sentinel or underlying error.
func (e *ParseError) Unwrap() error { return e.Err }
