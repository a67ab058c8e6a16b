// Package line is the LINE adapter of channel.Sender, on the LINE Messaging
// API (github.com/line/line-bot-sdk-go/v8, linebot/messaging_api), and the
// webhook that hears back from LINE users.
//
// # Sending
//
// Send pushes one text message to one LINE user ID (POST
// /v2/bot/message/push). The text is Message.Text, with Message.URL on a
// line of its own unless the text contains it already; LINE has no
// subject. SendBatch (channel.BatchSender) sends messages that share a text
// by multicast, at most 500 user IDs per request, and the rest by push,
// Config.Concurrency requests at a time.
//
// Every request carries an X-Line-Retry-Key derived from the messages'
// idempotency keys (RetryKey: a name-based UUID), so the retry of a request
// after a crash or a timeout carries the same key; LINE then answers 409,
// which the adapter reports as success with the first request's ID: the
// user gets the message once. Each call builds its own SDK client because
// the SDK's WithContext mutates a shared one (a data race under
// concurrency).
//
// # Errors
//
//   - 400 and other 4xx: channel.Permanent (a malformed user ID is refused
//     before any request). A multicast refused with 400 is sent again as
//     pushes to find which recipient is bad; nothing of it was delivered.
//   - 404: channel.Unregistered. LINE delivers nothing to users who blocked
//     the account without saying so on push; the unfollow webhook event
//     (Events.Unfollowed) is the reliable signal.
//   - 429: channel.RateLimited, with channel.RetryAfter when LINE sends a
//     Retry-After (it usually sends none; 429 also means the monthly
//     message quota is spent).
//   - 401, 403: channel.Misconfigured (token wrong, expired or lacking the
//     permission); TLS errors too.
//   - 5xx, 408, transport errors, a done context: channel.Temporary.
//
// The HTTP status, Retry-After and request ID stay reachable as
// *StatusError through errors.As.
//
// # Webhook and account linking
//
// Webhook is an http.Handler for LINE's webhook: it checks X-Line-Signature
// (HMAC-SHA256 of the body with the channel secret), decodes the events and
// calls the application's Events: Followed, Unfollowed, Linked, Text and
// Postback. Typed text is not an answer: the Text method returns a reply
// pointing to the answer link, sent through the event's reply token.
//
// A LINE user ID is known only from LINE's side, so the user links it to
// their AnpiKit account: IssueLinkToken for their LINE user ID, a login on
// the application's page, Linker.Begin (which stores a one-time nonce in the
// application's NonceStore and returns LINE's account-link URL), and the
// accountLink event that Webhook resolves to Events.Linked(userID,
// lineUserID).
package line
