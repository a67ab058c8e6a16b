package line

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"
)

// AccountLinkURL is where LINE's account-link dialog lives.
const AccountLinkURL = "https://access.line.me/dialog/bot/accountLink"

// NonceStore keeps account-link nonces between the moment our user proves
// who they are (Linker.Begin) and LINE's accountLink event (Webhook). Put
// it in the application's database so that several servers share it.
type NonceStore interface {
	// Put stores nonce for our userID until expires.
	Put(ctx context.Context, nonce, userID string, expires time.Time) error
	// Take returns the user a nonce was stored for and deletes it: a nonce
	// is good once. ok is false for an unknown or expired nonce.
	Take(ctx context.Context, nonce string) (userID string, ok bool, err error)
}

// Linker runs account linking, which binds a LINE user ID to one of our
// users:
//
//  1. the user writes to the account (or follows it); the application
//     calls Sender.IssueLinkToken for their LINE user ID and replies with a
//     link to its own login page carrying the link token;
//  2. on that page the user logs in; the application calls Begin with our
//     user ID and the link token and redirects the browser to the URL it
//     returns (LINE's account-link dialog);
//  3. LINE posts an accountLink event with the nonce; Webhook resolves it
//     through the NonceStore and calls Events.Linked(userID, lineUserID).
type Linker struct {
	nonces NonceStore
	ttl    time.Duration
	now    func() time.Time
}

// LinkerOptions configures a Linker. A nil *LinkerOptions means defaults.
type LinkerOptions struct {
	// TTL is how long a nonce is good; default 10 minutes, the lifetime of
	// a LINE link token.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewLinker returns a Linker storing nonces in nonces.
func NewLinker(nonces NonceStore, opts *LinkerOptions) (*Linker, error) {
	if nonces == nil {
		return nil, errors.New("line: linker: NonceStore is nil")
	}
	l := &Linker{nonces: nonces, ttl: 10 * time.Minute, now: time.Now}
	if opts != nil {
		if opts.TTL > 0 {
			l.ttl = opts.TTL
		}
		if opts.Now != nil {
			l.now = opts.Now
		}
	}
	return l, nil
}

// Begin stores a fresh nonce (144 random bits) for our userID and returns
// the URL of LINE's account-link dialog for linkToken and that nonce.
func (l *Linker) Begin(ctx context.Context, userID, linkToken string) (string, error) {
	if userID == "" || linkToken == "" {
		return "", errors.New("line: link: empty user ID or link token")
	}
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("line: link: nonce: %w", err)
	}
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	if err := l.nonces.Put(ctx, nonce, userID, l.now().Add(l.ttl)); err != nil {
		return "", fmt.Errorf("line: link: store nonce: %w", err)
	}
	q := url.Values{"linkToken": {linkToken}, "nonce": {nonce}}
	return AccountLinkURL + "?" + q.Encode(), nil
}

// MemoryNonces is an in-memory NonceStore for tests and single-server
// deployments. It is safe for concurrent use.
type MemoryNonces struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]memNonce
}

type memNonce struct {
	user    string
	expires time.Time
}

// NewMemoryNonces returns an empty store on clock now (nil: time.Now).
func NewMemoryNonces(now func() time.Time) *MemoryNonces {
	if now == nil {
		now = time.Now
	}
	return &MemoryNonces{now: now, m: map[string]memNonce{}}
}

// Put stores nonce for userID until expires, and drops expired nonces.
func (s *MemoryNonces) Put(_ context.Context, nonce, userID string, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[nonce] = memNonce{user: userID, expires: expires}
	return nil
}

// Take returns and deletes the user of nonce, if it has not expired.
func (s *MemoryNonces) Take(_ context.Context, nonce string) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[nonce]
	delete(s.m, nonce)
	if !ok || !s.now().Before(v.expires) {
		return "", false, nil
	}
	return v.user, true, nil
}
