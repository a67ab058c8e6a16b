package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/web"
	"github.com/anpikit/anpi/store/memstore"
)

// selfEnv is the registration page over a real Service on memstore:
// yamada (Japanese) and kato (English) are invited; yamada has a private
// email already.
type selfEnv struct {
	*env
	ctx     context.Context
	st      *memstore.Store
	svc     *anpi.Service
	tok     string // yamada's invitation
	revoked string // yamada's first invitation, replaced by tok
	kato    string // kato's invitation
	// secrets are addresses no response may show whole.
	secrets []string
}

func newSelfEnv(t *testing.T, opts *web.Options) *selfEnv {
	ctx := context.Background()
	c := &clock{t: time.Date(2030, 5, 1, 1, 0, 0, 0, time.UTC)}
	st := memstore.New(&memstore.Options{Now: c.Now})
	t.Cleanup(func() { st.Close() })
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "admin", EmployeeCode: "E0", Name: "管理者", Status: anpi.Active, Locale: anpi.Japanese}))
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "yamada", EmployeeCode: "E1", Name: "山田 太郎", Status: anpi.Active, Locale: anpi.Japanese,
		Regions: []anpi.Region{{Kind: anpi.QuakeArea, Code: "350"}}}))
	require.NoError(t, st.CreateUser(ctx, &anpi.User{ID: "kato", EmployeeCode: "E2", Name: "Kato Ken", Status: anpi.Active, Locale: anpi.English}))
	require.NoError(t, st.PutContact(ctx, &anpi.Contact{ID: "yamada-home", UserID: "yamada", Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: "taro@home.example"}))
	require.NoError(t, st.GrantRole(ctx, anpi.RoleGrant{UserID: "admin", Role: anpi.SystemAdmin}))
	svc, err := anpi.New(st, &anpi.Options{Clock: c.Now, BaseURL: "https://anpi.corp.example"})
	require.NoError(t, err)
	invite := func(u anpi.UserID) string {
		inv, err := svc.Invite(ctx, "admin", u)
		require.NoError(t, err)
		tok, ok := strings.CutPrefix(inv.URL, "https://anpi.corp.example"+anpi.InvitationPath)
		require.True(t, ok, inv.URL)
		return tok
	}
	o := web.Options{}
	if opts != nil {
		o = *opts
	}
	o.Clock, o.CSRFKey = c.Now, []byte("self key")
	e := &selfEnv{env: &env{t: t, clock: c, h: web.NewAnswerHandler(svc, &o)}, ctx: ctx, st: st, svc: svc,
		revoked: invite("yamada"), tok: invite("yamada"), kato: invite("kato"),
		secrets: []string{"taro@home.example", "taro@"}}
	return e
}

func (e *selfEnv) check(r resp) resp {
	e.t.Helper()
	r.body = html.UnescapeString(r.body) // html/template writes + as &#43;
	for _, s := range e.secrets {
		require.NotContains(e.t, r.body, s, "an address shown whole")
		require.NotContains(e.t, r.hdr.Get("Location"), s)
	}
	return r
}

func (e *selfEnv) get(path string) resp { e.t.Helper(); return e.check(e.env.get(path)) }

func (e *selfEnv) post(path string, form url.Values, hdr ...string) resp {
	e.t.Helper()
	for _, k := range []string{"address"} {
		for _, v := range form[k] {
			if v != "" {
				e.secrets = append(e.secrets, v)
			}
		}
	}
	return e.check(e.env.post(path, form, hdr...))
}

// csrf reads the CSRF field of tok's page.
func (e *selfEnv) csrf(tok string) string {
	e.t.Helper()
	r := e.get("/r/" + tok)
	require.Equal(e.t, http.StatusOK, r.code, r.body)
	m := csrfRE.FindStringSubmatch(r.body)
	require.NotNil(e.t, m, r.body)
	return m[1]
}

// state is everything the page could change: yamada's contacts and
// regions, and the audit log's length.
type state struct {
	contacts []anpi.Contact
	regions  []anpi.Region
	audit    int
}

func (e *selfEnv) state() state {
	e.t.Helper()
	cs, err := e.st.Contacts(e.ctx, "yamada")
	require.NoError(e.t, err)
	var s state
	for _, c := range cs {
		s.contacts = append(s.contacts, *c)
	}
	slices.SortFunc(s.contacts, func(a, b anpi.Contact) int { return strings.Compare(string(a.ID), string(b.ID)) })
	u, err := e.st.GetUser(e.ctx, "yamada")
	require.NoError(e.t, err)
	s.regions = u.Regions
	a, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{})
	require.NoError(e.t, err)
	s.audit = len(a)
	return s
}

// TestSelfServiceGet shows the user his contacts, masked, with their
// status, and records nothing.
func TestSelfServiceGet(t *testing.T) {
	e := newSelfEnv(t, nil)
	before := e.state()
	for _, p := range []string{"/r/" + e.tok, "/r/" + e.tok + "?lang=en", "/r/" + e.tok + "?done=contact", "/r/" + e.kato} {
		r := e.get(p)
		require.Equal(t, http.StatusOK, r.code, p)
		require.Equal(t, "text/html; charset=utf-8", r.hdr.Get("Content-Type"))
	}
	require.Equal(t, before, e.state(), "a GET records nothing")

	r := e.get("/r/" + e.tok)
	require.Contains(t, r.body, `<html lang="ja">`)
	require.Contains(t, r.body, "山田 太郎")
	require.Contains(t, r.body, "t•••@home.example")
	require.Contains(t, r.body, `<span class="wait">未確認</span>`)
	require.Contains(t, r.body, "確認用のリンクを送りました", "says how the contact gets verified")
	require.Contains(t, r.body, "アプリは自動で登録", "the app token is the app's to register")
	require.NotContains(t, r.body, `name="regions"`, "the settings do not let users edit regions")
	require.NotContains(t, r.body, "fcm", "no form field for an app token")
}

// TestSelfServiceRegister adds a private email and a phone number, which
// then show as not yet verified.
func TestSelfServiceRegister(t *testing.T) {
	e := newSelfEnv(t, nil)
	csrf := e.csrf(e.tok)
	r := e.post("/r/"+e.tok, url.Values{"csrf": {csrf}, "kind": {"email"}, "address": {"taro.private@mail.example"}, "label": {"携帯メール"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, e.tok+"?lang=ja&done=contact", r.hdr.Get("Location"))
	r = e.post("/r/"+e.tok, url.Values{"csrf": {csrf}, "kind": {"phone"}, "address": {"０９０-1111-2222"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	e.secrets = append(e.secrets, "+819011112222", "09011112222", "1111-2222")
	r = e.post("/r/"+e.tok+"?lang=en", url.Values{"csrf": {csrf}, "kind": {"family-phone"}, "address": {"+819033334444"}, "label": {"wife"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, e.tok+"?lang=en&done=contact", r.hdr.Get("Location"))

	cs, err := e.st.Contacts(e.ctx, "yamada")
	require.NoError(t, err)
	byAddr := map[string]*anpi.Contact{}
	for _, c := range cs {
		byAddr[c.Address] = c
	}
	require.Len(t, byAddr, 4)
	require.Equal(t, anpi.PrivateScope, byAddr["taro.private@mail.example"].Scope)
	require.Equal(t, "携帯メール", byAddr["taro.private@mail.example"].Label)
	require.Equal(t, anpi.PhoneContact, byAddr["+819011112222"].Kind, "the number is stored in E.164")
	require.Equal(t, anpi.FamilyScope, byAddr["+819033334444"].Scope)
	for _, c := range byAddr {
		require.False(t, c.Check.Verified)
	}

	r = e.get("/r/" + e.tok + "?done=contact")
	require.Equal(t, http.StatusOK, r.code)
	require.Contains(t, r.body, "連絡先を追加しました")
	require.Contains(t, r.body, "t•••@mail.example (携帯メール) · 個人 · <span class=\"wait\">未確認</span>")
	require.Contains(t, r.body, "+81•••••2222 · 個人 · <span class=\"wait\">未確認</span>")
	require.Contains(t, r.body, "+81•••••4444 (wife) · 家族 · <span class=\"wait\">未確認</span>")

	// Verified and broken contacts say so.
	require.NoError(t, e.st.RecordContactCheck(e.ctx, "yamada-home", anpi.ContactCheck{Verified: true, VerifiedAt: e.clock.Now()}))
	require.NoError(t, e.st.RecordContactCheck(e.ctx, byAddr["+819011112222"].ID, anpi.ContactCheck{Broken: true, LastError: "number +819011112222 unknown"}))
	r = e.get("/r/" + e.tok + "?lang=en")
	require.Contains(t, r.body, "t•••@home.example · private · <span class=\"ok\">verified</span>")
	require.Contains(t, r.body, "+81•••••2222 · private · <span class=\"bad\">not working</span>")
}

// TestSelfServiceRefusals: bad input, duplicates and limits re-render the
// form with a message naming the field, and change nothing.
func TestSelfServiceRefusals(t *testing.T) {
	e := newSelfEnv(t, &web.Options{RateLimit: 100})
	csrf := e.csrf(e.tok)
	_, err := e.svc.RegisterContact(e.ctx, e.tok, &anpi.Contact{Kind: anpi.PhoneContact, Address: "+819011112222"})
	require.NoError(t, err)
	e.secrets = append(e.secrets, "+819011112222")
	before := e.state()
	for _, c := range []struct {
		name        string
		form        url.Values
		lang        string
		status      int
		want        string
		keepsKindOf string
	}{
		{"bad email", url.Values{"kind": {"email"}, "address": {"taro at home"}}, "", http.StatusBadRequest, "メールアドレス：", "email"},
		{"bad phone", url.Values{"kind": {"family-phone"}, "address": {"98765"}}, "", http.StatusBadRequest, "電話番号：", "family-phone"},
		{"no address", url.Values{"kind": {"email"}, "address": {"  "}}, "", http.StatusBadRequest, "アドレス：メールアドレスまたは電話番号を入力", "email"},
		{"unknown kind", url.Values{"kind": {"fcm"}, "address": {"fcm-token-123"}}, "", http.StatusBadRequest, "種類：", ""},
		{"line by hand", url.Values{"kind": {"line"}, "address": {"U0123456789abcdef0123456789abcdef"}}, "", http.StatusBadRequest, "種類：", ""},
		{"long label", url.Values{"kind": {"email"}, "address": {"x@y.example"}, "label": {strings.Repeat("長", 41)}}, "", http.StatusBadRequest, "メモ：", "email"},
		{"duplicate", url.Values{"kind": {"email"}, "address": {"taro@home.example"}}, "", http.StatusConflict, "すでに登録", "email"},
		{"duplicate phone, typed otherwise", url.Values{"kind": {"family-phone"}, "address": {"090 1111 2222"}}, "", http.StatusConflict, "すでに登録", "family-phone"},
		{"one private phone", url.Values{"kind": {"phone"}, "address": {"+819099998888"}}, "", http.StatusConflict, "上限", "phone"},
		{"english", url.Values{"kind": {"phone"}, "address": {"phone-number"}}, "?lang=en", http.StatusBadRequest, "Phone number: please enter", "phone"},
	} {
		c.form.Set("csrf", csrf)
		r := e.post("/r/"+e.tok+c.lang, c.form)
		require.Equal(t, c.status, r.code, c.name)
		require.Contains(t, r.body, `<p class="err" role="alert">`, c.name)
		require.Contains(t, r.body, c.want, c.name)
		require.Contains(t, r.body, `name="address"`, "%s: the form is shown again", c.name)
		if c.keepsKindOf != "" {
			require.Contains(t, r.body, `<option value="`+c.keepsKindOf+`" selected>`, c.name)
		}
		require.Equal(t, before, e.state(), "%s: nothing changed", c.name)
	}
}

// TestSelfServicePostChecks: a POST without the page's CSRF field, from
// another origin, too large or too frequent is refused and changes nothing.
func TestSelfServicePostChecks(t *testing.T) {
	e := newSelfEnv(t, &web.Options{RateLimit: 2})
	csrf := e.csrf(e.tok)
	before := e.state()
	form := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "kind": {"email"}, "address": {"new@mail.example"}}
	}
	for name, r := range map[string]resp{
		"no csrf":              e.post("/r/"+e.tok, form("")),
		"another link's csrf":  e.post("/r/"+e.tok, form(e.csrf(e.kato))),
		"cross-site":           e.post("/r/"+e.tok, form(csrf), "Sec-Fetch-Site", "cross-site"),
		"other origin":         e.post("/r/"+e.tok, form(csrf), "Origin", "https://evil.example"),
		"regions, no csrf":     e.post("/r/"+e.tok+"/regions", url.Values{"regions": {"quake:222"}}),
		"regions, other links": e.post("/r/"+e.tok+"/regions", url.Values{"csrf": {e.csrf(e.kato)}, "regions": {"quake:222"}}),
	} {
		require.Equal(t, http.StatusForbidden, r.code, name)
	}
	big := form(csrf)
	big.Set("label", strings.Repeat("x", 300<<10))
	require.Equal(t, http.StatusBadRequest, e.post("/r/"+e.tok, big).code, "too large")
	require.Equal(t, before, e.state())

	// Two posts pass the limit of 2 (refused ones count too), the third
	// is 429 and records nothing.
	bad := form(csrf)
	bad.Set("address", "not-an-address")
	require.Equal(t, http.StatusBadRequest, e.post("/r/"+e.tok, bad).code)
	require.Equal(t, http.StatusBadRequest, e.post("/r/"+e.tok, bad).code)
	r := e.post("/r/"+e.tok, form(csrf))
	require.Equal(t, http.StatusTooManyRequests, r.code)
	require.Equal(t, before, e.state())
	e.clock.Advance(time.Minute)
	require.Equal(t, http.StatusSeeOther, e.post("/r/"+e.tok, form(csrf)).code, "a new window")
}

// TestSelfServiceBadTokens: every bad token gets the same 404, on GET and
// POST.
func TestSelfServiceBadTokens(t *testing.T) {
	e := newSelfEnv(t, nil)
	want := e.get("/r/nosuchtoken0123456789abcdefghijklmnopqrstuvw")
	require.Equal(t, http.StatusNotFound, want.code)
	csrfOf := map[string]string{}
	for _, tok := range []string{e.revoked, e.tok} {
		csrfOf[tok] = csrfOfToken(t, e, tok)
	}
	check := func(name string, r resp) {
		t.Helper()
		require.Equal(t, http.StatusNotFound, r.code, name)
		require.Equal(t, want.body, r.body, name)
	}
	check("revoked", e.get("/r/"+e.revoked))
	check("revoked post", e.post("/r/"+e.revoked, url.Values{"csrf": {csrfOf[e.revoked]}, "kind": {"email"}, "address": {"a@b.example"}}))
	check("malformed", e.get("/r/bad%20token"))
	check("too long", e.get("/r/"+strings.Repeat("a", 200)))
	check("regions get", e.get("/r/"+e.tok+"/regions"))
	// The invitation expires after two weeks.
	e.clock.Advance(anpi.DefaultInvitationTTL + time.Second)
	check("expired", e.get("/r/"+e.tok))
	check("expired post", e.post("/r/"+e.tok, url.Values{"csrf": {csrfOf[e.tok]}, "kind": {"email"}, "address": {"a@b.example"}}))
	check("expired regions post", e.post("/r/"+e.tok+"/regions", url.Values{"csrf": {csrfOf[e.tok]}, "regions": {"quake:222"}}))
}

// csrfOfToken reads the CSRF field of tok's page, which must be served.
func csrfOfToken(t *testing.T, e *selfEnv, tok string) string {
	t.Helper()
	if tok == e.revoked {
		// The revoked link's page is a 404, so its field comes from a
		// handler with the same key: what an attacker who had seen the
		// page before the link was replaced would hold.
		h := web.NewAnswerHandler(fixedView{tok: tok}, &web.Options{CSRFKey: []byte("self key")})
		r := (&env{t: t, h: h}).get("/r/" + tok)
		require.Equal(t, http.StatusOK, r.code, r.body)
		return csrfRE.FindStringSubmatch(r.body)[1]
	}
	return e.csrf(tok)
}

// fixedView serves one invitation and records nothing.
type fixedView struct{ tok string }

func (f fixedView) LookupToken(context.Context, string) (*anpi.TokenInfo, error) {
	return nil, anpi.Errorf(anpi.NotFound, "no")
}
func (f fixedView) AnswerByToken(context.Context, string, []anpi.Answer, anpi.ResponseChannel) (*anpi.Response, error) {
	return nil, anpi.Errorf(anpi.NotFound, "no")
}
func (f fixedView) SubmitAnswer(context.Context, string, anpi.ResponseChannel, func(*anpi.TokenInfo) ([]anpi.Answer, error)) (*anpi.TokenInfo, error) {
	return nil, anpi.Errorf(anpi.NotFound, "no")
}
func (f fixedView) ConfirmContact(context.Context, string) (*anpi.ContactConfirmation, error) {
	return nil, anpi.Errorf(anpi.NotFound, "no")
}
func (f fixedView) InvitationView(_ context.Context, tok string) (*anpi.SelfServiceView, error) {
	if tok != f.tok {
		return nil, anpi.Errorf(anpi.NotFound, "no")
	}
	return &anpi.SelfServiceView{User: &anpi.User{ID: "yamada", Name: "山田", Locale: anpi.Japanese}}, nil
}
func (f fixedView) RegisterContact(context.Context, string, *anpi.Contact) (*anpi.Contact, error) {
	return nil, anpi.Errorf(anpi.Internal, "fixedView records nothing")
}
func (f fixedView) SetInvitationRegions(context.Context, string, []anpi.Region) (*anpi.User, error) {
	return nil, anpi.Errorf(anpi.Internal, "fixedView records nothing")
}

// TestSelfServiceRegions: the regions form only when the settings allow
// it (403 otherwise); bad regions are refused naming them.
func TestSelfServiceRegions(t *testing.T) {
	e := newSelfEnv(t, &web.Options{RateLimit: 100})
	csrf := e.csrf(e.tok)
	before := e.state()
	r := e.post("/r/"+e.tok+"/regions", url.Values{"csrf": {csrf}, "regions": {"quake:222"}})
	require.Equal(t, http.StatusForbidden, r.code)
	require.Contains(t, r.body, "所属地域は変更できません")
	require.Equal(t, before, e.state())

	require.NoError(t, e.st.PutSettings(e.ctx, anpi.Settings{UsersMayEditRegions: true}))
	r = e.get("/r/" + e.tok)
	require.Contains(t, r.body, `<textarea name="regions">quake:350</textarea>`)
	require.Contains(t, r.body, `action="`+e.tok+`/regions?lang=ja"`)
	before = e.state()
	for _, c := range []struct{ in, want string }{
		{"quake:22", "quake:22"},
		{"quake:222\nsendai", "sendai"},
		{"tsunami:1", "tsunami:1"},
	} {
		r = e.post("/r/"+e.tok+"/regions", url.Values{"csrf": {csrf}, "regions": {c.in}})
		require.Equal(t, http.StatusBadRequest, r.code, c.in)
		require.Contains(t, r.body, "所属地域：地域の形式ではありません（例：quake:222）： "+c.want, c.in)
		require.Equal(t, before, e.state(), c.in)
	}
	many := make([]string, anpi.MaxRegions+1)
	for i := range many {
		many[i] = "warning:" + string(rune('1'+i%9)) + "00000" + string(rune('0'+i/9))
	}
	r = e.post("/r/"+e.tok+"/regions?lang=en", url.Values{"csrf": {csrf}, "regions": {strings.Join(many, "\n")}})
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Contains(t, r.body, "Regions: at most 32.")
	require.Equal(t, before, e.state())

	r = e.post("/r/"+e.tok+"/regions", url.Values{"csrf": {csrf}, "regions": {"quake:222\r\n地震：350, quake:222"}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, "../"+e.tok+"?lang=ja&done=regions", r.hdr.Get("Location"))
	u, err := e.st.GetUser(e.ctx, "yamada")
	require.NoError(t, err)
	require.Equal(t, []anpi.Region{{Kind: anpi.QuakeArea, Code: "222"}, {Kind: anpi.QuakeArea, Code: "350"}}, u.Regions)
	r = e.get("/r/" + e.tok + "?done=regions")
	require.Contains(t, r.body, "所属地域を保存しました")
	require.Contains(t, r.body, "<textarea name=\"regions\">quake:222\nquake:350</textarea>")
}

// TestSelfServiceLocales: the user's locale by default, ?lang to switch.
func TestSelfServiceLocales(t *testing.T) {
	e := newSelfEnv(t, nil)
	r := e.get("/r/" + e.kato)
	require.Contains(t, r.body, `<html lang="en">`)
	require.Contains(t, r.body, "Your contacts")
	require.Contains(t, r.body, "Kato Ken")
	require.Contains(t, r.body, `<a href="?lang=ja" hreflang="ja">日本語</a>`)
	require.Contains(t, r.body, `<form method="post" action="?lang=en">`)
	r = e.get("/r/" + e.kato + "?lang=ja")
	require.Contains(t, r.body, `<html lang="ja">`)
	require.Contains(t, r.body, "登録済みの連絡先")
	r = e.get("/r/" + e.tok + "?lang=en")
	require.Contains(t, r.body, "Your contacts")
	require.Contains(t, r.body, "not yet verified")

	// A POST without ?lang answers in the user's locale.
	r = e.post("/r/"+e.kato, url.Values{"csrf": {e.csrf(e.kato)}, "kind": {"email"}, "address": {"nope"}})
	require.Equal(t, http.StatusBadRequest, r.code)
	require.Contains(t, r.body, "Email address: this is not a valid email address.")
	r = e.post("/r/"+e.kato, url.Values{"csrf": {e.csrf(e.kato)}, "kind": {"email"}, "address": {"kato@home.example"}})
	require.Equal(t, http.StatusSeeOther, r.code)
	require.Equal(t, e.kato+"?lang=en&done=contact", r.hdr.Get("Location"))
}

// TestSelfServiceLINE: the LINE link button only with
// Options.LINELinkURL; it POSTs, is checked as the other forms, and
// redirects to where the server starts linking for the link's user.
func TestSelfServiceLINE(t *testing.T) {
	e := newSelfEnv(t, nil)
	r := e.get("/r/" + e.tok)
	require.NotContains(t, r.body, "/line?")
	require.Contains(t, r.body, "LINE公式アカウントから連携")
	require.Equal(t, http.StatusNotFound, e.post("/r/"+e.tok+"/line", url.Values{"csrf": {e.csrf(e.tok)}}).code, "no button, no route")

	var asked []anpi.UserID
	to := "https://line.example/link?state=abc"
	e = newSelfEnv(t, &web.Options{LINELinkURL: func(_ context.Context, u anpi.UserID) (string, error) {
		asked = append(asked, u)
		return to, nil
	}})
	r = e.get("/r/" + e.tok + "?lang=en")
	require.Contains(t, r.body, `<form method="post" action="`+e.tok+`/line?lang=en">`)
	require.Contains(t, r.body, "Link my LINE account</button>")
	require.Empty(t, asked, "a GET starts nothing")

	require.Equal(t, http.StatusForbidden, e.post("/r/"+e.tok+"/line", url.Values{"csrf": {e.csrf(e.kato)}}).code)
	require.Empty(t, asked)
	r = e.post("/r/"+e.tok+"/line", url.Values{"csrf": {e.csrf(e.tok)}})
	require.Equal(t, http.StatusSeeOther, r.code, r.body)
	require.Equal(t, to, r.hdr.Get("Location"))
	require.Equal(t, []anpi.UserID{"yamada"}, asked)

	to = "http://line.example/plain"
	r = e.post("/r/"+e.tok+"/line", url.Values{"csrf": {e.csrf(e.tok)}})
	require.Equal(t, http.StatusInternalServerError, r.code, "only https")
	require.Empty(t, r.hdr.Get("Location"))
}
