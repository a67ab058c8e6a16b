package email_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/channeltest"
	"github.com/anpikit/anpi/channel/email"
	fake "github.com/anpikit/anpi/internal/fake/smtp"
)

const (
	user     = "anpi"
	password = "s3cret"
	from     = "安否確認システム <anpi@example.co.jp>"
)

// harness runs the conformance suite against one fake relay that requires
// AUTH PLAIN over plain SMTP, like many intranet relays.
type harness struct {
	srv *fake.Server
	seq atomic.Int64
}

func newHarness(t *testing.T, opts *fake.Options) *harness {
	t.Helper()
	srv, err := fake.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })
	return &harness{srv: srv}
}

func (h *harness) config() email.Config {
	return email.Config{Host: h.srv.Host(), Port: h.srv.Port(), TLSPolicy: email.NoTLS,
		Username: user, Password: password, Auth: email.AuthPlain, From: from, Timeout: 10 * time.Second}
}

func (h *harness) Capabilities() channeltest.Capabilities {
	return channeltest.Capabilities{
		Kind: channel.Email, Subject: true, IdempotencyKey: true,
		AddressFaults: []channeltest.Fault{channeltest.InvalidAddress, channeltest.RateLimited, channeltest.Temporary, channeltest.Hang},
		SenderFaults:  []channeltest.Fault{channeltest.Misconfigured},
	}
}

func (h *harness) NewSender(t *testing.T) channel.Sender {
	s, err := email.New(h.config())
	require.NoError(t, err)
	return s
}

func (h *harness) NewFaultySender(t *testing.T, f channeltest.Fault) channel.Sender {
	require.Equal(t, channeltest.Misconfigured, f)
	cfg := h.config()
	cfg.Password = "wrong"
	s, err := email.New(cfg)
	require.NoError(t, err)
	return s
}

func (h *harness) Address(t *testing.T, f channeltest.Fault) string {
	a := fmt.Sprintf("user%d@example.jp", h.seq.Add(1))
	switch f {
	case channeltest.None:
	case channeltest.InvalidAddress:
		h.srv.Fail(a, fake.Bounce)
	case channeltest.RateLimited:
		h.srv.Fail(a, fake.RateLimit)
	case channeltest.Temporary:
		h.srv.Fail(a, fake.TempFail)
	case channeltest.Hang:
		h.srv.Fail(a, fake.Hang)
	default:
		t.Fatalf("fault %v not supported", f)
	}
	return a
}

func (h *harness) Received(t *testing.T) []channeltest.Received {
	var out []channeltest.Received
	for _, m := range h.srv.Messages() {
		require.NoError(t, m.DecodeErr)
		for _, to := range m.To {
			out = append(out, channeltest.Received{To: to, Subject: m.Subject, Text: m.Text,
				IdempotencyKey: m.Header.Get(email.IdempotencyHeader)})
		}
	}
	return out
}

func TestConformance(t *testing.T) {
	channeltest.Run(t, newHarness(t, &fake.Options{Username: user, Password: password}))
}

func TestHeaders(t *testing.T) {
	h := newHarness(t, &fake.Options{Username: user, Password: password})
	at := time.Date(2026, 1, 17, 5, 46, 0, 0, time.UTC)
	cfg := h.config()
	cfg.Now = func() time.Time { return at }
	s, err := email.New(cfg)
	require.NoError(t, err)
	m := &channel.Message{To: "taro@example.jp", Subject: "【安否確認】", Text: "ご無事ですか", IdempotencyKey: "s1/u1/email/c1/0", Priority: channel.PriorityHigh}
	rc1, err := s.Send(t.Context(), m)
	require.NoError(t, err)
	rc2, err := s.Send(t.Context(), m)
	require.NoError(t, err)
	require.Equal(t, rc1, rc2, "a retry has the same Message-ID")
	require.Equal(t, at, rc1.At)
	require.True(t, strings.HasSuffix(rc1.ProviderID, "@example.co.jp"), rc1.ProviderID)
	ms := h.srv.Messages()
	require.Len(t, ms, 2)
	hd := ms[0].Header
	require.Equal(t, "<"+rc1.ProviderID+">", hd.Get("Message-ID"))
	require.Equal(t, "s1/u1/email/c1/0", hd.Get(email.IdempotencyHeader))
	require.Equal(t, "auto-generated", hd.Get("Auto-Submitted"))
	require.Equal(t, "anpi@example.co.jp", ms[0].From)
	fromHdr, err := hd.AddressList("From")
	require.NoError(t, err)
	require.Equal(t, "安否確認システム", fromHdr[0].Name)
	date, err := hd.Date()
	require.NoError(t, err)
	require.True(t, at.Equal(date))

	m2 := *m
	m2.IdempotencyKey = "s1/u1/email/c1/1"
	rc3, err := s.Send(t.Context(), &m2)
	require.NoError(t, err)
	require.NotEqual(t, rc1.ProviderID, rc3.ProviderID)
}

func TestConfig(t *testing.T) {
	for _, cfg := range []email.Config{
		{From: from},
		{Host: "relay", From: "not an address"},
		{Host: "relay", From: from, Port: 70000},
		{Host: "relay", From: from, TLSPolicy: email.TLSPolicy(9)},
		{Host: "relay", From: from, Auth: "NTLM"},
	} {
		_, err := email.New(cfg)
		require.Error(t, err, "%+v", cfg)
	}
	_, err := email.New(email.Config{Host: "relay.example.co.jp", From: from})
	require.NoError(t, err)
}

func TestInvalidRecipient(t *testing.T) {
	h := newHarness(t, nil)
	cfg := h.config()
	cfg.Username = ""
	s, err := email.New(cfg)
	require.NoError(t, err)
	_, err = s.Send(t.Context(), &channel.Message{To: "not an address", Text: "x", IdempotencyKey: "k"})
	require.Equal(t, channel.Permanent, channel.Code(err))
	require.Equal(t, 0, h.srv.Sessions(), "an invalid address never reaches the relay")
}

// testCert returns httptest's self-signed certificate (valid for
// 127.0.0.1) and a pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return ts.TLS.Certificates[0], pool
}

func TestTLS(t *testing.T) {
	cert, pool := testCert(t)
	srvTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	m := &channel.Message{To: "taro@example.jp", Subject: "件名", Text: "本文", IdempotencyKey: "k"}
	tests := []struct {
		name     string
		opts     fake.Options
		policy   email.TLSPolicy
		trust    bool
		wantCode channel.ErrorCode
	}{
		{"starttls mandatory", fake.Options{TLSConfig: srvTLS}, email.TLSMandatory, true, channel.OK},
		{"starttls opportunistic", fake.Options{TLSConfig: srvTLS}, email.TLSOpportunistic, true, channel.OK},
		{"opportunistic without starttls", fake.Options{}, email.TLSOpportunistic, true, channel.OK},
		{"implicit", fake.Options{TLSConfig: srvTLS, ImplicitTLS: true}, email.ImplicitTLS, true, channel.OK},
		{"mandatory without starttls", fake.Options{}, email.TLSMandatory, true, channel.Misconfigured},
		{"untrusted certificate", fake.Options{TLSConfig: srvTLS}, email.TLSMandatory, false, channel.Misconfigured},
		{"implicit untrusted", fake.Options{TLSConfig: srvTLS, ImplicitTLS: true}, email.ImplicitTLS, false, channel.Misconfigured},
		{"implicit against plain", fake.Options{}, email.ImplicitTLS, true, channel.Misconfigured},
		{"auth over starttls", fake.Options{TLSConfig: srvTLS, Username: user, Password: password}, email.TLSMandatory, true, channel.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, &tt.opts)
			cfg := email.Config{Host: h.srv.Host(), Port: h.srv.Port(), TLSPolicy: tt.policy, From: from, Timeout: 5 * time.Second}
			if tt.opts.Username != "" {
				cfg.Username, cfg.Password, cfg.Auth = user, password, email.AuthPlain
			}
			if tt.trust {
				cfg.TLSConfig = &tls.Config{RootCAs: pool}
			} else {
				cfg.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()}
			}
			s, err := email.New(cfg)
			require.NoError(t, err)
			_, err = s.Send(t.Context(), m)
			require.Equal(t, tt.wantCode, channel.Code(err), "%v", err)
			if tt.wantCode == channel.OK {
				require.Equal(t, 1, h.srv.Count())
			} else {
				require.Equal(t, 0, h.srv.Count())
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	h := newHarness(t, nil)
	cfg := h.config()
	require.NoError(t, h.srv.Close())
	s, err := email.New(cfg)
	require.NoError(t, err)
	_, err = s.Send(t.Context(), &channel.Message{To: "a@example.jp", Text: "x"})
	require.Equal(t, channel.Temporary, channel.Code(err), "%v", err)
	_, err = s.SendBatch(t.Context(), []*channel.Message{{To: "a@example.jp", Text: "x"}})
	require.Equal(t, channel.Temporary, channel.Code(err), "a batch that cannot connect fails as a whole")
	res, err := s.SendBatch(t.Context(), []*channel.Message{{To: "bad address", Text: "x"}, {To: "a@example.jp", Text: "x"}, {To: "b@example.jp", Text: "x"}})
	require.NoError(t, err)
	require.Equal(t, channel.Permanent, channel.Code(res[0].Err), "its own error is kept")
	require.Equal(t, channel.Temporary, channel.Code(res[1].Err))
	require.Equal(t, channel.Temporary, channel.Code(res[2].Err))
}

func batch(n int, prefix string) []*channel.Message {
	ms := make([]*channel.Message, n)
	for i := range ms {
		ms[i] = &channel.Message{To: fmt.Sprintf("%s%d@example.jp", prefix, i), Subject: "【安否確認】地震発生", Text: "ご無事ですか。回答してください。",
			IdempotencyKey: fmt.Sprintf("s1/%s%d/email", prefix, i)}
	}
	return ms
}

func TestBatchReusesConnections(t *testing.T) {
	h := newHarness(t, &fake.Options{Username: user, Password: password, MaxRcptPerSession: 100})
	s, err := email.New(h.config())
	require.NoError(t, err)
	ms := batch(250, "u")
	h.srv.Fail("u7@example.jp", fake.Bounce)
	h.srv.Fail("u8@example.jp", fake.TempFail)
	res, err := s.SendBatch(t.Context(), ms)
	require.NoError(t, err)
	require.Len(t, res, 250)
	for i, r := range res {
		switch i {
		case 7:
			require.Equal(t, channel.Permanent, channel.Code(r.Err))
			require.NotContains(t, r.Err.Error(), "u7@example.jp", "the address is blanked out")
		case 8:
			require.Equal(t, channel.Temporary, channel.Code(r.Err))
		default:
			require.NoError(t, r.Err, "message %d", i)
		}
	}
	require.Equal(t, 248, h.srv.Count())
	require.Equal(t, 3, h.srv.Sessions(), "100 messages per connection")
}

func TestBatchOverSessionLimit(t *testing.T) {
	h := newHarness(t, &fake.Options{MaxRcptPerSession: 100})
	cfg := h.config()
	cfg.Username, cfg.MaxPerConnection = "", 150
	s, err := email.New(cfg)
	require.NoError(t, err)
	res, err := s.SendBatch(t.Context(), batch(120, "v"))
	require.NoError(t, err)
	for i, r := range res {
		if i < 100 {
			require.NoError(t, r.Err)
		} else {
			require.Equal(t, channel.RateLimited, channel.Code(r.Err), "452 4.5.3 beyond the relay's limit: %v", r.Err)
		}
	}
}

func TestBatchHonoursContext(t *testing.T) {
	h := newHarness(t, nil)
	cfg := h.config()
	cfg.Username = ""
	s, err := email.New(cfg)
	require.NoError(t, err)
	ms := batch(5, "w")
	h.srv.Fail("w2@example.jp", fake.Hang)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		<-h.srv.Hanging("w2@example.jp")
		cancel()
	}()
	res, err := s.SendBatch(ctx, ms)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.NoError(t, res[1].Err)
	for _, r := range res[2:] {
		require.Equal(t, channel.Temporary, channel.Code(r.Err))
	}
	require.Equal(t, 2, h.srv.Count())
}

func TestSenderRefused(t *testing.T) {
	h := newHarness(t, nil)
	cfg := h.config()
	cfg.Username = ""
	s, err := email.New(cfg)
	require.NoError(t, err)
	m := &channel.Message{To: "taro@example.jp", Text: "x", IdempotencyKey: "k"}
	for _, tt := range []struct {
		f    fake.Fault
		want channel.ErrorCode
	}{
		{fake.Bounce, channel.Misconfigured},  // 550 5.7.1 sender refused
		{fake.TempFail, channel.Temporary},    // 451
		{fake.RateLimit, channel.RateLimited}, // 454 SES throttling
	} {
		h.srv.FailFrom("anpi@example.co.jp", tt.f)
		_, err := s.Send(t.Context(), m)
		require.Equal(t, tt.want, channel.Code(err), "%v", err)
	}
	require.Equal(t, 0, h.srv.Count())
}
