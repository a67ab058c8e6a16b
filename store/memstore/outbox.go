package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// setDelivery replaces old with nw (either may be nil), keeping the maps and
// the claim indexes in step, and records the undo.
func (t *tx) setDelivery(old, nw *anpi.Delivery) {
	t.d.replaceDelivery(old, nw)
	t.undo = append(t.undo, func() { t.d.replaceDelivery(nw, old) })
}

func (d *data) replaceDelivery(old, nw *anpi.Delivery) {
	if old != nil {
		d.ready[old.Channel].remove(old.ID)
		d.leased[old.Channel].remove(old.ID)
		delete(d.deliveries, old.ID)
		delete(d.byKey, old.Key())
		delete(d.surveyDeliveries[old.SurveyID], old.ID)
	}
	if nw != nil {
		d.deliveries[nw.ID] = nw
		d.byKey[nw.Key()] = nw.ID
		sd := d.surveyDeliveries[nw.SurveyID]
		if sd == nil {
			sd = map[anpi.DeliveryID]struct{}{}
			d.surveyDeliveries[nw.SurveyID] = sd
		}
		sd[nw.ID] = struct{}{}
		switch nw.State {
		case anpi.Queued, anpi.FailedTemporary:
			d.ready[nw.Channel].add(nw)
		case anpi.Sending:
			d.leased[nw.Channel].add(nw)
		}
	}
}

// claimOrder orders deliveries as claims take them: NextAttemptAt, then ID.
func claimOrder(a, b *anpi.Delivery) int {
	if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
		return c
	}
	return strings.Compare(string(a.ID), string(b.ID))
}

func (t *tx) EnqueueDeliveries(ctx context.Context, ds []*anpi.Delivery) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	n := 0
	for i, d := range ds {
		if d == nil {
			return 0, anpi.Errorf(anpi.InvalidArgument, "memstore: enqueue deliveries: delivery %d is nil", i+1)
		}
		if err := d.Validate(); err != nil {
			return 0, wrap("enqueue deliveries", err)
		}
		if _, err := t.survey("enqueue delivery "+string(d.ID), d.SurveyID); err != nil {
			return 0, err
		}
		if _, ok := t.d.byKey[d.Key()]; ok {
			continue
		}
		if _, ok := t.d.deliveries[d.ID]; ok {
			return 0, anpi.Errorf(anpi.AlreadyExists, "memstore: enqueue delivery %s: the id is taken by another delivery", d.ID)
		}
		c := d.Clone()
		if c.CreatedAt.IsZero() {
			c.CreatedAt = t.now()
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = c.CreatedAt
		}
		t.setDelivery(nil, c)
		n++
	}
	return n, nil
}

func (t *tx) ClaimDeliveries(ctx context.Context, req anpi.ClaimRequest) ([]*anpi.Delivery, error) {
	if err := t.beginWrite(ctx); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, wrap("claim deliveries", err)
	}
	chans := req.Channels
	if len(chans) == 0 {
		chans = allChannels()
	}
	chans = slices.Compact(slices.Sorted(slices.Values(chans)))
	var expired []*anpi.Delivery
	for _, c := range chans {
		if !c.Valid() {
			return nil, anpi.Errorf(anpi.InvalidArgument, "memstore: claim deliveries: unknown channel %q", c)
		}
		expired = append(expired, t.d.leased[c].upTo(req.Now)...)
	}
	slices.SortFunc(expired, claimOrder)
	out := []*anpi.Delivery{}
	for len(out) < req.Limit {
		var next *anpi.Delivery
		for _, c := range chans {
			d := t.d.ready[c].min()
			if d != nil && !d.NextAttemptAt.After(req.Now) && (next == nil || claimOrder(d, next) < 0) {
				next = d
			}
		}
		if len(expired) > 0 && (next == nil || claimOrder(expired[0], next) < 0) {
			next, expired = expired[0], expired[1:]
		}
		if next == nil {
			break
		}
		c := next.Clone()
		c.State = anpi.Sending
		c.LeaseOwner = req.Owner
		c.LeaseUntil = req.Now.Add(req.Lease)
		c.Attempts++
		c.UpdatedAt = req.Now
		t.setDelivery(next, c)
		out = append(out, c.Clone())
	}
	return out, nil
}

// held returns the delivery id when owner holds it.
func (t *tx) held(op string, id anpi.DeliveryID, owner string) (*anpi.Delivery, error) {
	if owner == "" {
		return nil, anpi.Errorf(anpi.InvalidArgument, "memstore: %s delivery %s: owner is required", op, id)
	}
	d, ok := t.d.deliveries[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: %s delivery %s: does not exist", op, id)
	}
	if d.State != anpi.Sending {
		return nil, anpi.Errorf(anpi.FailedPrecondition, "memstore: %s delivery %s: it is %s, not sending", op, id, d.State)
	}
	if d.LeaseOwner != owner {
		return nil, anpi.Errorf(anpi.FailedPrecondition, "memstore: %s delivery %s: %s does not hold the lease (%s does)", op, id, owner, d.LeaseOwner)
	}
	return d, nil
}

func (t *tx) CompleteDelivery(ctx context.Context, id anpi.DeliveryID, owner string, r anpi.SendResult) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	d, err := t.held("complete", id, owner)
	if err != nil {
		return err
	}
	at := r.At
	if at.IsZero() {
		at = t.now()
	}
	c := d.Clone()
	c.State = anpi.Sent
	if r.Delivered {
		c.State = anpi.Delivered
	}
	c.ProviderID = r.ProviderID
	c.SentAt, c.UpdatedAt = at, at
	c.LeaseOwner, c.LeaseUntil = "", time.Time{}
	c.LastError = ""
	t.setDelivery(d, c)
	return nil
}

func (t *tx) FailDelivery(ctx context.Context, id anpi.DeliveryID, owner string, f anpi.SendFailure) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	d, err := t.held("fail", id, owner)
	if err != nil {
		return err
	}
	at := f.At
	if at.IsZero() {
		at = t.now()
	}
	c := d.Clone()
	c.LastError = f.Error
	c.UpdatedAt = at
	c.LeaseOwner, c.LeaseUntil = "", time.Time{}
	if f.Permanent {
		c.State = anpi.FailedPermanent
	} else {
		c.State = anpi.FailedTemporary
		c.NextAttemptAt = f.RetryAt
		if c.NextAttemptAt.IsZero() {
			c.NextAttemptAt = at
		}
	}
	t.setDelivery(d, c)
	return nil
}

func (t *tx) MarkDelivered(ctx context.Context, id anpi.DeliveryID, at time.Time) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	d, ok := t.d.deliveries[id]
	if !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: mark delivery %s delivered: does not exist", id)
	}
	switch d.State {
	case anpi.Delivered:
		return nil
	case anpi.Sent:
	default:
		return anpi.Errorf(anpi.FailedPrecondition, "memstore: mark delivery %s delivered: it is %s, not sent", id, d.State)
	}
	if at.IsZero() {
		at = t.now()
	}
	c := d.Clone()
	c.State = anpi.Delivered
	c.UpdatedAt = at
	t.setDelivery(d, c)
	return nil
}

func (t *tx) CancelDeliveries(ctx context.Context, s anpi.SurveyID, at time.Time) (int, error) {
	return t.cancelDeliveries(ctx, "cancel deliveries", s, nil, at)
}

func (t *tx) CancelUserDeliveries(ctx context.Context, s anpi.SurveyID, users []anpi.UserID, at time.Time) (int, error) {
	only := make(map[anpi.UserID]bool, len(users))
	for _, u := range users {
		only[u] = true
	}
	return t.cancelDeliveries(ctx, "cancel deliveries of users", s, only, at)
}

// cancelDeliveries cancels the Queued and FailedTemporary deliveries of
// survey s, only those of the users in only when it is not nil.
func (t *tx) cancelDeliveries(ctx context.Context, op string, s anpi.SurveyID, only map[anpi.UserID]bool, at time.Time) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	if _, err := t.survey(op, s); err != nil {
		return 0, err
	}
	if only != nil && len(only) == 0 {
		return 0, nil
	}
	if at.IsZero() {
		at = t.now()
	}
	n := 0
	for _, id := range sortedKeys(t.d.surveyDeliveries[s]) {
		d := t.d.deliveries[id]
		if d.State != anpi.Queued && d.State != anpi.FailedTemporary {
			continue
		}
		if only != nil && !only[d.UserID] {
			continue
		}
		c := d.Clone()
		c.State = anpi.CancelledState
		c.UpdatedAt = at
		t.setDelivery(d, c)
		n++
	}
	return n, nil
}

func (t *tx) GetDelivery(ctx context.Context, id anpi.DeliveryID) (*anpi.Delivery, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	d, ok := t.d.deliveries[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: delivery %s does not exist", id)
	}
	return d.Clone(), nil
}

func (t *tx) Deliveries(ctx context.Context, s anpi.SurveyID) ([]*anpi.Delivery, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if _, err := t.survey("list deliveries", s); err != nil {
		return nil, err
	}
	out := []*anpi.Delivery{}
	for _, id := range sortedKeys(t.d.surveyDeliveries[s]) {
		out = append(out, t.d.deliveries[id].Clone())
	}
	return out, nil
}

func (t *tx) CountDeliveries(ctx context.Context, s anpi.SurveyID) (map[anpi.DeliveryState]int, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if _, err := t.survey("count deliveries", s); err != nil {
		return nil, err
	}
	out := map[anpi.DeliveryState]int{}
	for id := range t.d.surveyDeliveries[s] {
		out[t.d.deliveries[id].State]++
	}
	return out, nil
}
