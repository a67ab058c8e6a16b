package memstore

import (
	"context"
	"sort"

	"github.com/anpikit/anpi/anpi"
)

// defaultAuditLimit is the page size of ListAudit when the query has none.
const defaultAuditLimit = 1000

func (t *tx) AppendAudit(ctx context.Context, e *anpi.AuditEntry) (int64, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	if e == nil {
		return 0, anpi.Errorf(anpi.InvalidArgument, "memstore: append audit: nil entry")
	}
	if err := e.Validate(); err != nil {
		return 0, wrap("append audit", err)
	}
	c := *e
	c.Seq = int64(len(t.d.audit)) + 1
	n := len(t.d.audit)
	t.d.audit = append(t.d.audit, &c)
	t.undo = append(t.undo, func() {
		t.d.audit[n] = nil
		t.d.audit = t.d.audit[:n]
	})
	return c.Seq, nil
}

func (t *tx) ListAudit(ctx context.Context, q *anpi.AuditQuery) ([]*anpi.AuditEntry, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if q == nil {
		q = &anpi.AuditQuery{}
	}
	if q.Limit < 0 || q.AfterSeq < 0 {
		return nil, anpi.Errorf(anpi.InvalidArgument, "memstore: list audit: negative limit or afterSeq")
	}
	limit := q.Limit
	if limit == 0 {
		limit = defaultAuditLimit
	}
	start := sort.Search(len(t.d.audit), func(i int) bool { return t.d.audit[i].Seq > q.AfterSeq })
	out := []*anpi.AuditEntry{}
	for _, e := range t.d.audit[start:] {
		if len(out) == limit {
			break
		}
		if (q.Actor != "" && e.Actor != q.Actor) || (q.TargetID != "" && e.TargetID != q.TargetID) {
			continue
		}
		if (!q.Since.IsZero() && e.At.Before(q.Since)) || (!q.Until.IsZero() && !e.At.Before(q.Until)) {
			continue
		}
		c := *e
		out = append(out, &c)
	}
	return out, nil
}
