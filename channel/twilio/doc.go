// Package twilio is the SMS and voice adapter of channel.Sender, on
// github.com/twilio/twilio-go (only its client and rest/api/v2010
// packages).
//
// SMS sends the message text from a number (Config.From) or a Messaging
// Service; Voice calls the number and reads the text with <Say
// language="ja-JP">, then asks for one key inside <Gather numDigits="1">
// (1 無事, 2 軽傷, 3 重傷 by default: DefaultChoices, configurable). Handler
// receives what comes back: status callbacks of messages and calls, the key
// pressed (Digits), and SMS replies, each verified by its
// X-Twilio-Signature and mapped to an answer code ("1" → "safe"; see
// ParseReply). Typed text that is not a menu digit is not an answer.
//
// # Configuration
//
// Everything comes from Config: nothing is read from the environment
// (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_EDGE and TWILIO_REGION are
// ignored, unlike twilio-go's own constructors). twilio-go has no base-URL
// option; Config.BaseURL is implemented by a transport that rewrites each
// request's scheme and host.
//
// # Context
//
// twilio-go takes no context and builds its requests with
// context.Background. The adapter's per-request transport attaches the
// caller's ctx to the request, so when ctx ends the HTTP request is aborted
// at once and Send returns a Temporary error. A request that Twilio had
// already accepted stays accepted: the SMS is queued or the call placed
// even though Send reports a failure, and a retry may send it twice
// (Twilio has no idempotency key for messages or calls).
//
// # Errors
//
//   - 21211, 21614, 21401, 21612 (invalid or unreachable number), other
//     400s, a number that is not E.164 (refused before the request), a text
//     over 1,600 characters: channel.Permanent.
//   - 21610 (the recipient replied STOP): channel.Unregistered.
//   - 20003 and any 401/403, 20005, 21212, 21603, 21606, 21408, 21701
//     (credentials, sender, account or region settings): channel.Misconfigured.
//   - 20429, 21611 or any 429: channel.RateLimited, with Retry-After when
//     given.
//   - 5xx, a dropped connection, a done context: channel.Temporary.
//
// # Throughput
//
// A long code sends one message per second; Twilio queues the excess for up
// to 10 hours, and a short code sends 100 per second or more. Calls go out
// at one per second per account by default. SMS and voice are for small
// sets (administrators, people who have not answered), never the first
// channel for everyone.
package twilio
