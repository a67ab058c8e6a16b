package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// testURL returns the database URL of the tests, skipping the test when
// none is set.
func testURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv("ANPI_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("store/postgres: set ANPI_TEST_POSTGRES_URL to a PostgreSQL database (e.g. postgres://postgres@127.0.0.1:55432/anpi_test?sslmode=disable) to run these tests; .ci/run does")
	}
	return url
}

// newSchemaName returns a fresh schema name for one test: anpitest_ and 12
// random hex digits.
func newSchemaName(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return "anpitest_" + hex.EncodeToString(b[:])
}

// testSchema reserves a fresh schema for the test (the store creates it)
// and drops it, with everything in it, when the test ends: each test has
// a database of its own on one server, as riverdbtest does, so tests run
// in parallel.
func testSchema(t testing.TB) (url, schema string) {
	t.Helper()
	url = testURL(t)
	schema = newSchemaName(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, url) // a pool: the URL may carry pool_* settings
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer pool.Close()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return url, schema
}

// openTest opens a store in a fresh schema; it is closed (before the
// schema is dropped) when the test ends. opts may be nil; its Schema is
// replaced.
func openTest(t testing.TB, opts *Options) *Store {
	t.Helper()
	url, schema := testSchema(t)
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Sealer == nil {
		o.AllowPlaintextContacts = true
	}
	o.Schema = schema
	st, err := Open(context.Background(), url, &o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// rawPool returns a pool on the test database for checks made behind the
// store's back; it is closed when the test ends.
func rawPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testURL(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}
