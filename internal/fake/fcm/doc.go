// Package fcm is a fake of Firebase Cloud Messaging HTTP v1 and of
// Google's OAuth 2.0 token endpoint, on an httptest server (127.0.0.1), for
// tests of the FCM channel. It serves POST /v1/projects/{project}/
// messages:send and POST /token, records what it accepted, and behaves like
// FCM where it matters to a sender:
//
//   - /token takes the JWT-bearer grant of a service account (RS256,
//     iss, aud = the token URI, the firebase.messaging scope, a short
//     lifetime; the signature checked against Options.PublicKey and the
//     keys of Server.ServiceAccount, once there is one) and answers
//     {"access_token","token_type":"Bearer","expires_in":3600};
//     Server.ServiceAccount makes a key file whose token_uri is the fake
//     and whose key it trusts, NewServiceAccount one it does not know;
//   - sends need a bearer token the fake issued (or Options.AccessToken),
//     else 401; another project than Options.ProjectID gets 403;
//   - a message needs exactly one of token, topic and condition, a
//     token-shaped token, string data without reserved keys, at most 4 KiB,
//     else 400 INVALID_ARGUMENT;
//   - the documented quota, 600,000 messages per minute per project, is a
//     token bucket (not aligned to the clock) on an injectable clock,
//     switched off by Options.Unlimited; beyond it the answer is 429
//     RESOURCE_EXHAUSTED with errorCode QUOTA_EXCEEDED and Retry-After.
//
// Errors are google.rpc.Status bodies with an FcmError detail, so the
// firebase client's IsUnregistered, IsInvalidArgument, IsQuotaExceeded and
// the like recognise them. Faults are injected per registration token with
// Fail, or for all with FailAll: Unregistered (404), InvalidArgument (400),
// SenderIDMismatch (403), QuotaExceeded (429 + Retry-After),
// ThirdPartyAuthError (401), Internal (500), Unavailable (503 +
// Retry-After) and Hang (no answer until the client gives up). FailTokens
// makes /token refuse every assertion (a revoked key).
//
// The firebase client retries 503 and network errors itself, up to 4
// times with exponential backoff and Retry-After: a test that meets
// Unavailable through an unmodified firebase client takes seconds. Prefer
// Internal (500, not retried) for transient faults, or make the client not
// retry (channel/fcm does).
package fcm
