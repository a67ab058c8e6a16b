package web

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// The administrator's cookies.
const (
	sessionCookie = "anpi_admin"       // the session ID
	loginCookie   = "anpi_admin_login" // the login form's nonce (double-submit CSRF before a session exists)
	langCookie    = "anpi_admin_lang"  // the pages' language
)

// session is a logged-in administrator. The map of sessions is keyed by the
// SHA-256 of the session ID, so the IDs themselves are kept nowhere but in
// the browsers' cookies.
type session struct {
	user    anpi.UserID
	expires time.Time
}

// sessions holds the administrators' sessions in memory: a server restart
// logs everyone out, and replicas do not share them (a load balancer in
// front needs sticky sessions).
type sessions struct {
	mu   sync.Mutex
	byID map[[32]byte]*session
	rand io.Reader
}

// maxSessions bounds the sessions kept before expired ones are swept.
const maxSessions = 10000

// newID returns a random 256-bit ID, base64url.
func newID(r io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", anpi.Errorf(anpi.Unavailable, "anpi/web: reading a session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// create starts a session for user until expires and returns its ID.
func (s *sessions) create(user anpi.UserID, now, expires time.Time) (string, error) {
	id, err := newID(s.rand)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= maxSessions {
		for k, v := range s.byID {
			if !now.Before(v.expires) {
				delete(s.byID, k)
			}
		}
	}
	s.byID[sha256.Sum256([]byte(id))] = &session{user: user, expires: expires}
	return id, nil
}

// get returns the live session of id, nil when unknown or expired (an
// expired one is removed).
func (s *sessions) get(id string, now time.Time) *session {
	if id == "" || len(id) > 64 {
		return nil
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.byID[k]
	if v == nil {
		return nil
	}
	if !now.Before(v.expires) {
		delete(s.byID, k)
		return nil
	}
	c := *v
	return &c
}

// remove ends the session of id.
func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, sha256.Sum256([]byte(id)))
}

// failures counts failed logins per key (an email, a client address) in
// fixed windows; only failures count, so an administrator who logs in
// right is never slowed down by his own successes.
type failures struct {
	mu   sync.Mutex
	seen map[[32]byte]*window
}

// blocked reports whether key has failed limit times in the current window.
func (f *failures) blocked(key string, now time.Time, limit int, every time.Duration) bool {
	k := sha256.Sum256([]byte(key))
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.seen[k]
	return w != nil && now.Sub(w.start) < every && !now.Before(w.start) && w.n >= limit
}

// fail counts a failure of key.
func (f *failures) fail(key string, now time.Time, every time.Duration) {
	k := sha256.Sum256([]byte(key)) // keep no email in memory longer than needed
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) >= maxTracked {
		for k, w := range f.seen {
			if now.Sub(w.start) >= every {
				delete(f.seen, k)
			}
		}
	}
	w := f.seen[k]
	if w == nil || now.Sub(w.start) >= every || now.Before(w.start) {
		w = &window{start: now}
		f.seen[k] = w
	}
	w.n++
}

// clientKey is the rate-limit key of the request's client: its address
// without the port. Behind a reverse proxy this is the proxy's, so the
// per-client limit becomes a limit on all clients together (the per-email
// limit still applies); a deployment that trusts a forwarded header can
// wrap the handler and set RemoteAddr.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "client:" + host
}

// setCookie sets an administrator cookie: HttpOnly, SameSite=Lax, Secure
// unless the handler serves plain HTTP on purpose; maxAge < 0 deletes it.
func (h *admin) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: h.cookiePath, MaxAge: maxAge, HttpOnly: true,
		Secure: !h.insecure, SameSite: http.SameSiteLaxMode})
}

// cookie returns the value of the request's cookie name, "" when absent.
func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(c.Value)
}
