package fcm

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Documented limits of FCM HTTP v1.
const (
	// RatePerMinute is the default send quota: 600,000 messages per
	// minute per project, a token bucket that is not aligned to the clock
	// (10,000 messages per second sustained).
	RatePerMinute = 600000
	// MaxPayload is the largest message (4,096 bytes of JSON; the fake
	// counts the request body less its {"message":…} wrapper).
	MaxPayload = 4096
	// Scope is the OAuth scope FCM requires.
	Scope = "https://www.googleapis.com/auth/firebase.messaging"
	// TokenLifetime is the expires_in of the access tokens the server
	// issues.
	TokenLifetime = time.Hour
)

// Options configures a Server. A nil *Options means the defaults.
type Options struct {
	// ProjectID is the only project the server serves; empty serves any.
	ProjectID string
	// PublicKey, if set, verifies the RS256 signature of the JWT-bearer
	// assertions posted to /token, as do the keys of ServiceAccount; an
	// assertion no trusted key verifies gets invalid_grant. With no key
	// at all, signatures are not checked.
	PublicKey *rsa.PublicKey
	// AccessToken, if set, is accepted as a bearer token besides those
	// the server issued (for oauth2.StaticTokenSource).
	AccessToken string
	// Now is the clock of the rate limiter, of token expiry and of JWT
	// checks; default time.Now.
	Now func() time.Time
	// Unlimited switches the rate limit off.
	Unlimited bool
	// RatePerMinute overrides the quota; default RatePerMinute. The
	// bucket holds one minute's worth unless Burst says otherwise.
	RatePerMinute float64
	// Burst, if positive, is the size of the quota's bucket in messages
	// instead of one minute's worth: benchmarks set it to seconds' worth
	// so that a sender overshooting the rate meets 429s within seconds.
	Burst float64
	// CountOnly keeps counts but not messages, for benchmarks.
	CountOnly bool
}

// Fault is a failure injected for a registration token.
type Fault int

// The faults, answered with FCM's status and FcmError errorCode. The
// firebase client itself retries 503 and network errors (up to 4 times,
// with seconds of backoff); the other faults it does not retry.
const (
	// Unregistered answers 404 NOT_FOUND with errorCode UNREGISTERED.
	Unregistered Fault = iota + 1
	// InvalidArgument answers 400 INVALID_ARGUMENT (also the answer to a
	// token that is not token-shaped).
	InvalidArgument
	// SenderIDMismatch answers 403 PERMISSION_DENIED with errorCode
	// SENDER_ID_MISMATCH: the token belongs to another project.
	SenderIDMismatch
	// QuotaExceeded answers 429 RESOURCE_EXHAUSTED, errorCode
	// QUOTA_EXCEEDED, with Retry-After.
	QuotaExceeded
	// ThirdPartyAuthError answers 401 UNAUTHENTICATED with errorCode
	// THIRD_PARTY_AUTH_ERROR (the project's APNs key is invalid).
	ThirdPartyAuthError
	// Internal answers 500 INTERNAL (not retried by the client).
	Internal
	// Unavailable answers 503 UNAVAILABLE with Retry-After. The firebase
	// client retries it up to 4 times, honouring Retry-After; clients
	// that should not retry must map it themselves.
	Unavailable
	// Hang answers nothing until the client gives up or the server closes.
	Hang
)

// Message is one message the server accepted.
type Message struct {
	Name            string            // "projects/<p>/messages/<n>", the answer
	Project         string            // from the path
	Token           string            // the registration token
	Title, Body     string            // notification
	Data            map[string]string // data payload
	AndroidPriority string            // android.priority
	APNSHeaders     map[string]string // apns.headers
	Raw             json.RawMessage   // the "message" object as sent
}

// Server is a running fake FCM HTTP v1 API with its OAuth token endpoint.
type Server struct {
	srv  *httptest.Server
	opts Options
	done chan struct{}

	mu         sync.Mutex
	faults     map[string]Fault
	all        Fault
	tokenFault bool
	retryAfter time.Duration
	tokens     map[string]time.Time // access token -> expiry
	msgs       []Message
	accepted   int
	attempts   int
	tokenReqs  int
	bucket     bucket
	trusted    []*rsa.PublicKey
	seq        int
	closeOnce  sync.Once
}

// Start starts a fake on 127.0.0.1.
func Start(opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RatePerMinute <= 0 {
		o.RatePerMinute = RatePerMinute
	}
	s := &Server{opts: o, done: make(chan struct{}), faults: map[string]Fault{}, tokens: map[string]time.Time{},
		retryAfter: 10 * time.Second, bucket: bucket{rate: o.RatePerMinute / 60, size: o.RatePerMinute, tokens: o.RatePerMinute}}
	if o.Burst > 0 {
		s.bucket.size, s.bucket.tokens = o.Burst, o.Burst
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.handleToken)
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", s.handleSend)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL returns the base URL (http://127.0.0.1:port).
func (s *Server) URL() string { return s.srv.URL }

// Endpoint returns the FCM endpoint to give go-fcm's WithEndpoint:
// URL()+"/v1".
func (s *Server) Endpoint() string { return s.srv.URL + "/v1" }

// TokenURI returns the OAuth token endpoint, the token_uri of a service
// account: URL()+"/token".
func (s *Server) TokenURI() string { return s.srv.URL + "/token" }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close releases hanging requests and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// Fail injects fault f for a registration token (0 clears it).
func (s *Server) Fail(token string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == 0 {
		delete(s.faults, token)
		return
	}
	s.faults[token] = f
}

// FailAll injects fault f for every token (0 clears it); a fault set with
// Fail takes precedence.
func (s *Server) FailAll(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = f
}

// FailTokens makes /token refuse every assertion with invalid_grant (a
// revoked service-account key) while on.
func (s *Server) FailTokens(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenFault = on
}

// SetRetryAfter sets the Retry-After of 429 and 503 faults (default 10 s).
func (s *Server) SetRetryAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = d
}

// Messages returns the messages accepted so far (none with CountOnly).
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Accepted returns how many messages were accepted.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Attempts returns how many send requests arrived, whatever their answer.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// TokenRequests returns how many requests /token received.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenReqs
}

// ServiceAccount returns a service-account key file (JSON) for projectID
// whose token_uri is this server's, with a new RSA key that the server
// trusts from now on: once a key is trusted (or Options.PublicKey is set),
// assertions signed by any other key get invalid_grant.
func (s *Server) ServiceAccount(projectID string) ([]byte, error) {
	js, key, err := NewServiceAccount(projectID, s.TokenURI())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.trusted = append(s.trusted, &key.PublicKey)
	s.mu.Unlock()
	return js, nil
}

// NewServiceAccount returns a service-account key file (JSON) for projectID
// whose token_uri is tokenURI (a fake's TokenURI), and its RSA key, whose
// public half goes in Options.PublicKey.
func NewServiceAccount(projectID, tokenURI string) ([]byte, *rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("fake fcm: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("fake fcm: encode key: %w", err)
	}
	email := "anpi-sender@" + projectID + ".iam.gserviceaccount.com"
	b, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     projectID,
		"private_key_id": "0123456789abcdef0123456789abcdef01234567",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   email,
		"client_id":      "100000000000000000001",
		"auth_uri":       "https://accounts.google.com/o/oauth2/auth",
		"token_uri":      tokenURI,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("fake fcm: encode service account: %w", err)
	}
	return b, key, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handleToken serves the OAuth 2.0 JWT-bearer grant (RFC 7523) the way
// Google's token endpoint does for service accounts.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenReqs++
	fault := s.tokenFault
	s.mu.Unlock()
	deny := func(desc string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		deny("bad form")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
		return
	}
	if fault {
		deny("Invalid JWT Signature.")
		return
	}
	if desc := s.checkAssertion(r.PostForm.Get("assertion")); desc != "" {
		deny(desc)
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29.fake-" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(TokenLifetime)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(TokenLifetime / time.Second)})
}

// checkAssertion checks a JWT-bearer assertion and returns what is wrong
// with it, or "".
func (s *Server) checkAssertion(a string) string {
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe"
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var c struct {
		Iss   string `json:"iss"`
		Aud   string `json:"aud"`
		Scope string `json:"scope"`
		Iat   int64  `json:"iat"`
		Exp   int64  `json:"exp"`
	}
	if !decodeSegment(parts[0], &hdr) || !decodeSegment(parts[1], &c) || hdr.Alg != "RS256" {
		return "Invalid JWT."
	}
	if c.Iss == "" || c.Aud != s.TokenURI() {
		return "Invalid JWT: iss or aud"
	}
	if !strings.Contains(" "+c.Scope+" ", " "+Scope+" ") {
		return "Invalid JWT: the scope does not include " + Scope
	}
	now := s.opts.Now().Unix()
	if c.Exp <= c.Iat || c.Exp-c.Iat > 3600 || now > c.Exp+300 || now < c.Iat-300 {
		return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe."
	}
	s.mu.Lock()
	keys := append([]*rsa.PublicKey(nil), s.trusted...)
	s.mu.Unlock()
	if s.opts.PublicKey != nil {
		keys = append(keys, s.opts.PublicKey)
	}
	if len(keys) == 0 {
		return ""
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return "Invalid JWT Signature."
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	for _, k := range keys {
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) == nil {
			return ""
		}
	}
	return "Invalid JWT Signature."
}

func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(b, v) == nil
}

// fcmError answers like FCM: a google.rpc.Status with an FcmError detail.
func (s *Server) fcmError(w http.ResponseWriter, status int, rpcStatus, fcmCode, msg string) {
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		s.mu.Lock()
		wait := s.retryAfter
		s.mu.Unlock()
		if w.Header().Get("Retry-After") == "" {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		}
	}
	e := map[string]any{"code": status, "message": msg, "status": rpcStatus}
	if fcmCode != "" {
		e["details"] = []map[string]string{{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcmCode}}
	}
	writeJSON(w, status, map[string]any{"error": e})
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_:\-]+$`)

// reserved reports whether FCM refuses key as a data key.
func reserved(key string) bool {
	switch key {
	case "from", "notification", "message_type":
		return true
	}
	return strings.HasPrefix(key, "google.") || strings.HasPrefix(key, "gcm.")
}

type sendRequest struct {
	ValidateOnly bool        `json:"validate_only"`
	Message      wireMessage `json:"message"`
}

// rawMessage extracts the "message" object of a request body as sent.
func rawMessage(body []byte) json.RawMessage {
	var v struct {
		Message json.RawMessage `json:"message"`
	}
	_ = json.Unmarshal(body, &v)
	return v.Message
}

type wireMessage struct {
	Token        string `json:"token"`
	Topic        string `json:"topic"`
	Condition    string `json:"condition"`
	Notification *struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	} `json:"notification"`
	Data    map[string]string `json:"data"`
	Android *struct {
		Priority string `json:"priority"`
	} `json:"android"`
	APNS *struct {
		Headers map[string]string `json:"headers"`
	} `json:"apns"`
}

func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.attempts++
	s.mu.Unlock()
	if !s.authorized(r.Header.Get("Authorization")) {
		s.fcmError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	project := r.PathValue("project")
	if s.opts.ProjectID != "" && project != s.opts.ProjectID {
		s.fcmError(w, http.StatusForbidden, "PERMISSION_DENIED", "", "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/"+project+"' (or it may not exist).")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		s.fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "", "Invalid JSON payload received.")
		return
	}
	var req sendRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid JSON payload received. Invalid value at 'message'")
		return
	}
	m := &req.Message
	s.mu.Lock()
	f, ok := s.faults[m.Token]
	if !ok {
		f = s.all
	}
	s.mu.Unlock()
	if s.applyFault(w, r, f) {
		return
	}
	if msg := validate(m, len(body)-len(`{"message":}`)); msg != "" {
		s.fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", msg)
		return
	}
	if ok, wait := s.take(); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Max(1, math.Ceil(wait.Seconds())))))
		s.fcmError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric 'Send requests' of service 'fcm.googleapis.com'.")
		return
	}
	s.mu.Lock()
	s.seq++
	name := fmt.Sprintf("projects/%s/messages/%d", project, 1700000000000000+s.seq)
	if !req.ValidateOnly {
		s.accepted++
		if !s.opts.CountOnly {
			rec := Message{Name: name, Project: project, Token: m.Token, Data: m.Data, Raw: rawMessage(body)}
			if m.Notification != nil {
				rec.Title, rec.Body = m.Notification.Title, m.Notification.Body
			}
			if m.Android != nil {
				rec.AndroidPriority = m.Android.Priority
			}
			if m.APNS != nil {
				rec.APNSHeaders = m.APNS.Headers
			}
			s.msgs = append(s.msgs, rec)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"name": name})
}

// validate checks what FCM checks of a message and returns the error
// message, or "".
func validate(m *wireMessage, size int) string {
	n := 0
	for _, t := range []string{m.Token, m.Topic, m.Condition} {
		if t != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return "Exactly one of token, topic or condition must be specified."
	case m.Token != "" && (len(m.Token) < 8 || len(m.Token) > 4096 || !tokenRE.MatchString(m.Token)):
		return "The registration token is not a valid FCM registration token"
	case size > MaxPayload:
		return "Message is too big"
	}
	for k := range m.Data {
		if reserved(k) {
			return "Invalid data payload key: " + k
		}
	}
	if m.Android != nil && m.Android.Priority != "" && m.Android.Priority != "normal" && m.Android.Priority != "high" {
		return "Invalid value at 'message.android.priority'"
	}
	return ""
}

func (s *Server) authorized(h string) bool {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return false
	}
	if s.opts.AccessToken != "" && tok == s.opts.AccessToken {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && s.opts.Now().Before(exp)
}

// take takes a token from the project's bucket; if there is none, it
// returns how long until there is one.
func (s *Server) take() (bool, time.Duration) {
	if s.opts.Unlimited {
		return true, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bucket.take(s.opts.Now()) {
		return true, 0
	}
	return false, time.Duration((1 - s.bucket.tokens) / s.bucket.rate * float64(time.Second))
}

// applyFault answers for f, if any, and reports whether it did.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, f Fault) bool {
	switch f {
	case 0:
		return false
	case Unregistered:
		s.fcmError(w, http.StatusNotFound, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
	case InvalidArgument:
		s.fcmError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
	case SenderIDMismatch:
		s.fcmError(w, http.StatusForbidden, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch")
	case QuotaExceeded:
		s.fcmError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded.")
	case ThirdPartyAuthError:
		s.fcmError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Auth error from APNS or Web Push Service")
	case Internal:
		s.fcmError(w, http.StatusInternalServerError, "INTERNAL", "INTERNAL", "Internal error encountered.")
	case Unavailable:
		s.fcmError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable.")
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		s.fcmError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "UNAVAILABLE", "hung request released")
	default:
		s.fcmError(w, http.StatusInternalServerError, "INTERNAL", "INTERNAL", "Internal error encountered.")
	}
	return true
}

// bucket is a token bucket refilled at rate tokens per second up to size.
type bucket struct {
	rate, size, tokens float64
	last               time.Time
}

func (b *bucket) take(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = math.Min(b.size, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
