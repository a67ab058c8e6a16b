package fcm_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/channeltest"
	"github.com/anpikit/anpi/channel/fcm"
	fake "github.com/anpikit/anpi/internal/fake/fcm"
)

const project = "anpi-test"

type env struct {
	srv   *fake.Server
	creds []byte
}

// newEnv starts the fake and makes a service account whose token_uri is
// the fake's and whose key the fake trusts ("Fake B": the real
// credentials path, JWT-bearer grant included).
func newEnv(t testing.TB, opts *fake.Options) *env {
	t.Helper()
	o := fake.Options{ProjectID: project, Unlimited: true}
	if opts != nil {
		o = *opts
	}
	s := fake.Start(&o)
	t.Cleanup(s.Close)
	creds, err := s.ServiceAccount(project)
	require.NoError(t, err)
	return &env{srv: s, creds: creds}
}

func (e *env) sender(t testing.TB, edit func(*fcm.Config)) *fcm.Sender {
	t.Helper()
	cfg := fcm.Config{CredentialsJSON: e.creds, Endpoint: e.srv.Endpoint()}
	if edit != nil {
		edit(&cfg)
	}
	s, err := fcm.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// harness runs channeltest against the fake.
type harness struct {
	*env
	seq atomic.Int64
}

func (h *harness) Capabilities() channeltest.Capabilities {
	return channeltest.Capabilities{
		Kind: channel.FCM, Subject: true, IdempotencyKey: true, RetryAfter: true,
		AddressFaults: []channeltest.Fault{channeltest.InvalidAddress, channeltest.Unregistered,
			channeltest.RateLimited, channeltest.Temporary, channeltest.Hang},
		SenderFaults: []channeltest.Fault{channeltest.Misconfigured},
	}
}

func (h *harness) NewSender(t *testing.T) channel.Sender { return h.sender(t, nil) }

// NewFaultySender returns a sender whose service-account key the fake does
// not know: the token endpoint answers invalid_grant.
func (h *harness) NewFaultySender(t *testing.T, f channeltest.Fault) channel.Sender {
	require.Equal(t, channeltest.Misconfigured, f)
	creds, _, err := fake.NewServiceAccount(project, h.srv.TokenURI())
	require.NoError(t, err)
	s, err := fcm.New(fcm.Config{CredentialsJSON: creds, Endpoint: h.srv.Endpoint()})
	require.NoError(t, err)
	return s
}

func (h *harness) Address(_ *testing.T, f channeltest.Fault) string {
	n := h.seq.Add(1)
	tok := fmt.Sprintf("fcm-token:%06d_APA91b", n)
	switch f {
	case channeltest.InvalidAddress:
		h.srv.Fail(tok, fake.InvalidArgument)
	case channeltest.Unregistered:
		h.srv.Fail(tok, fake.Unregistered)
	case channeltest.RateLimited:
		h.srv.Fail(tok, fake.QuotaExceeded)
	case channeltest.Temporary:
		// 503 is retried by an unmodified firebase client; the adapter
		// must answer at once.
		if n%2 == 0 {
			h.srv.Fail(tok, fake.Unavailable)
		} else {
			h.srv.Fail(tok, fake.Internal)
		}
	case channeltest.Hang:
		h.srv.Fail(tok, fake.Hang)
	}
	return tok
}

func (h *harness) Received(*testing.T) []channeltest.Received {
	var out []channeltest.Received
	for _, m := range h.srv.Messages() {
		out = append(out, channeltest.Received{To: m.Token, Subject: m.Title, Text: m.Body, IdempotencyKey: m.Data[fcm.IdempotencyKeyData]})
	}
	return out
}

func TestConformance(t *testing.T) {
	channeltest.Run(t, &harness{env: newEnv(t, nil)})
}

func TestMessageShape(t *testing.T) {
	e := newEnv(t, nil)
	s := e.sender(t, func(c *fcm.Config) { c.TTL = 24 * time.Hour })
	rc, err := s.Send(t.Context(), &channel.Message{To: "token-00000001", Subject: "安否確認", Text: "ご無事ですか",
		URL: "https://anpi.example.jp/a/T", Data: map[string]string{"survey": "s1"}, IdempotencyKey: "d-1", Priority: channel.PriorityHigh})
	require.NoError(t, err)
	require.Regexp(t, `^projects/anpi-test/messages/\d+$`, rc.ProviderID)
	_, err = s.Send(t.Context(), &channel.Message{To: "token-00000002", Text: "x", Data: map[string]string{"url": "https://other"}})
	require.NoError(t, err)
	got := e.srv.Messages()
	require.Len(t, got, 2)
	require.Equal(t, rc.ProviderID, got[0].Name)
	require.Equal(t, map[string]string{"survey": "s1", "url": "https://anpi.example.jp/a/T", fcm.IdempotencyKeyData: "d-1"}, got[0].Data)
	require.Equal(t, "high", got[0].AndroidPriority)
	require.Equal(t, "10", got[0].APNSHeaders["apns-priority"])
	require.Contains(t, string(got[0].Raw), `"ttl":"86400s"`)
	require.Equal(t, map[string]string{"url": "https://other"}, got[1].Data)
	require.Equal(t, "normal", got[1].AndroidPriority)
	require.Equal(t, "5", got[1].APNSHeaders["apns-priority"])
	require.Equal(t, 1, e.srv.TokenRequests(), "the access token is reused")
}

func TestLocalChecks(t *testing.T) {
	e := newEnv(t, nil)
	s := e.sender(t, nil)
	for _, m := range []*channel.Message{
		{To: "has space", Text: "x"},
		{To: "トークン", Text: "x"},
		{To: strings.Repeat("a", 4097), Text: "x"},
		{To: "token-00000001", Text: "x", Data: map[string]string{"from": "x"}},
		{To: "token-00000001", Text: "x", Data: map[string]string{"google.c": "x"}},
	} {
		_, err := s.Send(t.Context(), m)
		require.Equal(t, channel.Permanent, channel.Code(err), "%v", err)
	}
	require.Zero(t, e.srv.Attempts())
}

func TestClassification(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.SetRetryAfter(4 * time.Second)
	s := e.sender(t, nil)
	for i, tc := range []struct {
		f    fake.Fault
		code channel.ErrorCode
		wait time.Duration
	}{
		{fake.Unregistered, channel.Unregistered, 0},
		{fake.InvalidArgument, channel.Permanent, 0},
		{fake.SenderIDMismatch, channel.Permanent, 0},
		{fake.QuotaExceeded, channel.RateLimited, 4 * time.Second},
		{fake.ThirdPartyAuthError, channel.Misconfigured, 0},
		{fake.Internal, channel.Temporary, 0},
		{fake.Unavailable, channel.Temporary, 4 * time.Second},
	} {
		tok := fmt.Sprintf("token-%08d", i)
		e.srv.Fail(tok, tc.f)
		before := e.srv.Attempts()
		start := time.Now()
		_, err := s.Send(t.Context(), &channel.Message{To: tok, Text: "x", IdempotencyKey: "k"})
		require.Equal(t, tc.code, channel.Code(err), "fault %d: %v", tc.f, err)
		require.Equal(t, before+1, e.srv.Attempts(), "fault %d: the sender must not retry", tc.f)
		require.Less(t, time.Since(start), 3*time.Second, "fault %d: no backoff", tc.f)
		d, ok := channel.RetryAfter(err)
		require.Equal(t, tc.wait > 0, ok, "fault %d", tc.f)
		require.Equal(t, tc.wait, d)
		require.NotContains(t, err.Error(), tok, "the token is private")
		require.Contains(t, err.Error(), `fcm: send "k": `)
		var ce *channel.Error
		require.True(t, errors.As(err, &ce))
		require.Equal(t, tc.code == channel.Unregistered, messaging.IsUnregistered(ce.Err), "the firebase error stays reachable")
	}
}

func TestProjectAndTokenErrors(t *testing.T) {
	e := newEnv(t, nil)
	// A project the credentials cannot send for.
	other := e.sender(t, func(c *fcm.Config) { c.ProjectID = "other-project" })
	_, err := other.Send(t.Context(), &channel.Message{To: "token-00000001", Text: "x"})
	require.Equal(t, channel.Misconfigured, channel.Code(err), "%v", err)

	// The token endpoint refuses the key (revoked).
	e.srv.FailTokens(true)
	fresh := e.sender(t, nil)
	before := e.srv.TokenRequests()
	_, err = fresh.Send(t.Context(), &channel.Message{To: "token-00000001", Text: "x"})
	require.Equal(t, channel.Misconfigured, channel.Code(err), "%v", err)
	require.Contains(t, err.Error(), "invalid_grant")
	require.Equal(t, before+1, e.srv.TokenRequests(), "no retry of the token request")
	e.srv.FailTokens(false)

	// Nothing listens: Temporary, at once.
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	gone := e.sender(t, func(c *fcm.Config) { c.Endpoint = url + "/v1" })
	start := time.Now()
	_, err = gone.Send(t.Context(), &channel.Message{To: "token-00000001", Text: "x"})
	require.Equal(t, channel.Temporary, channel.Code(err), "%v", err)
	require.Less(t, time.Since(start), 3*time.Second, "no backoff")
}

func TestTokenSource(t *testing.T) {
	s := fake.Start(&fake.Options{ProjectID: project, AccessToken: "static", Unlimited: true})
	t.Cleanup(s.Close)
	snd, err := fcm.New(fcm.Config{TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "static"}), ProjectID: project, Endpoint: s.Endpoint()})
	require.NoError(t, err)
	_, err = snd.Send(t.Context(), &channel.Message{To: "token-00000001", Text: "x"})
	require.NoError(t, err)

	bad, err := fcm.New(fcm.Config{TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "wrong"}), ProjectID: project, Endpoint: s.Endpoint()})
	require.NoError(t, err)
	_, err = bad.Send(t.Context(), &channel.Message{To: "token-00000001", Text: "x"})
	require.Equal(t, channel.Misconfigured, channel.Code(err), "%v", err)
}

func TestConfigErrors(t *testing.T) {
	e := newEnv(t, nil)
	ts := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"})
	for _, tc := range []struct {
		cfg  fcm.Config
		want string
	}{
		{fcm.Config{}, "no credentials: set CredentialsJSON (a service-account key) or TokenSource; Application Default Credentials are never used"},
		{fcm.Config{CredentialsJSON: e.creds, TokenSource: ts}, "both"},
		{fcm.Config{TokenSource: ts}, "ProjectID is empty"},
		{fcm.Config{CredentialsJSON: []byte("{")}, "CredentialsJSON"},
		{fcm.Config{CredentialsJSON: []byte(`{"type":"authorized_user"}`)}, `type "authorized_user"`},
		{fcm.Config{CredentialsJSON: []byte(`{"type":"service_account","private_key":"nope"}`)}, "CredentialsJSON"},
		{fcm.Config{CredentialsJSON: e.creds, Timeout: -1}, "Timeout"},
		{fcm.Config{CredentialsJSON: e.creds, TTL: -1}, "TTL"},
		{fcm.Config{CredentialsJSON: e.creds, Endpoint: "fcm.googleapis.com/v1"}, "Endpoint"},
	} {
		_, err := fcm.New(tc.cfg)
		require.ErrorContains(t, err, tc.want)
		require.Regexp(t, `^fcm: config: `, err.Error())
	}
}

// TestNoImplicitCredentials points every variable Google's libraries read
// at junk: the sender uses only its Config.
func TestNoImplicitCredentials(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")
	t.Setenv("GOOGLE_CLOUD_PROJECT", "junk-project")
	t.Setenv("GCLOUD_PROJECT", "junk-project")
	t.Setenv("FIREBASE_CONFIG", `{"projectId":"junk-project"}`)
	e := newEnv(t, nil)
	s := e.sender(t, nil)
	_, err := s.Send(t.Context(), &channel.Message{To: "token-00000001", Text: "x"})
	require.NoError(t, err)
	require.Equal(t, project, e.srv.Messages()[0].Project)
	_, err = fcm.New(fcm.Config{Endpoint: e.srv.Endpoint()})
	require.ErrorContains(t, err, "no credentials")
}

func TestBatch(t *testing.T) {
	e := newEnv(t, nil)
	s := e.sender(t, nil)
	ms := make([]*channel.Message, 1203)
	for i := range ms {
		ms[i] = &channel.Message{To: fmt.Sprintf("token-%08d", i), Text: fmt.Sprint("本文 ", i), IdempotencyKey: fmt.Sprint(i)}
	}
	ms[7].Data = map[string]string{"from": "reserved"}
	e.srv.Fail(ms[600].To, fake.Unregistered)
	e.srv.Fail(ms[1100].To, fake.Unavailable)
	res, err := s.SendBatch(t.Context(), ms)
	require.NoError(t, err)
	require.Len(t, res, len(ms))
	for i, r := range res {
		switch i {
		case 7:
			require.Equal(t, channel.Permanent, channel.Code(r.Err))
		case 600:
			require.Equal(t, channel.Unregistered, channel.Code(r.Err))
		case 1100:
			require.Equal(t, channel.Temporary, channel.Code(r.Err))
		default:
			require.NoError(t, r.Err, "message %d", i)
			require.NotEmpty(t, r.Receipt.ProviderID)
		}
	}
	require.Equal(t, len(ms)-3, e.srv.Accepted())
	require.Equal(t, len(ms)-1, e.srv.Attempts(), "one request per message checked locally, no retries")
}

func TestQuotaFromTheBucket(t *testing.T) {
	now := time.Now() // a frozen clock; the token endpoint checks the JWT's times against it
	e := newEnv(t, &fake.Options{ProjectID: project, RatePerMinute: 60, Now: func() time.Time { return now }})
	s := e.sender(t, nil)
	ms := make([]*channel.Message, 61)
	for i := range ms {
		ms[i] = &channel.Message{To: fmt.Sprintf("token-%08d", i), Text: "x"}
	}
	res, err := s.SendBatch(t.Context(), ms)
	require.NoError(t, err)
	limited := 0
	for _, r := range res {
		if r.Err != nil {
			require.Equal(t, channel.RateLimited, channel.Code(r.Err))
			d, ok := channel.RetryAfter(r.Err)
			require.True(t, ok)
			require.Equal(t, time.Second, d)
			limited++
		}
	}
	require.Equal(t, 1, limited, "a minute's bucket holds 60")
}

func TestContext(t *testing.T) {
	e := newEnv(t, nil)
	s := e.sender(t, nil)
	// Warm up (OAuth token, connection) so the deadline below is spent
	// waiting on the hanging request, not before it reaches the fake, even
	// on a loaded machine.
	_, err := s.Send(t.Context(), &channel.Message{To: "token-warm0001", Text: "x"})
	require.NoError(t, err)
	e.srv.Fail("token-hang0001", fake.Hang)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	before := e.srv.Attempts()
	_, err = s.Send(ctx, &channel.Message{To: "token-hang0001", Text: "x"})
	require.Equal(t, channel.Temporary, channel.Code(err))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, before+1, e.srv.Attempts(), "one request, no retry")

	short := e.sender(t, func(c *fcm.Config) { c.Timeout = 50 * time.Millisecond })
	_, err = short.Send(t.Context(), &channel.Message{To: "token-hang0001", Text: "x"})
	require.Equal(t, channel.Temporary, channel.Code(err), "Config.Timeout bounds a send")
}
