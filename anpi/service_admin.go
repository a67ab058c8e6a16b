package anpi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/anpikit/anpi/rules"
)

// This file holds the permission-checked reads the administrator pages
// (package anpi/web) need beyond Tally and ExportCSV: which surveys an
// administrator may see, the directory's views, the rules and the
// simulation of a scenario. None of them changes or records anything.

// SurveyListing is a survey as it appears in an administrator's list: the
// survey and its counters within what he may see.
type SurveyListing struct {
	Survey *Survey
	// Scope is the department whose subtree the administrator sees of the
	// survey: empty when he may see all of it, else one of his scoped
	// grants' departments (pass it as ExportFilter.Department to Tally and
	// ExportCSV, which check the same).
	Scope DepartmentID
	// Targets and Answered count the recipients within Scope.
	Targets, Answered int
}

// ResponseRate is Answered / Targets, 0 when there are no targets.
func (l *SurveyListing) ResponseRate() float64 {
	if l.Targets == 0 {
		return 0
	}
	return float64(l.Answered) / float64(l.Targets)
}

// Surveys lists the surveys that q selects (nil for all, newest first)
// which actor may see, with their counters. Drafts are not among them
// (see Drafts).
//
// Permission: ViewTallies, as for Tally. An administrator who may view a
// survey's whole scope sees it whole (Scope empty). One whose grants are
// scoped to departments sees a survey only when at least one of its
// recipients is within one of those departments' subtrees, and then only
// that subtree (Scope set to the first such department in grant order):
// a survey sent to another department does not appear at all.
//
// Errors: NotFound for an unknown actor; PermissionDenied when actor holds
// no ViewTallies right anywhere.
func (s *Service) Surveys(ctx context.Context, actor UserID, q *SurveyQuery) ([]*SurveyListing, error) {
	var out []*SurveyListing
	err := s.st.ReadTx(ctx, func(tx Tx) error {
		out = nil
		az, who, err := s.authorizer(ctx, tx, actor)
		if err != nil {
			return err
		}
		if err := mayViewSome(az, who, ViewTallies); err != nil {
			return err
		}
		svs, err := tx.ListSurveys(ctx, q)
		if err != nil {
			return err
		}
		for _, sv := range svs {
			l, err := listing(ctx, tx, az, who, sv)
			if err != nil {
				return err
			}
			if l != nil {
				out = append(out, l)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: list surveys: %w", err)
	}
	return out, nil
}

// SurveyFor returns one survey as actor may see it (see Surveys). A survey
// actor may not see is NotFound, the same as one that does not exist, so
// the answer does not tell a scoped administrator which surveys other
// departments have.
func (s *Service) SurveyFor(ctx context.Context, actor UserID, survey SurveyID) (*SurveyListing, error) {
	var out *SurveyListing
	err := s.st.ReadTx(ctx, func(tx Tx) error {
		az, who, err := s.authorizer(ctx, tx, actor)
		if err != nil {
			return err
		}
		if err := mayViewSome(az, who, ViewTallies); err != nil {
			return err
		}
		sv, err := tx.GetSurvey(ctx, survey)
		if err != nil {
			return err
		}
		if out, err = listing(ctx, tx, az, who, sv); err != nil {
			return err
		}
		if out == nil {
			return Errorf(NotFound, "anpi: survey %s not found", survey)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: survey %s: %w", survey, err)
	}
	return out, nil
}

// listing returns sv as who sees it, nil when he sees none of it.
func listing(ctx context.Context, tx Tx, az *Authorizer, who Actor, sv *Survey) (*SurveyListing, error) {
	if sv.Status == Draft {
		return nil, nil // asks nobody yet: listed by Drafts, to those who may send it
	}
	t, err := tx.Tally(ctx, sv.ID)
	if err != nil {
		return nil, err
	}
	if az.Authorize(who, ViewTallies, tallyScope(sv, nil)) == nil {
		return &SurveyListing{Survey: sv, Targets: t.Targets, Answered: t.Answered}, nil
	}
	for _, g := range who.Grants {
		if g.Department == "" || az.Authorize(who, ViewTallies, TargetDepartments(g.Department)) != nil {
			continue
		}
		if st := t.Subtrees[g.Department]; st != nil && st.Targets > 0 {
			return &SurveyListing{Survey: sv, Scope: g.Department, Targets: st.Targets, Answered: st.Answered}, nil
		}
	}
	return nil, nil
}

// Authorize returns nil when actor may perform action on target, and a
// PermissionDenied error saying why not otherwise: the Authorizer over the
// store's department tree, settings and actor's grants. Callers use it to
// check an action that the Service method behind it does not (for example
// a JMA document uploaded by hand, which HandleDocument takes from anyone:
// a server requires StartSend over the whole company first). NotFound for
// an unknown actor.
func (s *Service) Authorize(ctx context.Context, actor UserID, action Action, target Target) error {
	az, who, err := s.authorizer(ctx, s.st, actor)
	if err != nil {
		return fmt.Errorf("anpi: authorize %s: %w", actor, err)
	}
	return az.Authorize(who, action, target)
}

// AdminUsers returns the administrator's view (AdminUserView: the
// directory record and each contact's status, never an address) of every
// active user within actor's ViewContactStatus scope, by user ID.
// Permissions as for BrokenContacts.
func (s *Service) AdminUsers(ctx context.Context, actor UserID) ([]*AdminUserView, error) {
	return s.contactList(ctx, actor, "users", func(*AdminUserView) bool { return true })
}

// Departments returns the department tree for actor, who must hold some
// administrator right (ViewTallies, Manager and above) over the company or
// a department: the pages name departments and offer them as targets.
func (s *Service) Departments(ctx context.Context, actor UserID) (*DepartmentTree, error) {
	az, who, err := s.authorizer(ctx, s.st, actor)
	if err != nil {
		return nil, fmt.Errorf("anpi: departments: %w", err)
	}
	if err := mayViewSome(az, who, ViewTallies); err != nil {
		return nil, fmt.Errorf("anpi: departments: %w", err)
	}
	return az.Tree, nil
}

// Rules returns the stored auto-send rules, by ID, for actor, who must hold
// some administrator right (ViewTallies) over the company or a department:
// the rules are the company's, and managers are told what would send.
func (s *Service) Rules(ctx context.Context, actor UserID) ([]*RuleRecord, error) {
	az, who, err := s.authorizer(ctx, s.st, actor)
	if err != nil {
		return nil, fmt.Errorf("anpi: rules: %w", err)
	}
	if err := mayViewSome(az, who, ViewTallies); err != nil {
		return nil, fmt.Errorf("anpi: rules: %w", err)
	}
	rs, err := s.st.ListRules(ctx)
	if err != nil {
		return nil, fmt.Errorf("anpi: rules: %w", err)
	}
	return rs, nil
}

// Simulation is what the stored rules would do if a scenario happened, as
// an administrator may see it.
type Simulation struct {
	// Decisions are the rules' decisions, one per rule that looked at the
	// scenario, skips included, without their recipient lists.
	Decisions []SimulatedDecision `json:"decisions"`
	// Users are the users within actor's scope who would be asked (by a
	// send, a drill or a held send), by ID.
	Users []*User `json:"users"`
	// Total is how many users would be asked, in scope or not; OutOfScope
	// how many of them actor may not see.
	Total      int `json:"total"`
	OutOfScope int `json:"outOfScope"`
	// Skipped names the rules left out because their spec does not decode.
	Skipped []string `json:"skipped,omitempty"`
}

// SimulatedDecision is one rule's decision in a Simulation.
type SimulatedDecision struct {
	Rule       string       `json:"rule"`
	Action     rules.Action `json:"action"`
	Reason     string       `json:"reason"`
	Drill      bool         `json:"drill,omitempty"`
	AdminsOnly bool         `json:"adminsOnly,omitempty"`
	Recipients int          `json:"recipients"`
}

// Simulate answers who the stored rules would ask if sc happened
// (rules.Simulate over an index of today's active users and their
// regions). It is pure: nothing is recorded, nobody is messaged, and the
// Service's own event memory is untouched.
//
// Permission: some ViewTallies right (Manager and above); users outside
// actor's ViewContactStatus scope are counted (OutOfScope) but not named.
// Errors: NotFound for an unknown actor; PermissionDenied.
func (s *Service) Simulate(ctx context.Context, actor UserID, sc rules.Scenario) (*Simulation, error) {
	az, who, err := s.authorizer(ctx, s.st, actor)
	if err != nil {
		return nil, fmt.Errorf("anpi: simulate: %w", err)
	}
	if err := mayViewSome(az, who, ViewTallies); err != nil {
		return nil, fmt.Errorf("anpi: simulate: %w", err)
	}
	recs, err := s.st.ListRules(ctx)
	if err != nil {
		return nil, fmt.Errorf("anpi: simulate: %w", err)
	}
	out := &Simulation{Decisions: []SimulatedDecision{}, Users: []*User{}}
	var rs []rules.Rule
	for _, rec := range recs {
		var r rules.Rule
		if err := json.Unmarshal(rec.Spec, &r); err != nil {
			out.Skipped = append(out.Skipped, rec.ID)
			continue
		}
		r.ID = rec.ID
		r.Disabled = r.Disabled || !rec.Enabled
		rs = append(rs, r)
	}
	users, err := s.st.ListUsers(ctx, &UserQuery{Status: Active})
	if err != nil {
		return nil, fmt.Errorf("anpi: simulate: %w", err)
	}
	ix := rules.NewIndex()
	byID := make(map[string]*User, len(users))
	groups := map[string][]string{}
	for _, u := range users {
		regs := make([]string, len(u.Regions))
		for i, r := range u.Regions {
			regs[i] = r.String()
		}
		if err := ix.Add(string(u.ID), regs...); err != nil {
			continue // as auto-send leaves him out (syncDirectory)
		}
		byID[string(u.ID)] = u
		for _, g := range u.Groups {
			groups[g] = append(groups[g], string(u.ID))
		}
	}
	if sc.At.IsZero() {
		sc.At = s.now()
	}
	asked := map[string]bool{}
	for _, d := range rules.Simulate(sc, rs, ix) {
		ids := d.Recipients()
		for _, g := range d.Groups {
			ids = append(ids, groups[g]...)
		}
		out.Decisions = append(out.Decisions, SimulatedDecision{Rule: d.Rule, Action: d.Action, Reason: d.Reason, Drill: d.Drill,
			AdminsOnly: d.AdminsOnly, Recipients: len(ids)})
		if !d.Sends() && d.Action != rules.ActionHold {
			continue
		}
		for _, id := range ids {
			asked[id] = true
		}
	}
	out.Total = len(asked)
	for id := range asked {
		u := byID[id]
		if u == nil || az.Authorize(who, ViewContactStatus, TargetUser(u)) != nil {
			out.OutOfScope++
			continue
		}
		out.Users = append(out.Users, u)
	}
	slices.SortFunc(out.Users, func(a, b *User) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Person is a recipient as the tally page lists him: his name and
// departments, nothing else (no contact of any kind).
type Person struct {
	UserID      UserID         `json:"userId"`
	Name        string         `json:"name"` // empty for a user deleted since
	Departments []DepartmentID `json:"departments,omitempty"`
}

// Unanswered lists the recipients of survey within filter (its Department
// and Region; NotAnswered is implied, the answer fields are ignored) who
// have not answered, by user ID. Permission and errors as for Tally
// (ViewTallies over the filter's department, or the survey's scope).
// Nothing is recorded: it is a view of the tally, not an export.
func (s *Service) Unanswered(ctx context.Context, actor UserID, survey SurveyID, filter *ExportFilter) ([]Person, error) {
	f := ExportFilter{NotAnswered: true}
	if filter != nil {
		f.Department, f.Region = filter.Department, filter.Region
	}
	out, err := s.people(ctx, actor, survey, &f)
	if err != nil {
		return nil, fmt.Errorf("anpi: unanswered of survey %s: %w", survey, err)
	}
	return out, nil
}

// Selected lists the recipients of survey that filter selects (nil for
// all), by user ID: for instance those of a department who chose an
// answer, to send them a follow-up within an administrator's scope.
// Permission and errors as for Tally; nothing is recorded.
func (s *Service) Selected(ctx context.Context, actor UserID, survey SurveyID, filter *ExportFilter) ([]Person, error) {
	out, err := s.people(ctx, actor, survey, filter)
	if err != nil {
		return nil, fmt.Errorf("anpi: recipients of survey %s: %w", survey, err)
	}
	return out, nil
}

// people returns the recipients filter selects, with their names.
func (s *Service) people(ctx context.Context, actor UserID, survey SurveyID, f *ExportFilter) ([]Person, error) {
	out := []Person{}
	err := s.st.ReadTx(ctx, func(tx Tx) error {
		out = out[:0]
		// tallyInput checks the permission and the filter, and selects
		// the recipients of a filter; without one it reads none.
		sv, recs, _, err := s.tallyInput(ctx, tx, actor, survey, f, ViewTallies)
		if err != nil {
			return err
		}
		if f.IsEmpty() {
			if recs, err = tx.Recipients(ctx, sv.ID); err != nil {
				return err
			}
		}
		ids := make([]UserID, len(recs))
		for i, r := range recs {
			ids[i] = r.UserID
		}
		users, err := tx.GetUsers(ctx, ids)
		if err != nil {
			return err
		}
		for _, r := range recs {
			v := Person{UserID: r.UserID, Departments: slices.Clone(r.Departments)}
			if u := users[r.UserID]; u != nil {
				v.Name = u.Name
			}
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Person) int { return cmp.Compare(a.UserID, b.UserID) })
	return out, nil
}

// AuditUpload appends to the audit log that actor handed a JMA document
// to the Service by hand (an administrator's upload, which HandleDocument,
// serving the live feed, records with no actor): its size, the report and
// the surveys it started or extended, or why it was not applied (cause,
// the error of HandleDocument when out is nil). The entry is jma.upload,
// its target the report (type@time). Errors: NotFound for an unknown actor;
// those of the store.
func (s *Service) AuditUpload(ctx context.Context, actor UserID, size int, out *Outcome, cause error) error {
	e := &AuditEntry{At: s.now(), Actor: actor, Action: "jma.upload", TargetKind: "report"}
	detail := fmt.Sprintf("%d bytes", size)
	if out != nil && out.Report != nil {
		e.TargetID = reportID(out.Report)
		detail += fmt.Sprintf("; %s %s; %s", out.Report.Type, out.Report.Control.Status, out.Change)
	}
	if out != nil {
		var svs []string
		for _, ef := range out.Effects {
			if ef.Survey != "" && !slices.Contains(svs, string(ef.Survey)) {
				svs = append(svs, string(ef.Survey))
			}
		}
		if len(svs) > 0 {
			detail += "; surveys " + strings.Join(svs, " ")
		}
	}
	if cause != nil {
		detail += "; not applied: " + Code(cause).String()
		if out != nil {
			detail = strings.Replace(detail, "not applied", "applied, a step failed", 1)
		}
	}
	e.Detail = detail
	err := s.st.InTx(ctx, func(tx Tx) error {
		if _, err := tx.GetUser(ctx, actor); err != nil {
			return err
		}
		_, err := tx.AppendAudit(ctx, e)
		return err
	})
	if err != nil {
		return fmt.Errorf("anpi: audit upload by %s: %w", actor, err)
	}
	return nil
}
