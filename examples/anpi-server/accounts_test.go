package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// TestNewAPIKeyIsPickedUpWithoutRestart creates an API key with -new-api-key
// beside a server's accounts: the accounts read it again once their file
// changed and a second has passed, and keep what they had when the file
// goes bad.
func TestNewAPIKeyIsPickedUpWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "accounts.json")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, password, err := openAccounts(path, defaultAdminEmail, log)
	require.NoError(t, err)
	require.NotEmpty(t, password)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	ctx := context.Background()
	user, err := a.Authenticate(ctx, defaultAdminEmail, password)
	require.NoError(t, err)
	require.Equal(t, adminID, user)

	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-data", dir, "-new-api-key", "ci"}, noEnv, &out, io.Discard, nil))
	key := regexp.MustCompile(`anpik_\S+`).FindString(out.String())
	require.NotEmpty(t, key, out.String())
	acct, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NotContains(t, string(acct), key, "only the key's hash is kept")

	_, err = a.APIKeyUser(ctx, key)
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "looked at the file less than a second ago")
	now = now.Add(time.Second)
	user, err = a.APIKeyUser(ctx, key)
	require.NoError(t, err)
	require.Equal(t, adminID, user)

	err = run(ctx, []string{"-data", dir, "-new-api-key", "ci"}, noEnv, io.Discard, io.Discard, nil)
	require.Equal(t, anpi.AlreadyExists, anpi.Code(err), "labels are unique")

	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	now = now.Add(time.Second)
	user, err = a.APIKeyUser(ctx, key)
	require.NoError(t, err, "a broken file keeps the accounts read before")
	require.Equal(t, adminID, user)

	err = run(ctx, []string{"-data", t.TempDir(), "-new-api-key", "ci"}, noEnv, io.Discard, io.Discard, nil)
	require.ErrorContains(t, err, "start the server once")
}

// TestProductionFirstStart: with a relay (-smtp), an empty store gets only
// its administrator, and there are no development pages.
func TestProductionFirstStart(t *testing.T) {
	r := start(t, t.TempDir(), "-smtp", "127.0.0.1:1", "-admin-email", "anpi-admin@example.co.jp")
	ctx := context.Background()
	out := r.out.String()
	require.Contains(t, out, "production mode")
	require.NotContains(t, out, "/dev/mail")
	m := passwordRE.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	user, err := r.s.accounts.Authenticate(ctx, "anpi-admin@example.co.jp", m[1])
	require.NoError(t, err)
	require.Equal(t, adminID, user)
	n, err := r.s.st.CountUsers(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	rs, err := r.s.st.ListRules(ctx)
	require.NoError(t, err)
	require.Empty(t, rs)
	grants, err := r.s.st.RoleGrants(ctx, adminID)
	require.NoError(t, err)
	require.Len(t, grants, 2)
	resp, _ := get(t, r.s.URL()+"/dev/mail")
	require.Equal(t, 404, resp.StatusCode)
}
