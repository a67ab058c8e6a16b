package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
)

const deliveryCols = "id, survey_id, user_id, channel, contact_id, round, state, attempts, next_at, lease_owner, lease_until, last_error, provider_id, created_at, updated_at, sent_at"

// enqueueCols are the columns EnqueueDeliveries binds: a new delivery has
// no lease (lease_owner ”, lease_until NULL).
const enqueueCols = "id, survey_id, user_id, channel, contact_id, round, state, attempts, next_at, last_error, provider_id, created_at, updated_at, sent_at"

// allChannels are the channels anpi.Channel.Valid accepts, the only ones
// EnqueueDeliveries stores: a claim that names no channel claims each of
// them.
var allChannels = []anpi.Channel{anpi.EmailChannel, anpi.FCMChannel, anpi.APNsChannel, anpi.LINEChannel, anpi.SMSChannel, anpi.VoiceChannel}

type scanner interface{ Scan(dest ...any) error }

func scanDelivery(sc scanner) (*anpi.Delivery, error) {
	var d anpi.Delivery
	var id, survey, user, channel, contact, state string
	var next int64
	var leaseUntil, created, updated, sent sql.NullInt64
	if err := sc.Scan(&id, &survey, &user, &channel, &contact, &d.Round, &state, &d.Attempts, &next, &d.LeaseOwner, &leaseUntil, &d.LastError, &d.ProviderID, &created, &updated, &sent); err != nil {
		return nil, err
	}
	d.ID, d.SurveyID, d.UserID = anpi.DeliveryID(id), anpi.SurveyID(survey), anpi.UserID(user)
	d.Channel, d.ContactID, d.State = anpi.Channel(channel), anpi.ContactID(contact), anpi.DeliveryState(state)
	d.NextAttemptAt = fromNanos(sql.NullInt64{Int64: next, Valid: next != zeroNanos})
	d.LeaseUntil, d.CreatedAt, d.UpdatedAt, d.SentAt = fromNanos(leaseUntil), fromNanos(created), fromNanos(updated), fromNanos(sent)
	return &d, nil
}

// zeroNanos stands for a zero NextAttemptAt, which must still sort first.
const zeroNanos = -1 << 63

func nextNanos(t time.Time) int64 {
	if t.IsZero() {
		return zeroNanos
	}
	return t.UnixNano()
}

// enqueueArgs appends the values of enqueueCols for d.
func enqueueArgs(args []any, d *anpi.Delivery) []any {
	return append(args, string(d.ID), string(d.SurveyID), string(d.UserID), string(d.Channel), string(d.ContactID), d.Round, string(d.State), d.Attempts,
		nextNanos(d.NextAttemptAt), d.LastError, d.ProviderID, nanos(d.CreatedAt), nanos(d.UpdatedAt), nanos(d.SentAt))
}

func (t *tx) getDelivery(ctx context.Context, op string, id anpi.DeliveryID) (*anpi.Delivery, error) {
	d, err := scanDelivery(t.q.QueryRowContext(ctx, "SELECT "+deliveryCols+" FROM deliveries WHERE id = ?", string(id)))
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, classify(op, err)
	}
	return d, nil
}

// updateDelivery writes the changing columns of d.
func (t *tx) updateDelivery(ctx context.Context, op string, d *anpi.Delivery) error {
	_, err := t.exec(ctx, op, "UPDATE deliveries SET state = ?, attempts = ?, next_at = ?, lease_owner = ?, lease_until = ?, last_error = ?, provider_id = ?, updated_at = ?, sent_at = ? WHERE id = ?",
		string(d.State), d.Attempts, nextNanos(d.NextAttemptAt), d.LeaseOwner, nanos(d.LeaseUntil), d.LastError, d.ProviderID, nanos(d.UpdatedAt), nanos(d.SentAt), string(d.ID))
	return err
}

// enqueueChunk is how many deliveries one INSERT statement carries.
const enqueueChunk = 100

func (t *tx) EnqueueDeliveries(ctx context.Context, ds []*anpi.Delivery) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	for i, d := range ds {
		if d == nil {
			return 0, anpi.Errorf(anpi.InvalidArgument, "sqlite: enqueue deliveries: delivery %d is nil", i+1)
		}
		if err := d.Validate(); err != nil {
			return 0, wrap("enqueue deliveries", err)
		}
	}
	if len(ds) == 0 {
		return 0, nil
	}
	const op = "enqueue deliveries"
	// Surveys must exist: check each once.
	seen := map[anpi.SurveyID]bool{}
	for _, d := range ds {
		if !seen[d.SurveyID] {
			seen[d.SurveyID] = true
			if err := t.surveyExists(ctx, "enqueue delivery "+string(d.ID), d.SurveyID); err != nil {
				return 0, err
			}
		}
	}
	now := t.now()
	rows := make([]*anpi.Delivery, len(ds))
	for i, d := range ds {
		c := d.Clone()
		c.LeaseOwner, c.LeaseUntil = "", time.Time{}
		c.NextAttemptAt, c.CreatedAt, c.UpdatedAt, c.SentAt = utc(c.NextAttemptAt), utc(c.CreatedAt), utc(c.UpdatedAt), utc(c.SentAt)
		if c.CreatedAt.IsZero() {
			c.CreatedAt = now
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = c.CreatedAt
		}
		rows[i] = c
	}
	// Rows whose key exists are skipped (ON CONFLICT on the key); a row
	// whose ID is taken by a delivery with another key is AlreadyExists.
	n := 0
	for start := 0; start < len(rows); start += enqueueChunk {
		chunk := rows[start:min(start+enqueueChunk, len(rows))]
		args := make([]any, 0, len(chunk)*14)
		for _, d := range chunk {
			args = enqueueArgs(args, d)
		}
		res, err := t.q.ExecContext(ctx, insertDeliveries(len(chunk)), args...)
		if err != nil {
			err = classify(op, err)
			if anpi.Code(err) == anpi.AlreadyExists {
				return 0, anpi.Errorf(anpi.AlreadyExists, "sqlite: enqueue deliveries: a delivery id is taken by another delivery: %w", err)
			}
			return 0, err
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

func insertDeliveries(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO deliveries (" + enqueueCols + ") VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	b.WriteString(" ON CONFLICT (survey_id, user_id, channel, contact_id, round) DO NOTHING")
	return b.String()
}

// claimOrder orders deliveries as claims take them: NextAttemptAt, then ID.
func claimOrder(a, b *anpi.Delivery) int {
	return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), strings.Compare(string(a.ID), string(b.ID)))
}

// The reads of a claim, per channel (arguments: channel, now, limit): the
// due deliveries, and those whose lease has expired. The limit is a CAST,
// not a bare parameter: SQLite plans a bare LIMIT ? with its bound value
// and so prepares the statement again every time it is bound, which cost
// more than the read itself.
const (
	claimReadySQL   = "SELECT " + deliveryCols + " FROM deliveries INDEXED BY deliveries_channel_ready WHERE state IN ('queued', 'failed_temporary') AND channel = ? AND next_at <= ? ORDER BY next_at, id LIMIT CAST(? AS INTEGER)"
	claimExpiredSQL = "SELECT " + deliveryCols + " FROM deliveries INDEXED BY deliveries_channel_leased WHERE state = 'sending' AND channel = ? AND lease_until <= ? ORDER BY next_at, id LIMIT CAST(? AS INTEGER)"
)

// claimChannels returns the channels a claim reads, each once, in order:
// those of the request, or every channel when it names none.
func claimChannels(req []anpi.Channel) ([]anpi.Channel, error) {
	if len(req) == 0 {
		return allChannels, nil
	}
	for _, c := range req {
		if !c.Valid() {
			return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: claim deliveries: unknown channel %q", c)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(req))), nil
}

func (t *tx) ClaimDeliveries(ctx context.Context, req anpi.ClaimRequest) ([]*anpi.Delivery, error) {
	if err := t.beginWrite(ctx); err != nil {
		return nil, err
	}
	if err := req.Validate(); err != nil {
		return nil, wrap("claim deliveries", err)
	}
	const op = "claim deliveries"
	chans, err := claimChannels(req.Channels)
	if err != nil {
		return nil, err
	}
	now := req.Now.UTC()
	query := func(q string, args ...any) ([]*anpi.Delivery, error) {
		rows, err := t.q.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, classify(op, err)
		}
		defer rows.Close()
		var out []*anpi.Delivery
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				return nil, classify(op, err)
			}
			out = append(out, d)
		}
		if err := rows.Err(); err != nil {
			return nil, classify(op, err)
		}
		return out, nil
	}
	// Each channel is one range of each claim index (migration 5), read
	// up to the limit: a channel with nothing due costs two index
	// searches, whatever the backlog of the others. A single query over
	// several channels would read every due row of them to sort them.
	var all []*anpi.Delivery
	for _, c := range chans {
		ready, err := query(claimReadySQL, string(c), now.UnixNano(), req.Limit)
		if err != nil {
			return nil, err
		}
		expired, err := query(claimExpiredSQL, string(c), now.UnixNano(), req.Limit)
		if err != nil {
			return nil, err
		}
		all = append(append(all, ready...), expired...)
	}
	slices.SortFunc(all, claimOrder)
	if len(all) > req.Limit {
		all = all[:req.Limit]
	}
	if len(all) == 0 {
		return []*anpi.Delivery{}, nil
	}
	ids := make([]string, len(all))
	leaseUntil := now.Add(req.Lease)
	for i, d := range all {
		ids[i] = string(d.ID)
		d.State = anpi.Sending
		d.LeaseOwner = req.Owner
		d.LeaseUntil = leaseUntil
		d.Attempts++
		d.UpdatedAt = now
	}
	idList, err := encode(op, ids)
	if err != nil {
		return nil, err
	}
	// One statement for the whole claim: the IDs go in as one JSON array.
	if _, err := t.exec(ctx, op, "UPDATE deliveries SET state = 'sending', lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE id IN (SELECT value FROM json_each(?))",
		req.Owner, leaseUntil.UnixNano(), now.UnixNano(), string(idList)); err != nil {
		return nil, err
	}
	out := make([]*anpi.Delivery, len(all))
	for i, d := range all {
		out[i] = d.Clone()
	}
	return out, nil
}

// held returns the delivery id when owner holds it.
func (t *tx) held(ctx context.Context, op string, id anpi.DeliveryID, owner string) (*anpi.Delivery, error) {
	if owner == "" {
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: %s delivery %s: owner is required", op, id)
	}
	d, err := t.getDelivery(ctx, op+" delivery", id)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: %s delivery %s: does not exist", op, id)
	}
	if d.State != anpi.Sending {
		return nil, anpi.Errorf(anpi.FailedPrecondition, "sqlite: %s delivery %s: it is %s, not sending", op, id, d.State)
	}
	if d.LeaseOwner != owner {
		return nil, anpi.Errorf(anpi.FailedPrecondition, "sqlite: %s delivery %s: %s does not hold the lease (%s does)", op, id, owner, d.LeaseOwner)
	}
	return d, nil
}

func (t *tx) CompleteDelivery(ctx context.Context, id anpi.DeliveryID, owner string, r anpi.SendResult) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if owner == "" {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: complete delivery %s: owner is required", id)
	}
	at := utc(r.At)
	if at.IsZero() {
		at = t.now()
	}
	state := anpi.Sent
	if r.Delivered {
		state = anpi.Delivered
	}
	// The common case in one statement; held explains a refusal.
	res, err := t.exec(ctx, "complete delivery "+string(id), "UPDATE deliveries SET state = ?, provider_id = ?, sent_at = ?, updated_at = ?, lease_owner = '', lease_until = NULL, last_error = '' WHERE id = ? AND state = 'sending' AND lease_owner = ?",
		string(state), r.ProviderID, at.UnixNano(), at.UnixNano(), string(id), owner)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := t.held(ctx, "complete", id, owner); err != nil {
		return err
	}
	return anpi.Errorf(anpi.Internal, "sqlite: complete delivery %s: not updated", id)
}

func (t *tx) FailDelivery(ctx context.Context, id anpi.DeliveryID, owner string, f anpi.SendFailure) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	d, err := t.held(ctx, "fail", id, owner)
	if err != nil {
		return err
	}
	at := utc(f.At)
	if at.IsZero() {
		at = t.now()
	}
	d.LastError = f.Error
	d.UpdatedAt = at
	d.LeaseOwner, d.LeaseUntil = "", time.Time{}
	if f.Permanent {
		d.State = anpi.FailedPermanent
	} else {
		d.State = anpi.FailedTemporary
		d.NextAttemptAt = utc(f.RetryAt)
		if d.NextAttemptAt.IsZero() {
			d.NextAttemptAt = at
		}
	}
	return t.updateDelivery(ctx, "fail delivery "+string(id), d)
}

func (t *tx) MarkDelivered(ctx context.Context, id anpi.DeliveryID, at time.Time) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	op := "mark delivery " + string(id) + " delivered"
	d, err := t.getDelivery(ctx, op, id)
	if err != nil {
		return err
	}
	if d == nil {
		return anpi.Errorf(anpi.NotFound, "sqlite: %s: does not exist", op)
	}
	switch d.State {
	case anpi.Delivered:
		return nil
	case anpi.Sent:
	default:
		return anpi.Errorf(anpi.FailedPrecondition, "sqlite: %s: it is %s, not sent", op, d.State)
	}
	at = utc(at)
	if at.IsZero() {
		at = t.now()
	}
	d.State = anpi.Delivered
	d.UpdatedAt = at
	return t.updateDelivery(ctx, op, d)
}

func (t *tx) CancelDeliveries(ctx context.Context, s anpi.SurveyID, at time.Time) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	if err := t.surveyExists(ctx, "cancel deliveries", s); err != nil {
		return 0, err
	}
	at = utc(at)
	if at.IsZero() {
		at = t.now()
	}
	res, err := t.exec(ctx, "cancel deliveries of survey "+string(s), "UPDATE deliveries SET state = ?, updated_at = ? WHERE survey_id = ? AND state IN ('queued', 'failed_temporary')",
		string(anpi.CancelledState), at.UnixNano(), string(s))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// cancelUsersChunk is how many user IDs one statement of
// CancelUserDeliveries binds: well under SQLite's limit of bound parameters.
const cancelUsersChunk = 500

func (t *tx) CancelUserDeliveries(ctx context.Context, s anpi.SurveyID, users []anpi.UserID, at time.Time) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	if err := t.surveyExists(ctx, "cancel deliveries of users", s); err != nil {
		return 0, err
	}
	at = utc(at)
	if at.IsZero() {
		at = t.now()
	}
	ids := make([]string, 0, len(users))
	seen := make(map[anpi.UserID]bool, len(users))
	for _, u := range users {
		if !seen[u] {
			seen[u] = true
			ids = append(ids, string(u))
		}
	}
	total := 0
	for lo := 0; lo < len(ids); lo += cancelUsersChunk {
		chunk := ids[lo:min(lo+cancelUsersChunk, len(ids))]
		args := make([]any, 0, len(chunk)+3)
		args = append(args, string(anpi.CancelledState), at.UnixNano(), string(s))
		for _, id := range chunk {
			args = append(args, id)
		}
		res, err := t.exec(ctx, fmt.Sprintf("cancel deliveries of %d users of survey %s", len(ids), s),
			"UPDATE deliveries SET state = ?, updated_at = ? WHERE survey_id = ? AND state IN ('queued', 'failed_temporary') AND user_id IN (?"+strings.Repeat(", ?", len(chunk)-1)+")",
			args...)
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		total += int(n)
	}
	return total, nil
}

func (t *tx) GetDelivery(ctx context.Context, id anpi.DeliveryID) (*anpi.Delivery, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	d, err := t.getDelivery(ctx, "get delivery", id)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: delivery %s does not exist", id)
	}
	return d, nil
}

func (t *tx) Deliveries(ctx context.Context, s anpi.SurveyID) ([]*anpi.Delivery, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.surveyExists(ctx, "list deliveries", s); err != nil {
		return nil, err
	}
	rows, err := t.q.QueryContext(ctx, "SELECT "+deliveryCols+" FROM deliveries WHERE survey_id = ? ORDER BY id", string(s))
	if err != nil {
		return nil, classify("list deliveries", err)
	}
	defer rows.Close()
	out := []*anpi.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, classify("list deliveries", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("list deliveries", err)
	}
	return out, nil
}

// countDeliveriesSQL counts a survey's deliveries by state: it reads the
// survey's range of the UNIQUE (survey_id, …) index and, for each, the
// state from the table (see migrations/0005_claim_by_channel.sql).
const countDeliveriesSQL = "SELECT state, COUNT(*) FROM deliveries WHERE survey_id = ? GROUP BY state"

func (t *tx) CountDeliveries(ctx context.Context, s anpi.SurveyID) (map[anpi.DeliveryState]int, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.surveyExists(ctx, "count deliveries", s); err != nil {
		return nil, err
	}
	rows, err := t.q.QueryContext(ctx, countDeliveriesSQL, string(s))
	if err != nil {
		return nil, classify("count deliveries", err)
	}
	defer rows.Close()
	out := map[anpi.DeliveryState]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, classify("count deliveries", err)
		}
		out[anpi.DeliveryState(st)] = n
	}
	if err := rows.Err(); err != nil {
		return nil, classify("count deliveries", err)
	}
	return out, nil
}
