package line_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/line/line-bot-sdk-go/v8/linebot/messaging_api"
	"github.com/stretchr/testify/require"

	fake "github.com/anpikit/anpi/internal/fake/line"
)

const token = "test-channel-token"

func user(i int) string { return fmt.Sprintf("U%032x", i) }

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

func start(t *testing.T, opts *fake.Options) (*fake.Server, *messaging_api.MessagingApiAPI) {
	t.Helper()
	s := fake.Start(opts)
	t.Cleanup(s.Close)
	api, err := messaging_api.NewMessagingApiAPI(token, messaging_api.WithEndpoint(s.URL()), messaging_api.WithHTTPClient(s.Client()))
	require.NoError(t, err)
	return s, api
}

func text(s string) []messaging_api.MessageInterface {
	return []messaging_api.MessageInterface{messaging_api.TextMessage{Text: s}}
}

const key1 = "123e4567-e89b-12d3-a456-426614174000"

func TestPush(t *testing.T) {
	s, api := start(t, &fake.Options{ChannelToken: token})
	res, body, err := api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: user(1), Messages: text("ご無事ですか 🙏")}, key1)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	require.Len(t, body.SentMessages, 1)
	require.NotEmpty(t, body.SentMessages[0].Id)
	reqID := res.Header.Get("X-Line-Request-Id")
	require.NotEmpty(t, reqID)
	require.Equal(t, []fake.Message{{Endpoint: "push", To: user(1), Texts: []string{"ご無事ですか 🙏"}, RetryKey: key1, RequestID: reqID}}, s.Messages())

	// The same retry key again: 409, nothing sent twice.
	res, _, err = api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: user(1), Messages: text("x")}, key1)
	require.Error(t, err)
	require.Equal(t, http.StatusConflict, res.StatusCode)
	require.Equal(t, reqID, res.Header.Get("X-Line-Accepted-Request-Id"))
	require.Len(t, s.Messages(), 1)
	require.Equal(t, 1, s.Recipients())

	res, _, err = api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: user(1), Messages: text("x")}, "not-a-uuid")
	require.Error(t, err)
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	require.Equal(t, 3, s.Requests("push"))
}

func TestAuth(t *testing.T) {
	s := fake.Start(&fake.Options{ChannelToken: token})
	defer s.Close()
	api, err := messaging_api.NewMessagingApiAPI("wrong", messaging_api.WithEndpoint(s.URL()))
	require.NoError(t, err)
	res, _, err := api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: user(1), Messages: text("x")}, "")
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

func TestLimits(t *testing.T) {
	s, api := start(t, nil)
	to := make([]string, fake.MaxMulticastTo+1)
	for i := range to {
		to[i] = user(i)
	}
	res, _, err := api.MulticastWithHttpInfo(&messaging_api.MulticastRequest{To: to, Messages: text("x")}, "")
	require.Error(t, err)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "501 IDs")
	res, _, err = api.MulticastWithHttpInfo(&messaging_api.MulticastRequest{To: to[:500], Messages: text("x")}, "")
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, 500, s.Recipients())

	six := append(text("1"), text("2")[0], text("3")[0], text("4")[0], text("5")[0], text("6")[0])
	res, _, err = api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: user(1), Messages: six}, "")
	require.Error(t, err)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "six messages")
	res, _, err = api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: user(1), Messages: text(string(bytes.Repeat([]byte("あ"), 5001)))}, "")
	require.Error(t, err)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "5,001 characters")
	res, _, err = api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: user(1), Messages: text(string(bytes.Repeat([]byte("あ"), 5000)))}, "")
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode, "5,000 characters")
	res, _, err = api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: "Uxyz", Messages: text("x")}, "")
	require.Error(t, err)
	require.Equal(t, http.StatusBadRequest, res.StatusCode, "malformed user ID")
}

func TestRateLimits(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 17, 5, 46, 0, 0, time.UTC)}
	s, api := start(t, &fake.Options{Now: clk.Now})
	multicast := func() int {
		res, _, _ := api.MulticastWithHttpInfo(&messaging_api.MulticastRequest{To: []string{user(1)}, Messages: text("x")}, "")
		return res.StatusCode
	}
	for i := range fake.MulticastRate {
		require.Equal(t, 200, multicast(), "multicast %d within the documented 200 req/s", i)
	}
	require.Equal(t, http.StatusTooManyRequests, multicast(), "multicast 201 in the same instant")
	clk.Add(10 * time.Millisecond) // 2 tokens at 200/s
	require.Equal(t, 200, multicast())
	require.Equal(t, 200, multicast())
	require.Equal(t, http.StatusTooManyRequests, multicast())

	// Push has its own, larger bucket.
	res, _, err := api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: user(1), Messages: text("x")}, "")
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, fake.MulticastRate+4, s.Requests("multicast"))

	// Switched off.
	_, api = start(t, &fake.Options{Now: clk.Now, Unlimited: true, MulticastRate: 1})
	for range 5 {
		res, _, err := api.MulticastWithHttpInfo(&messaging_api.MulticastRequest{To: []string{user(1)}, Messages: text("x")}, "")
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode)
	}
}

func TestFaults(t *testing.T) {
	s, api := start(t, nil)
	s.SetRetryAfter(30 * time.Second)
	tests := []struct {
		f      fake.Fault
		status int
	}{{fake.InvalidUser, 400}, {fake.UnknownUser, 404}, {fake.RateLimited, 429}, {fake.ServerError, 500}}
	for i, tt := range tests {
		u := user(100 + i)
		s.Fail(u, tt.f)
		res, _, err := api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: u, Messages: text("x")}, "")
		require.Error(t, err)
		require.Equal(t, tt.status, res.StatusCode, "fault %d", tt.f)
		if tt.f == fake.RateLimited {
			require.Equal(t, "30", res.Header.Get("Retry-After"))
		}
	}
	// Multicast: an unknown user is skipped; an invalid one fails the request.
	res, _, err := api.MulticastWithHttpInfo(&messaging_api.MulticastRequest{To: []string{user(1), user(101)}, Messages: text("x")}, "")
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, 1, s.Recipients())
	res, _, err = api.MulticastWithHttpInfo(&messaging_api.MulticastRequest{To: []string{user(1), user(100)}, Messages: text("x")}, "")
	require.Error(t, err)
	require.Equal(t, 400, res.StatusCode)
	require.Contains(t, err.Error(), `"property":"to[1]"`)
	s.Fail(user(100), 0)
	_, _, err = api.PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: user(100), Messages: text("x")}, "")
	require.NoError(t, err)
}

func TestHang(t *testing.T) {
	s, _ := start(t, nil)
	s.Fail(user(1), fake.Hang)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	api, err := messaging_api.NewMessagingApiAPI(token, messaging_api.WithEndpoint(s.URL()))
	require.NoError(t, err)
	_, _, err = api.WithContext(ctx).PushMessageWithHttpInfo(&messaging_api.PushMessageRequest{To: user(1), Messages: text("x")}, "")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestLinkTokenAndReply(t *testing.T) {
	s, api := start(t, nil)
	lt, err := api.IssueLinkToken(user(7))
	require.NoError(t, err)
	require.NotEmpty(t, lt.LinkToken)
	u, ok := s.LinkTokenUser(lt.LinkToken)
	require.True(t, ok)
	require.Equal(t, user(7), u)

	_, err = api.ReplyMessage(&messaging_api.ReplyMessageRequest{ReplyToken: "rt-1", Messages: text("回答は下のリンクから")})
	require.NoError(t, err)
	ms := s.Messages()
	require.Len(t, ms, 1)
	require.Equal(t, "reply", ms[0].Endpoint)
	require.Equal(t, "rt-1", ms[0].To)
	require.Equal(t, 0, s.Recipients(), "replies are not pushes")
}

func TestSignature(t *testing.T) {
	// HMAC-SHA256("secret", "{}") in base64, as printed by: printf {} | openssl dgst -sha256 -hmac secret -binary | base64
	require.Equal(t, "dzJZAsrKgS3CWXM6rNBGtzgXNyx3e42VtAJkdHRRbhM=", fake.Signature("secret", []byte("{}")))
}
