package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/web"
	"github.com/anpikit/anpi/store/memstore"
)

// privMark is in every private address seeded (emails), privPhone in
// every private phone number: no admin response may contain either.
const (
	privMark  = "privmark"
	privPhone = "9055550"
	bossPW    = "boss password 1234"
	mgrPW     = "manager-a password"
	bTitle    = "部署Bだけの確認 BSECRET"
)

// syncBuffer is a log sink safe for the handler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type adminEnv struct {
	t       *testing.T
	ctx     context.Context
	st      *memstore.Store
	svc     *anpi.Service
	acc     *web.MemAccounts
	clock   *clock
	logs    *syncBuffer
	h       http.Handler
	bossKey string
	mgrKey  string
	bSurvey anpi.SurveyID // sent to department B only
	bodies  []string      // every response body, for the leak checks
}

// newAdminEnv seeds a company: departments a (with a1 below it) and b;
// boss, a company-wide system administrator; mgra, a crisis manager over
// a's subtree; alice (a), aki (a1), bob and bea (b). Everyone has a
// private email and phone (marked), a work email, and lives in quake area
// 350; bob's private email is broken. A survey went to department b.
func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	e := &adminEnv{t: t, ctx: context.Background(), clock: &clock{t: time.Date(2030, 4, 1, 1, 0, 0, 0, time.UTC)}, logs: &syncBuffer{}}
	e.st = memstore.New(&memstore.Options{Now: e.clock.Now})
	t.Cleanup(func() { e.st.Close() })
	ctx := e.ctx
	for _, d := range []anpi.Department{{ID: "a", Name: "営業部"}, {ID: "a1", Name: "営業一課", ParentID: "a"}, {ID: "b", Name: "開発部"}} {
		require.NoError(t, e.st.CreateDepartment(ctx, &d))
	}
	r350, err := anpi.ParseRegion("quake:350")
	require.NoError(t, err)
	users := []struct {
		id, name string
		dept     anpi.DepartmentID
	}{{"boss", "社長 太郎", ""}, {"mgra", "営業 部長", "a"}, {"alice", "阿井 花子", "a"}, {"aki", "秋山 一郎", "a1"}, {"bob", "番場 BOBNAME", "b"}, {"bea", "別府 BEANAME", "b"}}
	for i, u := range users {
		rec := &anpi.User{ID: anpi.UserID(u.id), EmployeeCode: fmt.Sprintf("E%02d", i), Name: u.name, WorkEmail: u.id + "@corp.example",
			Regions: []anpi.Region{r350}, Status: anpi.Active, Locale: anpi.Japanese}
		if u.dept != "" {
			rec.Departments = []anpi.DepartmentID{u.dept}
		}
		require.NoError(t, e.st.CreateUser(ctx, rec))
		for _, c := range []*anpi.Contact{
			{ID: anpi.ContactID("w-" + u.id), UserID: rec.ID, Kind: anpi.EmailContact, Scope: anpi.WorkScope, Address: u.id + "@corp.example"},
			{ID: anpi.ContactID("p-" + u.id), UserID: rec.ID, Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: privMark + "." + u.id + "@home.example"},
			{ID: anpi.ContactID("t-" + u.id), UserID: rec.ID, Kind: anpi.PhoneContact, Scope: anpi.PrivateScope, Address: fmt.Sprintf("+81%s%02d", privPhone, i)},
		} {
			require.NoError(t, e.st.PutContact(ctx, c))
		}
	}
	require.NoError(t, e.st.RecordContactCheck(ctx, "p-bob", anpi.ContactCheck{Broken: true, LastError: "550 no such user"}))
	require.NoError(t, e.st.GrantRole(ctx, anpi.RoleGrant{UserID: "boss", Role: anpi.SystemAdmin}))
	require.NoError(t, e.st.GrantRole(ctx, anpi.RoleGrant{UserID: "mgra", Role: anpi.CrisisManager, Department: "a"}))
	rule := `{"id":"quake-5lower","name":"震度5弱以上","kind":"earthquake","earthquake":{"threshold":"5-"}}`
	require.NoError(t, e.st.PutRule(ctx, &anpi.RuleRecord{ID: "quake-5lower", Name: "震度5弱以上", Enabled: true, Spec: []byte(rule)}))
	e.svc, err = anpi.New(e.st, &anpi.Options{Clock: e.clock.Now, BaseURL: "https://anpi.corp.example/anpi", AnswerWindow: 24 * time.Hour})
	require.NoError(t, err)

	e.acc = web.NewMemAccounts(cheapArgon())
	require.NoError(t, e.acc.SetPassword("boss", "boss@corp.example", bossPW))
	require.NoError(t, e.acc.SetPassword("mgra", "mgra@corp.example", mgrPW))
	e.bossKey, err = e.acc.NewAPIKey("boss", "ci")
	require.NoError(t, err)
	e.mgrKey, err = e.acc.NewAPIKey("mgra", "ci")
	require.NoError(t, err)

	st, err := e.svc.StartSurvey(ctx, "boss", &anpi.SendRequest{Title: bTitle, Targeting: anpi.Targeting{Departments: []anpi.DepartmentTarget{{ID: "b"}}}})
	require.NoError(t, err)
	e.bSurvey = st.Survey.ID

	e.h = web.NewAdminHandler(e.svc, e.acc, &web.AdminOptions{Clock: e.clock.Now, CSRFKey: []byte("admin test key"),
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	return e
}

// companySurvey starts a survey to everyone as boss.
func (e *adminEnv) companySurvey(title string) anpi.SurveyID {
	st, err := e.svc.StartSurvey(e.ctx, "boss", &anpi.SendRequest{Title: title, Targeting: anpi.Targeting{Everyone: true}})
	require.NoError(e.t, err)
	return st.Survey.ID
}

// client is a browser: its cookies, sent back on every request.
type client struct {
	e       *adminEnv
	cookies map[string]string
}

func (e *adminEnv) client() *client { return &client{e: e, cookies: map[string]string{}} }

func (c *client) do(req *http.Request) resp {
	c.e.t.Helper()
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	w := httptest.NewRecorder()
	c.e.h.ServeHTTP(w, req)
	res := w.Result()
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	b, err := io.ReadAll(res.Body)
	require.NoError(c.e.t, err)
	r := resp{code: w.Code, hdr: res.Header, body: string(b)}
	requireSecurityHeaders(c.e.t, r.hdr)
	c.e.bodies = append(c.e.bodies, r.body)
	return r
}

func (c *client) get(path string) resp {
	c.e.t.Helper()
	return c.do(httptest.NewRequest(http.MethodGet, "https://admin.example"+path, nil))
}

// post posts form to path; hdr are extra header pairs. Same-origin by default.
func (c *client) post(path string, form url.Values, hdr ...string) resp {
	c.e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "https://admin.example"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://admin.example")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.do(req)
}

// csrf returns the CSRF field of the page at path.
func (c *client) csrf(path string) string {
	c.e.t.Helper()
	r := c.get(path)
	require.Equal(c.e.t, http.StatusOK, r.code, r.body+c.e.logs.String())
	m := csrfRE.FindStringSubmatch(r.body)
	require.NotNil(c.e.t, m, r.body)
	return m[1]
}

// login logs in and returns the client.
func (e *adminEnv) login(email, password string) *client {
	e.t.Helper()
	c := e.client()
	r := c.post("/login", url.Values{"csrf": {c.csrf("/login")}, "email": {email}, "password": {password}})
	require.Equal(e.t, http.StatusSeeOther, r.code, r.body)
	require.Equal(e.t, "./", r.hdr.Get("Location"))
	require.NotEmpty(e.t, c.cookies["anpi_admin"])
	return c
}

// api calls the API with key ("" for none).
func (e *adminEnv) api(method, path, key string, body io.Reader) resp {
	e.t.Helper()
	req := httptest.NewRequest(method, "https://admin.example"+path, body)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	b, err := io.ReadAll(w.Result().Body)
	require.NoError(e.t, err)
	r := resp{code: w.Code, hdr: w.Result().Header, body: string(b)}
	requireSecurityHeaders(e.t, r.hdr)
	e.bodies = append(e.bodies, r.body)
	return r
}

// apiErr decodes an API error and checks its status and code.
func (e *adminEnv) apiErr(r resp, status int, code string) {
	e.t.Helper()
	require.Equal(e.t, status, r.code, r.body)
	var got struct{ Error, Code string }
	require.NoError(e.t, json.Unmarshal([]byte(r.body), &got), r.body)
	require.Equal(e.t, code, got.Code, r.body)
	require.NotEmpty(e.t, got.Error)
}

func (e *adminEnv) surveyCount() int {
	e.t.Helper()
	svs, err := e.st.ListSurveys(e.ctx, nil)
	require.NoError(e.t, err)
	return len(svs)
}

func TestAdminLogin(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	r := c.get("/")
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, "./login", r.hdr.Get("Location"))
	r = c.get("/surveys/x")
	require.Equal(t, "../login", r.hdr.Get("Location"), "redirects are relative: the handler works under any prefix")

	// The login form sets a nonce cookie; its CSRF field is bound to it.
	csrf := c.csrf("/login")
	r = c.post("/login", url.Values{"csrf": {csrf}, "email": {"boss@corp.example"}, "password": {"wrong password!"}})
	require.Equal(t, http.StatusUnauthorized, r.code)
	require.Contains(t, r.body, "メールアドレスまたはパスワードが違います")
	require.Empty(t, c.cookies["anpi_admin"])
	r = c.post("/login", url.Values{"csrf": {c.csrf("/login")}, "email": {"nobody@corp.example"}, "password": {bossPW}})
	require.Equal(t, http.StatusUnauthorized, r.code, "unknown email: the same answer")
	r = c.post("/login", url.Values{"csrf": {"forged"}, "email": {"boss@corp.example"}, "password": {bossPW}})
	require.Equal(t, http.StatusForbidden, r.code, "login CSRF")

	req := httptest.NewRequest(http.MethodPost, "https://admin.example/login", strings.NewReader(url.Values{"csrf": {c.csrf("/login")},
		"email": {"boss@corp.example"}, "password": {bossPW}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "anpi_admin_login", Value: c.cookies["anpi_admin_login"]})
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
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
	require.GreaterOrEqual(t, len(sess.Value), 43, "256 random bits")

	b := e.login("boss@corp.example", bossPW)
	// Logging in again in the same browser replaces the session: the old
	// ID stops working (no session fixation).
	first := b.cookies["anpi_admin"]
	require.Equal(t, http.StatusSeeOther, b.get("/login").code, "logged in: the form is skipped")
	delete(b.cookies, "anpi_admin")
	csrf = b.csrf("/login")
	b.cookies["anpi_admin"] = first
	r = b.post("/login", url.Values{"csrf": {csrf}, "email": {"boss@corp.example"}, "password": {bossPW}})
	require.Equal(t, http.StatusSeeOther, r.code)
	require.NotEqual(t, first, b.cookies["anpi_admin"])
	stale := e.client()
	stale.cookies["anpi_admin"] = first
	require.Equal(t, http.StatusSeeOther, stale.get("/").code)
	r = b.get("/")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, bTitle)
	require.Contains(t, r.body, "0%")

	// Logout ends the session on the server: the old cookie no longer works.
	old := b.cookies["anpi_admin"]
	r = b.post("/logout", url.Values{"csrf": {b.csrf("/")}})
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, "./login", r.hdr.Get("Location"))
	b.cookies["anpi_admin"] = old
	r = b.get("/")
	require.Equal(t, http.StatusSeeOther, r.code)
}

func TestAdminSessionExpires(t *testing.T) {
	e := newAdminEnv(t)
	c := e.login("boss@corp.example", bossPW)
	e.clock.Advance(12*time.Hour - time.Second)
	require.Equal(t, http.StatusOK, c.get("/").code)
	csrf := c.csrf("/send")
	e.clock.Advance(time.Second)
	r := c.get("/")
	require.Equal(t, http.StatusSeeOther, r.code, "expired on the injected clock")
	n := e.surveyCount()
	r = c.post("/send", url.Values{"csrf": {csrf}, "title": {"t"}, "everyone": {"1"}})
	require.Equal(t, http.StatusForbidden, r.code)
	require.Equal(t, n, e.surveyCount())
}

func TestAdminLoginRateLimit(t *testing.T) {
	e := newAdminEnv(t)
	c := e.client()
	for range 5 {
		r := c.post("/login", url.Values{"csrf": {c.csrf("/login")}, "email": {"boss@corp.example"}, "password": {"not the password"}})
		require.Equal(t, http.StatusUnauthorized, r.code)
	}
	r := c.post("/login", url.Values{"csrf": {c.csrf("/login")}, "email": {"boss@corp.example"}, "password": {bossPW}})
	require.Equal(t, http.StatusTooManyRequests, r.code, "the right password is refused too while blocked")
	require.NotEmpty(t, r.hdr.Get("Retry-After"))
	require.Empty(t, c.cookies["anpi_admin"])
	// Another email from the same client still logs in: the client limit is higher.
	e.login("mgra@corp.example", mgrPW)
	e.clock.Advance(15 * time.Minute)
	e.login("boss@corp.example", bossPW)
}

func TestAdminCSRFAndOrigin(t *testing.T) {
	e := newAdminEnv(t)
	c := e.login("boss@corp.example", bossPW)
	csrf := c.csrf("/send")
	form := func(tok string) url.Values {
		return url.Values{"csrf": {tok}, "title": {"全社テスト"}, "everyone": {"1"}}
	}
	n := e.surveyCount()
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"no field", url.Values{"title": {"x"}, "everyone": {"1"}}, nil},
		{"wrong field", form("AAAA"), nil},
		{"another session's field", form(e.login("mgra@corp.example", mgrPW).csrf("/send")), nil},
		{"cross-origin Origin", form(csrf), []string{"Origin", "https://evil.example"}},
		{"cross-site fetch", form(csrf), []string{"Sec-Fetch-Site", "cross-site"}},
	} {
		r := c.post("/send", tc.form, tc.hdr...)
		require.Equal(t, http.StatusForbidden, r.code, tc.name)
		require.Equal(t, n, e.surveyCount(), "%s: nothing changes", tc.name)
	}
	r := c.post("/logout", url.Values{"csrf": {"AAAA"}})
	require.Equal(t, http.StatusForbidden, r.code)
	require.Equal(t, http.StatusOK, c.get("/").code, "a forged logout does not log out")

	r = c.post("/send", form(csrf))
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, n+1, e.surveyCount())
}

func TestAdminSendForm(t *testing.T) {
	e := newAdminEnv(t)
	c := e.login("boss@corp.example", bossPW)
	r := c.get("/send")
	require.Contains(t, r.body, "営業一課")
	csrf := c.csrf("/send")

	// A test send goes to the sender only.
	r = c.post("/send", url.Values{"csrf": {csrf}, "title": {"訓練前の確認"}, "dept": {"a"}, "subtree": {"1"}, "test": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	loc := r.hdr.Get("Location")
	require.True(t, strings.HasPrefix(loc, "surveys/test-"), loc)
	sv, err := e.st.GetSurvey(e.ctx, anpi.SurveyID(strings.TrimPrefix(loc, "surveys/")))
	require.NoError(t, err)
	require.Equal(t, anpi.TestSurvey, sv.Kind)
	recs, err := e.st.Recipients(e.ctx, sv.ID)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, anpi.UserID("boss"), recs[0].UserID)

	// The real send to department a with its subtree reaches a1 too.
	r = c.post("/send", url.Values{"csrf": {csrf}, "title": {"営業部の確認"}, "dept": {"a"}, "subtree": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	recs, err = e.st.Recipients(e.ctx, anpi.SurveyID(strings.TrimPrefix(r.hdr.Get("Location"), "surveys/")))
	require.NoError(t, err)
	require.Len(t, recs, 3, "mgra, alice, aki")

	// A message in the legacy layout.
	r = c.post("/send", url.Values{"csrf": {csrf}, "title": {"地震発生"}, "dept": {"b"}, "occurrence": {"地震発生"}, "sender": {"総務部"},
		"instruction_note": {"安否を回答してください"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	sv, err = e.st.GetSurvey(e.ctx, anpi.SurveyID(strings.TrimPrefix(r.hdr.Get("Location"), "surveys/")))
	require.NoError(t, err)
	require.Equal(t, &anpi.LegacyMessage{Occurrence: "地震発生", Sender: "総務部", InstructionNote: "安否を回答してください"}, sv.Legacy)

	// Bad input re-renders the form with the error and changes nothing.
	n := e.surveyCount()
	r = c.post("/send", url.Values{"csrf": {csrf}, "title": {"x"}, "dept": {"b"}, "occurrence": {"地震発生"}})
	require.Equal(t, http.StatusBadRequest, r.code, "a legacy message needs a sender")
	require.Contains(t, r.body, "sender is required")
	require.Contains(t, r.body, `value="地震発生"`)
	r = c.post("/send", url.Values{"csrf": {csrf}, "title": {"x"}, "regions": {"quake:35"}})
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Contains(t, r.body, `class="err"`)
	require.Contains(t, r.body, `value="quake:35"`)
	r = c.post("/send", url.Values{"csrf": {csrf}, "title": {"x"}})
	require.Equal(t, http.StatusBadRequest, r.code, "no recipients")
	require.Equal(t, n, e.surveyCount())

	// A manager scoped to a may not send to b.
	m := e.login("mgra@corp.example", mgrPW)
	r = m.post("/send", url.Values{"csrf": {m.csrf("/send")}, "title": {"x"}, "dept": {"b"}})
	require.Equal(t, http.StatusForbidden, r.code)
	require.Equal(t, n, e.surveyCount())
}

// bodyOf extracts the numbers of the tally page's headline.
var rateRE = regexp.MustCompile(`回答済 (\d+) / 対象 (\d+)`)

func TestAdminTallyMovesAfterAnswer(t *testing.T) {
	e := newAdminEnv(t)
	id := e.companySurvey("全社の安否確認")
	c := e.login("boss@corp.example", bossPW)
	r := c.get("/surveys/" + string(id))
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, `<meta http-equiv="refresh" content="5">`)
	require.Contains(t, r.body, "<svg")
	require.Equal(t, []string{"回答済 0 / 対象 6", "0", "6"}, rateRE.FindStringSubmatch(r.body))
	require.Contains(t, r.body, "阿井 花子", "alice is unanswered")
	require.Contains(t, r.body, "営業一課")

	_, err := e.svc.AnswerAs(e.ctx, id, "alice", []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}}, anpi.ViaAdmin)
	require.NoError(t, err)
	r = c.get("/surveys/" + string(id))
	require.Equal(t, []string{"回答済 1 / 対象 6", "1", "6"}, rateRE.FindStringSubmatch(r.body))
	require.NotContains(t, r.body, "<td>阿井 花子</td>", "alice left the unanswered list")
	require.Contains(t, r.body, "17%")
	require.Contains(t, r.body, `>1</text>`, "the chart's safe bar shows 1")

	// English.
	r = c.get("/surveys/" + string(id) + "?lang=en")
	require.Contains(t, r.body, "Response rate")
	require.Contains(t, r.body, "Safe")
}

func TestAdminFollowUp(t *testing.T) {
	e := newAdminEnv(t)
	id := e.companySurvey("全社の安否確認")
	_, err := e.svc.AnswerAs(e.ctx, id, "alice", []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"minor"}}}, anpi.ViaAdmin)
	require.NoError(t, err)
	c := e.login("boss@corp.example", bossPW)
	csrf := c.csrf("/surveys/" + string(id))

	r := c.post("/surveys/"+string(id)+"/followup", url.Values{"csrf": {csrf}, "to": {"unanswered"}, "title": {"未回答の方へ"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	next := strings.TrimPrefix(r.hdr.Get("Location"), "../")
	recs, err := e.st.Recipients(e.ctx, anpi.SurveyID(next))
	require.NoError(t, err)
	require.Len(t, recs, 5, "everyone but alice")

	r = c.post("/surveys/"+string(id)+"/followup", url.Values{"csrf": {csrf}, "to": {"chose:self:minor"}, "title": {"軽傷の方へ"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	recs, err = e.st.Recipients(e.ctx, anpi.SurveyID(strings.TrimPrefix(r.hdr.Get("Location"), "../")))
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, anpi.UserID("alice"), recs[0].UserID)

	n := e.surveyCount()
	r = c.post("/surveys/"+string(id)+"/followup", url.Values{"csrf": {csrf}, "to": {"chose:self"}, "title": {"x"}})
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Equal(t, n, e.surveyCount())

	// mgra sees the survey within 営業部 only: his follow-up goes to the
	// unanswered of 営業部 (mgra and aki; alice answered), by name.
	m := e.login("mgra@corp.example", mgrPW)
	r = m.post("/surveys/"+string(id)+"/followup", url.Values{"csrf": {m.csrf("/surveys/" + string(id))}, "to": {"unanswered"}, "title": {"営業部の未回答者へ"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	recs, err = e.st.Recipients(e.ctx, anpi.SurveyID(strings.TrimPrefix(r.hdr.Get("Location"), "../")))
	require.NoError(t, err)
	var ids []anpi.UserID
	for _, rc := range recs {
		ids = append(ids, rc.UserID)
	}
	require.ElementsMatch(t, []anpi.UserID{"mgra", "aki"}, ids)
	r = m.post("/surveys/"+string(id)+"/followup", url.Values{"csrf": {m.csrf("/surveys/" + string(id))}, "to": {"chose:self:serious"}, "title": {"x"}})
	require.Equal(t, http.StatusConflict, r.code, "nobody of 営業部 chose serious")
	require.Equal(t, n+1, e.surveyCount())
}

// vxse53 is the project's own hand-written 震度5強 report for 東京都２３区 (area 350).
func vxse53(t *testing.T) []byte {
	data, err := os.ReadFile("../testdata/vxse53_tokyo.xml")
	require.NoError(t, err)
	return data
}

// upload posts a document to /feed as a multipart form.
func (c *client) upload(csrf, name string, data []byte) resp {
	c.e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	require.NoError(c.e.t, mw.WriteField("csrf", csrf))
	fw, err := mw.CreateFormFile("document", name)
	require.NoError(c.e.t, err)
	fw.Write(data)
	require.NoError(c.e.t, mw.Close())
	req := httptest.NewRequest(http.MethodPost, "https://admin.example/feed", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

var surveyLinkRE = regexp.MustCompile(`<a href="surveys/([^"]+)">`)

func TestAdminFeedStartsSurvey(t *testing.T) {
	e := newAdminEnv(t)
	n := e.surveyCount()

	// A crisis manager scoped to a department may not feed documents: a
	// document can message the whole company.
	m := e.login("mgra@corp.example", mgrPW)
	r := m.get("/feed")
	require.Equal(t, http.StatusForbidden, r.code)
	r = m.upload(m.csrf("/"), "q.xml", vxse53(t))
	require.Equal(t, http.StatusForbidden, r.code)
	require.Equal(t, n, e.surveyCount())

	c := e.login("boss@corp.example", bossPW)
	csrf := c.csrf("/feed")
	r = c.upload("forged", "q.xml", vxse53(t))
	require.Equal(t, http.StatusForbidden, r.code)
	require.Equal(t, n, e.surveyCount())
	r = c.upload(csrf, "bad.xml", []byte("<Report><oops"))
	require.Equal(t, http.StatusBadRequest, r.code, r.body)
	require.Equal(t, n, e.surveyCount())

	r = c.upload(csrf, "q.xml", vxse53(t))
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, "quake-5lower")
	link := surveyLinkRE.FindStringSubmatch(r.body)
	require.NotNil(t, link, r.body)
	require.Equal(t, n+1, e.surveyCount())
	r = c.get("/surveys/" + link[1])
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "回答済 0 / 対象 6")
	require.Contains(t, e.logs.String(), "JMA document uploaded")
	require.Contains(t, e.logs.String(), "user=boss")
	entries, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{Actor: "boss"})
	require.NoError(t, err)
	var uploads []string
	for _, en := range entries {
		if en.Action == "jma.upload" {
			uploads = append(uploads, en.Detail)
		}
	}
	require.Len(t, uploads, 2, "the malformed document and the real one; the refused ones never reached the Service")
	require.Contains(t, uploads[0], "not applied: InvalidArgument")
	require.Contains(t, uploads[1], "VXSE53 通常")
	require.Contains(t, uploads[1], "surveys "+link[1])

	// Too large: refused before the Service sees it.
	r = c.upload(csrf, "big.xml", bytes.Repeat([]byte("x"), 16<<20+1))
	require.Equal(t, http.StatusRequestEntityTooLarge, r.code)
	require.Equal(t, n+1, e.surveyCount())
}

// A 訓練 document sends only under a rule that opts in to drills, and the
// survey is labelled as a drill in the list and on its tally page.
func TestAdminDrillLabelled(t *testing.T) {
	e := newAdminEnv(t)
	drill := `{"id":"quake-drill","name":"訓練","kind":"earthquake","earthquake":{"threshold":"5-"},"options":{"drill":true}}`
	require.NoError(t, e.st.PutRule(e.ctx, &anpi.RuleRecord{ID: "quake-drill", Name: "訓練", Enabled: true, Spec: []byte(drill)}))
	doc := bytes.Replace(vxse53(t), []byte("<Status>通常</Status>"), []byte("<Status>訓練</Status>"), 1)
	require.NotEqual(t, vxse53(t), doc)
	c := e.login("boss@corp.example", bossPW)
	r := c.upload(c.csrf("/feed"), "drill.xml", doc)
	require.Equal(t, http.StatusOK, r.code, r.body)
	link := surveyLinkRE.FindStringSubmatch(r.body)
	require.NotNil(t, link, r.body)
	sv, err := e.st.GetSurvey(e.ctx, anpi.SurveyID(link[1]))
	require.NoError(t, err)
	require.Equal(t, anpi.DrillSurvey, sv.Kind)
	require.Contains(t, c.get("/").body, `<span class="drill">[訓練]</span>`)
	r = c.get("/surveys/" + link[1])
	require.Contains(t, r.body, `<h1><span class="drill">[訓練]</span>`)
}

// TestAdminFeedRealSample feeds a real JMA VXSE53 from ../shared/jma-samples
// when present (it is never copied into the repository).
func TestAdminFeedRealSample(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "jma-samples")
	files, _ := filepath.Glob(filepath.Join(dir, "*VXSE53*.xml"))
	if len(files) == 0 {
		t.Skipf("no VXSE53 sample in %s: the hand-written one is tested by TestAdminFeedStartsSurvey", dir)
	}
	e := newAdminEnv(t)
	c := e.login("boss@corp.example", bossPW)
	csrf := c.csrf("/feed")
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		r := c.upload(csrf, filepath.Base(f), data)
		require.Equal(t, http.StatusOK, r.code, "%s: %s", f, r.body)
		require.Contains(t, r.body, "VXSE53", f)
	}
}

func TestAdminScopedAdministrator(t *testing.T) {
	e := newAdminEnv(t)
	all := e.companySurvey("全社の安否確認")
	m := e.login("mgra@corp.example", mgrPW)
	forbidden := []string{bTitle, "BOBNAME", "BEANAME", "開発部"}
	noB := func(r resp) {
		t.Helper()
		for _, s := range forbidden {
			require.NotContains(t, r.body, s)
		}
	}

	r := m.get("/")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "全社の安否確認")
	require.Contains(t, r.body, "(営業部)", "the company survey, seen within a")
	noB(r)
	for _, p := range []string{"/surveys/" + string(e.bSurvey), "/surveys/" + string(e.bSurvey) + "/export.csv"} {
		r = m.get(p)
		require.Equal(t, http.StatusNotFound, r.code, p)
		noB(r)
	}
	r = m.get("/surveys/" + string(all))
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "回答済 0 / 対象 3", "mgra, alice, aki")
	require.Contains(t, r.body, "阿井 花子")
	noB(r)
	r = m.get("/surveys/" + string(all) + "?department=b")
	require.Equal(t, http.StatusForbidden, r.code)
	noB(r)
	r = m.get("/surveys/" + string(all) + "/export.csv?department=b")
	require.Equal(t, http.StatusForbidden, r.code)
	r = m.get("/surveys/" + string(all) + "/export.csv")
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, "text/csv; charset=utf-8", r.hdr.Get("Content-Type"))
	require.Contains(t, r.body, "阿井 花子")
	noB(r)
	r = m.get("/contacts")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "秋山 一郎")
	noB(r)
	r = m.post("/rules/simulate", url.Values{"csrf": {m.csrf("/rules")}, "area": {"350"}, "intensity": {"6-"}})
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, "(3 権限外", "boss, bob, bea are counted, not named")
	noB(r)

	// The API, with mgra's key.
	for _, p := range []string{"/api/surveys/" + string(e.bSurvey) + "/tally", "/api/surveys/" + string(e.bSurvey) + "/export.csv"} {
		r = e.api(http.MethodGet, p, e.mgrKey, nil)
		e.apiErr(r, http.StatusNotFound, "NotFound")
		noB(r)
	}
	for _, p := range []string{"/api/surveys", "/api/users", "/api/surveys/" + string(all) + "/tally", "/api/surveys/" + string(all) + "/export.csv"} {
		r = e.api(http.MethodGet, p, e.mgrKey, nil)
		require.Equal(t, http.StatusOK, r.code, p+": "+r.body)
		noB(r)
	}
	// A survey that named users of b by ID, seen by mgra through its a part:
	// the IDs are not shown to him.
	named, err := e.svc.StartSurvey(e.ctx, "boss", &anpi.SendRequest{Title: "指名", Targeting: anpi.Targeting{Users: []anpi.UserID{"alice", "bob"}}})
	require.NoError(t, err)
	r = e.api(http.MethodGet, "/api/surveys/"+string(named.Survey.ID)+"/tally", e.mgrKey, nil)
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, "alice")
	require.NotContains(t, r.body, "bob")
	r = e.api(http.MethodGet, "/api/surveys/"+string(all)+"/tally?department=b", e.mgrKey, nil)
	e.apiErr(r, http.StatusForbidden, "PermissionDenied")
	r = e.api(http.MethodGet, "/api/audit", e.mgrKey, nil)
	e.apiErr(r, http.StatusForbidden, "PermissionDenied")

	// boss sees B's survey.
	b := e.login("boss@corp.example", bossPW)
	r = b.get("/surveys/" + string(e.bSurvey))
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "BOBNAME")
}

// TestAdminNoPrivateAddress visits every page and API route as both
// administrators and checks that no response carries a private address.
func TestAdminNoPrivateAddress(t *testing.T) {
	e := newAdminEnv(t)
	all := e.companySurvey("全社の安否確認")
	for _, who := range []struct{ email, pw, key string }{{"boss@corp.example", bossPW, e.bossKey}, {"mgra@corp.example", mgrPW, e.mgrKey}} {
		c := e.login(who.email, who.pw)
		for _, p := range []string{"/", "/surveys/" + string(all), "/surveys/" + string(all) + "?lang=en", "/surveys/" + string(e.bSurvey),
			"/surveys/" + string(all) + "/export.csv", "/surveys/" + string(e.bSurvey) + "/export.csv", "/send", "/feed", "/rules", "/contacts", "/contacts?lang=en"} {
			c.get(p)
		}
		c.post("/rules/simulate", url.Values{"csrf": {c.csrf("/rules")}, "area": {"350"}, "intensity": {"7"}})
		for _, p := range []string{"/api/surveys", "/api/surveys/" + string(all) + "/tally", "/api/surveys/" + string(all) + "/export.csv",
			"/api/users", "/api/rules", "/api/audit"} {
			e.api(http.MethodGet, p, who.key, nil)
		}
		e.api(http.MethodPost, "/api/rules/simulate", who.key, strings.NewReader(`{"quake":[{"area":"350","intensity":"7"}]}`))
	}
	require.Greater(t, len(e.bodies), 40)
	seenContacts := false
	for _, b := range e.bodies {
		require.NotContains(t, strings.ToLower(b), privMark)
		require.NotContains(t, b, privPhone)
		seenContacts = seenContacts || strings.Contains(b, "私用: ") || strings.Contains(b, "private: ")
	}
	require.True(t, seenContacts, "the contacts page shows private contacts' status")
}

func TestAdminContactsPage(t *testing.T) {
	e := newAdminEnv(t)
	c := e.login("boss@corp.example", bossPW)
	r := c.get("/contacts")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, `<span class="err">私用: 無効</span>`, "bob's broken private email")
	require.Contains(t, r.body, "番場 BOBNAME")
	require.Contains(t, r.body, "私用の連絡先がない利用者 (0)", "everyone has a private phone")
	require.NoError(t, e.st.DeleteContact(e.ctx, "t-bea"))
	require.NoError(t, e.st.DeleteContact(e.ctx, "p-bea"))
	r = c.get("/contacts")
	require.Contains(t, r.body, "<li>別府 BEANAME (開発部)</li>")
	r = c.get("/contacts?lang=en")
	require.Contains(t, r.body, `<span class="err">private: broken</span>`)
	require.Contains(t, r.body, "<th>Phone</th>")
}

func TestAdminRulesSimulateRecordsNothing(t *testing.T) {
	e := newAdminEnv(t)
	c := e.login("boss@corp.example", bossPW)
	r := c.get("/rules")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "震度5弱以上")
	n := e.surveyCount()
	audit, err := e.st.ListAudit(e.ctx, nil)
	require.NoError(t, err)
	r = c.post("/rules/simulate", url.Values{"csrf": {c.csrf("/rules")}, "area": {"350"}, "intensity": {"6-"}})
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, "送信対象: 6")
	require.Contains(t, r.body, "阿井 花子")
	require.Contains(t, r.body, "開発部")
	r = c.post("/rules/simulate", url.Values{"csrf": {c.csrf("/rules")}, "area": {"350"}, "intensity": {"4"}})
	require.Contains(t, r.body, "送信対象: 0", "below the rule's threshold")
	r = c.post("/rules/simulate", url.Values{"csrf": {c.csrf("/rules")}, "area": {"35"}, "intensity": {"6-"}})
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Equal(t, n, e.surveyCount())
	after, err := e.st.ListAudit(e.ctx, nil)
	require.NoError(t, err)
	require.Equal(t, len(audit), len(after))
}

func TestAdminAPI(t *testing.T) {
	e := newAdminEnv(t)
	all := e.companySurvey("全社の安否確認")

	r := e.api(http.MethodGet, "/api/surveys", e.bossKey, nil)
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Equal(t, "application/json", r.hdr.Get("Content-Type"))
	var list []struct {
		ID      string `json:"id"`
		Targets int    `json:"targets"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &list))
	require.Len(t, list, 2)

	// Only the bearer key authenticates: a session cookie does not.
	c := e.login("boss@corp.example", bossPW)
	req := httptest.NewRequest(http.MethodGet, "https://admin.example/api/surveys", nil)
	req.AddCookie(&http.Cookie{Name: "anpi_admin", Value: c.cookies["anpi_admin"]})
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	require.Equal(t, http.StatusUnauthorized, w.Code)
	e.apiErr(e.api(http.MethodGet, "/api/surveys", "", nil), http.StatusUnauthorized, "PermissionDenied")
	e.apiErr(e.api(http.MethodGet, "/api/surveys", "anpik_unknown", nil), http.StatusUnauthorized, "PermissionDenied")
	require.NoError(t, e.acc.RevokeAPIKey("boss", "ci"))
	e.apiErr(e.api(http.MethodGet, "/api/surveys", e.bossKey, nil), http.StatusUnauthorized, "PermissionDenied")
	key, err := e.acc.NewAPIKey("boss", "ci2")
	require.NoError(t, err)

	// Tally and export.
	_, err = e.svc.AnswerAs(e.ctx, all, "bob", []anpi.Answer{{QuestionID: anpi.QuestionSelf, Choices: []string{"safe"}}}, anpi.ViaAdmin)
	require.NoError(t, err)
	r = e.api(http.MethodGet, "/api/surveys/"+string(all)+"/tally", key, nil)
	require.Equal(t, http.StatusOK, r.code, r.body)
	var tally struct {
		Tally struct {
			Targets, Answered int
			Choices           map[string]map[string]int
		} `json:"tally"`
		Unanswered []struct{ UserID string } `json:"unanswered"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &tally))
	require.Equal(t, 6, tally.Tally.Targets)
	require.Equal(t, 1, tally.Tally.Answered)
	require.Equal(t, 1, tally.Tally.Choices["self"]["safe"])
	require.Len(t, tally.Unanswered, 5)
	r = e.api(http.MethodGet, "/api/surveys/"+string(all)+"/export.csv?question=self&choice=safe", key, nil)
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, "番場 BOBNAME")
	require.NotContains(t, r.body, "阿井 花子")
	e.apiErr(e.api(http.MethodGet, "/api/surveys/nope/tally", key, nil), http.StatusNotFound, "NotFound")
	e.apiErr(e.api(http.MethodGet, "/api/surveys/"+string(all)+"/tally?region=quake:1", key, nil), http.StatusBadRequest, "InvalidArgument")
	e.apiErr(e.api(http.MethodGet, "/api/nothing", key, nil), http.StatusNotFound, "NotFound")
	e.apiErr(e.api(http.MethodDelete, "/api/surveys", key, nil), http.StatusMethodNotAllowed, "InvalidArgument")

	// The audit log has the export.
	r = e.api(http.MethodGet, "/api/audit", key, nil)
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, "survey.export")

	// Start a survey.
	n := e.surveyCount()
	e.apiErr(e.api(http.MethodPost, "/api/surveys", key, strings.NewReader(`{"title":`)), http.StatusBadRequest, "InvalidArgument")
	e.apiErr(e.api(http.MethodPost, "/api/surveys", key, strings.NewReader(`{"title":"x","bogus":1}`)), http.StatusBadRequest, "InvalidArgument")
	e.apiErr(e.api(http.MethodPost, "/api/surveys", key, strings.NewReader(`{"title":"x"}`)), http.StatusBadRequest, "InvalidArgument")
	e.apiErr(e.api(http.MethodPost, "/api/surveys", key, strings.NewReader(`{"title":"x","targeting":{"users":["ghost"]}}`)),
		http.StatusConflict, "FailedPrecondition")
	e.apiErr(e.api(http.MethodPost, "/api/surveys", e.mgrKey, strings.NewReader(`{"title":"x","targeting":{"everyone":true}}`)),
		http.StatusForbidden, "PermissionDenied")
	e.apiErr(e.api(http.MethodPost, "/api/surveys", key, strings.NewReader(`{"title":"`+strings.Repeat("x", 1<<20)+`","targeting":{"everyone":true}}`)),
		http.StatusBadRequest, "InvalidArgument")
	require.Equal(t, n, e.surveyCount())
	r = e.api(http.MethodPost, "/api/surveys", key, strings.NewReader(`{"id":"api-1","title":"APIからの確認","targeting":{"departments":[{"id":"a","includeSubtree":true}]}}`))
	require.Equal(t, http.StatusCreated, r.code, r.body)
	require.Contains(t, r.body, `"recipients":3`)
	e.apiErr(e.api(http.MethodPost, "/api/surveys", key, strings.NewReader(`{"id":"api-1","title":"again","targeting":{"everyone":true}}`)),
		http.StatusConflict, "AlreadyExists")

	// Documents.
	e.apiErr(e.api(http.MethodPost, "/api/documents", e.mgrKey, bytes.NewReader(vxse53(t))), http.StatusForbidden, "PermissionDenied")
	e.apiErr(e.api(http.MethodPost, "/api/documents", key, strings.NewReader("not xml")), http.StatusBadRequest, "InvalidArgument")
	e.apiErr(e.api(http.MethodPost, "/api/documents", key, bytes.NewReader(make([]byte, 16<<20+1))), http.StatusRequestEntityTooLarge, "InvalidArgument")
	require.Equal(t, n+1, e.surveyCount())
	r = e.api(http.MethodPost, "/api/documents", key, bytes.NewReader(vxse53(t)))
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, `"type":"VXSE53"`)
	require.Contains(t, r.body, `"created":true`)

	// Rules and simulation.
	r = e.api(http.MethodGet, "/api/rules", key, nil)
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "quake-5lower")
	r = e.api(http.MethodPost, "/api/rules/simulate", key, strings.NewReader(`{"quake":[{"area":"350","intensity":"震度６弱"}]}`))
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, `"total":6`)
	e.apiErr(e.api(http.MethodPost, "/api/rules/simulate", key, strings.NewReader(`{}`)), http.StatusBadRequest, "InvalidArgument")
	e.apiErr(e.api(http.MethodPost, "/api/rules/simulate", key, strings.NewReader(`{"quake":[{"area":"3500","intensity":"5-"}]}`)),
		http.StatusBadRequest, "InvalidArgument")
}

// TestAdminLogsNoSecrets drives logins (right and wrong), pages and the
// API, then checks the log holds no password, key, session ID or CSRF field.
func TestAdminLogsNoSecrets(t *testing.T) {
	e := newAdminEnv(t)
	c := e.login("boss@corp.example", bossPW)
	bad := e.client()
	bad.post("/login", url.Values{"csrf": {bad.csrf("/login")}, "email": {"boss@corp.example"}, "password": {"typo " + bossPW}})
	bad.post("/login", url.Values{"csrf": {bad.csrf("/login")}, "email": {bossPW}, "password": {bossPW}})
	csrf := c.csrf("/")
	c.post("/send", url.Values{"csrf": {csrf}, "title": {"x"}, "everyone": {"1"}})
	c.upload(csrf, "q.xml", vxse53(t))
	e.api(http.MethodGet, "/api/surveys", e.bossKey, nil)
	e.api(http.MethodGet, "/api/surveys", e.bossKey+"x", nil)
	c.post("/logout", url.Values{"csrf": {csrf}})

	logs := e.logs.String()
	require.Contains(t, logs, "login failed")
	require.Contains(t, logs, "user=boss")
	for _, secret := range []string{bossPW, e.bossKey, strings.TrimPrefix(e.bossKey, "anpik_"), bad.cookies["anpi_admin_login"], csrf, privMark} {
		require.NotEmpty(t, secret)
		require.NotContains(t, logs, secret)
	}
	sid := c.cookies["anpi_admin"] // deleted at logout; take it from a new login
	require.Empty(t, sid)
	c2 := e.login("boss@corp.example", bossPW)
	c2.get("/")
	require.NotContains(t, e.logs.String(), c2.cookies["anpi_admin"])
}

func TestAdminNotFoundAndHeaders(t *testing.T) {
	e := newAdminEnv(t)
	c := e.login("boss@corp.example", bossPW)
	for _, p := range []string{"/nothing", "/surveys/nope", "/surveys/nope/export.csv"} {
		require.Equal(t, http.StatusNotFound, c.get(p).code, p)
	}
	r := c.get("/")
	require.Contains(t, r.hdr.Get("Content-Security-Policy"), "style-src 'sha256-")
	require.Equal(t, "DENY", r.hdr.Get("X-Frame-Options"))
	require.NotContains(t, r.body, "<script")
}

// blockingAccounts holds every Authenticate until release is closed.
type blockingAccounts struct {
	mu      sync.Mutex
	calls   int
	entered chan struct{}
	release chan struct{}
}

func (b *blockingAccounts) Authenticate(ctx context.Context, email, password string) (anpi.UserID, error) {
	b.mu.Lock()
	b.calls++
	b.mu.Unlock()
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return "", anpi.Errorf(anpi.PermissionDenied, "no")
}

func (b *blockingAccounts) APIKeyUser(context.Context, string) (anpi.UserID, error) {
	return "", anpi.Errorf(anpi.PermissionDenied, "no")
}

// TestAdminLoginsBounded: at most four password checks run at once (each
// costs argon2id's memory); a fifth login waits, and gives up without a
// check when its client leaves.
func TestAdminLoginsBounded(t *testing.T) {
	e := newAdminEnv(t)
	acc := &blockingAccounts{entered: make(chan struct{}, 8), release: make(chan struct{})}
	h := web.NewAdminHandler(e.svc, acc, &web.AdminOptions{Clock: e.clock.Now, CSRFKey: []byte("k"), LoginLimit: 100})
	form := func() (url.Values, *http.Cookie) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "https://admin.example/login", nil))
		m := csrfRE.FindStringSubmatch(w.Body.String())
		require.NotNil(t, m)
		return url.Values{"csrf": {m[1]}, "email": {"x@corp.example"}, "password": {"whatever password"}}, w.Result().Cookies()[0]
	}
	post := func(ctx context.Context) *httptest.ResponseRecorder {
		f, ck := form()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "https://admin.example/login", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(ck)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { post(context.Background()) })
	}
	for range 4 {
		<-acc.entered
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	post(ctx) // returns: all four slots are taken and its client is gone
	acc.mu.Lock()
	require.Equal(t, 4, acc.calls, "the fifth login never reached the password check")
	acc.mu.Unlock()
	close(acc.release)
	wg.Wait()
}

func TestAdminDrafts(t *testing.T) {
	e := newAdminEnv(t)
	c := e.login("boss@corp.example", bossPW)
	csrf := c.csrf("/send")

	// Saved from the send form: nothing is sent.
	n := e.surveyCount()
	r := c.post("/send", url.Values{"csrf": {csrf}, "title": {"営業部 下書き"}, "dept": {"a"}, "subtree": {"1"}, "save": {"draft"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, "drafts", r.hdr.Get("Location"))
	require.Equal(t, n+1, e.surveyCount())
	ds, err := e.svc.Drafts(e.ctx, "boss")
	require.NoError(t, err)
	require.Len(t, ds, 1)
	id := ds[0].ID
	r = c.get("/drafts")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "営業部 下書き")
	require.Contains(t, r.body, "send?draft="+string(id))
	require.NotContains(t, c.get("/").body, "営業部 下書き", "a draft is not in the survey list")

	// Opened again in the form, filled as saved.
	r = c.get("/send?draft=" + string(id))
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, `name="draft_id" value="`+string(id)+`"`)
	require.Contains(t, r.body, `value="営業部 下書き"`)
	require.Contains(t, r.body, `value="a" checked`)
	// Another administrator does not see it.
	m := e.login("mgra@corp.example", mgrPW)
	require.Equal(t, http.StatusNotFound, m.get("/send?draft="+string(id)).code)
	require.Contains(t, m.get("/drafts").body, "下書きはありません")

	// Test-sent to the administrator, then sent; the draft is gone.
	r = c.post("/drafts/"+string(id)+"/send", url.Values{"csrf": {csrf}, "test": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.True(t, strings.HasPrefix(r.hdr.Get("Location"), "../../surveys/test-"), r.hdr.Get("Location"))
	r = c.post("/drafts/"+string(id)+"/send", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, "../../surveys/"+string(id), r.hdr.Get("Location"))
	recs, err := e.st.Recipients(e.ctx, id)
	require.NoError(t, err)
	require.Len(t, recs, 3, "mgra, alice, aki")
	require.Contains(t, c.get("/drafts").body, "下書きはありません")

	// Edited from the form and sent: the edits are the send.
	d, err := e.svc.SaveDraft(e.ctx, "boss", &anpi.SendRequest{Title: "開発部へ", Targeting: anpi.Targeting{Departments: []anpi.DepartmentTarget{{ID: "a"}}}})
	require.NoError(t, err)
	r = c.post("/send", url.Values{"csrf": {csrf}, "draft_id": {string(d.ID)}, "title": {"開発部へ"}, "dept": {"b"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	recs, err = e.st.Recipients(e.ctx, d.ID)
	require.NoError(t, err)
	require.Len(t, recs, 2, "bob, bea")

	// Deleted.
	d, err = e.svc.SaveDraft(e.ctx, "boss", &anpi.SendRequest{Title: "消す"})
	require.NoError(t, err)
	r = c.post("/drafts/"+string(d.ID)+"/delete", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	_, err = e.st.GetSurvey(e.ctx, d.ID)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
	require.Equal(t, http.StatusForbidden, c.post("/drafts/"+string(d.ID)+"/delete", url.Values{}).code, "no CSRF field")
}

func TestAdminAPIDrafts(t *testing.T) {
	e := newAdminEnv(t)
	r := e.api("POST", "/api/drafts", e.bossKey, strings.NewReader(`{"title":"全社 下書き","targeting":{"everyone":true}}`))
	require.Equal(t, http.StatusOK, r.code, r.body)
	var d anpi.Survey
	require.NoError(t, json.Unmarshal([]byte(r.body), &d))
	require.Equal(t, anpi.Draft, d.Status)
	r = e.api("GET", "/api/drafts", e.bossKey, nil)
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, string(d.ID))
	r = e.api("GET", "/api/drafts", e.mgrKey, nil)
	require.Equal(t, "[]", strings.TrimSpace(r.body))
	e.apiErr(e.api("POST", "/api/drafts/"+string(d.ID)+"/send", e.mgrKey, nil), http.StatusForbidden, "PermissionDenied")

	r = e.api("POST", "/api/drafts/"+string(d.ID)+"/send", e.bossKey, strings.NewReader(`{"testTo":["boss"]}`))
	require.Equal(t, http.StatusCreated, r.code, r.body)
	var st struct {
		Survey     anpi.Survey
		Recipients int
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &st))
	require.Equal(t, anpi.TestSurvey, st.Survey.Kind)
	require.Equal(t, 1, st.Recipients)
	r = e.api("POST", "/api/drafts/"+string(d.ID)+"/send", e.bossKey, nil)
	require.Equal(t, http.StatusCreated, r.code, r.body)
	require.NoError(t, json.Unmarshal([]byte(r.body), &st))
	require.Equal(t, d.ID, st.Survey.ID)
	require.Equal(t, 6, st.Recipients)
	e.apiErr(e.api("POST", "/api/drafts/"+string(d.ID)+"/send", e.bossKey, nil), http.StatusConflict, "FailedPrecondition")
	e.apiErr(e.api("DELETE", "/api/drafts/"+string(d.ID), e.bossKey, nil), http.StatusConflict, "FailedPrecondition")

	r = e.api("POST", "/api/drafts", e.bossKey, strings.NewReader(`{"title":"消す"}`))
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.NoError(t, json.Unmarshal([]byte(r.body), &d))
	r = e.api("DELETE", "/api/drafts/"+string(d.ID), e.bossKey, nil)
	require.Equal(t, http.StatusNoContent, r.code, r.body)
	e.apiErr(e.api("DELETE", "/api/drafts/"+string(d.ID), e.bossKey, nil), http.StatusNotFound, "NotFound")
	e.apiErr(e.api("POST", "/api/drafts", e.bossKey, strings.NewReader(`{"title":"x","testTo":["boss"]}`)), http.StatusBadRequest, "InvalidArgument")
	e.apiErr(e.api("PUT", "/api/drafts", e.bossKey, nil), http.StatusMethodNotAllowed, "InvalidArgument")
}
