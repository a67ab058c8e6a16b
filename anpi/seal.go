package anpi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"maps"
	"slices"
)

// Sealer encrypts private data at rest: stores seal every private contact
// address (and label) with it, so a copy of the database file alone reveals
// none. A sealed value names the key that sealed it, so keys can rotate:
// Open accepts every key the Sealer knows, Seal uses the current one, and
// Stale tells a store which values to re-seal.
//
// additionalData binds a sealed value to its place (stores pass the
// contact ID), so a value copied to another row does not open.
// Implementations must be safe for concurrent use.
type Sealer interface {
	Seal(plaintext, additionalData []byte) ([]byte, error)
	Open(sealed, additionalData []byte) ([]byte, error)
	// Stale reports whether sealed was made with a key other than the
	// current one (or is not a sealed value at all).
	Stale(sealed []byte) bool
}

// AESSealer is a Sealer using AES-256-GCM with random 96-bit nonces. A
// sealed value is: version byte 1, key-ID length, key ID, nonce, ciphertext
// and tag.
type AESSealer struct {
	current string
	aeads   map[string]cipher.AEAD
	rand    io.Reader
}

// sealVersion is the first byte of every value AESSealer seals.
const sealVersion = 1

// NewAESSealer returns a sealer that seals with keys[current] and opens
// values sealed with any of keys. Each key is 32 bytes (AES-256); key IDs
// are 1 to 255 bytes. rnd is the nonce source; nil means crypto/rand.
func NewAESSealer(current string, keys map[string][]byte, rnd io.Reader) (*AESSealer, error) {
	if _, ok := keys[current]; !ok {
		return nil, Errorf(InvalidArgument, "anpi: sealer: current key %q is not among the keys", current)
	}
	s := &AESSealer{current: current, aeads: make(map[string]cipher.AEAD, len(keys)), rand: rnd}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		key := keys[id]
		if id == "" || len(id) > 255 {
			return nil, Errorf(InvalidArgument, "anpi: sealer: key id %q must be 1 to 255 bytes", id)
		}
		if len(key) != 32 {
			return nil, Errorf(InvalidArgument, "anpi: sealer: key %q has %d bytes, want 32 (AES-256)", id, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, Errorf(InvalidArgument, "anpi: sealer: key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, Errorf(Internal, "anpi: sealer: key %q: %w", id, err)
		}
		s.aeads[id] = aead
	}
	return s, nil
}

// Seal encrypts plaintext with the current key.
func (s *AESSealer) Seal(plaintext, additionalData []byte) ([]byte, error) {
	aead := s.aeads[s.current]
	out := make([]byte, 0, 2+len(s.current)+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out = append(out, sealVersion, byte(len(s.current)))
	out = append(out, s.current...)
	nonce := out[len(out) : len(out)+aead.NonceSize()]
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return nil, Errorf(Unavailable, "anpi: seal: read nonce: %w", err)
	}
	out = out[:len(out)+aead.NonceSize()]
	return aead.Seal(out, nonce, plaintext, additionalData), nil
}

// Open decrypts a value sealed with any known key.
func (s *AESSealer) Open(sealed, additionalData []byte) ([]byte, error) {
	id, rest, err := splitSealed(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := s.aeads[id]
	if !ok {
		return nil, Errorf(FailedPrecondition, "anpi: open sealed value: unknown key %q", id)
	}
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, Errorf(InvalidArgument, "anpi: open sealed value: truncated")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], additionalData)
	if err != nil {
		return nil, Errorf(InvalidArgument, "anpi: open sealed value with key %q: %w", id, err)
	}
	return plain, nil
}

// Stale reports whether sealed was not sealed with the current key.
func (s *AESSealer) Stale(sealed []byte) bool {
	id, _, err := splitSealed(sealed)
	return err != nil || id != s.current
}

// KeyID returns the ID of the key that sealed a value.
func KeyID(sealed []byte) (string, error) {
	id, _, err := splitSealed(sealed)
	return id, err
}

func splitSealed(b []byte) (keyID string, rest []byte, err error) {
	if len(b) < 2 || b[0] != sealVersion {
		return "", nil, Errorf(InvalidArgument, "anpi: sealed value: unknown format")
	}
	n := int(b[1])
	if n == 0 || len(b) < 2+n {
		return "", nil, Errorf(InvalidArgument, "anpi: sealed value: truncated key id")
	}
	return string(b[2 : 2+n]), b[2+n:], nil
}

// String names the current key, never the key material.
func (s *AESSealer) String() string {
	return fmt.Sprintf("AESSealer(current=%q, keys=%d)", s.current, len(s.aeads))
}
