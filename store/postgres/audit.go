package postgres

import (
	"context"
	"strings"

	"github.com/anpikit/anpi/anpi"
)

// defaultAuditLimit is the page size of ListAudit when the query has none.
const defaultAuditLimit = 1000

func (t *tx) AppendAudit(ctx context.Context, e *anpi.AuditEntry) (int64, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	if e == nil {
		return 0, anpi.Errorf(anpi.InvalidArgument, "postgres: append audit: nil entry")
	}
	if err := e.Validate(); err != nil {
		return 0, wrap("append audit", err)
	}
	// seq comes from a one-row counter that stays locked until the
	// commit: entries become visible in seq order (a reader paging with
	// AfterSeq misses none) and a rolled-back entry leaves no gap.
	var seq int64
	if _, err := t.one(ctx, "append audit", "UPDATE {audit_seq} SET seq = seq + 1 RETURNING seq", nil, &seq); err != nil {
		return 0, err
	}
	if _, err := t.exec(ctx, "append audit", "INSERT INTO {audit} (seq, at, actor, action, target_kind, target_id, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
		seq, e.At.UnixNano(), string(e.Actor), e.Action, e.TargetKind, e.TargetID, e.Detail); err != nil {
		return 0, err
	}
	return seq, nil
}

func (t *tx) ListAudit(ctx context.Context, q *anpi.AuditQuery) ([]*anpi.AuditEntry, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if q == nil {
		q = &anpi.AuditQuery{}
	}
	if q.Limit < 0 || q.AfterSeq < 0 {
		return nil, anpi.Errorf(anpi.InvalidArgument, "postgres: list audit: negative limit or afterSeq")
	}
	limit := q.Limit
	if limit == 0 {
		limit = defaultAuditLimit
	}
	var b strings.Builder
	args := []any{q.AfterSeq}
	b.WriteString("SELECT seq, at, actor, action, target_kind, target_id, detail FROM {audit} WHERE seq > ?")
	if q.Actor != "" {
		b.WriteString(" AND actor = ?")
		args = append(args, string(q.Actor))
	}
	if q.TargetID != "" {
		b.WriteString(" AND target_id = ?")
		args = append(args, q.TargetID)
	}
	if !q.Since.IsZero() {
		b.WriteString(" AND at >= ?")
		args = append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		b.WriteString(" AND at < ?")
		args = append(args, q.Until.UnixNano())
	}
	b.WriteString(" ORDER BY seq LIMIT ?")
	args = append(args, limit)
	rows, err := t.q.Query(ctx, t.s.sql(b.String()), args...)
	if err != nil {
		return nil, classify("list audit", err)
	}
	defer rows.Close()
	out := []*anpi.AuditEntry{}
	for rows.Next() {
		var e anpi.AuditEntry
		var at int64
		var actor string
		if err := rows.Scan(&e.Seq, &at, &actor, &e.Action, &e.TargetKind, &e.TargetID, &e.Detail); err != nil {
			return nil, classify("list audit", err)
		}
		e.At = fromNanos(&at)
		e.Actor = anpi.UserID(actor)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("list audit", err)
	}
	return out, nil
}
