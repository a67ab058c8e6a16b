package anpi

import (
	"context"
	"fmt"
	"slices"
)

// SaveDraft saves req as a draft (下書き) of a manual send for actor: a
// survey in status Draft that asks nobody until SendDraft sends it. A
// request without an ID makes a new draft ("draft-…"); with the ID of a
// draft actor may edit (see Drafts) it replaces that draft. The draft
// keeps a snapshot of its form (req.FormID, or the Service's form) as it
// is now. It may be incomplete (an empty targeting); SendDraft checks it
// as StartSurvey does. Audited as survey.draft_save.
//
// Errors: InvalidArgument for a bad field (named), or TestTo (a draft is
// test-sent by SendDraft); PermissionDenied when actor may not start sends
// (StartSend) to what the draft targets, or may not edit the draft;
// NotFound for an unknown actor, form, template or draft;
// FailedPrecondition when req.ID names a survey that is no draft.
func (s *Service) SaveDraft(ctx context.Context, actor UserID, req *SendRequest) (*Survey, error) {
	if req == nil {
		return nil, Errorf(InvalidArgument, "anpi: save draft: nil request")
	}
	if len(req.TestTo) > 0 {
		return nil, Errorf(InvalidArgument, "anpi: save draft: a draft has no test recipients: test-send it with SendDraft")
	}
	if err := req.Targeting.Validate(); err != nil {
		return nil, err
	}
	id := req.ID
	if id == "" {
		h, err := s.randomHex(12)
		if err != nil {
			return nil, err
		}
		id = SurveyID("draft-" + h)
	}
	now := s.now()
	var out *Survey
	err := s.st.InTx(ctx, func(tx Tx) error {
		az, who, err := s.authorizer(ctx, tx, actor)
		if err != nil {
			return err
		}
		if !maySend(az, who) {
			return Errorf(PermissionDenied, "anpi: %s: user %s may not start sends", StartSend, actor)
		}
		var old *Survey
		if req.ID != "" {
			if old, err = s.draft(ctx, tx, az, who, req.ID); err != nil {
				return err
			}
		}
		if err := authorizeTargets(az, who, &req.Targeting); err != nil {
			return err
		}
		form, err := s.requestForm(ctx, tx, req)
		if err != nil {
			return err
		}
		if req.TemplateID != "" && req.Legacy == nil {
			if _, err := tx.GetTemplate(ctx, req.TemplateID); err != nil {
				return err
			}
		}
		sv := &Survey{ID: id, Kind: ManualSurvey, Title: req.Title, Form: form, TemplateID: req.TemplateID, Legacy: req.Legacy,
			Targeting: req.Targeting, Deadline: req.Deadline, Reminders: req.Reminders, Status: Draft,
			Admins: slices.Clone(req.Admins), CreatedBy: actor, CreatedAt: now}
		if old != nil {
			sv.CreatedBy, sv.CreatedAt = old.CreatedBy, old.CreatedAt
			err = tx.UpdateSurvey(ctx, sv)
		} else {
			err = tx.CreateSurvey(ctx, sv)
		}
		if err != nil {
			return err
		}
		if _, err := tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: actor, Action: "survey.draft_save", TargetKind: "survey",
			TargetID: string(id), Detail: sv.Title}); err != nil {
			return err
		}
		out = sv
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: save draft %s: %w", id, err)
	}
	return out, nil
}

// Drafts lists the drafts actor may send, edit and delete, newest first:
// his own, and everyone's when he may start company-wide sends (a crisis
// manager).
func (s *Service) Drafts(ctx context.Context, actor UserID) ([]*Survey, error) {
	var out []*Survey
	err := s.st.InTx(ctx, func(tx Tx) error {
		out = nil
		az, who, err := s.authorizer(ctx, tx, actor)
		if err != nil {
			return err
		}
		all, err := tx.ListSurveys(ctx, &SurveyQuery{Status: Draft})
		if err != nil {
			return err
		}
		for _, sv := range all {
			if mayEditDraft(az, who, sv) {
				out = append(out, sv)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: drafts of %s: %w", actor, err)
	}
	return out, nil
}

// SendDraft sends the draft id for actor, as StartSurvey sends a request
// (the same checks, in one transaction): the draft becomes the survey,
// keeping its ID, form snapshot and creation. With testTo it is a test send
// of the draft instead (a TestSurvey "test-…" to those users only, every
// message labelled as a test) and the draft stays, to be edited or sent.
//
// Errors: those of StartSurvey; NotFound for an unknown draft;
// FailedPrecondition when id is no longer a draft (sent already);
// PermissionDenied when actor may not edit the draft.
func (s *Service) SendDraft(ctx context.Context, actor UserID, id SurveyID, testTo ...UserID) (*Started, error) {
	now := s.now()
	test := len(testTo) > 0
	svID := id
	if test {
		h, err := s.randomHex(12)
		if err != nil {
			return nil, err
		}
		svID = SurveyID("test-" + h)
	}
	var out *Started
	err := s.st.InTx(ctx, func(tx Tx) error {
		az, who, err := s.authorizer(ctx, tx, actor)
		if err != nil {
			return err
		}
		d, err := s.draft(ctx, tx, az, who, id)
		if err != nil {
			return err
		}
		req := &SendRequest{ID: svID, Title: d.Title, TemplateID: d.TemplateID, Legacy: d.Legacy, Targeting: d.Targeting,
			Deadline: d.Deadline, Reminders: d.Reminders, Admins: d.Admins, TestTo: testTo}
		if !test && req.Targeting.IsEmpty() {
			return Errorf(InvalidArgument, "anpi: the draft's targeting selects nobody: name departments, groups, titles, regions, users or everyone")
		}
		sent := d
		if test {
			sent = nil // the draft stays; the test is a survey of its own
		}
		out, err = s.start(ctx, tx, az, who, req, svID, d.Form.Clone(), sent, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: send draft %s: %w", id, err)
	}
	s.handOver(out)
	return out, nil
}

// DeleteDraft deletes the draft id for actor. Audited as
// survey.draft_delete.
//
// Errors: NotFound for an unknown draft; FailedPrecondition when id is no
// draft; PermissionDenied when actor may not edit it.
func (s *Service) DeleteDraft(ctx context.Context, actor UserID, id SurveyID) error {
	now := s.now()
	err := s.st.InTx(ctx, func(tx Tx) error {
		az, who, err := s.authorizer(ctx, tx, actor)
		if err != nil {
			return err
		}
		d, err := s.draft(ctx, tx, az, who, id)
		if err != nil {
			return err
		}
		if err := tx.DeleteSurvey(ctx, id); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: actor, Action: "survey.draft_delete", TargetKind: "survey",
			TargetID: string(id), Detail: d.Title})
		return err
	})
	if err != nil {
		return fmt.Errorf("anpi: delete draft %s: %w", id, err)
	}
	return nil
}

// draft returns the draft id, read in tx, if who may edit it.
func (s *Service) draft(ctx context.Context, tx Tx, az *Authorizer, who Actor, id SurveyID) (*Survey, error) {
	d, err := tx.GetSurvey(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.Status != Draft {
		return nil, Errorf(FailedPrecondition, "anpi: survey %s is %s, not a draft", id, d.Status)
	}
	if !mayEditDraft(az, who, d) {
		return nil, Errorf(PermissionDenied, "anpi: draft %s is %s's: only he and those who may send to the whole company may use it", id, d.CreatedBy)
	}
	return d, nil
}

// mayEditDraft reports whether who may see, edit, send and delete draft d:
// its author, if he may still start sends, and those who may start sends
// to the whole company.
func mayEditDraft(az *Authorizer, who Actor, d *Survey) bool {
	if az.Authorize(who, StartSend, TargetCompany()) == nil {
		return true
	}
	return who.User != nil && d.CreatedBy == who.User.ID && maySend(az, who)
}

// maySend reports whether who may start sends anywhere (within the scope
// of one of his grants).
func maySend(az *Authorizer, who Actor) bool {
	for _, g := range who.Grants {
		if az.Authorize(who, StartSend, TargetDepartments(g.Department)) == nil {
			return true
		}
	}
	return false
}

// authorizeTargets checks that who may start sends to what t names as a
// whole (the company, departments); each recipient is checked when the
// send starts.
func authorizeTargets(az *Authorizer, who Actor, t *Targeting) error {
	if t.Everyone {
		return az.Authorize(who, StartSend, TargetCompany())
	}
	if len(t.Departments) > 0 {
		return az.Authorize(who, StartSend, TargetDepartments(t.DepartmentIDs()...))
	}
	return nil
}
