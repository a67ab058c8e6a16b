package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/web"
	"github.com/anpikit/anpi/internal/shareddata"
	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/store/sqlite"
)

// syncBuffer is a bytes.Buffer safe for the server's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// running is a server started by start.
type running struct {
	s      *server
	out    *syncBuffer // what run printed on stdout
	log    *syncBuffer // its logs
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// stop shuts the server down as SIGTERM would and returns run's error.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case r.err = <-r.done:
		case <-time.After(60 * time.Second):
			t.Fatalf("run did not return after cancel; logs:\n%s", r.log)
		}
	})
	return r.err
}

// noEnv is an empty environment: tests never read the real one.
func noEnv(string) string { return "" }

// start runs the server on 127.0.0.1:0 over dir with a small demo.
func start(t *testing.T, dir string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: &syncBuffer{}, log: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	started := make(chan *server, 1)
	all := append([]string{"-addr", "127.0.0.1:0", "-data", dir, "-demo-users", "60"}, args...)
	go func() {
		r.done <- run(ctx, all, noEnv, r.out, r.log, func(s *server) { started <- s })
	}()
	select {
	case r.s = <-started:
	case err := <-r.done:
		cancel()
		t.Fatalf("run: %v; logs:\n%s", err, r.log)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatalf("the server did not start; logs:\n%s", r.log)
	}
	t.Cleanup(func() { _ = r.stop(t) })
	return r
}

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

var passwordRE = regexp.MustCompile(`password: (\S+)`)

func TestFirstStartSeedsAndPrintsThePasswordOnce(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir)
	ctx := context.Background()
	out := r.out.String()
	require.Contains(t, out, r.s.URL()+"/admin/")
	require.Contains(t, out, r.s.URL()+"/dev/mail")
	require.Contains(t, out, "seeded a demo organisation of 60 users")
	m := passwordRE.FindStringSubmatch(out)
	require.NotNil(t, m, "the first start prints the administrator's password:\n%s", out)
	password := m[1]
	require.Len(t, password, 20)

	// The demo organisation.
	n, err := r.s.st.CountUsers(ctx)
	require.NoError(t, err)
	require.Equal(t, 60, n)
	grants, err := r.s.st.RoleGrants(ctx, adminID)
	require.NoError(t, err)
	require.ElementsMatch(t, []anpi.RoleGrant{{UserID: adminID, Role: anpi.SystemAdmin}, {UserID: adminID, Role: anpi.CrisisManager}}, grants)
	rs, err := r.s.st.ListRules(ctx)
	require.NoError(t, err)
	require.Len(t, rs, 3, "quake-offices, sendai-3 and tsunami-coasts")
	users, err := r.s.st.ListUsers(ctx, nil)
	require.NoError(t, err)
	areas := map[string]bool{}
	for _, u := range users {
		cs, err := r.s.st.Contacts(ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, cs, 1, "user %s", u.ID)
		require.True(t, strings.HasSuffix(cs[0].Address, "@example.jp"), cs[0].Address)
		require.Equal(t, anpi.PrivateScope, cs[0].Scope)
		for _, rg := range u.Regions {
			areas[rg.String()] = true
		}
	}
	require.Greater(t, len(areas), 4, "users spread over the demo regions: %v", areas)

	// The password works, and only its hash is on disk, in files only the
	// owner reads.
	user, err := r.s.accounts.Authenticate(ctx, defaultAdminEmail, password)
	require.NoError(t, err)
	require.Equal(t, adminID, user)
	acct, err := os.ReadFile(filepath.Join(dir, "accounts.json"))
	require.NoError(t, err)
	require.NotContains(t, string(acct), password)
	require.Contains(t, string(acct), "$argon2id$")
	for _, f := range []string{"accounts.json", "key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
	key, err := os.ReadFile(filepath.Join(dir, "key"))
	require.NoError(t, err)
	require.NoError(t, r.stop(t))

	// The second start reuses everything and prints no password.
	r2 := start(t, dir)
	out2 := r2.out.String()
	require.NotContains(t, out2, "password")
	require.NotContains(t, out2, "seeded")
	require.Contains(t, out2, r2.s.URL()+"/admin/")
	n, err = r2.s.st.CountUsers(ctx)
	require.NoError(t, err)
	require.Equal(t, 60, n)
	user, err = r2.s.accounts.Authenticate(ctx, defaultAdminEmail, password)
	require.NoError(t, err)
	require.Equal(t, adminID, user)
	key2, err := os.ReadFile(filepath.Join(dir, "key"))
	require.NoError(t, err)
	require.Equal(t, key, key2)
	cs, err := r2.s.st.Contacts(ctx, "u0001")
	require.NoError(t, err, "the private contacts open with the key kept in the data directory")
	require.Equal(t, "u0001@example.jp", cs[0].Address)
	require.NoError(t, r2.stop(t))
}

// metricLine is one sample line of the Prometheus text format.
var metricLine = regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*\})? [0-9]+$`)

func TestHealthReadyAndMetrics(t *testing.T) {
	r := start(t, t.TempDir())
	resp, body := get(t, r.s.URL()+"/healthz")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "ok\n", body)
	resp, body = get(t, r.s.URL()+"/readyz")
	require.Equal(t, 200, resp.StatusCode, body)

	resp, body = get(t, r.s.URL()+"/metrics")
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/plain; version=0.0.4; charset=utf-8", resp.Header.Get("Content-Type"))
	typed := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "# HELP "):
		case strings.HasPrefix(l, "# TYPE "):
			f := strings.Fields(l)
			require.Len(t, f, 4, l)
			require.Contains(t, []string{"counter", "gauge"}, f[3], l)
			typed[f[2]] = true
		default:
			require.Regexp(t, metricLine, l)
			name, _, _ := strings.Cut(l, "{")
			name, _, _ = strings.Cut(name, " ")
			require.True(t, typed[name], "%s has a # TYPE line before it", name)
		}
	}
	for _, want := range []string{"anpi_queue_depth 0", `anpi_answers_total{via="web"} 0`,
		`anpi_provider_errors_total{channel="email"} 0`, `anpi_dispatch_total{channel="email",outcome="sent"} 0`} {
		require.Contains(t, body, want+"\n")
	}

	// Readiness follows the store: closed, it is not ready.
	require.NoError(t, r.s.st.Close())
	resp, _ = get(t, r.s.URL()+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

// waitMail waits until the sink holds at least n mails.
func waitMail(t *testing.T, s *server, n int) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for s.sink.Count() < n {
		select {
		case <-s.counters.sent:
		case <-deadline:
			t.Fatalf("%d mails captured, want %d", s.sink.Count(), n)
		}
	}
}

var (
	mailLinkRE   = regexp.MustCompile(`href="(/dev/mail/\d+)"`)
	answerLinkRE = regexp.MustCompile(`href="(http://[^"]+/a/[A-Za-z0-9_-]+)"`)
	csrfRE       = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	radioRE      = regexp.MustCompile(`type="radio" name="([^"]+)" value="([^"]+)"`)
)

// TestQuakeToAnswer runs a real JMA VXSE53 through the server: posted to
// the admin API with an API key, it makes a survey; the dispatcher mails
// the recipients (into the sink); a recipient follows the link from
// /dev/mail and answers on the page; the tally read through the API
// counts it.
func TestQuakeToAnswer(t *testing.T) {
	// 2021-02-17 14:08, 震源・震度情報: 震度3 in 宮城県中部 (222), where the
	// demo has its Sendai office.
	doc := shareddata.ReadSample(t, "VXSE53_20210217140958_0_VXSE53_010000.xml")
	dir := t.TempDir()
	acc := web.NewMemAccounts(&web.AccountsOptions{Time: 1, Memory: 64, Threads: 1})
	apiKey, err := acc.NewAPIKey(adminID, "test")
	require.NoError(t, err)
	require.NoError(t, saveAccounts(filepath.Join(dir, "accounts.json"), acc, true))
	r := start(t, dir)
	ctx := context.Background()
	s := r.s
	// The demo seeds sendai-3: 震度3 and above in 宮城県中部.
	_, err = s.st.GetRule(ctx, "sendai-3")
	require.NoError(t, err)
	users, err := s.st.ListUsers(ctx, nil)
	require.NoError(t, err)
	var inSendai []anpi.UserID
	for _, u := range users {
		for _, rg := range u.Regions {
			if rg == (anpi.Region{Kind: anpi.QuakeArea, Code: "222"}) {
				inSendai = append(inSendai, u.ID)
			}
		}
	}
	require.NotEmpty(t, inSendai)

	var out struct {
		Type    string
		Effects []struct {
			Rule       string
			Action     string
			Survey     anpi.SurveyID
			Recipients int
		}
	}
	code := apiCall(t, s, apiKey, "POST", "/admin/api/documents", bytes.NewReader(doc), &out)
	require.Equal(t, 200, code)
	require.Equal(t, "VXSE53", out.Type)
	require.Len(t, out.Effects, 1, "%+v", out)
	eff := out.Effects[0]
	require.Equal(t, "sendai-3", eff.Rule)
	require.Equal(t, "send", eff.Action)
	require.Equal(t, len(inSendai), eff.Recipients)
	require.Equal(t, 401, apiCall(t, s, "anpik_wrong", "POST", "/admin/api/documents", bytes.NewReader(doc), nil))

	waitMail(t, s, len(inSendai))
	to := map[string]bool{}
	for _, m := range s.sink.Messages() {
		require.Len(t, m.To, 1)
		to[m.To[0]] = true
		require.Contains(t, m.Subject, "震度３")
	}
	for _, id := range inSendai {
		require.True(t, to[string(id)+"@example.jp"], "%s got a mail", id)
	}

	// The newest mail, from /dev/mail, and its answer link.
	resp, body := get(t, s.URL()+"/dev/mail")
	require.Equal(t, 200, resp.StatusCode)
	ml := mailLinkRE.FindStringSubmatch(body)
	require.NotNil(t, ml, body)
	require.Equal(t, "/dev/mail/"+strconv.Itoa(len(inSendai)), ml[1], "newest first")
	_, body = get(t, s.URL()+ml[1])
	al := answerLinkRE.FindStringSubmatch(body)
	require.NotNil(t, al, body)
	require.True(t, strings.HasPrefix(al[1], s.URL()+"/a/"), al[1])

	// The page: GET records nothing; the form's CSRF field and choices.
	resp, page := get(t, al[1])
	require.Equal(t, 200, resp.StatusCode)
	var tally struct {
		Tally struct{ Targets, Answered int }
	}
	require.Equal(t, 200, apiCall(t, s, apiKey, "GET", "/admin/api/surveys/"+string(eff.Survey)+"/tally", nil, &tally))
	require.Zero(t, tally.Tally.Answered)
	csrf := csrfRE.FindStringSubmatch(page)
	require.NotNil(t, csrf, page)
	form := url.Values{"csrf": {csrf[1]}}
	for _, m := range radioRE.FindAllStringSubmatch(page, -1) {
		if !form.Has(m[1]) {
			form.Set(m[1], m[2]) // the first choice of each question
		}
	}
	require.Greater(t, len(form), 1, page)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = client.PostForm(al[1], form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	require.Equal(t, 200, apiCall(t, s, apiKey, "GET", "/admin/api/surveys/"+string(eff.Survey)+"/tally", nil, &tally))
	require.Equal(t, 1, tally.Tally.Answered)
	require.Equal(t, len(inSendai), tally.Tally.Targets)
	_, metrics := get(t, s.URL()+"/metrics")
	require.Contains(t, metrics, `anpi_answers_total{via="web"} 1`+"\n")
	require.Contains(t, metrics, `anpi_provider_sends_total{channel="email",result="ok"} `+strconv.Itoa(len(inSendai))+"\n")
	require.Contains(t, metrics, "anpi_survey_answered 1\n")
	require.Contains(t, metrics, `anpi_jma_documents_total{outcome="ok"} 1`+"\n")
}

// apiCall makes an admin API request with key and decodes the JSON answer
// into out (when not nil); it returns the status.
func apiCall(t *testing.T, s *server, key, method, path string, body io.Reader, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, s.URL()+path, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode == 200 {
		require.NoError(t, json.Unmarshal(b, out), string(b))
	}
	return resp.StatusCode
}

// TestAdminLogin logs in to /admin/ with the password printed at the first
// start: the session cookie is scoped to /admin/ and, in development mode
// on http, not Secure; a wrong password is refused.
func TestAdminLogin(t *testing.T) {
	r := start(t, t.TempDir())
	s := r.s
	password := passwordRE.FindStringSubmatch(r.out.String())[1]
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar}
	login := func(pw string) (*http.Response, string) {
		resp, page := getWith(t, client, s.URL()+"/admin/login")
		require.Equal(t, 200, resp.StatusCode, page)
		csrf := csrfRE.FindStringSubmatch(page)
		require.NotNil(t, csrf, page)
		resp, err := client.PostForm(s.URL()+"/admin/login", url.Values{"csrf": {csrf[1]}, "email": {defaultAdminEmail}, "password": {pw}})
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, _ := login("not the password")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	resp, page := login(password)
	require.Equal(t, 200, resp.StatusCode, page)
	require.Equal(t, "/admin/", resp.Request.URL.Path, "redirected to the dashboard")
	u, _ := url.Parse(s.URL() + "/admin/")
	require.NotEmpty(t, jar.Cookies(u), "a session cookie")
	u, _ = url.Parse(s.URL() + "/")
	require.Empty(t, jar.Cookies(u), "the cookies stay under /admin/")
}

func getWith(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// TestDevQuake simulates a 震度5強 in 東京都２３区 through /dev/quake: the
// default rule asks everyone registered there, by mail into the sink.
func TestDevQuake(t *testing.T) {
	r := start(t, t.TempDir())
	s := r.s
	ctx := context.Background()
	users, err := s.st.ListUsers(ctx, nil)
	require.NoError(t, err)
	want := 0
	for _, u := range users {
		for _, rg := range u.Regions {
			if rg == (anpi.Region{Kind: anpi.QuakeArea, Code: "350"}) {
				want++
			}
		}
	}
	require.Greater(t, want, 0)
	resp, err := http.PostForm(s.URL()+"/dev/quake", url.Values{"area": {"350"}, "intensity": {"5+"}, "status": {"通常"}})
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(b))
	require.Contains(t, string(b), "rule quake-offices: send")
	waitMail(t, s, want)
	require.Contains(t, s.sink.Messages()[0].Subject, "震度５強")

	// The same report again (the form offers it with the event): a
	// duplicate, nobody asked twice.
	event := regexp.MustCompile(`name="event" value="(\d{14})"`).FindStringSubmatch(string(b))
	require.NotNil(t, event, string(b))
	resp, err = http.PostForm(s.URL()+"/dev/quake", url.Values{"area": {"350"}, "intensity": {"5+"}, "status": {"通常"}, "event": {event[1]}})
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(b))
	require.Contains(t, string(b), ": duplicate")
	require.NotContains(t, string(b), "deliveries queued")

	for _, bad := range []url.Values{
		{"area": {"999"}, "intensity": {"5+"}, "status": {"通常"}},
		{"area": {"350"}, "intensity": {"8"}, "status": {"通常"}},
		{"area": {"350"}, "intensity": {"5+"}, "status": {"試験"}},
		{"area": {"350"}, "intensity": {"5+"}, "status": {"通常"}, "event": {"2026<script>"}},
	} {
		resp, err = http.PostForm(s.URL()+"/dev/quake", bad)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
	require.Equal(t, want, s.sink.Count(), "nothing more was sent")
	resp, err = http.PostForm(s.URL()+"/dev/quake", url.Values{"area": {"999"}, "intensity": {"5+"}, "status": {"通常"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// TestGracefulShutdown stops the server while a fan-out is being sent:
// run returns nil, the port is closed, no delivery is left claimed (the
// dispatcher recorded its sends in flight, and put the rest back), every
// mail sent is recorded as sent, and the SQLite file opens again at once
// (the lock released). Started again, the server mails the rest, and
// nobody twice.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir, "-demo-users", "300")
	s := r.s
	resp, err := http.PostForm(s.URL()+"/dev/quake", url.Values{"area": {"350"}, "intensity": {"7"}, "status": {"通常"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	waitMail(t, s, 1) // sending has begun
	addr := s.ln.Addr().String()
	require.NoError(t, r.stop(t))
	require.Contains(t, r.log.String(), "dispatcher stopped")
	require.Contains(t, r.log.String(), "store closed")
	_, err = net.Dial("tcp", addr)
	require.Error(t, err, "the listener is closed")
	sent := s.sink.Count()

	key, _, err := loadKey("", dir)
	require.NoError(t, err)
	sealer, err := newSealer(key)
	require.NoError(t, err)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "anpi.db"), &sqlite.Options{Sealer: sealer})
	require.NoError(t, err)
	defer st.Close() // closed again below; a second Close returns nil
	surveys, err := st.ListSurveys(ctx, nil)
	require.NoError(t, err)
	require.Len(t, surveys, 1)
	counts, err := st.CountDeliveries(ctx, surveys[0].ID)
	require.NoError(t, err)
	require.Zero(t, counts[anpi.Sending], "no delivery left claimed: %v", counts)
	require.Equal(t, sent, counts[anpi.Sent], "every mail the sink took is recorded as sent: %v", counts)
	total := 0
	for _, n := range counts {
		total += n
	}
	back := counts[anpi.Queued] + counts[anpi.FailedTemporary] // never claimed, or claimed and put back
	require.Equal(t, total, counts[anpi.Sent]+back, "the rest waits in the queue: %v", counts)
	ds, err := st.Deliveries(ctx, surveys[0].ID)
	require.NoError(t, err)
	for _, d := range ds {
		if d.State == anpi.FailedTemporary {
			require.False(t, d.NextAttemptAt.After(time.Now()), "a batch put back is due at once: %+v", d)
		}
	}
	t.Logf("at shutdown: %d sent, %d waiting (%v)", counts[anpi.Sent], back, counts)
	firstTo := map[string]bool{}
	for _, m := range s.sink.Messages() {
		firstTo[m.To[0]] = true
	}
	require.NoError(t, st.Close())

	// Started again, the server sends the rest, to nobody twice.
	r2 := start(t, dir)
	waitMail(t, r2.s, back)
	for _, m := range r2.s.sink.Messages() {
		require.False(t, firstTo[m.To[0]], "%s was mailed before the restart", m.To[0])
	}
	require.Equal(t, total, len(firstTo)+r2.s.sink.Count())
}

func TestHelpHidesSecretsFromTheEnvironment(t *testing.T) {
	env := map[string]string{"ANPI_SMTP_PASSWORD": "hunter2-secret", "ANPI_POSTGRES_URL": "postgres://u:pgsecret@db/anpi",
		"ANPI_ENCRYPTION_KEY": "a2V5c2VjcmV0", "ANPI_LINE_TOKEN": "linesecret", "ANPI_SMTP": "mail.example.jp:587"}
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, func(k string) string { return env[k] }, &out, &out, nil)
	require.True(t, errors.Is(err, flag.ErrHelp))
	for _, secret := range []string{"hunter2", "pgsecret", "a2V5c2VjcmV0", "linesecret"} {
		require.NotContains(t, out.String(), secret)
	}
	require.Contains(t, out.String(), `(default "(set)")`)
	require.Contains(t, out.String(), `(default "mail.example.jp:587")`, "the variable's value is the default shown")
}

func TestHelpListsEveryFlagWithItsVariable(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, noEnv, &out, &out, nil)
	require.True(t, errors.Is(err, flag.ErrHelp))
	for _, want := range []string{"-addr\tANPI_ADDR", "-data\tANPI_DATA", "-base-url\tANPI_BASE_URL", "-postgres\tANPI_POSTGRES_URL",
		"-smtp\tANPI_SMTP", "-smtp-from\tANPI_SMTP_FROM", "-encryption-key\tANPI_ENCRYPTION_KEY", "-jma-poll\tANPI_JMA_POLL",
		"-demo-users\tANPI_DEMO_USERS", "-dev\tANPI_DEV", `(default "127.0.0.1:8080")`, `(default "./anpi-data")`} {
		require.Contains(t, out.String(), want)
	}
}

func TestConfigFromEnvironmentAndRefusals(t *testing.T) {
	env := map[string]string{"ANPI_ADDR": "127.0.0.1:9999", "ANPI_JMA_POLL": "1", "ANPI_SMTP": "mail.example.jp:587", "ANPI_DEMO_USERS": "12"}
	c, err := parseConfig(nil, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9999", c.Addr)
	require.True(t, c.JMAPoll)
	require.False(t, c.Dev, "a relay means production mode unless -dev says otherwise")
	require.Equal(t, 12, c.DemoUsers)
	require.Equal(t, 72*time.Hour, c.AnswerWindow)
	require.Equal(t, 2, c.Reminders)
	require.Equal(t, time.Hour, c.RemindEvery)
	c, err = parseConfig([]string{"-reminders", "0", "-answer-window", "0"}, noEnv, io.Discard)
	require.NoError(t, err)
	require.Zero(t, c.Reminders)
	require.Zero(t, c.AnswerWindow)
	c, err = parseConfig([]string{"-addr", "127.0.0.1:1"}, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:1", c.Addr, "a flag wins over its variable")
	c, err = parseConfig(nil, noEnv, io.Discard)
	require.NoError(t, err)
	require.True(t, c.Dev, "no relay: development mode")
	require.Equal(t, "./anpi-data", c.Data)

	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"-smtp", "nohost"}, nil, "-smtp"},
		{[]string{"-smtp-tls", "maybe"}, nil, "-smtp-tls"},
		{[]string{"-demo-users", "0"}, nil, "-demo-users"},
		{[]string{"-base-url", "ftp://x"}, nil, "-base-url"},
		{nil, map[string]string{"ANPI_JMA_POLL": "yes please"}, "ANPI_JMA_POLL"},
		{[]string{"-reminders", "2"}, nil, "-reminders"},
		{[]string{"-reminders", "2xsoon"}, nil, "-reminders"},
		{[]string{"-answer-window", "-1h"}, nil, "-answer-window"},
		{nil, map[string]string{"ANPI_ANSWER_WINDOW": "3 days"}, "ANPI_ANSWER_WINDOW"},
		{[]string{"-admin-email", "Admin <a@example.jp>"}, nil, "-admin-email"},
		{[]string{"-jma-feeds", "file:///etc/passwd"}, nil, "-jma-feeds"},
	} {
		_, err := parseConfig(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
		require.ErrorContains(t, err, tc.want)
	}

	// A configured key must be 32 bytes of base64; nothing is written.
	dir := t.TempDir()
	err = run(context.Background(), []string{"-data", dir, "-encryption-key", "c2hvcnQ="}, noEnv, io.Discard, io.Discard, nil)
	require.ErrorContains(t, err, "-encryption-key: 5 bytes, want 32")
	_, err = os.Stat(filepath.Join(dir, "anpi.db"))
	require.True(t, os.IsNotExist(err))
}

// TestJMAFeed runs the server with -jma-poll on a local feed (-jma-feeds):
// the poller reads the long feed (backfill: nothing old is acted on), then
// the short one, downloads the new entry, a real VXSE53, and the Service
// acts on it: the people of the area are mailed.
func TestJMAFeed(t *testing.T) {
	doc := shareddata.ReadSample(t, "VXSE53_20210217140958_0_VXSE53_010000.xml")
	var mu sync.Mutex
	hits := map[string]string{} // path -> User-Agent
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path] = r.Header.Get("User-Agent")
		mu.Unlock()
		entry := func(link string) string {
			return `<entry><title>震源・震度に関する情報</title><id>` + link + `</id><updated>2021-02-17T05:09:58Z</updated>` +
				`<author><name>気象庁</name></author><link type="application/xml" href="` + link + `"/><content type="text">x</content></entry>`
		}
		feed := func(id, entries string) string {
			return `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>高頻度（地震火山）</title><id>` +
				id + `</id><updated>2021-02-17T14:10:00+09:00</updated>` + entries + `</feed>`
		}
		switch r.URL.Path {
		case "/feed/eqvol_l.xml":
			io.WriteString(w, feed(srv.URL+r.URL.Path, ""))
		case "/feed/eqvol.xml":
			io.WriteString(w, feed(srv.URL+r.URL.Path, entry(srv.URL+"/data/20210217050958_0_VXSE53_010000.xml")))
		case "/data/20210217050958_0_VXSE53_010000.xml":
			w.Write(doc)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	dir := t.TempDir()
	// The demo's sendai-3 rule (震度3 and above in 宮城県中部) must be there
	// before the document arrives: seed the store with a first start, then
	// start again with the feed.
	r := start(t, dir)
	_, err := r.s.st.GetRule(context.Background(), "sendai-3")
	require.NoError(t, err)
	users, err := r.s.st.ListUsers(context.Background(), nil)
	require.NoError(t, err)
	want := 0
	for _, u := range users {
		if slices.Contains(u.Regions, anpi.Region{Kind: anpi.QuakeArea, Code: "222"}) {
			want++
		}
	}
	require.Greater(t, want, 0)
	require.NoError(t, r.stop(t))

	r = start(t, dir, "-jma-poll", "-jma-feeds", srv.URL+"/feed/eqvol.xml")
	waitMail(t, r.s, want)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, hits, "/feed/eqvol_l.xml", "the long feed is read first (backfill)")
	require.Contains(t, hits, "/feed/eqvol.xml")
	require.Equal(t, jma.DefaultUserAgent, hits["/data/20210217050958_0_VXSE53_010000.xml"], "the poller's descriptive User-Agent")
}

// TestAnswerFormSurvivesARestart opens an answer page, restarts the
// server, and posts the form: the link (its token hash is in the store)
// and the form's CSRF field (its key derived from the sealing key) still
// work.
func TestAnswerFormSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir)
	resp, err := http.PostForm(r.s.URL()+"/dev/quake", url.Values{"area": {"351"}, "intensity": {"6-"}, "status": {"通常"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	waitMail(t, r.s, 1)
	link := linkInText.FindString(r.s.sink.Messages()[0].Text)
	require.NotEmpty(t, link)
	_, page := get(t, link)
	csrf := csrfRE.FindStringSubmatch(page)
	require.NotNil(t, csrf, page)
	form := url.Values{"csrf": {csrf[1]}}
	for _, m := range radioRE.FindAllStringSubmatch(page, -1) {
		if !form.Has(m[1]) {
			form.Set(m[1], m[2])
		}
	}
	oldBase := r.s.URL()
	require.NoError(t, r.stop(t))

	r2 := start(t, dir)
	link = r2.s.URL() + strings.TrimPrefix(link, oldBase) // a new port; the same path
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = client.PostForm(link, form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

// linkInText finds an answer link in a mail's text.
var linkInText = regexp.MustCompile(`http://[^\s]+/a/[A-Za-z0-9_-]+`)

// TestOptionalProviders: the provider flags add their channels to the
// dispatcher's senders (and to /metrics), incomplete credentials are
// refused naming the flags, and nothing is sent at start.
func TestOptionalProviders(t *testing.T) {
	r := start(t, t.TempDir(), "-line-token", "line-token", "-twilio-sid", "AC0123456789abcdef0123456789abcdef",
		"-twilio-token", "0123456789abcdef0123456789abcdef", "-twilio-from", "+815012345678")
	require.Equal(t, []anpi.Channel{anpi.LINEChannel, anpi.EmailChannel, anpi.SMSChannel}, r.s.channels, "in the fallback order")
	_, metrics := get(t, r.s.URL()+"/metrics")
	require.Contains(t, metrics, `anpi_provider_errors_total{channel="line"} 0`+"\n")
	require.Contains(t, metrics, `anpi_provider_errors_total{channel="sms"} 0`+"\n")

	dir := t.TempDir()
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0", "-data", dir, "-twilio-sid", "AC0123456789abcdef0123456789abcdef"},
		noEnv, io.Discard, io.Discard, nil)
	require.ErrorContains(t, err, "-twilio-token")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "refused before anything is written")
}

// TestAdminAPIWithASimulatedReport posts the simulator's VXSE53 (no shared
// samples needed) to the admin API: an API key made with -new-api-key
// before the start is accepted, the default rule sends, and the survey's
// tally is read through the API.
func TestAdminAPIWithASimulatedReport(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir)
	require.NoError(t, r.stop(t))
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-data", dir, "-new-api-key", "ops"}, noEnv, &out, io.Discard, nil))
	key := regexp.MustCompile(`anpik_\S+`).FindString(out.String())
	require.NotEmpty(t, key)
	r = start(t, dir)

	doc, _, err := simulatedVXSE53("520", "6+", "通常", "", time.Now())
	require.NoError(t, err)
	var res struct {
		Effects []struct {
			Rule       string
			Survey     anpi.SurveyID
			Recipients int
		}
	}
	require.Equal(t, 200, apiCall(t, r.s, key, "POST", "/admin/api/documents", bytes.NewReader(doc), &res))
	require.Len(t, res.Effects, 1)
	require.Equal(t, "quake-offices", res.Effects[0].Rule)
	require.Greater(t, res.Effects[0].Recipients, 0)
	var tally struct {
		Tally struct{ Targets, Answered int }
	}
	require.Equal(t, 200, apiCall(t, r.s, key, "GET", "/admin/api/surveys/"+string(res.Effects[0].Survey)+"/tally", nil, &tally))
	require.Equal(t, res.Effects[0].Recipients, tally.Tally.Targets)
	require.Zero(t, tally.Tally.Answered)
	require.Equal(t, http.StatusUnauthorized, apiCall(t, r.s, "", "GET", "/admin/api/surveys", nil, nil))
}
