package apns_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/apns"
	fake "github.com/anpikit/anpi/internal/fake/apns"
)

// Example sends a safety survey to an iPhone through a local fake of APNs.
// In production, KeyP8 is the AuthKey_<KeyID>.p8 file from the Apple
// developer account, Endpoint and RootCAs stay empty, and Production
// selects api.push.apple.com.
func Example() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	p8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	srv := fake.Start(&fake.Options{TeamID: "TEAM123456", KeyID: "KEY1234567", PublicKey: &key.PublicKey})
	defer srv.Close()
	srv.Fail("dead", fake.Unregistered)
	cert, _ := x509.ParseCertificate(srv.Certificate())
	roots := x509.NewCertPool()
	roots.AddCert(cert)

	s, err := apns.New(apns.Config{
		KeyP8:    p8,
		KeyID:    "KEY1234567",
		TeamID:   "TEAM123456",
		Topic:    "jp.example.anpi",
		Endpoint: srv.URL(),
		RootCAs:  roots,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	ctx := context.Background()
	rc, err := s.Send(ctx, &channel.Message{To: "c0ffee", Subject: "【安否確認】", Text: "ご無事ですか",
		URL: "https://anpi.example.jp/a/T", IdempotencyKey: "survey-1/user-1/apns", Priority: channel.PriorityHigh})
	fmt.Println(rc.ProviderID == apns.NotificationID("survey-1/user-1/apns"), err)
	_, err = s.Send(ctx, &channel.Message{To: "dead", Text: "ご無事ですか", IdempotencyKey: "survey-1/user-2/apns"})
	fmt.Println(channel.Code(err), err)
	for _, n := range srv.Notifications() {
		fmt.Println(n.DeviceToken, n.Priority, n.Title, n.Body)
	}
	// Output:
	// true <nil>
	// Unregistered apns: push "survey-1/user-2/apns": apns: 410 Unregistered
	// c0ffee 10 【安否確認】 ご無事ですか
}
