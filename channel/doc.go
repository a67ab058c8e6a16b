// Package channel is the contract between AnpiKit and the providers that
// carry its messages: mail, push (FCM, APNs), LINE, SMS and voice. It is
// stdlib only; each provider has a thin adapter package (channel/email,
// channel/line, channel/fcm, ...) that implements Sender.
//
// # Sending
//
// A Message is rendered for its channel before it gets here: recipient
// address, subject, text, answer URL, extra data, an idempotency key and a
// priority. Sender.Send hands it to the provider and returns a Receipt (the
// provider's message ID and the time). Senders are safe for concurrent use
// and never retry: retries, backoff and rate pacing belong to the caller,
// which records every attempt.
//
// Optional interfaces are discovered by type assertion, as in database/sql:
// BatchSender (LINE multicast, many mails over one SMTP connection) and
// io.Closer. SendAll and Close use them when present.
//
// # Errors
//
// Code(err) says what to do after a failure:
//
//   - Permanent: the address is bad; do not retry this message.
//   - Unregistered: the token or user is gone; stop using the contact.
//   - RateLimited: wait RetryAfter(err) when the provider said how long.
//   - Temporary: retry later with the same idempotency key.
//   - Misconfigured: credentials, TLS or sender settings are wrong; alert.
//
// A cancelled context or an expired deadline is Temporary: the message may
// not have been sent, and a retry carries the same idempotency key, so the
// providers that deduplicate will not deliver it twice.
//
// Adapters build errors with Errorf, NewError and WithRetryAfter; the
// provider's own error stays reachable with errors.As. Adapters name a
// failed message by its idempotency key rather than by its address, which
// is private data (providers may still echo the address in their own error
// text; package anpi blanks it out before an administrator sees it).
//
// # Testing
//
// Package channeltest is the conformance suite every adapter runs against a
// local fake of its provider; package memchan is an in-memory Sender for
// tests and examples.
package channel
