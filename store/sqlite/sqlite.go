package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anpikit/anpi/anpi"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Synchronous is SQLite's synchronous setting: how hard a commit waits for
// the disk.
type Synchronous string

// The synchronous settings. Only Full makes every acknowledged commit
// survive a power loss; Normal (in WAL mode) survives a crash of the
// process but may lose the last commits on a power loss.
const (
	Full   Synchronous = "FULL"
	Normal Synchronous = "NORMAL"
	Off    Synchronous = "OFF"
)

// Options configure a Store. A nil *Options means the defaults.
type Options struct {
	// Now is the clock that fills timestamps the caller left zero. It
	// defaults to time.Now; the store converts what it returns to UTC.
	Now func() time.Time
	// Synchronous defaults to Full: an acknowledged write survives a crash
	// of the process or of the machine.
	Synchronous Synchronous
	// BusyTimeout is how long a statement waits for a lock held by another
	// connection before failing with Unavailable (default 5 s).
	BusyTimeout time.Duration
	// Readers is the number of read connections (default 4, at least
	// GOMAXPROCS).
	Readers int
	// ReaderMmap is how much of the database file each read connection
	// maps into memory (SQLite's mmap_size) instead of caching its pages:
	// default 1 GiB. Under a stream of commits a reader otherwise drops its
	// page cache before every read, which costs milliseconds. A negative
	// value turns mapping off, for file systems where mmap is unsafe (a
	// network file system, a file another process may truncate).
	ReaderMmap int64
	// Sealer seals private and family contacts at rest (address, label and
	// check state). It is required unless AllowPlaintextContacts is set.
	Sealer anpi.Sealer
	// AllowPlaintextContacts lets Open run without a Sealer: private
	// contacts are then stored in the clear. Meant for tests and demos.
	AllowPlaintextContacts bool
	// GroupCommitWindow is how long the committer waits, after the first
	// answer of a batch arrives, for more answers to share its transaction
	// (default 1 ms; a negative value means no waiting: a batch is what
	// queued up during the previous commit).
	GroupCommitWindow time.Duration
	// GroupCommitMax caps the answers of one group commit (default 1024).
	GroupCommitMax int
	// GroupCommitQueue is the capacity of the committer's queue (default
	// 4096); RecordResponse blocks, honouring its context, while it is full.
	GroupCommitQueue int

	checkpointed func(error) // tests: called after each background checkpoint
	soloWrites   bool        // benchmarks: one commit per write transaction (the naive baseline)
}

// Store is an anpi.Store in one SQLite file. It is safe for concurrent use
// by many goroutines; open a file from one Store (and one process) at a
// time. Create one with Open.
type Store struct {
	path   string
	now    func() time.Time
	sealer anpi.Sealer
	plain  bool

	wdb *sql.DB // one connection, held by w once the migrations ran
	w   *writer // every write goes through it
	rdb *sql.DB // the readers

	lock   *fileLock
	closed atomic.Bool
	closeM sync.Mutex

	gc   *committer
	ckpt *checkpointer
	wq   writeQueue // write transactions waiting for a leader (update)
	// rstmts are the read transactions' prepared statements.
	rstmts readStmts
	solo   bool // Options.soloWrites

	surveys surveyCache
}

var _ anpi.Store = (*Store)(nil)

// Open opens (creating it when missing) the database at path, applies the
// pending migrations and starts the group committer. opts may be nil.
//
// Open fails with InvalidArgument when there is neither a Sealer nor
// AllowPlaintextContacts, FailedPrecondition when another Store (in this
// process or another) holds the file, or when the file was written by a
// newer version of this package.
func Open(ctx context.Context, path string, opts *Options) (*Store, error) {
	if ctx == nil {
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: open: nil context")
	}
	if err := ctx.Err(); err != nil {
		return nil, anpi.Errorf(anpi.Unavailable, "sqlite: open: %w", err)
	}
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: open: want a file path, not %q", path)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Sealer == nil && !o.AllowPlaintextContacts {
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: open %s: no Sealer for private contacts (set Options.Sealer, or AllowPlaintextContacts for tests)", path)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch strings.ToUpper(string(o.Synchronous)) {
	case "":
		o.Synchronous = Full
	case string(Full), string(Normal), string(Off):
		o.Synchronous = Synchronous(strings.ToUpper(string(o.Synchronous)))
	default:
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: open %s: unknown synchronous %q (want FULL, NORMAL or OFF)", path, o.Synchronous)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.ReaderMmap == 0 {
		o.ReaderMmap = 1 << 30
	}
	if o.Readers <= 0 {
		o.Readers = max(4, runtime.GOMAXPROCS(0))
	}
	if o.GroupCommitWindow == 0 {
		o.GroupCommitWindow = time.Millisecond
	}
	if o.GroupCommitMax <= 0 {
		o.GroupCommitMax = 1024
	}
	if o.GroupCommitQueue <= 0 {
		o.GroupCommitQueue = 4096
	}

	lk, err := lockFile(path + ".lock")
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, now: o.Now, sealer: o.Sealer, plain: o.AllowPlaintextContacts, lock: lk}
	fail := func(err error) (*Store, error) {
		if s.w != nil {
			_ = s.w.close()
		}
		if s.wdb != nil {
			_ = s.wdb.Close()
		}
		if s.rdb != nil {
			_ = s.rdb.Close()
		}
		_ = lk.release()
		return nil, err
	}
	base := (&url.URL{Scheme: "file", Opaque: pathEscape(path)}).String()
	pragmas := url.Values{}
	pragmas.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
	pragmas.Add("_pragma", "foreign_keys(1)")
	pragmas.Add("_pragma", "synchronous("+string(o.Synchronous)+")")
	wq := url.Values{}
	for k, v := range pragmas {
		wq[k] = v
	}
	wq.Set("_txlock", "immediate")
	// A large page cache keeps a big transaction (100,000 deliveries) from
	// spilling pages to the log before its commit.
	wq.Add("_pragma", "cache_size(-65536)")
	// Statement journals (a multi-row insert that may hit a constraint
	// keeps one) stay in memory instead of a temporary file.
	wq.Add("_pragma", "temp_store(MEMORY)")
	// The checkpointer does the checkpoints; the writer only past the
	// backstop.
	wq.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", checkpointBackstop))
	s.wdb, err = sql.Open("sqlite", base+"?"+wq.Encode())
	if err != nil {
		return fail(anpi.Errorf(anpi.Internal, "sqlite: open %s: %w", path, err))
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if err := s.wdb.PingContext(ctx); err != nil {
		return fail(classify("open "+path, err))
	}
	// WAL mode is stored in the file, so the readers need not set it.
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return fail(classify("open "+path, err))
	}
	if !strings.EqualFold(mode, "wal") {
		return fail(anpi.Errorf(anpi.FailedPrecondition, "sqlite: open %s: cannot switch to WAL mode (journal mode is %s)", path, mode))
	}
	if err := migrate(ctx, s.wdb, SchemaVersion(), s.now, s.backfill); err != nil {
		return fail(err)
	}
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return fail(classify("open "+path, err))
	}
	s.w = newWriter(conn)
	rq := url.Values{}
	for k, v := range pragmas {
		rq[k] = v
	}
	rq.Add("_pragma", "query_only(1)")
	// Every commit of the writer makes a reader's next transaction drop
	// its page cache, page by page (modernc.org/sqlite's allocator gives
	// each page back to the system with madvise: a render's read took 20
	// ms behind a fan-out). The readers map the database file instead
	// (its pages are not cached, nothing to drop) and keep a small cache
	// for the pages still in the log.
	rq.Add("_pragma", fmt.Sprintf("mmap_size(%d)", max(o.ReaderMmap, 0)))
	rq.Add("_pragma", "cache_size(-256)")
	s.rdb, err = sql.Open("sqlite", base+"?"+rq.Encode())
	if err != nil {
		return fail(anpi.Errorf(anpi.Internal, "sqlite: open %s: %w", path, err))
	}
	s.rdb.SetMaxOpenConns(o.Readers)
	s.rdb.SetMaxIdleConns(o.Readers)
	if err := s.rdb.PingContext(ctx); err != nil {
		return fail(classify("open "+path, err))
	}
	s.solo = o.soloWrites
	s.rstmts.db = s.rdb
	s.ckpt = newCheckpointer(s.rdb, o.checkpointed)
	s.w.ckpt = s.ckpt
	s.gc = newCommitter(s, o.GroupCommitWindow, o.GroupCommitMax, o.GroupCommitQueue)
	return s, nil
}

// pathEscape escapes a file path for a file: URI, keeping slashes.
func pathEscape(p string) string {
	return strings.ReplaceAll(url.PathEscape(strings.ReplaceAll(p, "\\", "/")), "%2F", "/")
}

// Path returns the path of the database file.
func (s *Store) Path() string { return s.path }

// Close stops the group committer (answers already queued are committed
// first), closes the database and releases the lock. Every later call
// fails with FailedPrecondition. Calling Close again returns nil.
func (s *Store) Close() error {
	s.closeM.Lock()
	defer s.closeM.Unlock()
	if s.closed.Load() {
		return nil
	}
	s.gc.stop()
	s.closed.Store(true)
	var errs []error
	_ = s.w.acquire(context.Background()) // wait for the transaction in flight
	s.ckpt.stop()
	// Fold the WAL back into the database file so the file alone is whole.
	if _, err := s.w.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		errs = append(errs, err)
	}
	s.rstmts.close()
	errs = append(errs, s.rdb.Close(), s.w.close(), s.wdb.Close(), s.lock.release())
	if err := errors.Join(errs...); err != nil {
		return anpi.Errorf(anpi.Internal, "sqlite: close %s: %w", s.path, err)
	}
	return nil
}

// Checkpoint copies the write-ahead log into the database file and
// truncates the log (PRAGMA wal_checkpoint(TRUNCATE)).
func (s *Store) Checkpoint(ctx context.Context) error {
	return s.withWriter(ctx, func() error {
		if _, err := s.w.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return classify("checkpoint", err)
		}
		return nil
	})
}

// withWriter runs fn holding the writer connection, outside a transaction.
func (s *Store) withWriter(ctx context.Context, fn func() error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := s.w.acquire(ctx); err != nil {
		return err
	}
	defer s.w.release()
	if s.closed.Load() {
		return errClosed()
	}
	return fn()
}

func errClosed() error { return anpi.Errorf(anpi.FailedPrecondition, "sqlite: the store is closed") }

// check validates ctx and that the store is open.
func (s *Store) check(ctx context.Context) error {
	if ctx == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: nil context")
	}
	if s.closed.Load() {
		return errClosed()
	}
	if err := ctx.Err(); err != nil {
		return anpi.Errorf(anpi.Unavailable, "sqlite: %w", err)
	}
	return nil
}

// InTx runs fn in one transaction on the writer connection. When fn returns
// an error or panics, nothing it did is kept (a panic goes on after the
// rollback). fn must use only the Tx it is given, must not call InTx, and
// must not keep the Tx after it returns. Answers recorded through the Tx
// are committed with the transaction, not through the group committer.
func (s *Store) InTx(ctx context.Context, fn func(tx anpi.Tx) error) error {
	if fn == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: transaction: nil function")
	}
	return s.update(ctx, func(t *tx) error { return fn(t) })
}

// ReadTx implements anpi.Store: fn runs in a read transaction on a reader
// connection (a snapshot of the last commit), beside the writer.
func (s *Store) ReadTx(ctx context.Context, fn func(tx anpi.Tx) error) error {
	if fn == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: read transaction: nil function")
	}
	_, err := view(s, ctx, func(t *tx) (struct{}, error) { return struct{}{}, fn(t) })
	return err
}

// view runs fn in a read transaction on a reader connection.
func view[T any](s *Store, ctx context.Context, fn func(t *tx) (T, error)) (T, error) {
	var zero T
	if err := s.check(ctx); err != nil {
		return zero, err
	}
	sqlTx, err := s.rdb.BeginTx(ctx, nil)
	if err != nil {
		return zero, classify("begin", err)
	}
	t := newTx(s, readQuerier{tx: sqlTx, stmts: &s.rstmts}, false)
	defer func() {
		t.done = true
		_ = sqlTx.Rollback()
	}()
	return fn(t)
}

// write runs fn, which returns a result, in a write transaction.
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

// classify turns an error from database/sql or SQLite into an *anpi.Error:
// constraint violations are AlreadyExists (unique keys) or
// FailedPrecondition (the rest), a busy or locked database and a cancelled
// context are Unavailable, the rest Internal. Errors that already carry a
// code keep it.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae *anpi.Error
	if errors.As(err, &ae) {
		return anpi.Errorf(ae.Code, "sqlite: %s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return anpi.Errorf(anpi.Unavailable, "sqlite: %s: %w", op, err)
	}
	if errors.Is(err, sql.ErrConnDone) || errors.Is(err, sql.ErrTxDone) || strings.Contains(err.Error(), "database is closed") {
		return anpi.Errorf(anpi.FailedPrecondition, "sqlite: %s: %w", op, err)
	}
	var se *sqlitedrv.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return anpi.Errorf(anpi.AlreadyExists, "sqlite: %s: %w", op, err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT:
			return anpi.Errorf(anpi.FailedPrecondition, "sqlite: %s: %w", op, err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return anpi.Errorf(anpi.Unavailable, "sqlite: %s: %w", op, err)
		case sqlite3.SQLITE_INTERRUPT:
			return anpi.Errorf(anpi.Unavailable, "sqlite: %s: %w", op, err)
		}
	}
	return anpi.Errorf(anpi.Internal, "sqlite: %s: %w", op, err)
}

// wrap prefixes a validation error with the operation, keeping its code.
func wrap(op string, err error) error {
	return anpi.Errorf(anpi.Code(err), "sqlite: %s: %w", op, err)
}
