package memstore

import (
	"cmp"
	"context"
	"slices"

	"github.com/anpikit/anpi/anpi"
)

var (
	_ anpi.MessageTx = (*Store)(nil)
	_ anpi.MessageTx = (*tx)(nil)
)

// messaging holds threads and boards. Threads and boards are replaced on
// every change (a message moves LastSeq and ActiveAt); message and post
// slices are appended to in place, which leaves the prefix that an undo
// puts back unchanged.
type messaging struct {
	threads     map[anpi.ThreadID]*anpi.Thread
	userThreads map[anpi.UserID]map[anpi.ThreadID]struct{}
	messages    map[anpi.ThreadID][]*anpi.Message // messages[id][i].Seq == i+1
	messageIDs  map[anpi.MessageID]struct{}

	boards  map[anpi.BoardID]*anpi.Board
	posts   map[anpi.BoardID][]*anpi.Post // posts[id][i].Seq == i+1
	postIDs map[anpi.PostID]struct{}
}

func newMessaging() *messaging {
	return &messaging{
		threads:     map[anpi.ThreadID]*anpi.Thread{},
		userThreads: map[anpi.UserID]map[anpi.ThreadID]struct{}{},
		messages:    map[anpi.ThreadID][]*anpi.Message{},
		messageIDs:  map[anpi.MessageID]struct{}{},
		boards:      map[anpi.BoardID]*anpi.Board{},
		posts:       map[anpi.BoardID][]*anpi.Post{},
		postIDs:     map[anpi.PostID]struct{}{},
	}
}

func (t *tx) CreateThread(ctx context.Context, th *anpi.Thread) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	const op = "create thread"
	if th == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: create thread: nil thread")
	}
	if err := th.Validate(); err != nil {
		return wrap(op, err)
	}
	m := t.d.msg
	if _, ok := m.threads[th.ID]; ok {
		return anpi.Errorf(anpi.AlreadyExists, "memstore: create thread: thread %s already exists", th.ID)
	}
	for _, u := range th.Members {
		if _, ok := t.d.users[u]; !ok {
			return anpi.Errorf(anpi.NotFound, "memstore: create thread %s: member %s does not exist", th.ID, u)
		}
	}
	c := th.Clone()
	c.CreatedAt = c.CreatedAt.UTC()
	c.ActiveAt, c.LastSeq = c.CreatedAt, 0
	put(t, m.threads, c.ID, c)
	for _, u := range c.Members {
		ts := m.userThreads[u]
		if ts == nil {
			ts = map[anpi.ThreadID]struct{}{}
			put(t, m.userThreads, u, ts)
		}
		put(t, ts, c.ID, struct{}{})
	}
	return nil
}

func (t *tx) GetThread(ctx context.Context, id anpi.ThreadID) (*anpi.Thread, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	th, err := t.thread("get thread", id)
	if err != nil {
		return nil, err
	}
	return th.Clone(), nil
}

// thread returns the stored thread id, NotFound when absent.
func (t *tx) thread(op string, id anpi.ThreadID) (*anpi.Thread, error) {
	th, ok := t.d.msg.threads[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: %s: thread %s does not exist", op, id)
	}
	return th, nil
}

func (t *tx) ListThreads(ctx context.Context, u anpi.UserID) ([]*anpi.Thread, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	out := []*anpi.Thread{}
	for id := range t.d.msg.userThreads[u] {
		out = append(out, t.d.msg.threads[id].Clone())
	}
	slices.SortFunc(out, func(a, b *anpi.Thread) int {
		return cmp.Or(b.ActiveAt.Compare(a.ActiveAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (t *tx) AppendMessage(ctx context.Context, msg *anpi.Message) (int64, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	const op = "append message"
	if msg == nil {
		return 0, anpi.Errorf(anpi.InvalidArgument, "memstore: append message: nil message")
	}
	if err := msg.Validate(); err != nil {
		return 0, wrap(op, err)
	}
	m := t.d.msg
	th, err := t.thread(op, msg.ThreadID)
	if err != nil {
		return 0, err
	}
	if !th.HasMember(msg.Author) {
		return 0, anpi.Errorf(anpi.FailedPrecondition, "memstore: append message %s: user %s is not a member of thread %s", msg.ID, msg.Author, th.ID)
	}
	if _, ok := m.messageIDs[msg.ID]; ok {
		return 0, anpi.Errorf(anpi.AlreadyExists, "memstore: append message: message %s already exists", msg.ID)
	}
	c := msg.Clone()
	c.At = c.At.UTC()
	c.Seq = th.LastSeq + 1
	nt := th.Clone()
	nt.LastSeq = c.Seq
	if c.At.After(nt.ActiveAt) {
		nt.ActiveAt = c.At
	}
	put(t, m.threads, nt.ID, nt)
	put(t, m.messages, nt.ID, append(m.messages[nt.ID], c))
	put(t, m.messageIDs, c.ID, struct{}{})
	return c.Seq, nil
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
	if _, err := t.thread(op, id); err != nil {
		return nil, err
	}
	return page(t.d.msg.messages[id], q, (*anpi.Message).Clone), nil
}

// page returns copies of the items of q's page: items[i].Seq is i+1.
func page[T any](items []*T, q *anpi.PageQuery, clone func(*T) *T) []*T {
	start := min(q.After(), int64(len(items)))
	end := min(start+int64(q.PageLimit()), int64(len(items)))
	out := make([]*T, 0, end-start)
	for _, it := range items[start:end] {
		out = append(out, clone(it))
	}
	return out
}

func (t *tx) CreateBoard(ctx context.Context, b *anpi.Board) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	const op = "create board"
	if b == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: create board: nil board")
	}
	if err := b.Validate(); err != nil {
		return wrap(op, err)
	}
	m := t.d.msg
	if _, ok := m.boards[b.ID]; ok {
		return anpi.Errorf(anpi.AlreadyExists, "memstore: create board: board %s already exists", b.ID)
	}
	if _, ok := t.d.users[b.CreatedBy]; !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: create board %s: creator %s does not exist", b.ID, b.CreatedBy)
	}
	if b.Department != "" {
		if _, ok := t.d.depts[b.Department]; !ok {
			return anpi.Errorf(anpi.NotFound, "memstore: create board %s: department %s does not exist", b.ID, b.Department)
		}
	}
	c := b.Clone()
	c.CreatedAt = c.CreatedAt.UTC()
	c.ActiveAt, c.LastSeq = c.CreatedAt, 0
	put(t, m.boards, c.ID, c)
	return nil
}

func (t *tx) GetBoard(ctx context.Context, id anpi.BoardID) (*anpi.Board, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	b, err := t.board("get board", id)
	if err != nil {
		return nil, err
	}
	return b.Clone(), nil
}

// board returns the stored board id, NotFound when absent.
func (t *tx) board(op string, id anpi.BoardID) (*anpi.Board, error) {
	b, ok := t.d.msg.boards[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: %s: board %s does not exist", op, id)
	}
	return b, nil
}

func (t *tx) ListBoards(ctx context.Context) ([]*anpi.Board, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	out := make([]*anpi.Board, 0, len(t.d.msg.boards))
	for _, b := range t.d.msg.boards {
		out = append(out, b.Clone())
	}
	slices.SortFunc(out, func(a, b *anpi.Board) int {
		return cmp.Or(b.ActiveAt.Compare(a.ActiveAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

func (t *tx) AddPost(ctx context.Context, p *anpi.Post) (int64, error) {
	if err := t.beginWrite(ctx); err != nil {
		return 0, err
	}
	const op = "add post"
	if p == nil {
		return 0, anpi.Errorf(anpi.InvalidArgument, "memstore: add post: nil post")
	}
	if err := p.Validate(); err != nil {
		return 0, wrap(op, err)
	}
	m := t.d.msg
	b, err := t.board(op, p.BoardID)
	if err != nil {
		return 0, err
	}
	if _, ok := t.d.users[p.Author]; !ok {
		return 0, anpi.Errorf(anpi.NotFound, "memstore: add post %s: author %s does not exist", p.ID, p.Author)
	}
	if _, ok := m.postIDs[p.ID]; ok {
		return 0, anpi.Errorf(anpi.AlreadyExists, "memstore: add post: post %s already exists", p.ID)
	}
	c := p.Clone()
	c.At = c.At.UTC()
	c.Seq = b.LastSeq + 1
	nb := b.Clone()
	nb.LastSeq = c.Seq
	if c.At.After(nb.ActiveAt) {
		nb.ActiveAt = c.At
	}
	put(t, m.boards, nb.ID, nb)
	put(t, m.posts, nb.ID, append(m.posts[nb.ID], c))
	put(t, m.postIDs, c.ID, struct{}{})
	return c.Seq, nil
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
	if _, err := t.board(op, id); err != nil {
		return nil, err
	}
	return page(t.d.msg.posts[id], q, (*anpi.Post).Clone), nil
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
