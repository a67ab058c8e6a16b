package web_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/web"
)

// cheapArgon lowers argon2id's cost so tests run fast; the algorithm is the same.
func cheapArgon() *web.AccountsOptions { return &web.AccountsOptions{Time: 1, Memory: 64, Threads: 1} }

const adminPassword = "correct horse battery"

func TestAccountsPassword(t *testing.T) {
	ctx := context.Background()
	a := web.NewMemAccounts(cheapArgon())
	require.NoError(t, a.SetPassword("sato", "sato@corp.example", adminPassword))

	u, err := a.Authenticate(ctx, "sato@corp.example", adminPassword)
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("sato"), u)
	u, err = a.Authenticate(ctx, " Sato@Corp.Example ", adminPassword)
	require.NoError(t, err, "emails are compared without case")
	require.Equal(t, anpi.UserID("sato"), u)

	_, wrong := a.Authenticate(ctx, "sato@corp.example", adminPassword+"!")
	_, unknown := a.Authenticate(ctx, "nobody@corp.example", adminPassword)
	_, empty := a.Authenticate(ctx, "sato@corp.example", "")
	for _, err := range []error{wrong, unknown, empty} {
		require.Equal(t, anpi.PermissionDenied, anpi.Code(err))
		require.Equal(t, wrong.Error(), err.Error(), "unknown email and wrong password are one error")
	}

	// A new password replaces the old one; the old one stops working.
	require.NoError(t, a.SetPassword("sato", "sato2@corp.example", "another long password"))
	_, err = a.Authenticate(ctx, "sato@corp.example", adminPassword)
	require.Error(t, err)
	_, err = a.Authenticate(ctx, "sato2@corp.example", "another long password")
	require.NoError(t, err)
	require.NoError(t, a.RemoveLogin("sato"))
	_, err = a.Authenticate(ctx, "sato2@corp.example", "another long password")
	require.Error(t, err)
}

func TestAccountsSetPasswordRefuses(t *testing.T) {
	a := web.NewMemAccounts(cheapArgon())
	for _, tc := range []struct{ user, email, pw string }{
		{"sato", "sato@corp.example", ""},
		{"sato", "sato@corp.example", "short pw 11"},
		{"sato", "sato@corp.example", strings.Repeat("x", web.MaxPasswordLen+1)},
		{"sato", "not an email", adminPassword},
		{"sato", "Sato <sato@corp.example>", adminPassword},
		{"", "sato@corp.example", adminPassword},
	} {
		err := a.SetPassword(anpi.UserID(tc.user), tc.email, tc.pw)
		require.Equal(t, anpi.InvalidArgument, anpi.Code(err), "%+v: %v", tc, err)
	}
	require.NoError(t, a.SetPassword("sato", "sato@corp.example", "exactly 12ch"))

	// A password of the longest length works; one byte more is refused at
	// login, though its first MaxPasswordLen bytes are the password.
	long := strings.Repeat("長", web.MaxPasswordLen/3) + "a"
	require.Len(t, long, web.MaxPasswordLen)
	require.NoError(t, a.SetPassword("sato", "sato@corp.example", long))
	_, err := a.Authenticate(context.Background(), "sato@corp.example", long)
	require.NoError(t, err)
	_, err = a.Authenticate(context.Background(), "sato@corp.example", long+"x")
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err))
	err = a.SetPassword("kato", "SATO@corp.example", adminPassword)
	require.Equal(t, anpi.AlreadyExists, anpi.Code(err), "one email, one user")
}

func TestAccountsAPIKeys(t *testing.T) {
	ctx := context.Background()
	a := web.NewMemAccounts(cheapArgon())
	k1, err := a.NewAPIKey("sato", "monitoring")
	require.NoError(t, err)
	k2, err := a.NewAPIKey("kato", "monitoring")
	require.NoError(t, err)
	require.NotEqual(t, k1, k2)
	require.GreaterOrEqual(t, len(k1), 40, "at least 128 random bits, base64")
	_, err = a.NewAPIKey("sato", "monitoring")
	require.Equal(t, anpi.AlreadyExists, anpi.Code(err))
	_, err = a.NewAPIKey("sato", "")
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))

	u, err := a.APIKeyUser(ctx, k1)
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("sato"), u)
	u, err = a.APIKeyUser(ctx, k2)
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("kato"), u)
	for _, bad := range []string{"", k1 + "x", k1[:len(k1)-1], "anpik_" + strings.Repeat("A", 43)} {
		_, err = a.APIKeyUser(ctx, bad)
		require.Equal(t, anpi.PermissionDenied, anpi.Code(err), bad)
	}
	require.Equal(t, []string{"monitoring"}, a.APIKeyLabels("sato"))
	require.NoError(t, a.RevokeAPIKey("sato", "monitoring"))
	_, err = a.APIKeyUser(ctx, k1)
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "revoked")
	_, err = a.APIKeyUser(ctx, k2)
	require.NoError(t, err, "the other user's key still works")
	require.Equal(t, anpi.NotFound, anpi.Code(a.RevokeAPIKey("sato", "monitoring")))
}

func TestAccountsJSONRoundTrip(t *testing.T) {
	ctx := context.Background()
	a := web.NewMemAccounts(cheapArgon())
	require.NoError(t, a.SetPassword("sato", "sato@corp.example", adminPassword))
	require.NoError(t, a.SetPassword("kato", "kato@corp.example", "kato's own passphrase"))
	key, err := a.NewAPIKey("sato", "ci")
	require.NoError(t, err)

	data, err := json.Marshal(a)
	require.NoError(t, err)
	for _, secret := range []string{adminPassword, "kato's own passphrase", key, strings.TrimPrefix(key, "anpik_")} {
		require.NotContains(t, string(data), secret)
	}
	require.Contains(t, string(data), "$argon2id$v=19$m=64,t=1,p=1$")

	// Loaded with other (default) cost parameters: the stored ones are used.
	b := web.NewMemAccounts(nil)
	require.NoError(t, json.Unmarshal(data, b))
	u, err := b.Authenticate(ctx, "kato@corp.example", "kato's own passphrase")
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("kato"), u)
	_, err = b.Authenticate(ctx, "kato@corp.example", adminPassword)
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err))
	u, err = b.APIKeyUser(ctx, key)
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("sato"), u)

	again, err := json.Marshal(b)
	require.NoError(t, err)
	require.JSONEq(t, string(data), string(again))
}

func TestAccountsUnmarshalAllOrNothing(t *testing.T) {
	ctx := context.Background()
	a := web.NewMemAccounts(cheapArgon())
	require.NoError(t, a.SetPassword("sato", "sato@corp.example", adminPassword))
	for _, bad := range []string{
		`{"logins":[{"user":"x","email":"x@corp.example","hash":"plain"}]}`,
		`{"logins":[{"user":"x","email":"x@corp.example","hash":"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}]}`,
		`{"logins":[{"user":"","email":"x@corp.example","hash":""}]}`,
		`{"logins":[{"user":"x","email":"x@corp.example","hash":"$argon2id$v=19$m=64,t=1000000,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}]}`,
		`{"apiKeys":[{"user":"x","label":"l","sha256":"zz"}]}`,
		`{"logins":`,
	} {
		err := json.Unmarshal([]byte(bad), a)
		require.Error(t, err, bad)
		if _, ok := err.(*json.SyntaxError); !ok {
			require.Equal(t, anpi.InvalidArgument, anpi.Code(err), bad)
		}
		_, err = a.Authenticate(ctx, "sato@corp.example", adminPassword)
		require.NoError(t, err, "a refused file changes nothing")
	}
}

func TestAccountsConcurrent(t *testing.T) {
	ctx := context.Background()
	a := web.NewMemAccounts(cheapArgon())
	require.NoError(t, a.SetPassword("sato", "sato@corp.example", adminPassword))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := a.Authenticate(ctx, "sato@corp.example", adminPassword)
			require.NoError(t, err)
			_, err = a.NewAPIKey("sato", "k"+string(rune('a'+i)))
			require.NoError(t, err)
			_, err = json.Marshal(a)
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Len(t, a.APIKeyLabels("sato"), 8)
}

// FuzzAccountsUnmarshal feeds arbitrary files to UnmarshalJSON: it never
// panics, and a file it accepts marshals back to one it accepts again.
func FuzzAccountsUnmarshal(f *testing.F) {
	a := web.NewMemAccounts(cheapArgon())
	if err := a.SetPassword("sato", "sato@corp.example", adminPassword); err != nil {
		f.Fatal(err)
	}
	if _, err := a.NewAPIKey("sato", "ci"); err != nil {
		f.Fatal(err)
	}
	seed, err := json.Marshal(a)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"logins":[{"user":"x","email":"x@corp.example","hash":"$argon2id$v=19$m=1,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"}]}`))
	f.Add([]byte(`{"apiKeys":[{"user":"x","label":"l","sha256":"00"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b := web.NewMemAccounts(cheapArgon())
		if err := b.UnmarshalJSON(data); err != nil {
			require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
			return
		}
		out, err := json.Marshal(b)
		require.NoError(t, err)
		require.NoError(t, web.NewMemAccounts(cheapArgon()).UnmarshalJSON(out))
	})
}

// BenchmarkAuthenticate measures one login with the default argon2id cost
// (RFC 9106's second recommendation: 3 passes over 64 MiB, 4 lanes), the
// price a login and a failed guess pay; the SHA-256 API key lookup is the
// baseline in the same run.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	a := web.NewMemAccounts(nil)
	if err := a.SetPassword("sato", "sato@corp.example", adminPassword); err != nil {
		b.Fatal(err)
	}
	key, err := a.NewAPIKey("sato", "ci")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("password", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.Authenticate(ctx, "sato@corp.example", adminPassword); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/login")
	})
	b.Run("apikey", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.APIKeyUser(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/lookup")
	})
}
