package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/jma"
	"github.com/anpikit/anpi/rules"
)

// apiReq is one authenticated API request.
type apiReq struct {
	w    http.ResponseWriter
	r    *http.Request
	user anpi.UserID
}

// api wraps an API handler: the caller is the user of the bearer key in
// the Authorization header, and only that: the session cookie is ignored,
// so a page in a browser cannot be made to call the API (no CSRF field is
// needed). Missing or unknown keys get 401.
func (h *admin) api(f func(*apiReq)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, key, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="anpi"`)
			writeJSONError(w, http.StatusUnauthorized, anpi.PermissionDenied, "an API key is required: Authorization: Bearer <key>")
			return
		}
		user, err := h.accounts.APIKeyUser(r.Context(), strings.TrimSpace(key))
		if err != nil {
			if anpi.Code(err) != anpi.PermissionDenied {
				h.log.ErrorContext(r.Context(), "anpi/web: API key lookup", "err", err)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="anpi", error="invalid_token"`)
			writeJSONError(w, http.StatusUnauthorized, anpi.PermissionDenied, "unknown or revoked API key")
			return
		}
		f(&apiReq{w: w, r: r, user: user})
	}
}

// apiError is the body of every API error.
type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeJSONError(w http.ResponseWriter, status int, code anpi.ErrorCode, msg string) {
	writeJSON(w, status, apiError{Error: msg, Code: code.String()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(true)
	if err := enc.Encode(v); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":"internal error","code":"Internal"}`+"\n")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// fail answers an error of the Service as JSON: the message for errors
// the caller can act on, a generic one for internal errors (whose detail
// goes to the log).
func (h *admin) apiFail(a *apiReq, err error) {
	code := anpi.Code(err)
	msg := err.Error()
	if code == anpi.Internal || code == anpi.OK {
		code = anpi.Internal
		msg = "internal error"
	}
	if code == anpi.Unavailable && !errors.Is(err, context.Canceled) {
		msg = "the service is unavailable; try again later"
	}
	if code == anpi.Internal || (code == anpi.Unavailable && !errors.Is(err, context.Canceled)) {
		h.log.ErrorContext(a.r.Context(), "anpi/web: API failed", "path", a.r.URL.Path, "user", a.user, "err", err)
	}
	writeJSONError(a.w, httpStatus(code), code, msg)
}

// surveyJSON is a survey in the API's list.
type surveyJSON struct {
	ID           anpi.SurveyID     `json:"id"`
	Kind         anpi.SurveyKind   `json:"kind"`
	Title        string            `json:"title"`
	Status       anpi.SurveyStatus `json:"status"`
	StartedAt    time.Time         `json:"startedAt,omitzero"`
	Scope        anpi.DepartmentID `json:"scope,omitempty"`
	Targets      int               `json:"targets"`
	Answered     int               `json:"answered"`
	ResponseRate float64           `json:"responseRate"`
}

func (h *admin) apiSurveys(a *apiReq) {
	q := &anpi.SurveyQuery{Kind: anpi.SurveyKind(a.r.URL.Query().Get("kind")), Status: anpi.SurveyStatus(a.r.URL.Query().Get("status"))}
	if s := a.r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			h.apiFail(a, anpi.Errorf(anpi.InvalidArgument, "anpi/web: limit %q: want a number ≥ 0", s))
			return
		}
		q.Limit = n
	}
	ls, err := h.svc.Surveys(a.r.Context(), a.user, q)
	if err != nil {
		h.apiFail(a, err)
		return
	}
	out := make([]surveyJSON, 0, len(ls))
	for _, l := range ls {
		out = append(out, surveyJSON{ID: l.Survey.ID, Kind: l.Survey.Kind, Title: l.Survey.Title, Status: l.Survey.Status,
			StartedAt: l.Survey.StartedAt, Scope: l.Scope, Targets: l.Targets, Answered: l.Answered, ResponseRate: l.ResponseRate()})
	}
	writeJSON(a.w, http.StatusOK, out)
}

// tallyJSON is a survey's tally in the API.
type tallyJSON struct {
	Survey      *anpi.Survey       `json:"survey"`
	Filter      *anpi.ExportFilter `json:"filter,omitempty"`
	Tally       *anpi.Tally        `json:"tally"`
	AnswerTimes struct {
		Q1     float64 `json:"q1Seconds"`
		Median float64 `json:"medianSeconds"`
		Q3     float64 `json:"q3Seconds"`
	} `json:"answerTimes"`
	Unanswered []anpi.Person `json:"unanswered"`
}

// apiScoped returns the filter of the request, narrowed to the caller's
// scope of the survey.
func (h *admin) apiScoped(a *apiReq, id anpi.SurveyID) (*anpi.ExportFilter, *anpi.SurveyListing, bool) {
	l, err := h.svc.SurveyFor(a.r.Context(), a.user, id)
	if err != nil {
		h.apiFail(a, err)
		return nil, nil, false
	}
	f, err := filterFrom(a.r.URL.Query())
	if err != nil {
		h.apiFail(a, err)
		return nil, nil, false
	}
	return scoped(f, l), l, true
}

func (h *admin) apiTally(a *apiReq) {
	id := anpi.SurveyID(a.r.PathValue("id"))
	f, l, ok := h.apiScoped(a, id)
	if !ok {
		return
	}
	tv, err := h.svc.Tally(a.r.Context(), a.user, id, f)
	if err != nil {
		h.apiFail(a, err)
		return
	}
	un, err := h.svc.Unanswered(a.r.Context(), a.user, id, f)
	if err != nil {
		h.apiFail(a, err)
		return
	}
	sv := tv.Survey
	if l.Scope != "" {
		// An administrator who sees a survey within his department only
		// is not told whom else it targeted (user IDs, administrators).
		sv = sv.Clone()
		sv.Targeting, sv.Admins = anpi.Targeting{}, nil
	}
	out := tallyJSON{Survey: sv, Tally: tv.Tally, Unanswered: un}
	if !f.IsEmpty() {
		out.Filter = f
	}
	out.AnswerTimes.Q1, out.AnswerTimes.Median, out.AnswerTimes.Q3 = tv.AnswerTimes.Q1.Seconds(), tv.AnswerTimes.Median.Seconds(), tv.AnswerTimes.Q3.Seconds()
	writeJSON(a.w, http.StatusOK, out)
}

func (h *admin) apiExport(a *apiReq) {
	id := anpi.SurveyID(a.r.PathValue("id"))
	f, _, ok := h.apiScoped(a, id)
	if !ok {
		return
	}
	var b bytes.Buffer
	if err := h.svc.ExportCSV(a.r.Context(), a.user, id, f, &b); err != nil {
		h.apiFail(a, err)
		return
	}
	writeCSV(a.w, id, b.Bytes())
}

// sendJSON is the body of POST /api/surveys: an anpi.SendRequest.
type sendJSON struct {
	ID         anpi.SurveyID       `json:"id"`
	Title      string              `json:"title"`
	FormID     anpi.FormID         `json:"formId"`
	TemplateID anpi.TemplateID     `json:"templateId"`
	Legacy     *anpi.LegacyMessage `json:"legacy"`
	Targeting  anpi.Targeting      `json:"targeting"`
	Deadline   time.Time           `json:"deadline"`
	Reminders  anpi.ReminderPolicy `json:"reminders"`
	Admins     []anpi.UserID       `json:"admins"`
	TestTo     []anpi.UserID       `json:"testTo"`
}

// startedJSON is the answer of POST /api/surveys.
type startedJSON struct {
	Survey     *anpi.Survey `json:"survey"`
	Recipients int          `json:"recipients"`
	Queued     int          `json:"queued"`
	NoContact  int          `json:"noContact"`
}

// readJSON decodes the request's body into v: at most maxJSONBody bytes,
// no unknown fields, one value.
func readJSON(a *apiReq, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(a.w, a.r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: request body: %w", err)
	}
	if dec.More() {
		return anpi.Errorf(anpi.InvalidArgument, "anpi/web: request body: more than one JSON value")
	}
	return nil
}

func (h *admin) apiStart(a *apiReq) {
	var in sendJSON
	if err := readJSON(a, &in); err != nil {
		h.apiFail(a, err)
		return
	}
	st, err := h.svc.StartSurvey(a.r.Context(), a.user, in.request())
	if err != nil {
		h.apiFail(a, err)
		return
	}
	writeJSON(a.w, http.StatusCreated, startedOf(st))
}

// request is the send request in.
func (in *sendJSON) request() *anpi.SendRequest {
	return &anpi.SendRequest{ID: in.ID, Title: in.Title, FormID: in.FormID, TemplateID: in.TemplateID, Legacy: in.Legacy,
		Targeting: in.Targeting, Deadline: in.Deadline, Reminders: in.Reminders, Admins: in.Admins, TestTo: in.TestTo}
}

// startedOf is what a send did, in the API.
func startedOf(st *anpi.Started) startedJSON {
	return startedJSON{Survey: st.Survey, Recipients: st.Recipients, Queued: st.Queued, NoContact: st.NoContact}
}

// apiDrafts lists the drafts the caller may send (GET /api/drafts).
func (h *admin) apiDrafts(a *apiReq) {
	ds, err := h.svc.Drafts(a.r.Context(), a.user)
	if err != nil {
		h.apiFail(a, err)
		return
	}
	if ds == nil {
		ds = []*anpi.Survey{}
	}
	writeJSON(a.w, http.StatusOK, ds)
}

// apiSaveDraft saves a draft (POST /api/drafts, a send request's body; with
// the ID of a draft, it replaces it).
func (h *admin) apiSaveDraft(a *apiReq) {
	var in sendJSON
	if err := readJSON(a, &in); err != nil {
		h.apiFail(a, err)
		return
	}
	d, err := h.svc.SaveDraft(a.r.Context(), a.user, in.request())
	if err != nil {
		h.apiFail(a, err)
		return
	}
	writeJSON(a.w, http.StatusOK, d)
}

// draftSendJSON is the body of POST /api/drafts/{id}/send: testTo, when
// set, makes it a test send of the draft to those users.
type draftSendJSON struct {
	TestTo []anpi.UserID `json:"testTo"`
}

// apiSendDraft sends a draft, or test-sends it (POST /api/drafts/{id}/send;
// an empty body sends it).
func (h *admin) apiSendDraft(a *apiReq) {
	var in draftSendJSON
	if a.r.ContentLength != 0 {
		if err := readJSON(a, &in); err != nil {
			h.apiFail(a, err)
			return
		}
	}
	st, err := h.svc.SendDraft(a.r.Context(), a.user, anpi.SurveyID(a.r.PathValue("id")), in.TestTo...)
	if err != nil {
		h.apiFail(a, err)
		return
	}
	writeJSON(a.w, http.StatusCreated, startedOf(st))
}

// apiDeleteDraft deletes a draft (DELETE /api/drafts/{id}).
func (h *admin) apiDeleteDraft(a *apiReq) {
	if err := h.svc.DeleteDraft(a.r.Context(), a.user, anpi.SurveyID(a.r.PathValue("id"))); err != nil {
		h.apiFail(a, err)
		return
	}
	a.w.WriteHeader(http.StatusNoContent)
}

// outcomeJSON is what POST /api/documents did.
type outcomeJSON struct {
	Type      string           `json:"type,omitempty"`
	Status    string           `json:"status,omitempty"`
	Event     string           `json:"event"`
	Change    jma.ChangeKind   `json:"change"`
	Decisions []rules.Decision `json:"decisions"`
	Effects   []effectJSON     `json:"effects"`
	Error     string           `json:"error,omitempty"` // set when the document was applied but a step failed (retried)
}

type effectJSON struct {
	Rule        string        `json:"rule"`
	Event       string        `json:"event"`
	Action      rules.Action  `json:"action"`
	Survey      anpi.SurveyID `json:"survey,omitempty"`
	Created     bool          `json:"created,omitempty"`
	Recipients  int           `json:"recipients"`
	Queued      int           `json:"queued"`
	NoContact   int           `json:"noContact"`
	Cancelled   int           `json:"cancelled,omitempty"`
	Corrections int           `json:"corrections,omitempty"`
	Note        string        `json:"note,omitempty"`
}

func (h *admin) apiDocument(a *apiReq) {
	if err := h.svc.Authorize(a.r.Context(), a.user, anpi.StartSend, anpi.TargetCompany()); err != nil {
		h.apiFail(a, err)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(a.w, a.r.Body, maxDocumentBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeJSONError(a.w, http.StatusRequestEntityTooLarge, anpi.InvalidArgument, "the document is larger than 16 MiB")
			return
		}
		h.apiFail(a, anpi.Errorf(anpi.InvalidArgument, "anpi/web: read the document: %w", err))
		return
	}
	out, err := h.svc.HandleDocument(a.r.Context(), data)
	h.recordUpload(a.r, a.user, len(data), out, err)
	if err != nil && out == nil {
		h.apiFail(a, err)
		return
	}
	res := outcomeJSON{Event: out.Event, Change: out.Change, Decisions: out.Decisions, Effects: []effectJSON{}}
	if res.Decisions == nil {
		res.Decisions = []rules.Decision{}
	}
	if out.Report != nil {
		res.Type, res.Status = out.Report.Type, string(out.Report.Control.Status)
	}
	for _, e := range out.Effects {
		res.Effects = append(res.Effects, effectJSON{Rule: e.Rule, Event: e.Event, Action: e.Action, Survey: e.Survey, Created: e.Created,
			Recipients: e.Recipients, Queued: e.Queued, NoContact: e.NoContact, Cancelled: e.Cancelled, Corrections: e.Corrections, Note: e.Note})
	}
	if err != nil {
		res.Error = "applied, but a step failed and will be retried"
	}
	writeJSON(a.w, http.StatusOK, res)
}

func (h *admin) apiAudit(a *apiReq) {
	qv := a.r.URL.Query()
	q := &anpi.AuditQuery{Actor: anpi.UserID(qv.Get("actor")), TargetID: qv.Get("target")}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := qv.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				h.apiFail(a, anpi.Errorf(anpi.InvalidArgument, "anpi/web: %s %q: want RFC 3339", p.name, s))
				return
			}
			*p.t = t
		}
	}
	for _, p := range []struct {
		name string
		n    *int64
	}{{"after", &q.AfterSeq}} {
		if s := qv.Get(p.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				h.apiFail(a, anpi.Errorf(anpi.InvalidArgument, "anpi/web: %s %q: want a number ≥ 0", p.name, s))
				return
			}
			*p.n = n
		}
	}
	if s := qv.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			h.apiFail(a, anpi.Errorf(anpi.InvalidArgument, "anpi/web: limit %q: want a number ≥ 0", s))
			return
		}
		q.Limit = n
	}
	es, err := h.svc.Audit(a.r.Context(), a.user, q)
	if err != nil {
		h.apiFail(a, err)
		return
	}
	if es == nil {
		es = []*anpi.AuditEntry{}
	}
	writeJSON(a.w, http.StatusOK, es)
}

func (h *admin) apiUsers(a *apiReq) {
	us, err := h.svc.AdminUsers(a.r.Context(), a.user)
	if err != nil {
		h.apiFail(a, err)
		return
	}
	writeJSON(a.w, http.StatusOK, us)
}

func (h *admin) apiRules(a *apiReq) {
	rs, err := h.svc.Rules(a.r.Context(), a.user)
	if err != nil {
		h.apiFail(a, err)
		return
	}
	if rs == nil {
		rs = []*anpi.RuleRecord{}
	}
	writeJSON(a.w, http.StatusOK, rs)
}

// scenarioJSON is the body of POST /api/rules/simulate.
type scenarioJSON struct {
	Status string    `json:"status"` // 通常 (default), 訓練, 試験
	At     time.Time `json:"at"`
	Quake  []struct {
		Area      string `json:"area"`
		Pref      string `json:"pref"`
		Intensity string `json:"intensity"` // "5-", "震度５弱", …
	} `json:"quake"`
	Tsunami []struct {
		Region string `json:"region"`
		Kind   string `json:"kind"`
	} `json:"tsunami"`
	Warnings []struct {
		Area  string   `json:"area"`
		Pref  string   `json:"pref"`
		Kinds []string `json:"kinds"`
	} `json:"warnings"`
}

func (h *admin) apiSimulate(a *apiReq) {
	var in scenarioJSON
	if err := readJSON(a, &in); err != nil {
		h.apiFail(a, err)
		return
	}
	sc := rules.Scenario{Status: jma.Status(in.Status), At: in.At}
	for i, q := range in.Quake {
		in, err := jma.ParseIntensity(q.Intensity)
		if err == nil {
			err = checkDigits("area", q.Area, 3, false)
		}
		if err == nil {
			err = checkDigits("prefecture", q.Pref, 2, true)
		}
		if err != nil {
			h.apiFail(a, anpi.Errorf(anpi.InvalidArgument, "anpi/web: quake[%d]: %v", i, err))
			return
		}
		sc.Quake = append(sc.Quake, rules.QuakeArea{Area: q.Area, Pref: q.Pref, Intensity: in})
	}
	for _, t := range in.Tsunami {
		sc.Tsunami = append(sc.Tsunami, rules.TsunamiArea{Region: t.Region, Kind: jma.TsunamiKind(t.Kind)})
	}
	for _, w := range in.Warnings {
		sc.Warnings = append(sc.Warnings, rules.WarningArea{Area: w.Area, Pref: w.Pref, Kinds: w.Kinds})
	}
	if len(sc.Quake)+len(sc.Tsunami)+len(sc.Warnings) == 0 {
		h.apiFail(a, anpi.Errorf(anpi.InvalidArgument, "anpi/web: scenario: name at least one quake area, tsunami region or warning area"))
		return
	}
	sim, err := h.svc.Simulate(a.r.Context(), a.user, sc)
	if err != nil {
		h.apiFail(a, err)
		return
	}
	writeJSON(a.w, http.StatusOK, sim)
}
