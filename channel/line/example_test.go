package line_test

import (
	"context"
	"fmt"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/line"
	fake "github.com/anpikit/anpi/internal/fake/line"
)

func Example() {
	// A local fake stands in for api.line.me.
	api := fake.Start(&fake.Options{ChannelToken: "token"})
	defer api.Close()

	s, err := line.New(line.Config{
		ChannelAccessToken: "token",   // from the LINE Developers console
		Endpoint:           api.URL(), // omit in production
	})
	if err != nil {
		panic(err)
	}
	text := "【安否確認】震度６弱の地震が発生しました。ご無事ですか。"
	var ms []*channel.Message
	for i := range 3 {
		ms = append(ms, &channel.Message{
			To:             fmt.Sprintf("U%032x", i+1),
			Text:           text,
			URL:            "https://anpi.example.jp/a/TOKEN",
			IdempotencyKey: fmt.Sprintf("s1/u%d/line", i+1),
		})
	}
	for i, r := range channel.SendAll(context.Background(), s, ms) {
		fmt.Println(ms[i].IdempotencyKey, channel.Code(r.Err))
	}
	fmt.Println("multicast requests:", api.Requests("multicast"), "recipients:", api.Recipients())
	// Output:
	// s1/u1/line OK
	// s1/u2/line OK
	// s1/u3/line OK
	// multicast requests: 1 recipients: 3
}

// Account linking: the application's pages call IssueLinkToken and Begin;
// the webhook resolves LINE's accountLink event to Events.Linked.
func ExampleLinker() {
	api := fake.Start(nil)
	defer api.Close()
	s, err := line.New(line.Config{ChannelAccessToken: "token", Endpoint: api.URL()})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	linker, err := line.NewLinker(line.NewMemoryNonces(nil), nil)
	if err != nil {
		panic(err)
	}
	linkToken, err := s.IssueLinkToken(ctx, "U00000000000000000000000000000001")
	if err != nil {
		panic(err)
	}
	redirect, err := linker.Begin(ctx, "emp-0042", linkToken)
	if err != nil {
		panic(err)
	}
	fmt.Println(redirect[:len(line.AccountLinkURL)])
	// Output:
	// https://access.line.me/dialog/bot/accountLink
}
