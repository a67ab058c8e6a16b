package channel

import (
	"context"
	"io"
	"time"
)

// Kind names a channel. The values are the same strings as anpi.Channel, so
// the two convert with a plain conversion: channel.Kind(anpi.EmailChannel).
type Kind string

// The channel kinds.
const (
	Email Kind = "email" // SMTP mail; address: an RFC 5322 mailbox
	FCM   Kind = "fcm"   // Firebase Cloud Messaging; address: a registration token
	APNs  Kind = "apns"  // Apple Push Notification service; address: a device token
	LINE  Kind = "line"  // LINE Messaging API; address: a LINE user ID (U + 32 hex digits)
	SMS   Kind = "sms"   // text message; address: an E.164 phone number
	Voice Kind = "voice" // phone call reading the text; address: an E.164 phone number
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool {
	switch k {
	case Email, FCM, APNs, LINE, SMS, Voice:
		return true
	}
	return false
}

// String returns the kind's string value.
func (k Kind) String() string { return string(k) }

// Priority says how urgently the provider should deliver a message. Push
// adapters map it to the provider's own scale (APNs 10/5, FCM high/normal);
// channels without priorities ignore it.
type Priority int

// The priorities. The zero value is PriorityNormal.
const (
	PriorityNormal Priority = iota
	PriorityHigh            // wake the device now: safety surveys after a disaster
)

// String returns "normal" or "high".
func (p Priority) String() string {
	if p == PriorityHigh {
		return "high"
	}
	return "normal"
}

// Message is one message to one recipient, already rendered for its channel
// by the caller (templates are not the adapter's business).
type Message struct {
	// To is the recipient's address on the channel: a mailbox, a push token,
	// a LINE user ID or an E.164 number. It is private data: adapters do
	// not add it to their error messages.
	To string
	// Subject is the mail subject or the push title. Channels without a
	// subject (LINE, SMS, voice) ignore it; the caller renders the text so
	// that it stands alone.
	Subject string
	// Text is the body, complete: if the template puts the answer URL in
	// the text, it is already there.
	Text string
	// URL is the answer link (/a/{token}). Adapters that can show a button
	// or an action (LINE, push) use it; others ignore it.
	URL string
	// Data is extra key/value payload for channels that carry one (FCM data,
	// APNs custom keys, LINE postback data). Adapters ignore it otherwise.
	Data map[string]string
	// IdempotencyKey is the same for every attempt of the same delivery
	// (anpi.Delivery.Key). Adapters pass it to the provider where the
	// provider deduplicates (LINE X-Line-Retry-Key, an SMTP header), so a
	// retry after a crash does not reach the recipient twice.
	IdempotencyKey string
	// Priority is the delivery urgency.
	Priority Priority
}

// Validate checks the fields every channel needs: a non-nil message with an
// address and some text. The error has code Permanent. Adapters call it
// first so that bad input never reaches the provider (and never panics).
func (m *Message) Validate() error {
	switch {
	case m == nil:
		return Errorf(Permanent, "channel: nil message")
	case m.To == "":
		return Errorf(Permanent, "channel: message %q: empty recipient address", m.IdempotencyKey)
	case m.Text == "" && m.Subject == "":
		return Errorf(Permanent, "channel: message %q: no subject and no text", m.IdempotencyKey)
	}
	return nil
}

// Receipt is the provider's acknowledgement of one accepted message.
type Receipt struct {
	// ProviderID is the provider's identifier of the message (SMTP queue ID
	// or Message-ID, FCM message name, APNs apns-id, LINE sent message ID
	// or request ID, Twilio SID). It may be empty if the provider returns
	// none.
	ProviderID string
	// At is when the provider accepted the message, by the sender's clock.
	At time.Time
}

// Sender sends messages on one channel.
//
// Implementations must be safe for concurrent use by multiple goroutines and
// must not retry on their own: a failed Send returns an error classified by
// Code (and RetryAfter), and the caller (the dispatcher, which persists
// attempts) decides whether and when to try again. A Sender honours ctx: it
// returns promptly once ctx is done, with an error whose Code is Temporary
// unless the provider gave a definite answer first.
//
// A Sender may also implement BatchSender and io.Closer; callers discover
// them by type assertion, as database/sql does with driver interfaces.
type Sender interface {
	// Kind returns the channel this sender serves.
	Kind() Kind
	// Send hands m to the provider. A nil error means the provider accepted
	// the message (not that it was delivered).
	Send(ctx context.Context, m *Message) (Receipt, error)
}

// BatchSender is an optional interface for senders that deliver many
// messages more efficiently than one by one (LINE multicast, one SMTP
// connection for many mails, FCM batches).
//
// SendBatch returns one Result per message, in the order of ms, and a nil
// error. A non-nil error means the batch as a whole failed and no message is
// known to have been sent (bad credentials, a provider that cannot be
// reached, ctx done before the first send); the results are then nil and
// every message is to be treated as failed with that error. Like Send, it
// never retries.
type BatchSender interface {
	SendBatch(ctx context.Context, ms []*Message) ([]Result, error)
}

// Result is the outcome of one message of a batch: a Receipt, or an error
// classified by Code.
type Result struct {
	Receipt Receipt // set when Err is nil
	Err     error   // the message's own failure, classified by Code
}

// SendAll sends ms through s, as one batch if s is a BatchSender and one by
// one otherwise, and returns one Result per message. If the batch as a whole
// fails, every Result carries that error. It stops sending one by one once
// ctx is done, giving the remaining messages ctx's error (Temporary).
func SendAll(ctx context.Context, s Sender, ms []*Message) []Result {
	res := make([]Result, len(ms))
	if len(ms) == 0 {
		return res
	}
	if bs, ok := s.(BatchSender); ok {
		got, err := bs.SendBatch(ctx, ms)
		if err == nil && len(got) != len(ms) {
			err = Errorf(Temporary, "channel: %s batch: %d results for %d messages", s.Kind(), len(got), len(ms))
		}
		if err != nil {
			for i := range res {
				res[i].Err = err
			}
			return res
		}
		copy(res, got)
		return res
	}
	for i, m := range ms {
		if err := ctx.Err(); err != nil {
			res[i].Err = err
			continue
		}
		res[i].Receipt, res[i].Err = s.Send(ctx, m)
	}
	return res
}

// Close closes s if it implements io.Closer (a pooled connection, an idle
// HTTP/2 client) and returns nil otherwise.
func Close(s Sender) error {
	if c, ok := s.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
