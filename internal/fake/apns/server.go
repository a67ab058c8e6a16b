package apns

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Documented limits of the APNs provider API.
const (
	// DefaultMaxConcurrentStreams is the per-connection stream limit the
	// server announces. APNs sets it per connection ("typically ~1000",
	// and Apple says not to assume a number); a client that wants more
	// concurrency opens more connections.
	DefaultMaxConcurrentStreams = 1000
	// MaxPayload is the largest payload of a regular remote notification
	// (4 KiB); a larger one gets 413 PayloadTooLarge.
	MaxPayload = 4096
	// TokenLifetime is how long a provider token is accepted after its
	// iat; an older one gets 403 ExpiredProviderToken.
	TokenLifetime = time.Hour
)

// Options configures a Server. A nil *Options means the defaults.
type Options struct {
	// TeamID and KeyID are the iss claim and kid header the server
	// accepts; empty accepts any non-empty value.
	TeamID, KeyID string
	// PublicKey, if set, verifies the ES256 signature of provider tokens;
	// a token signed by another key gets 403 InvalidProviderToken.
	PublicKey *ecdsa.PublicKey
	// Topic, if set, is the only apns-topic accepted; another topic gets
	// 400 DeviceTokenNotForTopic (the token belongs to another app).
	Topic string
	// MaxConcurrentStreams overrides the per-connection stream limit;
	// default DefaultMaxConcurrentStreams.
	MaxConcurrentStreams int
	// Now is the clock used to check token ages; default time.Now.
	Now func() time.Time
	// CountOnly keeps counts but not notifications, for benchmarks.
	CountOnly bool
}

// Fault is a failure injected for a device token.
type Fault int

// The faults, each answered with the status and reason APNs documents.
const (
	// Unregistered answers 410 {"reason":"Unregistered"} with a timestamp:
	// the token is no longer active for the topic.
	Unregistered Fault = iota + 1
	// BadDeviceToken answers 400 BadDeviceToken (also the answer to a
	// token that is not hex).
	BadDeviceToken
	// DeviceTokenNotForTopic answers 400 DeviceTokenNotForTopic.
	DeviceTokenNotForTopic
	// TooManyRequests answers 429 TooManyRequests: too many requests for
	// the same device token. APNs sends no Retry-After.
	TooManyRequests
	// InvalidProviderToken answers 403 InvalidProviderToken.
	InvalidProviderToken
	// ExpiredProviderToken answers 403 ExpiredProviderToken.
	ExpiredProviderToken
	// InternalServerError answers 500 InternalServerError.
	InternalServerError
	// ServiceUnavailable answers 503 ServiceUnavailable.
	ServiceUnavailable
	// Hang answers nothing until the client gives up (cancels the
	// stream) or the server closes.
	Hang
)

// Notification is one push the server accepted.
type Notification struct {
	DeviceToken string          // from the path
	Topic       string          // apns-topic
	Priority    int             // apns-priority, 10 if absent
	ID          string          // apns-id the server answered (the client's, or a new UUID)
	ClientID    string          // apns-id the client sent, or empty
	CollapseID  string          // apns-collapse-id
	PushType    string          // apns-push-type
	Expiration  string          // apns-expiration, as sent
	Payload     json.RawMessage // the body as sent
	Title, Body string          // aps.alert.title and aps.alert.body (or aps.alert when it is a string)
	TeamID      string          // iss of the provider token
	KeyID       string          // kid of the provider token
}

// Server is a running fake APNs on TLS and HTTP/2.
type Server struct {
	srv  *httptest.Server
	opts Options
	done chan struct{}

	mu        sync.Mutex
	faults    map[string]Fault
	all       Fault
	notes     []Notification
	accepted  int
	requests  int
	inflight  map[uint64]int // per connection
	peak      int
	connSeq   uint64
	conns     int
	verified  map[string]verifiedToken // bearer -> claims, so a signature is checked once
	closeOnce sync.Once
}

type verifiedToken struct {
	iss, kid string
	iat      time.Time
}

type connKey struct{}

// Start starts a fake on 127.0.0.1 with a self-signed certificate; use
// Client or CertPool to trust it.
func Start(opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxConcurrentStreams <= 0 {
		o.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	s := &Server{opts: o, done: make(chan struct{}), faults: map[string]Fault{}, inflight: map[uint64]int{}, verified: map[string]verifiedToken{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /3/device/{token}", s.handlePush)
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.EnableHTTP2 = true
	s.srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: o.MaxConcurrentStreams}
	s.srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		s.mu.Lock()
		s.connSeq++
		s.conns++
		id := s.connSeq
		s.mu.Unlock()
		return context.WithValue(ctx, connKey{}, id)
	}
	s.srv.StartTLS()
	return s
}

// URL returns the base URL (https://127.0.0.1:port), the apns2 Client.Host.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP/2 client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Certificate returns the server's self-signed certificate, to add to a
// client's root CAs.
func (s *Server) Certificate() []byte { return s.srv.Certificate().Raw }

// Close releases hanging requests and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// Fail injects fault f for deviceToken (0 clears it).
func (s *Server) Fail(deviceToken string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == 0 {
		delete(s.faults, deviceToken)
		return
	}
	s.faults[deviceToken] = f
}

// FailAll injects fault f for every device token (0 clears it); a fault
// set by Fail for a token takes precedence.
func (s *Server) FailAll(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = f
}

// Notifications returns the notifications accepted so far (none with
// CountOnly).
func (s *Server) Notifications() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.notes...)
}

// Accepted returns how many notifications were accepted (answered 200).
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Requests returns how many push requests arrived, whatever their answer.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Connections returns how many TLS connections clients have opened.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// PeakStreams returns the largest number of requests seen in flight at once
// on a single connection; it never exceeds MaxConcurrentStreams.
func (s *Server) PeakStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

var hexRE = regexp.MustCompile(`^[0-9a-fA-F]+$`)
var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (s *Server) fail(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"reason": reason}
	if status == http.StatusGone {
		body["timestamp"] = s.opts.Now().UnixMilli()
	}
	_ = json.NewEncoder(w).Encode(body)
}

func (s *Server) handlePush(w http.ResponseWriter, r *http.Request) {
	conn, _ := r.Context().Value(connKey{}).(uint64)
	s.mu.Lock()
	s.requests++
	s.inflight[conn]++
	if n := s.inflight[conn]; n > s.peak {
		s.peak = n
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight[conn]--
		s.mu.Unlock()
	}()

	id := r.Header.Get("apns-id")
	if id != "" && !uuidRE.MatchString(id) {
		s.fail(w, http.StatusBadRequest, "BadMessageId")
		return
	}
	answerID := id
	if answerID == "" {
		answerID = newUUID()
	}
	w.Header().Set("apns-id", answerID)

	if r.ProtoMajor != 2 {
		s.fail(w, http.StatusBadRequest, "BadPath")
		return
	}
	iss, kid, reason := s.checkToken(r.Header.Get("authorization"))
	if reason != "" {
		s.fail(w, http.StatusForbidden, reason)
		return
	}
	tok := r.PathValue("token")
	topic := r.Header.Get("apns-topic")
	s.mu.Lock()
	f, ok := s.faults[tok]
	if !ok {
		f = s.all
	}
	s.mu.Unlock()
	if answered := s.applyFault(w, r, f); answered {
		return
	}
	switch {
	case tok == "" || len(tok)%2 != 0 || !hexRE.MatchString(tok):
		s.fail(w, http.StatusBadRequest, "BadDeviceToken")
		return
	case topic == "":
		s.fail(w, http.StatusBadRequest, "MissingTopic")
		return
	case s.opts.Topic != "" && topic != s.opts.Topic:
		s.fail(w, http.StatusBadRequest, "DeviceTokenNotForTopic")
		return
	}
	prio := 10
	if p := r.Header.Get("apns-priority"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || (n != 1 && n != 5 && n != 10) {
			s.fail(w, http.StatusBadRequest, "BadPriority")
			return
		}
		prio = n
	}
	if c := r.Header.Get("apns-collapse-id"); len(c) > 64 {
		s.fail(w, http.StatusBadRequest, "BadCollapseId")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil {
		return
	}
	if len(body) > MaxPayload {
		s.fail(w, http.StatusRequestEntityTooLarge, "PayloadTooLarge")
		return
	}
	var p struct {
		APS *struct {
			Alert json.RawMessage `json:"alert"`
		} `json:"aps"`
	}
	if len(body) == 0 {
		s.fail(w, http.StatusBadRequest, "PayloadEmpty")
		return
	}
	if err := json.Unmarshal(body, &p); err != nil || p.APS == nil {
		s.fail(w, http.StatusBadRequest, "BadPayload")
		return
	}
	n := Notification{DeviceToken: tok, Topic: topic, Priority: prio, ID: answerID, ClientID: id,
		CollapseID: r.Header.Get("apns-collapse-id"), PushType: r.Header.Get("apns-push-type"),
		Expiration: r.Header.Get("apns-expiration"), Payload: body, TeamID: iss, KeyID: kid}
	if !s.opts.CountOnly {
		var alert struct{ Title, Body string }
		if err := json.Unmarshal(p.APS.Alert, &alert); err == nil {
			n.Title, n.Body = alert.Title, alert.Body
		} else {
			_ = json.Unmarshal(p.APS.Alert, &n.Body)
		}
	}
	s.mu.Lock()
	s.accepted++
	if !s.opts.CountOnly {
		s.notes = append(s.notes, n)
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// applyFault answers for f, if any, and reports whether it did.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch f {
	case 0:
		return false
	case Unregistered:
		s.fail(w, http.StatusGone, "Unregistered")
	case BadDeviceToken:
		s.fail(w, http.StatusBadRequest, "BadDeviceToken")
	case DeviceTokenNotForTopic:
		s.fail(w, http.StatusBadRequest, "DeviceTokenNotForTopic")
	case TooManyRequests:
		s.fail(w, http.StatusTooManyRequests, "TooManyRequests")
	case InvalidProviderToken:
		s.fail(w, http.StatusForbidden, "InvalidProviderToken")
	case ExpiredProviderToken:
		s.fail(w, http.StatusForbidden, "ExpiredProviderToken")
	case InternalServerError:
		s.fail(w, http.StatusInternalServerError, "InternalServerError")
	case ServiceUnavailable:
		s.fail(w, http.StatusServiceUnavailable, "ServiceUnavailable")
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		s.fail(w, http.StatusServiceUnavailable, "Shutdown")
	default:
		s.fail(w, http.StatusInternalServerError, "InternalServerError")
	}
	return true
}

// checkToken checks an "authorization: bearer <JWT>" header: an ES256 JWT
// with kid and iss, signed by PublicKey when set, issued within the last
// hour. It returns iss and kid, or the 403 reason. A token's signature is
// verified once and remembered (APNs too validates a provider token once
// and not on every push); its age is checked on every request.
func (s *Server) checkToken(h string) (iss, kid, reason string) {
	tok, ok := strings.CutPrefix(h, "bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "Bearer ")
	}
	if !ok || tok == "" {
		return "", "", "MissingProviderToken"
	}
	s.mu.Lock()
	v, ok := s.verified[tok]
	s.mu.Unlock()
	if !ok {
		if v, reason = s.verifyToken(tok); reason != "" {
			return "", "", reason
		}
		s.mu.Lock()
		if len(s.verified) >= 1024 {
			clear(s.verified)
		}
		s.verified[tok] = v
		s.mu.Unlock()
	}
	if s.opts.Now().Sub(v.iat) > TokenLifetime {
		return "", "", "ExpiredProviderToken"
	}
	return v.iss, v.kid, ""
}

// verifyToken checks a JWT's form, claims and signature.
func (s *Server) verifyToken(tok string) (v verifiedToken, reason string) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return v, "InvalidProviderToken"
	}
	var hdr struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss string `json:"iss"`
		Iat *int64 `json:"iat"`
	}
	if !decodeSegment(parts[0], &hdr) || !decodeSegment(parts[1], &claims) {
		return v, "InvalidProviderToken"
	}
	if hdr.Alg != "ES256" || hdr.Kid == "" || claims.Iss == "" || claims.Iat == nil {
		return v, "InvalidProviderToken"
	}
	if (s.opts.KeyID != "" && hdr.Kid != s.opts.KeyID) || (s.opts.TeamID != "" && claims.Iss != s.opts.TeamID) {
		return v, "InvalidProviderToken"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return v, "InvalidProviderToken"
	}
	if s.opts.PublicKey != nil {
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(s.opts.PublicKey, sum[:], r, ss) {
			return v, "InvalidProviderToken"
		}
	}
	return verifiedToken{iss: claims.Iss, kid: hdr.Kid, iat: time.Unix(*claims.Iat, 0)}, ""
}

func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(b, v) == nil
}

// newUUID returns a random version 4 UUID in upper case, as APNs does.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])
}
