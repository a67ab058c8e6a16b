package twilio_test

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	fake "github.com/anpikit/anpi/internal/fake/twilio"
)

// rewrite sends every request to the fake instead of api.twilio.com.
type rewrite struct{ target *url.URL }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rw.target.Scheme, rw.target.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

func Example() {
	s := fake.Start(&fake.Options{AccountSID: "AC123", AuthToken: "secret"})
	defer s.Close()
	target, _ := url.Parse(s.URL())
	c := &client.Client{Credentials: client.NewCredentials("AC123", "secret"), HTTPClient: &http.Client{Transport: rewrite{target}}}
	c.SetAccountSid("AC123")
	api := openapi.NewApiService(&client.RequestHandler{Client: c})

	p := &openapi.CreateMessageParams{}
	p.SetTo("+819012345678")
	p.SetFrom("+815012345678")
	p.SetBody("ご無事ですか。1:無事 2:軽傷 3:重傷")
	m, err := api.CreateMessage(p)
	fmt.Println(err, (*m.Sid)[:2], *m.Status, *m.NumSegments)

	p.SetTo("not-a-number")
	_, err = api.CreateMessage(p)
	fmt.Println(err.(*client.TwilioRestError).Code)
	// Output:
	// <nil> SM queued 1
	// 21211
}
