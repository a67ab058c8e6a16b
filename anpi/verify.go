package anpi

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// ContactVerifyWindow is how long the confirmation link sent to a newly
// registered contact works: the verification check of the day it was
// registered stays open that long.
const ContactVerifyWindow = 7 * 24 * time.Hour

// contactVerifyPrefix starts the ID of the day's verification check: a
// contact check (so its links, rendering and confirmation are a contact
// check's) that only asks the contacts registered that day.
const contactVerifyPrefix = contactCheckPrefix + "verify-"

// verifyContact asks c, a contact its owner just registered or changed,
// to confirm it, in tx: a delivery of the day's verification check (a
// contact check whose survey is created by the first registration of the
// day, open for ContactVerifyWindow), to c exactly, on its kind's channel.
// Nothing is sent to a family member's contact or on a channel the
// Service does not have. A contact asked already today (its address
// changed again the same day) is not asked again: the link sent earlier
// names the earlier address and no longer confirms it (see contactRef),
// and the next contact check asks. It reports whether it enqueued.
func (s *Service) verifyContact(ctx context.Context, tx Tx, c *Contact, now time.Time) (bool, error) {
	ch := checkChannel(c.Kind)
	if c.Scope != PrivateScope || !slices.Contains(s.channels, ch) {
		return false, nil
	}
	day := now.In(jst)
	id := SurveyID(contactVerifyPrefix + day.Format("20060102"))
	if _, err := tx.GetSurvey(ctx, id); Code(err) == NotFound {
		sv := &Survey{
			ID: id, Kind: ContactCheckSurvey, Title: "連絡先の確認（登録時） " + day.Format("2006-01-02"), Form: ContactCheckForm(),
			Deadline: now.Add(ContactVerifyWindow), Status: Open, CreatedAt: now, StartedAt: now,
		}
		if err := tx.CreateSurvey(ctx, sv); err != nil {
			return false, err
		}
	} else if err != nil {
		return false, err
	}
	if _, err := tx.GetRecipient(ctx, id, c.UserID); Code(err) == NotFound {
		u, err := tx.GetUser(ctx, c.UserID)
		if err != nil {
			return false, err
		}
		tree, err := tx.Departments(ctx)
		if err != nil {
			return false, err
		}
		if _, err := tx.AddRecipients(ctx, id, []Recipient{NewRecipient(id, u, tree)}); err != nil {
			return false, err
		}
	} else if err != nil {
		return false, err
	}
	d := &Delivery{SurveyID: id, UserID: c.UserID, Channel: ch, ContactID: c.ID, State: Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	d.ID = DeliveryIDFor(d.Key())
	if _, err := tx.GetDelivery(ctx, d.ID); err == nil {
		return false, nil // asked today already: the link sent then works
	} else if Code(err) != NotFound {
		return false, err
	}
	if _, err := tx.EnqueueDeliveries(ctx, []*Delivery{d}); err != nil {
		return false, err
	}
	_, err := tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: c.UserID, Action: "contact.verify", TargetKind: "contact", TargetID: string(c.ID),
		Detail: fmt.Sprintf("confirmation link sent by %s (check %s)", ch, id)})
	return err == nil, err
}
