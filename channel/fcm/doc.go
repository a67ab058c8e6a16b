// Package fcm is the Firebase Cloud Messaging adapter of channel.Sender, on
// github.com/appleboy/go-fcm (FCM HTTP v1 through the Firebase Admin SDK).
// It is a module of its own, github.com/anpikit/anpi/channel/fcm, because
// go-fcm pulls in about 200 modules that users of the rest of AnpiKit
// should not carry.
//
// A Sender authenticates with a service-account key (Config.CredentialsJSON)
// or a token source of the caller's (Config.TokenSource), and with nothing
// else: Google Application Default Credentials and the GOOGLE_* and
// FIREBASE_CONFIG environment variables are never consulted. The subject
// becomes the notification title, the text its body, Data the data payload
// with URL under "url" and the idempotency key under IdempotencyKeyData
// (FCM does not deduplicate; the app can). channel.PriorityHigh sends with
// Android priority "high" and apns-priority 10, others "normal" and 5.
//
// SendBatch hands go-fcm up to 500 messages at a time, two such chunks at
// once; FCM v1 has no batch request, so go-fcm sends each in its own
// request, 50 at a time. go-fcm has no single-message call either: Send
// goes through the same batch path with one message (and go-fcm starts its
// 50 workers for it), so for volume use SendBatch (channel.SendAll does).
//
// # No retries
//
// The firebase client retries 503 answers and network errors by itself (up
// to 4 times, with seconds of backoff), which a channel.Sender must not do.
// The adapter's transport turns a 503 into a 500 and a request that got no
// answer into a made-up 500 carrying the error text, so firebase gives up
// at once; both are classified Temporary (with Retry-After when FCM gave
// one). The original error of a request that got no answer survives only as
// text: firebase does not wrap transport errors.
//
// # Errors
//
//   - UNREGISTERED (404): channel.Unregistered; drop the token.
//   - INVALID_ARGUMENT (400), SENDER_ID_MISMATCH (403: the token belongs to
//     another project), a reserved data key or a token that cannot be one
//     (refused before the request): channel.Permanent.
//   - QUOTA_EXCEEDED (429, the 600,000 messages a minute per project):
//     channel.RateLimited with Retry-After.
//   - THIRD_PARTY_AUTH_ERROR (the project's APNs key), 401, 403, 404 without
//     UNREGISTERED (a wrong project), credentials the token endpoint
//     refuses, an untrusted certificate: channel.Misconfigured.
//   - UNAVAILABLE (503), INTERNAL (500), no answer, a done context:
//     channel.Temporary.
package fcm
