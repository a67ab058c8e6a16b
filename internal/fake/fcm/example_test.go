package fcm_test

import (
	"fmt"
	"net/http"
	"strings"

	fake "github.com/anpikit/anpi/internal/fake/fcm"
)

func Example() {
	s := fake.Start(&fake.Options{ProjectID: "anpi-test", AccessToken: "static-token"})
	defer s.Close()
	s.Fail("gone-token-0001", fake.Unregistered)

	send := func(token string) {
		body := `{"message":{"token":"` + token + `","notification":{"title":"安否確認","body":"ご無事ですか"}}}`
		req, _ := http.NewRequest(http.MethodPost, s.Endpoint()+"/projects/anpi-test/messages:send", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer static-token")
		res, err := s.Client().Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		res.Body.Close()
		fmt.Println(res.StatusCode)
	}
	send("device-token-0001")
	send("gone-token-0001")
	for _, m := range s.Messages() {
		fmt.Println(m.Token, m.Title, m.Body)
	}
	// Output:
	// 200
	// 404
	// device-token-0001 安否確認 ご無事ですか
}
