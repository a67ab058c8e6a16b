package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// tx is one transaction: a write transaction on the writer connection or a
// read transaction on a reader.
type tx struct {
	s     *Store
	q     querier
	write bool
	done  bool
	// pending holds the tally changes not yet written to the tally table:
	// they are folded per survey and group and written by flush, before
	// the commit and before anything reads the counters.
	pending map[anpi.SurveyID]*anpi.Tally
	// surveys are the surveys this transaction read, decoded; a write of
	// a survey drops its entry.
	surveys map[anpi.SurveyID]*anpi.Survey
	// usersWritten says that the transaction wrote users: flush moves
	// the users version (UsersVersion) once for all of them.
	usersWritten bool
}

var _ anpi.Tx = (*tx)(nil)

func newTx(s *Store, q querier, write bool) *tx { return &tx{s: s, q: q, write: write} }

// begin checks that the transaction may run an operation.
func (t *tx) begin(ctx context.Context) error {
	if ctx == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: nil context")
	}
	if t.done {
		return anpi.Errorf(anpi.FailedPrecondition, "sqlite: the transaction has ended")
	}
	if err := ctx.Err(); err != nil {
		return anpi.Errorf(anpi.Unavailable, "sqlite: %w", err)
	}
	return nil
}

// beginWrite is begin for an operation that changes the store.
func (t *tx) beginWrite(ctx context.Context) error {
	if err := t.begin(ctx); err != nil {
		return err
	}
	if !t.write {
		return anpi.Errorf(anpi.Internal, "sqlite: write in a read-only transaction")
	}
	return nil
}

func (t *tx) now() time.Time { return t.s.now().UTC() }

func (t *tx) exec(ctx context.Context, op, query string, args ...any) (sql.Result, error) {
	res, err := t.q.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	return res, nil
}

// one scans the single row of query into dest; found is false when there
// is none.
func (t *tx) one(ctx context.Context, op, query string, args []any, dest ...any) (found bool, err error) {
	err = t.q.QueryRowContext(ctx, query, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, classify(op, err)
	}
	return true, nil
}

// exists reports whether query returns a row.
func (t *tx) exists(ctx context.Context, op, query string, args ...any) (bool, error) {
	var x int
	return t.one(ctx, op, query, args, &x)
}

// list runs query and decodes the data column of each row.
func list[T any](t *tx, ctx context.Context, op, query string, args ...any) ([]*T, error) {
	rows, err := t.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, classify(op, err)
		}
		v := new(T)
		if err := decode(op, data, v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}

func encode(op string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, anpi.Errorf(anpi.InvalidArgument, "sqlite: %s: encode: %w", op, err)
	}
	return b, nil
}

func decode(op string, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return anpi.Errorf(anpi.Internal, "sqlite: %s: stored record is damaged: %w", op, err)
	}
	return nil
}

// nanos encodes a time as Unix nanoseconds; the zero time is NULL.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromNanos decodes what nanos encoded.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// utc returns t in UTC, keeping the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// surveyCache keeps decoded surveys by their stored bytes, so that
// recording an answer does not decode the survey's form every time. An
// entry is used only when the stored bytes are still the same, so it is
// never stale, whatever transactions committed or rolled back.
type surveyCache struct {
	mu sync.Mutex
	m  map[anpi.SurveyID]cachedSurvey
}

type cachedSurvey struct {
	raw []byte
	s   *anpi.Survey
}

const maxCachedSurveys = 64

func (c *surveyCache) get(id anpi.SurveyID, raw []byte) *anpi.Survey {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if ok && bytes.Equal(e.raw, raw) {
		return e.s
	}
	return nil
}

func (c *surveyCache) put(id anpi.SurveyID, raw []byte, s *anpi.Survey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedSurveys {
		c.m = map[anpi.SurveyID]cachedSurvey{}
	}
	c.m[id] = cachedSurvey{raw: bytes.Clone(raw), s: s}
}
