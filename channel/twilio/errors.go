package twilio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/anpikit/anpi/channel"
)

// The Twilio error codes the adapter classifies by name.
const (
	CodeInvalidTo        = 21211 // invalid 'To' phone number
	CodeNotMobile        = 21614 // 'To' is not a mobile number
	CodeInvalidNumber    = 21401 // invalid phone number
	CodeUnreachable      = 21612 // 'To' cannot be reached from 'From'
	CodeRegionDisabled   = 21408 // sending to this region is not enabled
	CodeUnsubscribed     = 21610 // the recipient replied STOP
	CodeAuthenticate     = 20003 // authentication failed
	CodeFromNotOwned     = 21606 // 'From' is not a number of the account
	CodeFromInvalid      = 21212 // invalid 'From' number
	CodeFromRequired     = 21603 // a 'From' number is required
	CodeServiceNotFound  = 21701 // the Messaging Service does not exist
	CodeTooManyRequests  = 20429 // too many requests
	CodeQueueOverflow    = 21611 // the sender's queue is full
	CodeAccountSuspended = 20005 // the account is not active
)

// classify turns a twilio-go failure into a *channel.Error:
//
//   - the context done, a dropped connection: Temporary;
//   - 21211, 21614, 21401, 21612 (the number is wrong or unreachable) and
//     other 400s: Permanent;
//   - 21610 (the recipient replied STOP): Unregistered;
//   - 20003 and any 401 or 403, 20005, 21212, 21603, 21606, 21408, 21701
//     (credentials, sender or account settings), a certificate that does
//     not verify: Misconfigured;
//   - 20429, 21611 or any 429: RateLimited, with Retry-After when Twilio
//     sent one;
//   - 5xx: Temporary.
//
// The recipient's number is blanked out of Twilio's message.
func classify(ctx context.Context, err error, rt *roundTripper, m *channel.Message, what string) error {
	text := strings.ReplaceAll(err.Error(), m.To, "<recipient>")
	mk := func(code channel.ErrorCode) error {
		e := error(&channel.Error{Code: code, Msg: what + ": " + text, Err: err})
		if code == channel.RateLimited || code == channel.Temporary {
			if d, ok := parseRetryAfter(rt.retryAfter); ok {
				e = channel.WithRetryAfter(e, d)
			}
		}
		return e
	}
	if ctx.Err() != nil {
		return &channel.Error{Code: channel.Temporary, Msg: what + ": " + ctx.Err().Error() + ": " + text, Err: errors.Join(ctx.Err(), err)}
	}
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		switch te.Code {
		case CodeUnsubscribed:
			return mk(channel.Unregistered)
		case CodeInvalidTo, CodeNotMobile, CodeInvalidNumber, CodeUnreachable:
			return mk(channel.Permanent)
		case CodeAuthenticate, CodeAccountSuspended, CodeFromInvalid, CodeFromRequired, CodeFromNotOwned,
			CodeRegionDisabled, CodeServiceNotFound:
			return mk(channel.Misconfigured)
		case CodeTooManyRequests, CodeQueueOverflow:
			return mk(channel.RateLimited)
		}
		status := te.Status
		if status == 0 {
			status = rt.status
		}
		return mk(byStatus(status, channel.Permanent))
	}
	if rt.status != 0 {
		// An answer whose body was not Twilio's JSON (a proxy's page).
		return mk(byStatus(rt.status, channel.Temporary))
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		verify           *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &verify) {
		return mk(channel.Misconfigured)
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return mk(channel.Misconfigured)
	}
	return mk(channel.Temporary)
}

// byStatus classifies an HTTP status; other4xx is the code of 4xx
// statuses that say nothing more.
func byStatus(status int, other4xx channel.ErrorCode) channel.ErrorCode {
	switch {
	case status == http.StatusTooManyRequests:
		return channel.RateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return channel.Misconfigured
	case status == http.StatusNotFound:
		return channel.Misconfigured // a wrong account SID or BaseURL
	case status >= 500:
		return channel.Temporary
	case status >= 400:
		return other4xx
	}
	return channel.Temporary
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
