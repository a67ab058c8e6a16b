package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/web"
)

// accountsFile is the web.Accounts of <data>/accounts.json: a
// web.MemAccounts read again when the file changes (an API key created with
// -new-api-key while the server runs), looked at no more than once a second.
// The file holds hashes only (argon2id for passwords, SHA-256 for API keys).
type accountsFile struct {
	path string
	log  *slog.Logger
	now  func() time.Time

	mu      sync.Mutex
	cur     *web.MemAccounts
	mod     time.Time
	size    int64
	checked time.Time
}

var _ web.Accounts = (*accountsFile)(nil)

// openAccounts reads path, or, when it does not exist, creates the
// administrator's login (email) with a random password, saves it and
// returns the password, to be shown once.
func openAccounts(path, email string, log *slog.Logger) (a *accountsFile, password string, err error) {
	a = &accountsFile{path: path, log: log, now: time.Now}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		acc := web.NewMemAccounts(nil)
		if password, err = randomPassword(); err != nil {
			return nil, "", err
		}
		if err := acc.SetPassword(adminID, email, password); err != nil {
			return nil, "", err
		}
		if err := saveAccounts(path, acc, true); err != nil {
			return nil, "", err
		}
	}
	if err := a.reload(); err != nil {
		return nil, "", err
	}
	return a, password, nil
}

// reload reads the file if it changed since the last read.
func (a *accountsFile) reload() error {
	fi, err := os.Stat(a.path)
	if err != nil {
		return err
	}
	if a.cur != nil && fi.ModTime().Equal(a.mod) && fi.Size() == a.size {
		return nil
	}
	b, err := os.ReadFile(a.path)
	if err != nil {
		return err
	}
	acc := web.NewMemAccounts(nil)
	if err := json.Unmarshal(b, acc); err != nil {
		return fmt.Errorf("%s: %w", a.path, err)
	}
	a.cur, a.mod, a.size = acc, fi.ModTime(), fi.Size()
	return nil
}

// get returns the current accounts, read again first when the file
// changed and a second has passed since the last look. A file that no
// longer reads keeps the accounts read before, with an error in the log.
func (a *accountsFile) get() *web.MemAccounts {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now := a.now(); now.Sub(a.checked) >= time.Second {
		a.checked = now
		if err := a.reload(); err != nil {
			a.log.Error("accounts not reloaded; keeping the ones read before", "err", err)
		}
	}
	return a.cur
}

// Authenticate implements web.Accounts.
func (a *accountsFile) Authenticate(ctx context.Context, email, password string) (anpi.UserID, error) {
	return a.get().Authenticate(ctx, email, password)
}

// APIKeyUser implements web.Accounts.
func (a *accountsFile) APIKeyUser(ctx context.Context, key string) (anpi.UserID, error) {
	return a.get().APIKeyUser(ctx, key)
}

// saveAccounts writes acc (hashes only) to path, mode 0600, atomically.
// exclusive refuses to replace an existing file.
func saveAccounts(path string, acc *web.MemAccounts, exclusive bool) error {
	b, err := json.MarshalIndent(acc, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, append(b, '\n'), exclusive); err != nil {
		return fmt.Errorf("save the accounts: %w", err)
	}
	return nil
}

// newAPIKey creates an API key for the administrator, named label, adds
// its hash to <data>/accounts.json and prints the key (shown only once).
// A running server picks it up within a second or two.
func newAPIKey(dataDir, label string, out io.Writer) error {
	path := filepath.Join(dataDir, "accounts.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist: start the server once on -data %s first", path, dataDir)
	}
	if err != nil {
		return err
	}
	acc := web.NewMemAccounts(nil)
	if err := json.Unmarshal(b, acc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	key, err := acc.NewAPIKey(adminID, label)
	if err != nil {
		return err
	}
	if err := saveAccounts(path, acc, false); err != nil {
		return err
	}
	fmt.Fprintf(out, "API key %q of %s (shown only this once; send it as \"Authorization: Bearer <key>\"):\n%s\n", label, adminID, key)
	return nil
}
