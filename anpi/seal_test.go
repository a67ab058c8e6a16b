package anpi

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestAESSealerRoundTripAndRotation(t *testing.T) {
	old, err := NewAESSealer("k1", map[string][]byte{"k1": key(1)}, nil)
	require.NoError(t, err)
	addr := []byte("hanako@example.net")
	sealed, err := old.Seal(addr, []byte("c1"))
	require.NoError(t, err)
	require.False(t, bytes.Contains(sealed, addr), "the address is not in the sealed bytes")
	id, err := KeyID(sealed)
	require.NoError(t, err)
	require.Equal(t, "k1", id)

	again, err := old.Seal(addr, []byte("c1"))
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "random nonces: equal addresses do not seal equally")

	plain, err := old.Open(sealed, []byte("c1"))
	require.NoError(t, err)
	require.Equal(t, addr, plain)

	_, err = old.Open(sealed, []byte("c2"))
	require.Equal(t, InvalidArgument, Code(err), "bound to its contact")

	rotated, err := NewAESSealer("k2", map[string][]byte{"k1": key(1), "k2": key(2)}, nil)
	require.NoError(t, err)
	require.True(t, rotated.Stale(sealed))
	plain, err = rotated.Open(sealed, []byte("c1"))
	require.NoError(t, err, "old values still open after rotation")
	resealed, err := rotated.Seal(plain, []byte("c1"))
	require.NoError(t, err)
	require.False(t, rotated.Stale(resealed))
	_, err = old.Open(resealed, []byte("c1"))
	require.Equal(t, FailedPrecondition, Code(err), "the old sealer does not know k2")
	require.NotContains(t, fmt.Sprint(rotated), string(key(2)))
}

func TestAESSealerRejectsBadInput(t *testing.T) {
	_, err := NewAESSealer("k", map[string][]byte{"k": []byte("short")}, nil)
	require.ErrorContains(t, err, "want 32")
	_, err = NewAESSealer("x", map[string][]byte{"k": key(1)}, nil)
	require.ErrorContains(t, err, `current key "x"`)
	s, err := NewAESSealer("k", map[string][]byte{"k": key(1)}, nil)
	require.NoError(t, err)
	for _, bad := range [][]byte{nil, {1}, {2, 1, 'k'}, {1, 5, 'k'}} {
		_, err := s.Open(bad, nil)
		require.Equal(t, InvalidArgument, Code(err))
		require.True(t, s.Stale(bad), "not a sealed value")
	}
	_, err = s.Open([]byte{1, 1, 'k', 0, 0}, nil)
	require.ErrorContains(t, err, "truncated")
	sealed, err := s.Seal([]byte("x"), nil)
	require.NoError(t, err)
	sealed[len(sealed)-1] ^= 1
	_, err = s.Open(sealed, nil)
	require.ErrorContains(t, err, "open sealed value")
}
