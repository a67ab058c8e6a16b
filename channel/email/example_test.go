package email_test

import (
	"context"
	"fmt"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/email"
	fake "github.com/anpikit/anpi/internal/fake/smtp"
)

func Example() {
	// A local relay stands in for the company's SMTP server.
	relay, err := fake.Start(nil)
	if err != nil {
		panic(err)
	}
	defer relay.Close()
	relay.Fail("gone@example.jp", fake.Bounce)

	s, err := email.New(email.Config{
		Host:      relay.Host(), // "smtp.example.co.jp" in production
		Port:      relay.Port(), // 25
		TLSPolicy: email.NoTLS,  // an intranet relay without STARTTLS
		From:      "安否確認 <anpi@example.co.jp>",
	})
	if err != nil {
		panic(err)
	}
	ms := []*channel.Message{
		{To: "taro@example.jp", Subject: "【安否確認】地震発生", Text: "ご無事ですか。\nhttps://anpi.example.jp/a/TOKEN", IdempotencyKey: "s1/u1/email"},
		{To: "gone@example.jp", Subject: "【安否確認】地震発生", Text: "ご無事ですか。", IdempotencyKey: "s1/u2/email"},
	}
	for i, r := range channel.SendAll(context.Background(), s, ms) {
		fmt.Println(ms[i].IdempotencyKey, channel.Code(r.Err))
	}
	for _, m := range relay.Messages() {
		fmt.Println(m.To, m.Subject, m.Header.Get(email.IdempotencyHeader))
	}
	// Output:
	// s1/u1/email OK
	// s1/u2/email Permanent
	// [taro@example.jp] 【安否確認】地震発生 s1/u1/email
}
