package anpi

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"strconv"

	"github.com/anpikit/anpi/channel"
)

// DefaultTemplateID is the ID of DefaultTemplate.
const DefaultTemplateID TemplateID = "anpi-default"

// DefaultTemplate returns the built-in template of safety checks, in
// Japanese and English: the event, the affected areas and the answer link.
// Each call returns a new copy.
func DefaultTemplate() *Template {
	return &Template{
		ID:      DefaultTemplateID,
		Name:    "安否確認（標準）",
		Subject: Text{Ja: "【安否確認】{event}", En: "[Safety check] {event}"},
		Body: Text{
			Ja: "{recipient} 様\n\n{event}\n{areas}\n\n下のリンクから安否を回答してください。\n{url}\n",
			En: "Dear {recipient},\n\n{event}\n{areas}\n\nPlease tell us whether you are safe:\n{url}\n",
		},
		Short: Text{Ja: "【安否確認】{event} {areas} 安否を回答してください。", En: "[Safety check] {event} {areas}: please tell us whether you are safe."},
		SMS:   Text{Ja: "【安否確認】{event} 回答:", En: "Safety check: {event}. Answer:"},
	}
}

// correctionTemplate is the text of the correction sent after a 取消 to
// those already asked. It carries no link.
func correctionTemplate() *Template {
	return &Template{
		ID:      "anpi-correction",
		Name:    "取消",
		Subject: Text{Ja: "【取消】安否確認の取り消し", En: "[Withdrawn] Safety check withdrawn"},
		Body: Text{
			Ja: "{recipient} 様\n\n{event} に関する安否確認は、気象庁が情報を取り消したため取り消します。回答は不要です。\n",
			En: "Dear {recipient},\n\nThe safety check about {event} is withdrawn: JMA cancelled the report. No answer is needed.\n",
		},
		Short: Text{Ja: "【取消】安否確認は取り消されました。回答は不要です。（{event}）", En: "[Withdrawn] The safety check is withdrawn; no answer is needed. ({event})"},
		SMS:   Text{Ja: "【取消】安否確認は取り消されました。回答不要です。{event}", En: "WITHDRAWN: no answer needed. {event}"},
	}
}

// Render turns a claimed delivery into the message its channel sends. The
// dispatcher calls it for every attempt.
//
// It picks the recipient's contact for d.Channel: d.ContactID while it is
// usable, otherwise his private contacts of that kind, verified ones first,
// never broken ones, and for email then the work email. It returns the
// contact it used ("" for the work email); a recipient with none is
// NotFound. A first send or reminder gets a fresh answer token, of which the
// store keeps only the hash (expiring at the survey's deadline, if any),
// except the first Render of an auto-send's delivery on the Service that
// enqueued it, which uses the link made and stored with the delivery; the
// text is the survey's template (or DefaultTemplate) in the user's locale
// and the channel's style: long for email, short for push and LINE, at most
// MaxSMSLen characters for SMS, and for voice the short text without a link
// (a call is answered by key presses, see AnswerAs). A correction
// (CorrectionRound) is a short notice that the request is withdrawn, with no
// token. A reminder (Round ≥ 1) is the first send's text labelled
// 【再通知】 ([Reminder] in English), with a fresh link. A summary
// (SummaryRound) is the survey's response rate and per-department table for
// the administrator d.UserID, as of now, with no token (see FollowUp).
// Drill and test surveys are labelled in every text. A contact check
// (ContactCheckSurvey) is rendered by its own rules: see StartContactCheck.
// A survey that no
// longer takes answers (cancelled, closed, past its deadline) is
// FailedPrecondition, except for corrections and summaries: the dispatcher
// should not send.
func (s *Service) Render(ctx context.Context, d *Delivery) (*channel.Message, ContactID, error) {
	m, cid, tok, err := s.render(ctx, d, nil)
	if err != nil {
		return nil, "", err
	}
	if tok != nil {
		if err := s.st.PutAnswerTokens(ctx, []*AnswerToken{tok}); err != nil {
			return nil, "", fmt.Errorf("anpi: render delivery %s: store the answer token: %w", d.ID, err)
		}
	}
	return m, cid, nil
}

// RenderResult is what RenderBatch made of one delivery: what Render would
// have returned for it.
type RenderResult struct {
	Message *channel.Message // nil when Err is set
	Contact ContactID        // the contact used ("" for the work email)
	Err     error            // classified as Render's errors are
}

// RenderBatch renders many claimed deliveries at once: result i is what
// Render returns for ds[i], errors included (NotFound: no usable contact,
// FailedPrecondition: the survey takes no answers). It reads each survey,
// its template, the recipients and their contacts once for the whole
// batch, and stores the answer tokens of all its messages in one
// PutAnswerTokens call: one durable write for the batch instead of one per
// message. A dispatcher that claims deliveries in batches should call it
// (see dispatch.Renderer).
//
// Surveys are read afresh by every call, so a survey cancelled or closed
// before the call renders nothing (other replicas sharing the store may
// change a survey at any time). Users and contacts are read too, except
// for the first render of a delivery this Service's fan-out enqueued
// moments before: it uses the user and contacts the fan-out read, and its
// link, unless the Service wrote a contact since (a change made elsewhere
// in between is seen by the next send, as if the render had come first).
// Contact checks and summaries are rendered one by one, as Render does.
//
// When the tokens cannot be stored, no message that carries one may be
// sent: those results carry the store's error (which a dispatcher retries)
// and the error is returned as well. Otherwise the error is nil and the
// results say what became of each delivery.
func (s *Service) RenderBatch(ctx context.Context, ds []*Delivery) ([]RenderResult, error) {
	out := make([]RenderResult, len(ds))
	c := &renderCache{surveys: map[SurveyID]*surveyEntry{}, links: map[DeliveryID]string{},
		users: map[UserID]*User{}, contacts: map[UserID][]*Contact{}}
	// A delivery of a fan-out this Service made is rendered with the
	// user and contacts the fan-out read (unless a contact was written
	// since): only the others are read.
	gen := s.contactGen.Load()
	var readUsers, readContacts []UserID
	for _, d := range ds {
		if d == nil {
			continue
		}
		k, ok := s.takeLink(d)
		if !ok {
			readUsers, readContacts = append(readUsers, d.UserID), append(readContacts, d.UserID)
			continue
		}
		c.links[d.ID], c.users[d.UserID] = k.text, k.user
		if k.gen == gen {
			c.contacts[d.UserID] = k.contacts
		} else {
			readContacts = append(readContacts, d.UserID)
		}
	}
	// When a bulk read fails, each delivery reads its own and meets the
	// error itself.
	if len(readUsers) > 0 {
		if us, err := s.st.GetUsers(ctx, readUsers); err == nil {
			maps.Copy(c.users, us)
		} else {
			c.users = nil
		}
	}
	if len(readContacts) > 0 {
		if cs, err := s.st.ContactsOf(ctx, readContacts); err == nil {
			maps.Copy(c.contacts, cs)
		} else {
			c.contacts = nil
		}
	}
	toks := make([]*AnswerToken, 0, len(ds))
	withTok := make([]int, 0, len(ds))
	for i, d := range ds {
		m, cid, tok, err := s.render(ctx, d, c)
		out[i] = RenderResult{Message: m, Contact: cid, Err: err}
		if err == nil && tok != nil {
			toks = append(toks, tok)
			withTok = append(withTok, i)
		}
	}
	if len(toks) == 0 {
		return out, nil
	}
	if err := s.st.PutAnswerTokens(ctx, toks); err != nil {
		err = fmt.Errorf("anpi: render %d deliveries: store %d answer tokens: %w", len(ds), len(toks), err)
		for _, i := range withTok {
			out[i] = RenderResult{Err: err}
		}
		return out, err
	}
	// The links are answered soon, most of them on this replica: the
	// answers then need no read of their token.
	if c.users != nil {
		hs := make([]TokenHash, len(toks))
		ns := make([]tokenNote, len(toks))
		for i, t := range toks {
			hs[i], ns[i] = t.Hash, tokenNote{survey: t.SurveyID, user: t.UserID, locale: localeOf(c.users[t.UserID])}
		}
		s.tokens.putAll(hs, ns)
	}
	return out, nil
}

// renderCache is what RenderBatch reads once for a batch.
type renderCache struct {
	links    map[DeliveryID]string // links made with their deliveries (takeLink)
	surveys  map[SurveyID]*surveyEntry
	users    map[UserID]*User      // nil: read per delivery
	contacts map[UserID][]*Contact // nil: read per delivery
}

// surveyEntry is a survey as a batch read it, with what its messages share.
type surveyEntry struct {
	sv    *Survey
	err   error
	tmpl  *Template         // nil until needed
	areas map[Locale]string // the areas joined, per locale
	light *Survey
}

// render makes the message of d and, when it carries a link, the answer
// token the caller must store before it is sent. c is nil for one delivery
// (Render), which then reads everything itself.
func (s *Service) render(ctx context.Context, d *Delivery, c *renderCache) (*channel.Message, ContactID, *AnswerToken, error) {
	if d == nil {
		return nil, "", nil, Errorf(InvalidArgument, "anpi: render: nil delivery")
	}
	if !d.Channel.Valid() {
		return nil, "", nil, Errorf(InvalidArgument, "anpi: render delivery %s: unknown channel %q", d.ID, d.Channel)
	}
	var e *surveyEntry
	if c != nil {
		e = c.surveys[d.SurveyID]
	}
	if e == nil {
		e = &surveyEntry{}
		e.sv, e.err = s.st.GetSurvey(ctx, d.SurveyID)
		if c != nil {
			c.surveys[d.SurveyID] = e
		}
	}
	if e.err != nil {
		return nil, "", nil, fmt.Errorf("anpi: render delivery %s: %w", d.ID, e.err)
	}
	sv := e.sv
	var u *User
	var err error
	if c != nil && c.users != nil {
		if u = c.users[d.UserID]; u == nil {
			return nil, "", nil, Errorf(NotFound, "anpi: render delivery %s: user %s does not exist", d.ID, d.UserID)
		}
	} else if u, err = s.st.GetUser(ctx, d.UserID); err != nil {
		return nil, "", nil, fmt.Errorf("anpi: render delivery %s: %w", d.ID, err)
	}
	var contacts []*Contact
	if c != nil && c.contacts != nil {
		contacts = c.contacts[u.ID]
	} else if contacts, err = s.st.Contacts(ctx, u.ID); err != nil {
		return nil, "", nil, fmt.Errorf("anpi: render delivery %s: %w", d.ID, err)
	}
	if sv.Kind == ContactCheckSurvey {
		m, cid, err := s.renderContactCheck(ctx, d, sv, u, contacts)
		return m, cid, nil, err
	}
	cid, addr, ok := pickContact(u, contacts, d.Channel, d.ContactID)
	if !ok {
		return nil, "", nil, Errorf(NotFound, "anpi: render delivery %s: user %s has no usable %s contact", d.ID, u.ID, d.Channel)
	}
	now := s.now()
	if d.Round == SummaryRound {
		m, err := s.renderSummary(ctx, d, sv, u, addr, now)
		return m, cid, nil, err
	}
	correction := d.Round == CorrectionRound
	tmpl := correctionTemplate()
	if !correction {
		if err := answerable(sv, now); err != nil {
			return nil, "", nil, fmt.Errorf("anpi: render delivery %s: %w", d.ID, err)
		}
		if e.tmpl == nil {
			if e.tmpl, err = s.template(ctx, sv); err != nil {
				e.tmpl = nil
				return nil, "", nil, fmt.Errorf("anpi: render delivery %s: %w", d.ID, err)
			}
		}
		tmpl = e.tmpl
		if d.Round > 0 {
			tmpl = reminderTemplate(tmpl)
		}
	}
	v := e.values(u)
	var tok *AnswerToken
	var text string
	var kept bool
	if c != nil {
		text, kept = c.links[d.ID]
	} else if k, ok := s.takeLink(d); ok {
		text, kept = k.text, true
	}
	if kept && !correction && d.Channel != VoiceChannel {
		v.URL = s.answerURL(text) // made and stored with the delivery
	} else if !correction && d.Channel != VoiceChannel {
		newToken := s.newToken
		if d.Channel == SMSChannel {
			newToken = s.newShortToken // 70 characters must hold the link and the event
		}
		text, h, err := newToken()
		if err != nil {
			return nil, "", nil, err
		}
		tok = &AnswerToken{Hash: h, SurveyID: sv.ID, UserID: u.ID, CreatedAt: now, ExpiresAt: sv.Deadline}
		v.URL = s.answerURL(text)
	}
	style := StyleOf(d.Channel)
	if d.Channel == VoiceChannel {
		style = ShortStyle // read aloud: the short text, no link
	}
	r, err := tmpl.Render(u.Locale, style, v)
	if err != nil {
		return nil, "", nil, fmt.Errorf("anpi: render delivery %s: %w", d.ID, err)
	}
	m := &channel.Message{
		To:             addr,
		Subject:        r.Subject,
		Text:           r.Text,
		URL:            v.URL,
		IdempotencyKey: d.IdempotencyKey(),
		Data: map[string]string{
			"survey":   string(sv.ID),
			"delivery": string(d.ID),
			"kind":     string(sv.Kind),
			"round":    strconv.Itoa(d.Round),
		},
	}
	if v.Drill {
		m.Data["drill"] = "true"
	}
	if sv.Kind == AutoSurvey || sv.Kind == ManualSurvey {
		m.Priority = channel.PriorityHigh
	}
	return m, cid, tok, nil
}

// values is values(e.sv, u), joining the survey's areas once per locale.
func (e *surveyEntry) values(u *User) Values {
	t := e.sv.Trigger
	if t == nil || len(t.Areas) == 0 {
		return values(e.sv, u)
	}
	if e.areas == nil {
		e.areas = map[Locale]string{}
	}
	a, ok := e.areas[u.Locale]
	if !ok {
		a = joinAreas(t.Areas, u.Locale)
		e.areas[u.Locale] = a
	}
	if e.light == nil { // the survey without its areas, for values
		e.light = &Survey{ID: e.sv.ID, Kind: e.sv.Kind, Title: e.sv.Title, Deadline: e.sv.Deadline,
			Trigger: &Trigger{Summary: t.Summary, Intensity: t.Intensity}}
	}
	v := values(e.light, u)
	v.Areas = a
	return v
}

// template returns the template of a survey: its legacy message's, the
// stored one it names, or DefaultTemplate (also when the stored one is gone).
func (s *Service) template(ctx context.Context, sv *Survey) (*Template, error) {
	if sv.Legacy != nil {
		return sv.Legacy.Template(), nil
	}
	if sv.TemplateID == "" || sv.TemplateID == DefaultTemplateID {
		return DefaultTemplate(), nil
	}
	t, err := s.st.GetTemplate(ctx, sv.TemplateID)
	if Code(err) == NotFound {
		s.log.WarnContext(ctx, "anpi: template is gone: the default one is used", "survey", sv.ID, "template", sv.TemplateID)
		return DefaultTemplate(), nil
	}
	return t, err
}

// values fills the placeholders of a survey's messages to u.
func values(sv *Survey, u *User) Values {
	v := Values{Recipient: u.Name, Event: sv.Title, Deadline: sv.Deadline, Drill: sv.Kind == DrillSurvey || sv.Kind == TestSurvey}
	if t := sv.Trigger; t != nil {
		if t.Summary != "" {
			v.Event = t.Summary
		}
		v.Intensity = t.Intensity
		v.Areas = joinAreas(t.Areas, u.Locale)
	}
	return v
}

// pickContact chooses the address of u on channel ch: the contact prefer
// when it is still his, of the right kind and not broken; otherwise his
// private contacts of that kind (verified first, by ID), then for email a
// work-scope email contact and the work email (ContactID ""). Family
// contacts are never used: they are someone else's. ok is false when u has
// no usable address on ch.
func pickContact(u *User, contacts []*Contact, ch Channel, prefer ContactID) (ContactID, string, bool) {
	kind := ch.ContactKind()
	usable := func(c *Contact) bool {
		return c.UserID == u.ID && c.Kind == kind && !c.Check.Broken && (c.Scope == PrivateScope || c.Scope == WorkScope)
	}
	if prefer != "" {
		for _, c := range contacts {
			if c.ID == prefer && usable(c) {
				return c.ID, c.Address, true
			}
		}
	}
	rank := func(c *Contact) int {
		switch {
		case c.Scope == PrivateScope && c.Check.Verified:
			return 0
		case c.Scope == PrivateScope:
			return 1
		}
		return 2
	}
	var best *Contact
	for _, c := range contacts {
		if !usable(c) {
			continue
		}
		if best == nil || cmp.Or(cmp.Compare(rank(c), rank(best)), cmp.Compare(c.ID, best.ID)) < 0 {
			best = c
		}
	}
	if best != nil {
		return best.ID, best.Address, true
	}
	if kind == EmailContact && u.WorkEmail != "" {
		return "", u.WorkEmail, true
	}
	return "", "", false
}
