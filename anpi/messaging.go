package anpi

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Messages (メッセージ) and bulletin boards (掲示板), as the Service offers
// them:
//
//   - A thread is a discussion among chosen users, such as managers
//     deciding what to do after a tally. Who may start one is
//     Settings.MessageCreators: by default (AdministratorsOnly) users
//     holding any role, company-wide or for a department; with Everyone,
//     every active user (action CreateMessage). The starter picks the
//     members, any active users of the company, and is one himself. Only
//     active members read a thread and write in it; each message notifies
//     the other active members.
//   - A board publishes information to the company, or to one
//     department's subtree. Only administrators open boards: users holding
//     any role whose scope covers the board's department (action
//     CreateBoard; a company-wide board needs a company-wide grant). A
//     board is for the active users it is meant for: everyone for a
//     company-wide board; for a department's board, the users of that
//     subtree, its creator, and the administrators who could have opened
//     it. They read it and post on it, and each post notifies the board's
//     creator (unless he wrote it), who thus keeps watch over what
//     spreads.
//
// Every write is checked and audited in the transaction that makes it
// (actions thread.start, message.post, board.create and board.post: who,
// which thread or board, whom it notifies, never the text).

// NotificationKind says what a Notification is about.
type NotificationKind string

// The kinds of notification.
const (
	// MessageNotification: a message in a thread the users are members of.
	MessageNotification NotificationKind = "message"
	// BoardPostNotification: a post on a board the user created.
	BoardPostNotification NotificationKind = "board_post"
	// RuleNoticeNotification: an auto-send rule's notice to its
	// administrators only (an administrators-only rule, or an aftershock
	// the rule's suppression window kept from everyone else).
	RuleNoticeNotification NotificationKind = "rule_notice"
)

// RuleNotice is what an administrators-only decision of an auto-send rule
// tells the rule's administrators: nobody else was asked.
type RuleNotice struct {
	Rule    string // the rule's ID
	Event   string // the event key
	Drill   bool   // a drill (訓練)
	InScope int    // recipients in scope who were not asked
	Reason  string // why, in words (areas, intensities, suppression)
}

// Notification tells users that something was written for them: a message
// in their thread (Thread and Message set), a post on the board they
// created (Board and Post set), or a notice of an auto-send rule they
// administer (Notice set).
type Notification struct {
	Kind NotificationKind
	// To are the users to tell: active users, never the author.
	To      []UserID
	Thread  *Thread
	Message *Message
	Board   *Board
	Post    *Post
	Notice  *RuleNotice
}

// Notifier delivers notifications of messages, posts and rule notices, on whatever
// channel suits the application (a push, a mail, a badge in the intranet).
//
// The Service calls Notify after the message or post is committed, in the
// caller's goroutine, so the call is at most once: an error (logged, not
// returned: the message is stored) or a crash between the commit and the
// call loses that notification, never the message. The audit entry written
// with the message names the users notified, so an application that needs
// every notification can re-drive them from the audit log (ListAudit by
// action message.post and board.post).
type Notifier interface {
	Notify(ctx context.Context, n *Notification) error
}

// NotifierFunc adapts a function to a Notifier.
type NotifierFunc func(ctx context.Context, n *Notification) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, n *Notification) error { return f(ctx, n) }

// maxAuditUsers bounds the user IDs an audit entry lists; beyond it the
// entry says how many more.
const maxAuditUsers = 20

// auditUsers lists user IDs for an audit entry's detail.
func auditUsers(us []UserID) string {
	if len(us) == 0 {
		return "nobody"
	}
	var b strings.Builder
	for i, u := range us {
		if i == maxAuditUsers {
			fmt.Fprintf(&b, " and %d more", len(us)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(u))
	}
	return b.String()
}

// notify hands n to the Notifier, if there is one and n is for anybody.
func (s *Service) notify(ctx context.Context, n *Notification) {
	if s.notifier == nil || len(n.To) == 0 {
		return
	}
	if err := s.notifier.Notify(ctx, n); err != nil {
		s.log.ErrorContext(ctx, "anpi: notification lost: the notifier failed", "kind", string(n.Kind), "to", len(n.To), "err", err)
	}
}

// activeActor returns the Authorizer and the Actor for user id, read in tx;
// a suspended user is PermissionDenied.
func (s *Service) activeActor(ctx context.Context, tx Tx, id UserID, what string) (*Authorizer, Actor, error) {
	az, who, err := s.authorizer(ctx, tx, id)
	if err != nil {
		return nil, Actor{}, err
	}
	if who.User.Status != Active {
		return nil, Actor{}, Errorf(PermissionDenied, "anpi: %s: user %s is suspended", what, id)
	}
	return az, who, nil
}

// StartThread starts a thread titled title among actor and members, in one
// transaction with its audit entry, and returns it. The actor needs the
// CreateMessage permission (Settings.MessageCreators); the members (the
// actor is added, repeats dropped) must be active users, at least one
// besides the actor.
//
// Errors: PermissionDenied; NotFound for an unknown actor or member;
// FailedPrecondition for a suspended member; InvalidArgument for a bad
// title or too many or too few members.
func (s *Service) StartThread(ctx context.Context, actor UserID, title string, members []UserID) (*Thread, error) {
	id, err := s.randomHex(12)
	if err != nil {
		return nil, err
	}
	th := &Thread{ID: ThreadID("thr-" + id), Title: title, Members: NormalizeMembers(actor, members), CreatedBy: actor, CreatedAt: s.now().UTC()}
	th.ActiveAt = th.CreatedAt
	if err := th.Validate(); err != nil {
		return nil, fmt.Errorf("anpi: start thread: %w", err)
	}
	err = s.st.InTx(ctx, func(tx Tx) error {
		az, who, err := s.activeActor(ctx, tx, actor, "start thread")
		if err != nil {
			return err
		}
		if err := az.Authorize(who, CreateMessage, TargetCompany()); err != nil {
			return err
		}
		for _, m := range th.Members {
			u, err := tx.GetUser(ctx, m)
			if err != nil {
				return fmt.Errorf("member %s: %w", m, err)
			}
			if u.Status != Active {
				return Errorf(FailedPrecondition, "anpi: member %s is suspended", m)
			}
		}
		if err := tx.CreateThread(ctx, th); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: th.CreatedAt, Actor: actor, Action: "thread.start", TargetKind: "thread", TargetID: string(th.ID),
			Detail: fmt.Sprintf("title %q; members %s", th.Title, auditUsers(th.Members))})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: start thread: %w", err)
	}
	return th, nil
}

// memberThread returns thread id for actor, who must be an active member.
func (s *Service) memberThread(ctx context.Context, tx Tx, actor UserID, id ThreadID, what string) (*Thread, error) {
	if _, _, err := s.activeActor(ctx, tx, actor, what); err != nil {
		return nil, err
	}
	th, err := tx.GetThread(ctx, id)
	if err != nil {
		return nil, err
	}
	if !th.HasMember(actor) {
		return nil, Errorf(PermissionDenied, "anpi: %s: user %s is not a member of thread %s", what, actor, id)
	}
	return th, nil
}

// Thread returns a thread for actor, who must be an active member
// (PermissionDenied otherwise; NotFound for an unknown thread or actor).
func (s *Service) Thread(ctx context.Context, actor UserID, id ThreadID) (*Thread, error) {
	th, err := s.memberThread(ctx, s.st, actor, id, "get thread")
	if err != nil {
		return nil, fmt.Errorf("anpi: thread %s: %w", id, err)
	}
	return th, nil
}

// Threads lists the threads actor is a member of, the most recently
// active first. A suspended actor is PermissionDenied.
func (s *Service) Threads(ctx context.Context, actor UserID) ([]*Thread, error) {
	if _, _, err := s.activeActor(ctx, s.st, actor, "list threads"); err != nil {
		return nil, fmt.Errorf("anpi: threads of %s: %w", actor, err)
	}
	ts, err := s.st.ListThreads(ctx, actor)
	if err != nil {
		return nil, fmt.Errorf("anpi: threads of %s: %w", actor, err)
	}
	return ts, nil
}

// Messages lists a thread's messages, oldest first, paged by q (nil for the
// first DefaultPageLimit; Thread.LastSeq tells where the latest are). The
// actor must be an active member.
func (s *Service) Messages(ctx context.Context, actor UserID, thread ThreadID, q *PageQuery) ([]*Message, error) {
	if _, err := s.memberThread(ctx, s.st, actor, thread, "list messages"); err != nil {
		return nil, fmt.Errorf("anpi: messages of thread %s: %w", thread, err)
	}
	ms, err := s.st.Messages(ctx, thread, q)
	if err != nil {
		return nil, fmt.Errorf("anpi: messages of thread %s: %w", thread, err)
	}
	return ms, nil
}

// PostMessage appends text to a thread as actor, who must be an active
// member, in one transaction with its audit entry, and then notifies the
// other active members (Options.Notifier). It returns the message as
// stored, with its Seq.
//
// Errors: PermissionDenied; NotFound for an unknown thread or actor;
// InvalidArgument for a bad text (CheckText).
func (s *Service) PostMessage(ctx context.Context, actor UserID, thread ThreadID, text string) (*Message, error) {
	id, err := s.randomHex(12)
	if err != nil {
		return nil, err
	}
	m := &Message{ID: MessageID("msg-" + id), ThreadID: thread, Author: actor, Text: text, At: s.now().UTC()}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("anpi: post message to thread %s: %w", thread, err)
	}
	var th *Thread
	var to []UserID
	err = s.st.InTx(ctx, func(tx Tx) error {
		var err error
		if th, err = s.memberThread(ctx, tx, actor, thread, "post message"); err != nil {
			return err
		}
		to = nil
		for _, u := range th.Members {
			if u == actor {
				continue
			}
			if ok, err := isActive(ctx, tx, u); err != nil {
				return err
			} else if ok {
				to = append(to, u)
			}
		}
		if m.Seq, err = tx.AppendMessage(ctx, m); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: m.At, Actor: actor, Action: "message.post", TargetKind: "thread", TargetID: string(thread),
			Detail: fmt.Sprintf("message %s (#%d, %d characters); notifies %s", m.ID, m.Seq, utf8.RuneCountInString(m.Text), auditUsers(to))})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: post message to thread %s: %w", thread, err)
	}
	th.LastSeq = m.Seq
	if m.At.After(th.ActiveAt) {
		th.ActiveAt = m.At
	}
	s.notify(ctx, &Notification{Kind: MessageNotification, To: to, Thread: th, Message: m.Clone()})
	return m, nil
}

// isActive reports whether user u exists and is active.
func isActive(ctx context.Context, tx Tx, u UserID) (bool, error) {
	usr, err := tx.GetUser(ctx, u)
	if Code(err) == NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return usr.Status == Active, nil
}

// boardTarget is what creating board b needs rights over.
func boardTarget(b *Board) Target {
	if b.Department == "" {
		return TargetCompany()
	}
	return TargetDepartments(b.Department)
}

// mayUseBoard returns nil when the actor may read and post on b, and a
// PermissionDenied error saying why not otherwise (see the rules at the
// top of this file).
func mayUseBoard(az *Authorizer, who Actor, b *Board) error {
	if b.Department == "" || b.CreatedBy == who.User.ID {
		return nil
	}
	for _, d := range who.User.Departments {
		if az.Tree != nil && az.Tree.Within(d, b.Department) {
			return nil
		}
	}
	if az.Authorize(who, CreateBoard, boardTarget(b)) == nil {
		return nil
	}
	return Errorf(PermissionDenied, "anpi: board %s is for department %s: user %s is neither in it nor one of its administrators", b.ID, b.Department, who.User.ID)
}

// CreateBoard opens a bulletin board titled title, for the whole company
// (department empty) or for a department's subtree, in one transaction
// with its audit entry, and returns it. The actor needs the CreateBoard
// permission over the department (over the company for a company-wide
// board): any role whose scope covers it.
//
// Errors: PermissionDenied; NotFound for an unknown actor or department;
// InvalidArgument for a bad title.
func (s *Service) CreateBoard(ctx context.Context, actor UserID, title string, department DepartmentID) (*Board, error) {
	id, err := s.randomHex(12)
	if err != nil {
		return nil, err
	}
	b := &Board{ID: BoardID("brd-" + id), Title: title, Department: department, CreatedBy: actor, CreatedAt: s.now().UTC()}
	b.ActiveAt = b.CreatedAt
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("anpi: create board: %w", err)
	}
	err = s.st.InTx(ctx, func(tx Tx) error {
		az, who, err := s.activeActor(ctx, tx, actor, "create board")
		if err != nil {
			return err
		}
		if department != "" {
			if _, err := tx.GetDepartment(ctx, department); err != nil {
				return err
			}
		}
		if err := az.Authorize(who, CreateBoard, boardTarget(b)); err != nil {
			return err
		}
		if err := tx.CreateBoard(ctx, b); err != nil {
			return err
		}
		scope := "company-wide"
		if department != "" {
			scope = "department " + string(department)
		}
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: b.CreatedAt, Actor: actor, Action: "board.create", TargetKind: "board", TargetID: string(b.ID),
			Detail: fmt.Sprintf("title %q; %s", b.Title, scope)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: create board: %w", err)
	}
	return b, nil
}

// board returns board id for actor, who must be active and allowed to use
// it.
func (s *Service) board(ctx context.Context, tx Tx, actor UserID, id BoardID, what string) (*Board, error) {
	az, who, err := s.activeActor(ctx, tx, actor, what)
	if err != nil {
		return nil, err
	}
	b, err := tx.GetBoard(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := mayUseBoard(az, who, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Board returns a board the actor may use (PermissionDenied otherwise;
// NotFound for an unknown board or actor).
func (s *Service) Board(ctx context.Context, actor UserID, id BoardID) (*Board, error) {
	b, err := s.board(ctx, s.st, actor, id, "get board")
	if err != nil {
		return nil, fmt.Errorf("anpi: board %s: %w", id, err)
	}
	return b, nil
}

// Boards lists the boards the actor may use, the most recently active
// first. A suspended actor is PermissionDenied.
func (s *Service) Boards(ctx context.Context, actor UserID) ([]*Board, error) {
	az, who, err := s.activeActor(ctx, s.st, actor, "list boards")
	if err != nil {
		return nil, fmt.Errorf("anpi: boards of %s: %w", actor, err)
	}
	all, err := s.st.ListBoards(ctx)
	if err != nil {
		return nil, fmt.Errorf("anpi: boards of %s: %w", actor, err)
	}
	out := []*Board{}
	for _, b := range all {
		if mayUseBoard(az, who, b) == nil {
			out = append(out, b)
		}
	}
	return out, nil
}

// Posts lists a board's posts, oldest first, paged by q as Messages pages.
// The actor must be allowed to use the board.
func (s *Service) Posts(ctx context.Context, actor UserID, board BoardID, q *PageQuery) ([]*Post, error) {
	if _, err := s.board(ctx, s.st, actor, board, "list posts"); err != nil {
		return nil, fmt.Errorf("anpi: posts of board %s: %w", board, err)
	}
	ps, err := s.st.Posts(ctx, board, q)
	if err != nil {
		return nil, fmt.Errorf("anpi: posts of board %s: %w", board, err)
	}
	return ps, nil
}

// PostToBoard adds text to a board as actor, who must be allowed to use
// it, in one transaction with its audit entry, and then notifies the
// board's creator (Options.Notifier), unless he wrote it or is no longer
// active. It returns the post as stored, with its Seq.
//
// Errors: PermissionDenied; NotFound for an unknown board or actor;
// InvalidArgument for a bad text (CheckText).
func (s *Service) PostToBoard(ctx context.Context, actor UserID, board BoardID, text string) (*Post, error) {
	id, err := s.randomHex(12)
	if err != nil {
		return nil, err
	}
	p := &Post{ID: PostID("pst-" + id), BoardID: board, Author: actor, Text: text, At: s.now().UTC()}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("anpi: post to board %s: %w", board, err)
	}
	var b *Board
	var to []UserID
	err = s.st.InTx(ctx, func(tx Tx) error {
		var err error
		if b, err = s.board(ctx, tx, actor, board, "post to board"); err != nil {
			return err
		}
		to = nil
		if b.CreatedBy != actor {
			if ok, err := isActive(ctx, tx, b.CreatedBy); err != nil {
				return err
			} else if ok {
				to = []UserID{b.CreatedBy}
			}
		}
		if p.Seq, err = tx.AddPost(ctx, p); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: p.At, Actor: actor, Action: "board.post", TargetKind: "board", TargetID: string(board),
			Detail: fmt.Sprintf("post %s (#%d, %d characters); notifies %s", p.ID, p.Seq, utf8.RuneCountInString(p.Text), auditUsers(to))})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: post to board %s: %w", board, err)
	}
	b.LastSeq = p.Seq
	if p.At.After(b.ActiveAt) {
		b.ActiveAt = p.At
	}
	s.notify(ctx, &Notification{Kind: BoardPostNotification, To: to, Board: b, Post: p.Clone()})
	return p, nil
}
