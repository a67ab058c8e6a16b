package fcm_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	fake "github.com/anpikit/anpi/internal/fake/fcm"
)

const project = "anpi-test"

// clock is a manual clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type account struct {
	Email, TokenURI, ProjectID string
	Key                        *rsa.PrivateKey
}

func newAccount(t *testing.T, s *fake.Server) (account, []byte) {
	t.Helper()
	js, key, err := fake.NewServiceAccount(project, s.TokenURI())
	require.NoError(t, err)
	var f struct {
		ClientEmail string `json:"client_email"`
		TokenURI    string `json:"token_uri"`
		ProjectID   string `json:"project_id"`
		PrivateKey  string `json:"private_key"`
		Type        string `json:"type"`
	}
	require.NoError(t, json.Unmarshal(js, &f))
	require.Equal(t, "service_account", f.Type)
	block, _ := pem.Decode([]byte(f.PrivateKey))
	require.NotNil(t, block)
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	require.True(t, key.Equal(parsed))
	return account{Email: f.ClientEmail, TokenURI: f.TokenURI, ProjectID: f.ProjectID, Key: key}, js
}

// assertion signs a JWT-bearer assertion as the oauth2 library does.
func assertion(t *testing.T, a account, now time.Time, edit func(map[string]any)) string {
	t.Helper()
	claims := map[string]any{"iss": a.Email, "aud": a.TokenURI, "scope": fake.Scope, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if edit != nil {
		edit(claims)
	}
	enc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, a.Key, crypto.SHA256, sum[:])
	require.NoError(t, err)
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func grant(t *testing.T, s *fake.Server, jwt string) (int, map[string]any) {
	t.Helper()
	res, err := s.Client().PostForm(s.TokenURI(), url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jwt}})
	require.NoError(t, err)
	defer res.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	return res.StatusCode, body
}

func send(t *testing.T, s *fake.Server, ctx context.Context, proj, bearer, msg string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint()+"/projects/"+proj+"/messages:send", strings.NewReader(msg))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+bearer)
	res, err := s.Client().Do(req)
	if err != nil {
		return nil, map[string]any{"err": err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(b, &body), "%s", b)
	return res, body
}

func msg(token string) string {
	return `{"message":{"token":"` + token + `","notification":{"title":"安否確認","body":"ご無事ですか"},"data":{"url":"https://anpi.example.jp/a/T"},"android":{"priority":"high"},"apns":{"headers":{"apns-priority":"10"}}}}`
}

func fcmCode(body map[string]any) (status, code string) {
	e, _ := body["error"].(map[string]any)
	status, _ = e["status"].(string)
	if ds, ok := e["details"].([]any); ok && len(ds) > 0 {
		d, _ := ds[0].(map[string]any)
		code, _ = d["errorCode"].(string)
	}
	return status, code
}

func TestTokenGrantAndSend(t *testing.T) {
	clk := &clock{now: time.Now()}
	s := fake.Start(&fake.Options{ProjectID: project, Now: clk.Now})
	t.Cleanup(s.Close)
	a, _ := newAccount(t, s)

	st, body := grant(t, s, assertion(t, a, clk.Now(), nil))
	require.Equal(t, 200, st, "%v", body)
	require.Equal(t, "Bearer", body["token_type"])
	require.EqualValues(t, 3600, body["expires_in"])
	tok := body["access_token"].(string)

	res, out := send(t, s, t.Context(), project, tok, msg("device-token-0001"))
	require.Equal(t, 200, res.StatusCode, "%v", out)
	require.Regexp(t, `^projects/anpi-test/messages/\d+$`, out["name"])
	got := s.Messages()
	require.Len(t, got, 1)
	require.Equal(t, fake.Message{Name: out["name"].(string), Project: project, Token: "device-token-0001", Title: "安否確認", Body: "ご無事ですか",
		Data: map[string]string{"url": "https://anpi.example.jp/a/T"}, AndroidPriority: "high", APNSHeaders: map[string]string{"apns-priority": "10"},
		Raw: got[0].Raw}, got[0])

	res, out = send(t, s, t.Context(), project, "not-issued", msg("device-token-0001"))
	require.Equal(t, 401, res.StatusCode)
	st2, _ := fcmCode(out)
	require.Equal(t, "UNAUTHENTICATED", st2)

	res, _ = send(t, s, t.Context(), "other-project", tok, msg("device-token-0001"))
	require.Equal(t, 403, res.StatusCode)

	clk.Add(fake.TokenLifetime + time.Second)
	res, _ = send(t, s, t.Context(), project, tok, msg("device-token-0001"))
	require.Equal(t, 401, res.StatusCode, "an expired access token")
	require.Equal(t, 1, s.Accepted())
	require.Equal(t, 4, s.Attempts())
	require.Equal(t, 1, s.TokenRequests())
}

func TestTokenRefusals(t *testing.T) {
	now := time.Now()
	s0 := fake.Start(nil)
	t.Cleanup(s0.Close)
	a, _ := newAccount(t, s0)
	s := fake.Start(&fake.Options{PublicKey: &a.Key.PublicKey})
	t.Cleanup(s.Close)
	a.TokenURI = s.TokenURI()

	st, _ := grant(t, s, assertion(t, a, now, nil))
	require.Equal(t, 200, st)

	other, _ := newAccount(t, s)
	st, body := grant(t, s, assertion(t, other, now, nil))
	require.Equal(t, 400, st)
	require.Equal(t, "invalid_grant", body["error"])
	require.Equal(t, "Invalid JWT Signature.", body["error_description"])

	for name, edit := range map[string]func(map[string]any){
		"aud":   func(c map[string]any) { c["aud"] = "https://oauth2.googleapis.com/token" },
		"scope": func(c map[string]any) { c["scope"] = "https://www.googleapis.com/auth/cloud-platform" },
		"exp":   func(c map[string]any) { c["exp"] = now.Add(3 * time.Hour).Unix() },
		"old": func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-3*time.Hour).Unix(), now.Add(-2*time.Hour).Unix()
		},
	} {
		st, body := grant(t, s, assertion(t, a, now, edit))
		require.Equal(t, 400, st, name)
		require.Equal(t, "invalid_grant", body["error"], name)
	}
	st, _ = grant(t, s, "not.a.jwt")
	require.Equal(t, 400, st)

	s.FailTokens(true)
	st, body = grant(t, s, assertion(t, a, now, nil))
	require.Equal(t, 400, st)
	require.Equal(t, "invalid_grant", body["error"])
	s.FailTokens(false)

	res, err := s.Client().PostForm(s.TokenURI(), url.Values{"grant_type": {"client_credentials"}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 400, res.StatusCode)
}

func TestValidation(t *testing.T) {
	s := fake.Start(&fake.Options{AccessToken: "x"})
	t.Cleanup(s.Close)
	for name, m := range map[string]string{
		"no target":     `{"message":{"notification":{"title":"t"}}}`,
		"two targets":   `{"message":{"token":"device-token-0001","topic":"news"}}`,
		"bad token":     `{"message":{"token":"not a token!"}}`,
		"reserved key":  `{"message":{"token":"device-token-0001","data":{"from":"x"}}}`,
		"google key":    `{"message":{"token":"device-token-0001","data":{"google.x":"x"}}}`,
		"non-string":    `{"message":{"token":"device-token-0001","data":{"n":1}}}`,
		"priority":      `{"message":{"token":"device-token-0001","android":{"priority":"urgent"}}}`,
		"too big":       `{"message":{"token":"device-token-0001","data":{"x":"` + strings.Repeat("a", fake.MaxPayload) + `"}}}`,
		"not json":      `{"message":`,
		"message array": `{"message":[]}`,
	} {
		res, body := send(t, s, t.Context(), project, "x", m)
		require.Equal(t, 400, res.StatusCode, name)
		st, _ := fcmCode(body)
		require.Equal(t, "INVALID_ARGUMENT", st, name)
	}
	res, _ := send(t, s, t.Context(), project, "x", `{"validate_only":true,"message":{"token":"device-token-0001"}}`)
	require.Equal(t, 200, res.StatusCode)
	require.Zero(t, s.Accepted(), "a dry run is not a send")
}

func TestFaults(t *testing.T) {
	s := fake.Start(&fake.Options{AccessToken: "x"})
	t.Cleanup(s.Close)
	s.SetRetryAfter(3 * time.Second)
	const tok = "device-token-0001"
	for _, tc := range []struct {
		f            fake.Fault
		status       int
		rpc, fcmCode string
	}{
		{fake.Unregistered, 404, "NOT_FOUND", "UNREGISTERED"},
		{fake.InvalidArgument, 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"},
		{fake.SenderIDMismatch, 403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"},
		{fake.QuotaExceeded, 429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"},
		{fake.ThirdPartyAuthError, 401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"},
		{fake.Internal, 500, "INTERNAL", "INTERNAL"},
		{fake.Unavailable, 503, "UNAVAILABLE", "UNAVAILABLE"},
	} {
		s.Fail(tok, tc.f)
		res, body := send(t, s, t.Context(), project, "x", msg(tok))
		require.Equal(t, tc.status, res.StatusCode)
		rpc, code := fcmCode(body)
		require.Equal(t, tc.rpc, rpc)
		require.Equal(t, tc.fcmCode, code)
		if tc.status == 429 || tc.status == 503 {
			require.Equal(t, "3", res.Header.Get("Retry-After"))
		}
	}
	s.Fail(tok, 0)
	s.FailAll(fake.Internal)
	res, _ := send(t, s, t.Context(), project, "x", msg(tok))
	require.Equal(t, 500, res.StatusCode)
	s.FailAll(0)
	res, _ = send(t, s, t.Context(), project, "x", msg(tok))
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, 1, s.Accepted())

	s.Fail(tok, fake.Hang)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	res, out := send(t, s, ctx, project, "x", msg(tok))
	require.Nil(t, res)
	require.ErrorIs(t, out["err"].(error), context.DeadlineExceeded)
}

func TestQuota(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := fake.Start(&fake.Options{AccessToken: "x", Now: clk.Now, RatePerMinute: 120})
	t.Cleanup(s.Close)
	for i := range 120 {
		res, _ := send(t, s, t.Context(), project, "x", msg("device-token-0001"))
		require.Equal(t, 200, res.StatusCode, "message %d is within the minute's bucket", i)
	}
	res, body := send(t, s, t.Context(), project, "x", msg("device-token-0001"))
	require.Equal(t, 429, res.StatusCode)
	st, code := fcmCode(body)
	require.Equal(t, "RESOURCE_EXHAUSTED", st)
	require.Equal(t, "QUOTA_EXCEEDED", code)
	require.Equal(t, "1", res.Header.Get("Retry-After"))
	clk.Add(500 * time.Millisecond) // 2 per second refill
	res, _ = send(t, s, t.Context(), project, "x", msg("device-token-0001"))
	require.Equal(t, 200, res.StatusCode)
	res, _ = send(t, s, t.Context(), project, "x", msg("device-token-0001"))
	require.Equal(t, 429, res.StatusCode)
	require.Equal(t, 121, s.Accepted())

	// The default quota is 600,000 a minute; Unlimited switches it off.
	u := fake.Start(&fake.Options{AccessToken: "x", Now: clk.Now, Unlimited: true, RatePerMinute: 1})
	t.Cleanup(u.Close)
	for range 5 {
		res, _ := send(t, u, t.Context(), project, "x", msg("device-token-0001"))
		require.Equal(t, 200, res.StatusCode)
	}
}

func TestQuotaBurst(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := fake.Start(&fake.Options{AccessToken: "x", Now: clk.Now, RatePerMinute: 120, Burst: 3})
	t.Cleanup(s.Close)
	for i := range 3 {
		res, _ := send(t, s, t.Context(), project, "x", msg("device-token-0001"))
		require.Equal(t, 200, res.StatusCode, "message %d is within the burst", i)
	}
	res, _ := send(t, s, t.Context(), project, "x", msg("device-token-0001"))
	require.Equal(t, 429, res.StatusCode, "a bucket of 3, not of a minute's 120")
	clk.Add(time.Hour)
	for range 3 {
		res, _ := send(t, s, t.Context(), project, "x", msg("device-token-0001"))
		require.Equal(t, 200, res.StatusCode)
	}
	res, _ = send(t, s, t.Context(), project, "x", msg("device-token-0001"))
	require.Equal(t, 429, res.StatusCode, "refilled up to the burst only")
}

func TestServiceAccountTrust(t *testing.T) {
	s := fake.Start(nil)
	t.Cleanup(s.Close)
	untrusted, _ := newAccount(t, s)
	st, _ := grant(t, s, assertion(t, untrusted, time.Now(), nil))
	require.Equal(t, 200, st, "no key trusted yet: signatures are not checked")

	js, err := s.ServiceAccount(project)
	require.NoError(t, err)
	var f struct {
		TokenURI   string `json:"token_uri"`
		PrivateKey string `json:"private_key"`
		Email      string `json:"client_email"`
	}
	require.NoError(t, json.Unmarshal(js, &f))
	require.Equal(t, s.TokenURI(), f.TokenURI)
	block, _ := pem.Decode([]byte(f.PrivateKey))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	trusted := account{Email: f.Email, TokenURI: f.TokenURI, Key: k.(*rsa.PrivateKey)}
	st, _ = grant(t, s, assertion(t, trusted, time.Now(), nil))
	require.Equal(t, 200, st)
	st, body := grant(t, s, assertion(t, untrusted, time.Now(), nil))
	require.Equal(t, 400, st)
	require.Equal(t, "invalid_grant", body["error"])
}
