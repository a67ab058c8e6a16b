package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// readStmts keeps the statements of the read transactions prepared, one
// *sql.Stmt per query, which database/sql prepares once on each reader
// connection and reuses: modernc.org/sqlite parses a statement on every
// call otherwise (a sixth of the CPU of an answer page under load).
// Queries are built from a fixed set of fragments, apart from IN lists of
// varying length; past maxCachedStmts, a query runs unprepared.
type readStmts struct {
	mu    sync.Mutex
	db    *sql.DB
	stmts map[string]*sql.Stmt
}

// prepareWait is how long get waits for a free reader connection to
// prepare a statement on. The caller holds a reader connection itself (its
// read transaction): with every reader held by callers waiting to prepare,
// waiting longer would deadlock. When none is free the query runs
// unprepared, and the next call tries again.
const prepareWait = time.Millisecond

// get returns the prepared statement of query, preparing it on first use;
// nil when the cache is full, no reader connection is free at once, or the
// statement does not prepare (the query then runs unprepared and reports
// its own error).
func (r *readStmts) get(ctx context.Context, query string) *sql.Stmt {
	r.mu.Lock()
	st, n := r.stmts[query], len(r.stmts)
	r.mu.Unlock()
	if st != nil || n >= maxCachedStmts {
		return st
	}
	pctx, cancel := context.WithTimeout(ctx, prepareWait)
	defer cancel()
	st, err := r.db.PrepareContext(pctx, query)
	if err != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stmts == nil {
		r.stmts = map[string]*sql.Stmt{}
	}
	if had := r.stmts[query]; had != nil { // prepared meanwhile by another call
		_ = st.Close()
		return had
	}
	r.stmts[query] = st
	return st
}

// close closes the prepared statements.
func (r *readStmts) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.stmts {
		_ = st.Close()
	}
	r.stmts = nil
}

// readQuerier runs a read transaction's statements through the prepared
// statements of readStmts.
type readQuerier struct {
	tx    *sql.Tx
	stmts *readStmts
}

var _ querier = readQuerier{}

func (q readQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.tx.ExecContext(ctx, query, args...) // a read transaction writes nothing; beginWrite refuses first
}

func (q readQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmts.get(ctx, query); st != nil {
		return q.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return q.tx.QueryContext(ctx, query, args...)
}

func (q readQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmts.get(ctx, query); st != nil {
		return q.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}
