// Package line is a fake of the LINE Messaging API on an httptest server
// (127.0.0.1), for tests of the LINE channel. It serves push, multicast,
// reply and link-token issue, records what it accepted, and behaves like
// the documented API where it matters to a sender:
//
//   - Authorization: Bearer with the channel access token, else 401;
//   - X-Line-Retry-Key must be a UUID; a key already accepted gets 409 with
//     X-Line-Accepted-Request-Id, and nothing is sent twice;
//   - multicast takes at most 500 user IDs per request, and every request
//     takes at most 5 messages of at most 5,000 characters, else 400;
//   - request rates are token buckets, 2,000 req/s for push and reply and
//     200 req/s for multicast, on an injectable clock, and can be switched
//     off; beyond them the answer is 429 (without Retry-After, as LINE).
//
// Faults are injected per user ID with Fail: InvalidUser (400), UnknownUser
// (404), RateLimited (429 with Retry-After), ServerError (500) and Hang (no
// answer until the client gives up). Signature signs webhook bodies the way
// the LINE platform does, for tests of webhook handlers.
package line
