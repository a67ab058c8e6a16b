package anpi

import (
	"bytes"
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
