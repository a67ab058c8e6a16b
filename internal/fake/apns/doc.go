// Package apns is a fake of the Apple Push Notification service provider
// API on an httptest server speaking TLS and HTTP/2 on 127.0.0.1, for tests
// of the APNs channel. It serves POST /3/device/{token}, records what it
// accepted, and behaves like APNs where it matters to a sender:
//
//   - authorization: bearer with an ES256 JWT carrying kid and iss (and
//     iat within the last hour, by the injectable clock), signed by
//     Options.PublicKey when set; otherwise 403 MissingProviderToken,
//     InvalidProviderToken or ExpiredProviderToken;
//   - apns-id must be a UUID (400 BadMessageId); the answer carries the
//     client's apns-id, or a new one;
//   - apns-topic is required (400 MissingTopic) and must match
//     Options.Topic when set (400 DeviceTokenNotForTopic); apns-priority
//     is 1, 5 or 10 (400 BadPriority); apns-collapse-id at most 64 bytes;
//     the payload at most 4 KiB (413 PayloadTooLarge); a device token that
//     is not hex gets 400 BadDeviceToken;
//   - HTTP/2 only, and each connection announces a limit of concurrent
//     streams (SETTINGS_MAX_CONCURRENT_STREAMS, default 1000, the figure
//     APNs typically sets): the "streams per connection" limit. APNs
//     publishes no rate cap, so the fake has no token bucket; PeakStreams
//     shows the limit holds.
//
// Faults are injected per device token with Fail, or for every token with
// FailAll: Unregistered (410 with a timestamp), BadDeviceToken and
// DeviceTokenNotForTopic (400), TooManyRequests (429, without Retry-After
// as APNs), InvalidProviderToken and ExpiredProviderToken (403),
// InternalServerError (500), ServiceUnavailable (503) and Hang (no answer
// until the client cancels the stream or the server closes). apns2 does
// not retry, so none of them slows a test down.
package apns
