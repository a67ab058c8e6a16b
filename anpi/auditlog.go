package anpi

import (
	"context"
	"fmt"
)

// Audit returns the entries of the audit log that q selects (nil for the
// first 1000), oldest first, for actor.
//
// Only company-wide system administrators read the audit log: the entries
// name users, surveys and rules of the whole company and carry no
// department, so a scope cannot be checked entry by entry (a department-
// scoped administrator, or a crisis manager, is PermissionDenied). Reading
// the log is not itself logged.
//
// What the Service appends, each in the transaction of the action it
// records (Actor empty for the system):
//
//	survey.start, survey.test_send  a manual or test send (StartSurvey)
//	survey.auto_send, survey.drill_send  an auto-send or drill for a JMA report
//	survey.cancel                   a JMA 取消: unsent cancelled, corrections queued
//	rule.notice                     a rule's notice to its administrators only
//	survey.remind                   a round of reminders (FollowUp)
//	survey.summary                  the summary to the administrators (FollowUp)
//	survey.export                   a CSV export (ExportCSV), with its filter
//	contact_check.start             a contact check (StartContactCheck, Tick)
//	user.invite                     an invitation (Invite)
//	contact.register, contact.update  a contact registered or changed by its owner
//	contact.verify                  a confirmation link queued to that contact
//	contact.link_line               a LINE account linked (LinkLINE)
//	contact.line_blocked, contact.line_followed  its user blocked or followed the LINE account (LINEFollowChanged)
//	thread.start, message.post      group messages (StartThread, PostMessage)
//	board.create, board.post        bulletin boards (CreateBoard, PostToBoard)
//	jma.upload                      a JMA document an administrator fed by hand (AuditUpload)
//
// Errors: NotFound for an unknown actor, PermissionDenied, InvalidArgument
// for a bad query (from the store).
func (s *Service) Audit(ctx context.Context, actor UserID, q *AuditQuery) ([]*AuditEntry, error) {
	var out []*AuditEntry
	err := s.st.ReadTx(ctx, func(tx Tx) error {
		az, who, err := s.authorizer(ctx, tx, actor)
		if err != nil {
			return err
		}
		// ManageSettings is exactly "a company-wide system administrator".
		if err := az.Authorize(who, ManageSettings, TargetCompany()); err != nil {
			return Errorf(PermissionDenied, "anpi: read the audit log: user %s is not an active company-wide system administrator", actor)
		}
		out, err = tx.ListAudit(ctx, q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: audit log: %w", err)
	}
	return out, nil
}
