package sqlite

import (
	"context"
	"database/sql"
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
		return 0, anpi.Errorf(anpi.InvalidArgument, "sqlite: append audit: nil entry")
	}
	if err := e.Validate(); err != nil {
		return 0, wrap("append audit", err)
	}
	// seq is the rowid: one more than the largest, so a rolled-back entry
	// leaves no gap.
	res, err := t.exec(ctx, "append audit", "INSERT INTO audit (at, actor, action, target_kind, target_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
		e.At.UnixNano(), string(e.Actor), e.Action, e.TargetKind, e.TargetID, e.Detail)
	if err != nil {
		return 0, err
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, classify("append audit", err)
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
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: list audit: negative limit or afterSeq")
	}
	limit := q.Limit
	if limit == 0 {
		limit = defaultAuditLimit
	}
	var b strings.Builder
	args := []any{q.AfterSeq}
	b.WriteString("SELECT seq, at, actor, action, target_kind, target_id, detail FROM audit WHERE seq > ?")
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
	rows, err := t.q.QueryContext(ctx, b.String(), args...)
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
		e.At = fromNanos(sql.NullInt64{Int64: at, Valid: true})
		e.Actor = anpi.UserID(actor)
		out = append(out, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, classify("list audit", err)
	}
	return out, nil
}
