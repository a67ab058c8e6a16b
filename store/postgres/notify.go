package postgres

import (
	"context"

	"github.com/anpikit/anpi/anpi"
	"github.com/jackc/pgx/v5"
)

// WaitForDeliveries blocks until a transaction that enqueued deliveries
// in the store's schema commits (a NOTIFY, from any replica), or until ctx
// ends (then it returns Unavailable). It holds a pool connection while it
// waits.
//
// A notification sent before the call is not seen, so a dispatcher claims
// first and waits only when a claim came back empty, with a deadline on
// ctx: deliveries that become due later (retries, reminders) send no
// notification.
func (s *Store) WaitForDeliveries(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return classify("wait for deliveries", err)
	}
	channel := pgx.Identifier{s.notifyChannel()}.Sanitize()
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		conn.Release()
		return classify("wait for deliveries: listen", err)
	}
	_, werr := conn.Conn().WaitForNotification(ctx)
	// The connection goes back to the pool: stop listening first (with a
	// context of its own, since ctx may have ended), or drop it.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlistenTimeout)
	defer cancel()
	if _, err := conn.Exec(uctx, "UNLISTEN "+channel); err != nil {
		_ = conn.Conn().Close(uctx)
	}
	conn.Release()
	if werr != nil {
		if ctx.Err() != nil {
			return anpi.Errorf(anpi.Unavailable, "postgres: wait for deliveries: %w", ctx.Err())
		}
		return classify("wait for deliveries", werr)
	}
	return nil
}
