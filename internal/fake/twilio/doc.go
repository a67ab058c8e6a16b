// Package twilio is a fake of the Twilio REST API (2010-04-01) on an
// httptest server (127.0.0.1), for tests of the SMS and voice channels. It
// serves POST /2010-04-01/Accounts/{AccountSid}/Messages.json and
// Calls.json (form-encoded, HTTP basic auth), records what it accepted, and
// answers like Twilio: 201 with a JSON resource whose sid starts with "SM"
// or "CA" and whose status is "queued", or an error body
// {"code","message","more_info","status"}.
//
// Limits, as token buckets on an injectable clock that Options.Unlimited
// switches off: one message per second per From number (a long code; the
// real Twilio queues the excess for up to 10 hours, the fake answers 429
// with code 20429 and Retry-After so tests can see the limit), and one call
// per second per account. Bodies over 1,600 characters get 21617.
//
// Faults are injected per 'To' number with Fail: InvalidNumber (400 21211,
// also the answer to a number that is not E.164), NotMobile (400 21614),
// Unsubscribed (400 21610), TooManyRequests (429 20429 with Retry-After),
// ServerError (500), Unavailable (503 with Retry-After) and Hang (no answer
// until the client gives up). Wrong credentials get 401 20003. twilio-go
// does not retry, so none of them slows a test down.
//
// Signature, ValidSignature and Callback compute and check the
// X-Twilio-Signature of status callbacks, inbound-SMS webhooks and
// <Gather> actions, for tests of webhook handlers.
package twilio
