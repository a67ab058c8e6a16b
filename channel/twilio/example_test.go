package twilio_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/twilio"
	fake "github.com/anpikit/anpi/internal/fake/twilio"
)

// Example sends an SMS and places a call through a local fake of Twilio.
// In production BaseURL stays empty.
func Example() {
	srv := fake.Start(&fake.Options{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: "authtoken0123"})
	defer srv.Close()
	cfg := twilio.Config{
		AccountSID:     "AC0123456789abcdef0123456789abcdef",
		AuthToken:      "authtoken0123",
		From:           "+815012345678",
		StatusCallback: "https://anpi.example.co.jp/twilio",
		BaseURL:        srv.URL(),
	}
	sms, err := twilio.NewSMS(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sms.Close()
	voice, err := twilio.NewVoice(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer voice.Close()

	ctx := context.Background()
	m := &channel.Message{To: "+819012345678", Text: "【安否確認】ご無事ですか。1:無事 2:軽傷 3:重傷 と返信してください。"}
	rc, err := sms.Send(ctx, m)
	fmt.Println(rc.ProviderID[:2], err)
	rc, err = voice.Send(ctx, &channel.Message{To: "+819012345678", Text: "安否確認です。ご無事ですか。"})
	fmt.Println(rc.ProviderID[:2], err)
	for _, r := range srv.Requests() {
		fmt.Println(r.Kind, r.To)
	}
	// Output:
	// SM <nil>
	// CA <nil>
	// sms +819012345678
	// call +819012345678
}

// ExampleHandler receives a reply SMS, checks its signature and maps it to
// an answer.
func ExampleHandler() {
	h, err := twilio.NewHandler(twilio.HandlerConfig{
		AuthToken: "authtoken0123",
		PublicURL: "https://anpi.example.co.jp",
		Receiver: twilio.ReceiverFunc(func(_ context.Context, ev twilio.Event) error {
			fmt.Println(ev.Type, ev.From, ev.Choice, ev.Answered)
			return nil
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// What Twilio posts when +819012345678 replies "1".
	r := fake.Callback("authtoken0123", "https://anpi.example.co.jp/twilio",
		url.Values{"MessageSid": {"SM1"}, "From": {"+819012345678"}, "Body": {"1"}})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code)
	// Output:
	// inbound-sms +819012345678 safe true
	// 200
}

func ExampleParseReply() {
	for _, body := range []string{"1", "３", "無事です"} {
		fmt.Println(twilio.ParseReply(body))
	}
	// Output:
	// safe true
	// serious true
	//  false
}
