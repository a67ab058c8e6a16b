package twilio

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Documented limits of Twilio Programmable Messaging and Voice.
const (
	// LongCodeMPS is the sending rate of a long code (a local number): one
	// message segment per second per From number.
	LongCodeMPS = 1
	// ShortCodeMPS is the rate of a short code (at least 100 MPS); the
	// benchmarks compare with it too.
	ShortCodeMPS = 100
	// AccountCPS is the default rate of outbound calls: one call per
	// second per account.
	AccountCPS = 1
	// MaxBodyChars is the longest message body (1,600 characters), else
	// error 21617.
	MaxBodyChars = 1600
	// DefaultRetryAfter is the Retry-After of 429 answers.
	DefaultRetryAfter = time.Second
)

// The Twilio error codes the fake answers with.
const (
	CodeInvalidTo       = 21211 // 400: the 'To' number is not a valid phone number
	CodeNotMobile       = 21614 // 400: the 'To' number is not a mobile number
	CodeUnsubscribed    = 21610 // 400: the recipient replied STOP
	CodeFromRequired    = 21603 // 400: a 'From' phone number is required
	CodeBodyRequired    = 21602 // 400: message body is required
	CodeBodyTooLong     = 21617 // 400: the body exceeds 1,600 characters
	CodeAuthenticate    = 20003 // 401: authentication failed
	CodeTooManyRequests = 20429 // 429: too many requests
	CodeInternal        = 20500 // 500: internal server error
	CodeUnavailable     = 20503 // 503: service unavailable
)

// Options configures a Server. A nil *Options means the defaults.
type Options struct {
	// AccountSID and AuthToken are the credentials the server accepts
	// (HTTP basic auth, and the account in the path); required.
	AccountSID, AuthToken string
	// Now is the clock of the rate limiters and of the dates in replies;
	// default time.Now.
	Now func() time.Time
	// Unlimited switches the rate limits off.
	Unlimited bool
	// MPS overrides the messages per second per From number (default
	// LongCodeMPS); CPS the calls per second per account (default
	// AccountCPS). The bucket holds one second's worth.
	MPS, CPS float64
	// CountOnly keeps counts but not requests, for benchmarks.
	CountOnly bool
}

// Fault is a failure injected for a 'To' number.
type Fault int

// The faults, each answered with the status and code Twilio documents.
const (
	// InvalidNumber answers 400 with code 21211 (also the answer to a 'To'
	// that is not E.164).
	InvalidNumber Fault = iota + 1
	// NotMobile answers 400 with code 21614.
	NotMobile
	// Unsubscribed answers 400 with code 21610: the recipient replied STOP.
	Unsubscribed
	// TooManyRequests answers 429 with code 20429 and Retry-After.
	TooManyRequests
	// ServerError answers 500 with code 20500.
	ServerError
	// Unavailable answers 503 with code 20503 and Retry-After.
	Unavailable
	// Hang answers nothing until the client gives up or the server closes.
	Hang
)

// Request is one message or call the server accepted.
type Request struct {
	Kind                string     // "sms" or "call"
	SID                 string     // "SM…" or "CA…"
	To, From            string     // the numbers as posted
	MessagingServiceSID string     // MessagingServiceSid, if posted
	Body                string     // the SMS text
	Twiml               string     // the call's TwiML
	URL                 string     // the call's TwiML URL
	StatusCallback      string     // StatusCallback, if posted
	Params              url.Values // the whole form
}

// Server is a running fake Twilio REST API (2010-04-01 Messages and Calls).
type Server struct {
	srv  *httptest.Server
	opts Options
	done chan struct{}

	mu         sync.Mutex
	faults     map[string]Fault
	retryAfter time.Duration
	reqs       []Request
	accepted   map[string]int
	attempts   int
	fromBucket map[string]*bucket
	callBucket *bucket
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
	if o.MPS <= 0 {
		o.MPS = LongCodeMPS
	}
	if o.CPS <= 0 {
		o.CPS = AccountCPS
	}
	s := &Server{opts: o, done: make(chan struct{}), faults: map[string]Fault{}, retryAfter: DefaultRetryAfter,
		accepted: map[string]int{}, fromBucket: map[string]*bucket{}, callBucket: newBucket(o.CPS)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", s.handleMessage)
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Calls.json", s.handleCall)
	s.srv = httptest.NewServer(mux)
	return s
}

// URL returns the base URL (http://127.0.0.1:port) that stands for
// https://api.twilio.com.
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

// Fail injects fault f for the 'To' number to (0 clears it).
func (s *Server) Fail(to string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == 0 {
		delete(s.faults, to)
		return
	}
	s.faults[to] = f
}

// SetRetryAfter sets the Retry-After of 429 and 503 answers.
func (s *Server) SetRetryAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = d
}

// Requests returns the messages and calls accepted so far (none with
// CountOnly).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Accepted returns how many requests of a kind ("sms" or "call") were
// accepted.
func (s *Server) Accepted(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted[kind]
}

// Attempts returns how many requests arrived, whatever their answer.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Signature returns the X-Twilio-Signature Twilio puts on a request to
// fullURL (as Twilio sees it, query included) with POST parameters params:
// base64 of HMAC-SHA1, keyed with the auth token, of the URL followed by
// every parameter name and value, sorted by name (and by value for a name
// given more than once).
func Signature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		vs := append([]string(nil), params[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidSignature reports whether sig is the signature of a request to
// fullURL with params.
func ValidSignature(authToken, fullURL string, params url.Values, sig string) bool {
	want := Signature(authToken, fullURL, params)
	return hmac.Equal([]byte(want), []byte(sig))
}

// Callback returns a POST request to fullURL with params as a form, signed
// with X-Twilio-Signature as Twilio signs its status callbacks, inbound-SMS
// webhooks and <Gather> actions; for tests of webhook handlers.
func Callback(authToken, fullURL string, params url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, fullURL, strings.NewReader(params.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", Signature(authToken, fullURL, params))
	r.Header.Set("I-Twilio-Idempotency-Token", newHex(16))
	return r
}

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

type apiError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

func (s *Server) fail(w http.ResponseWriter, status, code int, msg string) {
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		s.mu.Lock()
		wait := s.retryAfter
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(apiError{Code: code, Message: msg, Status: status,
		MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code)})
}

// begin counts the request, checks credentials and parses the form. It
// reports false if it has answered already.
func (s *Server) begin(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	s.attempts++
	s.mu.Unlock()
	user, pass, ok := r.BasicAuth()
	if !ok || user != s.opts.AccountSID || pass != s.opts.AuthToken || r.PathValue("sid") != s.opts.AccountSID {
		s.fail(w, http.StatusUnauthorized, CodeAuthenticate, "Authenticate")
		return false
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, http.StatusBadRequest, 20001, "Invalid form body")
		return false
	}
	return true
}

// applyFault answers for the fault set on to, or for a 'To' that is not
// E.164, and reports whether it did.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, to string) bool {
	s.mu.Lock()
	f := s.faults[to]
	s.mu.Unlock()
	if f == 0 && !e164RE.MatchString(to) {
		f = InvalidNumber
	}
	switch f {
	case 0:
		return false
	case InvalidNumber:
		s.fail(w, http.StatusBadRequest, CodeInvalidTo, fmt.Sprintf("The 'To' number %s is not a valid phone number.", to))
	case NotMobile:
		s.fail(w, http.StatusBadRequest, CodeNotMobile, fmt.Sprintf("'To' number %s is not a valid mobile number", to))
	case Unsubscribed:
		s.fail(w, http.StatusBadRequest, CodeUnsubscribed, "Attempt to send to unsubscribed recipient")
	case TooManyRequests:
		s.fail(w, http.StatusTooManyRequests, CodeTooManyRequests, "Too Many Requests")
	case ServerError:
		s.fail(w, http.StatusInternalServerError, CodeInternal, "Internal Server Error")
	case Unavailable:
		s.fail(w, http.StatusServiceUnavailable, CodeUnavailable, "Service Unavailable")
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.done:
		}
		s.fail(w, http.StatusServiceUnavailable, CodeUnavailable, "hung request released")
	}
	return true
}

func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request) {
	if !s.begin(w, r) {
		return
	}
	to, from, svc, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("MessagingServiceSid"), r.PostForm.Get("Body")
	switch {
	case to == "":
		s.fail(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case from == "" && svc == "":
		s.fail(w, http.StatusBadRequest, CodeFromRequired, "A 'From' phone number is required.")
		return
	case body == "":
		s.fail(w, http.StatusBadRequest, CodeBodyRequired, "Message body is required.")
		return
	case utf8.RuneCountInString(body) > MaxBodyChars:
		s.fail(w, http.StatusBadRequest, CodeBodyTooLong, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	if s.applyFault(w, r, to) {
		return
	}
	sender := from
	if sender == "" {
		sender = svc
	}
	if !s.take(sender, false) {
		s.fail(w, http.StatusTooManyRequests, CodeTooManyRequests, "Too Many Requests")
		return
	}
	sid := "SM" + newHex(16)
	s.record(Request{Kind: "sms", SID: sid, To: to, From: from, MessagingServiceSID: svc, Body: body,
		StatusCallback: r.PostForm.Get("StatusCallback"), Params: r.PostForm})
	now := s.opts.Now().UTC().Format(time.RFC1123Z)
	reply := map[string]any{
		"sid": sid, "account_sid": s.opts.AccountSID, "to": to, "from": nullable(from), "body": body,
		"messaging_service_sid": nullable(svc), "status": "queued", "direction": "outbound-api",
		"num_segments": strconv.Itoa(segments(body)), "num_media": "0", "price": nil, "price_unit": "USD",
		"error_code": nil, "error_message": nil, "api_version": "2010-04-01",
		"date_created": now, "date_updated": now, "date_sent": nil,
		"uri": "/2010-04-01/Accounts/" + s.opts.AccountSID + "/Messages/" + sid + ".json",
	}
	writeJSON(w, http.StatusCreated, reply)
}

func (s *Server) handleCall(w http.ResponseWriter, r *http.Request) {
	if !s.begin(w, r) {
		return
	}
	to, from := r.PostForm.Get("To"), r.PostForm.Get("From")
	twiml, twimlURL := r.PostForm.Get("Twiml"), r.PostForm.Get("Url")
	switch {
	case to == "":
		s.fail(w, http.StatusBadRequest, 21201, "No 'To' number is specified")
		return
	case from == "":
		s.fail(w, http.StatusBadRequest, 21213, "No 'From' number is specified")
		return
	case twiml == "" && twimlURL == "" && r.PostForm.Get("ApplicationSid") == "":
		s.fail(w, http.StatusBadRequest, 21205, "Url parameter is required.")
		return
	}
	if s.applyFault(w, r, to) {
		return
	}
	if !s.take("", true) {
		s.fail(w, http.StatusTooManyRequests, CodeTooManyRequests, "Too Many Requests")
		return
	}
	sid := "CA" + newHex(16)
	s.record(Request{Kind: "call", SID: sid, To: to, From: from, Twiml: twiml, URL: twimlURL,
		StatusCallback: r.PostForm.Get("StatusCallback"), Params: r.PostForm})
	now := s.opts.Now().UTC().Format(time.RFC1123Z)
	writeJSON(w, http.StatusCreated, map[string]any{
		"sid": sid, "account_sid": s.opts.AccountSID, "to": to, "to_formatted": to, "from": from, "from_formatted": from,
		"status": "queued", "direction": "outbound-api", "api_version": "2010-04-01",
		"date_created": now, "date_updated": now, "start_time": nil, "end_time": nil, "duration": nil, "price": nil,
		"uri": "/2010-04-01/Accounts/" + s.opts.AccountSID + "/Calls/" + sid + ".json",
	})
}

// take takes a token from the From number's bucket (or the account's call
// bucket) and reports whether there was one.
func (s *Server) take(from string, call bool) bool {
	if s.opts.Unlimited {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if call {
		return s.callBucket.take(s.opts.Now())
	}
	b, ok := s.fromBucket[from]
	if !ok {
		b = newBucket(s.opts.MPS)
		s.fromBucket[from] = b
	}
	return b.take(s.opts.Now())
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepted[r.Kind]++
	if !s.opts.CountOnly {
		s.reqs = append(s.reqs, r)
	}
}

// segments is how many SMS segments body takes: GSM-7 text 160 (153 when
// concatenated), anything else (Japanese) UCS-2, 70 (67).
func segments(body string) int {
	n := utf8.RuneCountInString(body)
	single, multi := 160, 153
	for _, r := range body {
		if r > 0x7e || (r < 0x20 && r != '\n' && r != '\r') {
			single, multi = 70, 67
			break
		}
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// bucket is a token bucket refilled at rate tokens per second, holding at
// most max(rate, 1).
type bucket struct {
	rate, tokens, size float64
	last               time.Time
}

func newBucket(rate float64) *bucket {
	size := rate
	if size < 1 {
		size = 1
	}
	return &bucket{rate: rate, tokens: size, size: size}
}

func (b *bucket) take(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.size {
			b.tokens = b.size
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
