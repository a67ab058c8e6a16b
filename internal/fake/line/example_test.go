package line_test

import (
	"fmt"

	"github.com/line/line-bot-sdk-go/v8/linebot/messaging_api"

	fake "github.com/anpikit/anpi/internal/fake/line"
)

func Example() {
	s := fake.Start(&fake.Options{ChannelToken: "token"})
	defer s.Close()
	api, err := messaging_api.NewMessagingApiAPI("token", messaging_api.WithEndpoint(s.URL()))
	if err != nil {
		panic(err)
	}
	to := []string{"U00000000000000000000000000000001", "U00000000000000000000000000000002"}
	_, err = api.Multicast(&messaging_api.MulticastRequest{
		To:       to,
		Messages: []messaging_api.MessageInterface{messaging_api.TextMessage{Text: "ご無事ですか"}},
	}, "123e4567-e89b-12d3-a456-426614174000")
	fmt.Println(err, s.Recipients())
	for _, m := range s.Messages() {
		fmt.Println(m.Endpoint, m.To, m.Texts)
	}
	// Output:
	// <nil> 2
	// multicast U00000000000000000000000000000001 [ご無事ですか]
	// multicast U00000000000000000000000000000002 [ご無事ですか]
}
