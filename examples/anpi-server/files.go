package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/anpikit/anpi/anpi"
)

// keyID names the sealing key in sealed values. A rotation would add a
// second key under another ID (anpi.NewAESSealer takes several).
const keyID = "k1"

// loadKey returns the 32-byte key that seals private contacts: the
// configured one (base64), or the one in <data>/key, generated there with
// mode 0600 the first time. A key that is not 32 bytes is refused: a wrong
// key would make every sealed contact unreadable.
func loadKey(configured, dataDir string) (key []byte, generated bool, err error) {
	if configured != "" {
		key, err := decodeKey(configured)
		if err != nil {
			return nil, false, fmt.Errorf("-encryption-key: %w", err)
		}
		return key, false, nil
	}
	path := filepath.Join(dataDir, "key")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := decodeKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return key, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, err
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	if err := writeFileAtomic(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), true); err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// decodeKey decodes a base64 key of 32 bytes.
func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%d bytes, want 32 (AES-256)", len(key))
	}
	return key, nil
}

// deriveKey returns a key for purpose derived from the sealing key
// (HMAC-SHA256), so that the CSRF keys of the pages survive a restart and
// are the same on every replica sharing the sealing key, without another
// secret to manage; a derived key tells nothing about the sealing key.
func deriveKey(key []byte, purpose string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("anpi-server " + purpose))
	return m.Sum(nil)
}

// newSealer returns the AES-256-GCM sealer of key.
func newSealer(key []byte) (anpi.Sealer, error) {
	return anpi.NewAESSealer(keyID, map[string][]byte{keyID: key}, nil)
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed, so a crash leaves the old file or the new
// one, never half of one. exclusive refuses to replace an existing file
// (a second server starting on the same directory at the same moment).
func writeFileAtomic(path string, data []byte, exclusive bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename it is gone already
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if exclusive {
		// A hard link fails when path exists, where a rename would replace it.
		if err := os.Link(tmp, path); err != nil {
			return err
		}
	} else if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the new directory entry; not every file system can
		d.Close()
	}
	return nil
}

// randomPassword returns a password of 20 characters drawn uniformly from
// an alphabet without look-alikes (56 characters: about 116 bits).
func randomPassword() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	out := make([]byte, 0, 20)
	buf := make([]byte, 32)
	for len(out) < cap(out) {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, c := range buf {
			// Bytes past the last whole multiple of 56 are dropped, so
			// every character is equally likely.
			if int(c) < 256/len(alphabet)*len(alphabet) && len(out) < cap(out) {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}
