package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// testSealer returns a sealer with a fixed test key (never a real one).
func testSealer(t testing.TB, current string) anpi.Sealer {
	t.Helper()
	s, err := anpi.NewAESSealer(current, map[string][]byte{
		"k1": bytes.Repeat([]byte{1}, 32),
		"k2": bytes.Repeat([]byte{2}, 32),
	}, nil)
	require.NoError(t, err)
	return s
}

// openTest opens a new store in a temporary directory, closed at the end
// of the test.
func openTest(t testing.TB, opts *Options) *Store {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	if opts.Sealer == nil && !opts.AllowPlaintextContacts {
		opts.Sealer = testSealer(t, "k1")
	}
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "anpi.db"), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// execW runs a statement on the writer connection, outside the Store's
// methods (to set up or damage a database in tests).
func execW(t testing.TB, st *Store, query string, args ...any) error {
	t.Helper()
	return st.withWriter(context.Background(), func() error {
		_, err := st.w.conn.ExecContext(context.Background(), query, args...)
		return err
	})
}
