package anpi

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/anpikit/anpi/channel"
)

// maxSummaryRows bounds the department table of a summary; the rest is
// counted in one line.
const maxSummaryRows = 100

// renderSummary renders a summary delivery (SummaryRound) to administrator
// u: the survey's tally as of now, without an answer token.
func (s *Service) renderSummary(ctx context.Context, d *Delivery, sv *Survey, u *User, addr string, now time.Time) (*channel.Message, error) {
	t, err := s.st.Tally(ctx, sv.ID)
	if err != nil {
		return nil, fmt.Errorf("anpi: render delivery %s: summary: %w", d.ID, err)
	}
	tree, err := s.st.Departments(ctx)
	if err != nil {
		return nil, fmt.Errorf("anpi: render delivery %s: summary: %w", d.ID, err)
	}
	style := StyleOf(d.Channel)
	if d.Channel == VoiceChannel {
		style = ShortStyle // read aloud
	}
	r := SummaryText(sv, t, tree, u.Locale, style, now)
	m := &channel.Message{
		To:             addr,
		Subject:        r.Subject,
		Text:           r.Text,
		IdempotencyKey: d.IdempotencyKey(),
		Data: map[string]string{
			"survey":   string(sv.ID),
			"delivery": string(d.ID),
			"kind":     string(sv.Kind),
			"round":    strconv.Itoa(d.Round),
			"summary":  "true",
		},
	}
	if sv.Kind == DrillSurvey || sv.Kind == TestSurvey {
		m.Data["drill"] = "true"
	}
	return m, nil
}

// SummaryText writes the summary (集計) of survey sv from its tally t as of
// at, in locale l and style st, for its administrators:
//
//   - LongStyle (email): the response rate and counts, the counts of each
//     choice of the form's choice questions, and a plain-text table of the
//     departments (subtree roll-up, Tally.Subtrees): targets, answered and
//     rate, numbers first so the columns line up whatever the names, names
//     indented by depth, in the tree's order (departments deleted since
//     last, by ID), at most 100 rows;
//   - ShortStyle (push, LINE): the rate and counts, and the counts of the
//     form's first choice question, at most MaxShortLen characters;
//   - SMSStyle: the rate and counts, at most MaxSMSLen characters.
//
// Drill and test surveys are labelled as in every other message. tree may
// be nil: departments are then named by ID. Times are shown in Japan time.
func SummaryText(sv *Survey, t *Tally, tree *DepartmentTree, l Locale, st Style, at time.Time) Rendered {
	en := l == English
	title := sv.Title
	prefix := ""
	if sv.Kind == DrillSurvey || sv.Kind == TestSurvey {
		prefix = drillLabel(l)
		title = strings.TrimPrefix(strings.TrimPrefix(title, drillLabel(Japanese)), drillLabel(English))
	}
	rate := rateText(t.Answered, t.Targets)
	var subject string
	if en {
		subject = fmt.Sprintf("%s[Summary] %s: %s answered (%d of %d)", prefix, title, rate, t.Answered, t.Targets)
	} else {
		subject = fmt.Sprintf("%s【集計】%s：回答率 %s（%d人中%d人）", prefix, title, rate, t.Targets, t.Answered)
	}
	switch st {
	case ShortStyle:
		var b strings.Builder
		if en {
			fmt.Fprintf(&b, "%s[Summary] %s: %s answered (%d/%d).", prefix, title, rate, t.Answered, t.Targets)
		} else {
			fmt.Fprintf(&b, "%s【集計】%s：回答率 %s（%d/%d人）", prefix, title, rate, t.Answered, t.Targets)
		}
		if q := firstChoiceQuestion(sv.Form); q != nil {
			parts := make([]string, len(q.Choices))
			for i, c := range q.Choices {
				parts[i] = c.Label.In(l) + " " + strconv.Itoa(t.Choices[q.ID][c.Code])
			}
			if en {
				b.WriteString(" " + strings.Join(parts, ", "))
			} else {
				b.WriteString(" " + strings.Join(parts, "・"))
			}
		}
		return Rendered{Subject: subject, Text: clip(b.String(), MaxShortLen)}
	case SMSStyle:
		var text string
		if en {
			text = fmt.Sprintf("%sSummary: %s answered (%d/%d) %s", prefix, rate, t.Answered, t.Targets, title)
		} else {
			text = fmt.Sprintf("%s【集計】回答率%s(%d/%d人) %s", prefix, rate, t.Answered, t.Targets, title)
		}
		text, _ = fitSMS(text, "") // without a link it always fits
		return Rendered{Subject: subject, Text: text}
	}
	return Rendered{Subject: subject, Text: prefix + summaryBody(sv, t, tree, l, title, at)}
}

// summaryBody is the long text of a summary.
func summaryBody(sv *Survey, t *Tally, tree *DepartmentTree, l Locale, title string, at time.Time) string {
	en := l == English
	var b strings.Builder
	when := at.In(jst).Format("1/2 15:04")
	since := elapsedText(at.Sub(sv.StartedAt), l)
	rate := rateText(t.Answered, t.Targets)
	if en {
		fmt.Fprintf(&b, "Summary of the safety check \"%s\" as of %s JST, %s after it was sent.\n\n", title, when, since)
		fmt.Fprintf(&b, "Recipients %d, answered %d, not answered %d: response rate %s.\n", t.Targets, t.Answered, t.Targets-t.Answered, rate)
	} else {
		fmt.Fprintf(&b, "安否確認「%s」の集計です（%s 現在、送信から%s）。\n\n", title, when, since)
		fmt.Fprintf(&b, "対象 %d人　回答 %d人　未回答 %d人　回答率 %s\n", t.Targets, t.Answered, t.Targets-t.Answered, rate)
	}
	if sv.Form != nil {
		for _, q := range sv.Form.Questions {
			if q.Type == FreeText {
				continue
			}
			fmt.Fprintf(&b, "\n■ %s\n", q.Label.In(l))
			for _, c := range q.Choices {
				fmt.Fprintf(&b, "  %s: %d\n", c.Label.In(l), t.Choices[q.ID][c.Code])
			}
		}
	}
	rows := summaryRows(t, tree)
	if len(rows) == 0 {
		return b.String()
	}
	line := "%6d%6d%8s  %s%s\n"
	if en {
		b.WriteString("\n■ By department (with sub-departments)\n Targets Answered    Rate  Department\n")
		line = "%8d%9d%8s  %s%s\n"
	} else {
		b.WriteString("\n■ 部署別（下位部署を含む）\n  対象  回答  回答率  部署\n")
	}
	for i, r := range rows {
		if i == maxSummaryRows {
			if en {
				fmt.Fprintf(&b, "  … and %d more departments\n", len(rows)-i)
			} else {
				fmt.Fprintf(&b, "  … ほか %d 部署\n", len(rows)-i)
			}
			break
		}
		g := t.Subtrees[r.id]
		fmt.Fprintf(&b, line, g.Targets, g.Answered, rateText(g.Answered, g.Targets), strings.Repeat("  ", r.depth), r.name)
	}
	return b.String()
}

// summaryRow is one department of a summary's table.
type summaryRow struct {
	id    DepartmentID
	name  string
	depth int
}

// summaryRows lists the departments of t.Subtrees that have targets: in
// the tree's order, then those not in the tree (deleted since) by ID.
func summaryRows(t *Tally, tree *DepartmentTree) []summaryRow {
	var rows []summaryRow
	seen := map[DepartmentID]bool{}
	if tree != nil {
		for _, d := range tree.All() {
			if g := t.Subtrees[d.ID]; g != nil && g.Targets > 0 {
				rows = append(rows, summaryRow{id: d.ID, name: d.Name, depth: tree.Depth(d.ID)})
				seen[d.ID] = true
			}
		}
	}
	for _, id := range slices.SortedFunc(maps.Keys(t.Subtrees), func(a, b DepartmentID) int { return cmp.Compare(a, b) }) {
		if g := t.Subtrees[id]; !seen[id] && g.Targets > 0 {
			rows = append(rows, summaryRow{id: id, name: string(id)})
		}
	}
	return rows
}

// firstChoiceQuestion returns the form's first choice question, or nil.
func firstChoiceQuestion(f *Form) *Question {
	if f == nil {
		return nil
	}
	for i := range f.Questions {
		if f.Questions[i].Type != FreeText {
			return &f.Questions[i]
		}
	}
	return nil
}

// rateText is answered/targets as a percentage with one decimal, "-" when
// there are no targets.
func rateText(answered, targets int) string {
	if targets == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(answered)/float64(targets), 'f', 1, 64) + "%"
}

// elapsedText writes a duration in whole minutes for people: "10分",
// "1時間5分"; "10 min", "1 h 5 min".
func elapsedText(d time.Duration, l Locale) string {
	m := max(int(d/time.Minute), 0)
	h, m := m/60, m%60
	switch {
	case l == English && h > 0:
		return fmt.Sprintf("%d h %d min", h, m)
	case l == English:
		return fmt.Sprintf("%d min", m)
	case h > 0:
		return fmt.Sprintf("%d時間%d分", h, m)
	}
	return fmt.Sprintf("%d分", m)
}
