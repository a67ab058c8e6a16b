package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// fakeService is a Service double over a map of tokens. With noAnswers set,
// any call that records fails the test.
type fakeService struct {
	t         *testing.T
	mu        sync.Mutex
	tokens    map[string]*anpi.TokenInfo
	noAnswers bool
	answers   int
	confirms  int
}

const (
	tokNoto    = "tokNOTO0123456789abcdefghijklmnopqrstuvwxyzA"
	tokKaga    = "tokKAGA0123456789abcdefghijklmnopqrstuvwxyzA"
	tokClosed  = "tokCLOSED23456789abcdefghijklmnopqrstuvwxyzA"
	tokContact = "tokCONTACT3456789abcdefghijklmnopqrstuvwxyzA"
	tokExpired = "tokEXPIRED3456789abcdefghijklmnopqrstuvwxyzA"
)

func newFake(t *testing.T) *fakeService {
	sv := &anpi.Survey{ID: "s1", Kind: anpi.AutoSurvey, Title: `震度6弱 <script>alert(1)</script>`, Form: anpi.DefaultForm(),
		Trigger: &anpi.Trigger{Summary: `石川県能登 "&" <b>`}}
	closed := sv.Clone()
	closed.ID = "s0"
	check := &anpi.Survey{ID: "cc", Kind: anpi.ContactCheckSurvey, Title: "連絡先の確認", Form: &anpi.Form{ID: anpi.ContactCheckFormID,
		Name: anpi.Text{Ja: "確認"}, Questions: []anpi.Question{{ID: anpi.ContactCheckQuestion, Type: anpi.SingleChoice, Label: anpi.Text{Ja: "確認"},
			Choices: []anpi.Choice{{Code: anpi.ContactCheckReceived, Label: anpi.Text{Ja: "受信"}}, {Code: anpi.ContactCheckWrong, Label: anpi.Text{Ja: "違う"}}}}}}}
	return &fakeService{t: t, tokens: map[string]*anpi.TokenInfo{
		tokNoto:    {Survey: sv, UserID: "noto", User: &anpi.User{ID: "noto", Name: "能登 <i>太郎</i>", Locale: anpi.Japanese}, Open: true},
		tokKaga:    {Survey: sv, UserID: "kaga", User: &anpi.User{ID: "kaga", Name: "Kaga", Locale: anpi.English}, Open: true},
		tokClosed:  {Survey: closed, UserID: "noto", User: &anpi.User{ID: "noto", Name: "能登", Locale: anpi.Japanese}},
		tokContact: {Survey: check, UserID: "noto", User: &anpi.User{ID: "noto", Name: "能登", Locale: anpi.Japanese}, Open: true},
	}}
}

func (f *fakeService) LookupToken(_ context.Context, token string) (*anpi.TokenInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info, ok := f.tokens[token]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "anpi: answer token not found")
	}
	c := *info
	return &c, nil
}

func (f *fakeService) AnswerByToken(_ context.Context, token string, answers []anpi.Answer, via anpi.ResponseChannel) (*anpi.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noAnswers {
		f.t.Errorf("AnswerByToken called")
	}
	info, ok := f.tokens[token]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "anpi: answer token not found")
	}
	if !info.Open {
		return nil, anpi.Errorf(anpi.FailedPrecondition, "anpi: survey closed")
	}
	if err := info.Survey.Form.ValidateAnswers(answers); err != nil {
		return nil, err
	}
	require.Equal(f.t, anpi.ViaWeb, via)
	f.answers++
	info.Response = &anpi.Response{SurveyID: info.Survey.ID, UserID: info.UserID, Answers: answers, Channel: via}
	return info.Response, nil
}

func (f *fakeService) SubmitAnswer(ctx context.Context, token string, via anpi.ResponseChannel, build func(*anpi.TokenInfo) ([]anpi.Answer, error)) (*anpi.TokenInfo, error) {
	f.mu.Lock()
	info, ok := f.tokens[token]
	var c anpi.TokenInfo
	if ok {
		c = anpi.TokenInfo{Survey: info.Survey, UserID: info.UserID, Open: info.Open, Locale: info.Locale}
		if info.User != nil && !c.Locale.Valid() {
			c.Locale = info.User.Locale
		}
	}
	f.mu.Unlock()
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "anpi: answer token not found")
	}
	if !c.Open {
		return &c, anpi.Errorf(anpi.FailedPrecondition, "anpi: survey closed")
	}
	answers, err := build(&c)
	if err != nil {
		return &c, err
	}
	_, err = f.AnswerByToken(ctx, token, answers, via)
	return &c, err
}

func (f *fakeService) ConfirmContact(_ context.Context, token string) (*anpi.ContactConfirmation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noAnswers {
		f.t.Errorf("ConfirmContact called")
	}
	info, ok := f.tokens[token]
	if !ok || info.Survey.Kind != anpi.ContactCheckSurvey {
		return nil, anpi.Errorf(anpi.NotFound, "anpi: answer token not found")
	}
	f.confirms++
	info.Response = &anpi.Response{Answers: []anpi.Answer{{QuestionID: anpi.ContactCheckQuestion, Choices: []string{anpi.ContactCheckReceived}}}}
	return &anpi.ContactConfirmation{Response: info.Response}, nil
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t     *testing.T
	svc   *fakeService
	clock *clock
	h     http.Handler
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, svc: newFake(t), clock: &clock{t: time.Date(2026, 1, 1, 7, 10, 0, 0, time.UTC)}}
	e.h = web.NewAnswerHandler(e.svc, &web.Options{Clock: e.clock.Now, CSRFKey: []byte("test key")})
	return e
}

type resp struct {
	code int
	hdr  http.Header
	body string
}

func (e *env) do(req *http.Request) resp {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, req)
	b, err := io.ReadAll(w.Result().Body)
	require.NoError(e.t, err)
	r := resp{code: w.Code, hdr: w.Result().Header, body: string(b)}
	requireSecurityHeaders(e.t, r.hdr)
	return r
}

func (e *env) get(path string) resp {
	return e.do(httptest.NewRequest(http.MethodGet, "http://anpi.example"+path, nil))
}

func (e *env) post(path string, form url.Values, hdr ...string) resp {
	req := httptest.NewRequest(http.MethodPost, "http://anpi.example"+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF field of the page at path.
func (e *env) csrf(path string) string {
	e.t.Helper()
	r := e.get(path)
	require.Equal(e.t, http.StatusOK, r.code, r.body)
	m := csrfRE.FindStringSubmatch(r.body)
	require.NotNil(e.t, m, r.body)
	return m[1]
}

func requireSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	require.Equal(t, "no-referrer", h.Get("Referrer-Policy"))
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "style-src 'sha256-", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		require.Contains(t, csp, d)
	}
	require.NotContains(t, csp, "unsafe")
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", h.Get("Cache-Control"))
}

func TestGetRecordsNothing(t *testing.T) {
	e := newEnv(t)
	e.svc.noAnswers = true
	for _, p := range []string{"/a/" + tokNoto, "/a/" + tokNoto + "?lang=en", "/a/" + tokNoto + "/thanks", "/a/" + tokClosed,
		"/a/" + tokExpired, "/a/bad%20token", "/c/" + tokContact, "/c/" + tokContact + "/thanks", "/"} {
		e.get(p)
		e.do(httptest.NewRequest(http.MethodHead, "http://anpi.example"+p, nil))
	}
	require.Zero(t, e.svc.answers)
	require.Zero(t, e.svc.confirms)
}

func TestAnswerPage(t *testing.T) {
	e := newEnv(t)
	r := e.get("/a/" + tokNoto)
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, "text/html; charset=utf-8", r.hdr.Get("Content-Type"))
	require.Contains(t, r.body, `<html lang="ja">`)
	require.Contains(t, r.body, "あなたの状況")
	require.Contains(t, r.body, `<input type="radio" name="q.self" value="safe">`)
	require.Contains(t, r.body, `<textarea name="q.message"`)
	require.Contains(t, r.body, `href="?lang=en"`)
	// User-controlled text is escaped.
	require.NotContains(t, r.body, "<script>")
	require.Contains(t, r.body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	require.NotContains(t, r.body, "<i>太郎")
	require.NotContains(t, r.body, "<b>")

	// ?lang switches; the user's locale is the default.
	r = e.get("/a/" + tokNoto + "?lang=en")
	require.Contains(t, r.body, `<html lang="en">`)
	require.Contains(t, r.body, "Your condition")
	require.Contains(t, r.body, `href="?lang=ja"`)
	r = e.get("/a/" + tokKaga)
	require.Contains(t, r.body, "Your condition")
	r = e.get("/a/" + tokKaga + "?lang=ja")
	require.Contains(t, r.body, "あなたの状況")
	r = e.get("/a/" + tokKaga + "?lang=xx")
	require.Contains(t, r.body, "Your condition")
}

func TestPostRecordsAndRedirects(t *testing.T) {
	e := newEnv(t)
	csrf := e.csrf("/a/" + tokNoto)
	r := e.post("/a/"+tokNoto+"?lang=ja", url.Values{"csrf": {csrf}, "q.self": {"minor"}, "q.message": {"足を<b>けが</b>"}},
		"Origin", "http://anpi.example", "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, tokNoto+"/thanks?lang=ja", r.hdr.Get("Location"))
	require.Equal(t, 1, e.svc.answers)
	require.Equal(t, []anpi.Answer{{QuestionID: "self", Choices: []string{"minor"}}, {QuestionID: "message", Text: "足を<b>けが</b>"}},
		e.svc.tokens[tokNoto].Response.Answers)

	// The thank-you page shows the answer and links back.
	r = e.get("/a/" + tokNoto + "/thanks?lang=ja")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "軽傷")
	require.Contains(t, r.body, "足を&lt;b&gt;けが&lt;/b&gt;")
	require.Contains(t, r.body, `href="../`+tokNoto+`?lang=ja"`)
	r = e.get("/a/" + tokNoto + "/thanks?lang=en")
	require.Contains(t, r.body, "Minor injury")

	// The form shows the current answer; changing it replaces it.
	r = e.get("/a/" + tokNoto)
	require.Contains(t, r.body, `value="minor" checked>`)
	r = e.post("/a/"+tokNoto, url.Values{"csrf": {csrf}, "q.self": {"safe"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, 2, e.svc.answers)
	require.True(t, e.svc.tokens[tokNoto].Response.Chose("self", "safe"))
	r = e.get("/a/" + tokNoto + "/thanks")
	require.Contains(t, r.body, "無事")

	// A thank-you page before any answer sends back to the form.
	r = e.get("/a/" + tokKaga + "/thanks")
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, "../"+tokKaga+"?lang=en", r.hdr.Get("Location"))
}

func TestBadFormRerenders(t *testing.T) {
	e := newEnv(t)
	csrf := e.csrf("/a/" + tokNoto)
	// Required question missing: 400 with the error, the other choices kept.
	r := e.post("/a/"+tokNoto, url.Values{"csrf": {csrf}, "q.family": {"harmed"}, "q.message": {"help"}})
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Contains(t, r.body, "回答を確認してください")
	require.Contains(t, r.body, `answer &#34;self&#34;: required`)
	require.Contains(t, r.body, `value="harmed" checked>`)
	require.Contains(t, r.body, `>help</textarea>`)
	// Two choices for a single-choice question, an unknown code.
	r = e.post("/a/"+tokNoto, url.Values{"csrf": {csrf}, "q.self": {"safe", "minor"}})
	require.Equal(t, http.StatusBadRequest, r.code)
	r = e.post("/a/"+tokNoto+"?lang=en", url.Values{"csrf": {csrf}, "q.self": {"<x>"}})
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Contains(t, r.body, "Please check your answers")
	require.NotContains(t, r.body, "<x>")
	require.Zero(t, e.svc.answers)
}

func TestSame404ForEveryBadToken(t *testing.T) {
	e := newEnv(t)
	want := e.get("/a/" + tokExpired)
	require.Equal(t, http.StatusNotFound, want.code)
	for _, p := range []string{"/a/unknown", "/a/bad!token", "/a/" + strings.Repeat("a", 500), "/a/" + tokExpired + "/thanks",
		"/c/" + tokExpired, "/c/" + tokNoto, "/x", "/a/"} {
		r := e.get(p)
		require.Equal(t, http.StatusNotFound, r.code, p)
		require.Equal(t, want.body, r.body, p)
	}
	csrf := e.csrf("/a/" + tokNoto)
	r := e.post("/a/bad!token", url.Values{"csrf": {csrf}})
	require.Equal(t, want.body, r.body)
	require.Equal(t, http.StatusNotFound, r.code)
	require.Zero(t, e.svc.answers)
}

func TestClosedSurvey(t *testing.T) {
	e := newEnv(t)
	e.svc.tokens[tokClosed].Response = &anpi.Response{Answers: []anpi.Answer{{QuestionID: "self", Choices: []string{"safe"}}}}
	r := e.get("/a/" + tokClosed)
	require.Equal(t, http.StatusGone, r.code)
	require.Contains(t, r.body, "受付を終了")
	require.Contains(t, r.body, "無事")
	require.NotContains(t, r.body, "<form")
	r = e.post("/a/"+tokClosed, url.Values{"csrf": {e.csrf("/a/" + tokNoto)}, "q.self": {"safe"}})
	require.Equal(t, http.StatusForbidden, r.code) // another token's CSRF field
	// The survey closing between GET and POST.
	csrf := e.csrf("/a/" + tokNoto)
	e.svc.tokens[tokNoto].Open = false
	r = e.post("/a/"+tokNoto, url.Values{"csrf": {csrf}, "q.self": {"safe"}})
	require.Equal(t, http.StatusGone, r.code)
	require.Zero(t, e.svc.answers)
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	csrf := e.csrf("/a/" + tokNoto)
	for name, c := range map[string]struct {
		form url.Values
		hdr  []string
	}{
		"missing":           {url.Values{"q.self": {"safe"}}, nil},
		"wrong":             {url.Values{"csrf": {"x" + csrf}, "q.self": {"safe"}}, nil},
		"other token's":     {url.Values{"csrf": {e.csrf("/a/" + tokKaga)}, "q.self": {"safe"}}, nil},
		"cross-site":        {url.Values{"csrf": {csrf}, "q.self": {"safe"}}, []string{"Sec-Fetch-Site", "cross-site"}},
		"same-site":         {url.Values{"csrf": {csrf}, "q.self": {"safe"}}, []string{"Sec-Fetch-Site", "same-site"}},
		"other origin":      {url.Values{"csrf": {csrf}, "q.self": {"safe"}}, []string{"Origin", "https://evil.example"}},
		"null origin":       {url.Values{"csrf": {csrf}, "q.self": {"safe"}}, []string{"Origin", "null"}},
		"contact check key": {url.Values{"csrf": {e.csrf("/c/" + tokContact)}, "q.self": {"safe"}}, nil},
	} {
		r := e.post("/a/"+tokNoto, c.form, c.hdr...)
		require.Equal(t, http.StatusForbidden, r.code, name)
	}
	require.Zero(t, e.svc.answers)
	require.Nil(t, e.svc.tokens[tokNoto].Response)

	// A handler with another key refuses this one's fields.
	other := web.NewAnswerHandler(e.svc, nil)
	req := httptest.NewRequest(http.MethodPost, "/a/"+tokNoto, strings.NewReader(url.Values{"csrf": {csrf}, "q.self": {"safe"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	other.ServeHTTP(w, req)
	require.Equal(t, http.StatusForbidden, w.Code)
	require.Zero(t, e.svc.answers)
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	csrf := e.csrf("/a/" + tokNoto)
	form := url.Values{"csrf": {csrf}, "q.self": {"safe"}}
	for i := range 10 {
		r := e.post("/a/"+tokNoto, form)
		require.Equal(t, http.StatusSeeOther, r.code, i)
	}
	r := e.post("/a/"+tokNoto, form)
	require.Equal(t, http.StatusTooManyRequests, r.code)
	require.Equal(t, 10, e.svc.answers)
	require.Equal(t, "60", r.hdr.Get("Retry-After"))
	// Posts without a valid CSRF field are refused before the limit.
	r = e.post("/a/"+tokNoto, url.Values{})
	require.Equal(t, http.StatusForbidden, r.code)
	// Another token is not limited.
	r = e.post("/a/"+tokKaga, url.Values{"csrf": {e.csrf("/a/" + tokKaga)}, "q.self": {"safe"}})
	require.Equal(t, http.StatusSeeOther, r.code)
	// GETs are not limited.
	require.Equal(t, http.StatusOK, e.get("/a/"+tokNoto).code)
	// The next window.
	e.clock.Advance(time.Minute)
	r = e.post("/a/"+tokNoto, form)
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, 12, e.svc.answers)
}

func TestContactCheck(t *testing.T) {
	e := newEnv(t)
	r := e.get("/c/" + tokContact)
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "確認しました</button>")
	require.NotContains(t, r.body, "radio")
	csrf := csrfRE.FindStringSubmatch(r.body)[1]
	// The answer page's field does not confirm a contact.
	r = e.post("/c/"+tokContact, url.Values{"csrf": {e.csrf("/a/" + tokNoto)}})
	require.Equal(t, http.StatusForbidden, r.code)
	require.Zero(t, e.svc.confirms)
	r = e.post("/c/"+tokContact, url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, tokContact+"/thanks?lang=ja", r.hdr.Get("Location"))
	require.Equal(t, 1, e.svc.confirms)
	r = e.get("/c/" + tokContact + "/thanks")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "連絡先を確認しました")
	r = e.get("/c/" + tokContact + "/thanks?lang=en")
	require.Contains(t, r.body, "Your contact is confirmed")
}

func TestMethodsAndPaths(t *testing.T) {
	e := newEnv(t)
	// Other methods and paths get the one 404 page.
	want := e.get("/a/unknown")
	r := e.do(httptest.NewRequest(http.MethodDelete, "/a/"+tokNoto, nil))
	require.Equal(t, http.StatusNotFound, r.code)
	require.Equal(t, want.body, r.body)
	r = e.post("/a/"+tokNoto+"/thanks", url.Values{})
	require.Equal(t, http.StatusNotFound, r.code)
	require.Zero(t, e.svc.answers)
}

// TestWithService runs the pages over a real Service on memstore: the GET
// records nothing in the store, the POST answers through the tally, and
// unknown, malformed and expired tokens get the same 404.
func TestWithService(t *testing.T) {
	c := &clock{t: time.Date(2030, 4, 1, 1, 6, 0, 0, time.UTC)}
	svc, st, survey, token, err := newService(c.Now)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, clock: c, h: web.NewAnswerHandler(svc, &web.Options{Clock: c.Now})}
	ctx := context.Background()

	csrf := e.csrf("/a/" + token)
	e.get("/a/" + token + "?lang=en")
	e.get("/a/" + token + "/thanks")
	tally, err := st.Tally(ctx, survey)
	require.NoError(t, err)
	require.Zero(t, tally.Answered)

	r := e.post("/a/"+token, url.Values{"csrf": {csrf}, "q.self": {"minor"}}, "Sec-Fetch-Site", "same-origin")
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = e.post("/a/"+token, url.Values{"csrf": {csrf}, "q.self": {"safe"}, "q.message": {"無事です"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	r = e.post("/a/"+token, url.Values{"csrf": {csrf}, "q.message": {"no self"}})
	require.Equal(t, http.StatusBadRequest, r.code, r.body)
	tally, err = st.Tally(ctx, survey)
	require.NoError(t, err)
	require.Equal(t, 1, tally.Answered)
	require.Equal(t, 1, tally.Choices[anpi.QuestionSelf]["safe"])
	hist, err := st.ResponseHistory(ctx, survey, "yamada")
	require.NoError(t, err)
	require.Len(t, hist, 2)
	require.Equal(t, anpi.ViaWeb, hist[1].Channel)
	r = e.get("/a/" + token + "/thanks")
	require.Contains(t, r.body, "無事です")

	unknown := e.get("/a/" + strings.Repeat("A", len(token)))
	require.Equal(t, http.StatusNotFound, unknown.code)
	require.Equal(t, unknown.body, e.get("/a/"+token[:10]).body)
	c.Advance(2 * time.Hour) // past the answer window: the token expired
	expired := e.get("/a/" + token)
	require.Equal(t, http.StatusNotFound, expired.code)
	require.Equal(t, unknown.body, expired.body)
	r = e.post("/a/"+token, url.Values{"csrf": {csrf}, "q.self": {"serious"}})
	require.Equal(t, http.StatusNotFound, r.code)
	require.Equal(t, unknown.body, r.body)
	tally, err = st.Tally(ctx, survey)
	require.NoError(t, err)
	require.Equal(t, 1, tally.Choices[anpi.QuestionSelf]["safe"])
}

// TestContactCheckWithService confirms a contact through /c/{token} over a
// real Service: the GET changes nothing, the POST verifies the contact.
func TestContactCheckWithService(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2030, 5, 1, 1, 0, 0, 0, time.UTC)}
	st := memstore.New(&memstore.Options{Now: c.Now})
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "yamada", EmployeeCode: "E1", Name: "山田 太郎", Status: anpi.Active, Locale: anpi.English}))
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "sato", EmployeeCode: "E2", Name: "佐藤 花子", Status: anpi.Active, Locale: anpi.Japanese}))
	require.NoError(t, st.PutContact(ctx, &anpi.Contact{ID: "yamada-home", UserID: "yamada", Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: "taro@home.example"}))
	require.NoError(t, st.GrantRole(ctx, anpi.RoleGrant{UserID: "sato", Role: anpi.CrisisManager}))
	svc, err := anpi.New(st, &anpi.Options{Clock: c.Now, BaseURL: "https://anpi.corp.example"})
	require.NoError(t, err)
	started, err := svc.StartContactCheck(ctx, "sato")
	require.NoError(t, err)
	ds, err := st.Deliveries(ctx, started.Survey.ID)
	require.NoError(t, err)
	var token string
	for _, d := range ds {
		if d.ContactID == "yamada-home" {
			m, _, err := svc.Render(ctx, d)
			require.NoError(t, err)
			token = strings.TrimPrefix(m.URL, "https://anpi.corp.example"+anpi.ContactCheckPath)
		}
	}
	require.NotEmpty(t, token)
	e := &env{t: t, clock: c, h: web.NewAnswerHandler(svc, &web.Options{Clock: c.Now})}

	r := e.get("/c/" + token)
	require.Equal(t, http.StatusOK, r.code, r.body)
	require.Contains(t, r.body, "Confirm</button>")
	csrf := csrfRE.FindStringSubmatch(r.body)[1]
	ct, err := st.GetContact(ctx, "yamada-home")
	require.NoError(t, err)
	require.False(t, ct.Check.Verified)

	r = e.post("/c/"+token+"?lang=en", url.Values{"csrf": {csrf}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	ct, err = st.GetContact(ctx, "yamada-home")
	require.NoError(t, err)
	require.True(t, ct.Check.Verified)
	r = e.get("/c/" + token + "/thanks")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "Your contact is confirmed")

	// The same link, "this is not my contact": the contact is broken and
	// unverified, and the thank-you page says what happens now.
	require.Contains(t, e.get("/c/"+token).body, "This is not my contact</button>")
	r = e.post("/c/"+token+"?lang=en", url.Values{"csrf": {csrf}, "wrong": {"1"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	ct, err = st.GetContact(ctx, "yamada-home")
	require.NoError(t, err)
	require.True(t, ct.Check.Broken, "marked broken")
	require.False(t, ct.Check.Verified)
	r = e.get("/c/" + token + "/thanks")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "No more messages will go to this contact")
	require.NotContains(t, r.body, "Your contact is confirmed")
}

func TestMultipleChoiceAndDrill(t *testing.T) {
	e := newEnv(t)
	sv := &anpi.Survey{ID: "d1", Kind: anpi.DrillSurvey, Title: "避難訓練", Form: &anpi.Form{ID: "f", Name: anpi.Text{Ja: "f"}, Questions: []anpi.Question{
		{ID: "need", Type: anpi.MultipleChoice, Required: true, Label: anpi.Text{Ja: "必要なもの", En: "What you need"}, Choices: []anpi.Choice{
			{Code: "water", Label: anpi.Text{Ja: "水", En: "Water"}}, {Code: "food", Label: anpi.Text{Ja: "食料", En: "Food"}}, {Code: "med", Label: anpi.Text{Ja: "薬", En: "Medicine"}}}},
		{ID: "note", Type: anpi.FreeText, MaxLength: 5, Label: anpi.Text{Ja: "備考"}},
	}}}
	const tok = "tokDRILL0123456789abcdefghijklmnopqrstuvwxyz"
	e.svc.tokens[tok] = &anpi.TokenInfo{Survey: sv, UserID: "noto", Open: true} // the user was deleted: Japanese
	r := e.get("/a/" + tok)
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, `<span class="drill">[訓練]</span>`)
	require.Contains(t, r.body, `<input type="checkbox" name="q.need" value="water">`)
	require.Contains(t, r.body, `maxlength="5"`)
	csrf := csrfRE.FindStringSubmatch(r.body)[1]

	r = e.post("/a/"+tok, url.Values{"csrf": {csrf}, "q.need": {"water", "med"}, "q.note": {"too long"}})
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Contains(t, r.body, `value="water" checked>`)
	require.Contains(t, r.body, `value="food">`)
	require.Contains(t, r.body, `value="med" checked>`)
	r = e.post("/a/"+tok, url.Values{"csrf": {csrf}, "q.need": {"water", "med"}, "q.note": {"ok"}})
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, []anpi.Answer{{QuestionID: "need", Choices: []string{"water", "med"}}, {QuestionID: "note", Text: "ok"}}, e.svc.tokens[tok].Response.Answers)
	r = e.get("/a/" + tok + "/thanks?lang=en")
	require.Contains(t, r.body, "<dd>Water, Medicine</dd>")

	// A body beyond the limit is refused unread.
	r = e.post("/a/"+tok, url.Values{"csrf": {csrf}, "q.note": {strings.Repeat("x", 300<<10)}})
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Equal(t, 1, e.svc.answers)
}
