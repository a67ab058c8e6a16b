package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/jackc/pgx/v5"
)

var _ anpi.MessageTx = (*Store)(nil)

// savepoint runs fn behind a savepoint: when fn fails, what it wrote is
// undone and the transaction stays usable, so a caller of InTx may go on
// after the error.
func (t *tx) savepoint(ctx context.Context, op, name string, fn func() error) error {
	if _, err := t.exec(ctx, op, "SAVEPOINT "+name); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if _, rerr := t.exec(context.WithoutCancel(ctx), op, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	_, err := t.exec(ctx, op, "RELEASE SAVEPOINT "+name)
	return err
}

// lockUsers checks that the users exist and locks them FOR KEY SHARE until
// the commit (there is no foreign key: records outlive deleted users). It
// returns the first that does not exist, "" when all do.
func (t *tx) lockUsers(ctx context.Context, op string, ids []anpi.UserID) (anpi.UserID, error) {
	want := make([]string, len(ids))
	for i, u := range ids {
		want[i] = string(u)
	}
	rows, err := t.q.Query(ctx, t.s.sql("SELECT id FROM {users} WHERE id = ANY(?::text[]) FOR KEY SHARE"), want)
	if err != nil {
		return "", classify(op, err)
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", classify(op, err)
	}
	have := make(map[string]bool, len(found))
	for _, id := range found {
		have[id] = true
	}
	for _, u := range ids {
		if !have[string(u)] {
			return u, nil
		}
	}
	return "", nil
}

func (t *tx) CreateThread(ctx context.Context, th *anpi.Thread) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	const op = "create thread"
	if th == nil {
		return anpi.Errorf(anpi.InvalidArgument, "postgres: create thread: nil thread")
	}
	if err := th.Validate(); err != nil {
		return wrap(op, err)
	}
	taken, err := t.exists(ctx, op, "SELECT 1 FROM {threads} WHERE id = ?", string(th.ID))
	if err != nil {
		return err
	}
	if taken {
		return anpi.Errorf(anpi.AlreadyExists, "postgres: create thread: thread %s already exists", th.ID)
	}
	missing, err := t.lockUsers(ctx, op, th.Members)
	if err != nil {
		return err
	}
	if missing != "" {
		return anpi.Errorf(anpi.NotFound, "postgres: create thread %s: member %s does not exist", th.ID, missing)
	}
	created := th.CreatedAt.UnixNano()
	members := make([]string, len(th.Members))
	for i, u := range th.Members {
		members[i] = string(u)
	}
	// Behind a savepoint: a thread a concurrent transaction created in
	// between is AlreadyExists, and the caller's transaction goes on.
	return t.savepoint(ctx, op, "create_thread", func() error {
		if _, err := t.exec(ctx, op, "INSERT INTO {threads} (id, title, created_by, created_at, active_at, last_seq) VALUES (?, ?, ?, ?, ?, 0)",
			string(th.ID), th.Title, string(th.CreatedBy), created, created); err != nil {
			if anpi.Code(err) == anpi.AlreadyExists {
				return anpi.Errorf(anpi.AlreadyExists, "postgres: create thread: thread %s already exists", th.ID)
			}
			return err
		}
		_, err := t.exec(ctx, op, "INSERT INTO {thread_members} (user_id, thread_id) SELECT u, ? FROM unnest(?::text[]) AS u", string(th.ID), members)
		return err
	})
}

// threadColumns are the columns scanThread reads, in its order.
const threadColumns = "id, title, created_by, created_at, active_at, last_seq"

// scanThread reads the columns of threadColumns; members are read apart.
func scanThread(row pgx.Row) (*anpi.Thread, error) {
	var id, title, by string
	var created, active, seq int64
	if err := row.Scan(&id, &title, &by, &created, &active, &seq); err != nil {
		return nil, err
	}
	return &anpi.Thread{ID: anpi.ThreadID(id), Title: title, CreatedBy: anpi.UserID(by),
		CreatedAt: time.Unix(0, created).UTC(), ActiveAt: time.Unix(0, active).UTC(), LastSeq: seq}, nil
}

// threadMembers reads the members of the threads ids, each list sorted.
func (t *tx) threadMembers(ctx context.Context, op string, ids []string) (map[anpi.ThreadID][]anpi.UserID, error) {
	rows, err := t.q.Query(ctx, t.s.sql("SELECT thread_id, user_id FROM {thread_members} WHERE thread_id = ANY(?::text[])"), ids)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	out := make(map[anpi.ThreadID][]anpi.UserID, len(ids))
	for rows.Next() {
		var th, u string
		if err := rows.Scan(&th, &u); err != nil {
			return nil, classify(op, err)
		}
		out[anpi.ThreadID(th)] = append(out[anpi.ThreadID(th)], anpi.UserID(u))
	}
	if err := rows.Err(); err != nil {
		return nil, classify(op, err)
	}
	for _, ms := range out {
		slices.Sort(ms) // byte order, whatever the database's collation
	}
	return out, nil
}

func (t *tx) GetThread(ctx context.Context, id anpi.ThreadID) (*anpi.Thread, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	const op = "get thread"
	th, err := scanThread(t.q.QueryRow(ctx, t.s.sql("SELECT "+threadColumns+" FROM {threads} WHERE id = ?"), string(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, anpi.Errorf(anpi.NotFound, "postgres: get thread: thread %s does not exist", id)
	}
	if err != nil {
		return nil, classify(op, err)
	}
	ms, err := t.threadMembers(ctx, op, []string{string(id)})
	if err != nil {
		return nil, err
	}
	th.Members = ms[id]
	return th, nil
}

func (t *tx) ListThreads(ctx context.Context, u anpi.UserID) ([]*anpi.Thread, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	const op = "list threads"
	rows, err := t.q.Query(ctx, t.s.sql(`SELECT t.id, t.title, t.created_by, t.created_at, t.active_at, t.last_seq
		FROM {thread_members} m JOIN {threads} t ON t.id = m.thread_id
		WHERE m.user_id = ? ORDER BY t.active_at DESC, t.id COLLATE "C"`), string(u))
	if err != nil {
		return nil, classify(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*anpi.Thread, error) { return scanThread(r) })
	if err != nil {
		return nil, classify(op, err)
	}
	if len(out) == 0 {
		return []*anpi.Thread{}, nil
	}
	ids := make([]string, len(out))
	for i, th := range out {
		ids[i] = string(th.ID)
	}
	ms, err := t.threadMembers(ctx, op, ids)
	if err != nil {
		return nil, err
	}
	for _, th := range out {
		th.Members = ms[th.ID]
	}
	return out, nil
}

// appendRow bumps last_seq and active_at of row id of table ({threads} or
// {boards}), holding its lock until the commit, and returns the new
// last_seq; found is false when there is no such row.
func (t *tx) appendRow(ctx context.Context, op, table, id string, at int64) (seq int64, found bool, err error) {
	found, err = t.one(ctx, op, "UPDATE "+table+" SET last_seq = last_seq + 1, active_at = greatest(active_at, ?) WHERE id = ? RETURNING last_seq",
		[]any{at, id}, &seq)
	return seq, found, err
}

func (t *tx) AppendMessage(ctx context.Context, m *anpi.Message) (int64, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	const op = "append message"
	if m == nil {
		return 0, anpi.Errorf(anpi.InvalidArgument, "postgres: append message: nil message")
	}
	if err := m.Validate(); err != nil {
		return 0, wrap(op, err)
	}
	ok, err := t.exists(ctx, op, "SELECT 1 FROM {threads} WHERE id = ?", string(m.ThreadID))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, anpi.Errorf(anpi.NotFound, "postgres: append message: thread %s does not exist", m.ThreadID)
	}
	ok, err = t.exists(ctx, op, "SELECT 1 FROM {thread_members} WHERE user_id = ? AND thread_id = ?", string(m.Author), string(m.ThreadID))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, anpi.Errorf(anpi.FailedPrecondition, "postgres: append message %s: user %s is not a member of thread %s", m.ID, m.Author, m.ThreadID)
	}
	taken, err := t.exists(ctx, op, "SELECT 1 FROM {messages} WHERE id = ?", string(m.ID))
	if err != nil {
		return 0, err
	}
	if taken {
		return 0, anpi.Errorf(anpi.AlreadyExists, "postgres: append message: message %s already exists", m.ID)
	}
	var seq int64
	// Behind a savepoint: an ID a concurrent transaction took in between
	// undoes the bump of last_seq, so the numbers stay without gaps.
	err = t.savepoint(ctx, op, "append_message", func() error {
		var found bool
		var err error
		if seq, found, err = t.appendRow(ctx, op, "{threads}", string(m.ThreadID), m.At.UnixNano()); err != nil {
			return err
		}
		if !found {
			return anpi.Errorf(anpi.NotFound, "postgres: append message: thread %s does not exist", m.ThreadID)
		}
		_, err = t.exec(ctx, op, "INSERT INTO {messages} (thread_id, seq, id, author, at, text) VALUES (?, ?, ?, ?, ?, ?)",
			string(m.ThreadID), seq, string(m.ID), string(m.Author), m.At.UnixNano(), m.Text)
		if anpi.Code(err) == anpi.AlreadyExists {
			return anpi.Errorf(anpi.AlreadyExists, "postgres: append message: message %s already exists", m.ID)
		}
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
	ok, err := t.exists(ctx, op, "SELECT 1 FROM {threads} WHERE id = ?", string(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "postgres: list messages: thread %s does not exist", id)
	}
	rows, err := t.q.Query(ctx, t.s.sql("SELECT seq, id, author, at, text FROM {messages} WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?"),
		string(id), q.After(), q.PageLimit())
	if err != nil {
		return nil, classify(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*anpi.Message, error) {
		m := &anpi.Message{ThreadID: id}
		var mid, author string
		var at int64
		if err := r.Scan(&m.Seq, &mid, &author, &at, &m.Text); err != nil {
			return nil, err
		}
		m.ID, m.Author, m.At = anpi.MessageID(mid), anpi.UserID(author), time.Unix(0, at).UTC()
		return m, nil
	})
	if err != nil {
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
		return anpi.Errorf(anpi.InvalidArgument, "postgres: create board: nil board")
	}
	if err := b.Validate(); err != nil {
		return wrap(op, err)
	}
	taken, err := t.exists(ctx, op, "SELECT 1 FROM {boards} WHERE id = ?", string(b.ID))
	if err != nil {
		return err
	}
	if taken {
		return anpi.Errorf(anpi.AlreadyExists, "postgres: create board: board %s already exists", b.ID)
	}
	missing, err := t.lockUsers(ctx, op, []anpi.UserID{b.CreatedBy})
	if err != nil {
		return err
	}
	if missing != "" {
		return anpi.Errorf(anpi.NotFound, "postgres: create board %s: creator %s does not exist", b.ID, b.CreatedBy)
	}
	if b.Department != "" {
		ok, err := t.exists(ctx, op, "SELECT 1 FROM {departments} WHERE id = ? FOR KEY SHARE", string(b.Department))
		if err != nil {
			return err
		}
		if !ok {
			return anpi.Errorf(anpi.NotFound, "postgres: create board %s: department %s does not exist", b.ID, b.Department)
		}
	}
	created := b.CreatedAt.UnixNano()
	tag, err := t.exec(ctx, op, "INSERT INTO {boards} (id, title, department, created_by, created_at, active_at, last_seq) VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT (id) DO NOTHING",
		string(b.ID), b.Title, string(b.Department), string(b.CreatedBy), created, created)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 { // a concurrent transaction created it in between
		return anpi.Errorf(anpi.AlreadyExists, "postgres: create board: board %s already exists", b.ID)
	}
	return nil
}

// boardColumns are the columns scanBoard reads, in its order.
const boardColumns = "id, title, department, created_by, created_at, active_at, last_seq"

func scanBoard(row pgx.Row) (*anpi.Board, error) {
	var id, title, dept, by string
	var created, active, seq int64
	if err := row.Scan(&id, &title, &dept, &by, &created, &active, &seq); err != nil {
		return nil, err
	}
	return &anpi.Board{ID: anpi.BoardID(id), Title: title, Department: anpi.DepartmentID(dept), CreatedBy: anpi.UserID(by),
		CreatedAt: time.Unix(0, created).UTC(), ActiveAt: time.Unix(0, active).UTC(), LastSeq: seq}, nil
}

func (t *tx) GetBoard(ctx context.Context, id anpi.BoardID) (*anpi.Board, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	b, err := scanBoard(t.q.QueryRow(ctx, t.s.sql("SELECT "+boardColumns+" FROM {boards} WHERE id = ?"), string(id)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, anpi.Errorf(anpi.NotFound, "postgres: get board: board %s does not exist", id)
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
	rows, err := t.q.Query(ctx, t.s.sql(`SELECT `+boardColumns+` FROM {boards} ORDER BY active_at DESC, id COLLATE "C"`))
	if err != nil {
		return nil, classify(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*anpi.Board, error) { return scanBoard(r) })
	if err != nil {
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
		return 0, anpi.Errorf(anpi.InvalidArgument, "postgres: add post: nil post")
	}
	if err := p.Validate(); err != nil {
		return 0, wrap(op, err)
	}
	ok, err := t.exists(ctx, op, "SELECT 1 FROM {boards} WHERE id = ?", string(p.BoardID))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, anpi.Errorf(anpi.NotFound, "postgres: add post: board %s does not exist", p.BoardID)
	}
	missing, err := t.lockUsers(ctx, op, []anpi.UserID{p.Author})
	if err != nil {
		return 0, err
	}
	if missing != "" {
		return 0, anpi.Errorf(anpi.NotFound, "postgres: add post %s: author %s does not exist", p.ID, p.Author)
	}
	taken, err := t.exists(ctx, op, "SELECT 1 FROM {posts} WHERE id = ?", string(p.ID))
	if err != nil {
		return 0, err
	}
	if taken {
		return 0, anpi.Errorf(anpi.AlreadyExists, "postgres: add post: post %s already exists", p.ID)
	}
	var seq int64
	err = t.savepoint(ctx, op, "add_post", func() error {
		var found bool
		var err error
		if seq, found, err = t.appendRow(ctx, op, "{boards}", string(p.BoardID), p.At.UnixNano()); err != nil {
			return err
		}
		if !found {
			return anpi.Errorf(anpi.NotFound, "postgres: add post: board %s does not exist", p.BoardID)
		}
		_, err = t.exec(ctx, op, "INSERT INTO {posts} (board_id, seq, id, author, at, text) VALUES (?, ?, ?, ?, ?, ?)",
			string(p.BoardID), seq, string(p.ID), string(p.Author), p.At.UnixNano(), p.Text)
		if anpi.Code(err) == anpi.AlreadyExists {
			return anpi.Errorf(anpi.AlreadyExists, "postgres: add post: post %s already exists", p.ID)
		}
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
	ok, err := t.exists(ctx, op, "SELECT 1 FROM {boards} WHERE id = ?", string(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "postgres: list posts: board %s does not exist", id)
	}
	rows, err := t.q.Query(ctx, t.s.sql("SELECT seq, id, author, at, text FROM {posts} WHERE board_id = ? AND seq > ? ORDER BY seq LIMIT ?"),
		string(id), q.After(), q.PageLimit())
	if err != nil {
		return nil, classify(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*anpi.Post, error) {
		p := &anpi.Post{BoardID: id}
		var pid, author string
		var at int64
		if err := r.Scan(&p.Seq, &pid, &author, &at, &p.Text); err != nil {
			return nil, err
		}
		p.ID, p.Author, p.At = anpi.PostID(pid), anpi.UserID(author), time.Unix(0, at).UTC()
		return p, nil
	})
	if err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}

// The methods below run one operation of anpi.MessageTx in a transaction
// of its own, as those of methods.go do.

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
