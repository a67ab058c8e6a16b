package apns_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/payload"
	"github.com/sideshow/apns2/token"

	fake "github.com/anpikit/anpi/internal/fake/apns"
)

func Example() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	s := fake.Start(&fake.Options{TeamID: "TEAM123456", KeyID: "KEY1234567", PublicKey: &key.PublicKey})
	defer s.Close()
	s.Fail("dead0000", fake.Unregistered)

	c := &apns2.Client{Host: s.URL(), HTTPClient: s.Client(),
		Token: &token.Token{AuthKey: key, KeyID: "KEY1234567", TeamID: "TEAM123456"}}
	for _, dev := range []string{"cafe0001", "dead0000"} {
		res, err := c.Push(&apns2.Notification{DeviceToken: dev, Topic: "jp.example.anpi",
			Payload: payload.NewPayload().AlertTitle("安否確認").AlertBody("ご無事ですか")})
		fmt.Printf("%v %d %q\n", err, res.StatusCode, res.Reason)
	}
	for _, n := range s.Notifications() {
		fmt.Println(n.DeviceToken, n.Topic, n.Title, n.Body, n.TeamID, n.KeyID)
	}
	// Output:
	// <nil> 200 ""
	// <nil> 410 "Unregistered"
	// cafe0001 jp.example.anpi 安否確認 ご無事ですか TEAM123456 KEY1234567
}
