package twilio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/anpikit/anpi/channel"
)

// Defaults and limits.
const (
	// DefaultBaseURL is Twilio's REST API.
	DefaultBaseURL = "https://api.twilio.com"
	// DefaultVoiceLanguage is the language of <Say>.
	DefaultVoiceLanguage = "ja-JP"
	// DefaultTimeout bounds one request when ctx has no earlier deadline.
	DefaultTimeout = 30 * time.Second
	// DefaultGatherTimeout is how many seconds <Gather> waits for a key.
	DefaultGatherTimeout = 10
	// MaxBodyChars is the longest SMS body Twilio takes (error 21617).
	MaxBodyChars = 1600
	// MaxTwimlChars is the longest inline TwiML of a call.
	MaxTwimlChars = 4000
	// MaxConcurrentRequests is Twilio's default limit of concurrent REST
	// requests per account; the Sender's own transport keeps as many
	// connections open.
	MaxConcurrentRequests = 100
)

// Config is what an operator fills in to send SMS and make calls through
// Twilio. Nothing is read from the environment: TWILIO_ACCOUNT_SID,
// TWILIO_AUTH_TOKEN, TWILIO_EDGE and TWILIO_REGION are ignored.
type Config struct {
	// AccountSID ("AC…") and AuthToken are the account's credentials
	// (Console → Account info). Required. The auth token also signs
	// Twilio's callbacks (see Handler).
	AccountSID, AuthToken string
	// From is the sending number in E.164 (a long code such as
	// "+815012345678", a short code) or an alphanumeric sender ID.
	// Required for voice, and for SMS unless MessagingServiceSID is set.
	From string
	// MessagingServiceSID ("MG…"), if set, sends SMS through that
	// Messaging Service and its sender pool instead of From.
	MessagingServiceSID string
	// BaseURL overrides https://api.twilio.com (for a fake or a proxy):
	// every request's scheme and host are rewritten to it.
	BaseURL string
	// HTTPClient supplies the transport and timeout (nil: a transport of
	// the Sender's own with http.DefaultTransport's settings, the proxy
	// from HTTPS_PROXY included, keeping up to MaxConcurrentRequests
	// connections open).
	HTTPClient *http.Client
	// StatusCallback is the URL Twilio posts message and call status
	// changes to (mount Handler there); empty asks for none.
	StatusCallback string
	// GatherAction is the URL Twilio posts the key pressed during a call
	// to; default StatusCallback. Voice needs one of them.
	GatherAction string
	// VoiceLanguage is the <Say> language; default "ja-JP".
	VoiceLanguage string
	// Voice is the <Say> voice, such as "Polly.Mizuki"; empty is
	// Twilio's default for the language.
	Voice string
	// Choices map keys (voice) and SMS replies to answer codes; default
	// DefaultChoices.
	Choices Choices
	// Timeout bounds one request when ctx has no earlier deadline; default
	// DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for receipts; default time.Now.
	Now func() time.Time
}

var (
	sidRE  = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// base is what SMS and Voice senders share.
type base struct {
	cfg       Config
	creds     *client.Credentials
	transport http.RoundTripper
	target    *url.URL        // nil: no rewrite
	own       *http.Transport // the transport newBase made, closed by close
	kind      channel.Kind
}

func (b *base) close() error {
	if b.own != nil {
		b.own.CloseIdleConnections()
	}
	return nil
}

func newBase(cfg Config, kind channel.Kind) (*base, error) {
	pre := "twilio: config: "
	switch {
	case cfg.AccountSID == "":
		return nil, errors.New(pre + "AccountSID is empty")
	case !sidRE.MatchString(cfg.AccountSID):
		return nil, errors.New(pre + "AccountSID must be letters and digits")
	case cfg.AuthToken == "":
		return nil, errors.New(pre + "AuthToken is empty")
	case !sidRE.MatchString(cfg.AuthToken):
		return nil, errors.New(pre + "AuthToken must be letters and digits")
	case cfg.MessagingServiceSID != "" && !sidRE.MatchString(cfg.MessagingServiceSID):
		return nil, errors.New(pre + "MessagingServiceSID must be letters and digits")
	case cfg.Timeout < 0:
		return nil, fmt.Errorf(pre+"Timeout %v is negative", cfg.Timeout)
	}
	if err := cfg.Choices.check(); err != nil {
		return nil, fmt.Errorf(pre+"Choices: %w", err)
	}
	for _, u := range []struct{ name, v string }{{"StatusCallback", cfg.StatusCallback}, {"GatherAction", cfg.GatherAction}} {
		if u.v == "" {
			continue
		}
		if p, err := url.Parse(u.v); err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return nil, fmt.Errorf(pre+"%s %q is not an absolute http(s) URL", u.name, u.v)
		}
	}
	b := &base{cfg: cfg, kind: kind, creds: client.NewCredentials(cfg.AccountSID, cfg.AuthToken)}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf(pre+"BaseURL %q is not an absolute http(s) URL", cfg.BaseURL)
		}
		b.target = u
	}
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		b.transport = cfg.HTTPClient.Transport
	} else {
		// Keep up to MaxConcurrentRequests connections open (Twilio's
		// default REST concurrency); http.DefaultTransport keeps 2 per host,
		// so concurrent sends would reconnect all the time.
		t := &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          MaxConcurrentRequests,
			MaxIdleConnsPerHost:   MaxConcurrentRequests,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
		b.transport, b.own = t, t
	}
	if b.cfg.Timeout == 0 {
		b.cfg.Timeout = DefaultTimeout
		if cfg.HTTPClient != nil && cfg.HTTPClient.Timeout > 0 {
			b.cfg.Timeout = cfg.HTTPClient.Timeout
		}
	}
	if b.cfg.VoiceLanguage == "" {
		b.cfg.VoiceLanguage = DefaultVoiceLanguage
	}
	if b.cfg.Choices == nil {
		b.cfg.Choices = DefaultChoices()
	}
	if b.cfg.GatherAction == "" {
		b.cfg.GatherAction = cfg.StatusCallback
	}
	if b.cfg.Now == nil {
		b.cfg.Now = time.Now
	}
	return b, nil
}

// roundTripper is the transport of one request: it attaches the caller's
// context (twilio-go builds its requests with context.Background), rewrites
// the URL to BaseURL, and keeps the status and Retry-After of the answer
// (twilio-go's errors carry neither reliably).
type roundTripper struct {
	ctx        context.Context
	base       http.RoundTripper
	target     *url.URL
	status     int
	retryAfter string
}

// RoundTrip implements http.RoundTripper.
func (t *roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(t.ctx)
	if t.target != nil {
		r.URL.Scheme, r.URL.Host, r.Host = t.target.Scheme, t.target.Host, ""
	}
	res, err := t.base.RoundTrip(r)
	if res != nil {
		t.status = res.StatusCode
		t.retryAfter = res.Header.Get("Retry-After")
	}
	return res, err
}

// api returns a twilio-go API service for one request under ctx. It is
// built per request (a few small structs): twilio-go has no context
// parameter, and its RequestHandler is built directly so that it does not
// read TWILIO_EDGE and TWILIO_REGION from the environment.
func (b *base) api(ctx context.Context) (*openapi.ApiService, *roundTripper) {
	rt := &roundTripper{ctx: ctx, base: b.transport, target: b.target}
	hc := &http.Client{Transport: rt, Timeout: b.cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c := &client.Client{Credentials: b.creds, HTTPClient: hc}
	c.SetAccountSid(b.cfg.AccountSID)
	return openapi.NewApiService(&client.RequestHandler{Client: c}), rt
}

// check validates m for both kinds: an E.164 number (checked here, so a
// malformed one never reaches Twilio).
func (b *base) check(ctx context.Context, m *channel.Message, what string) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if !e164RE.MatchString(m.To) {
		return channel.Errorf(channel.Permanent, "%s: recipient is not an E.164 number (+ and 7 to 15 digits)", what)
	}
	if err := ctx.Err(); err != nil {
		return channel.NewError(channel.Temporary, err, what)
	}
	return nil
}

// SMS sends text messages. It implements channel.Sender and io.Closer (no batch: a long
// code sends one message per second, so batching buys nothing) and is safe
// for concurrent use.
type SMS struct{ b *base }

var _ channel.Sender = (*SMS)(nil)

// NewSMS checks cfg and returns an SMS sender. It does not connect.
func NewSMS(cfg Config) (*SMS, error) {
	if cfg.From == "" && cfg.MessagingServiceSID == "" {
		return nil, errors.New("twilio: config: SMS needs From or MessagingServiceSID")
	}
	b, err := newBase(cfg, channel.SMS)
	if err != nil {
		return nil, err
	}
	return &SMS{b: b}, nil
}

// Kind returns channel.SMS.
func (s *SMS) Kind() channel.Kind { return channel.SMS }

// Close closes the idle connections of the sender's own transport (not
// those of a Config.HTTPClient).
func (s *SMS) Close() error { return s.b.close() }

// Send sends m.Text to the number m.To (the subject is not sent). The
// receipt's ProviderID is the message SID ("SM…"). Twilio has no
// idempotency key for messages: a retry after an ambiguous failure may send
// the text twice.
//
// ctx is honoured through the request: when it ends, the HTTP request is
// aborted and Send returns a Temporary error at once. If Twilio had already
// accepted the request, the message is sent anyway (Twilio queues it), and
// the retry that follows may send it again.
func (s *SMS) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	what := "twilio: sms " + strconv.Quote(keyOf(m))
	if err := s.b.check(ctx, m, what); err != nil {
		return channel.Receipt{}, err
	}
	if n := utf8.RuneCountInString(m.Text); n > MaxBodyChars {
		return channel.Receipt{}, channel.Errorf(channel.Permanent, "%s: text of %d characters, more than %d", what, n, MaxBodyChars)
	}
	p := &openapi.CreateMessageParams{}
	p.SetTo(m.To)
	p.SetBody(m.Text)
	if s.b.cfg.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(s.b.cfg.MessagingServiceSID)
	} else {
		p.SetFrom(s.b.cfg.From)
	}
	if s.b.cfg.StatusCallback != "" {
		p.SetStatusCallback(s.b.cfg.StatusCallback)
	}
	api, rt := s.b.api(ctx)
	res, err := api.CreateMessage(p)
	if err != nil {
		return channel.Receipt{}, classify(ctx, err, rt, m, what)
	}
	if res.Sid == nil || *res.Sid == "" {
		return channel.Receipt{}, channel.Errorf(channel.Temporary, "%s: answer without a message sid", what)
	}
	return channel.Receipt{ProviderID: *res.Sid, At: s.b.cfg.Now()}, nil
}

// Voice makes phone calls that read the message and ask for a key press
// (see TwiML). It implements channel.Sender and io.Closer and is safe for concurrent use.
type Voice struct{ b *base }

var _ channel.Sender = (*Voice)(nil)

// NewVoice checks cfg and returns a Voice sender. It does not connect.
func NewVoice(cfg Config) (*Voice, error) {
	if cfg.From == "" {
		return nil, errors.New("twilio: config: voice needs From (a voice-capable number)")
	}
	if cfg.GatherAction == "" && cfg.StatusCallback == "" {
		return nil, errors.New("twilio: config: voice needs GatherAction or StatusCallback to receive the key pressed")
	}
	b, err := newBase(cfg, channel.Voice)
	if err != nil {
		return nil, err
	}
	return &Voice{b: b}, nil
}

// Kind returns channel.Voice.
func (v *Voice) Kind() channel.Kind { return channel.Voice }

// Close closes the idle connections of the sender's own transport (not
// those of a Config.HTTPClient).
func (v *Voice) Close() error { return v.b.close() }

// TwiML returns the call script for m (see the package function TwiML).
func (v *Voice) TwiML(m *channel.Message) (string, error) {
	return TwiML(m.Text, v.b.cfg.twimlOptions())
}

// Send calls m.To and reads m.Text (the subject is not read). The
// receipt's ProviderID is the call SID ("CA…"). Context handling is as for
// SMS.Send; an accepted call rings even if ctx ends before the answer
// arrives.
func (v *Voice) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	what := "twilio: call " + strconv.Quote(keyOf(m))
	if err := v.b.check(ctx, m, what); err != nil {
		return channel.Receipt{}, err
	}
	tw, err := v.TwiML(m)
	if err != nil {
		return channel.Receipt{}, channel.Errorf(channel.Permanent, "%s: %w", what, err)
	}
	p := &openapi.CreateCallParams{}
	p.SetTo(m.To)
	p.SetFrom(v.b.cfg.From)
	p.SetTwiml(tw)
	if v.b.cfg.StatusCallback != "" {
		p.SetStatusCallback(v.b.cfg.StatusCallback)
		p.SetStatusCallbackMethod(http.MethodPost)
		p.SetStatusCallbackEvent([]string{"initiated", "ringing", "answered", "completed"})
	}
	api, rt := v.b.api(ctx)
	res, err := api.CreateCall(p)
	if err != nil {
		return channel.Receipt{}, classify(ctx, err, rt, m, what)
	}
	if res.Sid == nil || *res.Sid == "" {
		return channel.Receipt{}, channel.Errorf(channel.Temporary, "%s: answer without a call sid", what)
	}
	return channel.Receipt{ProviderID: *res.Sid, At: v.b.cfg.Now()}, nil
}

func keyOf(m *channel.Message) string {
	if m == nil {
		return ""
	}
	return m.IdempotencyKey
}
