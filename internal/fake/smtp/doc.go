// Package smtp is an in-process SMTP server on 127.0.0.1 for tests of the
// email channel (github.com/emersion/go-smtp underneath). It records every
// message it accepts, decoded as a recipient would read it (RFC 2047
// subject, quoted-printable or base64 body), and fails on demand:
//
//   - per recipient (Fail): Bounce answers RCPT with 550 5.1.1, TempFail
//     with 451 4.3.0, RateLimit with 451 4.7.1 "rate limit exceeded", Hang
//     never answers (until Release or Close);
//   - per sender (FailFrom): MAIL FROM refused (550 5.7.1), temporarily
//     failed (451) or throttled (454, as Amazon SES);
//   - per server (Options): AUTH PLAIN with a username and password (a wrong
//     one gets 535 5.7.8), STARTTLS or implicit TLS with a given
//     certificate, and a maximum number of RCPT commands per session
//     (452 4.5.3 beyond it), as Japanese carriers impose (docomo: 100).
//
// It listens on 127.0.0.1 only and is meant for tests; nothing here is
// hardened for the network.
package smtp
