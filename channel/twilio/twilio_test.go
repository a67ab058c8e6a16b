package twilio_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go/client"

	"github.com/anpikit/anpi/channel"
	"github.com/anpikit/anpi/channel/channeltest"
	"github.com/anpikit/anpi/channel/twilio"
	fake "github.com/anpikit/anpi/internal/fake/twilio"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "authtoken0123456789abcdef"
	from       = "+815012345678"
	callback   = "https://anpi.example.jp/twilio/callback"
)

// clock is a manual clock for the fake's rate limiters.
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

func startFake(t testing.TB, opts *fake.Options) *fake.Server {
	t.Helper()
	o := fake.Options{Unlimited: true}
	if opts != nil {
		o = *opts
	}
	o.AccountSID, o.AuthToken = accountSID, authToken
	s := fake.Start(&o)
	t.Cleanup(s.Close)
	return s
}

func config(s *fake.Server) twilio.Config {
	return twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: from, BaseURL: s.URL(), StatusCallback: callback}
}

// spoken returns what a call's TwiML says first: the message.
func spoken(t testing.TB, tw string) string {
	t.Helper()
	var doc struct {
		Gather struct {
			NumDigits int    `xml:"numDigits,attr"`
			Action    string `xml:"action,attr"`
			Say       []struct {
				Language string `xml:"language,attr"`
				Text     string `xml:",chardata"`
			}
		}
	}
	require.NoError(t, xml.Unmarshal([]byte(tw), &doc), "TwiML %s", tw)
	require.Len(t, doc.Gather.Say, 2)
	return doc.Gather.Say[0].Text
}

// harness runs channeltest against the fake, for SMS or voice.
type harness struct {
	srv   *fake.Server
	voice bool
	seq   atomic.Int64
}

func (h *harness) Capabilities() channeltest.Capabilities {
	kind := channel.SMS
	if h.voice {
		kind = channel.Voice
	}
	return channeltest.Capabilities{
		Kind: kind, RetryAfter: true,
		AddressFaults: []channeltest.Fault{channeltest.InvalidAddress, channeltest.Unregistered,
			channeltest.RateLimited, channeltest.Temporary, channeltest.Hang},
		SenderFaults: []channeltest.Fault{channeltest.Misconfigured},
	}
}

func (h *harness) newSender(t *testing.T, cfg twilio.Config) channel.Sender {
	t.Helper()
	var (
		s   channel.Sender
		err error
	)
	if h.voice {
		s, err = twilio.NewVoice(cfg)
	} else {
		s, err = twilio.NewSMS(cfg)
	}
	require.NoError(t, err)
	return s
}

func (h *harness) NewSender(t *testing.T) channel.Sender { return h.newSender(t, config(h.srv)) }

func (h *harness) NewFaultySender(t *testing.T, f channeltest.Fault) channel.Sender {
	require.Equal(t, channeltest.Misconfigured, f)
	cfg := config(h.srv)
	cfg.AuthToken = "wrongtoken"
	return h.newSender(t, cfg)
}

func (h *harness) Address(_ *testing.T, f channeltest.Fault) string {
	n := h.seq.Add(1)
	to := fmt.Sprintf("+8190%08d", n)
	switch f {
	case channeltest.InvalidAddress:
		h.srv.Fail(to, fake.InvalidNumber)
	case channeltest.Unregistered:
		h.srv.Fail(to, fake.Unsubscribed)
	case channeltest.RateLimited:
		h.srv.Fail(to, fake.TooManyRequests)
	case channeltest.Temporary:
		if n%2 == 0 {
			h.srv.Fail(to, fake.ServerError)
		} else {
			h.srv.Fail(to, fake.Unavailable)
		}
	case channeltest.Hang:
		h.srv.Fail(to, fake.Hang)
	}
	return to
}

func (h *harness) Received(t *testing.T) []channeltest.Received {
	var out []channeltest.Received
	for _, r := range h.srv.Requests() {
		text := r.Body
		if r.Kind == "call" {
			text = spoken(t, r.Twiml)
		}
		out = append(out, channeltest.Received{To: r.To, Text: text})
	}
	return out
}

func TestConformanceSMS(t *testing.T) {
	channeltest.Run(t, &harness{srv: startFake(t, nil)})
}

func TestConformanceVoice(t *testing.T) {
	channeltest.Run(t, &harness{srv: startFake(t, nil), voice: true})
}

func TestSMSRequest(t *testing.T) {
	s := startFake(t, nil)
	sms, err := twilio.NewSMS(config(s))
	require.NoError(t, err)
	rc, err := sms.Send(t.Context(), &channel.Message{To: "+819012345678", Subject: "件名", Text: "ご無事ですか。1:無事 2:軽傷 3:重傷"})
	require.NoError(t, err)
	require.Regexp(t, `^SM[0-9a-f]{32}$`, rc.ProviderID)
	got := s.Requests()
	require.Len(t, got, 1)
	require.Equal(t, rc.ProviderID, got[0].SID)
	require.Equal(t, from, got[0].From)
	require.Equal(t, "ご無事ですか。1:無事 2:軽傷 3:重傷", got[0].Body, "the subject is not sent")
	require.Equal(t, callback, got[0].StatusCallback)

	cfg := config(s)
	cfg.From, cfg.MessagingServiceSID, cfg.StatusCallback = "", "MG0123456789abcdef", ""
	svc, err := twilio.NewSMS(cfg)
	require.NoError(t, err)
	_, err = svc.Send(t.Context(), &channel.Message{To: "+819012345678", Text: "x"})
	require.NoError(t, err)
	got = s.Requests()
	require.Equal(t, "MG0123456789abcdef", got[1].MessagingServiceSID)
	require.Empty(t, got[1].From)
	require.Empty(t, got[1].StatusCallback)
}

func TestVoiceRequest(t *testing.T) {
	s := startFake(t, nil)
	cfg := config(s)
	cfg.GatherAction = "https://anpi.example.jp/twilio/gather?survey=s1"
	v, err := twilio.NewVoice(cfg)
	require.NoError(t, err)
	text := `山田さん、ご無事ですか。<Hangup/> & "quotes"`
	rc, err := v.Send(t.Context(), &channel.Message{To: "+819012345678", Text: text})
	require.NoError(t, err)
	require.Regexp(t, `^CA[0-9a-f]{32}$`, rc.ProviderID)
	got := s.Requests()
	require.Len(t, got, 1)
	require.Equal(t, "call", got[0].Kind)
	require.Equal(t, callback, got[0].StatusCallback)
	require.Equal(t, []string{"initiated", "ringing", "answered", "completed"}, got[0].Params["StatusCallbackEvent"])
	require.Equal(t, text, spoken(t, got[0].Twiml), "the text is spoken as text, never as TwiML")
	require.NotContains(t, got[0].Twiml, "<Hangup/>")

	var doc struct {
		XMLName xml.Name `xml:"Response"`
		Gather  struct {
			Input     string `xml:"input,attr"`
			NumDigits string `xml:"numDigits,attr"`
			Action    string `xml:"action,attr"`
			Method    string `xml:"method,attr"`
			Say       []struct {
				Language string `xml:"language,attr"`
				Text     string `xml:",chardata"`
			}
		}
		Say struct {
			Language string `xml:"language,attr"`
			Text     string `xml:",chardata"`
		}
	}
	require.NoError(t, xml.Unmarshal([]byte(got[0].Twiml), &doc))
	require.Equal(t, "1", doc.Gather.NumDigits)
	require.Equal(t, "dtmf", doc.Gather.Input)
	require.Equal(t, cfg.GatherAction, doc.Gather.Action)
	require.Equal(t, "POST", doc.Gather.Method)
	require.Equal(t, "ja-JP", doc.Gather.Say[0].Language)
	require.Equal(t, "無事の場合は1、軽傷の場合は2、重傷の場合は3を押してください。", doc.Gather.Say[1].Text)
	require.Equal(t, "ja-JP", doc.Say.Language)
	require.NotEmpty(t, doc.Say.Text)
}

func TestTwiML(t *testing.T) {
	tw, err := twilio.TwiML("ご無事ですか", twilio.TwiMLOptions{Action: "https://x.example/g", Voice: "Polly.Mizuki",
		Choices: twilio.Choices{{Digit: "9", Code: "ok", Label: "大丈夫"}}})
	require.NoError(t, err)
	require.Equal(t, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
		`<Response><Gather input="dtmf" numDigits="1" timeout="10" action="https://x.example/g" method="POST">`+
		`<Say language="ja-JP" voice="Polly.Mizuki">ご無事ですか</Say>`+
		`<Say language="ja-JP" voice="Polly.Mizuki">大丈夫の場合は9を押してください。</Say></Gather>`+
		`<Say language="ja-JP" voice="Polly.Mizuki">入力が確認できませんでした。後ほどリンクから回答してください。</Say></Response>`, tw)
	_, err = twilio.TwiML(strings.Repeat("あ", twilio.MaxTwimlChars), twilio.TwiMLOptions{})
	require.ErrorContains(t, err, "more than 4000")

	s := startFake(t, nil)
	v, err := twilio.NewVoice(config(s))
	require.NoError(t, err)
	_, err = v.Send(t.Context(), &channel.Message{To: "+819012345678", Text: strings.Repeat("あ", twilio.MaxTwimlChars)})
	require.Equal(t, channel.Permanent, channel.Code(err), "%v", err)
	require.Zero(t, s.Attempts())
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		in, code string
		ok       bool
	}{
		{"1", "safe", true},
		{" 2\n", "minor", true},
		{"３", "serious", true},
		{"\u3000１\u3000", "safe", true},
		{"4", "", false},
		{"0", "", false},
		{"12", "", false},
		{"1です", "", false},
		{"無事", "", false},
		{"safe", "", false},
		{"", "", false},
		{"\xff", "", false},
		{"１２", "", false},
	} {
		code, ok := twilio.ParseReply(tc.in)
		require.Equal(t, tc.ok, ok, "%q", tc.in)
		require.Equal(t, tc.code, code, "%q", tc.in)
	}
	cs := twilio.Choices{{Digit: "9", Code: "home", Label: "在宅"}}
	code, ok := cs.Parse("９")
	require.True(t, ok)
	require.Equal(t, "home", code)
	_, ok = cs.Parse("1")
	require.False(t, ok)
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"1", "１", " 3 ", "12", "無事", "\xff\xfe", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		code, ok := twilio.ParseReply(s)
		if ok != (code != "") {
			t.Fatalf("ParseReply(%q) = %q, %v", s, code, ok)
		}
		if ok && !strings.ContainsAny(s, "123１２３") {
			t.Fatalf("ParseReply(%q) = %q without a digit", s, code)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	good := twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: from, StatusCallback: callback}
	for _, tc := range []struct {
		name  string
		edit  func(*twilio.Config)
		voice bool
		want  string
	}{
		{"no sid", func(c *twilio.Config) { c.AccountSID = "" }, false, "AccountSID is empty"},
		{"bad sid", func(c *twilio.Config) { c.AccountSID = "AC-1" }, false, "AccountSID must be letters and digits"},
		{"no token", func(c *twilio.Config) { c.AuthToken = "" }, false, "AuthToken is empty"},
		{"bad token", func(c *twilio.Config) { c.AuthToken = "a b" }, false, "AuthToken must be letters and digits"},
		{"no from", func(c *twilio.Config) { c.From = "" }, false, "SMS needs From or MessagingServiceSID"},
		{"voice no from", func(c *twilio.Config) { c.From = "" }, true, "voice needs From"},
		{"voice no action", func(c *twilio.Config) { c.StatusCallback = "" }, true, "voice needs GatherAction or StatusCallback"},
		{"bad base", func(c *twilio.Config) { c.BaseURL = "api.twilio.com" }, false, "BaseURL"},
		{"bad callback", func(c *twilio.Config) { c.StatusCallback = "/relative" }, false, "StatusCallback"},
		{"bad choices", func(c *twilio.Config) { c.Choices = twilio.Choices{{Digit: "10", Code: "x", Label: "x"}} }, false, "Digit"},
		{"dup choices", func(c *twilio.Config) {
			c.Choices = twilio.Choices{{Digit: "1", Code: "x", Label: "x"}, {Digit: "1", Code: "y", Label: "y"}}
		}, false, "used twice"},
		{"timeout", func(c *twilio.Config) { c.Timeout = -1 }, false, "Timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			var err error
			if tc.voice {
				_, err = twilio.NewVoice(cfg)
			} else {
				_, err = twilio.NewSMS(cfg)
			}
			require.ErrorContains(t, err, tc.want)
			require.Regexp(t, `^twilio: config: `, err.Error())
		})
	}
}

// TestIgnoresEnvironment shows that the TWILIO_* variables twilio-go reads
// in its own constructors change nothing: TWILIO_EDGE and TWILIO_REGION
// would send requests to api.junk.junk.twilio.com (and the fake would not
// see them), and the account variables are not used as credentials.
func TestIgnoresEnvironment(t *testing.T) {
	t.Setenv("TWILIO_EDGE", "junk")
	t.Setenv("TWILIO_REGION", "junk")
	t.Setenv("TWILIO_ACCOUNT_SID", "ACjunk")
	t.Setenv("TWILIO_AUTH_TOKEN", "junk")
	t.Setenv("TWILIO_API_KEY", "junk")
	s := startFake(t, nil)
	var hosts []string
	var mu sync.Mutex
	cfg := config(s)
	cfg.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		hosts = append(hosts, r.URL.Host)
		mu.Unlock()
		return http.DefaultTransport.RoundTrip(r)
	})}
	sms, err := twilio.NewSMS(cfg)
	require.NoError(t, err)
	_, err = sms.Send(t.Context(), &channel.Message{To: "+819012345678", Text: "x"})
	require.NoError(t, err)
	u, _ := url.Parse(s.URL())
	require.Equal(t, []string{u.Host}, hosts)
	require.Equal(t, 1, s.Accepted("sms"))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestClassification(t *testing.T) {
	s := startFake(t, nil)
	s.SetRetryAfter(7 * time.Second)
	sms, err := twilio.NewSMS(config(s))
	require.NoError(t, err)
	for i, tc := range []struct {
		f     fake.Fault
		code  channel.ErrorCode
		tcode int
	}{
		{fake.InvalidNumber, channel.Permanent, 21211},
		{fake.NotMobile, channel.Permanent, 21614},
		{fake.Unsubscribed, channel.Unregistered, 21610},
		{fake.TooManyRequests, channel.RateLimited, 20429},
		{fake.ServerError, channel.Temporary, 20500},
		{fake.Unavailable, channel.Temporary, 20503},
	} {
		to := fmt.Sprintf("+8180%08d", i)
		s.Fail(to, tc.f)
		_, err := sms.Send(t.Context(), &channel.Message{To: to, Text: "x", IdempotencyKey: "k"})
		require.Equal(t, tc.code, channel.Code(err), "%v", err)
		var te *client.TwilioRestError
		require.True(t, errors.As(err, &te))
		require.Equal(t, tc.tcode, te.Code)
		require.NotContains(t, err.Error(), to, "the number is private")
		require.Contains(t, err.Error(), `twilio: sms "k": `)
		if tc.f == fake.TooManyRequests || tc.f == fake.Unavailable {
			d, ok := channel.RetryAfter(err)
			require.True(t, ok)
			require.Equal(t, 7*time.Second, d)
		}
	}
	_, err = sms.Send(t.Context(), &channel.Message{To: "090-1234-5678", Text: "x"})
	require.Equal(t, channel.Permanent, channel.Code(err))
	require.ErrorContains(t, err, "E.164")
	_, err = sms.Send(t.Context(), &channel.Message{To: "+819012345678", Text: strings.Repeat("あ", twilio.MaxBodyChars+1)})
	require.Equal(t, channel.Permanent, channel.Code(err))

	cfg := config(s)
	cfg.AuthToken = "wrong"
	bad, err := twilio.NewSMS(cfg)
	require.NoError(t, err)
	_, err = bad.Send(t.Context(), &channel.Message{To: "+819012345678", Text: "x"})
	require.Equal(t, channel.Misconfigured, channel.Code(err))
}

func TestNonJSONAnswers(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   channel.ErrorCode
	}{
		{502, channel.Temporary},
		{429, channel.RateLimited},
		{403, channel.Misconfigured},
		{404, channel.Misconfigured},
	} {
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte("<html>proxy error</html>"))
		}))
		cfg := twilio.Config{AccountSID: accountSID, AuthToken: authToken, From: from, BaseURL: proxy.URL}
		sms, err := twilio.NewSMS(cfg)
		require.NoError(t, err)
		_, err = sms.Send(t.Context(), &channel.Message{To: "+819012345678", Text: "x"})
		require.Equal(t, tc.code, channel.Code(err), "status %d: %v", tc.status, err)
		proxy.Close()
	}
}

func TestLongCodeLimit(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := startFake(t, &fake.Options{Now: clk.Now})
	sms, err := twilio.NewSMS(config(s))
	require.NoError(t, err)
	m := &channel.Message{To: "+819012345678", Text: "x"}
	_, err = sms.Send(t.Context(), m)
	require.NoError(t, err)
	_, err = sms.Send(t.Context(), m)
	require.Equal(t, channel.RateLimited, channel.Code(err), "%v", err)
	d, ok := channel.RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, time.Second, d)
	clk.Add(time.Second)
	_, err = sms.Send(t.Context(), m)
	require.NoError(t, err)
}

func TestCancelAbortsRequest(t *testing.T) {
	s := startFake(t, nil)
	s.Fail("+819011112222", fake.Hang)
	sms, err := twilio.NewSMS(config(s))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := sms.Send(ctx, &channel.Message{To: "+819011112222", Text: "x"})
		done <- err
	}()
	require.Eventually(t, func() bool { return s.Attempts() == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	err = <-done
	require.Equal(t, channel.Temporary, channel.Code(err))
	require.ErrorIs(t, err, context.Canceled)
}

// ShortCodeMPS and LongCodeMPS are the documented sending rates the
// benchmark compares with.
const (
	LongCodeMPS  = 1.0
	ShortCodeMPS = 100.0
)

// meter measures a benchmark's rate in wall-clock time and per CPU second
// (the box is shared; see the apns benchmarks).
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
	b.ReportMetric(rate/LongCodeMPS, "x_long_code_1/s")
	b.ReportMetric(rate/ShortCodeMPS, "x_short_code_100/s")
	if c, ok := cpuTime(); ok && c > m.cpu0 {
		b.ReportMetric(float64(n)/(c-m.cpu0).Seconds(), "msgs/cpu_s")
	}
}

// BenchmarkSMS sends SMS from parallel goroutines through one sender,
// against the fake with its limits off.
func BenchmarkSMS(b *testing.B) {
	s := startFake(b, &fake.Options{Unlimited: true, CountOnly: true})
	sms, err := twilio.NewSMS(config(s))
	require.NoError(b, err)
	var seq atomic.Int64
	b.SetParallelism(8)
	mt := startMeter(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			if _, err := sms.Send(b.Context(), &channel.Message{To: fmt.Sprintf("+8190%08d", n), Text: "ご無事ですか。1:無事 2:軽傷 3:重傷"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	mt.report(b, b.N)
}

// BenchmarkSMSSequential sends one SMS at a time, as channel.SendAll does.
func BenchmarkSMSSequential(b *testing.B) {
	s := startFake(b, &fake.Options{Unlimited: true, CountOnly: true})
	sms, err := twilio.NewSMS(config(s))
	require.NoError(b, err)
	mt := startMeter(b)
	for i := 0; b.Loop(); i++ {
		if _, err := sms.Send(b.Context(), &channel.Message{To: fmt.Sprintf("+8190%08d", i), Text: "ご無事ですか"}); err != nil {
			b.Fatal(err)
		}
	}
	mt.report(b, b.N)
}

// FuzzTwiML checks that no text breaks the call script: the TwiML is
// well-formed, has its one <Gather>, and speaks the text back (invalid
// UTF-8 and characters XML cannot carry become U+FFFD).
func FuzzTwiML(f *testing.F) {
	for _, s := range []string{"ご無事ですか", `</Say><Hangup/><Say>`, "a&b<c>\"'", "\x00\x01\xff", "]]>", "\r\n\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tw, err := twilio.TwiML(text, twilio.TwiMLOptions{Action: "https://x.example/g"})
		if err != nil {
			if !strings.Contains(err.Error(), "more than 4000") {
				t.Fatalf("TwiML(%q): %v", text, err)
			}
			return
		}
		got := spoken(t, tw)
		if utf8.ValidString(text) && !strings.ContainsFunc(text, func(r rune) bool {
			return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF
		}) && !strings.Contains(text, "\r") {
			require.Equal(t, text, got)
		}
	})
}
