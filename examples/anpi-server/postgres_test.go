package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// TestPostgres runs the server on PostgreSQL (-postgres, in a schema of
// its own): first start seeds there, a simulated quake is mailed, and a
// second start on the same data directory finds the organisation and the
// contacts (sealed with the key kept in the data directory) again.
func TestPostgres(t *testing.T) {
	pgURL := os.Getenv("ANPI_TEST_POSTGRES_URL")
	if pgURL == "" {
		t.Skip("ANPI_TEST_POSTGRES_URL is not set: no PostgreSQL to test against (source .ci/postgres.sh && anpi_pg_start)")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	_, err := rand.Read(b)
	require.NoError(t, err)
	schema := "anpi_server_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, pgURL)
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	dir := t.TempDir()
	args := []string{"-postgres", pgURL, "-postgres-schema", schema}
	r := start(t, dir, args...)
	require.Contains(t, r.out.String(), "PostgreSQL, schema "+schema)
	require.Contains(t, r.out.String(), "password: ")
	n, err := r.s.st.CountUsers(ctx)
	require.NoError(t, err)
	require.Equal(t, 60, n)
	users, err := r.s.st.ListUsers(ctx, nil)
	require.NoError(t, err)
	want := 0
	for _, u := range users {
		for _, rg := range u.Regions {
			if rg == (anpi.Region{Kind: anpi.QuakeArea, Code: "520"}) {
				want++
			}
		}
	}
	require.Greater(t, want, 0)
	resp, err := http.PostForm(r.s.URL()+"/dev/quake", url.Values{"area": {"520"}, "intensity": {"6+"}, "status": {"通常"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	waitMail(t, r.s, want)
	resp, _ = get(t, r.s.URL()+"/readyz")
	require.Equal(t, 200, resp.StatusCode)
	require.NoError(t, r.stop(t))

	r2 := start(t, dir, args...)
	require.NotContains(t, r2.out.String(), "password")
	n, err = r2.s.st.CountUsers(ctx)
	require.NoError(t, err)
	require.Equal(t, 60, n)
	cs, err := r2.s.st.Contacts(ctx, "u0001")
	require.NoError(t, err)
	require.Equal(t, "u0001@example.jp", cs[0].Address)
}
