package anpi_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// notes records what a Notifier was told.
type notes struct {
	mu   sync.Mutex
	got  []*anpi.Notification
	fail error
}

func (n *notes) Notify(_ context.Context, x *anpi.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, x)
	return n.fail
}

// take returns what was told since the last call.
func (n *notes) take() []*anpi.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.got
	n.got = nil
	return out
}

// msgEnv is newEnv with a Notifier, a log, 大阪支店 (osaka, outside 本社)
// with umeda in it, and hoshi, in no department.
func msgEnv(t *testing.T) (*env, *notes, *bytes.Buffer) {
	t.Helper()
	e := newEnv(t)
	require.NoError(t, e.st.CreateDepartment(e.ctx, &anpi.Department{ID: "osaka", Name: "大阪支店"}))
	require.NoError(t, e.st.CreateUser(e.ctx, &anpi.User{ID: "umeda", EmployeeCode: "E-umeda", Name: "umeda san",
		Departments: []anpi.DepartmentID{"osaka"}, Status: anpi.Active, Locale: anpi.Japanese}))
	require.NoError(t, e.st.CreateUser(e.ctx, &anpi.User{ID: "hoshi", EmployeeCode: "E-hoshi", Name: "hoshi san", Status: anpi.Active, Locale: anpi.Japanese}))
	n := &notes{}
	var log bytes.Buffer
	e.svc = e.newService(&anpi.Options{Notifier: n, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	return e, n, &log
}

func requireCode(t *testing.T, code anpi.ErrorCode, err error, msgAndArgs ...any) {
	t.Helper()
	require.Error(t, err, msgAndArgs...)
	require.Equal(t, code.String(), anpi.Code(err).String(), append([]any{"error: %v", err}, msgAndArgs...)...)
}

// audit returns the audit entries about target, oldest first.
func (e *env) audit(target string) []*anpi.AuditEntry {
	e.t.Helper()
	es, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: target})
	require.NoError(e.t, err)
	return es
}

func TestStartThreadPermissions(t *testing.T) {
	e, _, _ := msgEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.SystemAdmin}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.Manager, Department: "kanazawa"}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "leave", Role: anpi.Manager}))

	// By default only users holding a role start threads.
	_, err := e.svc.StartThread(e.ctx, "tokyo", "相談", []anpi.UserID{"kaga"})
	requireCode(t, anpi.PermissionDenied, err, "a user without a role")
	_, err = e.svc.StartThread(e.ctx, "leave", "相談", []anpi.UserID{"kaga"})
	requireCode(t, anpi.PermissionDenied, err, "a suspended manager")
	_, err = e.svc.StartThread(e.ctx, "ghost", "相談", []anpi.UserID{"kaga"})
	requireCode(t, anpi.NotFound, err, "an unknown actor")
	ts, err := e.st.ListThreads(e.ctx, "kaga")
	require.NoError(t, err)
	require.Empty(t, ts, "refused threads are not created")

	th, err := e.svc.StartThread(e.ctx, "noto", "金沢支店の対応", []anpi.UserID{"kaga", "umeda", "kaga"})
	require.NoError(t, err, "a department's manager talks with anyone in the company")
	require.Equal(t, []anpi.UserID{"kaga", "noto", "umeda"}, th.Members, "the starter is a member; sorted, no repeats")
	require.Equal(t, anpi.UserID("noto"), th.CreatedBy)
	require.Equal(t, t0, th.CreatedAt)
	require.Equal(t, t0, th.ActiveAt)
	got, err := e.st.GetThread(e.ctx, th.ID)
	require.NoError(t, err)
	require.Equal(t, th, got, "as stored")
	audit := e.audit(string(th.ID))
	require.Len(t, audit, 1)
	require.Equal(t, "thread.start", audit[0].Action)
	require.Equal(t, anpi.UserID("noto"), audit[0].Actor)
	require.Equal(t, "thread", audit[0].TargetKind)
	require.Equal(t, t0, audit[0].At)
	require.Equal(t, `title "金沢支店の対応"; members kaga, noto, umeda`, audit[0].Detail)

	// Everyone may start threads when the settings say so.
	require.NoError(t, e.st.PutSettings(e.ctx, anpi.Settings{MessageCreators: anpi.Everyone}))
	_, err = e.svc.StartThread(e.ctx, "tokyo", "相談", []anpi.UserID{"kaga"})
	require.NoError(t, err, "MessageCreators: Everyone")
	_, err = e.svc.StartThread(e.ctx, "leave", "相談", []anpi.UserID{"kaga"})
	requireCode(t, anpi.PermissionDenied, err, "a suspended user, whatever the settings")

	// Bad members.
	cases := []struct {
		name    string
		title   string
		members []anpi.UserID
		code    anpi.ErrorCode
		want    string
	}{
		{"unknown member", "x", []anpi.UserID{"kaga", "ghost"}, anpi.NotFound, "member ghost"},
		{"suspended member", "x", []anpi.UserID{"leave"}, anpi.FailedPrecondition, "member leave is suspended"},
		{"nobody else", "x", []anpi.UserID{"admin"}, anpi.InvalidArgument, "at least one member besides its creator"},
		{"no members", "x", nil, anpi.InvalidArgument, "at least one member besides its creator"},
		{"no title", " ", []anpi.UserID{"kaga"}, anpi.InvalidArgument, "title is empty"},
		{"long title", strings.Repeat("件", anpi.MaxTitleLen+1), []anpi.UserID{"kaga"}, anpi.InvalidArgument, "more than 100"},
	}
	for _, tc := range cases {
		_, err := e.svc.StartThread(e.ctx, "admin", tc.title, tc.members)
		requireCode(t, tc.code, err, tc.name)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	ts, err = e.st.ListThreads(e.ctx, "admin")
	require.NoError(t, err)
	require.Empty(t, ts, "refused threads are not created")
}

func TestPostMessage(t *testing.T) {
	e, n, log := msgEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.Manager}))
	th, err := e.svc.StartThread(e.ctx, "admin", "今後の方針", []anpi.UserID{"noto", "kaga", "joetsu"})
	require.NoError(t, err)
	require.Empty(t, n.take(), "starting a thread notifies nobody")

	e.clock.Advance(time.Minute)
	m, err := e.svc.PostMessage(e.ctx, "kaga", th.ID, "金沢は全員無事です。")
	require.NoError(t, err)
	require.Equal(t, int64(1), m.Seq)
	require.Equal(t, anpi.UserID("kaga"), m.Author)
	require.Equal(t, t0.Add(time.Minute), m.At)
	got := n.take()
	require.Len(t, got, 1)
	require.Equal(t, anpi.MessageNotification, got[0].Kind)
	require.Equal(t, []anpi.UserID{"admin", "joetsu", "noto"}, got[0].To, "the other members")
	require.Equal(t, m, got[0].Message)
	require.Equal(t, th.ID, got[0].Thread.ID)
	require.Equal(t, int64(1), got[0].Thread.LastSeq, "the thread as the message left it")
	require.Nil(t, got[0].Board)
	audit := e.audit(string(th.ID))
	require.Len(t, audit, 2)
	require.Equal(t, "message.post", audit[1].Action)
	require.Equal(t, anpi.UserID("kaga"), audit[1].Actor)
	require.Equal(t, "message "+string(m.ID)+" (#1, 10 characters); notifies admin, joetsu, noto", audit[1].Detail)
	require.NotContains(t, audit[1].Detail, "無事", "the audit log keeps no text")

	// Members read; others do not.
	e.clock.Advance(time.Minute)
	_, err = e.svc.PostMessage(e.ctx, "admin", th.ID, "明日は自宅待機とします。")
	require.NoError(t, err)
	ms, err := e.svc.Messages(e.ctx, "noto", th.ID, nil)
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.Equal(t, m, ms[0])
	require.Equal(t, "明日は自宅待機とします。", ms[1].Text)
	ms, err = e.svc.Messages(e.ctx, "noto", th.ID, &anpi.PageQuery{AfterSeq: 1})
	require.NoError(t, err)
	require.Len(t, ms, 1)
	got2, err := e.svc.Thread(e.ctx, "joetsu", th.ID)
	require.NoError(t, err)
	require.Equal(t, int64(2), got2.LastSeq)
	require.Equal(t, t0.Add(2*time.Minute), got2.ActiveAt)
	ts, err := e.svc.Threads(e.ctx, "joetsu")
	require.NoError(t, err)
	require.Equal(t, []*anpi.Thread{got2}, ts)
	ts, err = e.svc.Threads(e.ctx, "tokyo")
	require.NoError(t, err)
	require.Empty(t, ts)

	_, err = e.svc.Messages(e.ctx, "tokyo", th.ID, nil)
	requireCode(t, anpi.PermissionDenied, err, "a non-member reads")
	_, err = e.svc.Thread(e.ctx, "tokyo", th.ID)
	requireCode(t, anpi.PermissionDenied, err, "a non-member looks")
	_, err = e.svc.PostMessage(e.ctx, "tokyo", th.ID, "割り込み")
	requireCode(t, anpi.PermissionDenied, err, "a non-member writes")
	_, err = e.svc.PostMessage(e.ctx, "kaga", "thr-ghost", "x")
	requireCode(t, anpi.NotFound, err, "an unknown thread")
	_, err = e.svc.Messages(e.ctx, "kaga", "thr-ghost", nil)
	requireCode(t, anpi.NotFound, err, "an unknown thread")
	_, err = e.svc.PostMessage(e.ctx, "kaga", th.ID, " \n ")
	requireCode(t, anpi.InvalidArgument, err, "an empty text")
	_, err = e.svc.PostMessage(e.ctx, "kaga", th.ID, strings.Repeat("長", anpi.MaxMessageLen+1))
	requireCode(t, anpi.InvalidArgument, err, "a text too long")
	_, err = e.svc.Messages(e.ctx, "kaga", th.ID, &anpi.PageQuery{Limit: -1})
	requireCode(t, anpi.InvalidArgument, err, "a bad page query")
	n.take()

	// A member who goes on leave neither reads nor is notified.
	joetsu, err := e.st.GetUser(e.ctx, "joetsu")
	require.NoError(t, err)
	joetsu.Status = anpi.Suspended
	require.NoError(t, e.st.UpdateUser(e.ctx, joetsu))
	_, err = e.svc.Messages(e.ctx, "joetsu", th.ID, nil)
	requireCode(t, anpi.PermissionDenied, err, "a suspended member reads")
	_, err = e.svc.Threads(e.ctx, "joetsu")
	requireCode(t, anpi.PermissionDenied, err, "a suspended member lists")
	_, err = e.svc.PostMessage(e.ctx, "noto", th.ID, "了解です。")
	require.NoError(t, err)
	got = n.take()
	require.Len(t, got, 1)
	require.Equal(t, []anpi.UserID{"admin", "kaga"}, got[0].To)

	// A notifier that fails loses the notification, not the message.
	n.fail = errors.New("push service down")
	m4, err := e.svc.PostMessage(e.ctx, "kaga", th.ID, "承知しました。")
	require.NoError(t, err)
	require.Equal(t, int64(4), m4.Seq)
	require.Contains(t, log.String(), "notification lost")
	require.Contains(t, log.String(), "push service down")
	ms, err = e.svc.Messages(e.ctx, "kaga", th.ID, nil)
	require.NoError(t, err)
	require.Len(t, ms, 4)
}

func TestBoards(t *testing.T) {
	e, n, _ := msgEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.CrisisManager}))
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "noto", Role: anpi.Manager, Department: "kanazawa"}))

	// Only administrators open boards, within their scope.
	_, err := e.svc.CreateBoard(e.ctx, "tokyo", "お知らせ", "")
	requireCode(t, anpi.PermissionDenied, err, "a user without a role")
	_, err = e.svc.CreateBoard(e.ctx, "noto", "お知らせ", "")
	requireCode(t, anpi.PermissionDenied, err, "a department's manager opens a company-wide board")
	_, err = e.svc.CreateBoard(e.ctx, "noto", "お知らせ", "osaka")
	requireCode(t, anpi.PermissionDenied, err, "a department's manager opens another department's board")
	_, err = e.svc.CreateBoard(e.ctx, "admin", "お知らせ", "ghost")
	requireCode(t, anpi.NotFound, err, "an unknown department")
	_, err = e.svc.CreateBoard(e.ctx, "admin", "", "")
	requireCode(t, anpi.InvalidArgument, err, "no title")
	bs, err := e.st.ListBoards(e.ctx)
	require.NoError(t, err)
	require.Empty(t, bs, "refused boards are not created")

	company, err := e.svc.CreateBoard(e.ctx, "admin", "全社のお知らせ", "")
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	kanazawa, err := e.svc.CreateBoard(e.ctx, "noto", "金沢支店", "kanazawa")
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	hq, err := e.svc.CreateBoard(e.ctx, "admin", "本社と支店", "hq")
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	osaka, err := e.svc.CreateBoard(e.ctx, "admin", "大阪支店", "osaka")
	require.NoError(t, err)
	require.Equal(t, anpi.DepartmentID("kanazawa"), kanazawa.Department)
	require.Equal(t, anpi.UserID("noto"), kanazawa.CreatedBy)
	audit := e.audit(string(kanazawa.ID))
	require.Len(t, audit, 1)
	require.Equal(t, "board.create", audit[0].Action)
	require.Equal(t, anpi.UserID("noto"), audit[0].Actor)
	require.Equal(t, `title "金沢支店"; department kanazawa`, audit[0].Detail)
	require.Equal(t, `title "全社のお知らせ"; company-wide`, e.audit(string(company.ID))[0].Detail)

	// Who sees which board: the company's for everyone, a department's
	// for its subtree, its creator and its administrators.
	visible := func(u anpi.UserID) []anpi.BoardID {
		t.Helper()
		bs, err := e.svc.Boards(e.ctx, u)
		require.NoError(t, err)
		out := []anpi.BoardID{}
		for _, b := range bs {
			out = append(out, b.ID)
		}
		return out
	}
	require.Equal(t, []anpi.BoardID{osaka.ID, hq.ID, kanazawa.ID, company.ID}, visible("admin"), "a company-wide administrator: all, newest first")
	require.Equal(t, []anpi.BoardID{hq.ID, kanazawa.ID, company.ID}, visible("kaga"), "金沢支店 is within 本社")
	require.Equal(t, []anpi.BoardID{hq.ID, kanazawa.ID, company.ID}, visible("noto"))
	require.Equal(t, []anpi.BoardID{osaka.ID, company.ID}, visible("umeda"))
	require.Equal(t, []anpi.BoardID{company.ID}, visible("hoshi"), "a user in no department")

	// A post notifies the board's creator.
	e.clock.Advance(time.Minute)
	p, err := e.svc.PostToBoard(e.ctx, "kaga", kanazawa.ID, "駐車場が冠水しています。")
	require.NoError(t, err)
	require.Equal(t, int64(1), p.Seq)
	require.Equal(t, t0.Add(4*time.Minute), p.At)
	got := n.take()
	require.Len(t, got, 1)
	require.Equal(t, anpi.BoardPostNotification, got[0].Kind)
	require.Equal(t, []anpi.UserID{"noto"}, got[0].To)
	require.Equal(t, p, got[0].Post)
	require.Equal(t, kanazawa.ID, got[0].Board.ID)
	require.Equal(t, int64(1), got[0].Board.LastSeq)
	audit = e.audit(string(kanazawa.ID))
	require.Len(t, audit, 2)
	require.Equal(t, "board.post", audit[1].Action)
	require.Equal(t, "post "+string(p.ID)+" (#1, 12 characters); notifies noto", audit[1].Detail)

	_, err = e.svc.PostToBoard(e.ctx, "noto", kanazawa.ID, "確認しました。立入禁止にします。")
	require.NoError(t, err)
	require.Empty(t, n.take(), "the creator's own post notifies nobody")
	require.Contains(t, e.audit(string(kanazawa.ID))[2].Detail, "notifies nobody")
	_, err = e.svc.PostToBoard(e.ctx, "umeda", company.ID, "大阪は平常通りです。")
	require.NoError(t, err)
	got = n.take()
	require.Len(t, got, 1)
	require.Equal(t, []anpi.UserID{"admin"}, got[0].To)
	_, err = e.svc.PostToBoard(e.ctx, "admin", kanazawa.ID, "本社も確認しました。")
	require.NoError(t, err, "an administrator over 金沢支店 posts")
	require.Len(t, n.take(), 1)

	// Outsiders neither read nor post.
	_, err = e.svc.PostToBoard(e.ctx, "umeda", kanazawa.ID, "x")
	requireCode(t, anpi.PermissionDenied, err, "outside the department")
	_, err = e.svc.Posts(e.ctx, "umeda", kanazawa.ID, nil)
	requireCode(t, anpi.PermissionDenied, err, "outside the department")
	_, err = e.svc.Board(e.ctx, "umeda", kanazawa.ID)
	requireCode(t, anpi.PermissionDenied, err, "outside the department")
	_, err = e.svc.PostToBoard(e.ctx, "noto", osaka.ID, "x")
	requireCode(t, anpi.PermissionDenied, err, "a manager of another department")
	_, err = e.svc.PostToBoard(e.ctx, "kaga", "brd-ghost", "x")
	requireCode(t, anpi.NotFound, err, "an unknown board")
	_, err = e.svc.PostToBoard(e.ctx, "kaga", company.ID, "")
	requireCode(t, anpi.InvalidArgument, err, "an empty post")
	_, err = e.svc.Boards(e.ctx, "leave")
	requireCode(t, anpi.PermissionDenied, err, "a suspended user")
	require.Empty(t, n.take())

	ps, err := e.svc.Posts(e.ctx, "kaga", kanazawa.ID, nil)
	require.NoError(t, err)
	require.Len(t, ps, 3)
	require.Equal(t, p, ps[0])
	ps, err = e.svc.Posts(e.ctx, "kaga", kanazawa.ID, &anpi.PageQuery{AfterSeq: 2})
	require.NoError(t, err)
	require.Len(t, ps, 1)
	b, err := e.svc.Board(e.ctx, "kaga", kanazawa.ID)
	require.NoError(t, err)
	require.Equal(t, int64(3), b.LastSeq)

	// A creator on leave is not notified.
	noto, err := e.st.GetUser(e.ctx, "noto")
	require.NoError(t, err)
	noto.Status = anpi.Suspended
	require.NoError(t, e.st.UpdateUser(e.ctx, noto))
	_, err = e.svc.PostToBoard(e.ctx, "kaga", kanazawa.ID, "復旧しました。")
	require.NoError(t, err)
	require.Empty(t, n.take())
}

// auditFails is a store whose transactions fail to append to the audit
// log: a write that cannot be audited must not happen.
type auditFails struct{ anpi.Store }

type auditFailsTx struct{ anpi.Tx }

func (s auditFails) InTx(ctx context.Context, fn func(anpi.Tx) error) error {
	return s.Store.InTx(ctx, func(tx anpi.Tx) error { return fn(auditFailsTx{tx}) })
}

func (auditFailsTx) AppendAudit(context.Context, *anpi.AuditEntry) (int64, error) {
	return 0, anpi.Errorf(anpi.Unavailable, "audit log unavailable")
}

func TestMessagingWritesOnlyWhatIsAudited(t *testing.T) {
	e, n, _ := msgEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.SystemAdmin}))
	th, err := e.svc.StartThread(e.ctx, "admin", "方針", []anpi.UserID{"kaga"})
	require.NoError(t, err)
	b, err := e.svc.CreateBoard(e.ctx, "admin", "掲示板", "")
	require.NoError(t, err)

	svc, err := anpi.New(auditFails{e.st}, &anpi.Options{Clock: e.clock.Now, Notifier: n})
	require.NoError(t, err)
	_, err = svc.StartThread(e.ctx, "admin", "方針2", []anpi.UserID{"kaga"})
	requireCode(t, anpi.Unavailable, err, "start thread")
	_, err = svc.PostMessage(e.ctx, "kaga", th.ID, "x")
	requireCode(t, anpi.Unavailable, err, "post message")
	_, err = svc.CreateBoard(e.ctx, "admin", "掲示板2", "")
	requireCode(t, anpi.Unavailable, err, "create board")
	_, err = svc.PostToBoard(e.ctx, "kaga", b.ID, "x")
	requireCode(t, anpi.Unavailable, err, "post to board")

	require.Empty(t, n.take(), "nothing committed, nobody notified")
	ts, err := e.st.ListThreads(e.ctx, "kaga")
	require.NoError(t, err)
	require.Len(t, ts, 1)
	require.Zero(t, ts[0].LastSeq)
	bs, err := e.st.ListBoards(e.ctx)
	require.NoError(t, err)
	require.Len(t, bs, 1)
	require.Zero(t, bs[0].LastSeq)
}

func TestMessagingWithoutNotifier(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, e.st.GrantRole(e.ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.Manager}))
	th, err := e.svc.StartThread(e.ctx, "admin", "方針", []anpi.UserID{"kaga"})
	require.NoError(t, err)
	_, err = e.svc.PostMessage(e.ctx, "kaga", th.ID, "了解")
	require.NoError(t, err, "no Notifier: nobody is told, the message is stored")
	ms, err := e.svc.Messages(e.ctx, "admin", th.ID, nil)
	require.NoError(t, err)
	require.Len(t, ms, 1)
}
