package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// jst is Japan's zone, for times the suite passes in a zone other than UTC.
var jst = time.FixedZone("JST", 9*60*60)

// newThread returns a valid thread created by creator at t0, with members.
func newThread(id string, creator anpi.UserID, members ...anpi.UserID) *anpi.Thread {
	return &anpi.Thread{ID: anpi.ThreadID(id), Title: "対応方針 " + id, Members: anpi.NormalizeMembers(creator, members),
		CreatedBy: creator, CreatedAt: t0(), ActiveAt: t0()}
}

func newMessage(id, thread string, author anpi.UserID, when time.Time) *anpi.Message {
	return &anpi.Message{ID: anpi.MessageID(id), ThreadID: anpi.ThreadID(thread), Author: author, Text: "本文 " + id, At: when}
}

func newBoard(id string, dept anpi.DepartmentID, creator anpi.UserID) *anpi.Board {
	return &anpi.Board{ID: anpi.BoardID(id), Title: "掲示板 " + id, Department: dept, CreatedBy: creator, CreatedAt: t0(), ActiveAt: t0()}
}

func newPost(id, board string, author anpi.UserID, when time.Time) *anpi.Post {
	return &anpi.Post{ID: anpi.PostID(id), BoardID: anpi.BoardID(board), Author: author, Text: "投稿 " + id, At: when}
}

// mustUsers creates users u1 … un in no department.
func mustUsers(t *testing.T, st anpi.Tx, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		mustUser(t, st, newUser(fmt.Sprintf("u%d", i), fmt.Sprintf("E%d", i)))
	}
}

func requireThread(t *testing.T, st anpi.Tx, want *anpi.Thread, msgAndArgs ...any) {
	t.Helper()
	got, err := st.GetThread(t.Context(), want.ID)
	require.NoError(t, err, msgAndArgs...)
	require.Equal(t, want, got, msgAndArgs...)
}

func requireNoThread(t *testing.T, st anpi.Tx, id anpi.ThreadID, msgAndArgs ...any) {
	t.Helper()
	_, err := st.GetThread(t.Context(), id)
	require.Error(t, err, msgAndArgs...)
	require.Equal(t, anpi.NotFound.String(), anpi.Code(err).String(), msgAndArgs...)
}

func threadIDs(ts []*anpi.Thread) []anpi.ThreadID {
	return ids(ts, func(t *anpi.Thread) anpi.ThreadID { return t.ID })
}

func messageIDs(ms []*anpi.Message) []anpi.MessageID {
	return ids(ms, func(m *anpi.Message) anpi.MessageID { return m.ID })
}

func boardIDs(bs []*anpi.Board) []anpi.BoardID {
	return ids(bs, func(b *anpi.Board) anpi.BoardID { return b.ID })
}

func postIDs(ps []*anpi.Post) []anpi.PostID {
	return ids(ps, func(p *anpi.Post) anpi.PostID { return p.ID })
}

// testThreads: create, get and list threads; copies in and out; errors.
func testThreads(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustUsers(t, st, 4)

	a := newThread("t-a", "u1", "u2", "u3")
	a.ActiveAt, a.LastSeq = at(time.Hour), 7 // the store's to set: ignored
	a.CreatedAt = t0().In(jst)               // comes back in UTC
	in := a.Clone()
	require.NoError(t, st.CreateThread(ctx, in))
	want := newThread("t-a", "u1", "u2", "u3")
	requireThread(t, st, want, "a new thread: ActiveAt is CreatedAt, LastSeq 0, times in UTC")

	// Copies in and out.
	in.Members[0], in.Title = "u4", "x"
	requireThread(t, st, want, "changing a thread passed in")
	got, err := st.GetThread(ctx, "t-a")
	require.NoError(t, err)
	got.Members[1], got.Title = "u4", "x"
	requireThread(t, st, want, "changing a thread returned")

	b := newThread("t-b", "u2", "u4")
	b.CreatedAt = at(time.Minute)
	require.NoError(t, st.CreateThread(ctx, b.Clone()))
	b.ActiveAt = b.CreatedAt
	c := newThread("t-c", "u3", "u1")
	require.NoError(t, st.CreateThread(ctx, c.Clone()))

	list := func(u anpi.UserID) []*anpi.Thread {
		t.Helper()
		ts, err := st.ListThreads(ctx, u)
		require.NoError(t, err)
		return ts
	}
	require.Equal(t, []*anpi.Thread{want, c}, list("u1"), "the most recently active first, then by ID")
	require.Equal(t, []anpi.ThreadID{"t-b", "t-a"}, threadIDs(list("u2")))
	require.Equal(t, []anpi.ThreadID{"t-a", "t-c"}, threadIDs(list("u3")))
	require.Equal(t, []anpi.ThreadID{"t-b"}, threadIDs(list("u4")))
	require.Empty(t, list("nobody"), "a user who is in no thread")
	ls := list("u1")
	ls[0].Members[0] = "zz"
	require.Equal(t, []*anpi.Thread{want, c}, list("u1"), "changing a listed thread")

	// Errors, none of which creates anything.
	bad := func(edit func(th *anpi.Thread)) *anpi.Thread {
		th := newThread("t-bad", "u1", "u2")
		edit(th)
		return th
	}
	cases := []struct {
		name string
		th   *anpi.Thread
		code anpi.ErrorCode
	}{
		{"nil", nil, anpi.InvalidArgument},
		{"no id", bad(func(th *anpi.Thread) { th.ID = "" }), anpi.InvalidArgument},
		{"blank title", bad(func(th *anpi.Thread) { th.Title = "  " }), anpi.InvalidArgument},
		{"creator not a member", bad(func(th *anpi.Thread) { th.CreatedBy = "u3" }), anpi.InvalidArgument},
		{"alone", bad(func(th *anpi.Thread) { th.Members = []anpi.UserID{"u1"} }), anpi.InvalidArgument},
		{"unsorted members", bad(func(th *anpi.Thread) { th.Members = []anpi.UserID{"u2", "u1"} }), anpi.InvalidArgument},
		{"no time", bad(func(th *anpi.Thread) { th.CreatedAt = time.Time{} }), anpi.InvalidArgument},
		{"unknown member", bad(func(th *anpi.Thread) { th.Members = []anpi.UserID{"ghost", "u1", "u2"} }), anpi.NotFound},
		{"taken id", bad(func(th *anpi.Thread) { th.ID = "t-b" }), anpi.AlreadyExists},
	}
	for _, tc := range cases {
		requireCode(t, tc.code, st.CreateThread(ctx, tc.th), tc.name)
		err := st.InTx(ctx, func(tx anpi.Tx) error {
			requireCode(t, tc.code, tx.CreateThread(ctx, tc.th), tc.name+" in a transaction")
			return nil
		})
		if err != nil {
			// A store whose transaction cannot go on after a failed
			// statement reports it at commit; that keeps nothing too.
			require.NotEqual(t, anpi.OK.String(), anpi.Code(err).String())
		}
		requireNoThread(t, st, "t-bad", tc.name)
		require.Empty(t, list("ghost"), tc.name)
	}
	requireThread(t, st, b, "a refused thread with a taken ID leaves the first")
	requireNoThread(t, st, "ghost-thread", "an unknown thread")

	// A thread outlives its members' deletion, for the record.
	require.NoError(t, st.DeleteUser(ctx, "u4"))
	requireThread(t, st, b, "a deleted member stays a member")
}

// testMessages: append and page through messages; Seq, LastSeq and
// ActiveAt; errors.
func testMessages(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustUsers(t, st, 3)
	require.NoError(t, st.CreateThread(ctx, newThread("t1", "u1", "u2")))
	require.NoError(t, st.CreateThread(ctx, newThread("t2", "u2", "u3")))

	var want []*anpi.Message
	for i := 1; i <= 5; i++ {
		author := anpi.UserID("u1")
		if i%2 == 0 {
			author = "u2"
		}
		m := newMessage(fmt.Sprintf("m%d", i), "t1", author, at(time.Duration(i)*time.Minute))
		in := m.Clone()
		in.Seq = 99 // the store's to set: ignored
		if i == 3 {
			in.At = in.At.In(jst)
		}
		seq, err := st.AppendMessage(ctx, in)
		require.NoError(t, err)
		require.Equal(t, int64(i), seq, "message %d", i)
		m.Seq = seq
		want = append(want, m)
		in.Text = "changed" // a copy was stored
	}
	msgs, err := st.Messages(ctx, "t1", nil)
	require.NoError(t, err)
	require.Equal(t, want, msgs, "oldest first, times in UTC, copies")
	msgs[0].Text = "changed"
	msgs, err = st.Messages(ctx, "t1", nil)
	require.NoError(t, err)
	require.Equal(t, want, msgs, "changing a listed message")

	th := newThread("t1", "u1", "u2")
	th.LastSeq, th.ActiveAt = 5, at(5*time.Minute)
	requireThread(t, st, th, "LastSeq and ActiveAt follow the messages")
	ts, err := st.ListThreads(ctx, "u2")
	require.NoError(t, err)
	require.Equal(t, []anpi.ThreadID{"t1", "t2"}, threadIDs(ts), "the thread with the latest message first")

	// An earlier time does not move ActiveAt back (clocks of replicas differ).
	seq, err := st.AppendMessage(ctx, newMessage("m6", "t1", "u1", at(time.Second)))
	require.NoError(t, err)
	require.Equal(t, int64(6), seq)
	th.LastSeq = 6
	requireThread(t, st, th, "an older message keeps ActiveAt")
	want = append(want, newMessage("m6", "t1", "u1", at(time.Second)))
	want[5].Seq = 6

	page := func(q *anpi.PageQuery) []anpi.MessageID {
		t.Helper()
		ms, err := st.Messages(ctx, "t1", q)
		require.NoError(t, err)
		return messageIDs(ms)
	}
	require.Equal(t, []anpi.MessageID{"m1", "m2"}, page(&anpi.PageQuery{Limit: 2}))
	require.Equal(t, []anpi.MessageID{"m3", "m4"}, page(&anpi.PageQuery{AfterSeq: 2, Limit: 2}))
	require.Equal(t, []anpi.MessageID{"m5", "m6"}, page(&anpi.PageQuery{AfterSeq: 4}))
	require.Empty(t, page(&anpi.PageQuery{AfterSeq: 6}))
	require.Empty(t, page(&anpi.PageQuery{AfterSeq: 60}))
	require.Equal(t, []anpi.MessageID{"m5", "m6"}, page(&anpi.PageQuery{AfterSeq: th.LastSeq - 2}), "the latest two")
	empty, err := st.Messages(ctx, "t2", nil)
	require.NoError(t, err)
	require.Empty(t, empty, "a thread without messages")

	// Errors, none of which appends anything or burns a Seq.
	bad := func(edit func(m *anpi.Message)) *anpi.Message {
		m := newMessage("m-bad", "t1", "u1", at(time.Hour))
		edit(m)
		return m
	}
	cases := []struct {
		name string
		m    *anpi.Message
		code anpi.ErrorCode
	}{
		{"nil", nil, anpi.InvalidArgument},
		{"no id", bad(func(m *anpi.Message) { m.ID = "" }), anpi.InvalidArgument},
		{"empty text", bad(func(m *anpi.Message) { m.Text = " \n " }), anpi.InvalidArgument},
		{"text too long", bad(func(m *anpi.Message) { m.Text = strings.Repeat("あ", anpi.MaxMessageLen+1) }), anpi.InvalidArgument},
		{"no time", bad(func(m *anpi.Message) { m.At = time.Time{} }), anpi.InvalidArgument},
		{"unknown thread", bad(func(m *anpi.Message) { m.ThreadID = "ghost" }), anpi.NotFound},
		{"not a member", bad(func(m *anpi.Message) { m.Author = "u3" }), anpi.FailedPrecondition},
		{"taken id", bad(func(m *anpi.Message) { m.ID = "m2" }), anpi.AlreadyExists},
		{"id taken in another thread", bad(func(m *anpi.Message) { m.ID = "m2"; m.ThreadID = "t2"; m.Author = "u2" }), anpi.AlreadyExists},
	}
	for _, tc := range cases {
		_, err := st.AppendMessage(ctx, tc.m)
		requireCode(t, tc.code, err, tc.name)
		err = st.InTx(ctx, func(tx anpi.Tx) error {
			_, err := tx.AppendMessage(ctx, tc.m)
			requireCode(t, tc.code, err, tc.name+" in a transaction")
			return nil
		})
		if err != nil {
			require.NotEqual(t, anpi.OK.String(), anpi.Code(err).String())
		}
		requireThread(t, st, th, "%s: the thread is unchanged", tc.name)
	}
	msgs, err = st.Messages(ctx, "t1", &anpi.PageQuery{Limit: anpi.MaxPageLimit})
	require.NoError(t, err)
	require.Equal(t, want, msgs, "refused messages left nothing")
	seq, err = st.AppendMessage(ctx, newMessage("m7", "t1", "u2", at(time.Hour)))
	require.NoError(t, err)
	require.Equal(t, int64(7), seq, "refused messages burnt no Seq")

	_, err = st.Messages(ctx, "ghost", nil)
	requireCode(t, anpi.NotFound, err, "messages of an unknown thread")
	for _, q := range []*anpi.PageQuery{{AfterSeq: -1}, {Limit: -1}, {Limit: anpi.MaxPageLimit + 1}} {
		_, err = st.Messages(ctx, "t1", q)
		requireCode(t, anpi.InvalidArgument, err, fmt.Sprintf("query %+v", *q))
	}
}

// testBoards: create, get and list boards; posts; errors.
func testBoards(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustDept(t, st, "hq", "")
	mustDept(t, st, "sales", "hq")
	mustUsers(t, st, 3)

	all := newBoard("b-all", "", "u1")
	in := all.Clone()
	in.ActiveAt, in.LastSeq = at(time.Hour), 3 // the store's: ignored
	in.CreatedAt = in.CreatedAt.In(jst)
	require.NoError(t, st.CreateBoard(ctx, in))
	in.Title = "changed"
	sales := newBoard("b-sales", "sales", "u2")
	sales.CreatedAt, sales.ActiveAt = at(time.Minute), at(time.Minute)
	require.NoError(t, st.CreateBoard(ctx, sales.Clone()))

	requireBoard := func(want *anpi.Board, msg string) {
		t.Helper()
		got, err := st.GetBoard(ctx, want.ID)
		require.NoError(t, err, msg)
		require.Equal(t, want, got, msg)
		got.Title = "changed"
	}
	requireBoard(all, "a company-wide board")
	requireBoard(sales, "a department's board")
	listBoards := func() []*anpi.Board {
		t.Helper()
		bs, err := st.ListBoards(ctx)
		require.NoError(t, err)
		return bs
	}
	require.Equal(t, []*anpi.Board{sales, all}, listBoards(), "the most recently active first")
	listBoards()[0].Title = "changed"
	require.Equal(t, []*anpi.Board{sales, all}, listBoards(), "changing a listed board")

	for i := 1; i <= 3; i++ {
		p := newPost(fmt.Sprintf("p%d", i), "b-all", anpi.UserID(fmt.Sprintf("u%d", i)), at(time.Duration(i)*time.Hour))
		seq, err := st.AddPost(ctx, p)
		require.NoError(t, err)
		require.Equal(t, int64(i), seq)
	}
	all.LastSeq, all.ActiveAt = 3, at(3*time.Hour)
	requireBoard(all, "LastSeq and ActiveAt follow the posts")
	require.Equal(t, []anpi.BoardID{"b-all", "b-sales"}, boardIDs(listBoards()), "the board with the latest post first")
	ps, err := st.Posts(ctx, "b-all", &anpi.PageQuery{AfterSeq: 1, Limit: 1})
	require.NoError(t, err)
	want := newPost("p2", "b-all", "u2", at(2*time.Hour))
	want.Seq = 2
	require.Equal(t, []*anpi.Post{want}, ps)
	ps[0].Text = "changed"
	ps, err = st.Posts(ctx, "b-all", nil)
	require.NoError(t, err)
	require.Equal(t, []anpi.PostID{"p1", "p2", "p3"}, postIDs(ps))
	require.Equal(t, want, ps[1], "changing a listed post")
	ps, err = st.Posts(ctx, "b-sales", nil)
	require.NoError(t, err)
	require.Empty(t, ps)

	boardCases := []struct {
		name string
		b    *anpi.Board
		code anpi.ErrorCode
	}{
		{"nil", nil, anpi.InvalidArgument},
		{"no title", &anpi.Board{ID: "b-bad", CreatedBy: "u1", CreatedAt: t0()}, anpi.InvalidArgument},
		{"no creator", &anpi.Board{ID: "b-bad", Title: "x", CreatedAt: t0()}, anpi.InvalidArgument},
		{"unknown creator", newBoard("b-bad", "", "ghost"), anpi.NotFound},
		{"unknown department", newBoard("b-bad", "ghost", "u1"), anpi.NotFound},
		{"taken id", newBoard("b-sales", "", "u1"), anpi.AlreadyExists},
	}
	for _, tc := range boardCases {
		requireCode(t, tc.code, st.CreateBoard(ctx, tc.b), tc.name)
		_, err := st.GetBoard(ctx, "b-bad")
		requireCode(t, anpi.NotFound, err, tc.name)
	}
	requireBoard(sales, "a refused board with a taken ID leaves the first")

	postCases := []struct {
		name string
		p    *anpi.Post
		code anpi.ErrorCode
	}{
		{"nil", nil, anpi.InvalidArgument},
		{"empty text", &anpi.Post{ID: "p-bad", BoardID: "b-all", Author: "u1", At: t0()}, anpi.InvalidArgument},
		{"unknown board", newPost("p-bad", "ghost", "u1", t0()), anpi.NotFound},
		{"unknown author", newPost("p-bad", "b-all", "ghost", t0()), anpi.NotFound},
		{"taken id", newPost("p1", "b-sales", "u1", t0()), anpi.AlreadyExists},
	}
	for _, tc := range postCases {
		_, err := st.AddPost(ctx, tc.p)
		requireCode(t, tc.code, err, tc.name)
		err = st.InTx(ctx, func(tx anpi.Tx) error {
			_, err := tx.AddPost(ctx, tc.p)
			requireCode(t, tc.code, err, tc.name+" in a transaction")
			return nil
		})
		if err != nil {
			require.NotEqual(t, anpi.OK.String(), anpi.Code(err).String())
		}
		requireBoard(all, tc.name+": the board is unchanged")
		requireBoard(sales, tc.name+": the board is unchanged")
	}
	seq, err := st.AddPost(ctx, newPost("p4", "b-all", "u1", at(4*time.Hour)))
	require.NoError(t, err)
	require.Equal(t, int64(4), seq, "refused posts burnt no Seq")
	_, err = st.Posts(ctx, "ghost", nil)
	requireCode(t, anpi.NotFound, err, "posts of an unknown board")
	_, err = st.Posts(ctx, "b-all", &anpi.PageQuery{Limit: -1})
	requireCode(t, anpi.InvalidArgument, err, "a bad query")
	_, err = st.GetBoard(ctx, "ghost")
	requireCode(t, anpi.NotFound, err, "an unknown board")

	// Boards outlive their department and their creator, for the record.
	require.NoError(t, st.DeleteDepartment(ctx, "sales"))
	require.NoError(t, st.DeleteUser(ctx, "u2"))
	requireBoard(sales, "a board whose department and creator are gone")
}

// testMessagesRollback: threads, messages, boards and posts written in a
// transaction that fails or panics are all gone, and reads inside it see
// its writes.
func testMessagesRollback(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustUsers(t, st, 2)
	require.NoError(t, st.CreateThread(ctx, newThread("kept", "u1", "u2")))
	require.NoError(t, st.CreateBoard(ctx, newBoard("kept", "", "u1")))
	keptThread := newThread("kept", "u1", "u2")
	keptBoard := newBoard("kept", "", "u1")

	write := func(tx anpi.Tx) {
		t.Helper()
		require.NoError(t, tx.CreateThread(ctx, newThread("new", "u2", "u1")))
		seq, err := tx.AppendMessage(ctx, newMessage("m1", "kept", "u2", at(time.Hour)))
		require.NoError(t, err)
		require.Equal(t, int64(1), seq)
		_, err = tx.AppendMessage(ctx, newMessage("m2", "new", "u1", at(time.Hour)))
		require.NoError(t, err)
		require.NoError(t, tx.CreateBoard(ctx, newBoard("new", "", "u2")))
		_, err = tx.AddPost(ctx, newPost("p1", "kept", "u2", at(time.Hour)))
		require.NoError(t, err)
		// The transaction reads its own writes.
		th, err := tx.GetThread(ctx, "kept")
		require.NoError(t, err)
		require.Equal(t, int64(1), th.LastSeq)
		ts, err := tx.ListThreads(ctx, "u1")
		require.NoError(t, err)
		require.Equal(t, []anpi.ThreadID{"kept", "new"}, threadIDs(ts))
		ms, err := tx.Messages(ctx, "new", nil)
		require.NoError(t, err)
		require.Equal(t, []anpi.MessageID{"m2"}, messageIDs(ms))
		bs, err := tx.ListBoards(ctx)
		require.NoError(t, err)
		require.Len(t, bs, 2)
		ps, err := tx.Posts(ctx, "kept", nil)
		require.NoError(t, err)
		require.Equal(t, []anpi.PostID{"p1"}, postIDs(ps))
	}
	check := func(msg string) {
		t.Helper()
		requireThread(t, st, keptThread, msg)
		requireNoThread(t, st, "new", msg)
		ms, err := st.Messages(ctx, "kept", nil)
		require.NoError(t, err)
		require.Empty(t, ms, msg)
		ts, err := st.ListThreads(ctx, "u2")
		require.NoError(t, err)
		require.Equal(t, []anpi.ThreadID{"kept"}, threadIDs(ts), msg)
		bs, err := st.ListBoards(ctx)
		require.NoError(t, err)
		require.Equal(t, []*anpi.Board{keptBoard}, bs, msg)
		ps, err := st.Posts(ctx, "kept", nil)
		require.NoError(t, err)
		require.Empty(t, ps, msg)
	}
	boom := errors.New("boom")
	err := st.InTx(ctx, func(tx anpi.Tx) error { write(tx); return boom })
	require.ErrorIs(t, err, boom)
	check("after a failed transaction")
	require.PanicsWithValue(t, "boom", func() {
		_ = st.InTx(ctx, func(tx anpi.Tx) error { write(tx); panic("boom") })
	})
	check("after a panicking transaction")

	// The IDs and numbers of rolled-back writes are free again.
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error { write(tx); return nil }))
	keptThread.LastSeq, keptThread.ActiveAt = 1, at(time.Hour)
	requireThread(t, st, keptThread, "after a committed transaction")
}

// testConcurrentAppends has 8 writers append 25 messages each to one
// thread and 25 posts each to one board at once: every message and post
// gets its own Seq, 1 … 200 without gaps.
func testConcurrentAppends(t *testing.T, st anpi.Store) {
	const writers, each = 8, 25
	ctx := t.Context()
	mustUsers(t, st, writers)
	var members []anpi.UserID
	for w := 1; w <= writers; w++ {
		members = append(members, anpi.UserID(fmt.Sprintf("u%d", w)))
	}
	require.NoError(t, st.CreateThread(ctx, newThread("t", "u1", members...)))
	require.NoError(t, st.CreateBoard(ctx, newBoard("b", "", "u1")))
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers*each)
	for w := 1; w <= writers; w++ {
		wg.Go(func() {
			u := anpi.UserID(fmt.Sprintf("u%d", w))
			for i := range each {
				when := at(time.Duration(i) * time.Second)
				if _, err := st.AppendMessage(ctx, newMessage(fmt.Sprintf("m-%d-%d", w, i), "t", u, when)); err != nil {
					errs <- err
				}
				if _, err := st.AddPost(ctx, newPost(fmt.Sprintf("p-%d-%d", w, i), "b", u, when)); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	ms, err := st.Messages(ctx, "t", &anpi.PageQuery{Limit: anpi.MaxPageLimit})
	require.NoError(t, err)
	require.Len(t, ms, writers*each)
	ps, err := st.Posts(ctx, "b", &anpi.PageQuery{Limit: anpi.MaxPageLimit})
	require.NoError(t, err)
	require.Len(t, ps, writers*each)
	seen := map[string]bool{}
	for i := range ms {
		require.Equal(t, int64(i+1), ms[i].Seq, "message %d", i)
		require.Equal(t, int64(i+1), ps[i].Seq, "post %d", i)
		seen[string(ms[i].ID)] = true
		seen[string(ps[i].ID)] = true
	}
	require.Len(t, seen, 2*writers*each, "every message and post once")
	th, err := st.GetThread(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, int64(writers*each), th.LastSeq)
	require.Equal(t, at((each-1)*time.Second), th.ActiveAt)
}

// testMessagesNilAndCancelled: nil objects are InvalidArgument, a nil
// query means the first page, a cancelled context is Unavailable.
func testMessagesNilAndCancelled(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustUsers(t, st, 2)
	require.NoError(t, st.CreateThread(ctx, newThread("t", "u1", "u2")))
	calls := map[string]func() error{
		"CreateThread":  func() error { return st.CreateThread(ctx, nil) },
		"AppendMessage": func() error { _, err := st.AppendMessage(ctx, nil); return err },
		"CreateBoard":   func() error { return st.CreateBoard(ctx, nil) },
		"AddPost":       func() error { _, err := st.AddPost(ctx, nil); return err },
	}
	for name, call := range calls {
		var err error
		require.NotPanics(t, func() { err = call() }, name)
		requireCode(t, anpi.InvalidArgument, err, name)
	}
	for i := range anpi.DefaultPageLimit + 1 {
		_, err := st.AppendMessage(ctx, newMessage(fmt.Sprintf("m%03d", i), "t", "u1", t0()))
		require.NoError(t, err)
	}
	ms, err := st.Messages(ctx, "t", nil)
	require.NoError(t, err)
	require.Len(t, ms, anpi.DefaultPageLimit, "a nil query reads the first page")
	ms, err = st.Messages(ctx, "t", &anpi.PageQuery{})
	require.NoError(t, err)
	require.Len(t, ms, anpi.DefaultPageLimit, "a zero limit reads a page")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = st.AppendMessage(cctx, newMessage("late", "t", "u1", t0()))
	requireCode(t, anpi.Unavailable, err, "write")
	_, err = st.GetThread(cctx, "t")
	requireCode(t, anpi.Unavailable, err, "read")
	_, err = st.ListThreads(cctx, "u1")
	requireCode(t, anpi.Unavailable, err, "list")
	th, err := st.GetThread(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, int64(anpi.DefaultPageLimit+1), th.LastSeq, "nothing was written")
}
