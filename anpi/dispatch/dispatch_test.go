package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/dispatch"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/memchan"
)

func TestSendsAndRecords(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel)
	e.user("u1", anpi.FCMContact)
	e.user("u2", anpi.FCMContact)
	ids := e.enqueue(anpi.FCMChannel, "u1", "u2")
	d := e.dispatcher(e.options())

	st := e.step(d)
	require.Equal(t, dispatch.Stats{Claimed: 2, Sent: 2}, st)
	sent := e.senders[anpi.FCMChannel].Sent()
	require.Len(t, sent, 2)
	for i, id := range ids {
		dl := e.delivery(id)
		require.Equal(t, anpi.Sent, dl.State)
		require.Equal(t, 1, dl.Attempts)
		require.Equal(t, t0, dl.SentAt)
		require.Empty(t, dl.LeaseOwner)
		// The delivery's idempotency key is on the message, and the
		// receipt's provider ID is on the delivery.
		require.Equal(t, dl.IdempotencyKey(), sent[i].Message.IdempotencyKey)
		require.Equal(t, sent[i].Receipt.ProviderID, dl.ProviderID)
	}
	require.Equal(t, dispatch.Stats{Claimed: 2, Sent: 2}, d.Totals()[anpi.FCMChannel])
	require.Equal(t, dispatch.Stats{}, e.step(d), "nothing left")
	require.Equal(t, "test", d.Owner())
}

func TestRendererIdempotencyKeyKept(t *testing.T) {
	e := newEnv(t, anpi.EmailChannel)
	e.user("u1", anpi.EmailContact)
	e.enqueue(anpi.EmailChannel, "u1")
	o := e.options()
	o.Renderer = dispatch.RendererFunc(func(ctx context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
		return &channel.Message{To: "u1@example.jp", Text: "x", IdempotencyKey: "mine"}, "", nil
	})
	e.step(e.dispatcher(o))
	require.Equal(t, "mine", e.senders[anpi.EmailChannel].Sent()[0].Message.IdempotencyKey)
}

func TestStepPacesWithTheBucket(t *testing.T) {
	e := newEnv(t, anpi.LINEChannel)
	var users []string
	for i := range 30 {
		u := "u" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		e.user(u, anpi.LINEContact)
		users = append(users, u)
	}
	e.enqueue(anpi.LINEChannel, users...)
	o := e.options()
	o.Limits[anpi.LINEChannel] = dispatch.Limit{Rate: 10, Burst: 8, Batch: 5}
	d := e.dispatcher(o)
	require.Equal(t, dispatch.Limit{Rate: 10, Burst: 8, Batch: 5, Concurrency: 8}, d.Limit(anpi.LINEChannel), "concurrency from the default")

	require.Equal(t, 5, e.step(d).Sent, "a batch")
	require.Equal(t, 3, e.step(d).Sent, "the rest of the burst")
	require.Equal(t, 0, e.step(d).Sent, "no tokens: nothing claimed")
	e.clock.Advance(250 * time.Millisecond)
	require.Equal(t, 2, e.step(d).Sent, "10/s for 250 ms")
	e.clock.Advance(time.Second)
	require.Equal(t, 5, e.step(d).Sent, "10.5 tokens, but the bucket holds 8")
	require.Equal(t, 3, e.step(d).Sent)
	require.Equal(t, 0, e.step(d).Sent)
	require.Len(t, e.senders[anpi.LINEChannel].Sent(), 18, "burst + rate × time, capped by the burst")
	// Unused tokens go back: a step that finds less than its batch, or
	// nothing, costs only what it sent.
	e.clock.Advance(time.Hour)
	require.Equal(t, 5, e.step(d).Sent)
	require.Equal(t, 3, e.step(d).Sent)
	e.clock.Advance(time.Hour)
	require.Equal(t, 4, e.step(d).Sent, "the last 4 of 30")
	require.Equal(t, 0, e.step(d).Sent)
	for _, u := range []string{"w1", "w2", "w3", "w4"} {
		e.user(u, anpi.LINEContact)
	}
	e.enqueue(anpi.LINEChannel, "w1", "w2", "w3", "w4")
	require.Equal(t, 4, e.step(d).Sent, "8 − 4 tokens: the empty step gave its tokens back")
	require.Equal(t, 0, e.step(d).Sent)
}

func TestRetryBackoffWithJitter(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel)
	e.user("u1", anpi.FCMContact, anpi.EmailContact)
	id := e.enqueue(anpi.FCMChannel, "u1")[0]
	fcm := e.senders[anpi.FCMChannel]
	fcm.FailWith(address("u1", anpi.FCMContact), channel.Errorf(channel.Temporary, "fcm: 503 unavailable"))
	o := e.options()
	o.Backoff = dispatch.Backoff{Base: time.Second, Max: 10 * time.Second}
	o.MaxAttempts = 6
	o.Circuit.Failures = 100
	d := e.dispatcher(o)

	var waits []time.Duration
	for attempt := 1; attempt < 6; attempt++ {
		st := e.step(d)
		require.Equal(t, dispatch.Stats{Claimed: 1, Retried: 1}, st, "attempt %d", attempt)
		dl := e.delivery(id)
		require.Equal(t, anpi.FailedTemporary, dl.State)
		require.Equal(t, attempt, dl.Attempts)
		require.Equal(t, "fcm: 503 unavailable", dl.LastError)
		wait := dl.NextAttemptAt.Sub(e.clock.Now())
		ceiling := min(time.Second<<(attempt-1), 10*time.Second)
		require.GreaterOrEqual(t, wait, time.Duration(0))
		require.LessOrEqual(t, wait, ceiling, "full jitter under min(Max, Base·2^(n-1)) at attempt %d", attempt)
		waits = append(waits, wait)
		if wait > 0 {
			e.clock.Advance(wait - time.Nanosecond)
			require.Zero(t, e.step(d).Claimed, "not before NextAttemptAt")
		}
		e.clock.Advance(time.Nanosecond)
	}
	// The waits are jittered, not the deterministic ceiling.
	require.NotEqual(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second}, waits)
	// The sixth attempt is the last one on FCM: it falls back to email.
	// (The email lane comes after FCM in the step and sends it at once.)
	st := e.step(d)
	require.Equal(t, dispatch.Stats{Claimed: 2, Sent: 1, FellBack: 1}, st)
	dl := e.delivery(id)
	require.Equal(t, anpi.FailedPermanent, dl.State)
	require.Contains(t, dl.LastError, "gave up after 6 attempts")
	require.Equal(t, anpi.Sent, e.deliveries()["u1/email"].State)
	require.Equal(t, []string{"u1@example.jp"}, sentTo(e.senders[anpi.EmailChannel]))
	// The broken provider does not mark the contact: it is not its fault.
	require.Empty(t, e.contact("u1", anpi.FCMContact).Check.LastError)
}

func TestRetryAfterHonouredAndBucketSlowed(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel)
	var users []string
	for _, u := range []string{"u1", "u2", "u3", "u4"} {
		e.user(u, anpi.FCMContact)
		users = append(users, u)
	}
	ids := e.enqueue(anpi.FCMChannel, users...)
	fcm := e.senders[anpi.FCMChannel]
	fcm.FailWith(address("u1", anpi.FCMContact), channel.WithRetryAfter(
		channel.Errorf(channel.RateLimited, "fcm: 429 QUOTA_EXCEEDED"), 30*time.Second))
	o := e.options()
	o.Limits[anpi.FCMChannel] = dispatch.Limit{Rate: 100, Burst: 10, Batch: 1}
	o.Backoff = dispatch.Backoff{Base: time.Second, Max: 5 * time.Second}
	d := e.dispatcher(o)

	st := e.step(d)
	require.Equal(t, dispatch.Stats{Claimed: 1, Retried: 1, RateLimited: 1}, st)
	dl := e.delivery(ids[0])
	require.Equal(t, anpi.FailedTemporary, dl.State)
	require.Equal(t, t0.Add(30*time.Second), dl.NextAttemptAt, "Retry-After beats a shorter backoff")
	// The 429 emptied the bucket: the burst left is gone.
	require.Zero(t, e.step(d).Claimed)
	// And slowed it to 70/s: in 100 ms, 7 tokens, not 10.
	e.clock.Advance(100 * time.Millisecond)
	n := 0
	for e.step(d).Claimed > 0 {
		n++
	}
	require.Equal(t, 3, n, "the other three")
	require.Equal(t, dispatch.Stats{Claimed: 4, Sent: 3, Retried: 1, RateLimited: 1}, d.Totals()[anpi.FCMChannel])
	e.clock.Advance(30 * time.Second)
	fcm.Clear(address("u1", anpi.FCMContact))
	require.Equal(t, 1, e.step(d).Sent)
	require.Equal(t, anpi.Sent, e.delivery(ids[0]).State)
	require.Equal(t, dispatch.CircuitClosed, d.Circuit(anpi.FCMChannel).State, "quota refusals do not open the circuit")
}

func TestCircuitOpensAndHalfOpens(t *testing.T) {
	e := newEnv(t, anpi.APNsChannel)
	var users []string
	for i := range 6 {
		u := "u" + string(rune('1'+i))
		e.user(u, anpi.APNsContact)
		users = append(users, u)
	}
	e.enqueue(anpi.APNsChannel, users...)
	apns := e.senders[anpi.APNsChannel]
	for _, u := range users {
		apns.FailWith(address(u, anpi.APNsContact), channel.Errorf(channel.Temporary, "apns: 503 shutdown"))
	}
	o := e.options()
	o.Limits[anpi.APNsChannel] = dispatch.Limit{Rate: 1000, Burst: 100, Batch: 2}
	o.Circuit = dispatch.Circuit{Failures: 3, Cooldown: time.Minute, Failover: -1}
	o.Backoff = dispatch.Backoff{Base: time.Millisecond, Max: time.Millisecond}
	d := e.dispatcher(o)

	require.Equal(t, 2, e.step(d).Retried)
	require.Equal(t, dispatch.CircuitClosed, d.Circuit(anpi.APNsChannel).State)
	require.Equal(t, 2, e.step(d).Retried)
	cs := d.Circuit(anpi.APNsChannel)
	require.Equal(t, dispatch.CircuitOpen, cs.State, "3 consecutive failures")
	require.Equal(t, t0, cs.OpenSince)
	require.Equal(t, t0.Add(time.Minute), cs.OpenUntil)
	require.Equal(t, "apns: 503 shutdown", cs.Cause)

	e.clock.Advance(59 * time.Second)
	require.Zero(t, e.step(d).Claimed, "open: nothing claimed although deliveries are due")
	e.clock.Advance(time.Second)
	require.Equal(t, dispatch.CircuitHalfOpen, d.Circuit(anpi.APNsChannel).State)
	require.Equal(t, dispatch.Stats{Claimed: 1, Retried: 1}, e.step(d), "one probe")
	require.Equal(t, dispatch.CircuitOpen, d.Circuit(anpi.APNsChannel).State, "the probe failed")
	require.Equal(t, t0.Add(2*time.Minute), d.Circuit(anpi.APNsChannel).OpenUntil)
	require.Equal(t, t0, d.Circuit(anpi.APNsChannel).OpenSince)

	for _, u := range users {
		apns.Clear(address(u, anpi.APNsContact))
	}
	e.clock.Advance(time.Minute)
	require.Equal(t, dispatch.Stats{Claimed: 1, Sent: 1}, e.step(d), "one probe")
	require.Equal(t, dispatch.CircuitClosed, d.Circuit(anpi.APNsChannel).State)
	require.Equal(t, dispatch.CircuitStatus{}, d.Circuit(anpi.APNsChannel))
	require.Equal(t, 2, e.step(d).Sent, "closed: full batches again")
	require.Equal(t, "closed open half-open", dispatch.CircuitClosed.String()+" "+dispatch.CircuitOpen.String()+" "+dispatch.CircuitHalfOpen.String())
}

func TestMisconfiguredOpensCircuitAtOnce(t *testing.T) {
	e := newEnv(t, anpi.EmailChannel)
	e.user("u1", anpi.EmailContact)
	e.user("u2", anpi.EmailContact)
	ids := e.enqueue(anpi.EmailChannel, "u1", "u2")
	e.senders[anpi.EmailChannel].FailWith(address("u1", anpi.EmailContact),
		channel.Errorf(channel.Misconfigured, "email: 535 authentication failed"))
	o := e.options()
	o.Limits[anpi.EmailChannel] = dispatch.Limit{Batch: 1}
	o.Circuit.Cooldown = 10 * time.Minute
	o.Circuit.Failover = -1
	d := e.dispatcher(o)
	require.Equal(t, dispatch.Stats{Claimed: 1, Retried: 1}, e.step(d))
	require.Equal(t, dispatch.CircuitOpen, d.Circuit(anpi.EmailChannel).State)
	require.Equal(t, t0.Add(10*time.Minute), e.delivery(ids[0]).NextAttemptAt, "retried when the circuit half-opens")
	require.Zero(t, e.step(d).Claimed)
	require.Equal(t, anpi.Queued, e.delivery(ids[1]).State, "the queue is not burnt through")
	require.Equal(t, dispatch.CircuitStatus{}, d.Circuit(anpi.SMSChannel), "no sender, no circuit")
}

func TestFallbackPermanentEmailToSMS(t *testing.T) {
	e := newEnv(t, anpi.EmailChannel, anpi.SMSChannel)
	e.user("u1", anpi.EmailContact, anpi.PhoneContact)
	id := e.enqueue(anpi.EmailChannel, "u1")[0]
	e.senders[anpi.EmailChannel].FailWith(address("u1", anpi.EmailContact),
		channel.Errorf(channel.Permanent, "email: 550 5.1.1 user unknown"))
	o := e.options()
	o.Fallback = []anpi.Channel{anpi.EmailChannel, anpi.SMSChannel}
	d := e.dispatcher(o)

	st := e.step(d)
	require.Equal(t, 1, st.FellBack)
	ds := e.deliveries()
	require.Equal(t, anpi.FailedPermanent, ds["u1/email"].State)
	require.Equal(t, "email: 550 5.1.1 user unknown", ds["u1/email"].LastError)
	sms := ds["u1/sms"]
	require.NotNil(t, sms, "a delivery on the next channel, in the same transaction")
	require.Equal(t, survey, sms.SurveyID)
	require.Equal(t, 0, sms.Round)
	require.Empty(t, sms.ContactID)
	// The round sent SMS too (it comes after email in the lanes).
	require.Equal(t, anpi.Sent, sms.State)
	require.Equal(t, []string{address("u1", anpi.PhoneContact)}, sentTo(e.senders[anpi.SMSChannel]))
	require.Equal(t, string(survey)+"/u1/sms//0", e.senders[anpi.SMSChannel].Sent()[0].Message.IdempotencyKey)
	// The contact remembers the error, but is not broken.
	c := e.contact("u1", anpi.EmailContact).Check
	require.Equal(t, "email: 550 5.1.1 user unknown", c.LastError)
	require.Equal(t, t0, c.LastErrorAt)
	require.False(t, c.Broken)
	require.NotEqual(t, id, sms.ID)
}

func TestNoContactFallsBack(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel, anpi.LINEChannel, anpi.EmailChannel)
	e.user("u1", anpi.EmailContact) // no app, no LINE
	e.enqueue(anpi.FCMChannel, "u1")
	d := e.dispatcher(e.options())
	st := e.step(d)
	// FCM: no contact → LINE (in the same step, after FCM): no contact →
	// email, sent in the same step too.
	require.Equal(t, dispatch.Stats{Claimed: 3, Sent: 1, FellBack: 2, NoContact: 2}, st)
	require.Equal(t, "u1/email:sent u1/fcm:failed_permanent u1/line:failed_permanent", states(e))
	require.Contains(t, e.deliveries()["u1/fcm"].LastError, "no contact on fcm")
	require.Equal(t, []string{"u1@example.jp"}, sentTo(e.senders[anpi.EmailChannel]))
}

func TestNoSenderFallsBack(t *testing.T) {
	e := newEnv(t, anpi.EmailChannel)
	e.user("u1", anpi.EmailContact)
	// The engine queued on APNs, which this dispatcher has no sender for;
	// LINE, next in the order, has none either.
	e.enqueue(anpi.APNsChannel, "u1")
	d := e.dispatcher(e.options())
	st := e.step(d)
	require.Equal(t, dispatch.Stats{Claimed: 2, Sent: 1, FellBack: 1}, st)
	require.Equal(t, "u1/apns:failed_permanent u1/email:sent", states(e))
	require.Equal(t, "no sender for channel apns", e.deliveries()["u1/apns"].LastError)
}

func TestUnregisteredMarksContactBroken(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel)
	e.user("u1", anpi.FCMContact, anpi.EmailContact)
	require.NoError(t, e.st.RecordContactCheck(e.ctx, contactID("u1", anpi.FCMContact), anpi.ContactCheck{Verified: true, VerifiedAt: t0.Add(-time.Hour)}))
	e.enqueue(anpi.FCMChannel, "u1")
	e.senders[anpi.FCMChannel].FailWith(address("u1", anpi.FCMContact),
		channel.Errorf(channel.Unregistered, "fcm: 404 UNREGISTERED"))
	d := e.dispatcher(e.options())
	e.clock.Advance(time.Second)
	st := e.step(d)
	require.Equal(t, dispatch.Stats{Claimed: 2, Sent: 1, FellBack: 1, Broken: 1}, st)
	c := e.contact("u1", anpi.FCMContact).Check
	require.True(t, c.Broken)
	require.Equal(t, "fcm: 404 UNREGISTERED", c.LastError)
	require.Equal(t, t0.Add(time.Second), c.LastErrorAt)
	require.Equal(t, t0.Add(time.Second), c.LastChecked)
	require.True(t, c.Verified, "the rest of the check state is kept")
	require.Equal(t, "u1/email:sent u1/fcm:failed_permanent", states(e))
	// The provider works: the circuit is not affected.
	require.Equal(t, dispatch.CircuitClosed, d.Circuit(anpi.FCMChannel).State)
}

func TestExhaustion(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel)
	e.user("u1", anpi.FCMContact, anpi.EmailContact)
	e.user("u2") // no contacts at all
	e.enqueue(anpi.FCMChannel, "u1", "u2")
	e.senders[anpi.FCMChannel].FailWith(address("u1", anpi.FCMContact), channel.Errorf(channel.Permanent, "fcm: 400 INVALID_ARGUMENT"))
	e.senders[anpi.EmailChannel].FailWith(address("u1", anpi.EmailContact), channel.Errorf(channel.Permanent, "email: 550 5.1.1"))
	o := e.options()
	o.Fallback = []anpi.Channel{anpi.FCMChannel, anpi.EmailChannel}
	d := e.dispatcher(o)
	st := e.step(d)
	require.Equal(t, dispatch.Stats{Claimed: 4, FellBack: 2, Exhausted: 2, NoContact: 2}, st)
	require.Equal(t, "u1/email:failed_permanent u1/fcm:failed_permanent u2/email:failed_permanent u2/fcm:failed_permanent", states(e))
	require.Equal(t, dispatch.Stats{}, e.step(d), "nothing more happens")
	counts, err := e.st.CountDeliveries(e.ctx, survey)
	require.NoError(t, err)
	require.Equal(t, map[anpi.DeliveryState]int{anpi.FailedPermanent: 4}, counts)
}

func TestFallbackAlreadyThereIsNotDuplicated(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel)
	e.user("u1", anpi.EmailContact)
	e.enqueue(anpi.FCMChannel, "u1")
	// The engine (or an earlier fallback) queued email already.
	e.enqueue(anpi.EmailChannel, "u1")
	d := e.dispatcher(e.options())
	st := e.step(d)
	require.Equal(t, 1, st.Sent)
	require.Len(t, e.senders[anpi.EmailChannel].Sent(), 1, "one email, not two")
}

func TestLeaseExpiryReclaims(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel)
	e.user("u1", anpi.FCMContact)
	id := e.enqueue(anpi.FCMChannel, "u1")[0]
	// Another dispatcher claims it and crashes.
	got, err := e.st.ClaimDeliveries(e.ctx, anpi.ClaimRequest{Owner: "crashed", Limit: 10, Lease: time.Minute, Now: t0})
	require.NoError(t, err)
	require.Len(t, got, 1)
	o := e.options()
	o.Lease = time.Minute
	d := e.dispatcher(o)
	require.Zero(t, e.step(d).Claimed, "leased to someone else")
	e.clock.Advance(time.Minute)
	require.Equal(t, 1, e.step(d).Sent)
	dl := e.delivery(id)
	require.Equal(t, anpi.Sent, dl.State)
	require.Equal(t, 2, dl.Attempts)
	// Sent with the same idempotency key a provider can deduplicate on.
	require.Equal(t, dl.IdempotencyKey(), e.senders[anpi.FCMChannel].Sent()[0].Message.IdempotencyKey)
}

func TestLeaseLostWhileSending(t *testing.T) {
	e := newEnv(t, anpi.EmailChannel)
	e.user("u1", anpi.EmailContact)
	e.user("u2", anpi.EmailContact)
	ids := e.enqueue(anpi.EmailChannel, "u1", "u2")
	o := e.options()
	o.Lease = time.Minute
	o.SendTimeout = 30 * time.Second
	var stolen bool
	o.Renderer = dispatch.RendererFunc(func(ctx context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
		if !stolen {
			// The send takes longer than the lease: another dispatcher
			// takes u1 over.
			stolen = true
			e.clock.Advance(2 * time.Minute)
			got, err := e.st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: "other", Limit: 1, Lease: time.Minute, Now: e.clock.Now()})
			require.NoError(t, err)
			require.Len(t, got, 1)
		}
		return e.render(ctx, d)
	})
	d := e.dispatcher(o)
	st := e.step(d)
	require.Equal(t, dispatch.Stats{Claimed: 2, Sent: 1, LeaseLost: 1}, st, "u2's result is kept")
	require.Equal(t, "other", e.delivery(ids[0]).LeaseOwner)
	require.Equal(t, anpi.Sent, e.delivery(ids[1]).State)
}

func TestCancelledSurveyIsNeverClaimed(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel)
	e.user("u1", anpi.FCMContact)
	e.user("u2", anpi.FCMContact)
	ids := e.enqueue(anpi.FCMChannel, "u1", "u2")
	e.senders[anpi.FCMChannel].FailWith(address("u2", anpi.FCMContact), channel.Errorf(channel.Temporary, "fcm: 503"))
	d := e.dispatcher(e.options())
	require.Equal(t, dispatch.Stats{Claimed: 2, Sent: 1, Retried: 1}, e.step(d))
	n, err := e.st.CancelDeliveries(e.ctx, survey, e.clock.Now())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	e.senders[anpi.FCMChannel].Clear(address("u2", anpi.FCMContact))
	e.clock.Advance(time.Hour)
	require.Equal(t, dispatch.Stats{}, e.step(d))
	require.Equal(t, anpi.CancelledState, e.delivery(ids[1]).State)
	require.Len(t, e.senders[anpi.FCMChannel].Sent(), 1)
}

func TestRenderErrorIsRetried(t *testing.T) {
	e := newEnv(t, anpi.EmailChannel)
	e.user("u1", anpi.EmailContact)
	id := e.enqueue(anpi.EmailChannel, "u1")[0]
	o := e.options()
	fail := true
	o.Renderer = dispatch.RendererFunc(func(ctx context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
		if fail {
			return nil, "", anpi.Errorf(anpi.Unavailable, "database is busy")
		}
		return e.render(ctx, d)
	})
	o.Backoff = dispatch.Backoff{Base: time.Second, Max: time.Second}
	d := e.dispatcher(o)
	require.Equal(t, dispatch.Stats{Claimed: 1, Retried: 1}, e.step(d))
	require.Equal(t, "render: database is busy", e.delivery(id).LastError)
	require.Equal(t, dispatch.CircuitClosed, d.Circuit(anpi.EmailChannel).State)
	fail = false
	e.clock.Advance(time.Second)
	require.Equal(t, 1, e.step(d).Sent)
}

func TestFailoverAfterLongOutage(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel)
	e.user("u1", anpi.FCMContact, anpi.EmailContact)
	e.user("u2", anpi.FCMContact, anpi.EmailContact)
	e.enqueue(anpi.FCMChannel, "u1")
	fcm := e.senders[anpi.FCMChannel]
	for _, u := range []string{"u1", "u2"} {
		fcm.FailWith(address(u, anpi.FCMContact), channel.Errorf(channel.Temporary, "fcm: 503"))
	}
	o := e.options()
	o.Circuit = dispatch.Circuit{Failures: 1, Cooldown: time.Minute, Failover: 3 * time.Minute}
	o.Backoff = dispatch.Backoff{Base: time.Second, Max: time.Second}
	o.MaxAttempts = 100
	d := e.dispatcher(o)
	require.Equal(t, 1, e.step(d).Retried)
	require.Equal(t, dispatch.CircuitOpen, d.Circuit(anpi.FCMChannel).State)
	e.enqueue(anpi.FCMChannel, "u2")
	// Probes keep failing for three minutes.
	for range 3 {
		e.clock.Advance(time.Minute)
		require.Equal(t, dispatch.Stats{Claimed: 1, Retried: 1}, e.step(d))
	}
	require.Equal(t, t0, d.Circuit(anpi.FCMChannel).OpenSince)
	e.clock.Advance(time.Second) // past the backoff, still in the cooldown
	require.Equal(t, dispatch.CircuitOpen, d.Circuit(anpi.FCMChannel).State)
	st := e.step(d)
	require.Equal(t, 2, st.FellBack, "both fall back to email without a try")
	require.Equal(t, 2, st.Sent)
	require.Contains(t, e.deliveries()["u2/fcm"].LastError, "channel fcm failing since 2026-03-11T05:46:00Z: fcm: 503")
	require.Len(t, fcm.Sent(), 0)
}

func TestNewValidates(t *testing.T) {
	e := newEnv(t, anpi.EmailChannel)
	good := e.options()
	for name, edit := range map[string]func(o *dispatch.Options){
		"no renderer":       func(o *dispatch.Options) { o.Renderer = nil },
		"no senders":        func(o *dispatch.Options) { o.Senders = nil },
		"wrong kind":        func(o *dispatch.Options) { o.Senders[anpi.SMSChannel] = e.senders[anpi.EmailChannel] },
		"nil sender":        func(o *dispatch.Options) { o.Senders[anpi.SMSChannel] = nil },
		"unknown sender":    func(o *dispatch.Options) { o.Senders["pigeon"] = e.senders[anpi.EmailChannel] },
		"unknown fallback":  func(o *dispatch.Options) { o.Fallback = []anpi.Channel{"pigeon"} },
		"twice in fallback": func(o *dispatch.Options) { o.Fallback = []anpi.Channel{anpi.EmailChannel, anpi.EmailChannel} },
		"unknown limit":     func(o *dispatch.Options) { o.Limits["pigeon"] = dispatch.Limit{} },
		"negative limit":    func(o *dispatch.Options) { o.Limits[anpi.EmailChannel] = dispatch.Limit{Rate: -1} },
		"send outlives":     func(o *dispatch.Options) { o.Lease, o.SendTimeout = time.Minute, time.Minute },
		"backoff":           func(o *dispatch.Options) { o.Backoff = dispatch.Backoff{Base: time.Minute, Max: time.Second} },
	} {
		o := *good
		o.Senders = map[anpi.Channel]channel.Sender{anpi.EmailChannel: e.senders[anpi.EmailChannel]}
		o.Limits = map[anpi.Channel]dispatch.Limit{}
		edit(&o)
		_, err := dispatch.New(e.st, &o)
		require.Error(t, err, name)
		require.Equal(t, anpi.InvalidArgument, anpi.Code(err), name)
	}
	_, err := dispatch.New(nil, good)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	_, err = dispatch.New(e.st, nil)
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))

	// Defaults.
	d, err := dispatch.New(e.st, &dispatch.Options{Renderer: good.Renderer,
		Senders: map[anpi.Channel]channel.Sender{anpi.FCMChannel: memchan.New(&memchan.Options{Kind: channel.FCM})}})
	require.NoError(t, err)
	require.NotEmpty(t, d.Owner())
	require.Equal(t, dispatch.DefaultLimit(anpi.FCMChannel), d.Limit(anpi.FCMChannel))
	require.Equal(t, dispatch.Limit{}, d.Limit(anpi.EmailChannel))
	require.Equal(t, 9500.0, dispatch.DefaultLimit(anpi.FCMChannel).Rate)
	require.Equal(t, 1.0, dispatch.DefaultLimit(anpi.VoiceChannel).Rate)
	require.Equal(t, anpi.DefaultChannels(), dispatch.DefaultFallback())
}

func TestRenderFailedPreconditionDrops(t *testing.T) {
	e := newEnv(t, anpi.FCMChannel, anpi.EmailChannel)
	e.user("u1", anpi.FCMContact, anpi.EmailContact)
	id := e.enqueue(anpi.FCMChannel, "u1")[0]
	o := e.options()
	o.Renderer = dispatch.RendererFunc(func(ctx context.Context, d *anpi.Delivery) (*channel.Message, anpi.ContactID, error) {
		return nil, "", anpi.Errorf(anpi.FailedPrecondition, "survey s1 is closed")
	})
	d := e.dispatcher(o)
	require.Equal(t, dispatch.Stats{Claimed: 1, Dropped: 1}, e.step(d))
	dl := e.delivery(id)
	require.Equal(t, anpi.FailedPermanent, dl.State)
	require.Equal(t, "not sent: survey s1 is closed", dl.LastError)
	require.Equal(t, "u1/fcm:failed_permanent", states(e), "no fallback")
	require.Empty(t, e.senders[anpi.FCMChannel].Sent())
}
