package anpi

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// FormID identifies a form.
type FormID string

// Text is a string in both supported languages.
type Text struct {
	Ja string `json:"ja"`
	En string `json:"en,omitempty"`
}

// In returns the text in locale l, falling back to Japanese.
func (t Text) In(l Locale) string {
	if l == English && t.En != "" {
		return t.En
	}
	return t.Ja
}

// QuestionType is the kind of a question.
type QuestionType string

// The question types.
const (
	SingleChoice   QuestionType = "single"
	MultipleChoice QuestionType = "multiple"
	FreeText       QuestionType = "text"
)

// Question is one question of a form (設問). Its ID and its choices' codes are
// stable: tallies and filters refer to them, not to labels.
type Question struct {
	ID       string       `json:"id"`
	Type     QuestionType `json:"type"`
	Label    Text         `json:"label"`
	Required bool         `json:"required,omitempty"`
	Choices  []Choice     `json:"choices,omitempty"`
	// MaxLength bounds a free-text answer in characters (default
	// DefaultMaxTextLen).
	MaxLength int `json:"maxLength,omitempty"`
}

// Choice is one option of a choice question.
type Choice struct {
	Code  string `json:"code"`
	Label Text   `json:"label"`
}

// Form is a question form (設問フォーム).
type Form struct {
	ID        FormID     `json:"id"`
	Name      Text       `json:"name"`
	Questions []Question `json:"questions"`
}

// Limits of forms and answers.
const (
	MaxQuestions      = 20
	MaxChoices        = 20
	DefaultMaxTextLen = 400
	MaxTextLen        = 2000
)

// Answer is the answer to one question: the chosen codes for a choice
// question, the text for a free-text one.
type Answer struct {
	QuestionID string   `json:"question"`
	Choices    []string `json:"choices,omitempty"`
	Text       string   `json:"text,omitempty"`
}

// Validate checks the form definition: stable unique IDs and codes, labels,
// choices where needed.
func (f *Form) Validate() error {
	if err := checkID("form id", string(f.ID)); err != nil {
		return err
	}
	if len(f.Questions) == 0 || len(f.Questions) > MaxQuestions {
		return Errorf(InvalidArgument, "anpi: form %s: want 1 to %d questions, have %d", f.ID, MaxQuestions, len(f.Questions))
	}
	for i, q := range f.Questions {
		if err := checkID("form "+string(f.ID)+": question id", q.ID); err != nil {
			return err
		}
		if slices.ContainsFunc(f.Questions[:i], func(p Question) bool { return p.ID == q.ID }) {
			return Errorf(InvalidArgument, "anpi: form %s: question %q listed twice", f.ID, q.ID)
		}
		if strings.TrimSpace(q.Label.Ja) == "" {
			return Errorf(InvalidArgument, "anpi: form %s: question %q: label is required", f.ID, q.ID)
		}
		switch q.Type {
		case SingleChoice, MultipleChoice:
			if len(q.Choices) < 2 || len(q.Choices) > MaxChoices {
				return Errorf(InvalidArgument, "anpi: form %s: question %q: want 2 to %d choices", f.ID, q.ID, MaxChoices)
			}
			for j, c := range q.Choices {
				if err := checkID("form "+string(f.ID)+": question "+q.ID+": choice code", c.Code); err != nil {
					return err
				}
				if slices.ContainsFunc(q.Choices[:j], func(p Choice) bool { return p.Code == c.Code }) {
					return Errorf(InvalidArgument, "anpi: form %s: question %q: choice %q listed twice", f.ID, q.ID, c.Code)
				}
				if strings.TrimSpace(c.Label.Ja) == "" {
					return Errorf(InvalidArgument, "anpi: form %s: question %q: choice %q: label is required", f.ID, q.ID, c.Code)
				}
			}
		case FreeText:
			if len(q.Choices) != 0 {
				return Errorf(InvalidArgument, "anpi: form %s: question %q: a free-text question has no choices", f.ID, q.ID)
			}
			if q.MaxLength < 0 || q.MaxLength > MaxTextLen {
				return Errorf(InvalidArgument, "anpi: form %s: question %q: maxLength must be 0 to %d", f.ID, q.ID, MaxTextLen)
			}
		default:
			return Errorf(InvalidArgument, "anpi: form %s: question %q: unknown type %q", f.ID, q.ID, q.Type)
		}
	}
	return nil
}

// Question returns the question with the given ID, or nil.
func (f *Form) Question(id string) *Question {
	for i := range f.Questions {
		if f.Questions[i].ID == id {
			return &f.Questions[i]
		}
	}
	return nil
}

// Clone returns a deep copy of f.
func (f *Form) Clone() *Form {
	c := *f
	c.Questions = slices.Clone(f.Questions)
	for i := range c.Questions {
		c.Questions[i].Choices = slices.Clone(c.Questions[i].Choices)
	}
	return &c
}

// ValidateAnswers checks answers against the form: every answer names a
// question of the form once, choices are known codes (one for a
// single-choice question), texts fit, required questions are answered. The
// error names the question.
func (f *Form) ValidateAnswers(answers []Answer) error {
	for i, a := range answers {
		q := f.Question(a.QuestionID)
		if q == nil {
			return Errorf(InvalidArgument, "anpi: answer %q: no such question in form %s", a.QuestionID, f.ID)
		}
		if slices.ContainsFunc(answers[:i], func(p Answer) bool { return p.QuestionID == a.QuestionID }) {
			return Errorf(InvalidArgument, "anpi: answer %q: answered twice", a.QuestionID)
		}
		switch q.Type {
		case SingleChoice, MultipleChoice:
			if a.Text != "" {
				return Errorf(InvalidArgument, "anpi: answer %q: a choice question takes no text", q.ID)
			}
			if q.Type == SingleChoice && len(a.Choices) > 1 {
				return Errorf(InvalidArgument, "anpi: answer %q: choose one option, not %d", q.ID, len(a.Choices))
			}
			for j, c := range a.Choices {
				if !slices.ContainsFunc(q.Choices, func(qc Choice) bool { return qc.Code == c }) {
					return Errorf(InvalidArgument, "anpi: answer %q: unknown choice %q", q.ID, c)
				}
				if slices.Contains(a.Choices[:j], c) {
					return Errorf(InvalidArgument, "anpi: answer %q: choice %q given twice", q.ID, c)
				}
			}
		case FreeText:
			if len(a.Choices) != 0 {
				return Errorf(InvalidArgument, "anpi: answer %q: a free-text question takes no choices", q.ID)
			}
			limit := q.MaxLength
			if limit == 0 {
				limit = DefaultMaxTextLen
			}
			if !utf8.ValidString(a.Text) {
				return Errorf(InvalidArgument, "anpi: answer %q: text is not valid UTF-8", q.ID)
			}
			if n := utf8.RuneCountInString(a.Text); n > limit {
				return Errorf(InvalidArgument, "anpi: answer %q: text has %d characters, limit %d", q.ID, n, limit)
			}
		}
	}
	for _, q := range f.Questions {
		if !q.Required {
			continue
		}
		i := slices.IndexFunc(answers, func(a Answer) bool { return a.QuestionID == q.ID })
		if i < 0 || (len(answers[i].Choices) == 0 && strings.TrimSpace(answers[i].Text) == "") {
			return Errorf(InvalidArgument, "anpi: answer %q: required", q.ID)
		}
	}
	return nil
}

// The question IDs and choice codes of DefaultForm.
const (
	QuestionSelf    = "self"    // 本人
	QuestionFamily  = "family"  // 家族
	QuestionHome    = "home"    // 家屋
	QuestionWork    = "work"    // 出社
	QuestionMessage = "message" // 自由記述
)

// DefaultFormID is the ID of DefaultForm.
const DefaultFormID FormID = "anpi-default"

// DefaultForm returns the built-in 安否 form in Japanese and English: 本人
// (無事 / 軽傷 / 重傷), 家族 (全員無事 / 被害あり / 未確認), 家屋 (被害なし /
// 一部損壊 / 全壊), 出社 (可能 / 不可能 / 未定) and a free message. Only 本人 is
// required. Each call returns a new copy.
func DefaultForm() *Form {
	return &Form{
		ID:   DefaultFormID,
		Name: Text{Ja: "安否確認", En: "Safety check"},
		Questions: []Question{
			{ID: QuestionSelf, Type: SingleChoice, Required: true, Label: Text{Ja: "あなたの状況", En: "Your condition"}, Choices: []Choice{
				{Code: "safe", Label: Text{Ja: "無事", En: "Safe"}},
				{Code: "minor", Label: Text{Ja: "軽傷", En: "Minor injury"}},
				{Code: "serious", Label: Text{Ja: "重傷", En: "Serious injury"}},
			}},
			{ID: QuestionFamily, Type: SingleChoice, Label: Text{Ja: "家族の状況", En: "Your family"}, Choices: []Choice{
				{Code: "all_safe", Label: Text{Ja: "全員無事", En: "All safe"}},
				{Code: "harmed", Label: Text{Ja: "被害あり", En: "Someone harmed"}},
				{Code: "unknown", Label: Text{Ja: "未確認", En: "Not yet known"}},
			}},
			{ID: QuestionHome, Type: SingleChoice, Label: Text{Ja: "家屋の状況", En: "Your home"}, Choices: []Choice{
				{Code: "none", Label: Text{Ja: "被害なし", En: "No damage"}},
				{Code: "partial", Label: Text{Ja: "一部損壊", En: "Partly damaged"}},
				{Code: "destroyed", Label: Text{Ja: "全壊", En: "Destroyed"}},
			}},
			{ID: QuestionWork, Type: SingleChoice, Label: Text{Ja: "出社", En: "Coming to work"}, Choices: []Choice{
				{Code: "can", Label: Text{Ja: "可能", En: "Possible"}},
				{Code: "cannot", Label: Text{Ja: "不可能", En: "Not possible"}},
				{Code: "undecided", Label: Text{Ja: "未定", En: "Undecided"}},
			}},
			{ID: QuestionMessage, Type: FreeText, Label: Text{Ja: "メッセージ", En: "Message"}},
		},
	}
}
