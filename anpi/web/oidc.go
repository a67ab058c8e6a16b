package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/anpikit/anpi/anpi"
)

// OIDCProvider is an OpenID Connect identity provider administrators may
// sign in with (Microsoft Entra ID, Google Workspace, …), besides their
// password. The handler uses the authorization code flow with PKCE (S256),
// a state bound to the browser and a nonce; github.com/coreos/go-oidc
// discovers the provider and verifies the ID token's signature (the
// provider's JWKS), issuer, audience, expiry and nonce.
type OIDCProvider struct {
	// Name is shown on the login page's button ("Microsoft", "Google")
	// and names the routes /oidc/{Name}/start and /oidc/{Name}/callback:
	// 1 to 32 letters, digits, '-' or '_'.
	Name string
	// Issuer is the provider's issuer URL, whose
	// /.well-known/openid-configuration is read on first use, e.g.
	// https://login.microsoftonline.com/{tenant-id}/v2.0 or
	// https://accounts.google.com. For Entra ID it is the tenant's own
	// issuer: the shared ones (common, organizations) announce a templated
	// issuer that no token carries, and would admit every tenant.
	Issuer string
	// ClientID and ClientSecret are the application's registration at the
	// provider.
	ClientID, ClientSecret string
	// RedirectURL is the absolute URL of /oidc/{Name}/callback as the
	// browser reaches it (registered at the provider), e.g.
	// https://anpi.example.co.jp/admin/oidc/Microsoft/callback.
	RedirectURL string
	// HostedDomain, when set, is the Google Workspace domain whose
	// accounts alone may sign in: the ID token's "hd" claim must equal it
	// (it is also sent as the hd hint).
	HostedDomain string
	// TenantID, when set, is the Entra ID tenant whose accounts alone may
	// sign in: the ID token's "tid" claim must equal it. It also lets the
	// default mapping use Entra ID's preferred_username (see MapUser).
	TenantID string
	// MapUser, when set, maps a verified identity to the user it signs in;
	// an error refuses the sign-in. Default: the identity's email (see
	// OIDCIdentity.LoginEmail) looked up with EmailAccounts.UserByEmail, so
	// only an administrator who already has a login is signed in.
	MapUser func(ctx context.Context, id *OIDCIdentity) (anpi.UserID, error)
	// HTTPClient makes the requests to the provider (discovery, token,
	// keys); default a client with a 10-second timeout.
	HTTPClient *http.Client
}

// OIDCIdentity is what a verified ID token says about who signed in.
type OIDCIdentity struct {
	Provider          string // OIDCProvider.Name
	Issuer, Subject   string
	Email             string
	EmailVerified     bool
	PreferredUsername string // Entra ID: the user principal name, usually an email
	HostedDomain      string // Google Workspace: "hd"
	TenantID          string // Entra ID: "tid"
	// EmailDomainVerified is Entra ID's optional claim xms_edov: the
	// email's domain is verified by the tenant.
	EmailDomainVerified bool
	// Guest is Entra ID's optional claim acct = 1: a guest of the tenant.
	Guest bool
	// Claims are all the ID token's claims (JSON), for a MapUser that
	// needs more.
	Claims json.RawMessage

	tenantChecked bool // the provider's TenantID was configured and matched
}

// LoginEmail returns the email the default mapping signs in with, or an
// error saying why there is none. The email claim counts only with
// email_verified true. For Entra ID, which sends no email_verified, it
// counts with xms_edov true; failing that, preferred_username (the user
// principal name the tenant's administrators assign) counts when the
// provider's TenantID was checked and the user is no guest.
func (id *OIDCIdentity) LoginEmail() (string, error) {
	if id.Email != "" && id.EmailVerified {
		return id.Email, nil
	}
	if id.tenantChecked && !id.Guest {
		if id.Email != "" && id.EmailDomainVerified {
			return id.Email, nil
		}
		if a, err := mail.ParseAddress(id.PreferredUsername); err == nil && a.Address == id.PreferredUsername {
			return id.PreferredUsername, nil
		}
	}
	return "", anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: the ID token carries no verified email", id.Provider)
}

// EmailAccounts is an optional interface of Accounts: the default mapping
// of an OIDC sign-in finds the user by his login email.
type EmailAccounts interface {
	// UserByEmail returns the user whose login is email (compared without
	// regard to case); NotFound when there is none.
	UserByEmail(ctx context.Context, email string) (anpi.UserID, error)
}

// MemAccounts finds users by email for the default OIDC mapping.
var _ EmailAccounts = (*MemAccounts)(nil)

// validOIDCName reports whether name may name a provider: it is a path
// segment and a button label.
func validOIDCName(name string) bool {
	if len(name) == 0 || len(name) > 32 {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Validate reports what is wrong with p's configuration (InvalidArgument,
// naming the field), nil when nothing is. NewAdminHandler leaves out a
// provider that does not validate, logging why.
func (p *OIDCProvider) Validate() error {
	if !validOIDCName(p.Name) {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: oidc provider name %q: want 1 to 32 letters, digits, '-' or '_'", p.Name)
	}
	for _, u := range []struct{ field, v string }{{"Issuer", p.Issuer}, {"RedirectURL", p.RedirectURL}} {
		pu, err := url.Parse(u.v)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			return anpi.Errorf(anpi.InvalidArgument, "anpi/web: oidc provider %s: %s %q: want an absolute http(s) URL", p.Name, u.field, u.v)
		}
	}
	if !strings.HasSuffix(p.RedirectURL, "/oidc/"+p.Name+"/callback") {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: oidc provider %s: RedirectURL %q: want the URL of /oidc/%s/callback", p.Name, p.RedirectURL, p.Name)
	}
	if p.ClientID == "" {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: oidc provider %s: empty ClientID", p.Name)
	}
	return nil
}

// Bounds of the sign-ins in progress.
const (
	oidcFlowTTL      = 10 * time.Minute // from start to callback
	maxOIDCFlows     = 10000            // flows kept before expired ones are swept
	oidcCookie       = "anpi_admin_oidc"
	oidcHTTPTimeout  = 10 * time.Second
	oidcMaxStateSize = 64
)

// oidcIdP is a configured provider and, once discovered, its endpoints.
type oidcIdP struct {
	OIDCProvider
	client *http.Client

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier // nil until discovered
	endpoint oauth2.Endpoint
}

// oidcFlow is a sign-in between start and callback, kept server-side
// under the SHA-256 of its state.
type oidcFlow struct {
	provider string
	nonce    string
	verifier string // PKCE code verifier
	expires  time.Time
}

// oidcFlows holds the flows in progress; take removes a flow, so a state
// works once.
type oidcFlows struct {
	mu   sync.Mutex
	byID map[[32]byte]*oidcFlow
}

// put keeps f under state; Unavailable when too many flows are live.
func (fl *oidcFlows) put(state string, f *oidcFlow, now time.Time) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if len(fl.byID) >= maxOIDCFlows {
		for k, v := range fl.byID {
			if !now.Before(v.expires) {
				delete(fl.byID, k)
			}
		}
		if len(fl.byID) >= maxOIDCFlows {
			return anpi.Errorf(anpi.Unavailable, "anpi/web: oidc: too many sign-ins in progress")
		}
	}
	fl.byID[sha256.Sum256([]byte(state))] = f
	return nil
}

// take removes and returns the live flow of state; nil when unknown,
// used or expired.
func (fl *oidcFlows) take(state string, now time.Time) *oidcFlow {
	if state == "" || len(state) > oidcMaxStateSize {
		return nil
	}
	k := sha256.Sum256([]byte(state))
	fl.mu.Lock()
	defer fl.mu.Unlock()
	f := fl.byID[k]
	delete(fl.byID, k)
	if f == nil || !now.Before(f.expires) {
		return nil
	}
	return f
}

// setupOIDC keeps the valid providers of opts and mounts their routes.
func (h *admin) setupOIDC(m *http.ServeMux, providers []OIDCProvider) {
	for _, p := range providers {
		if err := p.Validate(); err != nil {
			h.log.Error("anpi/web: oidc provider left out", "err", err)
			continue
		}
		if h.idps[p.Name] != nil {
			h.log.Error("anpi/web: oidc provider left out", "err", fmt.Sprintf("name %q twice", p.Name))
			continue
		}
		c := p.HTTPClient
		if c == nil {
			c = &http.Client{Timeout: oidcHTTPTimeout}
		}
		h.idps[p.Name] = &oidcIdP{OIDCProvider: p, client: c}
		h.idpNames = append(h.idpNames, p.Name)
	}
	if len(h.idps) == 0 {
		return // the routes fall to the 404 page
	}
	h.flows = oidcFlows{byID: map[[32]byte]*oidcFlow{}}
	m.HandleFunc("GET /oidc/{name}/start", h.oidcStart)
	m.HandleFunc("GET /oidc/{name}/callback", h.oidcCallback)
}

// discover returns the provider's verifier and endpoint, reading its
// discovery document on first use. A failure is not kept: the next
// sign-in tries again, and the password login works meanwhile.
func (h *admin) discover(ctx context.Context, p *oidcIdP) (*oidc.IDTokenVerifier, oauth2.Endpoint, error) {
	p.mu.Lock()
	v, ep := p.verifier, p.endpoint
	p.mu.Unlock()
	if v != nil {
		return v, ep, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.client), oidcHTTPTimeout)
	defer cancel()
	op, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		return nil, oauth2.Endpoint{}, anpi.Errorf(anpi.Unavailable, "anpi/web: oidc %s: discovery: %w", p.Name, err)
	}
	// The verifier fetches the keys with the provider's client (kept by
	// NewProvider from the context) and checks expiry on the handler's clock.
	v = op.Verifier(&oidc.Config{ClientID: p.ClientID, Now: h.clock})
	ep = op.Endpoint()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.verifier == nil {
		p.verifier, p.endpoint = v, ep
	}
	return p.verifier, p.endpoint, nil
}

// oauthConfig is the OAuth 2.0 client of p at endpoint ep.
func (p *oidcIdP) oauthConfig(ep oauth2.Endpoint) *oauth2.Config {
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: ep, RedirectURL: p.RedirectURL,
		Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// oidcStart begins a sign-in: a state (also in a cookie, binding the flow
// to this browser), a nonce and a PKCE verifier kept server-side, then a
// redirect to the provider.
func (h *admin) oidcStart(w http.ResponseWriter, r *http.Request) {
	p := h.idps[r.PathValue("name")]
	if p == nil {
		h.message(w, r, http.StatusNotFound, pickLocale(r), msgsAdmin(pickLocale(r)).NotFound)
		return
	}
	// Every start keeps a flow for ten minutes: one client may start as
	// many as it may fail logins, so nobody fills the table for the others.
	now, key := h.clock(), "oidc-start:"+clientKey(r)
	if h.fails.blocked(key, now, 10*h.loginLimit, h.loginWindow) {
		w.Header().Set("Retry-After", fmt.Sprint(int(h.loginWindow/time.Second)))
		h.loginForm(w, r, http.StatusTooManyRequests, msgsAdmin(pickLocale(r)).TooMany)
		return
	}
	h.fails.fail(key, now, h.loginWindow)
	_, ep, err := h.discover(r.Context(), p)
	if err != nil {
		h.oidcFail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	var ids [3]string
	for i := range ids {
		if ids[i], err = newID(h.rand); err != nil {
			h.oidcFail(w, r, http.StatusServiceUnavailable, err)
			return
		}
	}
	state, nonce, verifier := ids[0], ids[1], ids[2]
	if err := h.flows.put(state, &oidcFlow{provider: p.Name, nonce: nonce, verifier: verifier, expires: now.Add(oidcFlowTTL)}, now); err != nil {
		h.oidcFail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if p.HostedDomain != "" {
		opts = append(opts, oauth2.SetAuthURLParam("hd", p.HostedDomain))
	}
	h.setCookie(w, oidcCookie, state, int(oidcFlowTTL/time.Second))
	http.Redirect(w, r, p.oauthConfig(ep).AuthCodeURL(state, opts...), http.StatusSeeOther)
}

// oidcCallback ends a sign-in: the state (one use, this browser's), the
// code exchanged, the ID token verified, the identity mapped to a user,
// then a session as a password login makes.
func (h *admin) oidcCallback(w http.ResponseWriter, r *http.Request) {
	p := h.idps[r.PathValue("name")]
	if p == nil {
		h.message(w, r, http.StatusNotFound, pickLocale(r), msgsAdmin(pickLocale(r)).NotFound)
		return
	}
	now, client := h.clock(), clientKey(r)
	if h.fails.blocked(client, now, 10*h.loginLimit, h.loginWindow) {
		w.Header().Set("Retry-After", fmt.Sprint(int(h.loginWindow/time.Second)))
		h.loginForm(w, r, http.StatusTooManyRequests, msgsAdmin(pickLocale(r)).TooMany)
		return
	}
	h.setCookie(w, oidcCookie, "", -1)
	user, status, err := h.oidcUser(r, p, now)
	if err != nil {
		h.fails.fail(client, now, h.loginWindow)
		h.oidcFail(w, r, status, err)
		return
	}
	if err := h.startSession(w, r, user, now); err != nil {
		h.oidcFail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	h.log.InfoContext(r.Context(), "anpi/web: login", "user", user, "via", "oidc", "provider", p.Name, "client", r.RemoteAddr)
	seeOther(w, root(r.URL.Path))
}

// oidcUser checks the callback request and returns the user it signs in,
// or the HTTP status and the error (for the log: no code, state or token
// in it).
func (h *admin) oidcUser(r *http.Request, p *oidcIdP, now time.Time) (anpi.UserID, int, error) {
	q := r.URL.Query()
	state := q.Get("state")
	f := h.flows.take(state, now)
	if f == nil || f.provider != p.Name {
		return "", http.StatusForbidden, anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: unknown, used or expired state", p.Name)
	}
	if c := cookie(r, oidcCookie); subtle.ConstantTimeCompare([]byte(c), []byte(state)) != 1 {
		return "", http.StatusForbidden, anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: the state is not this browser's", p.Name)
	}
	if e := q.Get("error"); e != "" {
		return "", http.StatusUnauthorized, anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: the provider answered error %.64q", p.Name, e)
	}
	code := q.Get("code")
	if code == "" {
		return "", http.StatusBadRequest, anpi.Errorf(anpi.InvalidArgument, "anpi/web: oidc %s: no code", p.Name)
	}
	verifier, ep, err := h.discover(r.Context(), p)
	if err != nil {
		return "", http.StatusServiceUnavailable, err
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(r.Context(), p.client), oidcHTTPTimeout)
	defer cancel()
	tok, err := p.oauthConfig(ep).Exchange(ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		// A RetrieveError prints the provider's whole answer: only its
		// status and error code are kept.
		if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
			err = fmt.Errorf("token endpoint answered %d %.64q", re.Response.StatusCode, re.ErrorCode)
		}
		return "", http.StatusBadGateway, anpi.Errorf(anpi.Unavailable, "anpi/web: oidc %s: code exchange: %v", p.Name, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", http.StatusBadGateway, anpi.Errorf(anpi.Unavailable, "anpi/web: oidc %s: the token response has no id_token", p.Name)
	}
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		return "", http.StatusUnauthorized, anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: ID token: %v", p.Name, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		return "", http.StatusUnauthorized, anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: ID token: wrong nonce", p.Name)
	}
	id, err := identity(p, idt)
	if err != nil {
		return "", http.StatusUnauthorized, err
	}
	var user anpi.UserID
	if p.MapUser != nil {
		user, err = p.MapUser(r.Context(), id)
	} else {
		user, err = h.userByEmail(r.Context(), id)
	}
	if err == nil && user == "" {
		err = anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: no user for the identity", p.Name)
	}
	if err != nil {
		return "", http.StatusUnauthorized, err
	}
	return user, 0, nil
}

// identity reads the claims of a verified ID token and checks the
// provider's hosted domain or tenant.
func identity(p *oidcIdP, idt *oidc.IDToken) (*OIDCIdentity, error) {
	var c struct {
		Email             string          `json:"email"`
		EmailVerified     json.RawMessage `json:"email_verified"`
		PreferredUsername string          `json:"preferred_username"`
		HD                string          `json:"hd"`
		TID               string          `json:"tid"`
		EDOV              json.RawMessage `json:"xms_edov"`
		Acct              *int            `json:"acct"`
	}
	var all json.RawMessage
	if err := idt.Claims(&c); err != nil {
		return nil, anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: ID token claims: %v", p.Name, err)
	}
	if err := idt.Claims(&all); err != nil {
		return nil, anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: ID token claims: %v", p.Name, err)
	}
	id := &OIDCIdentity{Provider: p.Name, Issuer: idt.Issuer, Subject: idt.Subject, Email: c.Email,
		EmailVerified: claimTrue(c.EmailVerified), PreferredUsername: c.PreferredUsername, HostedDomain: c.HD,
		TenantID: c.TID, EmailDomainVerified: claimTrue(c.EDOV), Guest: c.Acct != nil && *c.Acct == 1, Claims: all}
	if p.HostedDomain != "" && !strings.EqualFold(c.HD, p.HostedDomain) {
		return nil, anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: hosted domain %.64q, want %s", p.Name, c.HD, p.HostedDomain)
	}
	if p.TenantID != "" {
		if !strings.EqualFold(c.TID, p.TenantID) {
			return nil, anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: tenant %.64q, want %s", p.Name, c.TID, p.TenantID)
		}
		id.tenantChecked = true
	}
	return id, nil
}

// claimTrue reads a boolean claim sent as true or "true" (some providers
// send strings).
func claimTrue(raw json.RawMessage) bool {
	s := string(raw)
	return s == "true" || s == `"true"`
}

// userByEmail is the default mapping: the identity's login email, looked
// up in the accounts.
func (h *admin) userByEmail(ctx context.Context, id *OIDCIdentity) (anpi.UserID, error) {
	ea, ok := h.accounts.(EmailAccounts)
	if !ok {
		return "", anpi.Errorf(anpi.FailedPrecondition, "anpi/web: oidc %s: the accounts cannot find users by email (EmailAccounts) and no MapUser is set", id.Provider)
	}
	email, err := id.LoginEmail()
	if err != nil {
		return "", err
	}
	user, err := ea.UserByEmail(ctx, email)
	if anpi.Code(err) == anpi.NotFound {
		return "", anpi.Errorf(anpi.PermissionDenied, "anpi/web: oidc %s: no login has the email of subject %.64q", id.Provider, id.Subject)
	}
	return user, err
}

// oidcFail logs why a sign-in failed and shows the login page with the
// one generic message.
func (h *admin) oidcFail(w http.ResponseWriter, r *http.Request, status int, err error) {
	if status >= 500 {
		h.log.ErrorContext(r.Context(), "anpi/web: oidc sign-in", "path", r.URL.Path, "err", err)
	} else {
		h.log.WarnContext(r.Context(), "anpi/web: oidc sign-in refused", "path", r.URL.Path, "client", r.RemoteAddr, "err", err)
	}
	h.loginForm(w, r, status, msgsAdmin(pickLocale(r)).OIDCFailed)
}
