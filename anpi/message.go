package anpi

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ThreadID identifies a message thread.
type ThreadID string

// MessageID identifies a message of a thread.
type MessageID string

// BoardID identifies a bulletin board.
type BoardID string

// PostID identifies a post on a bulletin board.
type PostID string

// Limits of messages and boards. Titles of threads and boards are bounded
// by MaxTitleLen, as survey titles are.
const (
	// MaxMessageLen bounds the text of a message or a post, in characters
	// (runes): room for a decision and its reasons, and under LINE's 5,000
	// characters, so a notification can quote it whole.
	MaxMessageLen = 4000
	// MaxThreadMembers bounds the members of a thread, its creator
	// included: a discussion among managers, not a broadcast (a send is
	// the way to reach everyone).
	MaxThreadMembers = 500
	// DefaultPageLimit is how many messages or posts a PageQuery with no
	// Limit returns.
	DefaultPageLimit = 100
	// MaxPageLimit is the largest Limit of a PageQuery.
	MaxPageLimit = 1000
)

// Thread is a group conversation (メッセージ) among chosen users, such as
// managers deciding what to do after a tally. Only its members read and
// write it.
type Thread struct {
	ID    ThreadID `json:"id"`
	Title string   `json:"title"`
	// Members are the users in the conversation, its creator included,
	// sorted and without repeats (see NormalizeMembers).
	Members   []UserID  `json:"members"`
	CreatedBy UserID    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
	// ActiveAt is CreatedAt, then the time of the latest message; threads
	// are listed by it, the most recently active first. Stores maintain
	// it: the value passed to CreateThread is ignored.
	ActiveAt time.Time `json:"activeAt"`
	// LastSeq is the Seq of the latest message, 0 before the first; stores
	// maintain it. Messages are numbered 1 … LastSeq without gaps, so
	// PageQuery{AfterSeq: LastSeq - n} reads the latest n.
	LastSeq int64 `json:"lastSeq"`
}

// Clone returns a deep copy of t.
func (t *Thread) Clone() *Thread {
	c := *t
	c.Members = slices.Clone(t.Members)
	return &c
}

// HasMember reports whether u is a member of the thread.
func (t *Thread) HasMember(u UserID) bool {
	_, ok := slices.BinarySearch(t.Members, u)
	return ok
}

// NormalizeMembers returns the members sorted and without repeats, the
// creator included, as a Thread keeps them.
func NormalizeMembers(creator UserID, members []UserID) []UserID {
	out := make([]UserID, 0, len(members)+1)
	if creator != "" {
		out = append(out, creator)
	}
	out = append(out, members...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Validate checks a thread about to be created: an ID, a title, a creator
// among at least two members (sorted, without repeats), a creation time.
func (t *Thread) Validate() error {
	if err := checkID("thread id", string(t.ID)); err != nil {
		return err
	}
	if err := checkTitle("thread "+string(t.ID), t.Title); err != nil {
		return err
	}
	if err := checkID("thread "+string(t.ID)+": creator", string(t.CreatedBy)); err != nil {
		return err
	}
	for i, m := range t.Members {
		if err := checkID("thread "+string(t.ID)+": member", string(m)); err != nil {
			return err
		}
		if i > 0 && t.Members[i-1] >= m {
			return Errorf(InvalidArgument, "anpi: thread %s: members must be sorted and without repeats (%s after %s): see NormalizeMembers", t.ID, m, t.Members[i-1])
		}
	}
	if !t.HasMember(t.CreatedBy) {
		return Errorf(InvalidArgument, "anpi: thread %s: the creator %s is not among the members", t.ID, t.CreatedBy)
	}
	if len(t.Members) < 2 {
		return Errorf(InvalidArgument, "anpi: thread %s: a thread needs at least one member besides its creator", t.ID)
	}
	if len(t.Members) > MaxThreadMembers {
		return Errorf(InvalidArgument, "anpi: thread %s: %d members, more than %d", t.ID, len(t.Members), MaxThreadMembers)
	}
	if t.CreatedAt.IsZero() {
		return Errorf(InvalidArgument, "anpi: thread %s: created-at is required", t.ID)
	}
	return nil
}

// Message is one message of a thread.
type Message struct {
	ID       MessageID `json:"id"`
	ThreadID ThreadID  `json:"threadId"`
	// Seq numbers the thread's messages 1, 2, 3 … in the order they were
	// appended; the store assigns it.
	Seq    int64     `json:"seq"`
	Author UserID    `json:"author"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// Clone returns a copy of m.
func (m *Message) Clone() *Message { c := *m; return &c }

// Validate checks a message about to be appended (Seq is the store's).
func (m *Message) Validate() error {
	if err := checkID("message id", string(m.ID)); err != nil {
		return err
	}
	if err := checkID("message "+string(m.ID)+": thread", string(m.ThreadID)); err != nil {
		return err
	}
	if err := checkID("message "+string(m.ID)+": author", string(m.Author)); err != nil {
		return err
	}
	if err := CheckText("message "+string(m.ID), m.Text); err != nil {
		return err
	}
	if m.At.IsZero() {
		return Errorf(InvalidArgument, "anpi: message %s: time is required", m.ID)
	}
	return nil
}

// Board is a bulletin board (掲示板): administrators open one to publish
// decisions, everyone it is meant for reads and posts, and each post
// notifies its creator, who keeps wrong or needless information from
// spreading. A board is company-wide, or meant for one department's
// subtree (Department).
type Board struct {
	ID         BoardID      `json:"id"`
	Title      string       `json:"title"`
	Department DepartmentID `json:"department,omitempty"` // empty: the whole company
	CreatedBy  UserID       `json:"createdBy"`
	CreatedAt  time.Time    `json:"createdAt"`
	// ActiveAt and LastSeq are as for Thread: maintained by the store.
	ActiveAt time.Time `json:"activeAt"`
	LastSeq  int64     `json:"lastSeq"`
}

// Clone returns a copy of b.
func (b *Board) Clone() *Board { c := *b; return &c }

// Validate checks a board about to be created.
func (b *Board) Validate() error {
	if err := checkID("board id", string(b.ID)); err != nil {
		return err
	}
	if err := checkTitle("board "+string(b.ID), b.Title); err != nil {
		return err
	}
	if b.Department != "" {
		if err := checkID("board "+string(b.ID)+": department", string(b.Department)); err != nil {
			return err
		}
	}
	if err := checkID("board "+string(b.ID)+": creator", string(b.CreatedBy)); err != nil {
		return err
	}
	if b.CreatedAt.IsZero() {
		return Errorf(InvalidArgument, "anpi: board %s: created-at is required", b.ID)
	}
	return nil
}

// Post is one post on a board.
type Post struct {
	ID      PostID  `json:"id"`
	BoardID BoardID `json:"boardId"`
	// Seq numbers the board's posts as Message.Seq numbers a thread's.
	Seq    int64     `json:"seq"`
	Author UserID    `json:"author"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// Clone returns a copy of p.
func (p *Post) Clone() *Post { c := *p; return &c }

// Validate checks a post about to be added (Seq is the store's).
func (p *Post) Validate() error {
	if err := checkID("post id", string(p.ID)); err != nil {
		return err
	}
	if err := checkID("post "+string(p.ID)+": board", string(p.BoardID)); err != nil {
		return err
	}
	if err := checkID("post "+string(p.ID)+": author", string(p.Author)); err != nil {
		return err
	}
	if err := CheckText("post "+string(p.ID), p.Text); err != nil {
		return err
	}
	if p.At.IsZero() {
		return Errorf(InvalidArgument, "anpi: post %s: time is required", p.ID)
	}
	return nil
}

// PageQuery pages through a thread's messages or a board's posts, oldest
// first (by Seq).
type PageQuery struct {
	AfterSeq int64 // only those with a greater Seq; 0 from the first
	Limit    int   // 0 means DefaultPageLimit; at most MaxPageLimit
}

// Validate checks the query.
func (q *PageQuery) Validate() error {
	if q.AfterSeq < 0 {
		return Errorf(InvalidArgument, "anpi: page query: negative afterSeq %d", q.AfterSeq)
	}
	if q.Limit < 0 || q.Limit > MaxPageLimit {
		return Errorf(InvalidArgument, "anpi: page query: limit %d: want 0 … %d", q.Limit, MaxPageLimit)
	}
	return nil
}

// PageLimit returns how many rows q asks for: DefaultPageLimit for a nil
// query or a zero Limit.
func (q *PageQuery) PageLimit() int {
	if q == nil || q.Limit == 0 {
		return DefaultPageLimit
	}
	return q.Limit
}

// After returns q's AfterSeq, 0 for a nil query.
func (q *PageQuery) After() int64 {
	if q == nil {
		return 0
	}
	return q.AfterSeq
}

// CheckText checks the text of a message or a post: valid UTF-8, not blank,
// at most MaxMessageLen characters, no control characters but newlines and
// tabs. what names the object in the error.
func CheckText(what, text string) error {
	switch {
	case !utf8.ValidString(text):
		return Errorf(InvalidArgument, "anpi: %s: text is not valid UTF-8", what)
	case strings.TrimSpace(text) == "":
		return Errorf(InvalidArgument, "anpi: %s: text is empty", what)
	}
	if n := utf8.RuneCountInString(text); n > MaxMessageLen {
		return Errorf(InvalidArgument, "anpi: %s: text has %d characters, more than %d", what, n, MaxMessageLen)
	}
	if i := strings.IndexFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }); i >= 0 {
		return Errorf(InvalidArgument, "anpi: %s: text has a control character %U at byte %d", what, []rune(text[i:])[0], i)
	}
	return nil
}

// checkTitle checks the title of a thread or a board: one line, not blank,
// at most MaxTitleLen characters.
func checkTitle(what, title string) error {
	switch {
	case !utf8.ValidString(title):
		return Errorf(InvalidArgument, "anpi: %s: title is not valid UTF-8", what)
	case strings.TrimSpace(title) == "":
		return Errorf(InvalidArgument, "anpi: %s: title is empty", what)
	case strings.IndexFunc(title, unicode.IsControl) >= 0:
		return Errorf(InvalidArgument, "anpi: %s: title has a line break or a control character", what)
	}
	if n := utf8.RuneCountInString(title); n > MaxTitleLen {
		return Errorf(InvalidArgument, "anpi: %s: title has %d characters, more than %d", what, n, MaxTitleLen)
	}
	return nil
}

// MessageTx holds message threads and bulletin boards. Threads, messages,
// boards and posts stay for the record when users are deleted (as survey
// recipients do); a board whose department is deleted keeps its
// Department.
type MessageTx interface {
	// CreateThread adds a thread after validating it (InvalidArgument,
	// naming the field). AlreadyExists when the ID is taken; NotFound when
	// a member is not a user. ActiveAt is set to CreatedAt, LastSeq to 0.
	CreateThread(ctx context.Context, t *Thread) error
	// GetThread returns a thread (NotFound when absent).
	GetThread(ctx context.Context, id ThreadID) (*Thread, error)
	// ListThreads lists the threads user u is a member of, the most
	// recently active first (ActiveAt descending, then ID ascending). A
	// user who is in no thread, or no user, has none.
	ListThreads(ctx context.Context, u UserID) ([]*Thread, error)
	// AppendMessage appends m to its thread and returns the Seq it gave
	// it (m.Seq is ignored). The thread's LastSeq becomes that Seq and its
	// ActiveAt m.At when that is later. NotFound when the thread does not
	// exist; FailedPrecondition when the author is not a member;
	// AlreadyExists when the message ID is taken (in any thread).
	AppendMessage(ctx context.Context, m *Message) (int64, error)
	// Messages lists a thread's messages by Seq, oldest first, paged by q
	// (nil for the first DefaultPageLimit). NotFound for an unknown
	// thread; InvalidArgument for a bad query.
	Messages(ctx context.Context, id ThreadID, q *PageQuery) ([]*Message, error)

	// CreateBoard adds a board after validating it. AlreadyExists when the
	// ID is taken; NotFound when the creator is not a user or the
	// department does not exist.
	CreateBoard(ctx context.Context, b *Board) error
	// GetBoard returns a board (NotFound when absent).
	GetBoard(ctx context.Context, id BoardID) (*Board, error)
	// ListBoards lists every board, the most recently active first
	// (ActiveAt descending, then ID ascending).
	ListBoards(ctx context.Context) ([]*Board, error)
	// AddPost adds p to its board and returns the Seq it gave it, as
	// AppendMessage does. NotFound when the board or the author does not
	// exist; AlreadyExists when the post ID is taken.
	AddPost(ctx context.Context, p *Post) (int64, error)
	// Posts lists a board's posts by Seq, oldest first, paged by q, as
	// Messages does.
	Posts(ctx context.Context, id BoardID, q *PageQuery) ([]*Post, error)
}
