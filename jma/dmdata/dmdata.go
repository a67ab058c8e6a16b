package dmdata

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/anpikit/anpi/jma"
)

// DefaultEndpoint is the DMDATA.jp v2 socket-start endpoint.
const DefaultEndpoint = "https://api.dmdata.jp/v2/socket"

// Protocol is the WebSocket subprotocol of the v2 API.
const Protocol = "dmdata.v2"

// Options configures a Source. A nil *Options is invalid: an APIKey is required.
type Options struct {
	// APIKey authenticates the socket start (sent as the HTTP Basic user name).
	APIKey string
	// Endpoint is the socket-start URL; default DefaultEndpoint.
	Endpoint string
	// Classifications to receive; default telegram.earthquake and eew.warning.
	Classifications []string
	// Types optionally restricts data types (at most 30), e.g. VXSE53.
	Types []string
	// IncludeTest asks for training and test telegrams (test=including).
	// Without it the request says test=no and telegrams flagged as test are
	// dropped as well.
	IncludeTest bool
	// AppName is shown in the DMDATA console.
	AppName string
	// Client is used for the socket start; default a client with a 30 s timeout.
	Client *http.Client
	// TLSConfig is used for wss connections; default system roots.
	TLSConfig *tls.Config
	// UserAgent for both requests; default jma.DefaultUserAgent.
	UserAgent string
	// MaxSize bounds one WebSocket message and one decoded document; default
	// 2 × jma.MaxDocumentSize for the message and jma.MaxDocumentSize for XML.
	MaxSize int64
	// Clock paces reconnects; default the system clock.
	Clock jma.Clock
	// Backoff is the first reconnect delay, doubled up to a minute; default 1 s.
	Backoff time.Duration
	// Logger receives connection events; default discards.
	Logger *slog.Logger
}

// Source is a jma.Source that receives JMA XML pushed by DMDATA.jp over the
// v2 WebSocket API. It is the only practical source of EEW (VXSE43/44/45).
type Source struct {
	opt  Options
	seen map[string]struct{}
	ids  []string
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// New returns a Source.
func New(opt *Options) (*Source, error) {
	if opt == nil || opt.APIKey == "" {
		return nil, errors.New("dmdata: options: an API key is required")
	}
	if len(opt.Types) > 30 {
		return nil, fmt.Errorf("dmdata: options: %d types given, at most 30 allowed", len(opt.Types))
	}
	s := &Source{opt: *opt, seen: map[string]struct{}{}}
	o := &s.opt
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	if len(o.Classifications) == 0 {
		o.Classifications = []string{"telegram.earthquake", "eew.warning"}
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.UserAgent == "" {
		o.UserAgent = jma.DefaultUserAgent
	}
	if o.MaxSize <= 0 {
		o.MaxSize = 2 * jma.MaxDocumentSize
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

type startRequest struct {
	Classifications []string `json:"classifications"`
	Types           []string `json:"types,omitempty"`
	Test            string   `json:"test"`
	AppName         string   `json:"appName,omitempty"`
	FormatMode      string   `json:"formatMode"`
}

type startResponse struct {
	Status    string `json:"status"`
	WebSocket struct {
		ID       int64    `json:"id"`
		URL      string   `json:"url"`
		Protocol []string `json:"protocol"`
	} `json:"websocket"`
	Error *struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	} `json:"error"`
}

type message struct {
	Type        string `json:"type"`
	PingID      string `json:"pingId"`
	ID          string `json:"id"`
	Format      string `json:"format"`
	Compression string `json:"compression"`
	Encoding    string `json:"encoding"`
	Body        string `json:"body"`
	Head        struct {
		Type string `json:"type"`
		Test bool   `json:"test"`
	} `json:"head"`
	Error string `json:"error"`
	Code  int    `json:"code"`
	Close bool   `json:"close"`
}

// errFatal marks errors after which reconnecting is pointless.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }

// Run starts a socket, receives telegrams and reconnects with backoff when the
// connection drops, until ctx is done, emit fails, or DMDATA refuses the
// socket start (e.g. a bad API key).
func (s *Source) Run(ctx context.Context, emit func(jma.Document) error) error {
	backoff := s.opt.Backoff
	for {
		err := s.session(ctx, emit)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fe fatalError
		if errors.As(err, &fe) {
			return fe.err
		}
		s.opt.Logger.Warn("dmdata: connection ended; reconnecting", "err", err, "after", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.opt.Clock.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

func (s *Source) start(ctx context.Context) (string, error) {
	test := "no"
	if s.opt.IncludeTest {
		test = "including"
	}
	body, err := json.Marshal(startRequest{Classifications: s.opt.Classifications, Types: s.opt.Types, Test: test, AppName: s.opt.AppName, FormatMode: "raw"})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opt.Endpoint, bytes.NewReader(body))
	if err != nil {
		return "", fatalError{fmt.Errorf("dmdata: socket start: %w", err)}
	}
	req.SetBasicAuth(s.opt.APIKey, "")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.opt.UserAgent)
	resp, err := s.opt.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("dmdata: socket start: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("dmdata: socket start: %w", err)
	}
	var sr startResponse
	if err := json.Unmarshal(raw, &sr); err != nil {
		return "", fmt.Errorf("dmdata: socket start: status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || sr.Status != "ok" || sr.WebSocket.URL == "" {
		msg := resp.Status
		if sr.Error != nil {
			msg = fmt.Sprintf("%s (code %d)", sr.Error.Message, sr.Error.Code)
		}
		err := fmt.Errorf("dmdata: socket start refused: %s", msg)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			return "", fatalError{err}
		}
		return "", err
	}
	return sr.WebSocket.URL, nil
}

func (s *Source) session(ctx context.Context, emit func(jma.Document) error) error {
	wsURL, err := s.start(ctx)
	if err != nil {
		return err
	}
	c, err := dialWS(ctx, wsURL, Protocol, s.opt.UserAgent, s.opt.TLSConfig, s.opt.MaxSize)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for {
		raw, err := c.readMessage()
		if err != nil {
			return err
		}
		var m message
		if err := json.Unmarshal(raw, &m); err != nil {
			s.opt.Logger.Warn("dmdata: bad message", "err", err)
			continue
		}
		switch m.Type {
		case "ping":
			pong, _ := json.Marshal(map[string]string{"type": "pong", "pingId": m.PingID})
			if err := c.writeFrame(opText, pong); err != nil {
				return err
			}
		case "start":
			s.opt.Logger.Info("dmdata: socket started")
		case "error":
			if m.Close {
				return fmt.Errorf("dmdata: server error %d: %s", m.Code, m.Error)
			}
			s.opt.Logger.Warn("dmdata: server error", "code", m.Code, "error", m.Error)
		case "data":
			doc, ok, err := s.document(&m)
			if err != nil {
				s.opt.Logger.Warn("dmdata: bad data message", "id", m.ID, "err", err)
				continue
			}
			if !ok {
				continue
			}
			if err := emit(doc); err != nil {
				return fatalError{err}
			}
		}
	}
}

// document decodes a data message. ok is false for messages to drop
// (duplicates, non-XML, test telegrams when not wanted).
func (s *Source) document(m *message) (jma.Document, bool, error) {
	if m.Format != "xml" {
		return jma.Document{}, false, nil
	}
	if m.Head.Test && !s.opt.IncludeTest {
		return jma.Document{}, false, nil
	}
	if m.ID != "" {
		if _, dup := s.seen[m.ID]; dup {
			return jma.Document{}, false, nil
		}
	}
	var data []byte
	switch {
	case m.Encoding == "base64":
		b, err := base64.StdEncoding.DecodeString(m.Body)
		if err != nil {
			return jma.Document{}, false, fmt.Errorf("base64: %w", err)
		}
		data = b
	case m.Encoding == "utf-8" || m.Encoding == "":
		data = []byte(m.Body)
	default:
		return jma.Document{}, false, fmt.Errorf("unknown encoding %q", m.Encoding)
	}
	switch m.Compression {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return jma.Document{}, false, fmt.Errorf("gzip: %w", err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, jma.MaxDocumentSize+1))
		if err != nil {
			return jma.Document{}, false, fmt.Errorf("gzip: %w", err)
		}
		if len(out) > jma.MaxDocumentSize {
			return jma.Document{}, false, fmt.Errorf("gzip: %w", jma.ErrTooLarge)
		}
		data = out
	case "":
	default:
		return jma.Document{}, false, fmt.Errorf("unknown compression %q", m.Compression)
	}
	if m.ID != "" {
		s.seen[m.ID] = struct{}{}
		s.ids = append(s.ids, m.ID)
		if len(s.ids) > 4096 {
			delete(s.seen, s.ids[0])
			s.ids = s.ids[1:]
		}
	}
	return jma.Document{URL: "dmdata:" + m.ID, Type: m.Head.Type, Data: data, Received: s.opt.Clock.Now()}, true, nil
}
