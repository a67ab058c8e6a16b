// Package channeltest is the conformance suite for channel.Sender
// implementations. Every adapter in AnpiKit runs it against a local fake of
// its provider, and third-party adapters (an in-house SMS gateway, say) can
// run it too.
//
// An adapter's test implements Harness around its fake: NewSender returns a
// sender pointed at the fake, Address returns a fresh recipient address that
// the fake answers with a chosen Fault (none, invalid address, unregistered,
// rate limited, temporary, misconfigured, hang), Received returns what the
// fake recorded, and Capabilities says what the provider supports (subjects,
// idempotency keys, deduplication, Retry-After). Faults that belong to the
// sender rather than to an address (wrong credentials, an untrusted TLS
// certificate) come from the optional FaultySenders interface.
//
// Run then checks, each as a named subtest: the kind; that bad input fails
// as Permanent without a panic; that a send returns a receipt and reaches
// the provider once; that Japanese UTF-8 subject and text arrive intact;
// that the idempotency key reaches the provider; that each fault maps to its
// channel.ErrorCode (with the retry-after where the provider gives one) and
// leaves the provider's error reachable; that a cancelled or expired context
// is honoured; that concurrent sends do not interfere (run the tests with
// -race); and, for a channel.BatchSender, that a batch mixing identical
// messages, a message of its own and a bad address returns one correct
// result per message.
package channeltest
