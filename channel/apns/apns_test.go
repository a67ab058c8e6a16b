package apns_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/apns"
	"github.com/anpikit/anpi/channel/channeltest"
	"github.com/anpikit/anpi/channel/line"
	fake "github.com/anpikit/anpi/internal/fake/apns"
)

const (
	teamID = "TEAM123456"
	keyID  = "KEY1234567"
	topic  = "jp.example.anpi"
)

// newKeyP8 returns a fresh P-256 key and its .p8 encoding (PEM, PKCS#8).
func newKeyP8(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

type env struct {
	srv   *fake.Server
	keyP8 []byte
	roots *x509.CertPool
}

func newEnv(t testing.TB, opts *fake.Options) *env {
	t.Helper()
	k, p8 := newKeyP8(t)
	o := fake.Options{TeamID: teamID, KeyID: keyID, Topic: topic}
	if opts != nil {
		o = *opts
	}
	o.PublicKey = &k.PublicKey
	s := fake.Start(&o)
	t.Cleanup(s.Close)
	cert, err := x509.ParseCertificate(s.Certificate())
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &env{srv: s, keyP8: p8, roots: roots}
}

func (e *env) config() apns.Config {
	return apns.Config{KeyP8: e.keyP8, KeyID: keyID, TeamID: teamID, Topic: topic, Endpoint: e.srv.URL(), RootCAs: e.roots}
}

func (e *env) sender(t testing.TB, edit func(*apns.Config)) *apns.Sender {
	t.Helper()
	cfg := e.config()
	if edit != nil {
		edit(&cfg)
	}
	s, err := apns.New(cfg)
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
		Kind: channel.APNs, Subject: true, IdempotencyKey: true,
		AddressFaults: []channeltest.Fault{channeltest.InvalidAddress, channeltest.Unregistered,
			channeltest.RateLimited, channeltest.Temporary, channeltest.Hang},
		SenderFaults: []channeltest.Fault{channeltest.Misconfigured},
	}
}

func (h *harness) NewSender(t *testing.T) channel.Sender { return h.sender(t, nil) }

func (h *harness) NewFaultySender(t *testing.T, f channeltest.Fault) channel.Sender {
	require.Equal(t, channeltest.Misconfigured, f)
	_, other := newKeyP8(t) // a key the fake does not know: 403 InvalidProviderToken
	s, err := apns.New(apns.Config{KeyP8: other, KeyID: keyID, TeamID: teamID, Topic: topic, Endpoint: h.srv.URL(), RootCAs: h.roots})
	require.NoError(t, err)
	return s
}

func (h *harness) Address(_ *testing.T, f channeltest.Fault) string {
	n := h.seq.Add(1)
	tok := fmt.Sprintf("%064x", n)
	switch f {
	case channeltest.InvalidAddress:
		h.srv.Fail(tok, fake.BadDeviceToken)
	case channeltest.Unregistered:
		h.srv.Fail(tok, fake.Unregistered)
	case channeltest.RateLimited:
		h.srv.Fail(tok, fake.TooManyRequests)
	case channeltest.Temporary:
		if n%2 == 0 {
			h.srv.Fail(tok, fake.ServiceUnavailable)
		} else {
			h.srv.Fail(tok, fake.InternalServerError)
		}
	case channeltest.Hang:
		h.srv.Fail(tok, fake.Hang)
	}
	return tok
}

func (h *harness) Received(*testing.T) []channeltest.Received {
	var out []channeltest.Received
	for _, n := range h.srv.Notifications() {
		out = append(out, channeltest.Received{To: n.DeviceToken, Subject: n.Title, Text: n.Body, IdempotencyKey: n.ClientID})
	}
	return out
}

func TestConformance(t *testing.T) {
	channeltest.Run(t, &harness{env: newEnv(t, nil)})
}

func TestNewConfigErrors(t *testing.T) {
	_, p8 := newKeyP8(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(p384)
	require.NoError(t, err)
	p384p8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	good := apns.Config{KeyP8: p8, KeyID: keyID, TeamID: teamID, Topic: topic}
	for _, tc := range []struct {
		name string
		edit func(*apns.Config)
		want string
	}{
		{"no key id", func(c *apns.Config) { c.KeyID = "" }, "KeyID is empty"},
		{"no team", func(c *apns.Config) { c.TeamID = "" }, "TeamID is empty"},
		{"no topic", func(c *apns.Config) { c.Topic = "" }, "Topic"},
		{"no key", func(c *apns.Config) { c.KeyP8 = nil }, "no key"},
		{"two keys", func(c *apns.Config) { c.KeyFile = "k.p8" }, "both KeyP8 and KeyFile"},
		{"not pem", func(c *apns.Config) { c.KeyP8 = []byte("not a key") }, "valid .p8 PEM"},
		{"p384", func(c *apns.Config) { c.KeyP8 = p384p8 }, "want P-256"},
		{"missing file", func(c *apns.Config) { c.KeyP8, c.KeyFile = nil, filepath.Join(t.TempDir(), "none.p8") }, "read KeyFile"},
		{"concurrency", func(c *apns.Config) { c.BatchConcurrency = -1 }, "BatchConcurrency"},
		{"timeout", func(c *apns.Config) { c.Timeout = -time.Second }, "Timeout"},
		{"endpoint scheme", func(c *apns.Config) { c.Endpoint = "api.push.apple.com" }, "Endpoint"},
		{"endpoint http", func(c *apns.Config) { c.Endpoint = "http://127.0.0.1:1" }, "Endpoint"},
		{"endpoint path", func(c *apns.Config) { c.Endpoint = "https://127.0.0.1:1/3/device" }, "Endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			s, err := apns.New(cfg)
			require.Nil(t, s)
			require.ErrorContains(t, err, tc.want)
			require.Regexp(t, `^apns: config: `, err.Error())
		})
	}
}

func TestKeyFile(t *testing.T) {
	e := newEnv(t, nil)
	path := filepath.Join(t.TempDir(), "AuthKey_"+keyID+".p8")
	require.NoError(t, os.WriteFile(path, e.keyP8, 0o600))
	s := e.sender(t, func(c *apns.Config) { c.KeyP8, c.KeyFile = nil, path })
	_, err := s.Send(t.Context(), &channel.Message{To: "ab12", Text: "ご無事ですか"})
	require.NoError(t, err)
}

func TestNotificationID(t *testing.T) {
	require.Equal(t, "", apns.NotificationID(""))
	id := apns.NotificationID("delivery-1")
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id)
	// Pinned (computed independently with Python's uuid.uuid5), so that an
	// upgrade keeps the IDs of deliveries in flight.
	require.Equal(t, "06620d75-dfdc-5713-b299-7efcbeb6a8b7", id)
	for _, k := range []string{"delivery-1", "安否/1", "x"} {
		require.Equal(t, line.RetryKey("apns", k), apns.NotificationID(k), "the same derivation as channel/line")
	}
	require.Equal(t, apns.NotificationID("安否/1"), apns.NotificationID("安否/1"))
	require.NotEqual(t, apns.NotificationID("a"), apns.NotificationID("b"))
}

func TestPayloadAndHeaders(t *testing.T) {
	e := newEnv(t, nil)
	s := e.sender(t, nil)
	m := &channel.Message{To: "0a0b", Subject: "安否確認", Text: "ご無事ですか", URL: "https://anpi.example.jp/a/T",
		Data: map[string]string{"survey": "s1", "aps": "ignored"}, IdempotencyKey: "delivery-1"}
	rc, err := s.Send(t.Context(), m)
	require.NoError(t, err)
	require.Equal(t, apns.NotificationID("delivery-1"), rc.ProviderID)
	m2 := *m
	m2.To, m2.Priority, m2.IdempotencyKey = "0a0c", channel.PriorityHigh, ""
	rc2, err := s.Send(t.Context(), &m2)
	require.NoError(t, err)
	require.NotEmpty(t, rc2.ProviderID, "APNs assigns an apns-id when the message has no key")

	hi := e.sender(t, func(c *apns.Config) { c.Priority = channel.PriorityHigh })
	m3 := *m
	m3.To = "0a0d"
	_, err = hi.Send(t.Context(), &m3)
	require.NoError(t, err)

	got := e.srv.Notifications()
	require.Len(t, got, 3)
	require.Equal(t, []int{5, 10, 10}, []int{got[0].Priority, got[1].Priority, got[2].Priority})
	require.Equal(t, topic, got[0].Topic)
	require.Equal(t, "alert", got[0].PushType)
	require.Equal(t, rc.ProviderID, got[0].ClientID)
	require.Empty(t, got[1].ClientID)
	var p struct {
		APS struct {
			Alert             struct{ Title, Body string }
			Sound             string
			InterruptionLevel string `json:"interruption-level"`
		}
		Survey, URL string
		Extra       map[string]any `json:"-"`
	}
	require.NoError(t, json.Unmarshal(got[0].Payload, &p))
	require.Equal(t, "安否確認", p.APS.Alert.Title)
	require.Equal(t, "ご無事ですか", p.APS.Alert.Body)
	require.Equal(t, "default", p.APS.Sound)
	require.Empty(t, p.APS.InterruptionLevel)
	require.Equal(t, "s1", p.Survey)
	require.Equal(t, "https://anpi.example.jp/a/T", p.URL)
	require.NoError(t, json.Unmarshal(got[1].Payload, &p))
	require.Equal(t, "time-sensitive", p.APS.InterruptionLevel)
}

func TestClassification(t *testing.T) {
	e := newEnv(t, &fake.Options{TeamID: teamID, KeyID: keyID})
	s := e.sender(t, nil)
	for i, tc := range []struct {
		f      fake.Fault
		code   channel.ErrorCode
		status int
		reason string
	}{
		{fake.Unregistered, channel.Unregistered, 410, "Unregistered"},
		{fake.BadDeviceToken, channel.Permanent, 400, "BadDeviceToken"},
		{fake.DeviceTokenNotForTopic, channel.Permanent, 400, "DeviceTokenNotForTopic"},
		{fake.TooManyRequests, channel.RateLimited, 429, "TooManyRequests"},
		{fake.InvalidProviderToken, channel.Misconfigured, 403, "InvalidProviderToken"},
		{fake.ExpiredProviderToken, channel.Misconfigured, 403, "ExpiredProviderToken"},
		{fake.InternalServerError, channel.Temporary, 500, "InternalServerError"},
		{fake.ServiceUnavailable, channel.Temporary, 503, "ServiceUnavailable"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			tok := fmt.Sprintf("%064x", i+1)
			e.srv.Fail(tok, tc.f)
			_, err := s.Send(t.Context(), &channel.Message{To: tok, Text: "x", IdempotencyKey: "k" + tc.reason})
			require.Equal(t, tc.code, channel.Code(err), "%v", err)
			var re *apns.ResponseError
			require.True(t, errors.As(err, &re))
			require.Equal(t, tc.status, re.StatusCode)
			require.Equal(t, tc.reason, re.Reason)
			require.Equal(t, apns.NotificationID("k"+tc.reason), re.ApnsID)
			require.Equal(t, fmt.Sprintf("apns: push %q: apns: %d %s", "k"+tc.reason, tc.status, tc.reason), err.Error())
			require.NotContains(t, err.Error(), tok, "the device token is private")
			if tc.status == 410 {
				require.False(t, re.Timestamp.IsZero())
			}
		})
	}
	t.Run("MissingTopic", func(t *testing.T) {
		noTopic := e.sender(t, func(c *apns.Config) { c.Topic = "x" })
		_, err := noTopic.Send(t.Context(), &channel.Message{To: "ab", Text: "x"})
		require.NoError(t, err, "the fake accepts any topic here")
	})
}

func TestBadTokenNeverSent(t *testing.T) {
	e := newEnv(t, nil)
	s := e.sender(t, nil)
	for _, to := range []string{"abc", "zz", "ab/../../x", "ab?x=1", "ab cd"} {
		_, err := s.Send(t.Context(), &channel.Message{To: to, Text: "x", IdempotencyKey: "k"})
		require.Equal(t, channel.Permanent, channel.Code(err), "%q: %v", to, err)
		require.NotContains(t, err.Error(), to)
	}
	require.Zero(t, e.srv.Requests())
}

func TestUntrustedCertificate(t *testing.T) {
	e := newEnv(t, nil)
	s := e.sender(t, func(c *apns.Config) { c.RootCAs = x509.NewCertPool() })
	_, err := s.Send(t.Context(), &channel.Message{To: "ab", Text: "x", IdempotencyKey: "k"})
	require.Equal(t, channel.Misconfigured, channel.Code(err), "%v", err)
}

func TestHTTPClientOverride(t *testing.T) {
	e := newEnv(t, nil)
	s := e.sender(t, func(c *apns.Config) { c.RootCAs, c.HTTPClient = nil, e.srv.Client() })
	_, err := s.Send(t.Context(), &channel.Message{To: "ab", Text: "x"})
	require.NoError(t, err)
}

func TestConnectionReuse(t *testing.T) {
	e := newEnv(t, nil)
	s := e.sender(t, nil)
	ms := make([]*channel.Message, 200)
	for i := range ms {
		ms[i] = &channel.Message{To: fmt.Sprintf("%064x", i), Text: "x", IdempotencyKey: fmt.Sprint(i)}
	}
	for _, r := range channel.SendAll(t.Context(), s, ms) {
		require.NoError(t, r.Err)
	}
	for _, m := range ms[:10] {
		_, err := s.Send(t.Context(), m)
		require.NoError(t, err)
	}
	require.Equal(t, 1, e.srv.Connections(), "one connection carries every push")
	require.Equal(t, 210, e.srv.Accepted())
}

func TestBatchStreamLimit(t *testing.T) {
	e := newEnv(t, &fake.Options{TeamID: teamID, KeyID: keyID, MaxConcurrentStreams: 4})
	s := e.sender(t, func(c *apns.Config) { c.BatchConcurrency = 16 })
	ms := make([]*channel.Message, 100)
	for i := range ms {
		ms[i] = &channel.Message{To: fmt.Sprintf("%064x", i), Text: "x"}
	}
	res, err := s.SendBatch(t.Context(), ms)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	require.LessOrEqual(t, e.srv.PeakStreams(), 4)
	require.Equal(t, 100, e.srv.Accepted())
}

// ReferenceRate is the throughput the benchmarks compare with: APNs
// publishes no cap; Apple's legacy guidance and the apns2 maintainer report
// about 9,000 notifications/s from one provider (notes/perf-reliability.md
// §2), so that is the reference, not a documented limit.
const ReferenceRate = 9000.0

// meter measures a benchmark's rate in wall-clock time and per CPU second.
// The box the figures come from is shared (its load average is often far
// above its 2 cores), so the wall-clock rate depends on what the neighbours
// do; msgs/cpu_s (sender and fake together, in this one process) says how
// many messages one fully available core carries.
type meter struct {
	start time.Time
	cpu0  time.Duration
}

func startMeter(b *testing.B) meter {
	b.ResetTimer()
	c, _ := cpuTime()
	return meter{start: time.Now(), cpu0: c}
}

func (m meter) report(b *testing.B, n int) {
	rate := float64(n) / time.Since(m.start).Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(rate/ReferenceRate, "x_ref_9k/s")
	if c, ok := cpuTime(); ok && c > m.cpu0 {
		perCPU := float64(n) / (c - m.cpu0).Seconds()
		b.ReportMetric(perCPU, "msgs/cpu_s")
		b.ReportMetric(perCPU/ReferenceRate, "x_ref_per_cpu_s")
	}
}

// reportApart reports a run whose fake ran in another process: the rate,
// and the messages per CPU second of the sender and of the fake.
func (m meter) reportApart(b *testing.B, n int, fakeCPU time.Duration) {
	rate := float64(n) / time.Since(m.start).Seconds()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(rate/ReferenceRate, "x_ref_9k/s")
	if c, ok := cpuTime(); ok && c > m.cpu0 {
		perCPU := float64(n) / (c - m.cpu0).Seconds()
		b.ReportMetric(perCPU, "sender_msgs/cpu_s")
		b.ReportMetric(perCPU/ReferenceRate, "x_ref_sender_per_cpu_s")
	}
	if fakeCPU > 0 {
		b.ReportMetric(float64(n)/fakeCPU.Seconds(), "fake_msgs/cpu_s")
	}
}

// BenchmarkSend sends one push per iteration from parallel goroutines (the
// dispatcher's shape) over one Sender, against the fake with CountOnly.
func BenchmarkSend(b *testing.B) {
	e := newEnv(b, &fake.Options{TeamID: teamID, KeyID: keyID, CountOnly: true})
	s := e.sender(b, nil)
	var seq atomic.Int64
	b.SetParallelism(32)
	mt := startMeter(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			m := &channel.Message{To: fmt.Sprintf("%064x", n), Subject: "安否確認", Text: "ご無事ですか", IdempotencyKey: fmt.Sprint(n)}
			if _, err := s.Send(b.Context(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	mt.report(b, b.N)
}

// BenchmarkSendBatch sends batches of 1,000 pushes with SendBatch.
func BenchmarkSendBatch(b *testing.B) {
	e := newEnv(b, &fake.Options{TeamID: teamID, KeyID: keyID, CountOnly: true})
	s := e.sender(b, nil)
	ms := make([]*channel.Message, 1000)
	for i := range ms {
		ms[i] = &channel.Message{To: fmt.Sprintf("%064x", i), Subject: "安否確認", Text: "ご無事ですか", IdempotencyKey: fmt.Sprint(i)}
	}
	mt := startMeter(b)
	for b.Loop() {
		res, err := s.SendBatch(b.Context(), ms)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	mt.report(b, b.N*len(ms))
}

// BenchmarkSendFakeApart is BenchmarkSend with the fake in a child process:
// sender_msgs/cpu_s is the adapter's (and apns2's) own cost,
// fake_msgs/cpu_s the fake's.
func BenchmarkSendFakeApart(b *testing.B) {
	p := startFakeProcess(b)
	_, p8 := newKeyP8(b)
	s, err := apns.New(apns.Config{KeyP8: p8, KeyID: keyID, TeamID: teamID, Topic: topic, Endpoint: p.URL, RootCAs: p.Roots})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	var seq atomic.Int64
	b.SetParallelism(32)
	mt := startMeter(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			m := &channel.Message{To: fmt.Sprintf("%064x", n), Subject: "安否確認", Text: "ご無事ですか", IdempotencyKey: fmt.Sprint(n)}
			if _, err := s.Send(b.Context(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	mt.reportApart(b, b.N, p.stop())
}
