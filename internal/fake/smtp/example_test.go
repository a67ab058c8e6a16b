package smtp_test

import (
	"fmt"
	"net/smtp"
	"strings"

	fake "github.com/anpikit/anpi/internal/fake/smtp"
)

func Example() {
	s, err := fake.Start(&fake.Options{MaxRcptPerSession: 100})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	s.Fail("gone@example.jp", fake.Bounce)

	msg := []byte("Subject: =?UTF-8?B?5a6J5ZCm56K66KqN?=\r\n\r\nhello\r\n")
	fmt.Println(smtp.SendMail(s.Addr(), nil, "anpi@example.co.jp", []string{"taro@example.jp"}, msg))
	err = smtp.SendMail(s.Addr(), nil, "anpi@example.co.jp", []string{"gone@example.jp"}, msg)
	fmt.Println(strings.Contains(err.Error(), "550"))
	for _, m := range s.Messages() {
		fmt.Println(m.To, m.Subject)
	}
	// Output:
	// <nil>
	// true
	// [taro@example.jp] 安否確認
}
