package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/anpikit/anpi/anpi"
)

// page is what the template shows; one template renders every page.
type page struct {
	Lang    anpi.Locale
	M       *messages
	Message string // a page with only a message (404, 403, 410, 429, 500)

	Title   string // the survey's title
	Event   string // the trigger's summary
	Drill   bool
	Name    string // the recipient's name
	Error   string // why the answers were refused
	Form    []question
	CSRF    string
	Other   string  // the link to the page in the other language
	OtherL  string  // the other language's name
	Answers []shown // the thank-you page's current answer
	Back    string  // the thank-you page's link back to the form
	Contact bool    // the contact check's confirm page
	Done    bool    // the contact check's thank-you page
	Closed  bool    // the survey takes no answers
}

type question struct {
	ID, Label string
	Name      string // the form field
	Required  bool
	Radio     bool
	Checkbox  bool
	Text      string // the text of a free-text question
	MaxLength int
	Choices   []choice
}

type choice struct {
	Code, Label string
	Checked     bool
}

type shown struct{ Question, Answer string }

// field is the form field of question id.
func field(id string) string { return "q." + id }

// questions builds the form's view in locale l with answers filled in.
func questions(f *anpi.Form, l anpi.Locale, answers []anpi.Answer) []question {
	var qs []question
	for _, q := range f.Questions {
		v := question{ID: q.ID, Label: q.Label.In(l), Name: field(q.ID), Required: q.Required}
		var a anpi.Answer
		if i := slices.IndexFunc(answers, func(a anpi.Answer) bool { return a.QuestionID == q.ID }); i >= 0 {
			a = answers[i]
		}
		switch q.Type {
		case anpi.SingleChoice, anpi.MultipleChoice:
			v.Radio, v.Checkbox = q.Type == anpi.SingleChoice, q.Type == anpi.MultipleChoice
			for _, c := range q.Choices {
				v.Choices = append(v.Choices, choice{Code: c.Code, Label: c.Label.In(l), Checked: slices.Contains(a.Choices, c.Code)})
			}
		default:
			v.Text = a.Text
			v.MaxLength = q.MaxLength
			if v.MaxLength == 0 {
				v.MaxLength = anpi.DefaultMaxTextLen
			}
		}
		qs = append(qs, v)
	}
	return qs
}

// parseAnswers reads the posted answers of form f; unanswered questions
// are left out.
func parseAnswers(r *http.Request, f *anpi.Form) []anpi.Answer {
	var as []anpi.Answer
	for _, q := range f.Questions {
		switch q.Type {
		case anpi.SingleChoice, anpi.MultipleChoice:
			if cs := r.PostForm[field(q.ID)]; len(cs) > 0 {
				as = append(as, anpi.Answer{QuestionID: q.ID, Choices: slices.Clone(cs)})
			}
		default:
			if t := strings.ReplaceAll(r.PostFormValue(field(q.ID)), "\r\n", "\n"); strings.TrimSpace(t) != "" {
				as = append(as, anpi.Answer{QuestionID: q.ID, Text: t})
			}
		}
	}
	return as
}

// summary shows answers as (question, answer) labels in locale l.
func summary(f *anpi.Form, l anpi.Locale, answers []anpi.Answer) []shown {
	var out []shown
	for _, q := range f.Questions {
		i := slices.IndexFunc(answers, func(a anpi.Answer) bool { return a.QuestionID == q.ID })
		if i < 0 {
			continue
		}
		a := answers[i]
		var labels []string
		for _, c := range q.Choices {
			if slices.Contains(a.Choices, c.Code) {
				labels = append(labels, c.Label.In(l))
			}
		}
		if a.Text != "" {
			labels = append(labels, a.Text)
		}
		out = append(out, shown{Question: q.Label.In(l), Answer: strings.Join(labels, ", ")})
	}
	return out
}

// base fills what every survey page shows.
func (h *handler) base(r *http.Request, info *anpi.TokenInfo, l anpi.Locale) *page {
	p := &page{Lang: l, M: msgs(l), Title: info.Survey.Title, Drill: info.Survey.Kind == anpi.DrillSurvey}
	if t := info.Survey.Trigger; t != nil {
		p.Event = t.Summary
	}
	if info.User != nil {
		p.Name = info.User.Name
	}
	other := anpi.English
	if l == anpi.English {
		other = anpi.Japanese
	}
	p.Other, p.OtherL = "?lang="+string(other), msgs(other).LangName
	return p
}

// answerForm renders the answer form with answers filled in.
func (h *handler) answerForm(w http.ResponseWriter, r *http.Request, status int, tok string, info *anpi.TokenInfo, l anpi.Locale, answers []anpi.Answer, errText string) {
	p := h.base(r, info, l)
	p.Form = questions(info.Survey.Form, l, answers)
	p.CSRF = h.csrf("a", tok)
	p.Error = errText
	h.render(w, status, p)
}

func (h *handler) answerGet(w http.ResponseWriter, r *http.Request) {
	tok := token(r)
	info, ok := h.lookup(w, r, tok)
	if !ok {
		return
	}
	l := locale(r, info)
	if !info.Open {
		h.closed(w, r, info, l)
		return
	}
	var answers []anpi.Answer
	if info.Response != nil {
		answers = info.Response.Answers
	}
	h.answerForm(w, r, http.StatusOK, tok, info, l, answers, "")
}

// closed is the page of a survey that takes no answers: 410, with the
// answer given before.
func (h *handler) closed(w http.ResponseWriter, r *http.Request, info *anpi.TokenInfo, l anpi.Locale) {
	p := h.base(r, info, l)
	p.Closed = true
	p.Message = p.M.Closed
	if info.Response != nil {
		p.Answers = summary(info.Survey.Form, l, info.Response.Answers)
	}
	h.render(w, http.StatusGone, p)
}

func (h *handler) answerPost(w http.ResponseWriter, r *http.Request) {
	tok, l, ok := h.beginPost(w, r, "a")
	if !ok {
		return
	}
	// The Service records the answer without reading the token when it
	// made or saw it lately: the common POST costs one shared commit.
	var answers []anpi.Answer
	info, err := h.svc.SubmitAnswer(r.Context(), tok, anpi.ViaWeb, func(info *anpi.TokenInfo) ([]anpi.Answer, error) {
		answers = parseAnswers(r, info.Survey.Form)
		return answers, nil
	})
	if err == nil {
		seeOther(w, tok+"/thanks?lang="+string(locale(r, info)))
		return
	}
	code := anpi.Code(err)
	if code != anpi.InvalidArgument && code != anpi.FailedPrecondition {
		h.fail(w, r, err, l)
		return
	}
	// The form again, or the closed page: both show the recipient's
	// name and current answer, which only the full lookup reads.
	info, ok = h.lookup(w, r, tok)
	if !ok {
		return
	}
	l = locale(r, info)
	if code == anpi.FailedPrecondition || !info.Open {
		h.closed(w, r, info, l)
		return
	}
	h.answerForm(w, r, http.StatusBadRequest, tok, info, l, answers, msgs(l).Invalid+" ("+strings.TrimPrefix(err.Error(), "anpi: ")+")")
}

// seeOther redirects to a location relative to the request's URL as the
// browser sees it (http.Redirect would resolve it against the path left
// after http.StripPrefix).
func seeOther(w http.ResponseWriter, loc string) {
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusSeeOther)
}

func (h *handler) answerThanks(w http.ResponseWriter, r *http.Request) {
	tok := token(r)
	info, ok := h.lookup(w, r, tok)
	if !ok {
		return
	}
	l := locale(r, info)
	if info.Response == nil {
		seeOther(w, "../"+tok+"?lang="+string(l))
		return
	}
	p := h.base(r, info, l)
	p.Message = p.M.Thanks
	p.Answers = summary(info.Survey.Form, l, info.Response.Answers)
	if info.Open {
		p.Back = "../" + tok + "?lang=" + string(l)
	} else {
		p.Closed = true
	}
	h.render(w, http.StatusOK, p)
}

func (h *handler) contactGet(w http.ResponseWriter, r *http.Request) {
	tok := token(r)
	info, ok := h.lookup(w, r, tok)
	if !ok {
		return
	}
	if info.Survey.Kind != anpi.ContactCheckSurvey {
		h.notFound(w, r)
		return
	}
	l := locale(r, info)
	if !info.Open {
		h.message(w, http.StatusGone, l, msgs(l).Closed)
		return
	}
	p := h.base(r, info, l)
	p.Contact = true
	p.Message = p.M.ContactAsk
	p.CSRF = h.csrf("c", tok)
	h.render(w, http.StatusOK, p)
}

func (h *handler) contactPost(w http.ResponseWriter, r *http.Request) {
	tok, l, ok := h.beginPost(w, r, "c")
	if !ok {
		return
	}
	var err error
	if r.PostFormValue("wrong") != "" {
		// "This is not my contact": the Service marks it broken (a wrong
		// address someone else receives), so no safety check goes to it.
		answers := []anpi.Answer{{QuestionID: anpi.ContactCheckQuestion, Choices: []string{anpi.ContactCheckWrong}}}
		_, err = h.svc.AnswerByToken(r.Context(), tok, answers, anpi.ViaWeb)
	} else {
		_, err = h.svc.ConfirmContact(r.Context(), tok)
	}
	if err != nil {
		h.fail(w, r, err, l)
		return
	}
	seeOther(w, tok+"/thanks?lang="+string(l))
}

func (h *handler) contactThanks(w http.ResponseWriter, r *http.Request) {
	tok := token(r)
	info, ok := h.lookup(w, r, tok)
	if !ok {
		return
	}
	if info.Survey.Kind != anpi.ContactCheckSurvey {
		h.notFound(w, r)
		return
	}
	l := locale(r, info)
	if info.Response == nil {
		seeOther(w, "../"+tok+"?lang="+string(l))
		return
	}
	p := h.base(r, info, l)
	p.Done = true
	p.Message = p.M.ContactDone
	if slices.ContainsFunc(info.Response.Answers, func(a anpi.Answer) bool {
		return a.QuestionID == anpi.ContactCheckQuestion && slices.Contains(a.Choices, anpi.ContactCheckWrong)
	}) {
		p.Message = p.M.ContactWrong
	}
	h.render(w, http.StatusOK, p)
}
