package anpi

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAnswerTokenRoundTrip(t *testing.T) {
	text, h, err := NewAnswerToken(nil)
	require.NoError(t, err)
	require.Len(t, text, 43)
	got, err := HashAnswerToken(text)
	require.NoError(t, err)
	require.Equal(t, h, got)

	other, h2, err := NewAnswerToken(nil)
	require.NoError(t, err)
	require.NotEqual(t, text, other)
	require.NotEqual(t, h, h2)
}

func TestAnswerTokenDeterministicWithInjectedRandomness(t *testing.T) {
	a, ha, err := NewAnswerToken(bytes.NewReader(make([]byte, TokenBytes)))
	require.NoError(t, err)
	b, hb, err := NewAnswerToken(bytes.NewReader(make([]byte, TokenBytes)))
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.Equal(t, ha, hb)

	_, _, err = NewAnswerToken(bytes.NewReader(make([]byte, TokenBytes-1)))
	require.Equal(t, Internal, Code(err), "short randomness: %v", err)
}

func TestHashAnswerTokenRejectsMalformed(t *testing.T) {
	for _, bad := range []string{"", "short", string(make([]byte, 43)), "++++++++++++++++++++++++++++++++++++++++++a"} {
		_, err := HashAnswerToken(bad)
		require.Equal(t, InvalidArgument, Code(err), "%q: %v", bad, err)
	}
}

func TestAnswerTokenUsable(t *testing.T) {
	now := time.Date(2024, 1, 1, 7, 10, 0, 0, time.UTC)
	tok := &AnswerToken{Hash: TokenHash{1}, SurveyID: "s", UserID: "u", CreatedAt: now}
	require.NoError(t, tok.Validate())
	require.True(t, tok.Usable(now))
	tok.ExpiresAt = now.Add(time.Hour)
	require.True(t, tok.Usable(now.Add(59*time.Minute)))
	require.False(t, tok.Usable(now.Add(time.Hour)))
	tok.ExpiresAt = time.Time{}
	tok.RevokedAt = now
	require.False(t, tok.Usable(now))

	require.Equal(t, InvalidArgument, Code((&AnswerToken{SurveyID: "s", UserID: "u", CreatedAt: now}).Validate()))
	require.Equal(t, InvalidArgument, Code((&AnswerToken{Hash: TokenHash{1}, UserID: "u", CreatedAt: now}).Validate()))
}

func TestShortAnswerToken(t *testing.T) {
	text, h, err := NewShortAnswerToken(nil)
	require.NoError(t, err)
	require.Len(t, text, 22, "128 bits in base64url")
	got, err := HashAnswerToken(text)
	require.NoError(t, err)
	require.Equal(t, h, got)
	_, err = HashAnswerToken(text[:21])
	require.Equal(t, InvalidArgument, Code(err))
}

// TestLocatedAnswerTokensSortInOrder: a located token's hash starts with
// its locator (time, counter), so tokens made one after another sort one
// after another; the rest of the hash is the SHA-256 of the text, which
// HashAnswerToken finds again; the locator takes 8 bytes and leaves 24
// random ones.
func TestLocatedAnswerTokensSortInOrder(t *testing.T) {
	at := time.Date(2030, 9, 1, 3, 10, 0, 0, time.UTC)
	var prev TokenHash
	for i, when := range []time.Time{at, at, at.Add(time.Second), at.Add(time.Second)} {
		text, h, err := NewLocatedAnswerToken(nil, when, uint32(i+1))
		require.NoError(t, err)
		require.Len(t, text, 43)
		got, err := HashAnswerToken(text)
		require.NoError(t, err)
		require.Equal(t, h, got)
		sum := sha256.Sum256([]byte(text))
		require.Equal(t, sum[:24], h[8:], "the SHA-256 of the text, after the locator")
		require.Equal(t, uint32(when.Unix()), binary.BigEndian.Uint32(h[:4]))
		require.Equal(t, uint32(i+1), binary.BigEndian.Uint32(h[4:8]))
		require.Positive(t, bytes.Compare(h[:], prev[:]), "token %d sorts after the one before", i)
		prev = h
	}
	// The randomness read is the 24 bytes after the locator.
	_, _, err := NewLocatedAnswerToken(bytes.NewReader(make([]byte, TokenBytes-TokenLocatorBytes)), at, 1)
	require.NoError(t, err)
	_, _, err = NewLocatedAnswerToken(bytes.NewReader(make([]byte, TokenBytes-TokenLocatorBytes-1)), at, 1)
	require.Equal(t, Internal, Code(err))

	// A short token has no locator: its hash is the SHA-256 of its text.
	short, hs, err := NewShortAnswerToken(nil)
	require.NoError(t, err)
	require.Equal(t, TokenHash(sha256.Sum256([]byte(short))), hs)
}
