package anpi

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// TemplateID identifies a template.
type TemplateID string

// Template is the text of a send (メールテンプレート), in Japanese and
// English, with named placeholders written {name}:
//
//	{recipient}  the recipient's name
//	{event}      one-line event summary ("震度6弱 石川県能登")
//	{intensity}  the maximum intensity ("6弱")
//	{areas}      the affected areas
//	{url}        the recipient's personal answer link
//	{deadline}   the answer deadline, in Japan time
//
// Body is the long text (email). Short is the push and LINE text; when empty
// it is the subject. SMS is the text of an SMS; when empty it is the short
// text. Texts that do not mention {url} get the link appended.
type Template struct {
	ID      TemplateID `json:"id"`
	Name    string     `json:"name"`
	Subject Text       `json:"subject"`
	Body    Text       `json:"body"`
	Short   Text       `json:"short,omitempty"`
	SMS     Text       `json:"sms,omitempty"`
}

// The placeholders a template may use.
const (
	PlaceholderRecipient = "recipient"
	PlaceholderEvent     = "event"
	PlaceholderIntensity = "intensity"
	PlaceholderAreas     = "areas"
	PlaceholderURL       = "url"
	PlaceholderDeadline  = "deadline"
)

func knownPlaceholder(name string) bool {
	switch name {
	case PlaceholderRecipient, PlaceholderEvent, PlaceholderIntensity, PlaceholderAreas, PlaceholderURL, PlaceholderDeadline:
		return true
	}
	return false
}

// Limits of templates and rendered messages.
const (
	MaxSubjectLen = 200  // characters
	MaxBodyLen    = 5000 // characters
	MaxShortLen   = 500  // characters of push and LINE texts
	// MaxSMSLen is the length of one SMS segment in UCS-2, which Japanese
	// text needs: longer messages are split and often arrive out of order.
	MaxSMSLen = 70
)

// Validate checks the template: a Japanese subject and body, lengths, and
// only known placeholders.
func (t *Template) Validate() error {
	if err := checkID("template id", string(t.ID)); err != nil {
		return err
	}
	fields := []struct {
		name  string
		text  Text
		limit int
		need  bool
	}{{"subject", t.Subject, MaxSubjectLen, true}, {"body", t.Body, MaxBodyLen, true}, {"short", t.Short, MaxShortLen, false}, {"sms", t.SMS, MaxBodyLen, false}}
	for _, f := range fields {
		if f.need && strings.TrimSpace(f.text.Ja) == "" {
			return Errorf(InvalidArgument, "anpi: template %s: %s is required", t.ID, f.name)
		}
		for _, s := range []string{f.text.Ja, f.text.En} {
			if utf8.RuneCountInString(s) > f.limit {
				return Errorf(InvalidArgument, "anpi: template %s: %s longer than %d characters", t.ID, f.name, f.limit)
			}
			if err := checkPlaceholders(s); err != nil {
				return Errorf(InvalidArgument, "anpi: template %s: %s: %w", t.ID, f.name, err)
			}
		}
	}
	return nil
}

func checkPlaceholders(s string) error {
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return Errorf(InvalidArgument, "unclosed placeholder at %q", clip(s[i:], 20))
		}
		if name := s[i+1 : i+j]; !knownPlaceholder(name) {
			return Errorf(InvalidArgument, "unknown placeholder {%s}", name)
		}
		s = s[i+j+1:]
	}
}

// Values are what a template's placeholders are replaced with.
type Values struct {
	Recipient string
	Event     string
	Intensity string
	Areas     string
	URL       string
	Deadline  time.Time
	// Drill marks a drill or test: every rendered text is prefixed with the
	// drill label so nobody mistakes it for a real event.
	Drill bool
}

// Style is how long a rendered message may be.
type Style string

// The rendering styles, one per family of channels.
const (
	LongStyle  Style = "long"  // email
	ShortStyle Style = "short" // app push, LINE
	SMSStyle   Style = "sms"   // SMS, at most MaxSMSLen characters; voice reads it too
)

// StyleOf returns the style a channel is rendered in.
func StyleOf(c Channel) Style {
	switch c {
	case EmailChannel:
		return LongStyle
	case SMSChannel, VoiceChannel:
		return SMSStyle
	}
	return ShortStyle
}

// Rendered is a message ready for one channel.
type Rendered struct {
	Subject string
	Text    string
}

// jst is Japan Standard Time; fixed, so rendering needs no tz database.
var jst = time.FixedZone("JST", 9*3600)

// drillLabel prefixes every text of a drill.
func drillLabel(l Locale) string {
	if l == English {
		return "[DRILL] "
	}
	return "【訓練】"
}

// Render renders the template in locale l and style st. The SMS style never
// exceeds MaxSMSLen characters: the text is shortened, never the link; if
// even the link does not fit, Render fails.
func (t *Template) Render(l Locale, st Style, v Values) (Rendered, error) {
	subject := expand(t.Subject.In(l), l, v)
	prefix := ""
	if v.Drill {
		prefix = drillLabel(l)
	}
	switch st {
	case LongStyle:
		return Rendered{Subject: prefix + subject, Text: prefix + withURL(expand(t.Body.In(l), l, v), v.URL, "\n\n")}, nil
	case ShortStyle:
		short := t.Short.In(l)
		if short == "" {
			short = t.Subject.In(l)
		}
		text := prefix + withURL(expand(short, l, v), v.URL, "\n")
		return Rendered{Subject: prefix + subject, Text: clip(text, MaxShortLen)}, nil
	case SMSStyle:
		src := t.SMS.In(l)
		if src == "" {
			src = t.Short.In(l)
		}
		if src == "" {
			src = t.Subject.In(l)
		}
		text, err := fitSMS(prefix+expand(strings.ReplaceAll(src, "{url}", ""), l, v), v.URL)
		return Rendered{Subject: prefix + subject, Text: text}, err
	}
	return Rendered{}, Errorf(InvalidArgument, "anpi: template %s: unknown style %q", t.ID, st)
}

// fitSMS joins text and url in at most MaxSMSLen characters, clipping text.
func fitSMS(text, url string) (string, error) {
	text = strings.Join(strings.Fields(text), " ") // an SMS has no room for layout
	sep := ""
	if url != "" {
		sep = " "
	}
	room := MaxSMSLen - utf8.RuneCountInString(url) - len(sep)
	if room < 0 {
		return "", Errorf(FailedPrecondition, "anpi: render sms: the answer link alone has more than %d characters", MaxSMSLen)
	}
	return clip(text, room) + sep + url, nil
}

// withURL appends url after sep unless text already contains it.
func withURL(text, url, sep string) string {
	if url == "" || strings.Contains(text, url) {
		return text
	}
	return text + sep + url
}

// expand replaces the placeholders of s.
func expand(s string, l Locale, v Values) string {
	i := strings.IndexByte(s, '{')
	if i < 0 {
		return s
	}
	// One pass, left to right, values never scanned again (what a
	// strings.Replacer does, without building one per message).
	var b strings.Builder
	b.Grow(len(s) + len(v.Recipient) + len(v.Areas) + len(v.URL))
	for ; i >= 0; i = strings.IndexByte(s, '{') {
		b.WriteString(s[:i])
		s = s[i:]
		name, val, ok := placeholder(s, v)
		if !ok {
			b.WriteByte('{')
			s = s[1:]
			continue
		}
		b.WriteString(val)
		s = s[len(name):]
	}
	b.WriteString(s)
	return b.String()
}

// placeholder returns the placeholder s starts with and its value from v.
func placeholder(s string, v Values) (name, value string, ok bool) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", "", false
	}
	name = s[:end+1]
	switch name {
	case "{recipient}":
		return name, v.Recipient, true
	case "{event}":
		return name, v.Event, true
	case "{intensity}":
		return name, v.Intensity, true
	case "{areas}":
		return name, v.Areas, true
	case "{url}":
		return name, v.URL, true
	case "{deadline}":
		if v.Deadline.IsZero() {
			return name, "", true
		}
		return name, v.Deadline.In(jst).Format("1/2 15:04"), true
	}
	return "", "", false
}

// clip shortens s to at most n characters, ending with "…" when it cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// LegacyMessage is a send structured as in the legacy mail service: an
// occurrence category (発生区分, e.g. 地震発生, システム障害), a status
// category and note (状況), an instruction category and note (指示), place,
// time, and a required sender.
type LegacyMessage struct {
	Occurrence          string    `json:"occurrence"`
	StatusCategory      string    `json:"statusCategory,omitempty"`
	StatusNote          string    `json:"statusNote,omitempty"`
	InstructionCategory string    `json:"instructionCategory,omitempty"`
	InstructionNote     string    `json:"instructionNote,omitempty"`
	Place               string    `json:"place,omitempty"`
	OccurredAt          time.Time `json:"occurredAt,omitzero"`
	Sender              string    `json:"sender"`
}

// Limits of a LegacyMessage, in characters.
const (
	MaxCategoryLen        = 40
	MaxStatusNoteLen      = 80
	MaxInstructionNoteLen = 60
	MaxPlaceLen           = 20
	MaxSenderLen          = 40
)

// Validate checks the fields and their lengths.
func (m *LegacyMessage) Validate() error {
	checks := []struct {
		name, value string
		limit       int
		need        bool
	}{
		{"occurrence", m.Occurrence, MaxCategoryLen, true},
		{"status category", m.StatusCategory, MaxCategoryLen, false},
		{"status note", m.StatusNote, MaxStatusNoteLen, false},
		{"instruction category", m.InstructionCategory, MaxCategoryLen, false},
		{"instruction note", m.InstructionNote, MaxInstructionNoteLen, false},
		{"place", m.Place, MaxPlaceLen, false},
		{"sender", m.Sender, MaxSenderLen, true},
	}
	for _, c := range checks {
		if c.need && strings.TrimSpace(c.value) == "" {
			return Errorf(InvalidArgument, "anpi: message: %s is required", c.name)
		}
		if n := utf8.RuneCountInString(c.value); n > c.limit {
			return Errorf(InvalidArgument, "anpi: message: %s has %d characters, limit %d", c.name, n, c.limit)
		}
	}
	return nil
}

// Template turns the structured message into a Template whose body lists
// the fields in the legacy layout.
func (m *LegacyMessage) Template() *Template {
	// The typed fields may contain braces, which must not be read as
	// placeholders: they become full-width parentheses.
	safe := strings.NewReplacer("{", "（", "}", "）").Replace
	line := func(b *strings.Builder, label, value string) {
		if value != "" {
			b.WriteString(label)
			b.WriteString(safe(value))
			b.WriteByte('\n')
		}
	}
	body := func(l Locale) string {
		var b strings.Builder
		labels := [...]string{"発生区分：", "状況：", "指示：", "場所：", "発生日時：", "送信者："}
		if l == English {
			labels = [...]string{"Occurrence: ", "Status: ", "Instruction: ", "Place: ", "Occurred at: ", "Sender: "}
		}
		b.WriteString("{recipient}\n\n")
		line(&b, labels[0], m.Occurrence)
		line(&b, labels[1], strings.TrimSpace(m.StatusCategory+" "+m.StatusNote))
		line(&b, labels[2], strings.TrimSpace(m.InstructionCategory+" "+m.InstructionNote))
		line(&b, labels[3], m.Place)
		if !m.OccurredAt.IsZero() {
			line(&b, labels[4], m.OccurredAt.In(jst).Format("2006-01-02 15:04"))
		}
		line(&b, labels[5], m.Sender)
		return b.String()
	}
	return &Template{
		ID:      "legacy",
		Name:    m.Occurrence,
		Subject: Text{Ja: "【" + safe(m.Occurrence) + "】安否確認", En: "[" + safe(m.Occurrence) + "] Safety check"},
		Body:    Text{Ja: body(Japanese), En: body(English)},
		Short:   Text{Ja: "【" + safe(m.Occurrence) + "】" + safe(m.StatusNote), En: "[" + safe(m.Occurrence) + "] " + safe(m.StatusNote)},
	}
}

// LegacyOccurrence is one occurrence category (発生区分) of the legacy mail
// service and the status (状況) and instruction (指示) categories that may
// follow it.
type LegacyOccurrence struct {
	Name         string   `json:"name"`
	Statuses     []string `json:"statuses"`
	Instructions []string `json:"instructions"`
}

// LegacyCatalog is the company's list of occurrence categories: the
// structured inputs of a legacy-style send.
type LegacyCatalog struct {
	Occurrences []LegacyOccurrence `json:"occurrences"`
}

// DefaultLegacyCatalog returns the categories of the legacy service as a
// starting point; companies edit their own copy.
func DefaultLegacyCatalog() *LegacyCatalog {
	return &LegacyCatalog{Occurrences: []LegacyOccurrence{
		{Name: "地震発生", Statuses: []string{"被害確認中", "被害なし", "被害あり"}, Instructions: []string{"安否を回答", "自宅待機", "出社", "避難"}},
		{Name: "台風・大雨", Statuses: []string{"接近中", "被害確認中", "被害あり"}, Instructions: []string{"安否を回答", "自宅待機", "在宅勤務", "出社"}},
		{Name: "システム障害", Statuses: []string{"調査中", "復旧作業中", "復旧"}, Instructions: []string{"待機", "代替手段を使用", "通常業務"}},
		{Name: "その他", Statuses: []string{"連絡"}, Instructions: []string{"確認", "回答"}},
	}}
}

// Check reports whether m's categories are in the catalog: its occurrence
// is listed, and its status and instruction categories, when set, belong
// to that occurrence. It also runs m.Validate.
func (c *LegacyCatalog) Check(m *LegacyMessage) error {
	if err := m.Validate(); err != nil {
		return err
	}
	for _, o := range c.Occurrences {
		if o.Name != m.Occurrence {
			continue
		}
		if m.StatusCategory != "" && !slices.Contains(o.Statuses, m.StatusCategory) {
			return Errorf(InvalidArgument, "anpi: message: status category %q is not one of %s's %q", m.StatusCategory, o.Name, o.Statuses)
		}
		if m.InstructionCategory != "" && !slices.Contains(o.Instructions, m.InstructionCategory) {
			return Errorf(InvalidArgument, "anpi: message: instruction category %q is not one of %s's %q", m.InstructionCategory, o.Name, o.Instructions)
		}
		return nil
	}
	return Errorf(InvalidArgument, "anpi: message: unknown occurrence category %q", m.Occurrence)
}
