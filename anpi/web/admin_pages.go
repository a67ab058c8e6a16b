package web

import (
	"bytes"
	"crypto/hmac"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/rules"
)

func (h *admin) loginGet(w http.ResponseWriter, r *http.Request) {
	if h.sessions.get(cookie(r, sessionCookie), h.clock()) != nil {
		seeOther(w, "./")
		return
	}
	h.loginForm(w, r, http.StatusOK, "")
}

// loginForm renders the login form under a fresh nonce cookie: the form's
// CSRF field is the HMAC of it (double submit), since there is no session
// yet to bind the form to.
func (h *admin) loginForm(w http.ResponseWriter, r *http.Request, status int, errText string) {
	l := pickLocale(r)
	nonce, err := newID(h.rand)
	if err != nil {
		h.log.Error("anpi/web: login form", "err", err)
		h.message(w, r, http.StatusServiceUnavailable, l, msgsAdmin(l).Unavailable)
		return
	}
	h.setCookie(w, loginCookie, nonce, 3600)
	h.render(w, status, &adminPage{Lang: l, M: msgsAdmin(l), Root: root(r.URL.Path), Login: true, Error: errText, CSRF: h.csrf("login", nonce),
		OIDC: h.idpNames})
}

func (h *admin) loginPost(w http.ResponseWriter, r *http.Request) {
	l := pickLocale(r)
	m := msgsAdmin(l)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		h.message(w, r, http.StatusBadRequest, l, m.BadRequest)
		return
	}
	nonce := cookie(r, loginCookie)
	if !sameOrigin(r) || nonce == "" || !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(h.csrf("login", nonce))) {
		h.loginForm(w, r, http.StatusForbidden, m.Forbidden)
		return
	}
	now := h.clock()
	email, client := "email:"+normEmail(r.PostFormValue("email")), clientKey(r)
	if h.fails.blocked(email, now, h.loginLimit, h.loginWindow) || h.fails.blocked(client, now, 10*h.loginLimit, h.loginWindow) {
		w.Header().Set("Retry-After", fmt.Sprint(int(h.loginWindow/time.Second)))
		h.loginForm(w, r, http.StatusTooManyRequests, m.TooMany)
		return
	}
	select {
	case h.hashing <- struct{}{}: // a free slot is always taken
	default:
		select {
		case h.hashing <- struct{}{}:
		case <-r.Context().Done():
			return // the client left while queued
		}
	}
	user, err := h.accounts.Authenticate(r.Context(), r.PostFormValue("email"), r.PostFormValue("password"))
	<-h.hashing
	if err != nil {
		h.fails.fail(email, now, h.loginWindow)
		h.fails.fail(client, now, h.loginWindow)
		if anpi.Code(err) != anpi.PermissionDenied {
			h.log.ErrorContext(r.Context(), "anpi/web: login", "err", err)
		} else {
			// The email is not logged: people type passwords into it.
			h.log.WarnContext(r.Context(), "anpi/web: login failed", "client", r.RemoteAddr)
		}
		h.loginForm(w, r, http.StatusUnauthorized, m.LoginFailed)
		return
	}
	if err := h.startSession(w, r, user, now); err != nil {
		h.log.ErrorContext(r.Context(), "anpi/web: login", "err", err)
		h.message(w, r, http.StatusServiceUnavailable, l, m.Unavailable)
		return
	}
	h.log.InfoContext(r.Context(), "anpi/web: login", "user", user, "client", r.RemoteAddr)
	seeOther(w, "./")
}

// startSession logs user in: a new session and its cookie, whichever way
// he proved who he is (password or OIDC). The browser's old session ends,
// so a session ID planted before the login is worth nothing (no fixation).
func (h *admin) startSession(w http.ResponseWriter, r *http.Request, user anpi.UserID, now time.Time) error {
	if old := cookie(r, sessionCookie); old != "" {
		h.sessions.remove(old)
	}
	sid, err := h.sessions.create(user, now, now.Add(h.ttl))
	if err != nil {
		return err
	}
	h.setCookie(w, sessionCookie, sid, int(h.ttl/time.Second))
	h.setCookie(w, loginCookie, "", -1)
	return nil
}

func (h *admin) logout(rq *req) {
	h.sessions.remove(rq.sid)
	h.setCookie(rq.w, sessionCookie, "", -1)
	h.log.InfoContext(rq.r.Context(), "anpi/web: logout", "user", rq.user)
	seeOther(rq.w, rq.root+"login")
}

// surveyRow is a survey of the list.
type surveyRow struct {
	*anpi.SurveyListing
	ScopeName string // the department the administrator sees of it
}

func (h *admin) index(rq *req) {
	ls, err := h.svc.Surveys(rq.r.Context(), rq.user, &anpi.SurveyQuery{Limit: 200})
	if err != nil {
		h.fail(rq, err)
		return
	}
	tree, err := h.svc.Departments(rq.r.Context(), rq.user)
	if err != nil {
		h.fail(rq, err)
		return
	}
	rows := make([]surveyRow, len(ls))
	for i, l := range ls {
		rows[i] = surveyRow{SurveyListing: l}
		if l.Scope != "" {
			rows[i].ScopeName = deptName(tree, l.Scope)
		}
	}
	h.show(rq, http.StatusOK, &adminPage{List: true, Surveys: rows})
}

// surveyView is the tally page of one survey.
type surveyView struct {
	ID                anpi.SurveyID
	Title, Event      string
	Kind              anpi.SurveyKind
	Status            anpi.SurveyStatus
	Started           time.Time
	Drill, Test       bool
	Scope             anpi.DepartmentID
	ScopeName         string
	Query             string // the filter as a query string, for the CSV link
	Rate              float64
	Answered, Targets int
	Questions         []tallyQuestion
	Times             anpi.Quartiles
	Depts, Regions    []groupRow
	Unanswered        []personRow
	UnansweredTotal   int // the list shows at most maxUnansweredShown
}

// maxUnansweredShown bounds the unanswered names a tally page lists (it
// refreshes every 5 seconds); the CSV export has them all.
const maxUnansweredShown = 500

type tallyQuestion struct {
	ID, Label string
	Rows      []tallyRow
	Chart     template.HTML
}

type tallyRow struct {
	Code, Label string
	Count       int
}

type groupRow struct {
	Name, Indent      string
	Targets, Answered int
	Rate              float64
}

type personRow struct{ Name, Depts string }

// filterFrom reads an ExportFilter from a query: department, region,
// question with choice (repeatable), notanswered=1. A malformed region is
// InvalidArgument.
func filterFrom(q url.Values) (*anpi.ExportFilter, error) {
	f := &anpi.ExportFilter{Department: anpi.DepartmentID(q.Get("department")), Question: q.Get("question"),
		Choices: q["choice"], NotAnswered: q.Get("notanswered") == "1"}
	if s := q.Get("region"); s != "" {
		r, err := anpi.ParseRegion(s)
		if err != nil {
			return nil, anpi.Errorf(anpi.InvalidArgument, "anpi/web: filter: region: %w", err)
		}
		f.Region = r
	}
	return f, nil
}

// scoped returns f, or when it names no department and the administrator
// sees the survey only within a department (SurveyListing.Scope), f
// narrowed to that department.
func scoped(f *anpi.ExportFilter, l *anpi.SurveyListing) *anpi.ExportFilter {
	if f.Department == "" && l.Scope != "" {
		c := *f
		c.Department = l.Scope
		return &c
	}
	return f
}

// deptName is the name of department d, its ID when the tree lacks it.
func deptName(tree *anpi.DepartmentTree, d anpi.DepartmentID) string {
	if tree != nil {
		if dep := tree.Get(d); dep != nil {
			return dep.Name
		}
	}
	return string(d)
}

// deptNames joins the names of departments ds.
func deptNames(tree *anpi.DepartmentTree, ds []anpi.DepartmentID) string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = deptName(tree, d)
	}
	return strings.Join(names, "、")
}

func (h *admin) survey(rq *req) {
	ctx := rq.r.Context()
	id := anpi.SurveyID(rq.r.PathValue("id"))
	l, err := h.svc.SurveyFor(ctx, rq.user, id)
	if err != nil {
		h.fail(rq, err)
		return
	}
	f, err := filterFrom(rq.r.URL.Query())
	if err != nil {
		h.fail(rq, err)
		return
	}
	f = scoped(f, l)
	tv, err := h.svc.Tally(ctx, rq.user, id, f)
	if err != nil {
		h.fail(rq, err)
		return
	}
	un, err := h.svc.Unanswered(ctx, rq.user, id, f)
	if err != nil {
		h.fail(rq, err)
		return
	}
	tree, err := h.svc.Departments(ctx, rq.user)
	if err != nil {
		h.fail(rq, err)
		return
	}
	sv, t := tv.Survey, tv.Tally
	v := &surveyView{ID: sv.ID, Title: sv.Title, Kind: sv.Kind, Status: sv.Status, Started: sv.StartedAt,
		Drill: sv.Kind == anpi.DrillSurvey, Test: sv.Kind == anpi.TestSurvey, Scope: f.Department,
		Rate: t.ResponseRate(), Answered: t.Answered, Targets: t.Targets, Times: tv.AnswerTimes}
	if sv.Trigger != nil {
		v.Event = sv.Trigger.Summary
	}
	if f.Department != "" {
		v.ScopeName = deptName(tree, f.Department)
	}
	if q := rq.r.URL.Query(); !f.IsEmpty() {
		q.Set("department", string(f.Department))
		q.Del("lang")
		v.Query = "?" + q.Encode()
	}
	if sv.Form != nil {
		for _, q := range sv.Form.Questions {
			if q.Type == anpi.FreeText {
				continue
			}
			tq := tallyQuestion{ID: q.ID, Label: q.Label.In(rq.l)}
			var bars []bar
			for _, c := range q.Choices {
				n := t.Choices[q.ID][c.Code]
				tq.Rows = append(tq.Rows, tallyRow{Code: c.Code, Label: c.Label.In(rq.l), Count: n})
				bars = append(bars, bar{Label: c.Label.In(rq.l), Value: n})
			}
			tq.Chart = barChart(tq.Label, bars)
			v.Questions = append(v.Questions, tq)
		}
	}
	seen := map[anpi.DepartmentID]bool{}
	for _, d := range tree.All() {
		if g := t.Subtrees[d.ID]; g != nil && g.Targets > 0 {
			seen[d.ID] = true
			v.Depts = append(v.Depts, groupRow{Name: d.Name, Indent: strings.Repeat("　", max(tree.Depth(d.ID), 0)),
				Targets: g.Targets, Answered: g.Answered, Rate: g.ResponseRate()})
		}
	}
	for _, d := range sortedKeys(t.Subtrees) { // departments deleted since the survey started
		if g := t.Subtrees[d]; !seen[d] && g.Targets > 0 {
			v.Depts = append(v.Depts, groupRow{Name: string(d), Targets: g.Targets, Answered: g.Answered, Rate: g.ResponseRate()})
		}
	}
	for _, k := range sortedKeys(t.Regions) {
		g := t.Regions[k]
		v.Regions = append(v.Regions, groupRow{Name: k, Targets: g.Targets, Answered: g.Answered, Rate: g.ResponseRate()})
	}
	for _, u := range un[:min(len(un), maxUnansweredShown)] {
		name := u.Name
		if name == "" {
			name = string(u.UserID)
		}
		v.Unanswered = append(v.Unanswered, personRow{Name: name, Depts: deptNames(tree, u.Departments)})
	}
	v.UnansweredTotal = len(un)
	h.show(rq, http.StatusOK, &adminPage{Survey: v, Refresh: true})
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[K ~string, V any](m map[K]V) []K {
	ks := make([]K, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// followUp starts a survey to those of an earlier one who have not
// answered, or who chose an answer ("to" = unanswered | chose:QUESTION:CHOICE).
// An administrator who sees the survey whole targets them by the earlier
// survey's answers (Targeting.NotAnswered, Targeting.Answered); one who
// sees only his department of it targets the people of his department
// by name, since a targeting is a union and cannot be narrowed.
func (h *admin) followUp(rq *req) {
	ctx := rq.r.Context()
	id := anpi.SurveyID(rq.r.PathValue("id"))
	l, err := h.svc.SurveyFor(ctx, rq.user, id)
	if err != nil {
		h.fail(rq, err)
		return
	}
	req := &anpi.SendRequest{Title: strings.TrimSpace(rq.r.PostFormValue("title"))}
	f := &anpi.ExportFilter{Department: l.Scope}
	switch to := rq.r.PostFormValue("to"); {
	case to == "unanswered":
		req.Targeting.NotAnswered = []anpi.SurveyID{id}
		f.NotAnswered = true
	case strings.HasPrefix(to, "chose:"):
		q, c, ok := strings.Cut(strings.TrimPrefix(to, "chose:"), ":")
		if !ok || q == "" || c == "" {
			h.fail(rq, anpi.Errorf(anpi.InvalidArgument, "anpi/web: follow-up: recipients %q: want unanswered or chose:QUESTION:CHOICE", to))
			return
		}
		req.Targeting.Answered = []anpi.AnswerFilter{{SurveyID: id, QuestionID: q, Choices: []string{c}}}
		f.Question, f.Choices = q, []string{c}
	default:
		h.fail(rq, anpi.Errorf(anpi.InvalidArgument, "anpi/web: follow-up: choose the recipients"))
		return
	}
	if l.Scope != "" {
		people, err := h.svc.Selected(ctx, rq.user, id, f)
		if err != nil {
			h.fail(rq, err)
			return
		}
		req.Targeting = anpi.Targeting{Users: make([]anpi.UserID, len(people))}
		for i, p := range people {
			req.Targeting.Users[i] = p.UserID
		}
		if len(people) == 0 {
			h.fail(rq, anpi.Errorf(anpi.FailedPrecondition, "anpi/web: follow-up: nobody in %s matches", l.Scope))
			return
		}
	}
	st, err := h.svc.StartSurvey(ctx, rq.user, req)
	if err != nil {
		h.fail(rq, err)
		return
	}
	seeOther(rq.w, "../"+url.PathEscape(string(st.Survey.ID)))
}

func (h *admin) export(rq *req) {
	ctx := rq.r.Context()
	id := anpi.SurveyID(rq.r.PathValue("id"))
	l, err := h.svc.SurveyFor(ctx, rq.user, id)
	if err != nil {
		h.fail(rq, err)
		return
	}
	f, err := filterFrom(rq.r.URL.Query())
	if err != nil {
		h.fail(rq, err)
		return
	}
	var b bytes.Buffer
	if err := h.svc.ExportCSV(ctx, rq.user, id, scoped(f, l), &b); err != nil {
		h.fail(rq, err)
		return
	}
	writeCSV(rq.w, id, b.Bytes())
}

// writeCSV sends an export as a download.
func writeCSV(w http.ResponseWriter, id anpi.SurveyID, data []byte) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeFileName(string(id))+`.csv"`)
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// safeFileName keeps the characters of s that are safe in a file name.
func safeFileName(s string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			return c
		}
		return '_'
	}, s)
}

// sendView is the manual send form, new or filled from a draft (Draft).
type sendView struct {
	Draft                           anpi.SurveyID
	Title, Template, Regions, Users string
	// The message in the legacy layout (LegacyMessage), used when
	// Occurrence is set: the mail service administrators know.
	Occurrence, StatusNote, InstructionNote, Place, Sender string
	Everyone, Subtree, Test                                bool
	Depts                                                  []deptOption
}

type deptOption struct {
	ID           anpi.DepartmentID
	Name, Indent string
	Checked      bool
}

func (h *admin) sendForm(rq *req, status int, v *sendView, checked []string, errText string) {
	tree, err := h.svc.Departments(rq.r.Context(), rq.user)
	if err != nil {
		h.fail(rq, err)
		return
	}
	for _, d := range tree.All() {
		v.Depts = append(v.Depts, deptOption{ID: d.ID, Name: d.Name, Indent: strings.Repeat("　", max(tree.Depth(d.ID), 0)),
			Checked: slices.Contains(checked, string(d.ID))})
	}
	h.show(rq, status, &adminPage{Send: v, Error: errText})
}

func (h *admin) sendGet(rq *req) {
	id := anpi.SurveyID(rq.r.URL.Query().Get("draft"))
	if id == "" {
		h.sendForm(rq, http.StatusOK, &sendView{Subtree: true, Test: true}, nil, "")
		return
	}
	d, err := h.draft(rq, id)
	if err != nil {
		h.fail(rq, err)
		return
	}
	v := &sendView{Draft: d.ID, Title: d.Title, Template: string(d.TemplateID), Everyone: d.Targeting.Everyone, Subtree: true, Test: true}
	if l := d.Legacy; l != nil {
		v.Occurrence, v.StatusNote, v.InstructionNote, v.Place, v.Sender = l.Occurrence, l.StatusNote, l.InstructionNote, l.Place, l.Sender
	}
	var checked []string
	for i, t := range d.Targeting.Departments {
		checked = append(checked, string(t.ID))
		if i == 0 {
			v.Subtree = t.IncludeSubtree
		}
	}
	var regions, users []string
	for _, r := range d.Targeting.Regions {
		regions = append(regions, r.String())
	}
	for _, u := range d.Targeting.Users {
		users = append(users, string(u))
	}
	v.Regions, v.Users = strings.Join(regions, " "), strings.Join(users, " ")
	h.sendForm(rq, http.StatusOK, v, checked, "")
}

// draft returns the draft id if rq's user may use it (NotFound otherwise).
func (h *admin) draft(rq *req, id anpi.SurveyID) (*anpi.Survey, error) {
	ds, err := h.svc.Drafts(rq.r.Context(), rq.user)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		if d.ID == id {
			return d, nil
		}
	}
	return nil, anpi.Errorf(anpi.NotFound, "anpi/web: draft %s not found", id)
}

func (h *admin) sendPost(rq *req) {
	f := rq.r.PostForm
	v := &sendView{Draft: anpi.SurveyID(f.Get("draft_id")), Title: strings.TrimSpace(f.Get("title")), Template: strings.TrimSpace(f.Get("template")), Regions: f.Get("regions"),
		Users: f.Get("users"), Everyone: f.Get("everyone") == "1", Subtree: f.Get("subtree") == "1", Test: f.Get("test") == "1"}
	v.Occurrence, v.StatusNote, v.InstructionNote = strings.TrimSpace(f.Get("occurrence")), strings.TrimSpace(f.Get("status_note")), strings.TrimSpace(f.Get("instruction_note"))
	v.Place, v.Sender = strings.TrimSpace(f.Get("place")), strings.TrimSpace(f.Get("sender"))
	req := &anpi.SendRequest{Title: v.Title, TemplateID: anpi.TemplateID(v.Template)}
	if v.Occurrence != "" || v.Sender != "" || v.StatusNote != "" || v.InstructionNote != "" || v.Place != "" {
		req.Legacy = &anpi.LegacyMessage{Occurrence: v.Occurrence, StatusNote: v.StatusNote, InstructionNote: v.InstructionNote, Place: v.Place, Sender: v.Sender}
		if err := req.Legacy.Validate(); err != nil {
			h.sendForm(rq, http.StatusBadRequest, v, f["dept"], rq.m.Invalid+" ("+strings.TrimPrefix(err.Error(), "anpi: ")+")")
			return
		}
	}
	req.Targeting.Everyone = v.Everyone
	for _, d := range f["dept"] {
		req.Targeting.Departments = append(req.Targeting.Departments, anpi.DepartmentTarget{ID: anpi.DepartmentID(d), IncludeSubtree: v.Subtree})
	}
	for _, s := range strings.Fields(v.Regions) {
		r, err := anpi.ParseRegion(s)
		if err != nil {
			h.sendForm(rq, http.StatusBadRequest, v, f["dept"], rq.m.Invalid+" ("+strings.TrimPrefix(err.Error(), "anpi: ")+")")
			return
		}
		req.Targeting.Regions = append(req.Targeting.Regions, r)
	}
	for _, u := range strings.Fields(v.Users) {
		req.Targeting.Users = append(req.Targeting.Users, anpi.UserID(u))
	}
	var next string
	var err error
	switch {
	case f.Get("save") == "draft":
		// Saved as it is, to be sent later from the drafts page.
		req.ID = v.Draft
		_, err = h.svc.SaveDraft(rq.r.Context(), rq.user, req)
		next = "drafts"
	case v.Draft != "":
		// A draft edited and sent: saved first, so a refused send
		// leaves the edits in the draft.
		req.ID = v.Draft
		if _, err = h.svc.SaveDraft(rq.r.Context(), rq.user, req); err == nil {
			var testTo []anpi.UserID
			if v.Test {
				testTo = []anpi.UserID{rq.user}
			}
			var st *anpi.Started
			if st, err = h.svc.SendDraft(rq.r.Context(), rq.user, v.Draft, testTo...); err == nil {
				next = "surveys/" + url.PathEscape(string(st.Survey.ID))
			}
		}
	default:
		if v.Test {
			req.TestTo = []anpi.UserID{rq.user}
		}
		var st *anpi.Started
		if st, err = h.svc.StartSurvey(rq.r.Context(), rq.user, req); err == nil {
			next = "surveys/" + url.PathEscape(string(st.Survey.ID))
		}
	}
	if err != nil {
		switch anpi.Code(err) {
		case anpi.InvalidArgument, anpi.FailedPrecondition, anpi.NotFound, anpi.PermissionDenied, anpi.AlreadyExists:
			text := rq.m.Invalid
			if anpi.Code(err) == anpi.PermissionDenied {
				text = rq.m.Denied
			}
			h.sendForm(rq, httpStatus(anpi.Code(err)), v, f["dept"], text+" ("+strings.TrimPrefix(err.Error(), "anpi: ")+")")
		default:
			h.fail(rq, err)
		}
		return
	}
	seeOther(rq.w, next)
}

func (h *admin) draftsGet(rq *req) {
	ds, err := h.svc.Drafts(rq.r.Context(), rq.user)
	if err != nil {
		h.fail(rq, err)
		return
	}
	h.show(rq, http.StatusOK, &adminPage{Drafts: ds, DraftList: true})
}

// draftSend sends a draft, or test-sends it to the administrator himself
// (test=1), and shows the survey.
func (h *admin) draftSend(rq *req) {
	var testTo []anpi.UserID
	if rq.r.PostFormValue("test") == "1" {
		testTo = []anpi.UserID{rq.user}
	}
	st, err := h.svc.SendDraft(rq.r.Context(), rq.user, anpi.SurveyID(rq.r.PathValue("id")), testTo...)
	if err != nil {
		h.fail(rq, err)
		return
	}
	seeOther(rq.w, "../../surveys/"+url.PathEscape(string(st.Survey.ID)))
}

func (h *admin) draftDelete(rq *req) {
	if err := h.svc.DeleteDraft(rq.r.Context(), rq.user, anpi.SurveyID(rq.r.PathValue("id"))); err != nil {
		h.fail(rq, err)
		return
	}
	seeOther(rq.w, "../../drafts")
}

// feedView is the JMA document upload and what it did.
type feedView struct {
	Done      bool
	Summary   string
	Effects   []anpi.Effect
	Decisions []rules.Decision
}

// mayFeed checks that the actor may start a send to the whole company: a
// document uploaded by hand can message everyone, and HandleDocument
// itself checks no actor (it serves the live feed).
func (h *admin) mayFeed(rq *req) bool {
	if err := h.svc.Authorize(rq.r.Context(), rq.user, anpi.StartSend, anpi.TargetCompany()); err != nil {
		h.fail(rq, err)
		return false
	}
	return true
}

func (h *admin) feedGet(rq *req) {
	if !h.mayFeed(rq) {
		return
	}
	h.show(rq, http.StatusOK, &adminPage{Feed: &feedView{}})
}

func (h *admin) feedPost(rq *req) {
	if !h.mayFeed(rq) {
		return
	}
	if rq.r.MultipartForm == nil || len(rq.r.MultipartForm.File["document"]) != 1 {
		h.show(rq, http.StatusBadRequest, &adminPage{Feed: &feedView{}, Error: rq.m.BadRequest})
		return
	}
	fh := rq.r.MultipartForm.File["document"][0]
	if fh.Size > maxDocumentBody {
		h.show(rq, http.StatusRequestEntityTooLarge, &adminPage{Feed: &feedView{}, Error: rq.m.TooLarge})
		return
	}
	file, err := fh.Open()
	if err != nil {
		h.fail(rq, anpi.Errorf(anpi.Internal, "anpi/web: open the upload: %w", err))
		return
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxDocumentBody+1))
	if err != nil || len(data) > maxDocumentBody {
		h.show(rq, http.StatusRequestEntityTooLarge, &adminPage{Feed: &feedView{}, Error: rq.m.TooLarge})
		return
	}
	out, err := h.svc.HandleDocument(rq.r.Context(), data)
	h.recordUpload(rq.r, rq.user, len(data), out, err)
	if err != nil && out == nil {
		if anpi.Code(err) == anpi.InvalidArgument {
			h.show(rq, http.StatusBadRequest, &adminPage{Feed: &feedView{}, Error: rq.m.Invalid + " (" + strings.TrimPrefix(err.Error(), "anpi: ") + ")"})
			return
		}
		h.fail(rq, err)
		return
	}
	v := &feedView{Done: true, Effects: out.Effects, Decisions: out.Decisions}
	if out.Report != nil {
		v.Summary = strings.TrimSpace(out.Report.Type + " " + out.Report.Head.Title + " " + string(out.Report.Control.Status) + " " + string(out.Change))
	}
	p := &adminPage{Feed: v}
	if err != nil {
		p.Error = rq.m.Unavailable
	}
	h.show(rq, http.StatusOK, p)
}

// recordUpload audits (AuditUpload) and logs who uploaded a JMA document
// and what it did: the Service records the sends it makes with no actor
// (the feed's), so this entry is where the uploader is named.
func (h *admin) recordUpload(r *http.Request, user anpi.UserID, size int, out *anpi.Outcome, cause error) {
	var surveys []string
	if out != nil {
		for _, e := range out.Effects {
			if e.Survey != "" {
				surveys = append(surveys, string(e.Survey))
			}
		}
	}
	if err := h.svc.AuditUpload(r.Context(), user, size, out, cause); err != nil {
		h.log.ErrorContext(r.Context(), "anpi/web: auditing a JMA document upload", "user", user, "err", err)
	}
	if cause != nil {
		h.log.WarnContext(r.Context(), "anpi/web: JMA document uploaded", "user", user, "bytes", size, "surveys", surveys, "err", cause)
		return
	}
	h.log.InfoContext(r.Context(), "anpi/web: JMA document uploaded", "user", user, "bytes", size, "surveys", surveys)
}

// rulesView is the rules page and a simulation's result.
type rulesView struct {
	Records     []*anpi.RuleRecord
	Area, Pref  string
	Intensities []option
	Result      *simView
}

// option is a choice of a select.
type option struct {
	Code, Label string
	Checked     bool
}

type simView struct {
	Total, OutOfScope int
	Decisions         []anpi.SimulatedDecision
	Depts             []simDept
}

type simDept struct {
	Name  string
	Count int
	Names string // the first names
}

// intensityOptions are the intensities a simulation offers, sel selected.
func intensityOptions(l anpi.Locale, sel jma.Intensity) []option {
	var out []option
	for _, i := range jma.Thresholds() {
		label := i.Japanese()
		if l == anpi.English {
			label = "Intensity " + i.String()
		}
		out = append(out, option{Code: i.String(), Label: label, Checked: i == sel})
	}
	return out
}

func (h *admin) rulesPage(rq *req, status int, v *rulesView, errText string) {
	rs, err := h.svc.Rules(rq.r.Context(), rq.user)
	if err != nil {
		h.fail(rq, err)
		return
	}
	v.Records = rs
	h.show(rq, status, &adminPage{Rules: v, Error: errText})
}

func (h *admin) rulesGet(rq *req) {
	h.rulesPage(rq, http.StatusOK, &rulesView{Intensities: intensityOptions(rq.l, jma.Intensity5Lower)}, "")
}

// maxSimNames is how many names a simulation shows per department.
const maxSimNames = 10

func (h *admin) simulate(rq *req) {
	ctx := rq.r.Context()
	f := rq.r.PostForm
	v := &rulesView{Area: strings.TrimSpace(f.Get("area")), Pref: strings.TrimSpace(f.Get("pref"))}
	in, err := jma.ParseIntensity(f.Get("intensity"))
	v.Intensities = intensityOptions(rq.l, in)
	if err == nil {
		err = checkDigits("area", v.Area, 3, false)
	}
	if err == nil {
		err = checkDigits("prefecture", v.Pref, 2, true)
	}
	if err != nil {
		h.rulesPage(rq, http.StatusBadRequest, v, rq.m.Invalid+" ("+err.Error()+")")
		return
	}
	sim, err := h.svc.Simulate(ctx, rq.user, rules.Scenario{Quake: []rules.QuakeArea{{Area: v.Area, Pref: v.Pref, Intensity: in}}})
	if err != nil {
		h.fail(rq, err)
		return
	}
	tree, err := h.svc.Departments(ctx, rq.user)
	if err != nil {
		h.fail(rq, err)
		return
	}
	v.Result = simulation(sim, tree)
	h.rulesPage(rq, http.StatusOK, v, "")
}

// simulation groups a simulation's users by department (a user in several
// counts in each), with the first names of each.
func simulation(sim *anpi.Simulation, tree *anpi.DepartmentTree) *simView {
	v := &simView{Total: sim.Total, OutOfScope: sim.OutOfScope, Decisions: sim.Decisions}
	byDept := map[anpi.DepartmentID][]string{}
	for _, u := range sim.Users {
		ds := u.Departments
		if len(ds) == 0 {
			ds = []anpi.DepartmentID{""}
		}
		for _, d := range ds {
			byDept[d] = append(byDept[d], u.Name)
		}
	}
	for _, d := range sortedKeys(byDept) {
		names := byDept[d]
		shown := strings.Join(names[:min(len(names), maxSimNames)], "、")
		if len(names) > maxSimNames {
			shown += "…"
		}
		name := "—"
		if d != "" {
			name = deptName(tree, d)
		}
		v.Depts = append(v.Depts, simDept{Name: name, Count: len(names), Names: shown})
	}
	return v
}

// checkDigits checks that s is n ASCII digits (or empty when optional).
func checkDigits(what, s string, n int, optional bool) error {
	if s == "" && optional {
		return nil
	}
	if len(s) != n || strings.Trim(s, "0123456789") != "" {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: %s %q: want %d digits", what, s, n)
	}
	return nil
}

// contactsView is the contact network: per user, the status of each
// contact by kind. It is built from AdminUserView, which has no address.
type contactsView struct {
	Kinds     []anpi.ContactKind
	Rows      []contactRow
	NoPrivate []string
}

type contactRow struct {
	Name, Depts string
	Cells       [][]contactCell
}

type contactCell struct{ Class, Text string }

func (h *admin) contacts(rq *req) {
	ctx := rq.r.Context()
	users, err := h.svc.AdminUsers(ctx, rq.user)
	if err != nil {
		h.fail(rq, err)
		return
	}
	none, err := h.svc.UsersWithoutPrivateContact(ctx, rq.user)
	if err != nil {
		h.fail(rq, err)
		return
	}
	tree, err := h.svc.Departments(ctx, rq.user)
	if err != nil {
		h.fail(rq, err)
		return
	}
	v := &contactsView{Kinds: []anpi.ContactKind{anpi.EmailContact, anpi.PhoneContact, anpi.LINEContact, anpi.FCMContact, anpi.APNsContact}}
	for _, u := range users {
		row := contactRow{Name: u.User.Name, Depts: deptNames(tree, u.User.Departments), Cells: make([][]contactCell, len(v.Kinds))}
		for _, c := range u.Contacts {
			i := slices.Index(v.Kinds, c.Kind)
			if i < 0 {
				continue
			}
			row.Cells[i] = append(row.Cells[i], contactStatus(rq.m, c))
		}
		v.Rows = append(v.Rows, row)
	}
	for _, u := range none {
		v.NoPrivate = append(v.NoPrivate, u.User.Name+" ("+deptNames(tree, u.User.Departments)+")")
	}
	h.show(rq, http.StatusOK, &adminPage{Contacts: v})
}

// contactStatus is one contact's cell: its scope and state.
func contactStatus(m *adminMessages, c anpi.ContactStatus) contactCell {
	cell := contactCell{Class: "muted", Text: m.Unverified}
	switch {
	case c.Broken:
		cell = contactCell{Class: "err", Text: m.Broken}
	case c.LastError != "":
		cell = contactCell{Class: "err", Text: m.Failed}
	case c.Verified:
		cell = contactCell{Class: "ok", Text: m.Verified}
	case !c.Registered:
		cell.Text = "—"
	}
	scope := m.ScopeNames[c.Scope]
	if scope == "" {
		scope = string(c.Scope)
	}
	cell.Text = scope + ": " + cell.Text
	return cell
}
