package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/internal/pace"
)

// kind is what becomes of a claimed delivery.
type kind int

const (
	skip     kind = iota // nothing recorded (the result was lost)
	sent                 // CompleteDelivery
	retry                // FailDelivery, temporary
	fallback             // FailDelivery, permanent, and a delivery on the next channel
	exhaust              // FailDelivery, permanent, no channel left
	drop                 // FailDelivery, permanent: not to be sent at all
)

// outcome is the result of one claimed delivery, to be recorded.
type outcome struct {
	d          *anpi.Delivery
	contact    anpi.ContactID
	kind       kind
	receipt    channel.Receipt
	errText    string
	retryAt    time.Time
	next       *anpi.Delivery // for fallback
	noContact  bool
	contactErr bool // a failure that belongs to the contact: record it there
	broken     bool // the contact is gone (Unregistered)
}

// fetch returns up to n deliveries of l's channel to send: those handed
// over (Options.Handoff) first, else a claim's.
func (d *Dispatcher) fetch(ctx context.Context, l *lane, n int, probe bool, now time.Time) ([]*anpi.Delivery, error) {
	if h := d.o.Handoff; h != nil {
		if ds := h.take(l.ch, n, now); len(ds) > 0 {
			return ds, nil
		}
	}
	return d.claim(ctx, l, n, probe)
}

// claim claims up to n due deliveries of l's channel. A probe that finds
// nothing is given back.
func (d *Dispatcher) claim(ctx context.Context, l *lane, n int, probe bool) ([]*anpi.Delivery, error) {
	ds, err := d.st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: d.o.Owner, Limit: n, Lease: d.o.Lease, Now: d.clock.Now(),
		Channels: []anpi.Channel{l.ch}})
	if err != nil {
		ds, err = nil, errorf(err, "claim %s deliveries", l.ch)
	}
	if len(ds) == 0 && probe {
		l.breaker.Release()
	}
	return ds, err
}

// abandon puts back deliveries claimed but not sent (Run was stopped
// while they waited for tokens).
func (d *Dispatcher) abandon(ctx context.Context, l *lane, ds []*anpi.Delivery, probe bool) {
	if probe {
		l.breaker.Release()
	}
	d.putBack(ctx, ds)
}

// putBack records deliveries held but never sent (Run was stopped
// first) as due again at once, for this dispatcher or another; ctx may be
// done already (record outlives it).
func (d *Dispatcher) putBack(ctx context.Context, ds []*anpi.Delivery) {
	now := d.clock.Now()
	outs := make([]outcome, len(ds))
	for i, dl := range ds {
		outs[i] = outcome{d: dl, kind: retry, errText: "dispatcher stopped before sending", retryAt: now}
	}
	d.record(ctx, outs)
}

// drain falls back the due deliveries of channels that are not sent here:
// those without a sender, and those whose circuit has been open longer
// than Circuit.Failover.
func (d *Dispatcher) drain(ctx context.Context) (Stats, int, error) {
	now := d.clock.Now()
	chans := append([]anpi.Channel(nil), d.noSender...)
	why := map[anpi.Channel]string{}
	for _, c := range d.noSender {
		why[c] = "no sender for channel " + string(c)
	}
	if d.o.Circuit.Failover > 0 {
		for _, l := range d.lanes {
			since := l.breaker.OpenSince()
			if l.breaker.State(now) == pace.Open && !since.IsZero() && now.Sub(since) >= d.o.Circuit.Failover {
				chans = append(chans, l.ch)
				why[l.ch] = fmt.Sprintf("channel %s failing since %s: %s", l.ch, since.UTC().Format(time.RFC3339), l.breaker.Cause())
			}
		}
	}
	if len(chans) == 0 {
		return Stats{}, 0, nil
	}
	ds, err := d.st.ClaimDeliveries(ctx, anpi.ClaimRequest{Owner: d.o.Owner, Limit: drainBatch, Lease: d.o.Lease, Now: now, Channels: chans})
	if err != nil {
		return Stats{}, 0, errorf(err, "claim deliveries to fall back")
	}
	if len(ds) == 0 {
		return Stats{}, 0, nil
	}
	outs := make([]outcome, len(ds))
	for i, dl := range ds {
		outs[i].d = dl
		d.permanent(&outs[i], now, why[dl.Channel])
	}
	return d.record(ctx, outs), len(ds), nil
}

// process renders and sends claimed deliveries of one channel and records
// the results.
func (d *Dispatcher) process(ctx context.Context, l *lane, ds []*anpi.Delivery, probe bool) Stats {
	// The round goes on even if ctx ends now: the deliveries are claimed,
	// and a send cut short would only be sent again after the lease.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.o.SendTimeout)
	defer cancel()
	outs := make([]outcome, len(ds))
	msgs := make([]*channel.Message, 0, len(ds))
	idx := make([]int, 0, len(ds))
	rs := d.render(sctx, ds)
	now := d.clock.Now()
	for i, dl := range ds {
		o := &outs[i]
		o.d = dl
		m, err := rs[i].Message, rs[i].Err
		o.contact = rs[i].Contact
		if err == nil && m == nil {
			err = anpi.Errorf(anpi.Internal, "dispatch: render delivery %s: no message", dl.ID)
		}
		switch {
		case anpi.Code(err) == anpi.NotFound:
			o.noContact = true
			d.permanent(o, now, fmt.Sprintf("no contact on %s: %v", dl.Channel, err))
		case anpi.Code(err) == anpi.FailedPrecondition:
			o.kind, o.errText = drop, fmt.Sprintf("not sent: %v", err)
		case err != nil:
			d.retry(o, now, fmt.Sprintf("render: %v", err), 0, d.o.MaxAttempts)
		default:
			if m.IdempotencyKey == "" {
				m.IdempotencyKey = dl.IdempotencyKey()
			}
			msgs = append(msgs, m)
			idx = append(idx, i)
		}
	}
	var quota int
	if len(msgs) > 0 {
		res := channel.SendAll(sctx, l.sender, msgs)
		now = d.clock.Now()
		for k, r := range res {
			o := &outs[idx[k]]
			code := channel.Code(r.Err)
			switch code {
			case channel.OK:
				o.kind, o.receipt = sent, r.Receipt
				l.breaker.Success(probe)
			case channel.Permanent, channel.Unregistered:
				l.breaker.Success(probe) // the provider works; the address does not
				o.contactErr, o.broken = true, code == channel.Unregistered
				d.permanent(o, now, r.Err.Error())
			case channel.RateLimited:
				l.breaker.Success(probe)
				quota++
				if l.bucket.Slow(now) {
					d.log.Warn("dispatch: provider refused for quota; slowing down", "channel", l.ch,
						"rate", l.bucket.Rate(now), "error", r.Err)
				}
				ra, _ := channel.RetryAfter(r.Err)
				d.retry(o, now, r.Err.Error(), ra, d.o.MaxAttempts)
			case channel.Misconfigured:
				if l.breaker.Trip(now, r.Err.Error()) {
					d.log.Error("dispatch: sender misconfigured; circuit open", "channel", l.ch,
						"until", l.breaker.OpenUntil(), "error", r.Err)
				}
				ra, _ := channel.RetryAfter(r.Err)
				d.retry(o, now, r.Err.Error(), max(ra, l.breaker.OpenUntil().Sub(now)), d.o.MaxAttempts)
			default: // Temporary, Unknown
				if l.breaker.Failure(now, probe, r.Err.Error()) {
					d.log.Warn("dispatch: provider failing; circuit open", "channel", l.ch,
						"until", l.breaker.OpenUntil(), "error", r.Err)
				}
				attempts := d.o.MaxAttempts
				if code == channel.Unknown {
					attempts = min(attempts, 3)
				}
				ra, _ := channel.RetryAfter(r.Err)
				d.retry(o, now, r.Err.Error(), ra, attempts)
			}
		}
	}
	if probe && len(msgs) == 0 {
		l.breaker.Release()
	}
	st := d.record(ctx, outs)
	if quota > 0 {
		st.RateLimited += quota
		d.count(l.ch, Stats{RateLimited: quota})
	}
	return st
}

// render renders the claimed deliveries ds: with one RenderBatch call
// when the Renderer is a BatchRenderer, else one Render call each. Result
// i is ds[i]'s. A batch call that fails as a whole, or returns a result
// count other than len(ds), gives every delivery its error, which is
// retried like any render error that is neither NotFound nor
// FailedPrecondition.
func (d *Dispatcher) render(ctx context.Context, ds []*anpi.Delivery) []anpi.RenderResult {
	cs := make([]*anpi.Delivery, len(ds))
	for i, dl := range ds {
		cs[i] = dl.Clone()
	}
	br, ok := d.o.Renderer.(BatchRenderer)
	if !ok {
		rs := make([]anpi.RenderResult, len(ds))
		for i, c := range cs {
			r := &rs[i]
			r.Message, r.Contact, r.Err = d.o.Renderer.Render(ctx, c)
		}
		return rs
	}
	rs, err := br.RenderBatch(ctx, cs)
	if err == nil && len(rs) != len(ds) {
		err = anpi.Errorf(anpi.Internal, "dispatch: render batch: %d results for %d deliveries", len(rs), len(ds))
	}
	if err != nil {
		if anpi.Code(err) == anpi.NotFound || anpi.Code(err) == anpi.FailedPrecondition {
			// A failure of the call, not a verdict on each delivery.
			err = anpi.Errorf(anpi.Unavailable, "%v", err)
		}
		rs = make([]anpi.RenderResult, len(ds))
		for i := range rs {
			rs[i].Err = err
		}
	}
	return rs
}

// retry makes o a temporary failure, tried again after the backoff (at
// least wait), or a permanent one once it has had maxAttempts attempts.
func (d *Dispatcher) retry(o *outcome, now time.Time, errText string, wait time.Duration, maxAttempts int) {
	if o.d.Attempts >= maxAttempts {
		d.permanent(o, now, fmt.Sprintf("gave up after %d attempts: %s", o.d.Attempts, errText))
		return
	}
	wait = max(wait, pace.FullJitter(o.d.Attempts, d.o.Backoff.Base, d.o.Backoff.Max, d.int64n))
	o.kind, o.errText, o.retryAt = retry, errText, now.Add(wait)
}

// permanent makes o a final failure on its channel, with a delivery on
// the next channel if there is one.
func (d *Dispatcher) permanent(o *outcome, now time.Time, errText string) {
	o.errText = errText
	nc := d.next[o.d.Channel]
	if nc == "" {
		o.kind = exhaust
		return
	}
	n := &anpi.Delivery{SurveyID: o.d.SurveyID, UserID: o.d.UserID, Channel: nc, Round: o.d.Round,
		State: anpi.Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	n.ID = anpi.DeliveryIDFor(n.Key()) // the engine's scheme: a fallback enqueued twice is one delivery
	o.kind, o.next = fallback, n
}

// record writes the outcomes: all in one transaction, or one by one if
// that fails (so that one delivery whose lease was lost does not lose the
// others' results).
func (d *Dispatcher) record(ctx context.Context, outs []outcome) Stats {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.o.SendTimeout)
	defer cancel()
	now := d.clock.Now()
	err := d.st.InTx(rctx, func(tx anpi.Tx) error {
		for i := range outs {
			if err := d.apply(rctx, tx, &outs[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	var st Stats
	if err != nil {
		for i := range outs {
			o := &outs[i]
			o.next = cloneNext(o.next)
			err := d.st.InTx(rctx, func(tx anpi.Tx) error { return d.apply(rctx, tx, o, now) })
			switch {
			case err == nil:
			case anpi.Code(err) == anpi.FailedPrecondition || anpi.Code(err) == anpi.NotFound:
				st.LeaseLost++
				d.count(o.d.Channel, Stats{LeaseLost: 1})
				d.log.Warn("dispatch: result not recorded: lease lost", "delivery", o.d.ID, "channel", o.d.Channel, "error", err)
				o.kind = skip
			default:
				st.Errors++
				d.count(o.d.Channel, Stats{Errors: 1})
				d.log.Error("dispatch: result not recorded", "delivery", o.d.ID, "channel", o.d.Channel, "error", err)
				o.kind = skip
			}
		}
	}
	woke := false
	for i := range outs {
		o := &outs[i]
		s := Stats{Claimed: 1}
		switch o.kind {
		case sent:
			s.Sent = 1
		case retry:
			s.Retried = 1
		case fallback:
			s.FellBack = 1
			woke = true
		case drop:
			s.Dropped = 1
		case exhaust:
			s.Exhausted = 1
			d.log.Debug("dispatch: delivery failed on every channel", "delivery", o.d.ID, "survey", o.d.SurveyID,
				"user", o.d.UserID, "channel", o.d.Channel, "error", o.errText)
		}
		if o.kind == fallback || o.kind == exhaust {
			if o.noContact {
				s.NoContact = 1
			}
			if o.broken && o.contact != "" {
				s.Broken = 1
			}
		}
		st.Add(s)
		d.count(o.d.Channel, s)
	}
	if woke {
		d.Notify()
	}
	return st
}

func cloneNext(n *anpi.Delivery) *anpi.Delivery {
	if n == nil {
		return nil
	}
	return n.Clone()
}

// apply records one outcome in tx.
func (d *Dispatcher) apply(ctx context.Context, tx anpi.Tx, o *outcome, now time.Time) error {
	id, owner := o.d.ID, d.o.Owner
	switch o.kind {
	case skip:
		return nil
	case sent:
		at := o.receipt.At
		if at.IsZero() {
			at = now
		}
		if err := tx.CompleteDelivery(ctx, id, owner, anpi.SendResult{ProviderID: o.receipt.ProviderID, At: at}); err != nil {
			return errorf(err, "record delivery %s sent", id)
		}
	case retry:
		if err := tx.FailDelivery(ctx, id, owner, anpi.SendFailure{Error: o.errText, At: now, RetryAt: o.retryAt}); err != nil {
			return errorf(err, "record delivery %s failed", id)
		}
	case fallback, exhaust, drop:
		if err := tx.FailDelivery(ctx, id, owner, anpi.SendFailure{Error: o.errText, At: now, Permanent: true}); err != nil {
			return errorf(err, "record delivery %s failed", id)
		}
		if o.next != nil {
			// A delivery already there (the key exists) is left as it is.
			if _, err := tx.EnqueueDeliveries(ctx, []*anpi.Delivery{o.next}); err != nil {
				return errorf(err, "enqueue fallback of delivery %s on %s", id, o.next.Channel)
			}
		}
	}
	if o.contact != "" && o.contactErr {
		c, err := tx.GetContact(ctx, o.contact)
		if anpi.Code(err) == anpi.NotFound {
			return nil // deleted since it was rendered
		}
		if err != nil {
			return errorf(err, "read contact %s", o.contact)
		}
		ck := c.Check
		ck.LastChecked, ck.LastError, ck.LastErrorAt = now, o.errText, now
		ck.Broken = ck.Broken || o.broken
		if err := tx.RecordContactCheck(ctx, o.contact, ck); err != nil {
			return errorf(err, "record check of contact %s", o.contact)
		}
	}
	return nil
}
