package apns_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/payload"
	"github.com/sideshow/apns2/token"
	"github.com/stretchr/testify/require"

	fake "github.com/anpikit/anpi/internal/fake/apns"
)

const (
	team  = "TEAM123456"
	kid   = "KEY1234567"
	topic = "jp.example.anpi"
	dev   = "00fa11ed"
)

// clock is a manual clock for the token-age check.
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

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func start(t *testing.T, opts *fake.Options) (*fake.Server, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	o := fake.Options{TeamID: team, KeyID: kid, PublicKey: &key.PublicKey}
	if opts != nil {
		o = *opts
		if o.PublicKey == nil {
			o.PublicKey = &key.PublicKey
		}
	}
	s := fake.Start(&o)
	t.Cleanup(s.Close)
	return s, key
}

func client(s *fake.Server, key *ecdsa.PrivateKey) *apns2.Client {
	return &apns2.Client{Host: s.URL(), HTTPClient: s.Client(), Token: &token.Token{AuthKey: key, KeyID: kid, TeamID: team}}
}

func note(to string) *apns2.Notification {
	return &apns2.Notification{DeviceToken: to, Topic: topic, Priority: apns2.PriorityHigh,
		Payload: payload.NewPayload().AlertTitle("安否確認").AlertBody("ご無事ですか 🙏").Custom("url", "https://anpi.example.jp/a/x")}
}

func TestAccepts(t *testing.T) {
	s, key := start(t, nil)
	n := note(dev)
	n.ApnsID = "123E4567-E89B-12D3-A456-426614174000"
	n.CollapseID = "survey-1"
	res, err := client(s, key).Push(n)
	require.NoError(t, err)
	require.True(t, res.Sent(), "reason %q", res.Reason)
	require.Equal(t, n.ApnsID, res.ApnsID)
	got := s.Notifications()
	require.Len(t, got, 1)
	require.Equal(t, dev, got[0].DeviceToken)
	require.Equal(t, topic, got[0].Topic)
	require.Equal(t, 10, got[0].Priority)
	require.Equal(t, n.ApnsID, got[0].ID)
	require.Equal(t, n.ApnsID, got[0].ClientID)
	require.Equal(t, "survey-1", got[0].CollapseID)
	require.Equal(t, "alert", got[0].PushType)
	require.Equal(t, "安否確認", got[0].Title)
	require.Equal(t, "ご無事ですか 🙏", got[0].Body)
	require.Equal(t, team, got[0].TeamID)
	require.Equal(t, kid, got[0].KeyID)
	var p map[string]any
	require.NoError(t, json.Unmarshal(got[0].Payload, &p))
	require.Equal(t, "https://anpi.example.jp/a/x", p["url"])
	require.Equal(t, 1, s.Accepted())
	require.Equal(t, 1, s.Requests())

	// Without an apns-id the server makes one.
	res, err = client(s, key).Push(note(dev))
	require.NoError(t, err)
	require.True(t, res.Sent())
	require.Regexp(t, `^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`, res.ApnsID)
}

func TestRequestChecks(t *testing.T) {
	s, key := start(t, &fake.Options{Topic: topic})
	for _, tc := range []struct {
		name   string
		edit   func(n *apns2.Notification)
		status int
		reason string
	}{
		{"not hex", func(n *apns2.Notification) { n.DeviceToken = "zz-not-hex" }, 400, "BadDeviceToken"},
		{"odd length", func(n *apns2.Notification) { n.DeviceToken = "abc" }, 400, "BadDeviceToken"},
		{"no topic", func(n *apns2.Notification) { n.Topic = "" }, 400, "MissingTopic"},
		{"other topic", func(n *apns2.Notification) { n.Topic = "jp.example.other" }, 400, "DeviceTokenNotForTopic"},
		{"priority", func(n *apns2.Notification) { n.Priority = 7 }, 400, "BadPriority"},
		{"apns-id", func(n *apns2.Notification) { n.ApnsID = "not-a-uuid" }, 400, "BadMessageId"},
		{"collapse-id", func(n *apns2.Notification) { n.CollapseID = strings.Repeat("c", 65) }, 400, "BadCollapseId"},
		{"payload size", func(n *apns2.Notification) {
			n.Payload = payload.NewPayload().AlertBody(strings.Repeat("あ", fake.MaxPayload/3+1))
		}, 413, "PayloadTooLarge"},
		{"no aps", func(n *apns2.Notification) { n.Payload = []byte(`{"x":1}`) }, 400, "BadPayload"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := note(dev)
			tc.edit(n)
			res, err := client(s, key).Push(n)
			require.NoError(t, err)
			require.Equal(t, tc.status, res.StatusCode)
			require.Equal(t, tc.reason, res.Reason)
		})
	}
	require.Empty(t, s.Notifications())
}

func TestProviderToken(t *testing.T) {
	clk := &clock{now: time.Now()}
	key := newKey(t)
	s := fake.Start(&fake.Options{TeamID: team, KeyID: kid, PublicKey: &key.PublicKey, Now: clk.Now})
	t.Cleanup(s.Close)

	push := func(c *apns2.Client) *apns2.Response {
		res, err := c.Push(note(dev))
		require.NoError(t, err)
		return res
	}
	require.True(t, push(client(s, key)).Sent())

	other := client(s, newKey(t))
	require.Equal(t, "InvalidProviderToken", push(other).Reason)

	wrongTeam := client(s, key)
	wrongTeam.Token.TeamID = "OTHERTEAM1"
	require.Equal(t, "InvalidProviderToken", push(wrongTeam).Reason)

	noToken := &apns2.Client{Host: s.URL(), HTTPClient: s.Client()}
	res := push(noToken)
	require.Equal(t, 403, res.StatusCode)
	require.Equal(t, "MissingProviderToken", res.Reason)

	clk.Add(fake.TokenLifetime + time.Minute)
	require.Equal(t, "ExpiredProviderToken", push(client(s, key)).Reason)
	require.Equal(t, 1, s.Accepted())
	require.Equal(t, 5, s.Requests())
}

func TestFaults(t *testing.T) {
	s, key := start(t, nil)
	c := client(s, key)
	for _, tc := range []struct {
		f      fake.Fault
		status int
		reason string
	}{
		{fake.Unregistered, 410, "Unregistered"},
		{fake.BadDeviceToken, 400, "BadDeviceToken"},
		{fake.DeviceTokenNotForTopic, 400, "DeviceTokenNotForTopic"},
		{fake.TooManyRequests, 429, "TooManyRequests"},
		{fake.InvalidProviderToken, 403, "InvalidProviderToken"},
		{fake.ExpiredProviderToken, 403, "ExpiredProviderToken"},
		{fake.InternalServerError, 500, "InternalServerError"},
		{fake.ServiceUnavailable, 503, "ServiceUnavailable"},
	} {
		s.Fail(dev, tc.f)
		res, err := c.Push(note(dev))
		require.NoError(t, err)
		require.Equal(t, tc.status, res.StatusCode, "fault %d", tc.f)
		require.Equal(t, tc.reason, res.Reason, "fault %d", tc.f)
		if tc.status == 410 {
			require.False(t, res.Timestamp.IsZero(), "410 carries a timestamp")
		}
	}
	s.Fail(dev, 0)
	res, err := c.Push(note(dev))
	require.NoError(t, err)
	require.True(t, res.Sent())

	s.FailAll(fake.ServiceUnavailable)
	s.Fail("beef", fake.Unregistered)
	res, err = c.Push(note(dev))
	require.NoError(t, err)
	require.Equal(t, 503, res.StatusCode)
	res, err = c.Push(note("beef"))
	require.NoError(t, err)
	require.Equal(t, 410, res.StatusCode, "a per-token fault wins over FailAll")
	s.FailAll(0)
	require.Equal(t, 1, s.Accepted())
}

func TestHang(t *testing.T) {
	s, key := start(t, nil)
	s.Fail(dev, fake.Hang)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := client(s, key).PushWithContext(ctx, note(dev))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, s.Notifications())
}

func TestStreamLimitPerConnection(t *testing.T) {
	const limit, n = 3, 10
	s, key := start(t, &fake.Options{MaxConcurrentStreams: limit})
	s.FailAll(fake.Hang)
	c := client(s, key)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _, _ = c.PushWithContext(ctx, note(dev)) })
	}
	// The client opens more connections once a connection's streams are
	// all in use; every request reaches the server.
	require.Eventually(t, func() bool { return s.Requests() == n }, 10*time.Second, time.Millisecond)
	cancel()
	wg.Wait()
	require.Equal(t, limit, s.PeakStreams(), "no connection carries more than the announced streams")
	require.GreaterOrEqual(t, s.Connections(), n/limit+1)
}

func TestHTTP1Refused(t *testing.T) {
	s, key := start(t, nil)
	tr := s.Client().Transport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = false
	tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	c := client(s, key)
	c.HTTPClient = &http.Client{Transport: tr}
	res, err := c.Push(note(dev))
	require.NoError(t, err)
	require.Equal(t, 400, res.StatusCode)
	require.Empty(t, s.Notifications())
}
