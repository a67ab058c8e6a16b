package fcm_test

import (
	"context"
	"fmt"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/fcm"
	fake "github.com/anpikit/anpi/internal/fake/fcm"
)

// Example sends a safety survey to an Android phone through a local fake of
// FCM and of Google's token endpoint. In production CredentialsJSON is the
// service-account key file from the Firebase console and Endpoint stays
// empty.
func Example() {
	srv := fake.Start(&fake.Options{ProjectID: "anpi-example"})
	defer srv.Close()
	srv.Fail("gone-token-0001", fake.Unregistered)
	creds, err := srv.ServiceAccount("anpi-example") // its token_uri is the fake's
	if err != nil {
		fmt.Println(err)
		return
	}

	s, err := fcm.New(fcm.Config{CredentialsJSON: creds, Endpoint: srv.Endpoint()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	res := channel.SendAll(context.Background(), s, []*channel.Message{
		{To: "device-token-0001", Subject: "【安否確認】", Text: "ご無事ですか", URL: "https://anpi.example.jp/a/T", Priority: channel.PriorityHigh},
		{To: "gone-token-0001", Subject: "【安否確認】", Text: "ご無事ですか"},
	})
	for _, r := range res {
		fmt.Println(r.Receipt.ProviderID != "", channel.Code(r.Err))
	}
	for _, m := range srv.Messages() {
		fmt.Println(m.Token, m.Title, m.Body, m.Data["url"], m.AndroidPriority)
	}
	// Output:
	// true OK
	// false Unregistered
	// device-token-0001 【安否確認】 ご無事ですか https://anpi.example.jp/a/T high
}
