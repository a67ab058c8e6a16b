package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/rules"
)

// AdminService is what the administrator pages and API need of an
// *anpi.Service. Every method checks the actor's permissions itself; the
// handler only says who the actor is.
type AdminService interface {
	Surveys(ctx context.Context, actor anpi.UserID, q *anpi.SurveyQuery) ([]*anpi.SurveyListing, error)
	SurveyFor(ctx context.Context, actor anpi.UserID, survey anpi.SurveyID) (*anpi.SurveyListing, error)
	Tally(ctx context.Context, actor anpi.UserID, survey anpi.SurveyID, filter *anpi.ExportFilter) (*anpi.TallyView, error)
	Unanswered(ctx context.Context, actor anpi.UserID, survey anpi.SurveyID, filter *anpi.ExportFilter) ([]anpi.Person, error)
	Selected(ctx context.Context, actor anpi.UserID, survey anpi.SurveyID, filter *anpi.ExportFilter) ([]anpi.Person, error)
	ExportCSV(ctx context.Context, actor anpi.UserID, survey anpi.SurveyID, filter *anpi.ExportFilter, w io.Writer) error
	StartSurvey(ctx context.Context, actor anpi.UserID, req *anpi.SendRequest) (*anpi.Started, error)
	SaveDraft(ctx context.Context, actor anpi.UserID, req *anpi.SendRequest) (*anpi.Survey, error)
	Drafts(ctx context.Context, actor anpi.UserID) ([]*anpi.Survey, error)
	SendDraft(ctx context.Context, actor anpi.UserID, id anpi.SurveyID, testTo ...anpi.UserID) (*anpi.Started, error)
	DeleteDraft(ctx context.Context, actor anpi.UserID, id anpi.SurveyID) error
	HandleDocument(ctx context.Context, data []byte) (*anpi.Outcome, error)
	AuditUpload(ctx context.Context, actor anpi.UserID, size int, out *anpi.Outcome, cause error) error
	Authorize(ctx context.Context, actor anpi.UserID, action anpi.Action, target anpi.Target) error
	Departments(ctx context.Context, actor anpi.UserID) (*anpi.DepartmentTree, error)
	Rules(ctx context.Context, actor anpi.UserID) ([]*anpi.RuleRecord, error)
	Simulate(ctx context.Context, actor anpi.UserID, sc rules.Scenario) (*anpi.Simulation, error)
	AdminUsers(ctx context.Context, actor anpi.UserID) ([]*anpi.AdminUserView, error)
	UsersWithoutPrivateContact(ctx context.Context, actor anpi.UserID) ([]*anpi.AdminUserView, error)
	Audit(ctx context.Context, actor anpi.UserID, q *anpi.AuditQuery) ([]*anpi.AuditEntry, error)
}

// AdminOptions configures NewAdminHandler. A nil *AdminOptions means
// defaults.
type AdminOptions struct {
	// CSRFKey keys the HMAC of the forms' CSRF field (of the session ID).
	// Empty means 32 random bytes drawn when the handler is made.
	CSRFKey []byte
	// Clock is the time source of sessions and login limits; default time.Now.
	Clock func() time.Time
	// Rand is the source of session IDs and a random CSRFKey; default
	// crypto/rand.
	Rand io.Reader
	// Logger receives what the pages cannot show; default: discard. It
	// never receives a password, an API key, a session ID or a token.
	Logger *slog.Logger
	// SessionTTL is how long a login lasts; default 12 hours.
	SessionTTL time.Duration
	// InsecureCookies drops the Secure flag of the cookies, for a
	// development server on plain http://127.0.0.1. Default false.
	InsecureCookies bool
	// CookiePath is the cookies' Path; default "/". Set it to the mount
	// point (e.g. "/admin/") to keep the cookies from other applications
	// of the same host.
	CookiePath string
	// LoginLimit is how many failed logins one email, or one client
	// address (ten times as many), may make per LoginWindow before logins
	// are refused (429); default 5 per 15 minutes.
	LoginLimit  int
	LoginWindow time.Duration
	// OIDC are the identity providers administrators may sign in with
	// besides their password; none by default (the /oidc/ routes are
	// then 404). Each is discovered on first use, so a provider that is
	// down delays nothing but its own sign-ins.
	OIDC []OIDCProvider
}

// maxConcurrentLogins bounds the password checks in flight: each costs
// argon2id's memory (64 MiB by default) and about half a second of a core,
// so a flood of logins queues instead of exhausting the server.
const maxConcurrentLogins = 4

// Limits of the request bodies.
const (
	maxFormBody     = 256 << 10 // a form post
	maxDocumentBody = 16 << 20  // a JMA XML document
	maxJSONBody     = 1 << 20   // an API request
)

type admin struct {
	svc         AdminService
	accounts    Accounts
	key         []byte
	clock       func() time.Time
	log         *slog.Logger
	ttl         time.Duration
	insecure    bool
	cookiePath  string
	loginLimit  int
	loginWindow time.Duration
	rand        io.Reader
	sessions    sessions
	fails       failures
	hashing     chan struct{} // bounds the password checks running at once
	tmpl        *template.Template
	csp         string
	mux         *http.ServeMux
	idps        map[string]*oidcIdP // by name
	idpNames    []string            // the login page's buttons, in the order given
	flows       oidcFlows           // OIDC sign-ins between start and callback
}

// NewAdminHandler returns the handler of the administrator pages and API
// (see the package documentation for the routes), backed by svc (an
// *anpi.Service) and accounts. It panics if it cannot read a random
// CSRF key from Options.Rand.
func NewAdminHandler(svc AdminService, accounts Accounts, opts *AdminOptions) http.Handler {
	var o AdminOptions
	if opts != nil {
		o = *opts
	}
	h := &admin{svc: svc, accounts: accounts, key: o.CSRFKey, clock: o.Clock, log: o.Logger, ttl: o.SessionTTL,
		insecure: o.InsecureCookies, cookiePath: o.CookiePath, loginLimit: o.LoginLimit, loginWindow: o.LoginWindow, rand: o.Rand}
	if h.clock == nil {
		h.clock = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.ttl <= 0 {
		h.ttl = 12 * time.Hour
	}
	if h.cookiePath == "" {
		h.cookiePath = "/"
	}
	if h.loginLimit <= 0 {
		h.loginLimit = 5
	}
	if h.loginWindow <= 0 {
		h.loginWindow = 15 * time.Minute
	}
	if h.rand == nil {
		h.rand = rand.Reader
	}
	if len(h.key) == 0 {
		h.key = make([]byte, 32)
		if _, err := io.ReadFull(h.rand, h.key); err != nil {
			panic("anpi/web: reading a random CSRF key: " + err.Error())
		}
	}
	h.sessions = sessions{byID: map[[32]byte]*session{}, rand: h.rand}
	h.hashing = make(chan struct{}, maxConcurrentLogins)
	h.fails = failures{seen: map[[32]byte]*window{}}
	sum := sha256.Sum256([]byte(adminCSS))
	h.csp = "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	h.tmpl = template.Must(template.New("admin").Funcs(adminFuncs()).Parse(adminTemplate))

	m := http.NewServeMux()
	m.HandleFunc("GET /login", h.loginGet)
	m.HandleFunc("POST /login", h.loginPost)
	h.idps = map[string]*oidcIdP{}
	h.setupOIDC(m, o.OIDC)
	m.HandleFunc("POST /logout", h.page(h.logout))
	m.HandleFunc("GET /{$}", h.page(h.index))
	m.HandleFunc("GET /surveys/{id}", h.page(h.survey))
	m.HandleFunc("POST /surveys/{id}/followup", h.page(h.followUp))
	m.HandleFunc("GET /surveys/{id}/export.csv", h.page(h.export))
	m.HandleFunc("GET /send", h.page(h.sendGet))
	m.HandleFunc("POST /send", h.page(h.sendPost))
	m.HandleFunc("GET /drafts", h.page(h.draftsGet))
	m.HandleFunc("POST /drafts/{id}/send", h.page(h.draftSend))
	m.HandleFunc("POST /drafts/{id}/delete", h.page(h.draftDelete))
	m.HandleFunc("GET /feed", h.page(h.feedGet))
	m.HandleFunc("POST /feed", h.page(h.feedPost))
	m.HandleFunc("GET /rules", h.page(h.rulesGet))
	m.HandleFunc("POST /rules/simulate", h.page(h.simulate))
	m.HandleFunc("GET /rules/simulate", h.page(func(rq *req) { seeOther(rq.w, "../rules") })) // the language link of a result
	m.HandleFunc("GET /contacts", h.page(h.contacts))
	m.HandleFunc("GET /api/surveys", h.api(h.apiSurveys))
	m.HandleFunc("POST /api/surveys", h.api(h.apiStart))
	m.HandleFunc("GET /api/drafts", h.api(h.apiDrafts))
	m.HandleFunc("POST /api/drafts", h.api(h.apiSaveDraft))
	m.HandleFunc("POST /api/drafts/{id}/send", h.api(h.apiSendDraft))
	m.HandleFunc("DELETE /api/drafts/{id}", h.api(h.apiDeleteDraft))
	m.HandleFunc("GET /api/surveys/{id}/tally", h.api(h.apiTally))
	m.HandleFunc("GET /api/surveys/{id}/export.csv", h.api(h.apiExport))
	m.HandleFunc("POST /api/documents", h.api(h.apiDocument))
	m.HandleFunc("GET /api/audit", h.api(h.apiAudit))
	m.HandleFunc("GET /api/users", h.api(h.apiUsers))
	m.HandleFunc("GET /api/rules", h.api(h.apiRules))
	m.HandleFunc("POST /api/rules/simulate", h.api(h.apiSimulate))
	// Other methods on the API's paths get a JSON 405, not the mux's text.
	for _, p := range []string{"/api/surveys", "/api/drafts", "/api/drafts/{id}", "/api/drafts/{id}/send", "/api/surveys/{id}/tally", "/api/surveys/{id}/export.csv", "/api/documents",
		"/api/audit", "/api/users", "/api/rules", "/api/rules/simulate"} {
		m.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			writeJSONError(w, http.StatusMethodNotAllowed, anpi.InvalidArgument, "method "+r.Method+" is not allowed here")
		})
	}
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, anpi.NotFound, "no such API route")
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.message(w, r, http.StatusNotFound, pickLocale(r), msgsAdmin(pickLocale(r)).NotFound)
	})
	h.mux = m
	return h
}

// ServeHTTP sets the security headers on every response, then routes.
func (h *admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w, h.csp)
	h.mux.ServeHTTP(w, r)
}

// req is one authenticated page request.
type req struct {
	w     http.ResponseWriter
	r     *http.Request
	user  anpi.UserID
	sid   string // the session ID, for the CSRF field; never logged
	l     anpi.Locale
	m     *adminMessages
	root  string // the relative link to the mount point, e.g. "../"
	start time.Time
}

// root returns the relative link from the request's path to the mount
// point: "./" for /x, "../" for /x/y. The handler works under any prefix
// because every link and redirect is relative.
func root(path string) string {
	n := strings.Count(path, "/") - 1
	if n <= 0 {
		return "./"
	}
	return strings.Repeat("../", n)
}

// page wraps a page handler: a live session (else a redirect to the login
// page for a GET, 403 for a POST), the locale, and for a POST the checks
// every form passes (size, same origin, the CSRF field of the session).
func (h *admin) page(f func(*req)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		l := pickLocale(r)
		if v := r.URL.Query().Get("lang"); v != "" && anpi.Locale(v).Valid() {
			h.setCookie(w, langCookie, v, 365*24*3600)
		}
		sid := cookie(r, sessionCookie)
		s := h.sessions.get(sid, h.clock())
		rq := &req{w: w, r: r, l: l, m: msgsAdmin(l), root: root(r.URL.Path), sid: sid}
		if s == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				seeOther(w, rq.root+"login")
				return
			}
			h.message(w, r, http.StatusForbidden, l, rq.m.LoggedOut)
			return
		}
		rq.user = s.user
		if r.Method == http.MethodPost {
			if !sameOrigin(r) {
				h.message(w, r, http.StatusForbidden, l, rq.m.Forbidden)
				return
			}
			// Every POST is parsed here under a limit, then its CSRF field
			// checked, whatever route it is for: a multipart body (the feed
			// upload) gets room for a document, anything else a form's.
			var err error
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
				r.Body = http.MaxBytesReader(w, r.Body, maxDocumentBody+maxFormBody)
				err = r.ParseMultipartForm(1 << 20)
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
				err = r.ParseForm()
			}
			if err != nil {
				status := http.StatusBadRequest
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					status = http.StatusRequestEntityTooLarge
				}
				h.message(w, r, status, l, rq.m.BadRequest)
				return
			}
			if !h.checkCSRF(rq) {
				return
			}
		}
		f(rq)
	}
}

// csrf is the CSRF field of a session's forms.
func (h *admin) csrf(purpose, sid string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte("anpi/web admin " + purpose + "\x00" + sid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF checks the posted CSRF field against the session's, writing
// 403 when it does not match.
func (h *admin) checkCSRF(rq *req) bool {
	if !hmac.Equal([]byte(rq.r.PostFormValue("csrf")), []byte(h.csrf("session", rq.sid))) {
		h.message(rq.w, rq.r, http.StatusForbidden, rq.l, rq.m.Forbidden)
		return false
	}
	return true
}

// pickLocale is the pages' locale: ?lang=, else the language cookie, else
// English when the browser prefers it, else Japanese.
func pickLocale(r *http.Request) anpi.Locale {
	if l := anpi.Locale(r.URL.Query().Get("lang")); l.Valid() {
		return l
	}
	if l := anpi.Locale(cookie(r, langCookie)); l.Valid() {
		return l
	}
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Accept-Language")), "en") {
		return anpi.English
	}
	return anpi.Japanese
}

// fail answers an error of the Service on a page.
func (h *admin) fail(rq *req, err error) {
	status, text := http.StatusInternalServerError, rq.m.Internal
	switch anpi.Code(err) {
	case anpi.NotFound:
		status, text = http.StatusNotFound, rq.m.NotFound
	case anpi.PermissionDenied:
		status, text = http.StatusForbidden, rq.m.Denied
	case anpi.InvalidArgument, anpi.FailedPrecondition, anpi.AlreadyExists:
		status, text = httpStatus(anpi.Code(err)), rq.m.Invalid+" ("+strings.TrimPrefix(err.Error(), "anpi: ")+")"
	case anpi.Unavailable:
		status, text = http.StatusServiceUnavailable, rq.m.Unavailable
	}
	if status >= 500 && !errors.Is(err, context.Canceled) {
		h.log.ErrorContext(rq.r.Context(), "anpi/web: admin page failed", "path", rq.r.URL.Path, "user", rq.user, "err", err)
	}
	h.message(rq.w, rq.r, status, rq.l, text)
}

// httpStatus is the HTTP status of an error code.
func httpStatus(c anpi.ErrorCode) int {
	switch c {
	case anpi.NotFound:
		return http.StatusNotFound
	case anpi.InvalidArgument:
		return http.StatusBadRequest
	case anpi.PermissionDenied:
		return http.StatusForbidden
	case anpi.FailedPrecondition, anpi.AlreadyExists:
		return http.StatusConflict
	case anpi.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// message renders a page with one message and a link home.
func (h *admin) message(w http.ResponseWriter, r *http.Request, status int, l anpi.Locale, text string) {
	h.render(w, status, &adminPage{Lang: l, M: msgsAdmin(l), Root: root(r.URL.Path), Message: text})
}

// render writes an admin page.
func (h *admin) render(w http.ResponseWriter, status int, p *adminPage) {
	writePage(w, h.log, h.tmpl, status, p)
}

// show renders a page of an authenticated request.
func (h *admin) show(rq *req, status int, p *adminPage) {
	p.Lang, p.M, p.Root, p.User, p.CSRF = rq.l, rq.m, rq.root, rq.user, h.csrf("session", rq.sid)
	h.render(rq.w, status, p)
}
