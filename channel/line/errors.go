package line

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anpikit/anpi/channel"
)

// StatusError is the HTTP answer of a failed API call: the status code, the
// Retry-After header and the body LINE returned (a JSON object with a
// message and details). Classified errors wrap it; reach it with errors.As.
type StatusError struct {
	StatusCode int    // the HTTP status
	RetryAfter string // the raw header, if any
	RequestID  string // X-Line-Request-Id
	Err        error  // the SDK's error, with the body
}

// Error returns the SDK's message ("unexpected status code: 400, {...}").
func (e *StatusError) Error() string { return e.Err.Error() }

// Unwrap returns the SDK's error.
func (e *StatusError) Unwrap() error { return e.Err }

// classify maps a failed call to a *channel.Error:
//
//   - 400 (an invalid user ID or request), 413 and other 4xx: Permanent;
//   - 401, 403: Misconfigured (the token is wrong or lacks the permission);
//   - 404: Unregistered (the user is not reachable by this channel);
//   - 429: RateLimited, with Retry-After when LINE sends one (it also
//     answers 429 when the monthly message quota is spent);
//   - 408, 5xx: Temporary;
//   - transport errors: Temporary (Misconfigured for TLS and certificate
//     errors and host names that do not resolve); a done context,
//     Temporary.
func classify(ctx context.Context, what string, res *http.Response, err error) error {
	if res == nil {
		if ctx.Err() != nil {
			return &channel.Error{Code: channel.Temporary, Msg: what + ": " + err.Error(), Err: err}
		}
		code := channel.Temporary
		if misconfigured(err) {
			code = channel.Misconfigured
		}
		return &channel.Error{Code: code, Msg: what + ": " + err.Error(), Err: err}
	}
	se := &StatusError{StatusCode: res.StatusCode, RetryAfter: res.Header.Get("Retry-After"),
		RequestID: res.Header.Get("X-Line-Request-Id"), Err: err}
	msg := fmt.Sprintf("%s: %s", what, err)
	var code channel.ErrorCode
	switch s := res.StatusCode; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		code = channel.Misconfigured
	case s == http.StatusNotFound:
		code = channel.Unregistered
	case s == http.StatusTooManyRequests:
		code = channel.RateLimited
	case s == http.StatusRequestTimeout || s >= 500:
		code = channel.Temporary
	default:
		code = channel.Permanent
	}
	e := &channel.Error{Code: code, Msg: msg, Err: se}
	if code == channel.RateLimited {
		if d, ok := retryAfter(se.RetryAfter, time.Now()); ok {
			e.RetryAfter = d
		}
	}
	return e
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(h); err == nil {
		if n <= 0 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now), true
	}
	return 0, false
}

// misconfigured reports transport errors no retry will cure.
func misconfigured(err error) bool {
	var (
		certErr   *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		recErr    tls.RecordHeaderError
		dnsErr    *net.DNSError
	)
	return errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) ||
		errors.As(err, &recErr) || (errors.As(err, &dnsErr) && dnsErr.IsNotFound)
}
