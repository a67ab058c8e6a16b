package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"

	"github.com/wneessen/go-mail"
	gmsmtp "github.com/wneessen/go-mail/smtp"

	"github.com/anpikit/anpi/channel"
)

// classify turns a go-mail error into a *channel.Error:
//
//   - the context done: Temporary;
//   - a reply to RCPT TO: 5xx Permanent (550 5.1.1 and the like), 4xx
//     RateLimited when the relay says it throttles (4.7.x rate messages,
//     452 too many recipients, SES "Throttling") and Temporary otherwise;
//   - a reply to MAIL FROM: 5xx Misconfigured (sender or relay access
//     refused), 4xx as for RCPT;
//   - a reply to DATA: 5xx Permanent (this content is refused), 4xx as above;
//   - authentication (530, 534, 535, 538, unsupported or unencrypted AUTH),
//     TLS (certificates, handshakes, no STARTTLS) and DNS errors:
//     Misconfigured;
//   - a reply at connection time: 4xx Temporary, 5xx Misconfigured;
//   - anything else (a refused or broken connection): Temporary.
//
// The message names the message by its idempotency key; the recipient's
// address is blanked out of the relay's text.
func (s *Sender) classify(ctx context.Context, err error, m *channel.Message, op string) error {
	what := fmt.Sprintf("email: %s %q via %s", op, m.IdempotencyKey, s.cfg.Host)
	text := strings.ReplaceAll(err.Error(), m.To, "<recipient>")
	mk := func(code channel.ErrorCode) error {
		return &channel.Error{Code: code, Msg: what + ": " + text, Err: err}
	}
	if ctx.Err() != nil {
		return &channel.Error{Code: channel.Temporary, Msg: what + ": " + ctx.Err().Error() + ": " + text, Err: errors.Join(ctx.Err(), err)}
	}
	var se *mail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		switch se.Reason {
		case mail.ErrGetRcpts:
			return mk(channel.Permanent)
		case mail.ErrGetSender, mail.ErrNoUnencoded:
			return mk(channel.Misconfigured)
		case mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrSMTPDataClose, mail.ErrSMTPMailFrom:
			switch {
			case code >= 500 && se.Reason == mail.ErrSMTPMailFrom:
				return mk(channel.Misconfigured)
			case code >= 500:
				return mk(channel.Permanent)
			case code >= 400:
				if throttled(code, se.EnhancedStatusCode(), text) {
					return mk(channel.RateLimited)
				}
				return mk(channel.Temporary)
			}
		}
		return mk(channel.Temporary)
	}
	if misconfigured(err) {
		return mk(channel.Misconfigured)
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		switch {
		case te.Code == 530 || te.Code == 534 || te.Code == 535 || te.Code == 538:
			return mk(channel.Misconfigured)
		case te.Code >= 500:
			return mk(channel.Misconfigured)
		case throttled(te.Code, "", te.Msg):
			return mk(channel.RateLimited)
		}
	}
	return mk(channel.Temporary)
}

// throttled reports whether a 4xx reply says the sender goes too fast.
func throttled(code int, enhanced, text string) bool {
	if code < 400 || code >= 500 {
		return false
	}
	if code == 452 && strings.HasPrefix(enhanced, "4.5.3") { // too many recipients
		return true
	}
	t := strings.ToLower(text)
	for _, w := range []string{"rate limit", "throttl", "too many", "sending rate"} {
		if strings.Contains(t, w) {
			return true
		}
	}
	return false
}

// misconfigured reports errors that no retry will cure: TLS, certificates,
// authentication, a host name that does not resolve.
func misconfigured(err error) bool {
	var (
		certErr   *tls.CertificateVerificationError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		recErr    tls.RecordHeaderError
		alert     tls.AlertError
		dnsErr    *net.DNSError
	)
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &recErr), errors.As(err, &alert):
		return true
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return true
	case errors.Is(err, gmsmtp.ErrUnencrypted):
		return true
	}
	t := err.Error()
	for _, w := range []string{"does not support STARTTLS", "does not support SMTP AUTH", "tls: ", "x509: ", "unsupported authentication", "no supported auth"} {
		if strings.Contains(t, w) {
			return true
		}
	}
	return false
}

// connectionLost reports whether err left the connection unusable, so a
// batch must open a new one.
func connectionLost(err error) bool {
	var se *mail.SendError
	if errors.As(err, &se) {
		if se.ErrorCode() == 421 {
			return true
		}
		if se.ErrorCode() != 0 {
			return false
		}
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(se != nil && se.ErrorCode() == 0)
}
