package sqlite

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/anpikit/anpi/anpi"
)

// Write transactions share commits. SQLite has one writer, and every
// commit with synchronous=FULL waits for the disk: when the dispatcher's
// lanes claim, write answer tokens and record results at once, and the
// engine writes a fan-out, each small transaction used to wait for the
// commits of all those queued before it (the first batch of a send took
// 50 ms to render, most of it waiting). Now the goroutine that gets the
// writer leads: it runs every transaction queued at that moment in one
// SQLite transaction, each inside a SAVEPOINT of its own, and commits once.
// A transaction whose function fails (or panics) is rolled back to its
// savepoint and changes nothing; the others go on. Each caller hears back
// only after the commit that holds its writes is durable, as before.

// maxWriteBatch bounds the transactions one commit carries, so that a
// leader does not run others' work for ever while more keeps coming.
const maxWriteBatch = 64

// writeReq is a write transaction waiting for a leader.
type writeReq struct {
	ctx   context.Context
	fn    func(t *tx) error
	done  chan writeRes // buffered: the leader never waits for the caller
	state atomic.Int32  // reqQueued, then reqTaken or reqAbandoned
}

const (
	reqQueued int32 = iota
	reqTaken
	reqAbandoned
)

// writeRes is what became of a writeReq.
type writeRes struct {
	err      error
	panicked bool
	panicVal any
}

// writeQueue holds the write transactions not taken by a leader yet.
type writeQueue struct {
	mu   sync.Mutex
	reqs []*writeReq
}

// len returns the number of requests queued (tests).
func (q *writeQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.reqs)
}

func (q *writeQueue) push(r *writeReq) {
	q.mu.Lock()
	q.reqs = append(q.reqs, r)
	q.mu.Unlock()
}

// take removes up to max queued requests, marking them taken; requests
// their callers gave up on are dropped.
func (q *writeQueue) take(max int) []*writeReq {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*writeReq
	i := 0
	for ; i < len(q.reqs) && len(out) < max; i++ {
		if r := q.reqs[i]; r.state.CompareAndSwap(reqQueued, reqTaken) {
			out = append(out, r)
		}
	}
	q.reqs = append(q.reqs[:0], q.reqs[i:]...)
	return out
}

// update runs fn in a write transaction and returns once it is committed
// (or failed, having changed nothing); see the comment at the top of this
// file. A panic in fn goes on in the caller's goroutine after the
// rollback.
func (s *Store) update(ctx context.Context, fn func(t *tx) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan writeRes, 1)}
	s.wq.push(r)
	for {
		select {
		case res := <-r.done:
			return res.result()
		case s.w.sem <- struct{}{}:
			s.lead()
		case <-s.w.closed:
			if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
				return errClosed()
			}
			return (<-r.done).result()
		case <-ctx.Done():
			if r.state.CompareAndSwap(reqQueued, reqAbandoned) {
				return anpi.Errorf(anpi.Unavailable, "sqlite: wait for the writer: %w", ctx.Err())
			}
			return (<-r.done).result() // a leader runs it: its outcome decides
		}
	}
}

// result returns the error, or re-panics with fn's panic.
func (res writeRes) result() error {
	if res.panicked {
		panic(res.panicVal)
	}
	return res.err
}

// lead runs the queued transactions, a batch per commit, until the queue
// is empty, holding the writer; it releases the writer before it returns.
func (s *Store) lead() {
	defer s.w.release()
	for {
		if s.closed.Load() {
			for _, r := range s.wq.take(int(^uint(0) >> 1)) {
				r.done <- writeRes{err: errClosed()}
			}
			return
		}
		max := maxWriteBatch
		if s.solo {
			max = 1
		}
		batch := s.wq.take(max)
		if len(batch) == 0 {
			return
		}
		s.runBatch(batch)
	}
}

// runBatch runs batch in one SQLite transaction and tells each request
// what became of it.
func (s *Store) runBatch(batch []*writeReq) {
	ctx := context.Background() // BEGIN and COMMIT serve everyone
	if err := s.w.begin(ctx); err != nil {
		for _, r := range batch {
			r.done <- writeRes{err: err}
		}
		return
	}
	var ok []*writeReq
	fail := func(err error) { // the whole transaction is lost
		s.w.rollback()
		for _, r := range ok {
			r.done <- writeRes{err: err}
		}
	}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- writeRes{err: anpi.Errorf(anpi.Unavailable, "sqlite: transaction: %w", err)}
			continue
		}
		if _, err := s.w.conn.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			err = classify("savepoint", err)
			fail(err)
			for _, r := range batch[i:] {
				r.done <- writeRes{err: err}
			}
			return
		}
		res := s.runOne(r)
		if res.err == nil && !res.panicked {
			if _, err := s.w.conn.ExecContext(ctx, "RELEASE w"); err != nil {
				err = classify("release savepoint", err)
				r.done <- writeRes{err: err}
				fail(err)
				for _, r := range batch[i+1:] {
					r.done <- writeRes{err: err}
				}
				return
			}
			ok = append(ok, r)
			continue
		}
		// Undo this one only. If SQLite already rolled the whole
		// transaction back (an I/O error, a full disk), the savepoint is
		// gone and the others' writes with it.
		if _, err := s.w.conn.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
			err = classify("roll back to savepoint", err)
			r.done <- res
			fail(fmt.Errorf("%w (after another transaction of the same commit failed)", err))
			for _, r := range batch[i+1:] {
				r.done <- writeRes{err: err}
			}
			return
		}
		if _, err := s.w.conn.ExecContext(ctx, "RELEASE w"); err != nil {
			err = classify("release savepoint", err)
			r.done <- res
			fail(err)
			for _, r := range batch[i+1:] {
				r.done <- writeRes{err: err}
			}
			return
		}
		r.done <- res
	}
	if len(ok) == 0 {
		s.w.rollback()
		return
	}
	if err := s.w.commit(ctx); err != nil {
		fail(err)
		return
	}
	for _, r := range ok {
		r.done <- writeRes{}
	}
}

// runOne runs one request's function and the flush of its tally changes,
// catching a panic.
func (s *Store) runOne(r *writeReq) (res writeRes) {
	t := newTx(s, s.w, true)
	defer func() {
		t.done = true
		if p := recover(); p != nil {
			res = writeRes{panicked: true, panicVal: p}
		}
	}()
	if err := r.fn(t); err != nil {
		return writeRes{err: err}
	}
	if err := t.flush(r.ctx); err != nil {
		return writeRes{err: err}
	}
	return writeRes{}
}
