package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const deliveryCols = "id, survey_id, user_id, channel, contact_id, round, state, attempts, next_at, lease_owner, lease_until, last_error, provider_id, created_at, updated_at, sent_at"

func scanDelivery(sc pgx.Row) (*anpi.Delivery, error) {
	var d anpi.Delivery
	var id, survey, user, channel, contact, state string
	var round, attempts int32
	var next int64
	var leaseUntil, created, updated, sent *int64
	if err := sc.Scan(&id, &survey, &user, &channel, &contact, &round, &state, &attempts, &next, &d.LeaseOwner, &leaseUntil, &d.LastError, &d.ProviderID, &created, &updated, &sent); err != nil {
		return nil, err
	}
	d.ID, d.SurveyID, d.UserID = anpi.DeliveryID(id), anpi.SurveyID(survey), anpi.UserID(user)
	d.Channel, d.ContactID, d.State = anpi.Channel(channel), anpi.ContactID(contact), anpi.DeliveryState(state)
	d.Round, d.Attempts = int(round), int(attempts)
	if next != zeroNanos {
		d.NextAttemptAt = fromNanos(&next)
	}
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

func (t *tx) getDelivery(ctx context.Context, op string, id anpi.DeliveryID, lock bool) (*anpi.Delivery, error) {
	q := "SELECT " + deliveryCols + " FROM {deliveries} WHERE id = ?"
	if lock {
		q += " FOR UPDATE"
	}
	d, err := scanDelivery(t.q.QueryRow(ctx, t.s.sql(q), string(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(op, err)
	}
	return d, nil
}

// updateDelivery writes the changing columns of d.
func (t *tx) updateDelivery(ctx context.Context, op string, d *anpi.Delivery) error {
	_, err := t.exec(ctx, op, "UPDATE {deliveries} SET state = ?, attempts = ?, next_at = ?, lease_owner = ?, lease_until = ?, last_error = ?, provider_id = ?, updated_at = ?, sent_at = ? WHERE id = ?",
		string(d.State), int32(d.Attempts), nextNanos(d.NextAttemptAt), d.LeaseOwner, nanos(d.LeaseUntil), d.LastError, d.ProviderID, nanos(d.UpdatedAt), nanos(d.SentAt), string(d.ID))
	return err
}

// enqueueChunk is how many deliveries one INSERT statement carries.
const enqueueChunk = 10000

// notifyChannel is the LISTEN/NOTIFY channel of the store's schema.
func (s *Store) notifyChannel() string {
	name := "anpi_outbox." + s.schema
	if len(name) > maxIdentLen {
		name = name[:maxIdentLen]
	}
	return name
}

func (t *tx) EnqueueDeliveries(ctx context.Context, ds []*anpi.Delivery) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	for i, d := range ds {
		if d == nil {
			return 0, anpi.Errorf(anpi.InvalidArgument, "postgres: enqueue deliveries: delivery %d is nil", i+1)
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
	// Only the first of several deliveries with one key counts.
	keys := make(map[anpi.DeliveryKey]bool, len(ds))
	uniq := make([]*anpi.Delivery, 0, len(ds))
	for _, d := range ds {
		if k := d.Key(); !keys[k] {
			keys[k] = true
			uniq = append(uniq, d)
		}
	}
	n, err := t.enqueue(ctx, uniq, t.now())
	if err != nil {
		return 0, err
	}
	if n > 0 {
		if _, err := t.exec(ctx, op, "SELECT pg_notify(?, '')", t.s.notifyChannel()); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// copyThreshold is the number of deliveries from which enqueue tries COPY
// first.
const copyThreshold = 1000

// enqueue inserts deliveries with distinct keys. Many are first written
// with COPY behind a savepoint: the common case, a new round of a send,
// has no key stored yet, and COPY costs about half an INSERT … ON
// CONFLICT. When COPY meets a unique violation (a key already stored, as
// when escalation or crash recovery enqueues again, or an ID taken) it is
// rolled back, and the deliveries are inserted in statements of
// enqueueChunk rows, pipelined, with ON CONFLICT on the key DO NOTHING:
// existing keys are skipped (waiting for concurrent transactions that
// insert the same keys), and a taken ID is AlreadyExists.
func (t *tx) enqueue(ctx context.Context, ds []*anpi.Delivery, now time.Time) (int, error) {
	const op = "enqueue deliveries"
	if len(ds) >= copyThreshold {
		if _, err := t.exec(ctx, op, "SAVEPOINT enqueue"); err != nil {
			return 0, err
		}
		copied, err := t.copyDeliveries(ctx, ds, now)
		if err == nil {
			_, err = t.exec(ctx, op, "RELEASE SAVEPOINT enqueue")
			return int(copied), err
		}
		if anpi.Code(err) != anpi.AlreadyExists {
			return 0, err
		}
		if _, err := t.exec(ctx, op, "ROLLBACK TO SAVEPOINT enqueue"); err != nil {
			return 0, err
		}
	}
	b := &pgx.Batch{}
	q := t.s.sql(`INSERT INTO {deliveries} (` + deliveryCols + `)
		SELECT id, survey_id, user_id, channel, contact_id, round, state, attempts, next_at, lease_owner, lease_until, last_error, provider_id, created_at, updated_at, sent_at
		FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[], ?::text[], ?::int[], ?::bigint[], ?::text[], ?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::bigint[])
			AS x(id, survey_id, user_id, channel, contact_id, round, state, attempts, next_at, last_error, provider_id, created_at, updated_at, sent_at, lease_owner, lease_until)
		ON CONFLICT (survey_id, user_id, channel, contact_id, round) DO NOTHING`)
	for start := 0; start < len(ds); start += enqueueChunk {
		b.Queue(q, deliveryArrays(ds[start:min(start+enqueueChunk, len(ds))], now)...)
	}
	br := t.q.SendBatch(ctx, b)
	n := 0
	var err error
	for range b.Len() {
		var tag pgconn.CommandTag
		if tag, err = br.Exec(); err != nil {
			break
		}
		n += int(tag.RowsAffected())
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		err = classify(op, err)
		if anpi.Code(err) == anpi.AlreadyExists {
			return 0, anpi.Errorf(anpi.AlreadyExists, "postgres: enqueue deliveries: a delivery id is taken by another delivery: %w", err)
		}
		return 0, err
	}
	return n, nil
}

// copyDeliveries writes deliveries with COPY (binary), the fastest way in;
// it fails as a whole on a unique violation.
func (t *tx) copyDeliveries(ctx context.Context, ds []*anpi.Delivery, now time.Time) (int64, error) {
	rows := make([][]any, len(ds))
	for i, d := range ds {
		c, u := utc(d.CreatedAt), utc(d.UpdatedAt)
		if c.IsZero() {
			c = now
		}
		if u.IsZero() {
			u = c
		}
		rows[i] = []any{string(d.ID), string(d.SurveyID), string(d.UserID), string(d.Channel), string(d.ContactID), int32(d.Round), string(d.State), int32(d.Attempts),
			nextNanos(d.NextAttemptAt), d.LeaseOwner, nanos(d.LeaseUntil), d.LastError, d.ProviderID, nanos(c), nanos(u), nanos(d.SentAt)}
	}
	n, err := t.q.CopyFrom(ctx, pgx.Identifier{t.s.schema, "deliveries"}, deliveryColumns(), pgx.CopyFromRows(rows))
	if err != nil {
		return 0, classify("enqueue deliveries: copy", err)
	}
	return n, nil
}

// deliveryColumns returns the columns of deliveryCols, for COPY.
func deliveryColumns() []string { return strings.Split(deliveryCols, ", ") }

// deliveryArrays turns deliveries into the column arrays of an unnest.
func deliveryArrays(chunk []*anpi.Delivery, now time.Time) []any {
	k := len(chunk)
	var (
		ids, surveys, users, chans, contacts, states, errs, providers = make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k), make([]string, k)
		rounds, attempts                                              = make([]int32, k), make([]int32, k)
		next                                                          = make([]int64, k)
		created, updated, sent, leaseUntil                            = make([]*int64, k), make([]*int64, k), make([]*int64, k), make([]*int64, k)
		leaseOwners                                                   = make([]string, k)
	)
	for i, d := range chunk {
		c, u := utc(d.CreatedAt), utc(d.UpdatedAt)
		if c.IsZero() {
			c = now
		}
		if u.IsZero() {
			u = c
		}
		ids[i], surveys[i], users[i], chans[i], contacts[i] = string(d.ID), string(d.SurveyID), string(d.UserID), string(d.Channel), string(d.ContactID)
		states[i], errs[i], providers[i] = string(d.State), d.LastError, d.ProviderID
		rounds[i], attempts[i] = int32(d.Round), int32(d.Attempts)
		next[i] = nextNanos(d.NextAttemptAt)
		created[i], updated[i], sent[i] = nanos(c), nanos(u), nanos(d.SentAt)
		leaseOwners[i], leaseUntil[i] = d.LeaseOwner, nanos(d.LeaseUntil)
	}
	return []any{ids, surveys, users, chans, contacts, rounds, states, attempts, next, errs, providers, created, updated, sent, leaseOwners, leaseUntil}
}

// claimOrder orders deliveries as claims take them: NextAttemptAt, then ID.
func claimOrder(a, b *anpi.Delivery) int {
	return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), strings.Compare(string(a.ID), string(b.ID)))
}

// allChannels are the channels anpi.Channel.Valid accepts, the only ones
// EnqueueDeliveries stores: a claim that names no channel claims each of
// them.
var allChannels = []anpi.Channel{anpi.EmailChannel, anpi.FCMChannel, anpi.APNsChannel, anpi.LINEChannel, anpi.SMSChannel, anpi.VoiceChannel}

// claimChannels returns the channels a claim reads, each once, in order:
// those of the request, or every channel when it names none.
func claimChannels(req []anpi.Channel) ([]anpi.Channel, error) {
	if len(req) == 0 {
		return allChannels, nil
	}
	for _, c := range req {
		if !c.Valid() {
			return nil, anpi.Errorf(anpi.InvalidArgument, "postgres: claim deliveries: unknown channel %q", c)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(req))), nil
}

// claimSQL leases deliveries (arguments: channels, now, limit, channels,
// now, limit, limit, owner, lease until, now). For each channel it locks,
// FOR UPDATE SKIP LOCKED, up to the limit of due deliveries and of
// expired leases, each through its index (migration 5) in claim order;
// the first limit of those in claim order are leased, updated through
// the primary key (joined to the CTE instead, the planner may hash it
// against a scan of the whole table). Rows locked but left out (only when
// a claim finds more than its limit over several channels, or due and
// expired rows at once) stay locked, unclaimed, until the claim's
// transaction ends: other claimers skip them meanwhile.
const claimSQL = `WITH c AS (
		SELECT r.id, r.next_at FROM unnest(?::text[]) AS ch(name) CROSS JOIN LATERAL (
			SELECT id, next_at FROM {deliveries}
			WHERE channel = ch.name AND state IN ('queued', 'failed_temporary') AND next_at <= ?
			ORDER BY next_at, id LIMIT ? FOR UPDATE SKIP LOCKED) r
		UNION ALL
		SELECT x.id, x.next_at FROM unnest(?::text[]) AS ch(name) CROSS JOIN LATERAL (
			SELECT id, next_at FROM {deliveries}
			WHERE channel = ch.name AND state = 'sending' AND lease_until <= ?
			ORDER BY next_at, id LIMIT ? FOR UPDATE SKIP LOCKED) x
		ORDER BY next_at, id
		LIMIT ?)
	UPDATE {deliveries} d SET state = 'sending', lease_owner = ?, lease_until = ?, attempts = d.attempts + 1, updated_at = ?
	WHERE d.id = ANY(ARRAY(SELECT id FROM c))
	RETURNING `

// ClaimDeliveries leases deliveries with one statement (claimSQL): the
// candidates are locked with FOR UPDATE SKIP LOCKED, so concurrent
// claimers (in this process or in other replicas) each take different
// rows without waiting for one another.
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
	names := make([]string, len(chans))
	for i, c := range chans {
		names[i] = string(c)
	}
	now := req.Now.UTC()
	nowN, until := now.UnixNano(), now.Add(req.Lease).UnixNano()
	rows, err := t.q.Query(ctx, t.s.sql(claimSQL+prefixed("d.", deliveryCols)), names, nowN, req.Limit, names, nowN, req.Limit, req.Limit, req.Owner, until, nowN)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	out := []*anpi.Delivery{}
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
	slices.SortFunc(out, claimOrder)
	return out, nil
}

// prefixed qualifies each column of a comma-separated list.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// held returns the delivery id, locked, when owner holds it.
func (t *tx) held(ctx context.Context, op string, id anpi.DeliveryID, owner string) (*anpi.Delivery, error) {
	if owner == "" {
		return nil, anpi.Errorf(anpi.InvalidArgument, "postgres: %s delivery %s: owner is required", op, id)
	}
	d, err := t.getDelivery(ctx, op+" delivery", id, true)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, anpi.Errorf(anpi.NotFound, "postgres: %s delivery %s: does not exist", op, id)
	}
	if d.State != anpi.Sending {
		return nil, anpi.Errorf(anpi.FailedPrecondition, "postgres: %s delivery %s: it is %s, not sending", op, id, d.State)
	}
	if d.LeaseOwner != owner {
		return nil, anpi.Errorf(anpi.FailedPrecondition, "postgres: %s delivery %s: %s does not hold the lease (%s does)", op, id, owner, d.LeaseOwner)
	}
	return d, nil
}

func (t *tx) CompleteDelivery(ctx context.Context, id anpi.DeliveryID, owner string, r anpi.SendResult) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if owner == "" {
		return anpi.Errorf(anpi.InvalidArgument, "postgres: complete delivery %s: owner is required", id)
	}
	at := utc(r.At)
	if at.IsZero() {
		at = t.now()
	}
	state := anpi.Sent
	if r.Delivered {
		state = anpi.Delivered
	}
	// The common case in one statement; when it matches nothing, held
	// says why.
	tag, err := t.exec(ctx, "complete delivery "+string(id), "UPDATE {deliveries} SET state = ?, provider_id = ?, sent_at = ?, updated_at = ?, lease_owner = '', lease_until = NULL, last_error = '' WHERE id = ? AND state = 'sending' AND lease_owner = ?",
		string(state), r.ProviderID, at.UnixNano(), at.UnixNano(), string(id), owner)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	_, err = t.held(ctx, "complete", id, owner)
	if err == nil { // cannot happen: the update would have matched
		err = anpi.Errorf(anpi.Internal, "postgres: complete delivery %s: the update matched no row", id)
	}
	return err
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
	d, err := t.getDelivery(ctx, op, id, true)
	if err != nil {
		return err
	}
	if d == nil {
		return anpi.Errorf(anpi.NotFound, "postgres: %s: does not exist", op)
	}
	switch d.State {
	case anpi.Delivered:
		return nil
	case anpi.Sent:
	default:
		return anpi.Errorf(anpi.FailedPrecondition, "postgres: %s: it is %s, not sent", op, d.State)
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
	tag, err := t.exec(ctx, "cancel deliveries of survey "+string(s), "UPDATE {deliveries} SET state = ?, updated_at = ? WHERE survey_id = ? AND state IN ('queued', 'failed_temporary')",
		string(anpi.CancelledState), at.UnixNano(), string(s))
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) CancelUserDeliveries(ctx context.Context, s anpi.SurveyID, users []anpi.UserID, at time.Time) (int, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	if err := t.surveyExists(ctx, "cancel deliveries of users", s); err != nil {
		return 0, err
	}
	if len(users) == 0 {
		return 0, nil
	}
	at = utc(at)
	if at.IsZero() {
		at = t.now()
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = string(u)
	}
	tag, err := t.exec(ctx, fmt.Sprintf("cancel deliveries of %d users of survey %s", len(ids), s),
		"UPDATE {deliveries} SET state = ?, updated_at = ? WHERE survey_id = ? AND state IN ('queued', 'failed_temporary') AND user_id = ANY(?)",
		string(anpi.CancelledState), at.UnixNano(), string(s), ids)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) GetDelivery(ctx context.Context, id anpi.DeliveryID) (*anpi.Delivery, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	d, err := t.getDelivery(ctx, "get delivery", id, false)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, anpi.Errorf(anpi.NotFound, "postgres: delivery %s does not exist", id)
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
	rows, err := t.q.Query(ctx, t.s.sql("SELECT "+deliveryCols+" FROM {deliveries} WHERE survey_id = ? ORDER BY id"), string(s))
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
// survey's range of the UNIQUE (survey_id, …) index and each row's state
// from the table, or the table alone when the survey is most of it (see
// migrations/0005_claim_by_channel.sql).
const countDeliveriesSQL = "SELECT state, COUNT(*) FROM {deliveries} WHERE survey_id = ? GROUP BY state"

func (t *tx) CountDeliveries(ctx context.Context, s anpi.SurveyID) (map[anpi.DeliveryState]int, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if err := t.surveyExists(ctx, "count deliveries", s); err != nil {
		return nil, err
	}
	rows, err := t.q.Query(ctx, t.s.sql(countDeliveriesSQL), string(s))
	if err != nil {
		return nil, classify("count deliveries", err)
	}
	defer rows.Close()
	out := map[anpi.DeliveryState]int{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, classify("count deliveries", err)
		}
		out[anpi.DeliveryState(st)] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("count deliveries", err)
	}
	return out, nil
}
