package anpi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"io"
	"time"
)

// TokenBytes is the length of an answer token: 32 bytes, the first
// TokenLocatorBytes of them a locator (see TokenHash) and the other 24
// random: 192 bits, half again what guessing resistance needs, so a token
// stays unguessable even if a few bits of the generator are weak.
const TokenBytes = 32

// TokenLocatorBytes is the length of a long token's locator: when it was
// made (Unix seconds) and a counter, big-endian, so that tokens made one
// after another sort one after another. The locator is no secret.
const TokenLocatorBytes = 8

// ShortTokenBytes is the randomness of a short answer token: 128 bits, the
// least the design allows, for SMS, where a 70-character message must hold
// the link and still say what happened. A short token has no locator.
const ShortTokenBytes = 16

// tokenLen and shortTokenLen are the lengths of a token's text: TokenBytes
// and ShortTokenBytes in unpadded base64url (43 and 22 characters).
var (
	tokenLen      = base64.RawURLEncoding.EncodedLen(TokenBytes)
	shortTokenLen = base64.RawURLEncoding.EncodedLen(ShortTokenBytes)
)

// TokenHash is the key under which a store keeps an answer token: for a
// long token, its locator followed by the first 24 bytes of the SHA-256 of
// its text; for a short one, the SHA-256 of its text. Stores keep only
// this, so a copy of the database holds no usable link (the random part
// of a token is not in it), and since stores order tokens by it, the
// tokens of a fan-out, made one after another, are appended to a store's
// index rather than each written to a page of its own (HashAnswerToken).
type TokenHash [sha256.Size]byte

// AnswerToken is what a store keeps of one answer link: the hash of the
// token that the link carries, whom it answers for, and until when.
// A recipient may hold several tokens for one survey (one per message sent);
// each answers for the same (survey, user).
type AnswerToken struct {
	Hash      TokenHash `json:"hash"`
	SurveyID  SurveyID  `json:"surveyId"`
	UserID    UserID    `json:"userId"`
	CreatedAt time.Time `json:"createdAt"`
	// ExpiresAt is when the token stops working; zero means when the
	// survey closes.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// RevokedAt is when the token was revoked; zero while it is valid.
	RevokedAt time.Time `json:"revokedAt,omitzero"`
}

// Clone returns a copy of t.
func (t *AnswerToken) Clone() *AnswerToken { c := *t; return &c }

// Usable reports whether t may answer at now: not revoked and not expired.
// Whether its survey is still open is the caller's to check.
func (t *AnswerToken) Usable(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Admits reports whether t lets r be recorded: it answers for r's survey
// and user and is usable at r.At. Stores check it for a response that
// names the token it came through (Response.ViaToken).
func (t *AnswerToken) Admits(r *Response) bool {
	return t != nil && r != nil && t.SurveyID == r.SurveyID && t.UserID == r.UserID && t.Usable(r.At)
}

// Validate checks a token about to be stored.
func (t *AnswerToken) Validate() error {
	if t.Hash == (TokenHash{}) {
		return Errorf(InvalidArgument, "anpi: answer token: hash is required")
	}
	if t.SurveyID == "" || t.UserID == "" {
		return Errorf(InvalidArgument, "anpi: answer token: survey and user are required")
	}
	if t.CreatedAt.IsZero() {
		return Errorf(InvalidArgument, "anpi: answer token: created-at is required")
	}
	return nil
}

// NewAnswerToken returns a fresh token's text (TokenBytes random bytes in
// unpadded base64url, 43 characters, safe in a URL path) and its hash.
// rnd is the randomness; nil means crypto/rand. Its locator is random too:
// a Service makes its tokens with a time and a counter there instead
// (NewLocatedAnswerToken), so that they are stored in order.
func NewAnswerToken(rnd io.Reader) (string, TokenHash, error) {
	return newAnswerToken(rnd, TokenBytes, nil)
}

// NewLocatedAnswerToken is NewAnswerToken with the locator made of at (Unix
// seconds) and n, big-endian: tokens made with increasing (at, n) are
// stored one after another.
func NewLocatedAnswerToken(rnd io.Reader, at time.Time, n uint32) (string, TokenHash, error) {
	var loc [TokenLocatorBytes]byte
	binary.BigEndian.PutUint32(loc[:4], uint32(at.Unix()))
	binary.BigEndian.PutUint32(loc[4:], n)
	return newAnswerToken(rnd, TokenBytes, loc[:])
}

// NewShortAnswerToken is NewAnswerToken with ShortTokenBytes of randomness
// (22 characters) and no locator, for links in SMS.
func NewShortAnswerToken(rnd io.Reader) (string, TokenHash, error) {
	return newAnswerToken(rnd, ShortTokenBytes, nil)
}

// newAnswerToken makes a token of n bytes: loc, then random bytes.
func newAnswerToken(rnd io.Reader, n int, loc []byte) (string, TokenHash, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	b := make([]byte, n)
	k := copy(b, loc)
	if _, err := io.ReadFull(rnd, b[k:]); err != nil {
		return "", TokenHash{}, Errorf(Internal, "anpi: answer token: read randomness: %w", err)
	}
	text := base64.RawURLEncoding.EncodeToString(b)
	return text, tokenHash(text, b), nil
}

// tokenHash is the TokenHash of a token whose text is text and bytes raw.
func tokenHash(text string, raw []byte) TokenHash {
	sum := sha256.Sum256([]byte(text))
	if len(raw) != TokenBytes {
		return sum
	}
	var h TokenHash
	copy(h[:TokenLocatorBytes], raw)
	copy(h[TokenLocatorBytes:], sum[:])
	return h
}

// legacyTokenHash is the key of a long token made before tokens had
// locators: the SHA-256 of its text. Lookups fall back to it, so that the
// links sent before are still answered.
func legacyTokenHash(text string) (TokenHash, bool) {
	return sha256.Sum256([]byte(text)), len(text) == tokenLen
}

// HashAnswerToken returns the hash of a token's text, after checking that
// it has the form NewAnswerToken or NewShortAnswerToken gives. A malformed token is
// InvalidArgument; callers answering an HTTP request should treat it like
// an unknown one, so a prober learns nothing from the difference.
func HashAnswerToken(text string) (TokenHash, error) {
	if len(text) != tokenLen && len(text) != shortTokenLen {
		return TokenHash{}, Errorf(InvalidArgument, "anpi: answer token: want %d or %d characters, got %d", shortTokenLen, tokenLen, len(text))
	}
	raw, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return TokenHash{}, Errorf(InvalidArgument, "anpi: answer token: not base64url")
	}
	return tokenHash(text, raw), nil
}
