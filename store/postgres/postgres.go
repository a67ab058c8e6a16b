package postgres

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options configure a Store. A nil *Options means the defaults.
type Options struct {
	// Schema is the PostgreSQL schema that holds the store's tables
	// (default "public"). It is created when missing. Several stores (or
	// test runs) can share one database in different schemas.
	Schema string
	// Sealer seals private and family contacts at rest (address, label and
	// check state). It is required unless AllowPlaintextContacts is set.
	Sealer anpi.Sealer
	// AllowPlaintextContacts lets the store run without a Sealer: private
	// contacts are then stored in the clear, readable by anyone who can
	// read the database or its backups. Meant for tests and demos.
	AllowPlaintextContacts bool
	// Now is the clock that fills timestamps the caller left zero. It
	// defaults to time.Now; the store converts what it returns to UTC.
	Now func() time.Time
	// GroupCommitWindow is how long the group committer waits, after the
	// first answer of a batch arrives, for more answers to share its
	// transaction (default 1 ms; a negative value means no waiting: a batch
	// is what queued up during the previous commit).
	GroupCommitWindow time.Duration
	// GroupCommitMax caps the answers of one group commit (default 512).
	GroupCommitMax int
	// TxRetries is how many times InTx (and each single-call method)
	// runs again after a serialization failure or a deadlock (default 5).
	TxRetries int
}

// Store is an anpi.Store in a PostgreSQL database. It is safe for
// concurrent use, and any number of Stores (in one process or in several
// server replicas) may share one database and schema. Create one with Open
// or New.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
	schema  string
	ident   string // the schema, quoted as an identifier
	now     func() time.Time
	sealer  anpi.Sealer
	plain   bool
	retries int

	queries sync.Map // raw SQL → SQL with the schema and $n placeholders

	closed atomic.Bool
	closeM sync.Mutex

	gc *committer

	surveys surveyCache
}

var _ anpi.Store = (*Store)(nil)

// Open connects to the database at url (a PostgreSQL URL or keyword/value
// string, as pgxpool.ParseConfig takes), applies the pending migrations and
// starts the group committer. opts may be nil. Close closes the pool.
//
// Open fails with InvalidArgument when there is neither a Sealer nor
// AllowPlaintextContacts or the URL is malformed, Unavailable when the
// server cannot be reached, and FailedPrecondition when the schema was
// written by a newer version of this package.
func Open(ctx context.Context, url string, opts *Options) (*Store, error) {
	if ctx == nil {
		return nil, anpi.Errorf(anpi.InvalidArgument, "postgres: open: nil context")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The message of a parse error may quote the URL, password included.
		return nil, anpi.Errorf(anpi.InvalidArgument, "postgres: open: cannot parse the database URL")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, classify("open", err)
	}
	s, err := newStore(ctx, pool, true, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// New returns a Store on a pool the caller owns: Close stops the store but
// leaves the pool open. It applies the pending migrations, like Open.
func New(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if ctx == nil {
		return nil, anpi.Errorf(anpi.InvalidArgument, "postgres: new: nil context")
	}
	if pool == nil {
		return nil, anpi.Errorf(anpi.InvalidArgument, "postgres: new: nil pool")
	}
	return newStore(ctx, pool, false, opts)
}

// unlistenTimeout bounds the UNLISTEN after WaitForDeliveries.
const unlistenTimeout = 5 * time.Second

// maxIdentLen is PostgreSQL's limit on identifiers, in bytes.
const maxIdentLen = 63

func newStore(ctx context.Context, pool *pgxpool.Pool, own bool, opts *Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, anpi.Errorf(anpi.Unavailable, "postgres: open: %w", err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Sealer == nil && !o.AllowPlaintextContacts {
		return nil, anpi.Errorf(anpi.InvalidArgument, "postgres: open: no Sealer for private contacts (set Options.Sealer, or AllowPlaintextContacts for tests)")
	}
	if o.Schema == "" {
		o.Schema = "public"
	}
	if len(o.Schema) > maxIdentLen || strings.ContainsRune(o.Schema, 0) {
		return nil, anpi.Errorf(anpi.InvalidArgument, "postgres: open: schema name %q is longer than %d bytes or has a NUL", o.Schema, maxIdentLen)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.GroupCommitWindow == 0 {
		o.GroupCommitWindow = time.Millisecond
	}
	if o.GroupCommitMax <= 0 {
		o.GroupCommitMax = 512
	}
	if o.TxRetries <= 0 {
		o.TxRetries = 5
	}
	s := &Store{
		pool: pool, ownPool: own, schema: o.Schema, ident: pgx.Identifier{o.Schema}.Sanitize(),
		now: o.Now, sealer: o.Sealer, plain: o.AllowPlaintextContacts, retries: o.TxRetries,
	}
	if err := s.migrate(ctx, SchemaVersion()); err != nil {
		return nil, err
	}
	s.gc = newCommitter(s, o.GroupCommitWindow, o.GroupCommitMax)
	return s, nil
}

// Schema returns the schema that holds the store's tables.
func (s *Store) Schema() string { return s.schema }

// Pool returns the connection pool the store uses.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close stops the group committer (answers already queued are committed
// first) and, when Open created the pool, closes it. Every later call
// fails with FailedPrecondition. Calling Close again returns nil.
func (s *Store) Close() error {
	s.closeM.Lock()
	defer s.closeM.Unlock()
	if s.closed.Load() {
		return nil
	}
	s.gc.stop()
	s.closed.Store(true)
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

func errClosed() error { return anpi.Errorf(anpi.FailedPrecondition, "postgres: the store is closed") }

// check validates ctx and that the store is open.
func (s *Store) check(ctx context.Context) error {
	if ctx == nil {
		return anpi.Errorf(anpi.InvalidArgument, "postgres: nil context")
	}
	if s.closed.Load() {
		return errClosed()
	}
	if err := ctx.Err(); err != nil {
		return anpi.Errorf(anpi.Unavailable, "postgres: %w", err)
	}
	return nil
}

// sql rewrites a query as written in this package into what the server
// runs: {table} becomes the schema-qualified table name and each ? the
// next $n placeholder (outside quoted strings). Results are cached.
func (s *Store) sql(query string) string {
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 32)
	n := 0
	inQuote := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case inQuote:
			b.WriteByte(c)
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		case c == '{':
			end := strings.IndexByte(query[i:], '}')
			if end < 0 {
				b.WriteString(query[i:])
				i = len(query)
				continue
			}
			b.WriteString(s.ident)
			b.WriteByte('.')
			b.WriteString(query[i+1 : i+end])
			i += end
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	s.queries.Store(query, out)
	return out
}

// InTx runs fn in one transaction (READ COMMITTED; rows are locked with
// SELECT … FOR UPDATE where the operations need it). When fn returns an
// error or panics, nothing it did is kept (a panic goes on after the
// rollback). When the server aborts the transaction for a serialization
// failure or a deadlock, InTx runs fn again, up to Options.TxRetries
// times: fn must be safe to run more than once. fn must use only the Tx it
// is given, must not call InTx, and must not keep the Tx after it returns.
// Answers recorded through the Tx are committed with the transaction, not
// through the group committer.
func (s *Store) InTx(ctx context.Context, fn func(tx anpi.Tx) error) error {
	if fn == nil {
		return anpi.Errorf(anpi.InvalidArgument, "postgres: transaction: nil function")
	}
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

// ReadTx implements anpi.Store: fn runs in a READ ONLY, REPEATABLE READ
// transaction, so every statement reads the same snapshot.
func (s *Store) ReadTx(ctx context.Context, fn func(tx anpi.Tx) error) error {
	if fn == nil {
		return anpi.Errorf(anpi.InvalidArgument, "postgres: read transaction: nil function")
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return classify("begin", err)
	}
	t := newTx(s, pgTx, false)
	defer func() {
		t.done = true
		_ = pgTx.Rollback(context.WithoutCancel(ctx))
	}()
	return fn(t)
}

// update runs fn in a read-write transaction and commits it, retrying on
// serialization failures and deadlocks.
func (s *Store) update(ctx context.Context, fn func(t *tx) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var err error
	for attempt := 0; ; attempt++ {
		err = s.updateOnce(ctx, fn)
		if err == nil || !retryable(err) || attempt >= s.retries || ctx.Err() != nil {
			return err
		}
	}
}

func (s *Store) updateOnce(ctx context.Context, fn func(t *tx) error) error {
	pgTx, err := s.pool.Begin(ctx)
	if err != nil {
		return classify("begin", err)
	}
	t := newTx(s, pgTx, true)
	committed := false
	defer func() {
		t.done = true
		if !committed {
			_ = pgTx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if err := t.flush(ctx); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return classify("commit", err)
	}
	committed = true
	return nil
}

// view runs fn in a read-only transaction.
func view[T any](s *Store, ctx context.Context, fn func(t *tx) (T, error)) (T, error) {
	var zero T
	if err := s.check(ctx); err != nil {
		return zero, err
	}
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return zero, classify("begin", err)
	}
	t := newTx(s, pgTx, false)
	defer func() {
		t.done = true
		_ = pgTx.Rollback(context.WithoutCancel(ctx))
	}()
	return fn(t)
}

// write runs fn, which returns a result, in a read-write transaction.
func write[T any](s *Store, ctx context.Context, fn func(t *tx) (T, error)) (T, error) {
	var out T
	err := s.update(ctx, func(t *tx) error {
		var err error
		out, err = fn(t)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// PostgreSQL error codes this package reacts to.
const (
	pgUniqueViolation       = "23505"
	pgForeignKeyViolation   = "23503"
	pgSerializationFailure  = "40001"
	pgDeadlockDetected      = "40P01"
	pgQueryCanceled         = "57014"
	pgLockNotAvailable      = "55P03"
	pgInsufficientPrivilege = "42501"
)

// retryable reports whether err is a serialization failure or a deadlock:
// the transaction was aborted and may succeed when run again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == pgSerializationFailure || pe.Code == pgDeadlockDetected
	}
	return false
}

// classify turns an error from pgx or PostgreSQL into an *anpi.Error:
// unique violations are AlreadyExists, foreign-key violations and missing
// privileges FailedPrecondition, bad data (class 22) InvalidArgument; connection
// failures, a server shutting down or short of resources, serialization
// failures, deadlocks and a cancelled context are Unavailable; the rest
// Internal. Errors that already carry a code keep it.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *anpi.Error
	if errors.As(err, &ae) {
		return anpi.Errorf(ae.Code, "postgres: %s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return anpi.Errorf(anpi.Unavailable, "postgres: %s: %w", op, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		code := anpi.Internal
		switch {
		case pe.Code == pgUniqueViolation:
			code = anpi.AlreadyExists
		case pe.Code == pgForeignKeyViolation:
			code = anpi.FailedPrecondition
		case strings.HasPrefix(pe.Code, "22"): // data exception: a NUL in text, a number out of range
			code = anpi.InvalidArgument
		case pe.Code == pgInsufficientPrivilege: // the database's set-up forbids it: for its administrator to fix
			code = anpi.FailedPrecondition
		case pe.Code == pgSerializationFailure, pe.Code == pgDeadlockDetected, pe.Code == pgQueryCanceled, pe.Code == pgLockNotAvailable,
			strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"), // insufficient resources (too many connections, disk full)
			strings.HasPrefix(pe.Code, "57"): // operator intervention (shutdown, restart)
			code = anpi.Unavailable
		}
		return anpi.Errorf(code, "postgres: %s: %w", op, err)
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, pgx.ErrTxClosed) || strings.Contains(err.Error(), "closed pool") || strings.Contains(err.Error(), "conn closed") {
		return anpi.Errorf(anpi.Unavailable, "postgres: %s: %w", op, err)
	}
	return anpi.Errorf(anpi.Internal, "postgres: %s: %w", op, err)
}

// wrap prefixes a validation error with the operation, keeping its code.
func wrap(op string, err error) error {
	return anpi.Errorf(anpi.Code(err), "postgres: %s: %w", op, err)
}
