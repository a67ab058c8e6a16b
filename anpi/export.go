package anpi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/anpikit/anpi/internal/csvcell"
)

// ExportFilter selects the recipients of a survey for an export
// (Service.ExportCSV) or a filtered tally (Service.Tally). A nil filter
// selects everyone; zero fields do not filter; a recipient must match every
// field that is set.
type ExportFilter struct {
	// Department keeps the recipients in this department or below it, as
	// they were when asked (Recipient.Scope): the people counted in
	// Tally.Subtrees[Department]. A department deleted since still filters.
	Department DepartmentID `json:"department,omitempty"`
	// Region keeps the recipients registered in this region when asked; the
	// zero Region does not filter.
	Region Region `json:"region,omitzero"`
	// Question and Choices keep the recipients whose current answer to the
	// choice question Question chose any of Choices (e.g. everyone who
	// cannot come to work). Set both or neither.
	Question string   `json:"question,omitempty"`
	Choices  []string `json:"choices,omitempty"`
	// NotAnswered keeps the recipients who have not answered. It excludes
	// Question.
	NotAnswered bool `json:"notAnswered,omitempty"`
}

// IsEmpty reports whether f (which may be nil) selects everyone.
func (f *ExportFilter) IsEmpty() bool {
	return f == nil || (f.Department == "" && f.Region == Region{} && f.Question == "" && len(f.Choices) == 0 && !f.NotAnswered)
}

// Validate checks f against the survey's form: a known region, a choice
// question of the form with known choices, and not both NotAnswered and a
// question. The error names the field.
func (f *ExportFilter) Validate(form *Form) error {
	if f.IsEmpty() {
		return nil
	}
	if f.Region != (Region{}) {
		if err := f.Region.Validate(); err != nil {
			return Errorf(InvalidArgument, "anpi: filter: %w", err)
		}
	}
	if (f.Question == "") != (len(f.Choices) == 0) {
		return Errorf(InvalidArgument, "anpi: filter: question and choices go together: set both or neither")
	}
	if f.Question == "" {
		return nil
	}
	if f.NotAnswered {
		return Errorf(InvalidArgument, "anpi: filter: notAnswered excludes question %q: nobody who has not answered chose anything", f.Question)
	}
	var q *Question
	if form != nil {
		q = form.Question(f.Question)
	}
	if q == nil {
		return Errorf(InvalidArgument, "anpi: filter: question %q is not in the survey's form", f.Question)
	}
	if q.Type == FreeText {
		return Errorf(InvalidArgument, "anpi: filter: question %q is free text: it has no choices to filter by", f.Question)
	}
	for _, c := range f.Choices {
		if !slices.ContainsFunc(q.Choices, func(qc Choice) bool { return qc.Code == c }) {
			return Errorf(InvalidArgument, "anpi: filter: question %q has no choice %q", f.Question, c)
		}
	}
	return nil
}

// Match reports whether recipient r, whose current answer is resp (nil
// when he has not answered), passes the filter.
func (f *ExportFilter) Match(r Recipient, resp *Response) bool {
	if f.IsEmpty() {
		return true
	}
	if f.Department != "" && !slices.Contains(r.Scope, f.Department) && !slices.Contains(r.Departments, f.Department) {
		return false
	}
	if f.Region != (Region{}) && !slices.Contains(r.Regions, f.Region) {
		return false
	}
	if f.NotAnswered && resp != nil {
		return false
	}
	if f.Question != "" && (resp == nil || !resp.Chose(f.Question, f.Choices...)) {
		return false
	}
	return true
}

// String describes the filter for people and the audit log, e.g.
// "department kanazawa (with its subtree), question work chose cannot".
func (f *ExportFilter) String() string {
	if f.IsEmpty() {
		return "everyone"
	}
	var parts []string
	if f.Department != "" {
		parts = append(parts, "department "+string(f.Department)+" (with its subtree)")
	}
	if f.Region != (Region{}) {
		parts = append(parts, "region "+f.Region.String())
	}
	if f.Question != "" {
		parts = append(parts, "question "+f.Question+" chose "+strings.Join(f.Choices, "|"))
	}
	if f.NotAnswered {
		parts = append(parts, "not answered")
	}
	return strings.Join(parts, ", ")
}

// TallyView is a survey's tally as an administrator sees it.
type TallyView struct {
	Survey *Survey
	// Tally counts the recipients the filter selected: the store's counters
	// without a filter, a recount (ComputeTally) with one.
	Tally *Tally
	// Filtered reports whether a filter was applied.
	Filtered bool
	// AnswerTimes are the quartiles of the first-answer times of the
	// selected recipients, counted from the survey's start.
	AnswerTimes Quartiles
}

// tallyScope is what a tally or export of sv with filter f is about, for
// the permission check: the filter's department when it names one; the
// survey's departments when it targeted departments only (a department
// send); otherwise the whole company.
func tallyScope(sv *Survey, f *ExportFilter) Target {
	if f != nil && f.Department != "" {
		return TargetDepartments(f.Department)
	}
	t := sv.Targeting
	if !t.Everyone && len(t.Departments) > 0 && len(t.Groups) == 0 && len(t.Titles) == 0 && len(t.Regions) == 0 &&
		len(t.Users) == 0 && len(t.Answered) == 0 && len(t.NotAnswered) == 0 {
		return TargetDepartments(t.DepartmentIDs()...)
	}
	return TargetCompany()
}

// Tally returns the tally (集計) of a survey for actor, filtered by filter
// (nil for everyone), with the answer-time quartiles.
//
// Permission: ViewTallies (Manager and above) over the survey's scope: the
// filter's Department when set, so a department-scoped manager filters by
// his department; otherwise the departments of a survey sent to
// departments only, or else the whole company.
//
// Without a filter the store's counters are read (no recount); with one the
// tally is recounted over the selected recipients and their current
// answers. Errors: NotFound for an unknown actor or survey;
// PermissionDenied; InvalidArgument for a filter that does not fit the
// survey's form (named).
func (s *Service) Tally(ctx context.Context, actor UserID, survey SurveyID, filter *ExportFilter) (*TallyView, error) {
	var out *TallyView
	err := s.st.ReadTx(ctx, func(tx Tx) error {
		sv, recs, resps, err := s.tallyInput(ctx, tx, actor, survey, filter, ViewTallies)
		if err != nil {
			return err
		}
		out = &TallyView{Survey: sv, Filtered: !filter.IsEmpty()}
		if out.Filtered {
			out.Tally = ComputeTally(sv.ID, sv.StartedAt, recs, resps)
		} else if out.Tally, err = tx.Tally(ctx, sv.ID); err != nil {
			return err
		}
		out.AnswerTimes = out.Tally.AnswerTimes()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: tally of survey %s: %w", survey, err)
	}
	return out, nil
}

// tallyInput checks that actor may perform action on the survey's scope and
// the filter, and returns the survey, and, when the filter is not empty
// (or action is ExportData), the selected recipients and all current
// responses.
func (s *Service) tallyInput(ctx context.Context, tx Tx, actor UserID, survey SurveyID, filter *ExportFilter, action Action) (*Survey, []Recipient, []*Response, error) {
	az, who, err := s.authorizer(ctx, tx, actor)
	if err != nil {
		return nil, nil, nil, err
	}
	sv, err := tx.GetSurvey(ctx, survey)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := az.Authorize(who, action, tallyScope(sv, filter)); err != nil {
		return nil, nil, nil, err
	}
	if err := filter.Validate(sv.Form); err != nil {
		return nil, nil, nil, err
	}
	if filter.IsEmpty() && action != ExportData {
		return sv, nil, nil, nil
	}
	all, err := tx.Recipients(ctx, sv.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	resps, err := tx.Responses(ctx, sv.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	byUser := make(map[UserID]*Response, len(resps))
	for _, r := range resps {
		byUser[r.UserID] = r
	}
	recs := all[:0:0]
	for _, r := range all {
		if filter.Match(r, byUser[r.UserID]) {
			recs = append(recs, r)
		}
	}
	return sv, recs, resps, nil
}

// The English headers of ExportCSV's fixed columns; Japanese ones follow.
var (
	exportHeadersEn = [...]string{"employee_code", "user_id", "name", "departments", "regions", "answered", "answered_at", "answered_via", "reached_on"}
	exportHeadersJa = [...]string{"社員番号", "利用者ID", "氏名", "部署", "地域", "回答", "回答日時", "回答経路", "連絡手段"}
)

// ExportCSV writes the recipients of a survey that filter selects (nil for
// everyone) to w as CSV, one row per recipient, ordered by employee code:
//
//	employee_code, user_id, name, departments (names, "|"-separated),
//	regions ("quake:350", space-separated), answered, then one column per
//	question of the survey's form (the chosen choices' labels, "|"-separated,
//	or the text), answered_at (the current answer's time in Japan time,
//	2006-01-02 15:04:05), answered_via (web, line, sms, voice, admin),
//	reached_on (the channel the last message that got through went on).
//
// Users deleted since come last (their employee code is gone).
//
// Headers and labels are in the actor's locale (Japanese headers for a
// Japanese reader). Names and departments are today's directory's; a user
// deleted since is marked so. The file is UTF-8 with a byte order mark, so
// Excel in Japan opens it as UTF-8, and every cell that a spreadsheet could
// take for a formula (starting with =, +, -, @, a tab or a CR) is prefixed
// with a single quote.
//
// Permission: ExportData (Manager and above) over the survey's scope, as
// for Tally. The export is audited (survey.export: who, which survey, the
// filter and the number of rows) in the transaction that reads the data:
// an export the audit log cannot record does not happen. Nothing is
// written to w unless everything succeeded up to the write itself.
func (s *Service) ExportCSV(ctx context.Context, actor UserID, survey SurveyID, filter *ExportFilter, w io.Writer) error {
	if w == nil {
		return Errorf(InvalidArgument, "anpi: export survey %s: nil writer", survey)
	}
	now := s.now()
	var buf bytes.Buffer
	err := s.st.InTx(ctx, func(tx Tx) error {
		buf.Reset()
		sv, recs, resps, err := s.tallyInput(ctx, tx, actor, survey, filter, ExportData)
		if err != nil {
			return err
		}
		reader, err := tx.GetUser(ctx, actor)
		if err != nil {
			return err
		}
		rows, err := s.exportRows(ctx, tx, sv, recs, resps, reader.Locale)
		if err != nil {
			return err
		}
		buf.WriteString("\ufeff")
		cw := csv.NewWriter(&buf)
		for _, row := range rows {
			for i, v := range row {
				row[i] = csvcell.Escape(v)
			}
			if err := cw.Write(row); err != nil {
				return Errorf(Internal, "write csv: %w", err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return Errorf(Internal, "write csv: %w", err)
		}
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: actor, Action: "survey.export", TargetKind: "survey", TargetID: string(sv.ID),
			Detail: fmt.Sprintf("csv: %d rows; filter: %s", len(recs), filter.String())})
		return err
	})
	if err != nil {
		return fmt.Errorf("anpi: export survey %s: %w", survey, err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return Errorf(Unavailable, "anpi: export survey %s: write: %w", survey, err)
	}
	return nil
}

// exportRows returns the header and the rows of an export.
func (s *Service) exportRows(ctx context.Context, tx Tx, sv *Survey, recs []Recipient, resps []*Response, l Locale) ([][]string, error) {
	users, err := tx.ListUsers(ctx, nil)
	if err != nil {
		return nil, err
	}
	byID := make(map[UserID]*User, len(users))
	for _, u := range users {
		byID[u.ID] = u
	}
	tree, err := tx.Departments(ctx)
	if err != nil {
		return nil, err
	}
	ds, err := tx.Deliveries(ctx, sv.ID)
	if err != nil {
		return nil, err
	}
	reached := map[UserID]*Delivery{}
	for _, d := range ds {
		if d.Round < 0 || (d.State != Sent && d.State != Delivered) {
			continue
		}
		if r := reached[d.UserID]; r == nil || d.SentAt.After(r.SentAt) {
			reached[d.UserID] = d
		}
	}
	answers := make(map[UserID]*Response, len(resps))
	for _, r := range resps {
		answers[r.UserID] = r
	}
	var questions []Question
	if sv.Form != nil {
		questions = sv.Form.Questions
	}
	fixed := exportHeadersJa[:]
	yes, no, deleted := "回答済", "未回答", "（削除済み）"
	if l == English {
		fixed = exportHeadersEn[:]
		yes, no, deleted = "yes", "no", "(deleted)"
	}
	header := slices.Clone(fixed[:6])
	for _, q := range questions {
		header = append(header, q.Label.In(l))
	}
	header = append(header, fixed[6:]...)

	type line struct {
		code string
		id   UserID
		row  []string
	}
	lines := make([]line, 0, len(recs))
	for _, r := range recs {
		row := make([]string, 0, len(header))
		code, name := "", deleted
		if u := byID[r.UserID]; u != nil {
			code, name = u.EmployeeCode, u.Name
		}
		depts := make([]string, len(r.Departments))
		for i, d := range r.Departments {
			depts[i] = string(d)
			if dep := tree.Get(d); dep != nil {
				depts[i] = dep.Name
			}
		}
		regions := make([]string, len(r.Regions))
		for i, g := range r.Regions {
			regions[i] = g.String()
		}
		resp := answers[r.UserID]
		answered := no
		if resp != nil {
			answered = yes
		}
		row = append(row, code, string(r.UserID), name, strings.Join(depts, "|"), strings.Join(regions, " "), answered)
		for _, q := range questions {
			row = append(row, answerText(q, resp, l))
		}
		at, via, on := "", "", ""
		if resp != nil {
			at, via = resp.At.In(jst).Format("2006-01-02 15:04:05"), string(resp.Channel)
		}
		if d := reached[r.UserID]; d != nil {
			on = string(d.Channel)
		}
		row = append(row, at, via, on)
		lines = append(lines, line{code: code, id: r.UserID, row: row})
	}
	deletedLast := func(code string) int {
		if code == "" {
			return 1
		}
		return 0
	}
	slices.SortFunc(lines, func(a, b line) int {
		return cmp.Or(cmp.Compare(deletedLast(a.code), deletedLast(b.code)), cmp.Compare(a.code, b.code), cmp.Compare(a.id, b.id))
	})
	out := make([][]string, 0, len(lines)+1)
	out = append(out, header)
	for _, ln := range lines {
		out = append(out, ln.row)
	}
	return out, nil
}

// answerText is the cell of question q in resp (nil when unanswered): the
// labels of the chosen choices in locale l, or the text.
func answerText(q Question, resp *Response, l Locale) string {
	if resp == nil {
		return ""
	}
	for _, a := range resp.Answers {
		if a.QuestionID != q.ID {
			continue
		}
		if q.Type == FreeText {
			return a.Text
		}
		labels := make([]string, len(a.Choices))
		for i, c := range a.Choices {
			labels[i] = c
			for _, qc := range q.Choices {
				if qc.Code == c {
					labels[i] = qc.Label.In(l)
				}
			}
		}
		return strings.Join(labels, "|")
	}
	return ""
}
