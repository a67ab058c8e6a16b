// Package email is the mail adapter of channel.Sender, on
// github.com/wneessen/go-mail. It sends UTF-8 text mail (Japanese subjects
// are RFC 2047 encoded, bodies quoted-printable) through one SMTP relay.
//
// # Configuration
//
// Config names the relay (Host, Port), how the connection is protected
// (TLSPolicy: TLSMandatory, TLSOpportunistic, NoTLS for intranet relays
// without STARTTLS, ImplicitTLS for SMTPS; TLSConfig for an in-house CA),
// the credentials for SMTP AUTH and the From address.
//
// # Sending
//
// Send opens a connection per message; SendBatch (channel.BatchSender)
// sends many messages over one connection, MaxPerConnection at a time
// (default 100, the RCPT-per-session limit of docomo), and opens a new
// connection when one breaks. A done context closes the connection at once,
// even in the middle of an SMTP command.
//
// Every message carries its idempotency key in the X-Anpi-Idempotency-Key
// header and a Message-ID derived from it, so a retry repeats the
// Message-ID; the Receipt's ProviderID is that Message-ID. Mail is marked
// Auto-Submitted: auto-generated, and PriorityHigh sets Importance: high.
//
// # Errors
//
//   - 5xx to RCPT TO or DATA (550 5.1.1 user unknown and the like), or an
//     address that does not parse: channel.Permanent.
//   - 4xx: channel.Temporary; channel.RateLimited when the relay says it
//     throttles (452 4.5.3 too many recipients, "rate limit", SES
//     "Throttling failure"). SMTP has no Retry-After.
//   - Authentication failures (535 and the like), TLS and certificate
//     errors, a relay without STARTTLS under TLSMandatory, 5xx to MAIL FROM
//     or at connection time: channel.Misconfigured.
//   - A refused or broken connection, a done context: channel.Temporary.
//
// SMTP cannot tell a mailbox that never existed from one that was deleted,
// so this adapter never returns channel.Unregistered. The relay's text is
// kept in the error with the recipient's address blanked out, and the
// go-mail error stays reachable with errors.As (*mail.SendError).
package email
