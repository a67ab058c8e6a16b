package line_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/channeltest"
	"github.com/anpikit/anpi/channel/line"
	fake "github.com/anpikit/anpi/internal/fake/line"
)

const token = "channel-access-token"

func userID(i int64) string { return fmt.Sprintf("U%032x", i) }

type harness struct {
	srv *fake.Server
	seq atomic.Int64
}

func newHarness(t *testing.T, opts *fake.Options) *harness {
	t.Helper()
	if opts == nil {
		opts = &fake.Options{}
	}
	opts.ChannelToken = token
	srv := fake.Start(opts)
	t.Cleanup(srv.Close)
	return &harness{srv: srv}
}

func (h *harness) config() line.Config {
	return line.Config{ChannelAccessToken: token, Endpoint: h.srv.URL(), HTTPClient: h.srv.Client()}
}

func (h *harness) sender(t *testing.T) *line.Sender {
	s, err := line.New(h.config())
	require.NoError(t, err)
	return s
}

func (h *harness) Capabilities() channeltest.Capabilities {
	return channeltest.Capabilities{
		Kind: channel.LINE, IdempotencyKey: true, Deduplicates: true, RetryAfter: true,
		AddressFaults: []channeltest.Fault{channeltest.InvalidAddress, channeltest.Unregistered,
			channeltest.RateLimited, channeltest.Temporary, channeltest.Hang},
		SenderFaults: []channeltest.Fault{channeltest.Misconfigured},
	}
}

func (h *harness) NewSender(t *testing.T) channel.Sender { return h.sender(t) }

func (h *harness) NewFaultySender(t *testing.T, f channeltest.Fault) channel.Sender {
	require.Equal(t, channeltest.Misconfigured, f)
	cfg := h.config()
	cfg.ChannelAccessToken = "revoked-token"
	s, err := line.New(cfg)
	require.NoError(t, err)
	return s
}

func (h *harness) Address(t *testing.T, f channeltest.Fault) string {
	u := userID(h.seq.Add(1))
	switch f {
	case channeltest.None:
	case channeltest.InvalidAddress:
		h.srv.Fail(u, fake.InvalidUser)
	case channeltest.Unregistered:
		h.srv.Fail(u, fake.UnknownUser)
	case channeltest.RateLimited:
		h.srv.Fail(u, fake.RateLimited)
	case channeltest.Temporary:
		h.srv.Fail(u, fake.ServerError)
	case channeltest.Hang:
		h.srv.Fail(u, fake.Hang)
	default:
		t.Fatalf("fault %v not supported", f)
	}
	return u
}

func (h *harness) Received(*testing.T) []channeltest.Received {
	var out []channeltest.Received
	for _, m := range h.srv.Messages() {
		if m.Endpoint == "reply" {
			continue
		}
		out = append(out, channeltest.Received{To: m.To, Text: strings.Join(m.Texts, "\n"), IdempotencyKey: m.RetryKey})
	}
	return out
}

func TestConformance(t *testing.T) {
	channeltest.Run(t, newHarness(t, nil))
}

func TestRetryKey(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	k := line.RetryKey("push", "s1/u1/line/c1/0")
	require.Regexp(t, uuid, k)
	require.Equal(t, k, line.RetryKey("push", "s1/u1/line/c1/0"), "deterministic")
	// Pinned: a retry after an upgrade must still carry the same key.
	require.Equal(t, "c11fab41-66b2-5c0f-aef4-6c4d70e5163f", k)
	require.NotEqual(t, k, line.RetryKey("push", "s1/u1/line/c1/1"))
	require.NotEqual(t, k, line.RetryKey("multicast", "s1/u1/line/c1/0"))
	require.NotEqual(t, line.RetryKey("multicast", "a", "b"), line.RetryKey("multicast", "ab"))
	r := line.RetryKey("push", "")
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, r)
	require.NotEqual(t, r, line.RetryKey("push", ""), "random without a key")
}

func TestConfig(t *testing.T) {
	_, err := line.New(line.Config{})
	require.Error(t, err)
	_, err = line.New(line.Config{ChannelAccessToken: "t", Endpoint: "::not a url"})
	require.Error(t, err)
	s, err := line.New(line.Config{ChannelAccessToken: "t"})
	require.NoError(t, err)
	require.Equal(t, channel.LINE, s.Kind())
}

func TestPushText(t *testing.T) {
	h := newHarness(t, nil)
	s := h.sender(t)
	ctx := t.Context()
	u := userID(1)
	rc, err := s.Send(ctx, &channel.Message{To: u, Subject: "ignored", Text: "ご無事ですか。", URL: "https://anpi.example.jp/a/T", IdempotencyKey: "k1"})
	require.NoError(t, err)
	require.NotEmpty(t, rc.ProviderID)
	_, err = s.Send(ctx, &channel.Message{To: u, Text: "回答: https://anpi.example.jp/a/T", URL: "https://anpi.example.jp/a/T", IdempotencyKey: "k2"})
	require.NoError(t, err)
	ms := h.srv.Messages()
	require.Len(t, ms, 2)
	require.Equal(t, []string{"ご無事ですか。\nhttps://anpi.example.jp/a/T"}, ms[0].Texts, "the URL is appended")
	require.Equal(t, []string{"回答: https://anpi.example.jp/a/T"}, ms[1].Texts, "not twice")
	require.Equal(t, line.RetryKey("push", "k1"), ms[0].RetryKey)

	// The retry of k1 is answered 409 and reports the first message's ID.
	rc2, err := s.Send(ctx, &channel.Message{To: u, Text: "ご無事ですか。", URL: "https://anpi.example.jp/a/T", IdempotencyKey: "k1"})
	require.NoError(t, err)
	require.Equal(t, rc.ProviderID, rc2.ProviderID)
	require.Len(t, h.srv.Messages(), 2)

	for _, m := range []*channel.Message{
		{To: "taro@example.jp", Text: "x"},
		{To: "U123", Text: "x"},
		{To: u, Subject: "subject only"},
		{To: u, Text: strings.Repeat("あ", line.MaxTextChars+1)},
	} {
		_, err := s.Send(ctx, m)
		require.Equal(t, channel.Permanent, channel.Code(err), "%.40q", m.Text)
	}
	require.Equal(t, 3, h.srv.Requests("push"), "bad messages never reach LINE")
}

func TestErrorDetails(t *testing.T) {
	h := newHarness(t, nil)
	s := h.sender(t)
	u := userID(1)
	h.srv.Fail(u, fake.RateLimited)
	h.srv.SetRetryAfter(42 * time.Second)
	_, err := s.Send(t.Context(), &channel.Message{To: u, Text: "x"})
	require.Equal(t, channel.RateLimited, channel.Code(err))
	d, ok := channel.RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, 42*time.Second, d)
	var se *line.StatusError
	require.True(t, errors.As(err, &se))
	require.Equal(t, 429, se.StatusCode)
	require.NotEmpty(t, se.RequestID)
}

func TestTransportErrors(t *testing.T) {
	h := newHarness(t, nil)
	cfg := h.config()
	h.srv.Close()
	s, err := line.New(cfg)
	require.NoError(t, err)
	_, err = s.Send(t.Context(), &channel.Message{To: userID(1), Text: "x"})
	require.Equal(t, channel.Temporary, channel.Code(err), "%v", err)
}

func messages(n int, text string, first int64) []*channel.Message {
	ms := make([]*channel.Message, n)
	for i := range ms {
		ms[i] = &channel.Message{To: userID(first + int64(i)), Text: text, IdempotencyKey: fmt.Sprintf("s1/u%d/line", first+int64(i))}
	}
	return ms
}

func TestBatchMulticast(t *testing.T) {
	h := newHarness(t, nil)
	s := h.sender(t)
	ms := messages(1200, "【安否確認】ご無事ですか", 1)
	ms = append(ms, messages(2, "別の本文", 5000)...)
	ms = append(ms, &channel.Message{To: userID(1), Text: "【安否確認】ご無事ですか", IdempotencyKey: "dup"}) // user 1 twice
	res, err := s.SendBatch(t.Context(), ms)
	require.NoError(t, err)
	require.Len(t, res, len(ms))
	for i, r := range res {
		require.NoError(t, r.Err, "message %d", i)
		require.NotEmpty(t, r.Receipt.ProviderID)
	}
	require.Equal(t, 4, h.srv.Requests("multicast"), "500+500+200 and the pair of 別の本文")
	require.Equal(t, 1, h.srv.Requests("push"), "the duplicate user")
	require.Equal(t, 1203, h.srv.Recipients())

	// The same batch again (a retry after a crash): every request is
	// answered 409 and nothing is delivered twice.
	res, err = s.SendBatch(t.Context(), ms)
	require.NoError(t, err)
	for i, r := range res {
		require.NoError(t, r.Err, "message %d", i)
	}
	require.Equal(t, 1203, h.srv.Recipients())
}

func TestBatchFailures(t *testing.T) {
	h := newHarness(t, nil)
	s := h.sender(t)
	ms := messages(10, "同じ本文", 1)
	ms[3].To = "not-a-line-id"
	h.srv.Fail(userID(5), fake.InvalidUser)
	h.srv.Fail(userID(6), fake.UnknownUser) // skipped by multicast, 404 on push
	res, err := s.SendBatch(t.Context(), ms)
	require.NoError(t, err)
	for i, r := range res {
		switch i {
		case 3, 4: // ms[4] is userID(5)
			require.Equal(t, channel.Permanent, channel.Code(r.Err), "message %d", i)
		case 5:
			require.Equal(t, channel.Unregistered, channel.Code(r.Err), "message %d: found by the push fallback", i)
		default:
			require.NoError(t, r.Err, "message %d", i)
		}
	}
	require.Equal(t, 7, h.srv.Recipients())

	h.srv.Fail(userID(20), fake.RateLimited)
	res, err = s.SendBatch(t.Context(), messages(3, "また同じ本文", 20))
	require.NoError(t, err)
	for _, r := range res {
		require.Equal(t, channel.RateLimited, channel.Code(r.Err), "a 429 fails the whole multicast")
		_, ok := channel.RetryAfter(r.Err)
		require.True(t, ok)
	}
}

func TestBatchRateLimitedByFake(t *testing.T) {
	now := time.Date(2026, 1, 17, 5, 46, 0, 0, time.UTC)
	h := newHarness(t, &fake.Options{Now: func() time.Time { return now }, MulticastRate: 2})
	s := h.sender(t)
	res, err := s.SendBatch(t.Context(), messages(1500, "本文", 1))
	require.NoError(t, err)
	var ok, limited int
	for _, r := range res {
		switch channel.Code(r.Err) {
		case channel.OK:
			ok++
		case channel.RateLimited:
			limited++
		}
	}
	require.Equal(t, 1000, ok, "two requests of 500 within the bucket")
	require.Equal(t, 500, limited)
}

func TestLinkToken(t *testing.T) {
	h := newHarness(t, nil)
	s := h.sender(t)
	tok, err := s.IssueLinkToken(t.Context(), userID(9))
	require.NoError(t, err)
	u, ok := h.srv.LinkTokenUser(tok)
	require.True(t, ok)
	require.Equal(t, userID(9), u)
	_, err = s.IssueLinkToken(t.Context(), "../../v2/bot/message/push")
	require.Equal(t, channel.Permanent, channel.Code(err), "a user ID is checked before it goes into the path")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = s.IssueLinkToken(ctx, userID(9))
	require.Equal(t, channel.Temporary, channel.Code(err))
}
