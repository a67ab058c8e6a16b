package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"
)

// oidcIdP is a small OpenID Connect provider on 127.0.0.1 for the
// server's wiring: it signs in whoever comes (as email) and checks the
// client. The refusals are anpi/web's tests.
type oidcIdP struct {
	*httptest.Server
	mu       sync.Mutex
	email    string // who signs in
	redirect string // the redirect_uri of the last authorize request
}

func (p *oidcIdP) set(email string) { p.mu.Lock(); p.email = email; p.mu.Unlock() }

func (p *oidcIdP) lastRedirect() string { p.mu.Lock(); defer p.mu.Unlock(); return p.redirect }

func newOIDCIdP(t *testing.T, email string) *oidcIdP {
	t.Helper()
	p := &oidcIdP{email: email}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k"}}, nil)
	require.NoError(t, err)
	nonces := map[string]string{} // by code
	var srv *httptest.Server
	mu := &p.mu
	m := http.NewServeMux()
	m.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": srv.URL, "authorization_endpoint": srv.URL + "/authorize",
			"token_endpoint": srv.URL + "/token", "jwks_uri": srv.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	m.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS256", Use: "sig"}}})
	})
	m.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		p.redirect = q.Get("redirect_uri")
		code := rand.Text()
		nonces[code] = q.Get("nonce")
		mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	m.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		mu.Lock()
		nonce, ok := nonces[r.FormValue("code")]
		delete(nonces, r.FormValue("code"))
		email := p.email
		mu.Unlock()
		if id != "anpi-client" || secret != "s3cret-of-the-client" || !ok {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		now := time.Now()
		payload, _ := json.Marshal(map[string]any{"iss": srv.URL, "aud": "anpi-client", "sub": "u1", "iat": now.Unix(),
			"exp": now.Add(time.Hour).Unix(), "nonce": nonce, "email": email, "email_verified": true})
		jws, err := signer.Sign(payload)
		require.NoError(t, err)
		raw, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "id_token": raw})
	})
	srv = httptest.NewServer(m)
	t.Cleanup(srv.Close)
	p.Server = srv
	return p
}

// TestOIDCSignInThroughTheServer signs the administrator in through the
// OIDC flags: the button on /admin/login, the provider, the callback
// under -base-url, the dashboard; an email without a login is refused.
func TestOIDCSignInThroughTheServer(t *testing.T) {
	idp := newOIDCIdP(t, defaultAdminEmail)
	r := start(t, t.TempDir(), "-oidc-name", "Corp", "-oidc-issuer", idp.URL, "-oidc-client-id", "anpi-client",
		"-oidc-client-secret", "s3cret-of-the-client")
	s := r.s
	require.Contains(t, r.out.String(), "OIDC redirect URL: "+s.URL()+"/admin/oidc/Corp/callback")

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar}
	resp, page := getWith(t, client, s.URL()+"/admin/login")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, page, `href="./oidc/Corp/start"`)

	resp, page = getWith(t, client, s.URL()+"/admin/oidc/Corp/start")
	require.Equal(t, http.StatusOK, resp.StatusCode, page+r.log.String())
	require.Equal(t, "/admin/", resp.Request.URL.Path, "signed in: on the dashboard")
	require.Equal(t, s.URL()+"/admin/oidc/Corp/callback", idp.lastRedirect())
	require.NotContains(t, page, "AnpiKit ログイン")
	require.NotContains(t, r.log.String(), "s3cret-of-the-client")

	// Someone the provider knows but the accounts do not: refused.
	idp.set("stranger@example.jp")
	jar, err = cookiejar.New(nil)
	require.NoError(t, err)
	client = &http.Client{Jar: jar}
	resp, page = getWith(t, client, s.URL()+"/admin/oidc/Corp/start")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Contains(t, page, "サインインできませんでした")
	resp, _ = getWith(t, client, s.URL()+"/admin/")
	require.Equal(t, "/admin/login", resp.Request.URL.Path, "no session")
}

func TestOIDCFlags(t *testing.T) {
	// Without -oidc-issuer there is no button and no route.
	r := start(t, t.TempDir())
	resp, page := get(t, r.s.URL()+"/admin/login")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, page, "oidc/")
	resp, _ = get(t, r.s.URL()+"/admin/oidc/SSO/start")
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.NotContains(t, r.out.String(), "OIDC redirect URL")

	// The secret comes from the environment and -h does not echo it.
	env := map[string]string{"ANPI_OIDC_ISSUER": "https://accounts.google.com", "ANPI_OIDC_CLIENT_ID": "cid",
		"ANPI_OIDC_CLIENT_SECRET": "envsecret-1234", "ANPI_OIDC_NAME": "Google", "ANPI_OIDC_HOSTED_DOMAIN": "corp.example"}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, func(k string) string { return env[k] }, &out, &out, nil)
	require.True(t, errors.Is(err, flag.ErrHelp))
	require.NotContains(t, out.String(), "envsecret")
	require.Contains(t, out.String(), "-oidc-client-secret\tANPI_OIDC_CLIENT_SECRET")
	c, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	p := c.oidcProvider("https://anpi.example.jp")
	require.Equal(t, "https://anpi.example.jp/admin/oidc/Google/callback", p.RedirectURL)
	require.Equal(t, "envsecret-1234", p.ClientSecret)
	require.Equal(t, "corp.example", p.HostedDomain)
	require.NoError(t, p.Validate())

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-oidc-issuer", "https://idp.example"}, "-oidc-client-id"},
		{[]string{"-oidc-issuer", "https://idp.example", "-oidc-client-id", "c"}, "-oidc-client-secret"},
		{[]string{"-oidc-client-id", "c"}, "need -oidc-issuer"},
		{[]string{"-oidc-tenant", "t"}, "need -oidc-issuer"},
		{[]string{"-oidc-issuer", "idp.example", "-oidc-client-id", "c", "-oidc-client-secret", "s"}, "Issuer"},
		{[]string{"-oidc-issuer", "https://idp.example", "-oidc-name", "a/b", "-oidc-client-id", "c", "-oidc-client-secret", "s"}, "name"},
	} {
		_, err := parseConfig(tc.args, noEnv, io.Discard)
		require.ErrorContains(t, err, tc.want, strings.Join(tc.args, " "))
	}
}
