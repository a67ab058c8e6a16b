package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/anpikit/anpi/anpi"
)

var _ anpi.MessageTx = (*Store)(nil)

// savepoint runs fn behind a savepoint, so that a failure leaves nothing of
// what fn wrote, even inside InTx when the caller goes on after the error.
func (t *tx) savepoint(ctx context.Context, op, name string, fn func() error) error {
	if _, err := t.exec(ctx, op, "SAVEPOINT "+name); err != nil {
		return err
	}
	if err := fn(); err != nil {
		// Undo even when ctx ended. When SQLite already rolled back the
		// whole transaction (an interrupt does), there is no savepoint
		// left and nothing to undo: the error is fn's either way.
		ctx := context.WithoutCancel(ctx)
		if _, rerr := t.exec(ctx, op, "ROLLBACK TO "+name); rerr == nil {
			_, _ = t.exec(ctx, op, "RELEASE "+name)
		}
		return err
	}
	_, err := t.exec(ctx, op, "RELEASE "+name)
	return err
}

func (t *tx) CreateThread(ctx context.Context, th *anpi.Thread) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	const op = "create thread"
	if th == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: create thread: nil thread")
	}
	if err := th.Validate(); err != nil {
		return wrap(op, err)
	}
	taken, err := t.exists(ctx, op, "SELECT 1 FROM threads WHERE id = ?", string(th.ID))
	if err != nil {
		return err
	}
	if taken {
		return anpi.Errorf(anpi.AlreadyExists, "sqlite: create thread: thread %s already exists", th.ID)
	}
	for _, u := range th.Members {
		ok, err := t.exists(ctx, op, "SELECT 1 FROM users WHERE id = ?", string(u))
		if err != nil {
			return err
		}
		if !ok {
			return anpi.Errorf(anpi.NotFound, "sqlite: create thread %s: member %s does not exist", th.ID, u)
		}
	}
	created := th.CreatedAt.UnixNano()
	return t.savepoint(ctx, op, "create_thread", func() error {
		if _, err := t.exec(ctx, op, "INSERT INTO threads (id, title, created_by, created_at, active_at, last_seq) VALUES (?, ?, ?, ?, ?, 0)",
			string(th.ID), th.Title, string(th.CreatedBy), created, created); err != nil {
			return err
		}
		for _, u := range th.Members {
			if _, err := t.exec(ctx, op, "INSERT INTO thread_members (user_id, thread_id) VALUES (?, ?)", string(u), string(th.ID)); err != nil {
				return err
			}
		}
		return nil
	})
}

// threadColumns are the columns scanThread reads, in its order.
const threadColumns = "id, title, created_by, created_at, active_at, last_seq"

// scanThread reads the columns of threadColumns; members are read apart.
func scanThread(sc interface{ Scan(...any) error }) (*anpi.Thread, error) {
	var id, title, by string
	var created, active, seq int64
	if err := sc.Scan(&id, &title, &by, &created, &active, &seq); err != nil {
		return nil, err
	}
	return &anpi.Thread{ID: anpi.ThreadID(id), Title: title, CreatedBy: anpi.UserID(by),
		CreatedAt: fromNanos(sql.NullInt64{Int64: created, Valid: true}), ActiveAt: fromNanos(sql.NullInt64{Int64: active, Valid: true}), LastSeq: seq}, nil
}

// members reads the members of a thread, sorted.
func (t *tx) members(ctx context.Context, op string, id anpi.ThreadID) ([]anpi.UserID, error) {
	rows, err := t.q.QueryContext(ctx, "SELECT user_id FROM thread_members WHERE thread_id = ? ORDER BY user_id", string(id))
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	out := []anpi.UserID{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, classify(op, err)
		}
		out = append(out, anpi.UserID(u))
	}
	if err := rows.Err(); err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}

func (t *tx) GetThread(ctx context.Context, id anpi.ThreadID) (*anpi.Thread, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	const op = "get thread"
	th, err := scanThread(t.q.QueryRowContext(ctx, "SELECT "+threadColumns+" FROM threads WHERE id = ?", string(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: get thread: thread %s does not exist", id)
	}
	if err != nil {
		return nil, classify(op, err)
	}
	if th.Members, err = t.members(ctx, op, id); err != nil {
		return nil, err
	}
	return th, nil
}

func (t *tx) ListThreads(ctx context.Context, u anpi.UserID) ([]*anpi.Thread, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	const op = "list threads"
	rows, err := t.q.QueryContext(ctx, `SELECT t.id, t.title, t.created_by, t.created_at, t.active_at, t.last_seq
		FROM thread_members m JOIN threads t ON t.id = m.thread_id
		WHERE m.user_id = ? ORDER BY t.active_at DESC, t.id`, string(u))
	if err != nil {
		return nil, classify(op, err)
	}
	out := []*anpi.Thread{}
	for rows.Next() {
		th, err := scanThread(rows)
		if err != nil {
			rows.Close()
			return nil, classify(op, err)
		}
		out = append(out, th)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, classify(op, err)
	}
	for _, th := range out {
		if th.Members, err = t.members(ctx, op, th.ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// appendRow bumps last_seq and active_at of the row id of table (threads or
// boards) and returns the new last_seq; found is false when there is no
// such row.
func (t *tx) appendRow(ctx context.Context, op, table, id string, at int64) (seq int64, found bool, err error) {
	found, err = t.one(ctx, op, "UPDATE "+table+" SET last_seq = last_seq + 1, active_at = max(active_at, ?) WHERE id = ? RETURNING last_seq",
		[]any{at, id}, &seq)
	return seq, found, err
}

func (t *tx) AppendMessage(ctx context.Context, m *anpi.Message) (int64, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	const op = "append message"
	if m == nil {
		return 0, anpi.Errorf(anpi.InvalidArgument, "sqlite: append message: nil message")
	}
	if err := m.Validate(); err != nil {
		return 0, wrap(op, err)
	}
	ok, err := t.exists(ctx, op, "SELECT 1 FROM threads WHERE id = ?", string(m.ThreadID))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, anpi.Errorf(anpi.NotFound, "sqlite: append message: thread %s does not exist", m.ThreadID)
	}
	ok, err = t.exists(ctx, op, "SELECT 1 FROM thread_members WHERE user_id = ? AND thread_id = ?", string(m.Author), string(m.ThreadID))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, anpi.Errorf(anpi.FailedPrecondition, "sqlite: append message %s: user %s is not a member of thread %s", m.ID, m.Author, m.ThreadID)
	}
	taken, err := t.exists(ctx, op, "SELECT 1 FROM messages WHERE id = ?", string(m.ID))
	if err != nil {
		return 0, err
	}
	if taken {
		return 0, anpi.Errorf(anpi.AlreadyExists, "sqlite: append message: message %s already exists", m.ID)
	}
	var seq int64
	err = t.savepoint(ctx, op, "append_message", func() error {
		var found bool
		var err error
		if seq, found, err = t.appendRow(ctx, op, "threads", string(m.ThreadID), m.At.UnixNano()); err != nil {
			return err
		}
		if !found {
			return anpi.Errorf(anpi.NotFound, "sqlite: append message: thread %s does not exist", m.ThreadID)
		}
		_, err = t.exec(ctx, op, "INSERT INTO messages (thread_id, seq, id, author, at, text) VALUES (?, ?, ?, ?, ?, ?)",
			string(m.ThreadID), seq, string(m.ID), string(m.Author), m.At.UnixNano(), m.Text)
		return err
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

func (t *tx) Messages(ctx context.Context, id anpi.ThreadID, q *anpi.PageQuery) ([]*anpi.Message, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	const op = "list messages"
	if q != nil {
		if err := q.Validate(); err != nil {
			return nil, wrap(op, err)
		}
	}
	ok, err := t.exists(ctx, op, "SELECT 1 FROM threads WHERE id = ?", string(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: list messages: thread %s does not exist", id)
	}
	rows, err := t.q.QueryContext(ctx, "SELECT seq, id, author, at, text FROM messages WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?",
		string(id), q.After(), q.PageLimit())
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	out := []*anpi.Message{}
	for rows.Next() {
		m := &anpi.Message{ThreadID: id}
		var mid, author string
		var at int64
		if err := rows.Scan(&m.Seq, &mid, &author, &at, &m.Text); err != nil {
			return nil, classify(op, err)
		}
		m.ID, m.Author, m.At = anpi.MessageID(mid), anpi.UserID(author), fromNanos(sql.NullInt64{Int64: at, Valid: true})
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}

func (t *tx) CreateBoard(ctx context.Context, b *anpi.Board) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	const op = "create board"
	if b == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: create board: nil board")
	}
	if err := b.Validate(); err != nil {
		return wrap(op, err)
	}
	taken, err := t.exists(ctx, op, "SELECT 1 FROM boards WHERE id = ?", string(b.ID))
	if err != nil {
		return err
	}
	if taken {
		return anpi.Errorf(anpi.AlreadyExists, "sqlite: create board: board %s already exists", b.ID)
	}
	ok, err := t.exists(ctx, op, "SELECT 1 FROM users WHERE id = ?", string(b.CreatedBy))
	if err != nil {
		return err
	}
	if !ok {
		return anpi.Errorf(anpi.NotFound, "sqlite: create board %s: creator %s does not exist", b.ID, b.CreatedBy)
	}
	if b.Department != "" {
		ok, err := t.exists(ctx, op, "SELECT 1 FROM departments WHERE id = ?", string(b.Department))
		if err != nil {
			return err
		}
		if !ok {
			return anpi.Errorf(anpi.NotFound, "sqlite: create board %s: department %s does not exist", b.ID, b.Department)
		}
	}
	created := b.CreatedAt.UnixNano()
	_, err = t.exec(ctx, op, "INSERT INTO boards (id, title, department, created_by, created_at, active_at, last_seq) VALUES (?, ?, ?, ?, ?, ?, 0)",
		string(b.ID), b.Title, string(b.Department), string(b.CreatedBy), created, created)
	return err
}

// boardColumns are the columns scanBoard reads, in its order.
const boardColumns = "id, title, department, created_by, created_at, active_at, last_seq"

func scanBoard(sc interface{ Scan(...any) error }) (*anpi.Board, error) {
	var id, title, dept, by string
	var created, active, seq int64
	if err := sc.Scan(&id, &title, &dept, &by, &created, &active, &seq); err != nil {
		return nil, err
	}
	return &anpi.Board{ID: anpi.BoardID(id), Title: title, Department: anpi.DepartmentID(dept), CreatedBy: anpi.UserID(by),
		CreatedAt: fromNanos(sql.NullInt64{Int64: created, Valid: true}), ActiveAt: fromNanos(sql.NullInt64{Int64: active, Valid: true}), LastSeq: seq}, nil
}

func (t *tx) GetBoard(ctx context.Context, id anpi.BoardID) (*anpi.Board, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	b, err := scanBoard(t.q.QueryRowContext(ctx, "SELECT "+boardColumns+" FROM boards WHERE id = ?", string(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: get board: board %s does not exist", id)
	}
	if err != nil {
		return nil, classify("get board", err)
	}
	return b, nil
}

func (t *tx) ListBoards(ctx context.Context) ([]*anpi.Board, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	const op = "list boards"
	rows, err := t.q.QueryContext(ctx, "SELECT "+boardColumns+" FROM boards ORDER BY active_at DESC, id")
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	out := []*anpi.Board{}
	for rows.Next() {
		b, err := scanBoard(rows)
		if err != nil {
			return nil, classify(op, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}

func (t *tx) AddPost(ctx context.Context, p *anpi.Post) (int64, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	const op = "add post"
	if p == nil {
		return 0, anpi.Errorf(anpi.InvalidArgument, "sqlite: add post: nil post")
	}
	if err := p.Validate(); err != nil {
		return 0, wrap(op, err)
	}
	ok, err := t.exists(ctx, op, "SELECT 1 FROM boards WHERE id = ?", string(p.BoardID))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, anpi.Errorf(anpi.NotFound, "sqlite: add post: board %s does not exist", p.BoardID)
	}
	ok, err = t.exists(ctx, op, "SELECT 1 FROM users WHERE id = ?", string(p.Author))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, anpi.Errorf(anpi.NotFound, "sqlite: add post %s: author %s does not exist", p.ID, p.Author)
	}
	taken, err := t.exists(ctx, op, "SELECT 1 FROM posts WHERE id = ?", string(p.ID))
	if err != nil {
		return 0, err
	}
	if taken {
		return 0, anpi.Errorf(anpi.AlreadyExists, "sqlite: add post: post %s already exists", p.ID)
	}
	var seq int64
	err = t.savepoint(ctx, op, "add_post", func() error {
		var found bool
		var err error
		if seq, found, err = t.appendRow(ctx, op, "boards", string(p.BoardID), p.At.UnixNano()); err != nil {
			return err
		}
		if !found {
			return anpi.Errorf(anpi.NotFound, "sqlite: add post: board %s does not exist", p.BoardID)
		}
		_, err = t.exec(ctx, op, "INSERT INTO posts (board_id, seq, id, author, at, text) VALUES (?, ?, ?, ?, ?, ?)",
			string(p.BoardID), seq, string(p.ID), string(p.Author), p.At.UnixNano(), p.Text)
		return err
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

func (t *tx) Posts(ctx context.Context, id anpi.BoardID, q *anpi.PageQuery) ([]*anpi.Post, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	const op = "list posts"
	if q != nil {
		if err := q.Validate(); err != nil {
			return nil, wrap(op, err)
		}
	}
	ok, err := t.exists(ctx, op, "SELECT 1 FROM boards WHERE id = ?", string(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: list posts: board %s does not exist", id)
	}
	rows, err := t.q.QueryContext(ctx, "SELECT seq, id, author, at, text FROM posts WHERE board_id = ? AND seq > ? ORDER BY seq LIMIT ?",
		string(id), q.After(), q.PageLimit())
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	out := []*anpi.Post{}
	for rows.Next() {
		p := &anpi.Post{BoardID: id}
		var pid, author string
		var at int64
		if err := rows.Scan(&p.Seq, &pid, &author, &at, &p.Text); err != nil {
			return nil, classify(op, err)
		}
		p.ID, p.Author, p.At = anpi.PostID(pid), anpi.UserID(author), fromNanos(sql.NullInt64{Int64: at, Valid: true})
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}

// The methods below run one operation of anpi.MessageTx in a transaction
// of its own, as those of methods.go do: reads on a reader connection.

// CreateThread implements anpi.MessageTx.
func (s *Store) CreateThread(ctx context.Context, th *anpi.Thread) error {
	return s.update(ctx, func(t *tx) error { return t.CreateThread(ctx, th) })
}

// GetThread implements anpi.MessageTx.
func (s *Store) GetThread(ctx context.Context, id anpi.ThreadID) (*anpi.Thread, error) {
	return view(s, ctx, func(t *tx) (*anpi.Thread, error) { return t.GetThread(ctx, id) })
}

// ListThreads implements anpi.MessageTx.
func (s *Store) ListThreads(ctx context.Context, u anpi.UserID) ([]*anpi.Thread, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Thread, error) { return t.ListThreads(ctx, u) })
}

// AppendMessage implements anpi.MessageTx.
func (s *Store) AppendMessage(ctx context.Context, m *anpi.Message) (int64, error) {
	return write(s, ctx, func(t *tx) (int64, error) { return t.AppendMessage(ctx, m) })
}

// Messages implements anpi.MessageTx.
func (s *Store) Messages(ctx context.Context, id anpi.ThreadID, q *anpi.PageQuery) ([]*anpi.Message, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Message, error) { return t.Messages(ctx, id, q) })
}

// CreateBoard implements anpi.MessageTx.
func (s *Store) CreateBoard(ctx context.Context, b *anpi.Board) error {
	return s.update(ctx, func(t *tx) error { return t.CreateBoard(ctx, b) })
}

// GetBoard implements anpi.MessageTx.
func (s *Store) GetBoard(ctx context.Context, id anpi.BoardID) (*anpi.Board, error) {
	return view(s, ctx, func(t *tx) (*anpi.Board, error) { return t.GetBoard(ctx, id) })
}

// ListBoards implements anpi.MessageTx.
func (s *Store) ListBoards(ctx context.Context) ([]*anpi.Board, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Board, error) { return t.ListBoards(ctx) })
}

// AddPost implements anpi.MessageTx.
func (s *Store) AddPost(ctx context.Context, p *anpi.Post) (int64, error) {
	return write(s, ctx, func(t *tx) (int64, error) { return t.AddPost(ctx, p) })
}

// Posts implements anpi.MessageTx.
func (s *Store) Posts(ctx context.Context, id anpi.BoardID, q *anpi.PageQuery) ([]*anpi.Post, error) {
	return view(s, ctx, func(t *tx) ([]*anpi.Post, error) { return t.Posts(ctx, id, q) })
}
