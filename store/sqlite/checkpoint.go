package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointPause is the least time between two background checkpoints:
// under a stream of small commits (answers), one checkpoint copies many
// of them at once instead of an fsync of the database file per commit.
const checkpointPause = 100 * time.Millisecond

// checkpointBackstop is the write-ahead log size, in pages, at which the
// writer checkpoints inline after all (SQLite's wal_autocheckpoint): the
// log stays bounded even when the background checkpoints cannot keep up.
const checkpointBackstop = 16384

// checkpointer copies the write-ahead log into the database file in the
// background, on a reader connection, after commits. With SQLite's own
// automatic checkpoint, the commit that crossed 1,000 log pages did it
// inline, before its caller heard back: about a tenth of the time of
// enqueueing 100,000 deliveries, and a latency spike for whichever batch
// of answers was unlucky. A PASSIVE checkpoint waits for nobody, so it
// never holds up the writer or the readers.
type checkpointer struct {
	db         *sql.DB
	wake       chan struct{}
	quit, done chan struct{}
	ran        func(err error) // tests: called after each checkpoint
}

func newCheckpointer(db *sql.DB, ran func(error)) *checkpointer {
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), ran: ran}
	go c.loop()
	return c
}

// poke asks for a checkpoint soon; it never blocks.
func (c *checkpointer) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// stop ends the loop and waits for a checkpoint in progress.
func (c *checkpointer) stop() {
	close(c.quit)
	<-c.done
}

func (c *checkpointer) loop() {
	defer close(c.done)
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		select {
		case <-c.wake:
		case <-c.quit:
			return
		}
		// A failed checkpoint loses nothing: the frames stay in the log
		// for the next one, or for the writer's backstop.
		_, err := c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		if c.ran != nil {
			c.ran(err)
		}
		pause.Reset(checkpointPause)
		select {
		case <-pause.C:
		case <-c.quit:
			return
		}
	}
}
