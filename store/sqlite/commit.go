package sqlite

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// committer is the group committer: one goroutine that takes the answers
// RecordResponse queues and commits those that arrive together in one
// transaction, so that one fsync acknowledges many answers.
type committer struct {
	s      *Store
	window time.Duration
	max    int
	queue  chan *commitReq

	// mu guards stopped: senders hold it shared while they enqueue, stop
	// holds it exclusively, so nothing is enqueued after the loop's last
	// drain.
	mu      sync.RWMutex
	stopped bool
	quit    chan struct{}
	done    chan struct{}

	batches, answers, fallbacks atomic.Int64
}

type commitReq struct {
	ctx context.Context
	r   *anpi.Response
	res chan commitRes // buffered: the committer never blocks on a caller
}

type commitRes struct {
	ok  bool
	err error
}

func newCommitter(s *Store, window time.Duration, max, queue int) *committer {
	c := &committer{s: s, window: window, max: max, queue: make(chan *commitReq, queue), quit: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// record queues r and waits until its transaction committed (or failed).
func (c *committer) record(ctx context.Context, r *anpi.Response) (bool, error) {
	if err := c.s.check(ctx); err != nil {
		return false, err
	}
	req := &commitReq{ctx: ctx, r: r, res: make(chan commitRes, 1)}
	if err := c.enqueue(ctx, req); err != nil {
		return false, err
	}
	select {
	case res := <-req.res:
		return res.ok, res.err
	case <-ctx.Done():
		return false, anpi.Errorf(anpi.Unavailable, "sqlite: record response: %w (the answer may still be committed; retry with the same response ID)", ctx.Err())
	}
}

func (c *committer) enqueue(ctx context.Context, req *commitReq) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.stopped {
		return errClosed()
	}
	select {
	case c.queue <- req:
		return nil
	case <-ctx.Done():
		return anpi.Errorf(anpi.Unavailable, "sqlite: record response: %w", ctx.Err())
	}
}

// stop lets the loop commit what is queued, then ends it.
func (c *committer) stop() {
	c.mu.Lock()
	if !c.stopped {
		c.stopped = true
		close(c.quit)
	}
	c.mu.Unlock()
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	for {
		var first *commitReq
		select {
		case first = <-c.queue:
		case <-c.quit:
			for {
				batch := c.drain(nil)
				if len(batch) == 0 {
					return
				}
				c.commit(batch)
			}
		}
		batch := []*commitReq{first}
		if c.window > 0 && len(batch) < c.max {
			timer := time.NewTimer(c.window)
		collect:
			for len(batch) < c.max {
				select {
				case r := <-c.queue:
					batch = append(batch, r)
				case <-timer.C:
					break collect
				case <-c.quit:
					break collect
				}
			}
			timer.Stop()
		}
		c.commit(c.drain(batch))
	}
}

// drain appends what is queued, without waiting, up to the batch limit.
func (c *committer) drain(batch []*commitReq) []*commitReq {
	for len(batch) < c.max {
		select {
		case r := <-c.queue:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit records a batch in one transaction and answers every caller once
// it is committed. When the shared transaction fails, each answer is
// retried in a transaction of its own, so one cannot fail the others.
func (c *committer) commit(batch []*commitReq) {
	live := batch[:0:0]
	for _, req := range batch {
		if err := req.ctx.Err(); err != nil {
			req.res <- commitRes{err: anpi.Errorf(anpi.Unavailable, "sqlite: record response: %w", err)}
			continue
		}
		live = append(live, req)
	}
	if len(live) == 0 {
		return
	}
	results, err := c.shared(live)
	if err == nil {
		c.batches.Add(1)
		c.answers.Add(int64(len(live)))
		for i, req := range live {
			req.res <- results[i]
		}
		return
	}
	c.fallbacks.Add(1)
	for _, req := range live {
		ok, err := write(c.s, req.ctx, func(t *tx) (bool, error) { return t.recordResponse(req.ctx, req.r) })
		c.batches.Add(1)
		c.answers.Add(1)
		req.res <- commitRes{ok: ok, err: err}
	}
}

// shared records the batch in one transaction. A refused answer (unknown
// user, closed survey, invalid answers) leaves no trace, since it is
// refused before it writes; shared returns an error only when the
// transaction as a whole failed.
func (c *committer) shared(batch []*commitReq) ([]commitRes, error) {
	ctx := context.Background()
	var results []commitRes
	err := c.s.withWriter(ctx, func() error {
		var err error
		results, err = c.sharedLocked(ctx, batch)
		return err
	})
	return results, err
}

func (c *committer) sharedLocked(ctx context.Context, batch []*commitReq) ([]commitRes, error) {
	w := c.s.w
	if err := w.begin(ctx); err != nil {
		return nil, err
	}
	t := newTx(c.s, w, true)
	committed := false
	defer func() {
		t.done = true
		if !committed {
			w.rollback()
		}
	}()
	results := make([]commitRes, len(batch))
	for i, req := range batch {
		ok, err := t.recordResponse(context.WithoutCancel(req.ctx), req.r)
		var we *writeError
		if errors.As(err, &we) {
			return nil, err // half an answer is in the transaction: abandon it
		}
		results[i] = commitRes{ok: ok, err: err}
	}
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	if err := w.commit(ctx); err != nil {
		return nil, err
	}
	committed = true
	return results, nil
}

// GroupCommitStats reports, since Open, how many transactions the group
// committer committed, how many answers they carried, and how many times
// a shared transaction failed and its answers were committed one by one.
func (s *Store) GroupCommitStats() (transactions, answers, fallbacks int64) {
	return s.gc.batches.Load(), s.gc.answers.Load(), s.gc.fallbacks.Load()
}
