package apns

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/payload"
	"github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"

	"github.com/anpikit/anpi/channel"
)

// The APNs endpoints.
const (
	HostProduction  = "https://api.push.apple.com"
	HostDevelopment = "https://api.sandbox.push.apple.com"
)

// Defaults.
const (
	// DefaultTimeout bounds one push when the context has no earlier
	// deadline.
	DefaultTimeout = 30 * time.Second
	// DefaultBatchConcurrency is how many pushes SendBatch has in flight
	// at once. HTTP/2 multiplexes them over the sender's connections.
	DefaultBatchConcurrency = 64
)

// Config is what an operator fills in to send through APNs with token
// (.p8 key) authentication.
type Config struct {
	// KeyP8 is the contents of the AuthKey_XXXXXXXXXX.p8 file from the
	// Apple developer account (a PEM-encoded PKCS#8 P-256 key). Give
	// KeyP8 or KeyFile.
	KeyP8 []byte
	// KeyFile is the path of the .p8 file, read once by New.
	KeyFile string
	// KeyID is the key's 10-character ID (the JWT kid). Required.
	KeyID string
	// TeamID is the developer team ID (the JWT iss). Required.
	TeamID string
	// Topic is the app's bundle ID, e.g. "jp.example.anpi" (apns-topic).
	// Required.
	Topic string
	// Production selects api.push.apple.com; false selects the sandbox
	// (tokens of development builds).
	Production bool
	// Endpoint overrides the host (scheme and authority, no path), for a
	// fake or a proxy. It must speak TLS and HTTP/2.
	Endpoint string
	// RootCAs overrides the certificate authorities trusted for the
	// endpoint (nil: the system roots). Ignored when HTTPClient is set.
	RootCAs *x509.CertPool
	// HTTPClient overrides the HTTP client; it must speak HTTP/2. Nil
	// means a client of this Sender's own: an HTTP/2-only transport that
	// keeps its connections open, as Apple asks.
	HTTPClient *http.Client
	// Priority is the least priority of every push: channel.PriorityHigh
	// sends every message with apns-priority 10. Messages with
	// PriorityHigh always get 10; the others get 5.
	Priority channel.Priority
	// Timeout bounds one push when ctx has no earlier deadline; default
	// DefaultTimeout.
	Timeout time.Duration
	// BatchConcurrency is how many pushes SendBatch has in flight at once;
	// default DefaultBatchConcurrency.
	BatchConcurrency int
	// Now is the clock for receipts; default time.Now.
	Now func() time.Time
}

// Sender sends push notifications through APNs. It implements
// channel.Sender, channel.BatchSender and io.Closer, and is safe for
// concurrent use. It holds one apns2 client, so its connections are reused
// by every send; make one Sender per app and keep it.
type Sender struct {
	cfg    Config
	client *apns2.Client
	own    *http2.Transport // the transport New made, closed by Close
}

var (
	_ channel.Sender      = (*Sender)(nil)
	_ channel.BatchSender = (*Sender)(nil)
)

// New checks cfg, loads the key and returns a Sender. It does not connect.
func New(cfg Config) (*Sender, error) {
	switch {
	case cfg.KeyID == "":
		return nil, errors.New("apns: config: KeyID is empty")
	case cfg.TeamID == "":
		return nil, errors.New("apns: config: TeamID is empty")
	case cfg.Topic == "":
		return nil, errors.New("apns: config: Topic (the app's bundle ID) is empty")
	case len(cfg.KeyP8) == 0 && cfg.KeyFile == "":
		return nil, errors.New("apns: config: no key: set KeyP8 or KeyFile")
	case len(cfg.KeyP8) > 0 && cfg.KeyFile != "":
		return nil, errors.New("apns: config: both KeyP8 and KeyFile are set")
	case cfg.BatchConcurrency < 0:
		return nil, fmt.Errorf("apns: config: BatchConcurrency %d is negative", cfg.BatchConcurrency)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("apns: config: Timeout %v is negative", cfg.Timeout)
	}
	pem := cfg.KeyP8
	if cfg.KeyFile != "" {
		b, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("apns: config: read KeyFile: %w", err)
		}
		pem = b
	}
	key, err := token.AuthKeyFromBytes(pem)
	if err != nil {
		return nil, fmt.Errorf("apns: config: key %s: %w", cfg.KeyID, err)
	}
	if key.Curve.Params().Name != "P-256" {
		return nil, fmt.Errorf("apns: config: key %s: curve %s, want P-256", cfg.KeyID, key.Curve.Params().Name)
	}
	tok := &token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID}
	if _, err := tok.Generate(); err != nil {
		return nil, fmt.Errorf("apns: config: sign a provider token with key %s: %w", cfg.KeyID, err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BatchConcurrency == 0 {
		cfg.BatchConcurrency = DefaultBatchConcurrency
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	host := HostDevelopment
	if cfg.Production {
		host = HostProduction
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Scheme != "https" || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return nil, fmt.Errorf("apns: config: Endpoint %q is not an https URL without a path", cfg.Endpoint)
		}
		host = "https://" + u.Host
	}
	s := &Sender{cfg: cfg}
	hc := cfg.HTTPClient
	if hc == nil {
		s.own = newTransport(cfg.RootCAs)
		hc = &http.Client{Transport: s.own}
	}
	// The apns2 client is built field by field: apns2.NewTokenClient would
	// read the package's mutable globals (DialTLS, HTTPClientTimeout).
	s.client = &apns2.Client{Host: host, Token: tok, HTTPClient: hc}
	return s, nil
}

// newTransport returns an HTTP/2 transport that keeps connections open and
// checks them with pings. It is x/net's http2.Transport, as in apns2, which
// dials one connection per host even when many requests start at once
// (net/http's transport would dial one per waiting request).
func newTransport(roots *x509.CertPool) *http2.Transport {
	d := &net.Dialer{Timeout: 20 * time.Second, KeepAlive: 15 * time.Second}
	return &http2.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		DialTLSContext: func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
			td := &tls.Dialer{NetDialer: d, Config: cfg}
			return td.DialContext(ctx, network, addr)
		},
		ReadIdleTimeout: 15 * time.Second,
		PingTimeout:     15 * time.Second,
	}
}

// Kind returns channel.APNs.
func (s *Sender) Kind() channel.Kind { return channel.APNs }

// Close closes the sender's idle connections. A Sender built with a
// caller's HTTPClient leaves that client alone.
func (s *Sender) Close() error {
	if s.own != nil {
		s.own.CloseIdleConnections()
	}
	return nil
}

// NotificationID returns the apns-id sent for an idempotency key: a
// name-based UUID (version 5) of "apns" and the key, so every attempt of a
// delivery carries the same apns-id and the receipt names it. It returns ""
// for an empty key (APNs then assigns an ID).
//
// It is the same derivation as channel/line's RetryKey("apns", key) (same
// namespace, same layout; a test holds them equal). The helper belongs in
// package channel; until it moves there, it is repeated here so that the
// APNs adapter does not import the LINE SDK.
func NotificationID(idempotencyKey string) string {
	if idempotencyKey == "" {
		return ""
	}
	h := sha1.New()
	h.Write([]byte(keyNamespace))
	h.Write([]byte("apns"))
	h.Write([]byte{0})
	h.Write([]byte(idempotencyKey))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// keyNamespace is the UUID namespace of AnpiKit's idempotency-derived UUIDs
// (channel/line's retry keys use the same).
const keyNamespace = "\x6b\x1f\x3c\x52\x8e\x0d\x4a\x77\x9c\x21\x5e\x3b\xa4\x10\xd2\x8f"

// validToken reports whether a device token is hex of even length (APNs
// tokens are 32 bytes or more, written in hex). Anything else could change
// the request path, so it never reaches APNs.
func validToken(t string) bool {
	if len(t) == 0 || len(t)%2 != 0 || len(t) > 200 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// notification builds the push for m: the subject as the alert title, the
// text as its body, the default sound, Data as custom keys and URL as the
// custom key "url" (unless Data has one). High priority also sets the
// interruption level "time-sensitive" (shown through Focus modes where the
// app has that entitlement).
func (s *Sender) notification(m *channel.Message) *apns2.Notification {
	p := payload.NewPayload().AlertBody(m.Text).Sound("default")
	if m.Subject != "" {
		p.AlertTitle(m.Subject)
	}
	for k, v := range m.Data {
		if k != "aps" {
			p.Custom(k, v)
		}
	}
	if _, ok := m.Data["url"]; !ok && m.URL != "" {
		p.Custom("url", m.URL)
	}
	prio := apns2.PriorityLow
	if m.Priority == channel.PriorityHigh || s.cfg.Priority == channel.PriorityHigh {
		prio = apns2.PriorityHigh
		p.InterruptionLevel(payload.InterruptionLevelTimeSensitive)
	}
	return &apns2.Notification{
		DeviceToken: m.To,
		Topic:       s.cfg.Topic,
		ApnsID:      NotificationID(m.IdempotencyKey),
		Priority:    prio,
		PushType:    apns2.PushTypeAlert,
		Payload:     p,
	}
}

// Send pushes m to the device token m.To. The apns-id is
// NotificationID(m.IdempotencyKey), and the receipt's ProviderID is the
// apns-id APNs answered. Errors are classified as documented in the
// package overview.
func (s *Sender) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	if err := m.Validate(); err != nil {
		return channel.Receipt{}, err
	}
	what := "apns: push " + strconv.Quote(m.IdempotencyKey)
	if !validToken(m.To) {
		return channel.Receipt{}, channel.Errorf(channel.Permanent, "%s: device token is not hex (%d characters)", what, len(m.To))
	}
	if err := ctx.Err(); err != nil {
		return channel.Receipt{}, channel.NewError(channel.Temporary, err, what)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	res, err := s.client.PushWithContext(ctx, s.notification(m))
	if err != nil {
		return channel.Receipt{}, classifyTransport(ctx, err, what)
	}
	if res.Sent() {
		return channel.Receipt{ProviderID: res.ApnsID, At: s.cfg.Now()}, nil
	}
	return channel.Receipt{}, classify(res, what)
}

// SendBatch pushes every message, BatchConcurrency at a time (APNs has no
// batch request; HTTP/2 multiplexes the pushes), and returns one result per
// message. It fails as a whole only if ctx is done before it starts; a
// message not yet started when ctx is done gets ctx's error (Temporary).
func (s *Sender) SendBatch(ctx context.Context, ms []*channel.Message) ([]channel.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, channel.NewError(channel.Temporary, err, "apns: batch of "+strconv.Itoa(len(ms)))
	}
	res := make([]channel.Result, len(ms))
	sem := make(chan struct{}, s.cfg.BatchConcurrency)
	var wg sync.WaitGroup
	for i, m := range ms {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			res[i].Err = channel.NewError(channel.Temporary, err, "apns: batch")
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			res[i].Receipt, res[i].Err = s.Send(ctx, m)
		})
	}
	wg.Wait()
	return res, nil
}

// ResponseError is APNs's refusal of one push, reachable with errors.As
// from the errors Send returns.
type ResponseError struct {
	StatusCode int       // the HTTP status
	Reason     string    // APNs's reason, such as "Unregistered"
	ApnsID     string    // the apns-id of the refused push
	Timestamp  time.Time // for 410: when APNs learnt the token was no longer valid
}

// Error returns "apns: <status> <reason>".
func (e *ResponseError) Error() string {
	return "apns: " + strconv.Itoa(e.StatusCode) + " " + e.Reason
}

// classify turns a refusal into a *channel.Error. The choices:
//
//   - 410 (Unregistered, ExpiredToken): Unregistered, the token is gone;
//   - 400 BadDeviceToken and DeviceTokenNotForTopic: Permanent, not
//     Unregistered. Both also come from a configuration mismatch (a
//     development token sent to production, the wrong Topic) that would
//     otherwise make every contact look gone at once; the contact stays,
//     the message fails, and the error shows on the contact;
//   - 400 about the topic (MissingTopic, BadTopic, TopicDisallowed) and
//     certificates, 403 (InvalidProviderToken, ExpiredProviderToken,
//     MissingProviderToken, Forbidden), 404 and 405: Misconfigured;
//   - other 400s and 413 (this message is malformed): Permanent;
//   - 429 (TooManyRequests, TooManyProviderTokenUpdates): RateLimited.
//     APNs sends no Retry-After;
//   - 500, 503 and other 5xx: Temporary.
func classify(res *apns2.Response, what string) error {
	re := &ResponseError{StatusCode: res.StatusCode, Reason: res.Reason, ApnsID: res.ApnsID, Timestamp: res.Timestamp.Time}
	code := channel.Temporary
	switch st := res.StatusCode; {
	case st == http.StatusGone:
		code = channel.Unregistered
	case st == http.StatusBadRequest:
		switch res.Reason {
		case apns2.ReasonMissingTopic, apns2.ReasonBadTopic, apns2.ReasonTopicDisallowed,
			apns2.ReasonBadCertificate, apns2.ReasonBadCertificateEnvironment, apns2.ReasonBadPath:
			code = channel.Misconfigured
		default:
			code = channel.Permanent
		}
	case st == http.StatusForbidden || st == http.StatusNotFound || st == http.StatusMethodNotAllowed || st == http.StatusUnauthorized:
		code = channel.Misconfigured
	case st == http.StatusTooManyRequests:
		code = channel.RateLimited
	case st >= 500:
		code = channel.Temporary
	case st >= 400:
		code = channel.Permanent
	}
	return &channel.Error{Code: code, Msg: what + ": " + re.Error(), Err: re}
}

// classifyTransport classifies an error that left no answer: the context
// done or a broken connection is Temporary; a certificate APNs's TLS does
// not verify, or an endpoint that does not speak HTTP/2, is Misconfigured.
func classifyTransport(ctx context.Context, err error, what string) error {
	if ctx.Err() != nil {
		return channel.NewError(channel.Temporary, errors.Join(ctx.Err(), err), what)
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
		recordHeader     tls.RecordHeaderError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) ||
		errors.As(err, &verify) || errors.As(err, &recordHeader) {
		return channel.NewError(channel.Misconfigured, err, what)
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return channel.NewError(channel.Misconfigured, err, what)
	}
	return channel.NewError(channel.Temporary, err, what)
}
