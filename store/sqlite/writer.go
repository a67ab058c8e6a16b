package sqlite

import (
	"context"
	"database/sql"
	"sync/atomic"

	"github.com/anpikit/anpi/anpi"
)

// querier is what a transaction runs statements on: the writer, or a
// *sql.Tx on a reader (and during migrations).
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// maxCachedStmts bounds the writer's statement cache. The queries are
// built from a fixed set of fragments, so it is never reached in practice.
const maxCachedStmts = 1000

// writer is the one connection that carries every write. Holding sem
// (capacity 1) is holding the connection: the holder runs BEGIN
// IMMEDIATE … COMMIT on it itself, so the statements it prepared once stay
// prepared across transactions (modernc.org/sqlite parses a statement on
// every call otherwise, which costs more than running it).
type writer struct {
	sem    chan struct{}
	closed chan struct{} // closed by Close, which keeps sem forever
	conn   *sql.Conn
	stmts  map[string]*sql.Stmt // used only by the holder of sem
	ckpt   *checkpointer        // poked after every commit; nil during Open
	// commits counts the commits (tests: transactions share them).
	commits atomic.Int64
}

var _ querier = (*writer)(nil)

func newWriter(conn *sql.Conn) *writer {
	return &writer{sem: make(chan struct{}, 1), closed: make(chan struct{}), conn: conn, stmts: map[string]*sql.Stmt{}}
}

// acquire waits for the connection, honouring ctx.
func (w *writer) acquire(ctx context.Context) error {
	select {
	case w.sem <- struct{}{}:
		return nil
	case <-w.closed:
		return errClosed()
	case <-ctx.Done():
		return anpi.Errorf(anpi.Unavailable, "sqlite: wait for the writer: %w", ctx.Err())
	}
}

func (w *writer) release() { <-w.sem }

// stmt returns the prepared statement of query, preparing it on first use;
// nil when the cache is full.
func (w *writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := w.stmts[query]; st != nil {
		return st, nil
	}
	if len(w.stmts) >= maxCachedStmts {
		return nil, nil
	}
	st, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

func (w *writer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := w.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return w.conn.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

func (w *writer) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := w.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return w.conn.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

func (w *writer) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := w.stmt(ctx, query)
	if err != nil || st == nil {
		return w.conn.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

// begin starts a write transaction on the held connection.
func (w *writer) begin(ctx context.Context) error {
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return classify("begin", err)
	}
	return nil
}

// commit commits; a commit that fails leaves the transaction to rollback.
func (w *writer) commit(ctx context.Context) error {
	if _, err := w.conn.ExecContext(context.WithoutCancel(ctx), "COMMIT"); err != nil {
		return classify("commit", err)
	}
	w.commits.Add(1)
	if w.ckpt != nil {
		w.ckpt.poke()
	}
	return nil
}

// rollback ends the transaction, if one is still open.
func (w *writer) rollback() {
	_, _ = w.conn.ExecContext(context.Background(), "ROLLBACK")
}

// close closes the prepared statements and the connection; the caller
// holds sem, which stays taken.
func (w *writer) close() error {
	select {
	case <-w.closed:
	default:
		close(w.closed)
	}
	for q, st := range w.stmts {
		_ = st.Close()
		delete(w.stmts, q)
	}
	return w.conn.Close()
}
