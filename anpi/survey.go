package anpi

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// SurveyID identifies a survey (一斉送信).
type SurveyID string

// SurveyKind says why a survey was sent.
type SurveyKind string

// The survey kinds. Drill and test surveys are kept and tallied apart from
// real ones and are labelled as such in every message.
const (
	ManualSurvey       SurveyKind = "manual"        // 手動一斉送信
	AutoSurvey         SurveyKind = "auto"          // 自動一斉送信, started by a rule on a JMA report
	TestSurvey         SurveyKind = "test"          // テスト配信 to chosen people before a real send
	DrillSurvey        SurveyKind = "drill"         // 訓練
	ContactCheckSurvey SurveyKind = "contact_check" // 連絡先の確認
)

// Valid reports whether k is a known kind.
func (k SurveyKind) Valid() bool {
	switch k {
	case ManualSurvey, AutoSurvey, TestSurvey, DrillSurvey, ContactCheckSurvey:
		return true
	}
	return false
}

// SurveyStatus is the life-cycle state of a survey.
type SurveyStatus string

// The survey statuses.
const (
	Draft     SurveyStatus = "draft"     // saved, not sent; editable
	Held      SurveyStatus = "held"      // waiting out a rule's hold window
	Open      SurveyStatus = "open"      // sent; answers accepted
	Closed    SurveyStatus = "closed"    // past its deadline or closed by hand; no more answers
	Cancelled SurveyStatus = "cancelled" // withdrawn (e.g. JMA 取消); unsent deliveries cancelled
)

// Valid reports whether s is a known status.
func (s SurveyStatus) Valid() bool {
	switch s {
	case Draft, Held, Open, Closed, Cancelled:
		return true
	}
	return false
}

// Trigger says what started an automatic survey.
type Trigger struct {
	Source   string `json:"source,omitempty"`   // "jma"
	EventID  string `json:"eventId,omitempty"`  // JMA EventID
	RuleID   string `json:"ruleId,omitempty"`   // the auto-send rule
	ReportID string `json:"reportId,omitempty"` // the report that fired it
	Summary  string `json:"summary,omitempty"`  // one line for people, e.g. "震度6弱 石川県能登"

	// Event is the event key of the jma.Tracker (rules.Decision.Event),
	// which also names events without an EventID (weather warnings).
	Event string `json:"event,omitempty"`
	// Intensity is the highest intensity that matched, e.g. "震度７";
	// empty for tsunami and weather triggers.
	Intensity string `json:"intensity,omitempty"`
	// Areas are the names of the areas that matched, in the order they
	// were first reached.
	Areas []string `json:"areas,omitempty"`
	// Reports are the IDs of the reports that added recipients, oldest
	// first (ReportID is the last of them).
	Reports []string `json:"reports,omitempty"`
	// Rule is the rule's spec (RuleRecord.Spec) when the survey started:
	// later edits of the rule do not change what this survey was.
	Rule json.RawMessage `json:"rule,omitempty"`
}

// DepartmentTarget selects a department, with or without its subtree.
type DepartmentTarget struct {
	ID             DepartmentID `json:"id"`
	IncludeSubtree bool         `json:"includeSubtree,omitempty"`
}

// AnswerFilter selects the users whose answer in an earlier survey chose
// one of Choices for QuestionID.
type AnswerFilter struct {
	SurveyID   SurveyID `json:"surveyId"`
	QuestionID string   `json:"question"`
	Choices    []string `json:"choices"`
}

// Targeting says who a manual survey goes to: a user is targeted when he
// matches any of the criteria (a union), and is active.
type Targeting struct {
	Everyone    bool               `json:"everyone,omitempty"`
	Departments []DepartmentTarget `json:"departments,omitempty"`
	Groups      []string           `json:"groups,omitempty"`
	Titles      []string           `json:"titles,omitempty"`
	Regions     []Region           `json:"regions,omitempty"`
	Users       []UserID           `json:"users,omitempty"`
	Answered    []AnswerFilter     `json:"answered,omitempty"`
	NotAnswered []SurveyID         `json:"notAnswered,omitempty"`
}

// IsEmpty reports whether the targeting selects nobody.
func (t *Targeting) IsEmpty() bool {
	return !t.Everyone && len(t.Departments) == 0 && len(t.Groups) == 0 && len(t.Titles) == 0 &&
		len(t.Regions) == 0 && len(t.Users) == 0 && len(t.Answered) == 0 && len(t.NotAnswered) == 0
}

// Validate checks the criteria's own fields.
func (t *Targeting) Validate() error {
	for _, d := range t.Departments {
		if d.ID == "" {
			return Errorf(InvalidArgument, "anpi: targeting: empty department id")
		}
	}
	for _, r := range t.Regions {
		if err := r.Validate(); err != nil {
			return Errorf(InvalidArgument, "anpi: targeting: %w", err)
		}
	}
	for _, a := range t.Answered {
		if a.SurveyID == "" || a.QuestionID == "" || len(a.Choices) == 0 {
			return Errorf(InvalidArgument, "anpi: targeting: answered filter needs surveyId, question and choices")
		}
	}
	return nil
}

// DepartmentIDs returns the departments the targeting names, for permission
// checks (a scoped administrator may target only his subtree).
func (t *Targeting) DepartmentIDs() []DepartmentID {
	out := make([]DepartmentID, len(t.Departments))
	for i, d := range t.Departments {
		out[i] = d.ID
	}
	return out
}

// Match reports whether active user u is selected. answer looks up u's
// current response in an earlier survey (nil when none); it is called only
// for the Answered and NotAnswered criteria.
func (t *Targeting) Match(u *User, tree *DepartmentTree, answer func(SurveyID, UserID) *Response) bool {
	if u.Status != Active {
		return false
	}
	if t.Everyone || slices.Contains(t.Users, u.ID) || (u.Title != "" && slices.Contains(t.Titles, u.Title)) {
		return true
	}
	for _, g := range u.Groups {
		if slices.Contains(t.Groups, g) {
			return true
		}
	}
	for _, r := range u.Regions {
		if slices.Contains(t.Regions, r) {
			return true
		}
	}
	for _, dt := range t.Departments {
		for _, d := range u.Departments {
			if d == dt.ID || (dt.IncludeSubtree && tree != nil && tree.Within(d, dt.ID)) {
				return true
			}
		}
	}
	if answer == nil {
		return false
	}
	for _, s := range t.NotAnswered {
		if answer(s, u.ID) == nil {
			return true
		}
	}
	for _, f := range t.Answered {
		if r := answer(f.SurveyID, u.ID); r != nil && r.Chose(f.QuestionID, f.Choices...) {
			return true
		}
	}
	return false
}

// ReminderPolicy is how often non-responders are reminded (再通知).
type ReminderPolicy struct {
	Count    int           `json:"count"`    // reminders after the first send; 0 = none
	Interval time.Duration `json:"interval"` // between sends
}

// Limits of a survey.
const (
	MaxReminders     = 10
	MinReminderEvery = time.Minute
	MaxTitleLen      = 100
)

// Survey is one broadcast with a question form (一斉送信): who, what, when and
// its state. Deliveries and responses refer to it.
type Survey struct {
	ID      SurveyID   `json:"id"`
	Kind    SurveyKind `json:"kind"`
	Title   string     `json:"title"`
	Trigger *Trigger   `json:"trigger,omitempty"`
	// Form is a snapshot of the form when the survey was created, so later
	// edits of the form do not change what was asked.
	Form       *Form          `json:"form"`
	TemplateID TemplateID     `json:"templateId,omitempty"`
	Legacy     *LegacyMessage `json:"legacy,omitempty"`
	Targeting  Targeting      `json:"targeting"`
	Deadline   time.Time      `json:"deadline,omitzero"`
	Reminders  ReminderPolicy `json:"reminders"`
	Status     SurveyStatus   `json:"status"`
	// Admins receive the summary and post notifications.
	Admins    []UserID  `json:"admins,omitempty"`
	CreatedBy UserID    `json:"createdBy,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	StartedAt time.Time `json:"startedAt,omitzero"` // when it was sent; answer times count from here
	ClosedAt  time.Time `json:"closedAt,omitzero"`
}

// Validate checks the survey's fields.
func (s *Survey) Validate() error {
	if err := checkID("survey id", string(s.ID)); err != nil {
		return err
	}
	if !s.Kind.Valid() {
		return Errorf(InvalidArgument, "anpi: survey %s: unknown kind %q", s.ID, s.Kind)
	}
	if !s.Status.Valid() {
		return Errorf(InvalidArgument, "anpi: survey %s: unknown status %q", s.ID, s.Status)
	}
	if strings.TrimSpace(s.Title) == "" || utf8.RuneCountInString(s.Title) > MaxTitleLen {
		return Errorf(InvalidArgument, "anpi: survey %s: title is required, at most %d characters", s.ID, MaxTitleLen)
	}
	if s.Form == nil {
		return Errorf(InvalidArgument, "anpi: survey %s: form is required", s.ID)
	}
	if err := s.Form.Validate(); err != nil {
		return Errorf(InvalidArgument, "anpi: survey %s: %w", s.ID, err)
	}
	if err := s.Targeting.Validate(); err != nil {
		return Errorf(InvalidArgument, "anpi: survey %s: %w", s.ID, err)
	}
	if s.Legacy != nil {
		if err := s.Legacy.Validate(); err != nil {
			return Errorf(InvalidArgument, "anpi: survey %s: %w", s.ID, err)
		}
	}
	r := s.Reminders
	if r.Count < 0 || r.Count > MaxReminders || (r.Count > 0 && r.Interval < MinReminderEvery) {
		return Errorf(InvalidArgument, "anpi: survey %s: reminders: count 0 to %d, interval at least %s", s.ID, MaxReminders, MinReminderEvery)
	}
	if !s.Deadline.IsZero() && !s.CreatedAt.IsZero() && s.Deadline.Before(s.CreatedAt) {
		return Errorf(InvalidArgument, "anpi: survey %s: deadline is before creation", s.ID)
	}
	return nil
}

// Clone returns a deep copy of s.
func (s *Survey) Clone() *Survey {
	c := *s
	if s.Trigger != nil {
		t := *s.Trigger
		t.Areas = slices.Clone(t.Areas)
		t.Reports = slices.Clone(t.Reports)
		t.Rule = slices.Clone(t.Rule)
		c.Trigger = &t
	}
	if s.Form != nil {
		c.Form = s.Form.Clone()
	}
	if s.Legacy != nil {
		l := *s.Legacy
		c.Legacy = &l
	}
	c.Targeting = s.Targeting.clone()
	c.Admins = slices.Clone(s.Admins)
	return &c
}

func (t Targeting) clone() Targeting {
	c := t
	c.Departments = slices.Clone(t.Departments)
	c.Groups = slices.Clone(t.Groups)
	c.Titles = slices.Clone(t.Titles)
	c.Regions = slices.Clone(t.Regions)
	c.Users = slices.Clone(t.Users)
	c.Answered = slices.Clone(t.Answered)
	for i := range c.Answered {
		c.Answered[i].Choices = slices.Clone(c.Answered[i].Choices)
	}
	c.NotAnswered = slices.Clone(t.NotAnswered)
	return c
}

// Recipient is a user a survey was sent to, frozen at send time: the
// departments and regions he is tallied under do not change when the
// directory does.
type Recipient struct {
	SurveyID    SurveyID       `json:"surveyId"`
	UserID      UserID         `json:"userId"`
	Departments []DepartmentID `json:"departments,omitempty"` // direct departments
	// Scope is Departments plus all their ancestors, each once: the
	// departments whose subtree roll-up counts this recipient.
	Scope   []DepartmentID `json:"scope,omitempty"`
	Regions []Region       `json:"regions,omitempty"`
}

// NewRecipient freezes u as a recipient of survey s, computing the roll-up
// scope from tree (which may be nil when there are no departments).
func NewRecipient(s SurveyID, u *User, tree *DepartmentTree) Recipient {
	r := Recipient{SurveyID: s, UserID: u.ID, Departments: slices.Clone(u.Departments), Regions: slices.Clone(u.Regions)}
	if tree != nil {
		r.Scope = tree.Scope(u.Departments)
	} else {
		r.Scope = slices.Sorted(slices.Values(u.Departments))
	}
	return r
}

// Clone returns a deep copy of r.
func (r Recipient) Clone() Recipient {
	r.Departments = slices.Clone(r.Departments)
	r.Scope = slices.Clone(r.Scope)
	r.Regions = slices.Clone(r.Regions)
	return r
}

// ResponseID identifies a response; recording the same ID twice is a no-op,
// so a retried request never counts twice.
type ResponseID string

// ResponseChannel is how an answer arrived.
type ResponseChannel string

// The ways an answer can arrive.
const (
	ViaWeb   ResponseChannel = "web"   // the answer page (/a/{token})
	ViaLINE  ResponseChannel = "line"  // a LINE postback
	ViaSMS   ResponseChannel = "sms"   // an SMS reply digit
	ViaVoice ResponseChannel = "voice" // a key press during a voice call
	ViaAdmin ResponseChannel = "admin" // entered by an administrator (a phone call)
)

// Response is a recipient's answer to a survey. Answering again replaces it;
// the replaced versions are kept as history.
type Response struct {
	ID       ResponseID      `json:"id"`
	SurveyID SurveyID        `json:"surveyId"`
	UserID   UserID          `json:"userId"`
	Answers  []Answer        `json:"answers"`
	Channel  ResponseChannel `json:"channel"`
	At       time.Time       `json:"at"`
	// FirstAt is when the recipient first answered this survey; set by the
	// store. Answer-time statistics use it.
	FirstAt time.Time `json:"firstAt,omitzero"`
	// ViaToken, when set, is the hash of the answer token the answer came
	// through: a store records the response only while that token is stored
	// for the response's survey and user and usable at At (not revoked, not
	// expired), checked in the transaction that records it, and refuses it
	// as NotFound otherwise. The Service sets it when it took the token's
	// survey and user from its own memory instead of reading them in a
	// transaction (see AnswerByToken). It is not stored with the response.
	ViaToken *TokenHash `json:"-"`
}

// Clone returns a deep copy of r.
func (r *Response) Clone() *Response {
	c := *r
	c.Answers = slices.Clone(r.Answers)
	for i := range c.Answers {
		c.Answers[i].Choices = slices.Clone(c.Answers[i].Choices)
	}
	return &c
}

// Chose reports whether the response chose any of codes for question q.
func (r *Response) Chose(q string, codes ...string) bool {
	for _, a := range r.Answers {
		if a.QuestionID == q {
			for _, c := range a.Choices {
				if slices.Contains(codes, c) {
					return true
				}
			}
		}
	}
	return false
}

// Validate checks the response's identity fields and its answers against
// the form.
func (r *Response) Validate(f *Form) error {
	if err := checkID("response id", string(r.ID)); err != nil {
		return err
	}
	if r.SurveyID == "" || r.UserID == "" {
		return Errorf(InvalidArgument, "anpi: response %s: survey and user are required", r.ID)
	}
	if r.At.IsZero() {
		return Errorf(InvalidArgument, "anpi: response %s: time is required", r.ID)
	}
	switch r.Channel {
	case ViaWeb, ViaLINE, ViaSMS, ViaVoice, ViaAdmin:
	default:
		return Errorf(InvalidArgument, "anpi: response %s: unknown channel %q", r.ID, r.Channel)
	}
	return f.ValidateAnswers(r.Answers)
}
