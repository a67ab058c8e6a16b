package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
)

const deliveryCols = "id, survey_id, user_id, channel, contact_id, round, state, attempts, next_at, lease_owner, lease_until, last_error, provider_id, created_at, updated_at, sent_at"

// enqueueCols are the columns EnqueueDeliveries binds (a fresh delivery
// has no lease: lease_owner ”, lease_until NULL).
const enqueueCols = freshCols + ", state, attempts, last_error, provider_id, sent_at, lease_owner, lease_until"

// freshCols are the columns of enqueueCols whose values a fresh delivery
// (allFresh) binds; the others are constants.
const freshCols = "id, survey_id, user_id, channel, contact_id, round, next_at, created_at, updated_at"

// enqueueColCount is the number of columns of enqueueCols.
const enqueueColCount = 16

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

// enqueueArgs appends the values of enqueueCols for d, or of freshCols
// when fresh. A new delivery's zero CreatedAt is now; its zero UpdatedAt
// is its CreatedAt.
func enqueueArgs(args []any, d *anpi.Delivery, now time.Time, fresh bool) []any {
	created, updated := d.CreatedAt, d.UpdatedAt
	if created.IsZero() {
		created = now
	}
	if updated.IsZero() {
		updated = created
	}
	args = append(args, string(d.ID), string(d.SurveyID), string(d.UserID), string(d.Channel), string(d.ContactID), d.Round,
		nextNanos(d.NextAttemptAt), nanos(created), nanos(updated))
	if fresh {
		return args
	}
	return append(args, string(d.State), d.Attempts, d.LastError, d.ProviderID, nanos(d.SentAt), d.LeaseOwner, nanos(d.LeaseUntil))
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
	// The insert is OR IGNORE: a statement that cannot abort needs no
	// statement journal, which copied every page a chunk touched (the ID
	// index's pages, at random) and was a third of an enqueue. Rows whose
	// key exists are skipped, as they should be; a chunk that skipped rows
	// is then checked for a row whose ID is taken by a delivery with
	// another key, and if one is, every row this call inserted (those past
	// the largest seq before it) is removed and the call is AlreadyExists.
	var before int64
	if err := t.q.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM deliveries").Scan(&before); err != nil {
		return 0, classify(op, err)
	}
	n := 0
	args := make([]any, 0, enqueueChunk*enqueueColCount)
	for start := 0; start < len(ds); start += enqueueChunk {
		chunk := ds[start:min(start+enqueueChunk, len(ds))]
		fresh := allFresh(chunk)
		args = args[:0]
		for _, d := range chunk {
			args = enqueueArgs(args, d, now, fresh)
		}
		res, err := t.q.ExecContext(ctx, insertDeliveries(len(chunk), fresh), args...)
		if err != nil {
			return 0, classify(op, err)
		}
		k, _ := res.RowsAffected()
		n += int(k)
		if int(k) == len(chunk) {
			continue
		}
		taken, err := t.idTaken(ctx, chunk)
		if err == nil && taken != "" {
			err = anpi.Errorf(anpi.AlreadyExists, "sqlite: enqueue deliveries: delivery id %s is taken by another delivery", taken)
		}
		if err != nil {
			if _, derr := t.exec(ctx, op, "DELETE FROM deliveries WHERE seq > ?", before); derr != nil {
				return 0, derr
			}
			return 0, err
		}
	}
	return n, nil
}

// idTaken returns the ID of the first delivery of ds whose ID is stored
// with another key, or "".
func (t *tx) idTaken(ctx context.Context, ds []*anpi.Delivery) (anpi.DeliveryID, error) {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = string(d.ID)
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return "", anpi.Errorf(anpi.Internal, "sqlite: enqueue deliveries: %w", err)
	}
	rows, err := t.q.QueryContext(ctx, "SELECT id, survey_id, user_id, channel, contact_id, round FROM deliveries WHERE id IN (SELECT value FROM json_each(?))", string(list))
	if err != nil {
		return "", classify("enqueue deliveries", err)
	}
	defer rows.Close()
	stored := map[anpi.DeliveryID]anpi.DeliveryKey{}
	for rows.Next() {
		var id, survey, user, channel, contact string
		var round int
		if err := rows.Scan(&id, &survey, &user, &channel, &contact, &round); err != nil {
			return "", classify("enqueue deliveries", err)
		}
		stored[anpi.DeliveryID(id)] = anpi.DeliveryKey{SurveyID: anpi.SurveyID(survey), UserID: anpi.UserID(user), Channel: anpi.Channel(channel), ContactID: anpi.ContactID(contact), Round: round}
	}
	if err := rows.Err(); err != nil {
		return "", classify("enqueue deliveries", err)
	}
	for _, d := range ds {
		if k, ok := stored[d.ID]; ok && k != d.Key() {
			return d.ID, nil
		}
	}
	return "", nil
}

// insertDeliveries is the INSERT of n deliveries; fresh ones (see
// allFresh) bind only the columns that vary.
func insertDeliveries(n int, fresh bool) string {
	// The constants of a fresh row are the last columns of enqueueCols.
	row := "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
	if fresh {
		row = "(?,?,?,?,?,?,?,?,?,'queued',0,'','',NULL,'',NULL)"
	}
	return multiRow("INSERT OR IGNORE INTO deliveries ("+enqueueCols+") VALUES ", row, n, "")
}

// multiRow is the statement head, then n times row separated by commas,
// then tail: an INSERT of n rows (statements are prepared per text, so
// callers keep n to a few values, enqueueChunk at most).
func multiRow(head, row string, n int, tail string) string {
	var b strings.Builder
	b.Grow(len(head) + n*(len(row)+1) + len(tail))
	b.WriteString(head)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(tail)
	return b.String()
}

// allFresh reports whether every delivery of ds is a new one, queued and
// never tried, so that the insert can write those columns as constants:
// binding is a fifth of the time of an enqueue, and a fresh row needs 9 of
// its 14 values bound.
func allFresh(ds []*anpi.Delivery) bool {
	for _, d := range ds {
		if d.State != anpi.Queued || d.Attempts != 0 || d.LastError != "" || d.ProviderID != "" || !d.SentAt.IsZero() {
			return false
		}
	}
	return true
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
	claimReadySQL   = "SELECT " + deliveryCols + " FROM deliveries INDEXED BY deliveries_channel_ready WHERE state IN ('queued', 'failed_temporary') AND channel = ? AND next_at <= ? ORDER BY next_at, seq LIMIT CAST(? AS INTEGER)"
	claimExpiredSQL = "SELECT " + deliveryCols + " FROM deliveries INDEXED BY deliveries_channel_leased WHERE state = 'sending' AND channel = ? AND lease_until <= ? ORDER BY next_at, seq LIMIT CAST(? AS INTEGER)"
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
