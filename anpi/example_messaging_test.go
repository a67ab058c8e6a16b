package anpi_test

import (
	"context"
	"fmt"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/store/memstore"
)

// After a tally, managers discuss what to do in a thread, and an
// administrator publishes the decision on a board, where a post notifies
// him. The Notifier here prints; an application would push or mail.
func ExampleService_PostMessage() {
	ctx := context.Background()
	now := time.Date(2030, 4, 1, 1, 30, 0, 0, time.UTC) // 10:30 JST
	clock := func() time.Time { return now }
	st := memstore.New(&memstore.Options{Now: clock})
	defer st.Close()
	for _, u := range []*anpi.User{
		{ID: "sato", EmployeeCode: "E1", Name: "佐藤 部長", Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "ito", EmployeeCode: "E2", Name: "伊藤 課長", Status: anpi.Active, Locale: anpi.Japanese},
		{ID: "kato", EmployeeCode: "E3", Name: "加藤", Status: anpi.Active, Locale: anpi.Japanese},
	} {
		if err := st.CreateUser(ctx, u); err != nil {
			fmt.Println(err)
			return
		}
	}
	// 佐藤 is a crisis manager; by default only administrators start threads.
	if err := st.GrantRole(ctx, anpi.RoleGrant{UserID: "sato", Role: anpi.CrisisManager}); err != nil {
		fmt.Println(err)
		return
	}
	notifier := anpi.NotifierFunc(func(_ context.Context, n *anpi.Notification) error {
		switch n.Kind {
		case anpi.MessageNotification:
			fmt.Printf("notify %v: %s wrote in %q\n", n.To, n.Message.Author, n.Thread.Title)
		case anpi.BoardPostNotification:
			fmt.Printf("notify %v: %s posted on %q\n", n.To, n.Post.Author, n.Board.Title)
		}
		return nil
	})
	svc, err := anpi.New(st, &anpi.Options{Clock: clock, Notifier: notifier})
	if err != nil {
		fmt.Println(err)
		return
	}

	th, err := svc.StartThread(ctx, "sato", "地震後の対応方針", []anpi.UserID{"ito"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := svc.PostMessage(ctx, "ito", th.ID, "全員の無事を確認しました。出社は明日からでよいでしょうか。"); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := svc.PostMessage(ctx, "kato", th.ID, "私も入れてください"); err != nil {
		fmt.Println("kato:", anpi.Code(err))
	}

	board, err := svc.CreateBoard(ctx, "sato", "全社のお知らせ", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := svc.PostToBoard(ctx, "kato", board.ID, "第2倉庫の棚が倒れています。"); err != nil {
		fmt.Println(err)
		return
	}
	posts, err := svc.Posts(ctx, "ito", board.ID, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range posts {
		fmt.Printf("#%d %s: %s\n", p.Seq, p.Author, p.Text)
	}
	audit, err := st.ListAudit(ctx, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, a := range audit {
		fmt.Println(a.Actor, a.Action, a.TargetKind)
	}
	// Output:
	// notify [sato]: ito wrote in "地震後の対応方針"
	// kato: PermissionDenied
	// notify [sato]: kato posted on "全社のお知らせ"
	// #1 kato: 第2倉庫の棚が倒れています。
	// sato thread.start thread
	// ito message.post thread
	// sato board.create board
	// kato board.post board
}
