package channel

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrorCode classifies a send failure by what the caller should do next.
type ErrorCode int

// The error codes. Code(nil) is OK; an error no adapter classified is Unknown.
const (
	// OK means no error.
	OK ErrorCode = iota
	// Unknown: the error carries no classification. Adapters never return
	// it on purpose (channeltest fails them if they do); callers treat it
	// like Temporary with a small number of attempts.
	Unknown
	// Permanent: this message to this address will never succeed (a
	// malformed address, SMTP 550 5.1.1, LINE 400). Do not retry; show the
	// error on the contact.
	Permanent
	// Unregistered: the address existed but is gone (an expired push
	// token, a LINE user who unfollowed). Stop using this contact.
	Unregistered
	// RateLimited: the provider refused for now because of a rate or a
	// quota. Retry after RetryAfter(err) if it reports one, else back off.
	RateLimited
	// Temporary: a transient failure (5xx, SMTP 4xx, a timeout, a dropped
	// connection, a cancelled context). The message may or may not have
	// been sent: retry with the same idempotency key.
	Temporary
	// Misconfigured: the sender itself is wrong (credentials, TLS, sender
	// address, endpoint). Every message will fail until an operator fixes
	// the configuration: alert, and do not burn through the queue.
	Misconfigured
)

var codeNames = [...]string{
	OK:            "OK",
	Unknown:       "Unknown",
	Permanent:     "Permanent",
	Unregistered:  "Unregistered",
	RateLimited:   "RateLimited",
	Temporary:     "Temporary",
	Misconfigured: "Misconfigured",
}

// String returns the code's name, such as "RateLimited".
func (c ErrorCode) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("ErrorCode(%d)", int(c))
}

// Retryable reports whether sending the same message again later may
// succeed: true for RateLimited, Temporary and Unknown.
func (c ErrorCode) Retryable() bool {
	return c == RateLimited || c == Temporary || c == Unknown
}

// Error is a classified send error. The provider's own error stays reachable
// through errors.Is and errors.As (Unwrap returns it); wrap an *Error with
// %w freely, Code and RetryAfter find it through any chain.
type Error struct {
	Code ErrorCode // what the caller should do next
	// RetryAfter is the wait the provider asked for (HTTP Retry-After), or
	// zero if it said nothing.
	RetryAfter time.Duration
	Msg        string // the complete message, cause included
	Err        error  // the provider's error, if any
}

// Error returns the message, or the cause's message when Msg is empty.
func (e *Error) Error() string {
	if e.Msg == "" && e.Err != nil {
		return e.Err.Error()
	}
	if e.Msg == "" {
		return "channel: " + e.Code.String()
	}
	return e.Msg
}

// Unwrap returns the provider's error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message. A %w
// verb in format keeps the wrapped error reachable through errors.Is/As.
func Errorf(code ErrorCode, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// NewError returns an *Error with the given code wrapping providerErr (which
// may be nil). The message is msg, followed by ": " and providerErr's
// message when there is one.
func NewError(code ErrorCode, providerErr error, msg string) error {
	if providerErr != nil {
		if msg == "" {
			msg = providerErr.Error()
		} else {
			msg += ": " + providerErr.Error()
		}
	}
	return &Error{Code: code, Msg: msg, Err: providerErr}
}

// WithRetryAfter returns err annotated with the wait the provider asked for,
// reported by RetryAfter. The code stays Code(err), except that an
// unclassified error (Unknown) becomes RateLimited. It returns nil for a nil
// err, and err unchanged for d <= 0.
func WithRetryAfter(err error, d time.Duration) error {
	if err == nil || d <= 0 {
		return err
	}
	code := Code(err)
	if code == Unknown {
		code = RateLimited
	}
	return &Error{Code: code, RetryAfter: d, Msg: err.Error(), Err: err}
}

// Code classifies err: OK for nil; the code of the first *Error in its
// chain; Temporary for context.Canceled and context.DeadlineExceeded (the
// message may not have been sent, so the caller may retry it, with the same
// idempotency key); Unknown for anything else.
func Code(err error) ErrorCode {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Temporary
	}
	return Unknown
}

// RetryAfter returns the wait the provider asked for before the next
// attempt, if any *Error in err's chain carries one.
func RetryAfter(err error) (time.Duration, bool) {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return 0, false
		}
		if e.RetryAfter > 0 {
			return e.RetryAfter, true
		}
		err = e.Err
	}
	return 0, false
}
