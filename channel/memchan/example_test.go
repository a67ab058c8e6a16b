package memchan_test

import (
	"context"
	"fmt"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/memchan"
)

func Example() {
	ctx := context.Background()
	s := memchan.New(&memchan.Options{Kind: channel.Email})
	s.FailWith("gone@example.jp", channel.Errorf(channel.Permanent, "550 5.1.1 user unknown"))

	ms := []*channel.Message{
		{To: "taro@example.jp", Subject: "【安否確認】地震発生", Text: "ご無事ですか。", IdempotencyKey: "s1/u1/email"},
		{To: "gone@example.jp", Subject: "【安否確認】地震発生", Text: "ご無事ですか。", IdempotencyKey: "s1/u2/email"},
	}
	for i, r := range channel.SendAll(ctx, s, ms) {
		fmt.Printf("%s %v %q\n", ms[i].IdempotencyKey, channel.Code(r.Err), r.Receipt.ProviderID)
	}
	for _, sent := range s.Sent() {
		fmt.Println("sent:", sent.Message.To, sent.Message.Subject)
	}
	// Output:
	// s1/u1/email OK "mem-1"
	// s1/u2/email Permanent ""
	// sent: taro@example.jp 【安否確認】地震発生
}
