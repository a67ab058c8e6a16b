package anpi

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// SendRequest is a manual send (手動一斉送信) or a test send (テスト配信) as an
// administrator composes it.
type SendRequest struct {
	// ID names the survey; empty means a fresh random ID. A caller that
	// may retry the request sets it, and a retry is AlreadyExists.
	ID    SurveyID
	Title string // the survey's title, also the {event} of templates
	// FormID names a stored form, frozen onto the survey; empty means the
	// Service's form (Options.Form).
	FormID FormID
	// TemplateID names a stored template; empty means DefaultTemplate.
	// Legacy, when set, is the message in the legacy layout and wins.
	TemplateID TemplateID
	Legacy     *LegacyMessage
	// Targeting selects the recipients among the active users.
	Targeting Targeting
	Deadline  time.Time      // when answers stop; answer links expire with it
	Reminders ReminderPolicy // reminders to non-responders (再通知), sent by Service.FollowUp
	// Admins receive the summary.
	Admins []UserID
	// TestTo, when set, makes this a test send (TestSurvey) to these users
	// only, whatever Targeting selects: every message is labelled as a test.
	TestTo []UserID
}

// Started is what StartSurvey did.
type Started struct {
	Survey     *Survey // the survey as stored
	Recipients int     // users asked
	Queued     int     // deliveries enqueued
	NoContact  int     // recipients with no reachable contact (SkippedNoContact)

	handed []*Delivery // leased to the Handoff, handed once committed
}

// StartSurvey starts a manual send for actor, in one transaction: the
// permission check (Authorizer, action StartSend: the actor's grants must
// cover every recipient, and every targeted department), the survey with a
// snapshot of its form, its recipients (Targeting.Match over the active
// users of the directory, or TestTo for a test send) and one delivery per
// recipient on the first channel he can be reached on, and an audit entry.
//
// Errors: PermissionDenied; InvalidArgument for an empty targeting or a bad
// field (named); NotFound for an unknown actor, form or template;
// FailedPrecondition when the targeting selects nobody.
func (s *Service) StartSurvey(ctx context.Context, actor UserID, req *SendRequest) (*Started, error) {
	if req == nil {
		return nil, Errorf(InvalidArgument, "anpi: start survey: nil request")
	}
	test := len(req.TestTo) > 0
	if !test && req.Targeting.IsEmpty() {
		return nil, Errorf(InvalidArgument, "anpi: start survey: the targeting selects nobody: name departments, groups, titles, regions, users or everyone")
	}
	if err := req.Targeting.Validate(); err != nil {
		return nil, err
	}
	now := s.now()
	prefix := "manual-"
	if test {
		prefix = "test-"
	}
	id := req.ID
	if id == "" {
		h, err := s.randomHex(12)
		if err != nil {
			return nil, err
		}
		id = SurveyID(prefix + h)
	}
	var out *Started
	err := s.st.InTx(ctx, func(tx Tx) error {
		form, err := s.requestForm(ctx, tx, req)
		if err != nil {
			return err
		}
		az, who, err := s.authorizer(ctx, tx, actor)
		if err != nil {
			return err
		}
		out, err = s.start(ctx, tx, az, who, req, id, form, nil, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: start survey %s: %w", id, err)
	}
	s.handOver(out)
	return out, nil
}

// handOver tells the dispatcher of a committed send: its deliveries leased
// to the Handoff, and OnEnqueue.
func (s *Service) handOver(out *Started) {
	if len(out.handed) > 0 {
		s.handoff.Hand(out.handed)
	}
	s.enqueued(out.Queued)
}

// requestForm returns a snapshot of the form a request names, or of the
// Service's form.
func (s *Service) requestForm(ctx context.Context, tx Tx, req *SendRequest) (*Form, error) {
	if req.FormID == "" {
		return s.form.Clone(), nil
	}
	return tx.GetForm(ctx, req.FormID)
}

// start carries out a send by who (read with az by authorizer) in tx: the
// permission checks, the survey (a test send when req.TestTo is set) with
// form, its recipients and one delivery each, and the audit entry. When
// draft is set, the survey is that draft, sent: it keeps its ID and
// creation.
func (s *Service) start(ctx context.Context, tx Tx, az *Authorizer, who Actor, req *SendRequest, id SurveyID, form *Form, draft *Survey, now time.Time) (*Started, error) {
	test := len(req.TestTo) > 0
	kind := ManualSurvey
	if test {
		kind = TestSurvey
	}
	actor := who.User.ID
	out := &Started{}
	if req.TemplateID != "" && req.Legacy == nil {
		if _, err := tx.GetTemplate(ctx, req.TemplateID); err != nil {
			return nil, err
		}
	}
	if err := authorizeTargets(az, who, &req.Targeting); err != nil {
		return nil, err
	}
	users, err := s.targets(ctx, tx, az.Tree, req)
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, Errorf(FailedPrecondition, "anpi: start survey: no active user matches the targeting")
	}
	for _, u := range users {
		if err := az.Authorize(who, StartSend, TargetUser(u)); err != nil {
			return nil, err
		}
	}
	sv := &Survey{
		ID: id, Kind: kind, Title: req.Title, Form: form, TemplateID: req.TemplateID, Legacy: req.Legacy,
		Targeting: req.Targeting, Deadline: req.Deadline, Reminders: req.Reminders, Status: Open,
		Admins: slices.Clone(req.Admins), CreatedBy: actor, CreatedAt: now, StartedAt: now,
	}
	if test {
		sv.Targeting = Targeting{Users: slices.Clone(req.TestTo)}
	}
	if draft != nil {
		sv.CreatedBy, sv.CreatedAt = draft.CreatedBy, draft.CreatedAt
		err = tx.UpdateSurvey(ctx, sv)
	} else {
		err = tx.CreateSurvey(ctx, sv)
	}
	if err != nil {
		return nil, err
	}
	rs := make([]Recipient, len(users))
	for i, u := range users {
		rs[i] = NewRecipient(sv.ID, u, az.Tree)
	}
	if out.Recipients, err = tx.AddRecipients(ctx, sv.ID, rs); err != nil {
		return nil, err
	}
	ds := make([]*Delivery, 0, len(users))
	for _, u := range users {
		contacts, err := tx.Contacts(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		d := s.firstDelivery(sv.ID, u, contacts, now)
		if d.State == SkippedNoContact {
			out.NoContact++
		} else {
			out.Queued++
			if s.leaseToHandoff(d, now) {
				out.handed = append(out.handed, d)
			}
		}
		ds = append(ds, d)
	}
	if _, err := tx.EnqueueDeliveries(ctx, ds); err != nil {
		return nil, err
	}
	action, detail := "survey.start", ""
	if test {
		action = "survey.test_send"
	}
	if draft != nil {
		detail = fmt.Sprintf(" (draft %s)", draft.ID)
	}
	if _, err := tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: actor, Action: action, TargetKind: "survey", TargetID: string(sv.ID),
		Detail: fmt.Sprintf("%d recipients, %d deliveries queued, %d without a contact%s", out.Recipients, out.Queued, out.NoContact, detail)}); err != nil {
		return nil, err
	}
	out.Survey = sv
	return out, nil
}

// authorizer returns the Authorizer and the Actor for user id, read in tx.
func (s *Service) authorizer(ctx context.Context, tx Tx, id UserID) (*Authorizer, Actor, error) {
	u, err := tx.GetUser(ctx, id)
	if err != nil {
		return nil, Actor{}, err
	}
	grants, err := tx.RoleGrants(ctx, id)
	if err != nil {
		return nil, Actor{}, err
	}
	tree, err := tx.Departments(ctx)
	if err != nil {
		return nil, Actor{}, err
	}
	set, err := tx.Settings(ctx)
	if err != nil {
		return nil, Actor{}, err
	}
	return &Authorizer{Tree: tree, Settings: set}, Actor{User: u, Grants: grants}, nil
}

// targets returns the active users a request reaches, by ID.
func (s *Service) targets(ctx context.Context, tx Tx, tree *DepartmentTree, req *SendRequest) ([]*User, error) {
	if len(req.TestTo) > 0 {
		var out []*User
		for _, id := range req.TestTo {
			u, err := tx.GetUser(ctx, id)
			if err != nil {
				return nil, err
			}
			if u.Status != Active {
				return nil, Errorf(FailedPrecondition, "anpi: test send: user %s is suspended", id)
			}
			if !slices.ContainsFunc(out, func(x *User) bool { return x.ID == u.ID }) {
				out = append(out, u)
			}
		}
		return out, nil
	}
	for _, f := range req.Targeting.Answered {
		if _, err := tx.GetSurvey(ctx, f.SurveyID); err != nil {
			return nil, err
		}
	}
	for _, id := range req.Targeting.NotAnswered {
		if _, err := tx.GetSurvey(ctx, id); err != nil {
			return nil, err
		}
	}
	users, err := tx.ListUsers(ctx, &UserQuery{Status: Active})
	if err != nil {
		return nil, err
	}
	var lookupErr error
	answer := func(sv SurveyID, u UserID) *Response {
		r, err := tx.GetResponse(ctx, sv, u)
		if err != nil {
			if Code(err) != NotFound && lookupErr == nil {
				lookupErr = err
			}
			return nil
		}
		return r
	}
	var out []*User
	for _, u := range users {
		if req.Targeting.Match(u, tree, answer) {
			out = append(out, u)
		}
	}
	return out, lookupErr
}
