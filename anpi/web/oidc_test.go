package web_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/web"
)

// fakeIdP is an OpenID Connect provider on 127.0.0.1: discovery, JWKS (an
// RSA key made for the test), an authorize endpoint that signs in at once
// and redirects back with a code, and a token endpoint that checks the
// client, the redirect URL and PKCE, and returns an ID token it signs.
type fakeIdP struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer jose.Signer
	now    func() time.Time

	mu     sync.Mutex
	claims map[string]any              // the signed-in user's claims
	edit   func(claims map[string]any) // changes the next tokens' claims (a test's attack)
	codes  map[string]*fakeGrant       // issued codes
	tokens []string                    // ID tokens issued
	auths  []url.Values                // authorize requests
	down   bool                        // discovery and token endpoints answer 503
}

type fakeGrant struct {
	nonce, challenge, redirect string
}

const (
	fakeClientID     = "anpi-admin-client"
	fakeClientSecret = "client secret 1234"
)

func newFakeIdP(t *testing.T, now func() time.Time) *fakeIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1", Algorithm: "RS256"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	require.NoError(t, err)
	f := &fakeIdP{t: t, key: key, signer: signer, now: now, codes: map[string]*fakeGrant{}}
	m := http.NewServeMux()
	m.HandleFunc("GET /.well-known/openid-configuration", f.discovery)
	m.HandleFunc("GET /jwks", f.jwks)
	m.HandleFunc("GET /authorize", f.authorize)
	m.HandleFunc("POST /token", f.token)
	f.srv = httptest.NewServer(m)
	t.Cleanup(f.srv.Close)
	f.claims = map[string]any{"sub": "sub-boss", "email": "Boss@Corp.example", "email_verified": true}
	return f
}

func (f *fakeIdP) isDown(w http.ResponseWriter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}
	return f.down
}

func (f *fakeIdP) discovery(w http.ResponseWriter, r *http.Request) {
	if f.isDown(w) {
		return
	}
	u := f.srv.URL
	json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
		"jwks_uri": u + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"}, "response_types_supported": []string{"code"}})
}

func (f *fakeIdP) jwks(w http.ResponseWriter, r *http.Request) {
	json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

// authorize signs the user in at once and redirects to redirect_uri with
// a code, as a provider does after its login page.
func (f *fakeIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.auths = append(f.auths, q)
	f.mu.Unlock()
	if q.Get("client_id") != fakeClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		!strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		http.Error(w, "bad authorize request", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	f.mu.Lock()
	f.codes[code] = &fakeGrant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	f.mu.Unlock()
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
}

// token exchanges a code (once) for an ID token signed with the test's key.
func (f *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	if f.isDown(w) {
		return
	}
	require.NoError(f.t, r.ParseForm())
	id, secret, ok := r.BasicAuth()
	if ok { // RFC 6749 §2.3.1: both are form-encoded inside Basic
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.codes[r.PostForm.Get("code")]
	delete(f.codes, r.PostForm.Get("code"))
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	w.Header().Set("Content-Type", "application/json")
	if id != fakeClientID || secret != fakeClientSecret || g == nil || g.redirect != r.PostForm.Get("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	now := f.now()
	c := map[string]any{"iss": f.srv.URL, "aud": fakeClientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nonce": g.nonce}
	for k, v := range f.claims {
		c[k] = v
	}
	if f.edit != nil {
		f.edit(c)
	}
	payload, err := json.Marshal(c)
	require.NoError(f.t, err)
	jws, err := f.signer.Sign(payload)
	require.NoError(f.t, err)
	raw, err := jws.CompactSerialize()
	require.NoError(f.t, err)
	f.tokens = append(f.tokens, raw)
	json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer", "expires_in": 3600, "id_token": raw})
}

// provider is the OIDCProvider configuration of the fake for the admin
// handler served at https://admin.example.
func (f *fakeIdP) provider(name string) web.OIDCProvider {
	return web.OIDCProvider{Name: name, Issuer: f.srv.URL, ClientID: fakeClientID, ClientSecret: fakeClientSecret,
		RedirectURL: "https://admin.example/oidc/" + name + "/callback"}
}

// withOIDC replaces the environment's handler by one with providers.
func (e *adminEnv) withOIDC(providers ...web.OIDCProvider) {
	e.h = web.NewAdminHandler(e.svc, e.acc, &web.AdminOptions{Clock: e.clock.Now, CSRFKey: []byte("admin test key"),
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), OIDC: providers})
}

// noRedirect returns a client that shows redirects instead of following them.
func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// oidcStart follows the button of provider name to the provider, which
// signs in and redirects back: it returns the callback path (with its
// query) the browser would open next.
func (c *client) oidcStart(name string) string {
	t := c.e.t
	t.Helper()
	r := c.get("/oidc/" + name + "/start")
	require.Equal(t, http.StatusSeeOther, r.code, r.body+c.e.logs.String())
	res, err := noRedirect().Get(r.hdr.Get("Location"))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusFound, res.StatusCode)
	back, err := url.Parse(res.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "admin.example", back.Host)
	return back.RequestURI()
}

// requireNoSession checks that c is not logged in.
func (c *client) requireNoSession() {
	c.e.t.Helper()
	require.Empty(c.e.t, c.cookies["anpi_admin"])
	r := c.get("/")
	require.Equal(c.e.t, http.StatusSeeOther, r.code, "no session")
	require.Equal(c.e.t, "./login", r.hdr.Get("Location"))
}

func TestOIDCSignIn(t *testing.T) {
	e := newAdminEnv(t)
	idp := newFakeIdP(t, e.clock.Now)
	e.withOIDC(idp.provider("Fake"))

	c := e.client()
	r := c.get("/login")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, `href="./oidc/Fake/start"`, "one button per provider")
	c.cookies["anpi_admin"] = "planted-session-id-planted-session-id-123456" // fixation attempt

	cb := c.oidcStart("Fake")
	idp.mu.Lock()
	auth := idp.auths[len(idp.auths)-1]
	idp.mu.Unlock()
	require.Equal(t, "https://admin.example/oidc/Fake/callback", auth.Get("redirect_uri"))
	require.NotEmpty(t, auth.Get("nonce"))
	require.NotEmpty(t, auth.Get("code_challenge"))
	require.GreaterOrEqual(t, len(auth.Get("state")), 43, "256 random bits")

	// The callback sets the session cookie as a password login does.
	req := httptest.NewRequest(http.MethodGet, "https://admin.example"+cb, nil)
	req.AddCookie(&http.Cookie{Name: "anpi_admin_oidc", Value: c.cookies["anpi_admin_oidc"]})
	req.AddCookie(&http.Cookie{Name: "anpi_admin", Value: "planted-session-id-planted-session-id-123456"})
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String()+e.logs.String())
	require.Equal(t, "../../", w.Header().Get("Location"), "back to the dashboard, relative to the mount point")
	var sess *http.Cookie
	for _, ck := range w.Result().Cookies() {
		if ck.Name == "anpi_admin" {
			sess = ck
		}
	}
	require.NotNil(t, sess)
	require.True(t, sess.HttpOnly)
	require.True(t, sess.Secure)
	require.Equal(t, http.SameSiteLaxMode, sess.SameSite)
	require.Equal(t, 12*3600, sess.MaxAge)
	require.NotEqual(t, "planted-session-id-planted-session-id-123456", sess.Value, "a new session, not the planted one")

	c.cookies = map[string]string{"anpi_admin": sess.Value}
	r = c.get("/")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, bTitle, "signed in as boss (the email matched without regard to case)")
	require.Contains(t, e.logs.String(), "via=oidc")

	// Nothing secret reaches the log: no code, state, nonce or token.
	idp.mu.Lock()
	tok := idp.tokens[len(idp.tokens)-1]
	idp.mu.Unlock()
	u, _ := url.Parse(cb)
	for _, s := range []string{u.Query().Get("code"), u.Query().Get("state"), auth.Get("nonce"), tok, sess.Value, fakeClientSecret} {
		require.NotContains(t, e.logs.String(), s)
	}
}

func TestOIDCRefusals(t *testing.T) {
	e := newAdminEnv(t)
	idp := newFakeIdP(t, e.clock.Now)
	e.withOIDC(idp.provider("Fake"))
	const generic = "サインインできませんでした"

	// refused runs a sign-in whose tokens edit changes, and checks it
	// fails with the generic message and no session.
	refused := func(name string, edit func(map[string]any)) {
		t.Helper()
		idp.mu.Lock()
		idp.edit = edit
		idp.mu.Unlock()
		c := e.client()
		cb := c.oidcStart("Fake")
		r := c.get(cb)
		require.Equal(t, http.StatusUnauthorized, r.code, name+": "+r.body)
		require.Contains(t, r.body, generic, name)
		require.Contains(t, r.body, `action="../../login"`, name+": the login form posts to the login page")
		c.requireNoSession()
	}
	refused("wrong nonce", func(c map[string]any) { c["nonce"] = "another nonce" })
	refused("no nonce", func(c map[string]any) { delete(c, "nonce") })
	refused("wrong audience", func(c map[string]any) { c["aud"] = "someone-else" })
	refused("expired", func(c map[string]any) { c["exp"] = e.clock.Now().Add(-time.Minute).Unix() })
	refused("wrong issuer", func(c map[string]any) { c["iss"] = "https://evil.example" })
	refused("unverified email", func(c map[string]any) { c["email_verified"] = false })
	refused("unknown email", func(c map[string]any) { c["email"] = "nobody@corp.example" })
	refused("no email", func(c map[string]any) { delete(c, "email") })
	require.Contains(t, e.logs.String(), "wrong nonce")
	require.Contains(t, e.logs.String(), "expected audience")
	require.Contains(t, e.logs.String(), "token is expired")

	idp.mu.Lock()
	idp.edit = nil
	idp.mu.Unlock()

	// A token signed by another key is refused (the JWKS is checked).
	other := newFakeIdP(t, e.clock.Now)
	idp.mu.Lock()
	idp.signer = other.signer
	idp.mu.Unlock()
	c := e.client()
	r := c.get(c.oidcStart("Fake"))
	require.Equal(t, http.StatusUnauthorized, r.code)
	c.requireNoSession()
	idp.mu.Lock()
	idp.signer, _ = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: idp.key, KeyID: "k1"}}, nil)
	idp.mu.Unlock()

	// A wrong state, or none.
	c = e.client()
	cb := c.oidcStart("Fake")
	u, _ := url.Parse(cb)
	q := u.Query()
	q.Set("state", "forged-state")
	r = c.get(u.Path + "?" + q.Encode())
	require.Equal(t, http.StatusForbidden, r.code)
	require.Contains(t, r.body, generic)
	c.requireNoSession()
	q.Del("state")
	r = c.get(u.Path + "?" + q.Encode())
	require.Equal(t, http.StatusForbidden, r.code)

	// A state started in another browser (an attacker's sign-in handed
	// to a victim) is refused: the state is bound to a cookie.
	attacker, victim := e.client(), e.client()
	cb = attacker.oidcStart("Fake")
	r = victim.get(cb)
	require.Equal(t, http.StatusForbidden, r.code)
	victim.requireNoSession()

	// A state works once: replaying a callback that signed in fails.
	c = e.client()
	cb = c.oidcStart("Fake")
	state := c.cookies["anpi_admin_oidc"]
	r = c.get(cb)
	require.Equal(t, http.StatusSeeOther, r.code, r.body+e.logs.String())
	replay := e.client()
	replay.cookies["anpi_admin_oidc"] = state
	r = replay.get(cb)
	require.Equal(t, http.StatusForbidden, r.code)
	replay.requireNoSession()

	// A state expires after ten minutes on the injected clock.
	c = e.client()
	cb = c.oidcStart("Fake")
	e.clock.Advance(10 * time.Minute)
	r = c.get(cb)
	require.Equal(t, http.StatusForbidden, r.code)
	c.requireNoSession()

	// The provider's error (the user cancelled) is refused too.
	c = e.client()
	c.oidcStart("Fake")
	r = c.get("/oidc/Fake/callback?" + url.Values{"state": {c.cookies["anpi_admin_oidc"]}, "error": {"access_denied"}}.Encode())
	require.Equal(t, http.StatusUnauthorized, r.code)
	c.requireNoSession()

	// A token endpoint that fails: 502 with the generic message.
	c = e.client()
	cb = c.oidcStart("Fake")
	idp.mu.Lock()
	idp.down = true
	idp.mu.Unlock()
	r = c.get(cb)
	require.Equal(t, http.StatusBadGateway, r.code)
	require.Contains(t, r.body, generic)
	c.requireNoSession()
	for _, tok := range idp.tokens {
		require.NotContains(t, e.logs.String(), tok)
	}
}

func TestOIDCTenantAndHostedDomain(t *testing.T) {
	e := newAdminEnv(t)
	entra := newFakeIdP(t, e.clock.Now)
	google := newFakeIdP(t, e.clock.Now)
	const tenant = "9c5c5d2e-0000-4000-8000-000000000001"
	ms := entra.provider("Microsoft")
	ms.TenantID = tenant
	g := google.provider("Google")
	g.HostedDomain = "corp.example"
	e.withOIDC(ms, g)

	r := e.client().get("/login")
	require.Contains(t, r.body, `href="./oidc/Microsoft/start"`)
	require.Contains(t, r.body, `href="./oidc/Google/start"`)
	require.Less(t, strings.Index(r.body, "Microsoft/start"), strings.Index(r.body, "Google/start"), "in the order given")

	signIn := func(idp *fakeIdP, name string, claims map[string]any) resp {
		t.Helper()
		idp.mu.Lock()
		idp.claims = claims
		idp.mu.Unlock()
		c := e.client()
		r := c.get(c.oidcStart(name))
		if r.code != http.StatusSeeOther {
			c.requireNoSession()
		}
		return r
	}
	// Entra ID sends no email_verified: within the configured tenant the
	// user principal name (preferred_username) signs in, or the email
	// when its domain is verified (xms_edov).
	require.Equal(t, http.StatusSeeOther, signIn(entra, "Microsoft", map[string]any{"sub": "s1", "tid": tenant, "preferred_username": "mgra@corp.example"}).code, e.logs.String())
	require.Equal(t, http.StatusSeeOther, signIn(entra, "Microsoft", map[string]any{"sub": "s1", "tid": tenant, "email": "mgra@corp.example", "xms_edov": true}).code)
	require.Equal(t, http.StatusUnauthorized, signIn(entra, "Microsoft", map[string]any{"sub": "s1", "tid": "another-tenant", "preferred_username": "mgra@corp.example"}).code)
	require.Equal(t, http.StatusUnauthorized, signIn(entra, "Microsoft", map[string]any{"sub": "s1", "tid": tenant, "preferred_username": "mgra@corp.example", "acct": 1}).code, "a guest")
	require.Equal(t, http.StatusUnauthorized, signIn(entra, "Microsoft", map[string]any{"sub": "s1", "tid": tenant, "email": "mgra@corp.example"}).code, "email without xms_edov")
	// Google Workspace: the hd claim must be the domain, and hd is asked for.
	require.Equal(t, http.StatusSeeOther, signIn(google, "Google", map[string]any{"sub": "s2", "hd": "corp.example", "email": "boss@corp.example", "email_verified": true}).code)
	require.Equal(t, http.StatusUnauthorized, signIn(google, "Google", map[string]any{"sub": "s2", "email": "boss@corp.example", "email_verified": true}).code, "a gmail.com account")
	require.Equal(t, http.StatusUnauthorized, signIn(google, "Google", map[string]any{"sub": "s2", "hd": "other.example", "email": "boss@corp.example", "email_verified": "true"}).code)
	google.mu.Lock()
	require.Equal(t, "corp.example", google.auths[0].Get("hd"))
	google.mu.Unlock()
}

func TestOIDCMapUser(t *testing.T) {
	e := newAdminEnv(t)
	idp := newFakeIdP(t, e.clock.Now)
	p := idp.provider("Fake")
	var got *web.OIDCIdentity
	p.MapUser = func(ctx context.Context, id *web.OIDCIdentity) (anpi.UserID, error) {
		got = id
		if id.Subject == "sub-boss" {
			return "boss", nil
		}
		return "", fmt.Errorf("not mapped")
	}
	e.withOIDC(p)
	c := e.client()
	r := c.get(c.oidcStart("Fake"))
	require.Equal(t, http.StatusSeeOther, r.code, e.logs.String())
	require.Equal(t, "Fake", got.Provider)
	require.Equal(t, idp.srv.URL, got.Issuer)
	require.True(t, got.EmailVerified)
	require.Contains(t, string(got.Claims), `"sub":"sub-boss"`)
	require.Equal(t, http.StatusOK, c.get("/").code)

	idp.mu.Lock()
	idp.claims["sub"] = "someone else"
	idp.mu.Unlock()
	c = e.client()
	require.Equal(t, http.StatusUnauthorized, c.get(c.oidcStart("Fake")).code)
	c.requireNoSession()
}

func TestOIDCOffAndProviderDown(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	r := c.get("/login")
	require.NotContains(t, r.body, "oidc/")
	for _, p := range []string{"/oidc/Fake/start", "/oidc/Fake/callback?state=x&code=y"} {
		require.Equal(t, http.StatusNotFound, c.get(p).code, "no OIDC configured: "+p)
	}

	// A provider that is down stops neither the handler's construction
	// nor the login page nor password logins; its button answers 503.
	idp := newFakeIdP(t, e.clock.Now)
	idp.down = true
	e.withOIDC(idp.provider("Fake"))
	c = e.client()
	r = c.get("/login")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "oidc/Fake/start")
	r = c.get("/oidc/Fake/start")
	require.Equal(t, http.StatusServiceUnavailable, r.code)
	require.Contains(t, r.body, "サインインできませんでした")
	require.Equal(t, http.StatusNotFound, c.get("/oidc/Other/start").code)
	e.login("boss@corp.example", bossPW)

	// Once it is back, discovery is tried again.
	idp.mu.Lock()
	idp.down = false
	idp.mu.Unlock()
	r = c.get(c.oidcStart("Fake"))
	require.Equal(t, http.StatusSeeOther, r.code, e.logs.String())
}

func TestOIDCProviderValidate(t *testing.T) {
	good := web.OIDCProvider{Name: "Microsoft", Issuer: "https://login.microsoftonline.com/t/v2.0", ClientID: "c",
		RedirectURL: "https://anpi.example.jp/admin/oidc/Microsoft/callback"}
	require.NoError(t, good.Validate())
	for name, edit := range map[string]func(p *web.OIDCProvider){
		"empty name":        func(p *web.OIDCProvider) { p.Name = "" },
		"name with a slash": func(p *web.OIDCProvider) { p.Name = "a/b" },
		"long name":         func(p *web.OIDCProvider) { p.Name = strings.Repeat("a", 33) },
		"relative issuer":   func(p *web.OIDCProvider) { p.Issuer = "login.microsoftonline.com" },
		"no client id":      func(p *web.OIDCProvider) { p.ClientID = "" },
		"other redirect":    func(p *web.OIDCProvider) { p.RedirectURL = "https://anpi.example.jp/admin/oidc/Google/callback" },
		"relative redirect": func(p *web.OIDCProvider) { p.RedirectURL = "/admin/oidc/Microsoft/callback" },
	} {
		p := good
		edit(&p)
		err := p.Validate()
		require.Error(t, err, name)
		require.Equal(t, anpi.InvalidArgument, anpi.Code(err), name)
	}
	// An invalid provider is left out (logged), the others are served.
	e := newAdminEnv(t)
	bad := good
	bad.Name = "a b"
	e.withOIDC(bad, good)
	r := e.client().get("/login")
	require.Contains(t, r.body, "oidc/Microsoft/start")
	require.NotContains(t, r.body, "a b")
	require.Contains(t, e.logs.String(), "oidc provider left out")
}

func TestMemAccountsUserByEmail(t *testing.T) {
	a := web.NewMemAccounts(cheapArgon())
	require.NoError(t, a.SetPassword("boss", "Boss@corp.example", bossPW))
	ctx := context.Background()
	u, err := a.UserByEmail(ctx, "boss@CORP.example")
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("boss"), u)
	for _, email := range []string{"", "nobody@corp.example", "boss@corp.example.evil"} {
		_, err = a.UserByEmail(ctx, email)
		require.Equal(t, anpi.NotFound, anpi.Code(err), email)
	}
	require.NoError(t, a.RemoveLogin("boss"))
	_, err = a.UserByEmail(ctx, "boss@corp.example")
	require.Equal(t, anpi.NotFound, anpi.Code(err))
}

func TestOIDCStartLimit(t *testing.T) {
	e := newAdminEnv(t)
	idp := newFakeIdP(t, e.clock.Now)
	e.withOIDC(idp.provider("Fake"))
	c := e.client()
	for i := range 50 {
		require.Equal(t, http.StatusSeeOther, c.get("/oidc/Fake/start").code, i)
	}
	r := c.get("/oidc/Fake/start")
	require.Equal(t, http.StatusTooManyRequests, r.code, "ten times the login limit per window and client")
	require.NotEmpty(t, r.hdr.Get("Retry-After"))
	e.clock.Advance(15 * time.Minute)
	r = c.get(c.oidcStart("Fake"))
	require.Equal(t, http.StatusSeeOther, r.code, "a new window; the sign-in works")
}

// An administrator's handler with password login and a Microsoft Entra ID
// sign-in; the application is registered in the tenant with the redirect
// URL below.
func ExampleOIDCProvider() {
	accounts := web.NewMemAccounts(nil)
	var svc web.AdminService // an *anpi.Service
	h := web.NewAdminHandler(svc, accounts, &web.AdminOptions{
		CookiePath: "/admin/",
		OIDC: []web.OIDCProvider{{
			Name:         "Microsoft",
			Issuer:       "https://login.microsoftonline.com/9c5c5d2e-0000-4000-8000-000000000001/v2.0",
			TenantID:     "9c5c5d2e-0000-4000-8000-000000000001",
			ClientID:     "the application (client) ID",
			ClientSecret: "the client secret",
			RedirectURL:  "https://anpi.example.co.jp/admin/oidc/Microsoft/callback",
		}},
	})
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	_ = mux // serve it: http.ListenAndServe(addr, mux)
}
