package anpi

import (
	"context"
	"errors"
	"fmt"
)

// ErrorCode classifies an error returned by this package, by a Store or by
// the engine, so callers can react without matching message text.
type ErrorCode int

// The error codes. The zero value OK is returned by Code(nil) only.
const (
	// OK means no error.
	OK ErrorCode = iota
	// NotFound: the named object does not exist.
	NotFound
	// AlreadyExists: an object with the same identity already exists.
	AlreadyExists
	// InvalidArgument: the input is malformed; the message names the field.
	InvalidArgument
	// PermissionDenied: the actor may not perform the action on the target.
	PermissionDenied
	// FailedPrecondition: the input is well-formed but the current state
	// forbids the operation (a lease that expired, a department with members).
	FailedPrecondition
	// Unavailable: a transient condition (cancelled context, busy database);
	// retrying later may succeed.
	Unavailable
	// Internal: a bug or an unclassified failure.
	Internal
)

var codeNames = [...]string{
	OK:                 "OK",
	NotFound:           "NotFound",
	AlreadyExists:      "AlreadyExists",
	InvalidArgument:    "InvalidArgument",
	PermissionDenied:   "PermissionDenied",
	FailedPrecondition: "FailedPrecondition",
	Unavailable:        "Unavailable",
	Internal:           "Internal",
}

// String returns the code's name, such as "NotFound".
func (c ErrorCode) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("ErrorCode(%d)", int(c))
}

// Error is an error carrying an ErrorCode. Wrap it freely with %w: Code
// finds it through any chain.
type Error struct {
	Code ErrorCode
	Msg  string // the complete message, cause included
	Err  error  // the underlying cause, if any, for errors.Is and errors.As
}

// Error returns the message, or the cause's message when Msg is empty.
func (e *Error) Error() string {
	if e.Msg == "" && e.Err != nil {
		return e.Err.Error()
	}
	return e.Msg
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message. A %w
// verb in format keeps the wrapped error reachable through errors.Is/As.
func Errorf(code ErrorCode, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// Code classifies err. It returns OK for nil, the code of the first *Error in
// the chain, Unavailable for context cancellation and deadlines, and Internal
// for anything else.
func Code(err error) ErrorCode {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Unavailable
	}
	return Internal
}
