package dispatch

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/channel"
)

// Renderer turns a claimed delivery into the message for its channel. The
// engine (anpi.Service) implements it: it picks the recipient's contact on
// d.Channel, issues an answer token and renders the template.
//
// An error whose anpi.Code is NotFound means the recipient has no usable
// contact on d.Channel: the dispatcher falls back to the next channel.
// FailedPrecondition means the message is not to be sent at all (the
// survey no longer takes answers): the delivery fails for good, with no
// fallback. Any other error is retried with backoff, like a temporary send
// failure.
// Render is called concurrently from several goroutines.
type Renderer interface {
	// Render returns the message for d and the contact it goes to (empty
	// for an address that is not a stored contact, such as the work
	// email). A message whose IdempotencyKey is empty gets
	// d.IdempotencyKey().
	Render(ctx context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error)
}

// BatchRenderer is an optional interface for Renderers that render many
// deliveries in one call; the engine (anpi.Service) has it. When
// Options.Renderer implements it, each round renders its claimed
// deliveries with one RenderBatch call instead of one Render call each, so
// the engine reads the survey and the recipients once and stores the
// batch's answer tokens in one transaction.
//
// Result i is ds[i]'s, with the meaning a Render call's values would have:
// Err classified as Render's errors are (NotFound falls back,
// FailedPrecondition fails for good, anything else is retried), Contact
// the contact the message goes to, and a Message whose IdempotencyKey is
// empty gets ds[i].IdempotencyKey(). An error returned by the call itself
// (or a result count other than len(ds)) retries every delivery of the
// batch, like a temporary render error.
// RenderBatch is called concurrently from several goroutines.
type BatchRenderer interface {
	// RenderBatch renders every delivery of ds at once.
	RenderBatch(ctx context.Context, ds []*anpi.Delivery) ([]anpi.RenderResult, error)
}

// RendererFunc adapts a function to Renderer.
type RendererFunc func(ctx context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error)

// Render calls f.
func (f RendererFunc) Render(ctx context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
	return f(ctx, d)
}

// Clock is the dispatcher's time source: the time stamped on claims and
// results, the pacing of sends and the timers of Run. Tests inject a fake
// one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

// Limit is how fast and how wide the dispatcher sends on one channel. Zero
// fields take the channel's default (DefaultLimit).
type Limit struct {
	// Rate is the sustained rate, in messages per second. One message
	// costs one token, whatever the sender does with it (a LINE multicast
	// of many users would cost less at LINE, but each recipient's message
	// carries a link of his own, so the dispatcher's messages never share
	// a text).
	Rate float64
	// Burst is how many messages may go at once after an idle spell: the
	// size of the token bucket. Keep it well below the provider's own
	// bucket.
	Burst int
	// Batch is how many deliveries one round claims and hands to the
	// sender at once (channel.SendAll: one SendBatch when the sender has
	// it); at most Burst.
	Batch int
	// Concurrency is how many rounds of this channel Run has in flight at
	// once: enough to keep Rate with the provider's round-trip time.
	Concurrency int
}

// DefaultLimit returns the limits used for a channel when Options.Limits
// leaves them out. Rates come from the providers' documented limits, at
// 95 % where the provider enforces them (its bucket is shared with the
// project's other senders, and clocks differ):
//
//	fcm    9,500/s  FCM HTTP v1: 600,000 messages/min per project
//	apns   2,500/s  no published cap; observed from AWS US regions
//	line   1,900/s  Messaging API push: 2,000 requests/s per channel
//	email    100/s  account specific (SES, a relay): set yours
//	sms        1/s  Twilio: 1 segment/s per US long code; raise it for
//	                short codes (≥ 100/s) or messaging services
//	voice      1/s  Twilio: 1 call/s per account by default
//
// Channels that are not known get 1/s.
//
// Concurrency × the requests a sender has in flight per batch (the FCM
// adapter: 50; LINE: 8) is what is in flight at once: 8 FCM batches are 400
// requests, 9,500/s at a round trip of 40 ms. Over HTTP/1.1 (a proxy, the
// local fakes) keep it within the sender's connection pool, or connections
// are opened and closed by the hundred.
func DefaultLimit(c anpi.Channel) Limit {
	switch c {
	case anpi.FCMChannel:
		return Limit{Rate: 9500, Burst: 500, Batch: 100, Concurrency: 8}
	case anpi.APNsChannel:
		return Limit{Rate: 2500, Burst: 250, Batch: 50, Concurrency: 8}
	case anpi.LINEChannel:
		return Limit{Rate: 1900, Burst: 200, Batch: 50, Concurrency: 8}
	case anpi.EmailChannel:
		return Limit{Rate: 100, Burst: 20, Batch: 20, Concurrency: 4}
	}
	return Limit{Rate: 1, Burst: 1, Batch: 1, Concurrency: 1}
}

// DefaultFallback returns the default fallback order, the same as
// anpi.Service's: app push first (it wakes a phone at once and costs
// nothing), then LINE, email, SMS and a voice call.
func DefaultFallback() []anpi.Channel {
	return []anpi.Channel{anpi.FCMChannel, anpi.APNsChannel, anpi.LINEChannel, anpi.EmailChannel, anpi.SMSChannel, anpi.VoiceChannel}
}

// Backoff is the wait before a failed delivery is tried again: capped
// exponential backoff with full jitter, a wait drawn uniformly from
// [0, min(Max, Base·2^(attempts-1))], and never shorter than the wait the
// provider asked for (channel.RetryAfter).
type Backoff struct {
	Base time.Duration // default 2 s
	Max  time.Duration // default 2 min
}

// Circuit configures the circuit breaker of each channel (provider).
type Circuit struct {
	// Failures is how many consecutive failures (Temporary or
	// unclassified) open the circuit; default 5. A Misconfigured answer
	// opens it at once.
	Failures int
	// Cooldown is how long an open circuit stays open before one probe
	// delivery is let through (half-open); default 1 min.
	Cooldown time.Duration
	// Failover is how long a circuit may stay open (failing probe after
	// probe) before the deliveries waiting on its channel fall back to
	// the next channel without being tried; default 5 min, negative
	// never.
	Failover time.Duration
}

// Options configures a Dispatcher. A nil *Options is not enough: Senders
// and Renderer are required. Zero fields take defaults.
type Options struct {
	// Senders sends each channel's messages; a sender's Kind must match
	// its channel. Deliveries on a channel with no sender fall back to
	// the next channel at once, so every dispatcher sharing a store must
	// be given the same senders.
	Senders map[anpi.Channel]channel.Sender
	// Renderer renders each claimed delivery (required).
	Renderer Renderer
	// Fallback is the per-recipient order of channels: a delivery that
	// cannot go out on its channel is replaced by one on the next channel
	// of the order that has a sender. Default DefaultFallback().
	Fallback []anpi.Channel
	// Limits paces each channel; missing channels and zero fields take
	// DefaultLimit.
	Limits map[anpi.Channel]Limit
	// Owner names this dispatcher in leases; default host-pid-random.
	// Dispatchers sharing a store need different owners.
	Owner string
	// Lease is how long a claim holds before another dispatcher may take
	// the delivery again (a crashed one's); default 1 min.
	Lease time.Duration
	// SendTimeout bounds one round's sends, by the real clock; default
	// half the Lease, and it must be shorter than the Lease so that a
	// send never outlives its claim.
	SendTimeout time.Duration
	// PollInterval is how often Run looks for due deliveries when it found
	// none, unless Notify wakes it first; default 1 s.
	PollInterval time.Duration
	// Backoff sets the waits between attempts.
	Backoff Backoff
	// MaxAttempts is how many times a delivery is tried on its channel
	// before it falls back to the next one; default 6. A claim counts as
	// an attempt, so a lease that expires counts too.
	MaxAttempts int
	// Circuit configures the per-channel circuit breakers.
	Circuit Circuit
	// Clock is the time source; default the system clock.
	Clock Clock
	// Rand draws the backoff jitter (serialized by the dispatcher);
	// default math/rand/v2's global source.
	Rand *rand.Rand
	// Logger receives circuit changes, exhausted deliveries and store
	// errors; default discard.
	Logger *slog.Logger
	// Handoff, given to the Service too (anpi.Options.Handoff), passes
	// the deliveries a fan-out enqueues straight to this dispatcher,
	// leased to it: they are sent before any claim, without one. A
	// Handoff serves one dispatcher. Optional.
	Handoff *Handoff
}
