// Package apns is the Apple Push Notification service adapter of
// channel.Sender, on github.com/sideshow/apns2 with token (.p8 key)
// authentication.
//
// A Sender holds one apns2 client and one HTTP/2 transport of its own
// (never apns2's package-level globals), so its connections stay open and
// are shared by every Send, as Apple asks; make one Sender per app and keep
// it. The subject becomes the alert title, the text its body, Data the
// custom keys and URL the custom key "url"; channel.PriorityHigh (or
// Config.Priority) sends with apns-priority 10 and the interruption level
// "time-sensitive", other messages with 5. The apns-id is a UUID derived
// from the message's idempotency key (NotificationID), so every attempt of
// a delivery carries the same apns-id and the receipt names it. APNs does
// not deduplicate on it.
//
// # Errors
//
//   - 410 (Unregistered): channel.Unregistered; drop the token.
//   - 400 BadDeviceToken, DeviceTokenNotForTopic: channel.Permanent, not
//     Unregistered: both also result from a configuration mismatch (a
//     development token sent to production, the wrong Topic) that would
//     otherwise drop every contact at once. A device token that is not hex
//     is refused before it reaches APNs, also Permanent.
//   - 403 provider-token errors (InvalidProviderToken,
//     ExpiredProviderToken), 400 topic and certificate errors, 404, 405, a
//     certificate that does not verify: channel.Misconfigured.
//   - 429 TooManyRequests: channel.RateLimited (APNs gives no Retry-After).
//   - 5xx, a dropped connection, a done context: channel.Temporary.
//
// Refusals carry a *ResponseError (status, reason, apns-id, timestamp).
//
// # Throughput
//
// APNs publishes no rate cap; each connection allows a server-set number of
// concurrent streams (typically about 1000). SendBatch keeps
// Config.BatchConcurrency pushes in flight, and the transport opens another
// connection when one is full.
package apns
