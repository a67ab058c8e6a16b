package line

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Documented limits of the Messaging API.
const (
	MaxMulticastTo   = 500  // user IDs per multicast request
	MaxMessages      = 5    // message objects per request
	MaxTextChars     = 5000 // characters per text message
	PushRate         = 2000 // push (and most endpoints) requests per second
	MulticastRate    = 200  // multicast requests per second
	DefaultRetryWait = 2 * time.Second
)

// Options configures a Server. A nil *Options means the defaults.
type Options struct {
	// ChannelToken is the channel access token the server accepts; empty
	// accepts any non-empty bearer token.
	ChannelToken string
	// Now is the clock of the rate limiters; default time.Now.
	Now func() time.Time
	// Unlimited switches the rate limits off.
	Unlimited bool
	// PushRate and MulticastRate override the documented request rates
	// (requests per second, burst of one second's worth).
	PushRate, MulticastRate float64
	// CountOnly keeps counts but not messages, for benchmarks.
	CountOnly bool
}

// Fault is a failure injected for a user ID.
type Fault int

// The faults.
const (
	// InvalidUser answers 400: the 'to' property is invalid.
	InvalidUser Fault = iota + 1
	// UnknownUser answers 404 on push and is skipped silently by
	// multicast: the user is not (or no longer) reachable.
	UnknownUser
	// RateLimited answers 429 with Retry-After (RetryAfter, default 2 s).
	RateLimited
	// ServerError answers 500.
	ServerError
	// Hang answers nothing until the client gives up or the server closes.
	Hang
)

// Message is one text delivered to one user (a multicast is recorded once
// per recipient) or one reply.
type Message struct {
	Endpoint  string   // "push", "multicast" or "reply"
	To        string   // the user ID, or the reply token for replies
	Texts     []string // the texts of the text messages, in order
	RetryKey  string   // the X-Line-Retry-Key header
	RequestID string   // the X-Line-Request-Id the server answered
}

// Server is a running fake LINE Messaging API.
type Server struct {
	srv  *httptest.Server
	opts Options
	done chan struct{}

	mu         sync.Mutex
	faults     map[string]Fault
	retryAfter time.Duration
	accepted   map[string]acceptance // retry key -> first acceptance
	msgs       []Message
	recipients int
	requests   map[string]int
	linkTokens map[string]string // link token -> user ID
	buckets    map[string]*bucket
	seq        int
	closeOnce  sync.Once
}

type acceptance struct {
	requestID string
	sent      []sentMessage
}

type sentMessage struct {
	ID string `json:"id"`
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
	if o.PushRate <= 0 {
		o.PushRate = PushRate
	}
	if o.MulticastRate <= 0 {
		o.MulticastRate = MulticastRate
	}
	s := &Server{opts: o, done: make(chan struct{}), faults: map[string]Fault{}, retryAfter: DefaultRetryWait,
		accepted: map[string]acceptance{}, requests: map[string]int{}, linkTokens: map[string]string{},
		buckets: map[string]*bucket{
			"push":      newBucket(o.PushRate),
			"reply":     newBucket(o.PushRate),
			"linkToken": newBucket(o.PushRate),
			"multicast": newBucket(o.MulticastRate),
		}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/bot/message/push", s.handlePush)
	mux.HandleFunc("POST /v2/bot/message/multicast", s.handleMulticast)
	mux.HandleFunc("POST /v2/bot/message/reply", s.handleReply)
	mux.HandleFunc("POST /v2/bot/user/{userId}/linkToken", s.handleLinkToken)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL returns the base URL (http://127.0.0.1:port) to give the SDK with
// messaging_api.WithEndpoint.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close releases hanging requests and shuts the server down.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.Close()
	})
}

// Fail injects fault f for userID (0 clears it).
func (s *Server) Fail(userID string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == 0 {
		delete(s.faults, userID)
		return
	}
	s.faults[userID] = f
}

// SetRetryAfter sets the Retry-After the RateLimited fault answers with.
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

// Recipients returns how many user deliveries push and multicast have
// accepted (a multicast to 500 users counts 500).
func (s *Server) Recipients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recipients
}

// Requests returns how many requests an endpoint ("push", "multicast",
// "reply", "linkToken") has received, whatever their answer.
func (s *Server) Requests(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[endpoint]
}

// LinkTokenUser returns the user ID a link token was issued for.
func (s *Server) LinkTokenUser(linkToken string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.linkTokens[linkToken]
	return u, ok
}

// Signature returns the X-Line-Signature of a webhook body: base64 of
// HMAC-SHA256 keyed with the channel secret.
func Signature(channelSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(channelSecret))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// validUserID reports whether id is U and 32 lower-case hex digits.
func validUserID(id string) bool {
	if len(id) != 33 || id[0] != 'U' {
		return false
	}
	for _, c := range []byte(id[1:]) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

type errorBody struct {
	Message string        `json:"message"`
	Details []errorDetail `json:"details,omitempty"`
}

type errorDetail struct {
	Message  string `json:"message"`
	Property string `json:"property"`
}

type textMessage struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, status int, msg string, details ...errorDetail) {
	s.writeJSON(w, status, errorBody{Message: msg, Details: details})
}

// begin does what every endpoint does first: count, request ID, auth, rate.
// It returns the request ID, or "" if it has answered already.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, endpoint string) string {
	s.mu.Lock()
	s.requests[endpoint]++
	s.seq++
	id := fmt.Sprintf("req-%06d", s.seq)
	ok := s.opts.Unlimited || s.buckets[endpoint].take(s.opts.Now())
	s.mu.Unlock()
	w.Header().Set("X-Line-Request-Id", id)
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || tok == "" || (s.opts.ChannelToken != "" && tok != s.opts.ChannelToken) {
		s.fail(w, http.StatusUnauthorized, "Authentication failed. Confirm that the access token in the authorization header is valid.")
		return ""
	}
	if !ok {
		s.fail(w, http.StatusTooManyRequests, "The API rate limit has been exceeded. Try again later.")
		return ""
	}
	return id
}

// checkMessages validates the messages of a request and returns their texts.
func (s *Server) checkMessages(w http.ResponseWriter, msgs []textMessage) ([]string, bool) {
	if len(msgs) == 0 || len(msgs) > MaxMessages {
		s.fail(w, http.StatusBadRequest, "The request body has 1 error(s)",
			errorDetail{Message: fmt.Sprintf("Size must be between 1 and %d", MaxMessages), Property: "messages"})
		return nil, false
	}
	texts := make([]string, 0, len(msgs))
	for i, m := range msgs {
		if m.Type != "text" {
			continue
		}
		if n := utf8.RuneCountInString(m.Text); n == 0 || n > MaxTextChars {
			s.fail(w, http.StatusBadRequest, "The request body has 1 error(s)",
				errorDetail{Message: fmt.Sprintf("Length must be between 1 and %d", MaxTextChars), Property: fmt.Sprintf("messages[%d].text", i)})
			return nil, false
		}
		texts = append(texts, m.Text)
	}
	return texts, true
}

// applyFault answers for the worst fault among users, if any, and reports
// whether it did.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, users []string, prop string, multicast bool) bool {
	s.mu.Lock()
	var f Fault
	at := -1
	for i, u := range users {
		g := s.faults[u]
		if g == UnknownUser && multicast {
			continue
		}
		if g != 0 && (f == 0 || g < f) {
			f, at = g, i
		}
	}
	wait := s.retryAfter
	s.mu.Unlock()
	for i, u := range users {
		if !validUserID(u) && (f == 0 || f > InvalidUser) {
			f, at = InvalidUser, i
		}
	}
	if multicast {
		prop = fmt.Sprintf("%s[%d]", prop, at)
	}
	switch f {
	case 0:
		return false
	case InvalidUser:
		s.fail(w, http.StatusBadRequest, "The request body has 1 error(s)", errorDetail{Message: "Invalid user ID", Property: prop})
	case UnknownUser:
		s.fail(w, http.StatusNotFound, "Not found")
	case RateLimited:
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		s.fail(w, http.StatusTooManyRequests, "The API rate limit has been exceeded. Try again later.")
	case ServerError:
		s.fail(w, http.StatusInternalServerError, "An error occurred on the server.")
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		s.fail(w, http.StatusGatewayTimeout, "hung request released")
	}
	return true
}

// checkRetryKey answers 400 for a malformed key and 409 for one already
// accepted, and reports whether the request may go on.
func (s *Server) checkRetryKey(w http.ResponseWriter, key string) bool {
	if key == "" {
		return true
	}
	if !uuidRE.MatchString(key) {
		s.fail(w, http.StatusBadRequest, "The value for the 'X-Line-Retry-Key' header is invalid")
		return false
	}
	s.mu.Lock()
	acc, dup := s.accepted[key]
	s.mu.Unlock()
	if dup {
		w.Header().Set("X-Line-Accepted-Request-Id", acc.requestID)
		s.writeJSON(w, http.StatusConflict, map[string]any{"message": "The retry key is already accepted", "sentMessages": acc.sent})
		return false
	}
	return true
}

// accept records an accepted request; it reports false (and answers 409) if
// another request with the same retry key won the race.
func (s *Server) accept(w http.ResponseWriter, endpoint, key, id string, users, texts []string) ([]sentMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key != "" {
		if acc, dup := s.accepted[key]; dup {
			w.Header().Set("X-Line-Accepted-Request-Id", acc.requestID)
			s.writeJSON(w, http.StatusConflict, map[string]any{"message": "The retry key is already accepted", "sentMessages": acc.sent})
			return nil, false
		}
	}
	sent := make([]sentMessage, len(texts))
	for i := range sent {
		s.seq++
		sent[i].ID = strconv.Itoa(100000000000 + s.seq)
	}
	if key != "" {
		s.accepted[key] = acceptance{requestID: id, sent: sent}
	}
	for _, u := range users {
		if endpoint != "reply" {
			if s.faults[u] == UnknownUser {
				continue
			}
			s.recipients++
		}
		if !s.opts.CountOnly {
			s.msgs = append(s.msgs, Message{Endpoint: endpoint, To: u, Texts: texts, RetryKey: key, RequestID: id})
		}
	}
	return sent, true
}

func (s *Server) handlePush(w http.ResponseWriter, r *http.Request) {
	id := s.begin(w, r, "push")
	if id == "" {
		return
	}
	var req struct {
		To       string        `json:"to"`
		Messages []textMessage `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.fail(w, http.StatusBadRequest, "The request body could not be parsed as JSON")
		return
	}
	texts, ok := s.checkMessages(w, req.Messages)
	if !ok || s.applyFault(w, r, []string{req.To}, "to", false) {
		return
	}
	key := r.Header.Get("X-Line-Retry-Key")
	if !s.checkRetryKey(w, key) {
		return
	}
	sent, ok := s.accept(w, "push", key, id, []string{req.To}, texts)
	if ok {
		s.writeJSON(w, http.StatusOK, map[string]any{"sentMessages": sent})
	}
}

func (s *Server) handleMulticast(w http.ResponseWriter, r *http.Request) {
	id := s.begin(w, r, "multicast")
	if id == "" {
		return
	}
	var req struct {
		To       []string      `json:"to"`
		Messages []textMessage `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.fail(w, http.StatusBadRequest, "The request body could not be parsed as JSON")
		return
	}
	if len(req.To) == 0 || len(req.To) > MaxMulticastTo {
		s.fail(w, http.StatusBadRequest, "The request body has 1 error(s)",
			errorDetail{Message: fmt.Sprintf("Size must be between 1 and %d", MaxMulticastTo), Property: "to"})
		return
	}
	texts, ok := s.checkMessages(w, req.Messages)
	if !ok || s.applyFault(w, r, req.To, "to", true) {
		return
	}
	key := r.Header.Get("X-Line-Retry-Key")
	if !s.checkRetryKey(w, key) {
		return
	}
	if _, ok := s.accept(w, "multicast", key, id, req.To, texts); ok {
		s.writeJSON(w, http.StatusOK, map[string]any{})
	}
}

func (s *Server) handleReply(w http.ResponseWriter, r *http.Request) {
	id := s.begin(w, r, "reply")
	if id == "" {
		return
	}
	var req struct {
		ReplyToken string        `json:"replyToken"`
		Messages   []textMessage `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ReplyToken == "" {
		s.fail(w, http.StatusBadRequest, "Invalid reply token")
		return
	}
	texts, ok := s.checkMessages(w, req.Messages)
	if !ok {
		return
	}
	if sent, ok := s.accept(w, "reply", "", id, []string{req.ReplyToken}, texts); ok {
		s.writeJSON(w, http.StatusOK, map[string]any{"sentMessages": sent})
	}
}

func (s *Server) handleLinkToken(w http.ResponseWriter, r *http.Request) {
	if s.begin(w, r, "linkToken") == "" {
		return
	}
	user := r.PathValue("userId")
	if s.applyFault(w, r, []string{user}, "userId", false) {
		return
	}
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.linkTokens[tok] = user
	s.mu.Unlock()
	s.writeJSON(w, http.StatusOK, map[string]string{"linkToken": tok})
}

// bucket is a token bucket refilled at rate tokens per second up to rate.
type bucket struct {
	rate, tokens float64
	last         time.Time
}

func newBucket(rate float64) *bucket { return &bucket{rate: rate, tokens: rate} }

func (b *bucket) take(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.rate {
			b.tokens = b.rate
		}
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
