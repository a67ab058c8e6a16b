package fcm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2"

	"github.com/anpikit/anpi/channel"
)

// Headers the adapter's transport adds to what firebase sees.
const (
	// transportErrorHeader marks an answer the transport made up for a
	// request that got none; its value is the channel.ErrorCode name.
	transportErrorHeader = "X-Anpi-Transport-Error"
	// originalStatusHeader keeps the status of a 503 turned into a 500.
	originalStatusHeader = "X-Anpi-Original-Status"
)

// noRetry keeps the firebase client from retrying. Firebase retries 503
// answers and every network error up to 4 times with exponential backoff
// (seconds), and a channel.Sender must not retry on its own. So noRetry
// turns a 503 into a 500 (keeping its body and Retry-After; the status is
// kept in a header), and a request that got no answer (a refused
// connection, a TLS or token failure) into a made-up 500 whose body carries
// the error and whose header carries its classification. A request whose
// context is done keeps its error: firebase gives up on a done context.
type noRetry struct{ inner http.RoundTripper }

// RoundTrip implements http.RoundTripper.
func (t *noRetry) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.inner.RoundTrip(r)
	if err != nil {
		if r.Context().Err() != nil {
			return nil, err
		}
		return madeUp(r, err), nil
	}
	if res.StatusCode == http.StatusServiceUnavailable {
		res.StatusCode, res.Status = http.StatusInternalServerError, "500 Internal Server Error"
		res.Header.Set(originalStatusHeader, "503")
	}
	return res, nil
}

// madeUp returns the 500 answer noRetry gives firebase for err.
func madeUp(r *http.Request, err error) *http.Response {
	code := transportCode(err)
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"code": http.StatusInternalServerError, "status": "INTERNAL", "message": "no answer: " + err.Error()}})
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(transportErrorHeader, code.String())
	return &http.Response{StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error",
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: r,
		Body: io.NopCloser(strings.NewReader(string(body))), ContentLength: int64(len(body))}
}

// transportCode classifies a request that got no answer: the token
// endpoint refusing the credentials (a 4xx), a certificate that does not
// verify or a host that does not exist is Misconfigured; the rest is
// Temporary.
func transportCode(err error) channel.ErrorCode {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			return channel.Misconfigured
		}
		return channel.Temporary
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		verify           *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &verify) {
		return channel.Misconfigured
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return channel.Misconfigured
	}
	return channel.Temporary
}

// classify turns a per-message firebase error into a *channel.Error:
//
//   - the context done: Temporary;
//   - UNREGISTERED: Unregistered;
//   - INVALID_ARGUMENT, SENDER_ID_MISMATCH (the token belongs to another
//     project) and other 4xx: Permanent;
//   - QUOTA_EXCEEDED and any 429: RateLimited, with Retry-After;
//   - THIRD_PARTY_AUTH_ERROR (the project's APNs key), 401, 403 and 404
//     without UNREGISTERED (a wrong project or endpoint), a token endpoint
//     that refuses the credentials, an untrusted certificate:
//     Misconfigured;
//   - UNAVAILABLE, INTERNAL, other 5xx, no answer: Temporary, with
//     Retry-After when given.
//
// The firebase error stays reachable with errors.As. The registration
// token is blanked out of its message.
func classify(ctx context.Context, err error, m *channel.Message, what string) error {
	text := strings.ReplaceAll(err.Error(), m.To, "<token>")
	if ctx.Err() != nil {
		return &channel.Error{Code: channel.Temporary, Msg: what + ": " + ctx.Err().Error() + ": " + text, Err: errors.Join(ctx.Err(), err)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &channel.Error{Code: channel.Temporary, Msg: what + ": " + text, Err: err}
	}
	resp := errorutils.HTTPResponse(err)
	code := channel.Temporary
	status := 0
	if resp != nil {
		status = resp.StatusCode
		if s, e := strconv.Atoi(resp.Header.Get(originalStatusHeader)); e == nil {
			status = s
		}
	}
	switch {
	case resp != nil && resp.Header.Get(transportErrorHeader) != "":
		if resp.Header.Get(transportErrorHeader) == channel.Misconfigured.String() {
			code = channel.Misconfigured
		}
	case messaging.IsUnregistered(err):
		code = channel.Unregistered
	case messaging.IsInvalidArgument(err), messaging.IsSenderIDMismatch(err):
		code = channel.Permanent
	case messaging.IsQuotaExceeded(err), errorutils.IsResourceExhausted(err), status == http.StatusTooManyRequests:
		code = channel.RateLimited
	case messaging.IsThirdPartyAuthError(err), errorutils.IsUnauthenticated(err), errorutils.IsPermissionDenied(err),
		errorutils.IsNotFound(err):
		code = channel.Misconfigured
	case messaging.IsUnavailable(err), messaging.IsInternal(err), status >= 500:
		code = channel.Temporary
	case status >= 400:
		code = channel.Permanent
	}
	e := error(&channel.Error{Code: code, Msg: what + ": " + text, Err: err})
	if resp != nil && (code == channel.RateLimited || code == channel.Temporary) {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After")); ok {
			e = channel.WithRetryAfter(e, d)
		}
	}
	return e
}

// parseRetryAfter reads a Retry-After in seconds or as an HTTP date.
func parseRetryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d, true
		}
	}
	return 0, false
}
