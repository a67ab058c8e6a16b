package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"firebase.google.com/go/v4/messaging"
	gofcm "github.com/appleboy/go-fcm"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/anpikit/anpi/channel"
)

// Defaults and limits.
const (
	// DefaultEndpoint is FCM HTTP v1.
	DefaultEndpoint = "https://fcm.googleapis.com/v1"
	// DefaultTimeout bounds one send when ctx has no earlier deadline.
	DefaultTimeout = 30 * time.Second
	// BatchChunk is how many messages SendBatch hands go-fcm at once (its
	// limit); go-fcm sends them with 50 concurrent requests.
	BatchChunk = 500
	// BatchChunksInFlight is how many chunks SendBatch sends at once, so
	// that up to 100 requests are in flight.
	BatchChunksInFlight = 2
	// MaxIdleConns is how many connections the Sender's own transport
	// keeps open.
	MaxIdleConns = 100
	// IdempotencyKeyData is the data key that carries
	// Message.IdempotencyKey to the app. FCM has no deduplication; an app
	// that remembers the keys it has shown can drop a repeat.
	IdempotencyKeyData = "anpi_idempotency_key"
	// Scope is the OAuth scope of FCM.
	Scope = "https://www.googleapis.com/auth/firebase.messaging"
)

// Config is what an operator fills in to send through FCM HTTP v1. Exactly
// one of CredentialsJSON and TokenSource is required: Google Application
// Default Credentials, GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_CLOUD_PROJECT
// and FIREBASE_CONFIG are never used.
type Config struct {
	// CredentialsJSON is a service-account key file (Firebase console →
	// Project settings → Service accounts → Generate new private key).
	// Its token_uri is where access tokens come from.
	CredentialsJSON []byte
	// TokenSource supplies OAuth access tokens with the firebase.messaging
	// scope instead of CredentialsJSON (workload identity, a token
	// broker). ProjectID is then required.
	TokenSource oauth2.TokenSource
	// ProjectID is the Firebase project; default the project_id of
	// CredentialsJSON.
	ProjectID string
	// Endpoint overrides https://fcm.googleapis.com/v1 (for a fake or a
	// proxy).
	Endpoint string
	// HTTPClient supplies the transport (nil: a transport of the Sender's
	// own with http.DefaultTransport's settings, the proxy from
	// HTTPS_PROXY included, keeping up to MaxIdleConns connections open);
	// it carries both token and send requests.
	HTTPClient *http.Client
	// TTL is how long FCM keeps a message for an offline Android device;
	// zero is FCM's default (4 weeks).
	TTL time.Duration
	// Timeout bounds one send when ctx has no earlier deadline; default
	// DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for receipts; default time.Now.
	Now func() time.Time
}

// Sender sends push notifications through FCM. It implements
// channel.Sender, channel.BatchSender and io.Closer, and is safe for
// concurrent use. It holds one go-fcm client; make one per project and
// keep it.
type Sender struct {
	cfg     Config
	project string
	client  *gofcm.Client
	own     *http.Transport
}

var (
	_ channel.Sender      = (*Sender)(nil)
	_ channel.BatchSender = (*Sender)(nil)
)

// New checks cfg and returns a Sender. It makes no request: the first send
// fetches an access token.
func New(cfg Config) (*Sender, error) {
	pre := "fcm: config: "
	switch {
	case len(cfg.CredentialsJSON) == 0 && cfg.TokenSource == nil:
		return nil, errors.New(pre + "no credentials: set CredentialsJSON (a service-account key) or TokenSource; Application Default Credentials are never used")
	case len(cfg.CredentialsJSON) > 0 && cfg.TokenSource != nil:
		return nil, errors.New(pre + "both CredentialsJSON and TokenSource are set")
	case cfg.Timeout < 0:
		return nil, fmt.Errorf(pre+"Timeout %v is negative", cfg.Timeout)
	case cfg.TTL < 0:
		return nil, fmt.Errorf(pre+"TTL %v is negative", cfg.TTL)
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			return nil, fmt.Errorf(pre+"Endpoint %q is not an absolute http(s) URL", cfg.Endpoint)
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sender{cfg: cfg}
	var base http.RoundTripper
	if cfg.HTTPClient != nil && cfg.HTTPClient.Transport != nil {
		base = cfg.HTTPClient.Transport
	} else {
		t := &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          MaxIdleConns,
			MaxIdleConnsPerHost:   MaxIdleConns,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
		base, s.own = t, t
	}
	ts := cfg.TokenSource
	project := cfg.ProjectID
	if len(cfg.CredentialsJSON) > 0 {
		var f struct {
			Type        string `json:"type"`
			ProjectID   string `json:"project_id"`
			ClientEmail string `json:"client_email"`
			TokenURI    string `json:"token_uri"`
		}
		if err := json.Unmarshal(cfg.CredentialsJSON, &f); err != nil {
			return nil, fmt.Errorf(pre+"CredentialsJSON: %w", err)
		}
		if f.Type != "service_account" {
			return nil, fmt.Errorf(pre+"CredentialsJSON: type %q, want \"service_account\"", f.Type)
		}
		// The token source lives as long as the Sender, so it gets a
		// context of its own that only carries the HTTP client.
		tctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: base, Timeout: cfg.Timeout})
		creds, err := google.CredentialsFromJSONWithType(tctx, cfg.CredentialsJSON, google.ServiceAccount, Scope)
		if err != nil {
			return nil, fmt.Errorf(pre+"CredentialsJSON of %s: %w", f.ClientEmail, err)
		}
		ts = creds.TokenSource
		if project == "" {
			project = f.ProjectID
		}
	} else {
		ts = oauth2.ReuseTokenSource(nil, ts)
	}
	if project == "" {
		return nil, errors.New(pre + "ProjectID is empty (and CredentialsJSON has no project_id)")
	}
	s.project = project
	hc := &http.Client{Transport: &noRetry{inner: &oauth2.Transport{Source: ts, Base: base}}}
	opts := []gofcm.Option{gofcm.WithProjectID(project), gofcm.WithHTTPClient(hc)}
	if cfg.Endpoint != "" {
		opts = append(opts, gofcm.WithEndpoint(strings.TrimSuffix(cfg.Endpoint, "/")))
	}
	c, err := gofcm.NewClient(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf(pre+"project %s: %w", project, err)
	}
	s.client = c
	return s, nil
}

// Kind returns channel.FCM.
func (s *Sender) Kind() channel.Kind { return channel.FCM }

// Close closes the idle connections of the sender's own transport (not
// those of a Config.HTTPClient).
func (s *Sender) Close() error {
	if s.own != nil {
		s.own.CloseIdleConnections()
	}
	return nil
}

// reservedData reports whether FCM refuses key as a data key.
func reservedData(key string) bool {
	switch key {
	case "from", "notification", "message_type":
		return true
	}
	return strings.HasPrefix(key, "google.") || strings.HasPrefix(key, "gcm.")
}

// validToken reports whether a registration token can be one: printable
// ASCII without spaces, at most 4 KiB. FCM decides the rest.
func validToken(t string) bool {
	if len(t) == 0 || len(t) > 4096 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return false
		}
	}
	return true
}

// message checks m and builds its FCM message: the subject as the
// notification title, the text as its body, Data as the data payload with
// URL under "url" (unless Data has one) and the idempotency key under
// IdempotencyKeyData; priority high or normal on Android and 10 or 5 on
// APNs.
func (s *Sender) message(m *channel.Message) (*messaging.Message, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	what := "fcm: send " + strconv.Quote(m.IdempotencyKey)
	if !validToken(m.To) {
		return nil, channel.Errorf(channel.Permanent, "%s: registration token is not printable ASCII of at most 4096 bytes", what)
	}
	data := make(map[string]string, len(m.Data)+2)
	for k, v := range m.Data {
		if reservedData(k) {
			return nil, channel.Errorf(channel.Permanent, "%s: data key %q is reserved by FCM", what, k)
		}
		data[k] = v
	}
	if _, ok := data["url"]; !ok && m.URL != "" {
		data["url"] = m.URL
	}
	if m.IdempotencyKey != "" {
		data[IdempotencyKeyData] = m.IdempotencyKey
	}
	prio, apnsPrio := "normal", "5"
	if m.Priority == channel.PriorityHigh {
		prio, apnsPrio = "high", "10"
	}
	android := &messaging.AndroidConfig{Priority: prio}
	if s.cfg.TTL > 0 {
		ttl := s.cfg.TTL
		android.TTL = &ttl
	}
	return &messaging.Message{
		Token:        m.To,
		Notification: &messaging.Notification{Title: m.Subject, Body: m.Text},
		Data:         data,
		Android:      android,
		APNS: &messaging.APNSConfig{
			Headers: map[string]string{"apns-priority": apnsPrio, "apns-push-type": "alert"},
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{Sound: "default"}},
		},
	}, nil
}

// Send hands m to FCM. The receipt's ProviderID is the message name
// ("projects/<p>/messages/<id>"). Errors are classified as documented in
// the package overview.
func (s *Sender) Send(ctx context.Context, m *channel.Message) (channel.Receipt, error) {
	fm, err := s.message(m)
	if err != nil {
		return channel.Receipt{}, err
	}
	what := "fcm: send " + strconv.Quote(m.IdempotencyKey)
	if err := ctx.Err(); err != nil {
		return channel.Receipt{}, channel.NewError(channel.Temporary, err, what)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	res, err := s.client.Send(ctx, fm)
	if err != nil {
		// go-fcm refused the message before sending it.
		return channel.Receipt{}, channel.NewError(channel.Permanent, err, what)
	}
	if len(res.Responses) != 1 {
		return channel.Receipt{}, channel.Errorf(channel.Temporary, "%s: %d responses for one message", what, len(res.Responses))
	}
	return s.result(ctx, res.Responses[0], m, what)
}

func (s *Sender) result(ctx context.Context, r *messaging.SendResponse, m *channel.Message, what string) (channel.Receipt, error) {
	if r == nil {
		return channel.Receipt{}, channel.Errorf(channel.Temporary, "%s: no response", what)
	}
	if r.Success {
		return channel.Receipt{ProviderID: r.MessageID, At: s.cfg.Now()}, nil
	}
	if r.Error == nil {
		return channel.Receipt{}, channel.Errorf(channel.Temporary, "%s: failed without an error", what)
	}
	return channel.Receipt{}, classify(ctx, r.Error, m, what)
}

// SendBatch sends ms in chunks of BatchChunk through go-fcm's SendEach
// (FCM v1 has no batch request; go-fcm sends each message in its own
// request, 50 at a time), BatchChunksInFlight chunks at once, and returns
// one result per message. A message
// that fails the adapter's checks fails alone; if go-fcm refuses a whole
// chunk before sending (a message it deems invalid), the chunk's messages
// are sent one by one so that the bad one fails alone. SendBatch fails as a
// whole only if ctx is done before it starts; chunks not started when ctx
// is done get ctx's error (Temporary).
func (s *Sender) SendBatch(ctx context.Context, ms []*channel.Message) ([]channel.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, channel.NewError(channel.Temporary, err, "fcm: batch of "+strconv.Itoa(len(ms)))
	}
	res := make([]channel.Result, len(ms))
	var idx []int
	var fms []*messaging.Message
	for i, m := range ms {
		fm, err := s.message(m)
		if err != nil {
			res[i].Err = err
			continue
		}
		idx = append(idx, i)
		fms = append(fms, fm)
	}
	sem := make(chan struct{}, BatchChunksInFlight)
	var wg sync.WaitGroup
	for lo := 0; lo < len(fms); lo += BatchChunk {
		hi := min(lo+BatchChunk, len(fms))
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			for _, i := range idx[lo:hi] {
				res[i].Err = channel.NewError(channel.Temporary, err, "fcm: send "+strconv.Quote(ms[i].IdempotencyKey))
			}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			s.sendChunk(ctx, ms, idx[lo:hi], fms[lo:hi], res)
		})
	}
	wg.Wait()
	return res, nil
}

func (s *Sender) sendChunk(ctx context.Context, ms []*channel.Message, idx []int, fms []*messaging.Message, res []channel.Result) {
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	br, err := s.client.Send(cctx, fms...)
	if err != nil || len(br.Responses) != len(fms) {
		for _, i := range idx {
			res[i].Receipt, res[i].Err = s.Send(ctx, ms[i])
		}
		return
	}
	for k, i := range idx {
		res[i].Receipt, res[i].Err = s.result(cctx, br.Responses[k], ms[i], "fcm: send "+strconv.Quote(ms[i].IdempotencyKey))
	}
}
