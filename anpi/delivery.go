package anpi

import (
	"strconv"
	"time"
)

// DeliveryID identifies a delivery.
type DeliveryID string

// Channel is a way of reaching a person. A contact kind maps to one or two
// channels (a phone number is reached by SMS and by voice).
type Channel string

// The channels.
const (
	EmailChannel Channel = "email"
	FCMChannel   Channel = "fcm"
	APNsChannel  Channel = "apns"
	LINEChannel  Channel = "line"
	SMSChannel   Channel = "sms"
	VoiceChannel Channel = "voice"
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	switch c {
	case EmailChannel, FCMChannel, APNsChannel, LINEChannel, SMSChannel, VoiceChannel:
		return true
	}
	return false
}

// ContactKind returns the kind of contact the channel sends to.
func (c Channel) ContactKind() ContactKind {
	switch c {
	case EmailChannel:
		return EmailContact
	case FCMChannel:
		return FCMContact
	case APNsChannel:
		return APNsContact
	case LINEChannel:
		return LINEContact
	case SMSChannel, VoiceChannel:
		return PhoneContact
	}
	return ""
}

// DeliveryState is where a delivery stands.
type DeliveryState string

// The delivery states. Queued and FailedTemporary deliveries are waiting to
// be claimed; Sending ones are claimed under a lease; the rest are final.
const (
	Queued           DeliveryState = "queued"
	Sending          DeliveryState = "sending"
	Sent             DeliveryState = "sent"      // the provider accepted it
	Delivered        DeliveryState = "delivered" // the provider confirmed delivery
	FailedTemporary  DeliveryState = "failed_temporary"
	FailedPermanent  DeliveryState = "failed_permanent"
	SkippedNoContact DeliveryState = "skipped_no_contact"
	CancelledState   DeliveryState = "cancelled"
)

// Valid reports whether s is a known state.
func (s DeliveryState) Valid() bool {
	switch s {
	case Queued, Sending, Sent, Delivered, FailedTemporary, FailedPermanent, SkippedNoContact, CancelledState:
		return true
	}
	return false
}

// Final reports whether nothing more will happen to a delivery in state s
// (Sent may still become Delivered through a provider callback).
func (s DeliveryState) Final() bool {
	switch s {
	case Sent, Delivered, FailedPermanent, SkippedNoContact, CancelledState:
		return true
	}
	return false
}

// Delivery is one message to one recipient on one channel: a row of the
// outbox. Round 0 is the first send; reminders (再通知) count up from 1;
// CorrectionRound marks the short correction sent after a JMA 取消, and
// SummaryRound the summary sent to a survey's administrators.
type Delivery struct {
	ID        DeliveryID    `json:"id"`
	SurveyID  SurveyID      `json:"surveyId"`
	UserID    UserID        `json:"userId"`
	Channel   Channel       `json:"channel"`
	ContactID ContactID     `json:"contactId,omitempty"` // empty for the work email
	Round     int           `json:"round"`
	State     DeliveryState `json:"state"`
	Attempts  int           `json:"attempts"`
	// NextAttemptAt is when a queued or temporarily failed delivery becomes
	// claimable.
	NextAttemptAt time.Time `json:"nextAttemptAt"`
	LeaseOwner    string    `json:"leaseOwner,omitempty"`
	LeaseUntil    time.Time `json:"leaseUntil,omitzero"`
	LastError     string    `json:"lastError,omitempty"`
	ProviderID    string    `json:"providerId,omitempty"` // the provider's message ID
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	SentAt        time.Time `json:"sentAt,omitzero"`
}

// CorrectionRound is the Round of the correction message sent to those
// already reached when a survey's trigger was cancelled.
const CorrectionRound = -1

// SummaryRound is the Round of the summary (集計) sent to a survey's
// administrators a while after it started (Options.SummaryAfter): the
// response rate and the per-department table, with no answer link. Its
// UserID is the administrator's.
const SummaryRound = -2

// DeliveryKey is the identity of a delivery apart from its ID: a store holds
// at most one delivery per key.
type DeliveryKey struct {
	SurveyID  SurveyID
	UserID    UserID
	Channel   Channel
	ContactID ContactID
	Round     int
}

// Key returns d's identity.
func (d *Delivery) Key() DeliveryKey {
	return DeliveryKey{d.SurveyID, d.UserID, d.Channel, d.ContactID, d.Round}
}

// IdempotencyKey is the key sent to providers that support one, so a retry
// after a crash is not delivered twice. It is stable across attempts.
func (d *Delivery) IdempotencyKey() string {
	return string(d.SurveyID) + "/" + string(d.UserID) + "/" + string(d.Channel) + "/" + string(d.ContactID) + "/" + strconv.Itoa(d.Round)
}

// Clone returns a copy of d.
func (d *Delivery) Clone() *Delivery { c := *d; return &c }

// Validate checks a delivery about to be enqueued.
func (d *Delivery) Validate() error {
	if err := checkID("delivery id", string(d.ID)); err != nil {
		return err
	}
	if d.SurveyID == "" || d.UserID == "" {
		return Errorf(InvalidArgument, "anpi: delivery %s: survey and user are required", d.ID)
	}
	if !d.Channel.Valid() {
		return Errorf(InvalidArgument, "anpi: delivery %s: unknown channel %q", d.ID, d.Channel)
	}
	switch d.State {
	case Queued, SkippedNoContact:
		if d.LeaseOwner != "" || !d.LeaseUntil.IsZero() {
			return Errorf(InvalidArgument, "anpi: delivery %s: a %s delivery has no lease (owner %q)", d.ID, d.State, d.LeaseOwner)
		}
	case Sending:
		// Claimed as it is enqueued, for a dispatcher that is handed it
		// once the transaction commits (see Handoff).
		if d.LeaseOwner == "" || d.LeaseUntil.IsZero() || d.Attempts < 1 {
			return Errorf(InvalidArgument, "anpi: delivery %s: enqueued as sending, it needs a lease owner, a lease end and attempts ≥ 1", d.ID)
		}
	default:
		return Errorf(InvalidArgument, "anpi: delivery %s: enqueue as queued, skipped_no_contact or sending (leased), not %q", d.ID, d.State)
	}
	if d.Round < SummaryRound {
		return Errorf(InvalidArgument, "anpi: delivery %s: round %d", d.ID, d.Round)
	}
	return nil
}

// ClaimRequest asks a store for deliveries to send.
type ClaimRequest struct {
	Owner string        // who holds the lease (a worker ID)
	Limit int           // at most this many
	Lease time.Duration // how long the claim holds before others may take it
	Now   time.Time     // the caller's clock
	// Channels limits the claim to these channels; empty means all.
	Channels []Channel
}

// Validate checks the request.
func (c *ClaimRequest) Validate() error {
	if c.Owner == "" || c.Limit <= 0 || c.Lease <= 0 || c.Now.IsZero() {
		return Errorf(InvalidArgument, "anpi: claim: owner, limit > 0, lease > 0 and now are required")
	}
	return nil
}

// SendResult records a successful send.
type SendResult struct {
	ProviderID string
	At         time.Time
	Delivered  bool // the provider confirmed delivery, not just acceptance
}

// SendFailure records a failed send. A permanent failure is final; a
// temporary one becomes claimable again at RetryAt.
type SendFailure struct {
	Error     string
	At        time.Time
	Permanent bool
	RetryAt   time.Time
}
