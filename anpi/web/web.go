package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// Service is what the pages need of an *anpi.Service. GETs call only
// LookupToken, which records nothing.
type Service interface {
	LookupToken(ctx context.Context, token string) (*anpi.TokenInfo, error)
	AnswerByToken(ctx context.Context, token string, answers []anpi.Answer, via anpi.ResponseChannel) (*anpi.Response, error)
	SubmitAnswer(ctx context.Context, token string, via anpi.ResponseChannel, build func(*anpi.TokenInfo) ([]anpi.Answer, error)) (*anpi.TokenInfo, error)
	ConfirmContact(ctx context.Context, token string) (*anpi.ContactConfirmation, error)
}

// Options configures the handler. A nil *Options means defaults.
type Options struct {
	// CSRFKey keys the HMAC of the forms' CSRF field. Empty means 32
	// random bytes drawn when the handler is made: set the same key on
	// every replica that serves the same pages.
	CSRFKey []byte
	// Clock is the time source of the rate limit; default time.Now.
	Clock func() time.Time
	// Rand is the source of a random CSRFKey; default crypto/rand.
	// NewAnswerHandler panics if it cannot read 32 bytes from it.
	Rand io.Reader
	// RateLimit is how many POSTs one token may make per RateWindow;
	// default 10.
	RateLimit int
	// RateWindow is the window of RateLimit; default one minute.
	RateWindow time.Duration
	// Logger receives the errors the pages cannot show; default: discard.
	Logger *slog.Logger
	// LINELinkURL, when set, puts a "link my LINE account" button on the
	// registration page (/r/{token}). The button POSTs (checked as the
	// page's other forms), so a link scanner starts nothing; the handler
	// calls LINELinkURL with the user's ID and redirects (303) to the
	// https URL it returns: where the server starts LINE account linking
	// for him, ending in line.Linker.Begin and anpi.Service.LinkLINE.
	// Unset, the page says LINE is linked from the company's LINE
	// official account instead.
	LINELinkURL func(ctx context.Context, user anpi.UserID) (string, error)
}

// maxBody bounds a POST's body: a form of at most anpi.MaxQuestions
// questions with texts of at most anpi.MaxTextLen characters fits.
const maxBody = 256 << 10

// maxTokenLen bounds the tokens looked up: longer ones are malformed.
const maxTokenLen = 128

type handler struct {
	svc     Service
	key     []byte
	clock   func() time.Time
	limit   int
	window  time.Duration
	log     *slog.Logger
	tmpl    *template.Template
	csp     string
	mux     *http.ServeMux
	limiter limiter
	line    func(ctx context.Context, user anpi.UserID) (string, error)
}

// NewAnswerHandler returns the handler of the answer and contact check
// pages (see the package documentation for its routes), backed by svc
// (an *anpi.Service).
func NewAnswerHandler(svc Service, opts *Options) http.Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	h := &handler{svc: svc, key: o.CSRFKey, clock: o.Clock, limit: o.RateLimit, window: o.RateWindow, log: o.Logger, line: o.LINELinkURL}
	if h.clock == nil {
		h.clock = time.Now
	}
	if h.limit <= 0 {
		h.limit = 10
	}
	if h.window <= 0 {
		h.window = time.Minute
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if len(h.key) == 0 {
		h.key = make([]byte, 32)
		r := o.Rand
		if r == nil {
			r = rand.Reader
		}
		if _, err := io.ReadFull(r, h.key); err != nil {
			panic("anpi/web: reading a random CSRF key: " + err.Error())
		}
	}
	h.limiter.seen = map[string]*window{}
	sum := sha256.Sum256([]byte(pageCSS))
	h.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	h.tmpl = template.Must(template.New("page").Parse(pageTemplate))
	template.Must(h.tmpl.New("self").Parse(selfTemplate))
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /a/{token}", h.answerGet)
	h.mux.HandleFunc("POST /a/{token}", h.answerPost)
	h.mux.HandleFunc("GET /a/{token}/thanks", h.answerThanks)
	h.mux.HandleFunc("GET /c/{token}", h.contactGet)
	h.mux.HandleFunc("POST /c/{token}", h.contactPost)
	h.mux.HandleFunc("GET /c/{token}/thanks", h.contactThanks)
	if _, ok := svc.(SelfService); ok {
		h.mux.HandleFunc("GET /r/{token}", h.selfGet)
		h.mux.HandleFunc("POST /r/{token}", h.selfPost)
		h.mux.HandleFunc("POST /r/{token}/regions", h.selfRegionsPost)
		h.mux.HandleFunc("POST /r/{token}/line", h.selfLINEPost)
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.notFound(w, r) })
	return h
}

// ServeHTTP sets the security headers on every response, then routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w, h.csp)
	h.mux.ServeHTTP(w, r)
}

// securityHeaders sets the headers every page of the package carries: no
// referrer (tokens are in URLs), the page's Content-Security-Policy, no
// sniffing, no caching, no framing.
func securityHeaders(w http.ResponseWriter, csp string) {
	hd := w.Header()
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Frame-Options", "DENY")
}

// token returns the request's token, or "" when it cannot be one (then
// the caller answers 404 without asking the Service).
func token(r *http.Request) string {
	t := r.PathValue("token")
	if t == "" || len(t) > maxTokenLen {
		return ""
	}
	for _, c := range t {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return ""
		}
	}
	return t
}

// csrf is the CSRF field of the forms of token's page for purpose ("a" or "c").
func (h *handler) csrf(purpose, token string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte("anpi/web " + purpose + "\x00" + token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameOrigin reports whether a POST may come from where the browser says it
// does: Sec-Fetch-Site when sent, else Origin when sent; requests with
// neither (old browsers, non-browsers) rely on the CSRF field alone.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin" || s == "none"
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// beginPost starts a POST for purpose ("a" answer, "c" contact check): the
// token from the path (404 when malformed), the locale from the query only
// (the body is not read before checkPost caps its size), then checkPost.
func (h *handler) beginPost(w http.ResponseWriter, r *http.Request, purpose string) (string, anpi.Locale, bool) {
	tok := token(r)
	if tok == "" {
		h.notFound(w, r)
		return "", "", false
	}
	l := anpi.Locale(r.URL.Query().Get("lang"))
	if !l.Valid() {
		l = anpi.Japanese
	}
	return tok, l, h.checkPost(w, r, purpose, tok, l)
}

// checkPost runs the checks every POST passes before the Service is asked:
// body size, same origin, CSRF field, rate limit. It writes the refusal and
// returns false when one fails.
func (h *handler) checkPost(w http.ResponseWriter, r *http.Request, purpose, tok string, l anpi.Locale) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		h.message(w, http.StatusBadRequest, l, msgs(l).BadRequest)
		return false
	}
	got := r.PostFormValue("csrf")
	if !sameOrigin(r) || !hmac.Equal([]byte(got), []byte(h.csrf(purpose, tok))) {
		h.message(w, http.StatusForbidden, l, msgs(l).Forbidden)
		return false
	}
	// The limit is counted after the CSRF check, so only tokens whose page
	// was served take room in the limiter: posts for made-up tokens cannot
	// fill it. Refused posts ask the Service nothing.
	if !h.limiter.allow(purpose+":"+tok, h.clock(), h.limit, h.window) {
		w.Header().Set("Retry-After", strconv.Itoa(int(h.window.Round(time.Second)/time.Second)))
		h.message(w, http.StatusTooManyRequests, l, msgs(l).TooMany)
		return false
	}
	return true
}

// lookup asks the Service about tok and answers the errors: 404 for
// NotFound (and malformed tokens), 500 otherwise. ok is false when it
// wrote a response.
func (h *handler) lookup(w http.ResponseWriter, r *http.Request, tok string) (info *anpi.TokenInfo, ok bool) {
	if tok == "" {
		h.notFound(w, r)
		return nil, false
	}
	info, err := h.svc.LookupToken(r.Context(), tok)
	if err != nil {
		h.fail(w, r, err, anpi.Japanese)
		return nil, false
	}
	return info, true
}

// fail answers an error of the Service.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error, l anpi.Locale) {
	switch anpi.Code(err) {
	case anpi.NotFound:
		h.notFound(w, r)
	case anpi.FailedPrecondition:
		h.message(w, http.StatusGone, l, msgs(l).Closed)
	default:
		if !errors.Is(err, context.Canceled) {
			h.log.ErrorContext(r.Context(), "anpi/web: page failed", "path", r.URL.Path, "err", err)
		}
		h.message(w, http.StatusInternalServerError, l, msgs(l).Internal)
	}
}

// notFound is the one 404 page: the same bytes whatever was wrong.
func (h *handler) notFound(w http.ResponseWriter, _ *http.Request) {
	h.render(w, http.StatusNotFound, &page{Lang: anpi.Japanese, M: msgs(anpi.Japanese), Message: notFoundText})
}

// notFoundText is bilingual: a 404 knows nobody's locale.
const notFoundText = "このリンクは無効です。 This link is not valid."

// message renders a page with one message.
func (h *handler) message(w http.ResponseWriter, status int, l anpi.Locale, text string) {
	h.render(w, status, &page{Lang: l, M: msgs(l), Message: text})
}

func (h *handler) render(w http.ResponseWriter, status int, p *page) {
	writePage(w, h.log, h.tmpl, status, p)
}

// writePage executes t with data into a buffer, then writes it with
// status: a template that fails sends a plain 500, never half a page. The
// answer pages, the registration page and the admin pages all write
// through it.
func writePage(w http.ResponseWriter, log *slog.Logger, t *template.Template, status int, data any) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		log.Error("anpi/web: rendering a page", "template", t.Name(), "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, b.String())
}

// locale is the page's locale: ?lang= (or the form's lang field) when
// valid, else the user's, else Japanese.
func locale(r *http.Request, info *anpi.TokenInfo) anpi.Locale {
	if l := anpi.Locale(r.FormValue("lang")); l.Valid() {
		return l
	}
	switch {
	case info == nil:
	case info.Locale.Valid():
		return info.Locale
	case info.User != nil && info.User.Locale.Valid():
		return info.User.Locale
	}
	return anpi.Japanese
}

// maxTracked is how many keys the login limiter (session.go) keeps
// before it sweeps the expired ones.
const maxTracked = 10000

// limiter counts POSTs per key in fixed windows.
type limiter struct {
	mu   sync.Mutex
	seen map[string]*window
	// order holds the windows in the order they started, oldest first:
	// allow drops the ended ones from its head, each once, so a POST
	// costs the same however many tokens are tracked. (Sweeping the whole
	// map once it held 10,000 keys cost a quarter of a millisecond per
	// POST while a large survey was answered.)
	order []keyStart
}

type window struct {
	start time.Time
	n     int
}

type keyStart struct {
	key   string
	start time.Time
}

func (l *limiter) allow(key string, now time.Time, limit int, every time.Duration) bool {
	sum := sha256.Sum256([]byte(key)) // keep no token in memory
	k := string(sum[:])
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.order) > 0 && now.Sub(l.order[0].start) >= every {
		ks := l.order[0]
		l.order = l.order[1:]
		if w := l.seen[ks.key]; w != nil && w.start.Equal(ks.start) {
			delete(l.seen, ks.key)
		}
	}
	w := l.seen[k]
	if w == nil || now.Sub(w.start) >= every || now.Before(w.start) {
		w = &window{start: now}
		l.seen[k] = w
		l.order = append(l.order, keyStart{key: k, start: now})
	}
	if w.n >= limit {
		return false
	}
	w.n++
	return true
}
