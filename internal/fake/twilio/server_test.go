package twilio_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	fake "github.com/anpikit/anpi/internal/fake/twilio"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "authtoken0123456789"
	from  = "+815012345678"
	to    = "+819012345678"
)

// clock is a manual clock for the rate limiters.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// ctxTransport sends to the fake and attaches a context (twilio-go uses
// context.Background).
type ctxTransport struct {
	target *url.URL
	ctx    context.Context
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := t.ctx
	if ctx == nil {
		ctx = r.Context()
	}
	r = r.Clone(ctx)
	r.URL.Scheme, r.URL.Host, r.Host = t.target.Scheme, t.target.Host, ""
	return http.DefaultTransport.RoundTrip(r)
}

func start(t *testing.T, opts *fake.Options) *fake.Server {
	t.Helper()
	o := fake.Options{AccountSID: sid, AuthToken: token}
	if opts != nil {
		o = *opts
		o.AccountSID, o.AuthToken = sid, token
	}
	s := fake.Start(&o)
	t.Cleanup(s.Close)
	return s
}

func api(t *testing.T, s *fake.Server, user, pass string, ctx context.Context) *openapi.ApiService {
	t.Helper()
	target, err := url.Parse(s.URL())
	require.NoError(t, err)
	c := &client.Client{Credentials: client.NewCredentials(user, pass), HTTPClient: &http.Client{Transport: ctxTransport{target, ctx}}}
	c.SetAccountSid(user)
	return openapi.NewApiService(&client.RequestHandler{Client: c})
}

func sms(dst, body string) *openapi.CreateMessageParams {
	p := &openapi.CreateMessageParams{}
	p.SetTo(dst)
	p.SetFrom(from)
	p.SetBody(body)
	p.SetStatusCallback("https://anpi.example.jp/twilio/status")
	return p
}

func restErr(t *testing.T, err error) *client.TwilioRestError {
	t.Helper()
	var te *client.TwilioRestError
	require.ErrorAs(t, err, &te)
	return te
}

func TestMessage(t *testing.T) {
	s := start(t, &fake.Options{Unlimited: true})
	m, err := api(t, s, sid, token, nil).CreateMessage(sms(to, "ご無事ですか 🙏"))
	require.NoError(t, err)
	require.Regexp(t, `^SM[0-9a-f]{32}$`, *m.Sid)
	require.Equal(t, "queued", *m.Status)
	require.Equal(t, to, *m.To)
	require.Equal(t, from, *m.From)
	require.Equal(t, "1", *m.NumSegments)
	got := s.Requests()
	require.Len(t, got, 1)
	require.Equal(t, "sms", got[0].Kind)
	require.Equal(t, *m.Sid, got[0].SID)
	require.Equal(t, "ご無事ですか 🙏", got[0].Body)
	require.Equal(t, "https://anpi.example.jp/twilio/status", got[0].StatusCallback)
	require.Equal(t, 1, s.Accepted("sms"))

	long, err := api(t, s, sid, token, nil).CreateMessage(sms(to, strings.Repeat("あ", 71)))
	require.NoError(t, err)
	require.Equal(t, "2", *long.NumSegments, "UCS-2 text takes 67 characters per segment once concatenated")
}

func TestMessagingService(t *testing.T) {
	s := start(t, nil)
	p := &openapi.CreateMessageParams{}
	p.SetTo(to)
	p.SetMessagingServiceSid("MG0123")
	p.SetBody("x")
	m, err := api(t, s, sid, token, nil).CreateMessage(p)
	require.NoError(t, err)
	require.Equal(t, "MG0123", *m.MessagingServiceSid)
	require.Nil(t, m.From)
}

func TestCall(t *testing.T) {
	s := start(t, nil)
	p := &openapi.CreateCallParams{}
	p.SetTo(to)
	p.SetFrom(from)
	p.SetTwiml(`<Response><Say language="ja-JP">ご無事ですか</Say></Response>`)
	c, err := api(t, s, sid, token, nil).CreateCall(p)
	require.NoError(t, err)
	require.Regexp(t, `^CA[0-9a-f]{32}$`, *c.Sid)
	require.Equal(t, "queued", *c.Status)
	got := s.Requests()
	require.Len(t, got, 1)
	require.Equal(t, "call", got[0].Kind)
	require.Contains(t, got[0].Twiml, "ご無事ですか")

	p = &openapi.CreateCallParams{}
	p.SetTo(to)
	p.SetFrom(from)
	_, err = api(t, s, sid, token, nil).CreateCall(p)
	require.Equal(t, 21205, restErr(t, err).Code)
}

func TestRequestChecks(t *testing.T) {
	s := start(t, nil)
	a := api(t, s, sid, token, nil)
	for _, tc := range []struct {
		name string
		p    *openapi.CreateMessageParams
		code int
	}{
		{"not e164", sms("09012345678", "x"), fake.CodeInvalidTo},
		{"no body", sms(to, ""), fake.CodeBodyRequired},
		{"too long", sms(to, strings.Repeat("a", fake.MaxBodyChars+1)), fake.CodeBodyTooLong},
		{"no from", (&openapi.CreateMessageParams{}).SetTo(to).SetBody("x"), fake.CodeFromRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.CreateMessage(tc.p)
			te := restErr(t, err)
			require.Equal(t, tc.code, te.Code)
			require.Equal(t, 400, te.Status)
		})
	}
	_, err := api(t, s, sid, "wrongtoken", nil).CreateMessage(sms(to, "x"))
	te := restErr(t, err)
	require.Equal(t, fake.CodeAuthenticate, te.Code)
	require.Equal(t, 401, te.Status)
	require.Empty(t, s.Requests())
	require.Equal(t, 5, s.Attempts())
}

func TestFaults(t *testing.T) {
	s := start(t, nil)
	a := api(t, s, sid, token, nil)
	for _, tc := range []struct {
		f            fake.Fault
		status, code int
	}{
		{fake.InvalidNumber, 400, 21211},
		{fake.NotMobile, 400, 21614},
		{fake.Unsubscribed, 400, 21610},
		{fake.TooManyRequests, 429, 20429},
		{fake.ServerError, 500, 20500},
		{fake.Unavailable, 503, 20503},
	} {
		s.Fail(to, tc.f)
		_, err := a.CreateMessage(sms(to, "x"))
		te := restErr(t, err)
		require.Equal(t, tc.status, te.Status)
		require.Equal(t, tc.code, te.Code)
	}
	s.Fail(to, 0)
	_, err := a.CreateMessage(sms(to, "x"))
	require.NoError(t, err)
}

func TestRetryAfterHeader(t *testing.T) {
	s := start(t, nil)
	s.Fail(to, fake.TooManyRequests)
	s.SetRetryAfter(3 * time.Second)
	form := url.Values{"To": {to}, "From": {from}, "Body": {"x"}}
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sid, token)
	res, err := s.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 429, res.StatusCode)
	require.Equal(t, "3", res.Header.Get("Retry-After"))
}

func TestHang(t *testing.T) {
	s := start(t, nil)
	s.Fail(to, fake.Hang)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := api(t, s, sid, token, ctx).CreateMessage(sms(to, "x"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, s.Requests())
}

func TestLongCodeRate(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := start(t, &fake.Options{Now: clk.Now})
	a := api(t, s, sid, token, nil)
	_, err := a.CreateMessage(sms(to, "1"))
	require.NoError(t, err)
	_, err = a.CreateMessage(sms(to, "2"))
	te := restErr(t, err)
	require.Equal(t, 429, te.Status)
	require.Equal(t, fake.CodeTooManyRequests, te.Code)

	other := sms(to, "3")
	other.SetFrom("+815099999999")
	_, err = a.CreateMessage(other)
	require.NoError(t, err, "the limit is per From number")

	clk.Add(500 * time.Millisecond)
	_, err = a.CreateMessage(sms(to, "4"))
	require.Error(t, err)
	clk.Add(500 * time.Millisecond)
	_, err = a.CreateMessage(sms(to, "5"))
	require.NoError(t, err)
	require.Equal(t, 3, s.Accepted("sms"))

	// Calls: one per second per account.
	call := func() error {
		p := &openapi.CreateCallParams{}
		p.SetTo(to)
		p.SetFrom(from)
		p.SetUrl("https://anpi.example.jp/twiml")
		_, err := a.CreateCall(p)
		return err
	}
	require.NoError(t, call())
	require.Equal(t, 20429, restErr(t, call()).Code)
	clk.Add(time.Second)
	require.NoError(t, call())
}

func TestUnlimited(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := start(t, &fake.Options{Now: clk.Now, Unlimited: true})
	a := api(t, s, sid, token, nil)
	for range 20 {
		_, err := a.CreateMessage(sms(to, "x"))
		require.NoError(t, err)
	}
}

func TestSignature(t *testing.T) {
	u := "https://anpi.example.jp/twilio/status?survey=1"
	params := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "To": {to}, "Body": {"１ 無事です"}}
	sig := fake.Signature(token, u, params)
	require.True(t, fake.ValidSignature(token, u, params, sig))
	require.False(t, fake.ValidSignature("other", u, params, sig))
	require.False(t, fake.ValidSignature(token, u+"&x=1", params, sig))

	// twilio-go's own validator agrees.
	v := client.NewRequestValidator(token)
	flat := map[string]string{}
	for k, vs := range params {
		flat[k] = vs[0]
	}
	require.True(t, v.Validate(u, flat, sig))

	r := fake.Callback(token, u, params)
	require.NoError(t, r.ParseForm())
	require.Equal(t, sig, r.Header.Get("X-Twilio-Signature"))
	require.Equal(t, "delivered", r.PostForm.Get("MessageStatus"))
	require.Equal(t, u, r.URL.String())
}
