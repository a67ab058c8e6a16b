package web

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/anpikit/anpi/anpi"
)

// Accounts authenticates administrators by password and API clients by key.
// The admin handler (NewAdminHandler) asks it who is logging in; what that
// user may do is the Service's business (his role grants).
type Accounts interface {
	// Authenticate returns the user whose login is email and password.
	// Any mismatch (unknown email, wrong password) is the same
	// PermissionDenied error, so a caller cannot tell which.
	Authenticate(ctx context.Context, email, password string) (anpi.UserID, error)
	// APIKeyUser returns the user an API key acts for; PermissionDenied
	// when the key is unknown or revoked.
	APIKeyUser(ctx context.Context, key string) (anpi.UserID, error)
}

// AccountsOptions configures MemAccounts. A nil *AccountsOptions means
// defaults. The argon2id defaults are the second recommended option of
// RFC 9106 §4 (3 passes over 64 MiB, 4 lanes); tests may lower them.
// Higher costs are capped at 100 passes, 1 GiB and 64 lanes.
type AccountsOptions struct {
	// Rand is the source of salts and API keys; default crypto/rand.
	Rand io.Reader
	// Time is argon2id's number of passes; default 3.
	Time uint32
	// Memory is argon2id's memory in KiB; default 64 MiB.
	Memory uint32
	// Threads is argon2id's parallelism; default 4.
	Threads uint8
}

// Limits of the accounts' fields.
const (
	// MinPasswordLen is the least number of characters of a password.
	MinPasswordLen = 12
	// MaxPasswordLen bounds a password's bytes, so a login form cannot
	// make the server hash megabytes.
	MaxPasswordLen = 1024
	// maxLabelLen bounds an API key's label.
	maxLabelLen = 100
	// apiKeyPrefix starts every API key, so a leaked one is recognisable
	// (secret scanners) and a key is not mistaken for a password.
	apiKeyPrefix = "anpik_"
)

// errLogin is the one error of every failed login.
func errLogin() error { return anpi.Errorf(anpi.PermissionDenied, "anpi/web: wrong email or password") }

// errAPIKey is the one error of every refused API key.
func errAPIKey() error {
	return anpi.Errorf(anpi.PermissionDenied, "anpi/web: unknown or revoked API key")
}

// MemAccounts is an Accounts kept in memory: passwords hashed with
// argon2id (a per-password random salt, encoded with its parameters) and
// API keys kept as SHA-256 hashes only (a fast hash suits keys of 256
// random bits: nobody can guess them, so nothing needs slowing down).
// MarshalJSON and UnmarshalJSON let a server persist it in a file: the
// JSON holds hashes, never a password or a key. Safe for concurrent use.
type MemAccounts struct {
	rand         io.Reader
	time, memory uint32
	threads      uint8
	dummyOnce    sync.Once
	dummy        string // a hash checked for unknown emails, so they take as long as known ones
	mu           sync.RWMutex
	logins       map[string]*login // by lower-case email
	keys         []*apiKey
	loginsByUser map[anpi.UserID]string
}

type login struct {
	User  anpi.UserID `json:"user"`
	Email string      `json:"email"`
	Hash  string      `json:"hash"` // $argon2id$v=19$m=…,t=…,p=…$salt$hash
}

type apiKey struct {
	User   anpi.UserID `json:"user"`
	Label  string      `json:"label"`
	SHA256 string      `json:"sha256"` // hex of SHA-256 of the key
	sum    [sha256.Size]byte
}

// NewMemAccounts returns empty accounts.
func NewMemAccounts(opts *AccountsOptions) *MemAccounts {
	var o AccountsOptions
	if opts != nil {
		o = *opts
	}
	a := &MemAccounts{rand: cmp.Or[io.Reader](o.Rand, rand.Reader), time: cmp.Or(o.Time, 3), memory: cmp.Or(o.Memory, 64*1024),
		threads: cmp.Or(o.Threads, 4), logins: map[string]*login{}, loginsByUser: map[anpi.UserID]string{}}
	// Costs beyond what a stored hash may carry are cut to the bounds, so
	// every hash written can be read back.
	a.time, a.memory, a.threads = min(a.time, maxArgonTime), min(a.memory, maxArgonMemory), min(a.threads, maxArgonThreads)
	return a
}

// normEmail returns the key of an email: trimmed, lower case.
func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// SetPassword gives user a login (email, password), replacing his earlier
// one. InvalidArgument for an empty user, an email that is not a bare
// address, a password shorter than MinPasswordLen characters or longer than
// MaxPasswordLen bytes; AlreadyExists when another user logs in with email.
func (a *MemAccounts) SetPassword(user anpi.UserID, email, password string) error {
	if user == "" {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: set password: empty user id")
	}
	if ad, err := mail.ParseAddress(email); err != nil || ad.Address != email || ad.Name != "" {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: set password for %s: %q is not an email address", user, email)
	}
	if n := utf8.RuneCountInString(password); n < MinPasswordLen || !utf8.ValidString(password) {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: set password for %s: the password needs at least %d characters", user, MinPasswordLen)
	}
	if len(password) > MaxPasswordLen {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: set password for %s: the password is longer than %d bytes", user, MaxPasswordLen)
	}
	hash, err := a.hash(password)
	if err != nil {
		return err
	}
	key := normEmail(email)
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.logins[key]; l != nil && l.User != user {
		return anpi.Errorf(anpi.AlreadyExists, "anpi/web: set password for %s: email %s is another user's login", user, email)
	}
	if old, ok := a.loginsByUser[user]; ok {
		delete(a.logins, old)
	}
	a.logins[key] = &login{User: user, Email: email, Hash: hash}
	a.loginsByUser[user] = key
	return nil
}

// RemoveLogin removes user's password login (NotFound when he has none).
func (a *MemAccounts) RemoveLogin(user anpi.UserID) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	key, ok := a.loginsByUser[user]
	if !ok {
		return anpi.Errorf(anpi.NotFound, "anpi/web: remove login: user %s has none", user)
	}
	delete(a.logins, key)
	delete(a.loginsByUser, user)
	return nil
}

// hash returns the encoded argon2id hash of password under a fresh salt.
func (a *MemAccounts) hash(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(a.rand, salt); err != nil {
		return "", anpi.Errorf(anpi.Unavailable, "anpi/web: reading a salt: %w", err)
	}
	sum := argon2.IDKey([]byte(password), salt, a.time, a.memory, a.threads, 32)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, a.memory, a.time, a.threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum)), nil
}

// argonHash is a parsed encoded hash.
type argonHash struct {
	time, memory uint32
	threads      uint8
	salt, sum    []byte
}

// Bounds of the parameters a stored hash may ask for (1 GiB, 100 passes,
// 64 lanes: far above any sane setting), so a corrupt file cannot make a
// login allocate or spin without bound.
const (
	maxArgonMemory  = 1 << 20
	maxArgonTime    = 100
	maxArgonThreads = 64
)

// parseHash reads an encoded argon2id hash.
func parseHash(s string) (*argonHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, fmt.Errorf("not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return nil, fmt.Errorf("argon2 version %q: want v=%d", parts[2], argon2.Version)
	}
	var h argonHash
	var p uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &p); err != nil || n != 3 {
		return nil, fmt.Errorf("argon2 parameters %q", parts[3])
	}
	if h.time == 0 || h.time > maxArgonTime || h.memory == 0 || h.memory > maxArgonMemory || p == 0 || p > maxArgonThreads {
		return nil, fmt.Errorf("argon2 parameters %q out of range", parts[3])
	}
	h.threads = uint8(p)
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, fmt.Errorf("argon2 salt")
	}
	if h.sum, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.sum) < 16 {
		return nil, fmt.Errorf("argon2 hash")
	}
	return &h, nil
}

// check reports whether password matches the encoded hash, comparing in
// constant time.
func check(encoded, password string) bool {
	h, err := parseHash(encoded)
	if err != nil {
		return false
	}
	sum := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.sum)))
	return subtle.ConstantTimeCompare(sum, h.sum) == 1
}

// Authenticate implements Accounts. An unknown email costs one argon2id
// hash too, so the time taken does not tell which emails have logins.
func (a *MemAccounts) Authenticate(_ context.Context, email, password string) (anpi.UserID, error) {
	a.dummyOnce.Do(func() {
		a.dummy, _ = a.hash("anpi/web: no such login")
	})
	tooLong := len(password) > MaxPasswordLen
	if tooLong {
		password = password[:MaxPasswordLen] // still hashed, so it fails in the usual time; never accepted
	}
	a.mu.RLock()
	l := a.logins[normEmail(email)]
	var user anpi.UserID
	hash := a.dummy
	if l != nil {
		user, hash = l.User, l.Hash
	}
	a.mu.RUnlock()
	if !check(hash, password) || l == nil || password == "" || tooLong {
		return "", errLogin()
	}
	return user, nil
}

// UserByEmail implements EmailAccounts: the user whose login is email,
// compared without regard to case; NotFound when none. It is for a
// sign-in whose identity is proved elsewhere (OIDC): it checks no password.
func (a *MemAccounts) UserByEmail(_ context.Context, email string) (anpi.UserID, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if l := a.logins[normEmail(email)]; l != nil && email != "" {
		return l.User, nil
	}
	return "", anpi.Errorf(anpi.NotFound, "anpi/web: no login has this email")
}

// NewAPIKey returns a new API key acting for user, named label (unique
// per user: the name RevokeAPIKey takes). The key is returned once: only
// its SHA-256 is kept. It carries 256 random bits.
func (a *MemAccounts) NewAPIKey(user anpi.UserID, label string) (string, error) {
	if user == "" {
		return "", anpi.Errorf(anpi.InvalidArgument, "anpi/web: new API key: empty user id")
	}
	if strings.TrimSpace(label) == "" || len(label) > maxLabelLen || !utf8.ValidString(label) || strings.ContainsAny(label, "\x00\r\n") {
		return "", anpi.Errorf(anpi.InvalidArgument, "anpi/web: new API key for %s: label %q: want 1 to %d bytes on one line", user, label, maxLabelLen)
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(a.rand, b); err != nil {
		return "", anpi.Errorf(anpi.Unavailable, "anpi/web: new API key: reading randomness: %w", err)
	}
	key := apiKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	k := &apiKey{User: user, Label: label, sum: sha256.Sum256([]byte(key))}
	k.SHA256 = hex.EncodeToString(k.sum[:])
	a.mu.Lock()
	defer a.mu.Unlock()
	if slices.ContainsFunc(a.keys, func(o *apiKey) bool { return o.User == user && o.Label == label }) {
		return "", anpi.Errorf(anpi.AlreadyExists, "anpi/web: new API key for %s: label %q is taken", user, label)
	}
	a.keys = append(a.keys, k)
	return key, nil
}

// RevokeAPIKey revokes user's API key named label (NotFound when none).
func (a *MemAccounts) RevokeAPIKey(user anpi.UserID, label string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.keys, func(o *apiKey) bool { return o.User == user && o.Label == label })
	if i < 0 {
		return anpi.Errorf(anpi.NotFound, "anpi/web: revoke API key: user %s has no key %q", user, label)
	}
	a.keys = slices.Delete(a.keys, i, i+1)
	return nil
}

// APIKeyLabels returns the labels of user's API keys, sorted.
func (a *MemAccounts) APIKeyLabels(user anpi.UserID) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []string
	for _, k := range a.keys {
		if k.User == user {
			out = append(out, k.Label)
		}
	}
	slices.Sort(out)
	return out
}

// APIKeyUser implements Accounts. Every stored hash is compared, in
// constant time, so the time taken says nothing about which keys exist.
func (a *MemAccounts) APIKeyUser(_ context.Context, key string) (anpi.UserID, error) {
	if !strings.HasPrefix(key, apiKeyPrefix) || len(key) > 128 {
		return "", errAPIKey()
	}
	sum := sha256.Sum256([]byte(key))
	a.mu.RLock()
	defer a.mu.RUnlock()
	var user anpi.UserID
	for _, k := range a.keys {
		if subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1 {
			user = k.User
		}
	}
	if user == "" {
		return "", errAPIKey()
	}
	return user, nil
}

// accountsJSON is the persisted form of MemAccounts: hashes only.
type accountsJSON struct {
	Logins  []*login  `json:"logins"`
	APIKeys []*apiKey `json:"apiKeys"`
}

// MarshalJSON returns the logins (email and argon2id hash) and API keys
// (label and SHA-256), sorted: never a password or a key.
func (a *MemAccounts) MarshalJSON() ([]byte, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	out := accountsJSON{Logins: []*login{}, APIKeys: []*apiKey{}}
	for _, l := range a.logins {
		out.Logins = append(out.Logins, l)
	}
	slices.SortFunc(out.Logins, func(x, y *login) int { return cmp.Compare(x.User, y.User) })
	out.APIKeys = append(out.APIKeys, a.keys...)
	return json.Marshal(out)
}

// UnmarshalJSON replaces the accounts with those of data (as MarshalJSON
// writes it). It is all-or-nothing: a malformed entry is an InvalidArgument
// error naming it and changes nothing.
func (a *MemAccounts) UnmarshalJSON(data []byte) error {
	var in accountsJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: accounts: %w", err)
	}
	logins := map[string]*login{}
	byUser := map[anpi.UserID]string{}
	for i, l := range in.Logins {
		if l == nil || l.User == "" {
			return anpi.Errorf(anpi.InvalidArgument, "anpi/web: accounts: logins[%d]: no user", i)
		}
		if _, err := parseHash(l.Hash); err != nil {
			return anpi.Errorf(anpi.InvalidArgument, "anpi/web: accounts: logins[%d] (%s): %v", i, l.User, err)
		}
		key := normEmail(l.Email)
		if ad, err := mail.ParseAddress(l.Email); err != nil || ad.Address != l.Email {
			return anpi.Errorf(anpi.InvalidArgument, "anpi/web: accounts: logins[%d] (%s): %q is not an email address", i, l.User, l.Email)
		}
		if _, dup := logins[key]; dup {
			return anpi.Errorf(anpi.InvalidArgument, "anpi/web: accounts: logins[%d]: email %s twice", i, l.Email)
		}
		if _, dup := byUser[l.User]; dup {
			return anpi.Errorf(anpi.InvalidArgument, "anpi/web: accounts: logins[%d]: user %s twice", i, l.User)
		}
		logins[key], byUser[l.User] = l, key
	}
	keys := make([]*apiKey, 0, len(in.APIKeys))
	for i, k := range in.APIKeys {
		if k == nil || k.User == "" || k.Label == "" {
			return anpi.Errorf(anpi.InvalidArgument, "anpi/web: accounts: apiKeys[%d]: user and label are required", i)
		}
		b, err := hex.DecodeString(k.SHA256)
		if err != nil || len(b) != sha256.Size {
			return anpi.Errorf(anpi.InvalidArgument, "anpi/web: accounts: apiKeys[%d] (%s %q): sha256 is not 64 hex digits", i, k.User, k.Label)
		}
		copy(k.sum[:], b)
		keys = append(keys, k)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.logins, a.loginsByUser, a.keys = logins, byUser, keys
	return nil
}
