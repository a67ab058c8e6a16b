package anpi

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// DefaultSummaryAfter is how long after a survey starts its administrators
// get the summary when Options.SummaryAfter is zero: ten minutes, as the
// hosted products do.
const DefaultSummaryAfter = 10 * time.Minute

// maxSummaryDelay bounds how late a summary is still sent: one that came due
// while no Service ran goes out when one runs again, up to this late; later
// it would only repeat the tally page, and is left out.
const maxSummaryDelay = time.Hour

// FollowUp is what Service.FollowUp enqueued for one survey: one round of
// reminders or the summary.
type FollowUp struct {
	Survey SurveyID
	// Round is the reminder's round (1 to Reminders.Count) or SummaryRound.
	Round int
	// Queued counts the deliveries enqueued.
	Queued int
	// NoContact counts the people with no reachable contact: each gets a
	// SkippedNoContact delivery, so administrators see who was not
	// reminded and why.
	NoContact int
	// Waiting counts the non-responders left out of a reminder because
	// their first send is still on its way (queued, being sent, or waiting
	// for a retry): a reminder must not overtake the message it reminds of.
	Waiting int
}

// followState is what this process's FollowUp did already, so a tick does
// not read a survey's deliveries again for nothing. It is a cache only: the
// store decides, and a restarted Service reads it again.
type followState struct {
	mu         sync.Mutex
	reminded   map[SurveyID]int // the last reminder round done per open survey
	summarized map[SurveyID]bool
}

// FollowUp enqueues the reminders (再通知) and summaries (集計) that are due
// by the Service's clock. Tick calls it; call it yourself when you drive the
// Service without Run or Tick.
//
// Reminders: for every Open survey whose Reminders policy has Count > 0,
// round k (1 to Count) is due at StartedAt + k×Interval, within its
// interval, and before the survey's Deadline. A round missed while no
// Service ran is skipped, not sent late together with the next. Round k
// goes, in one transaction per survey and round, to the recipients who have
// not answered: on the channel and contact their first send (Round 0)
// finally reached, or, when it reached none (failed, or no contact), on the
// first channel of Options.Channels they can be reached on now (a
// SkippedNoContact delivery when none, for the record). Recipients whose
// first send is not final yet are left out of the round (Waiting), as are
// users deleted or suspended since. Render labels reminders 【再通知】
// ([Reminder]) and gives them a fresh answer link. A recipient who answers
// between the enqueue and the send still gets his reminder: its text says
// to ignore it then.
//
// Summary: Options.SummaryAfter (default DefaultSummaryAfter) after an
// Open survey started, each of its Admins who is an active user gets one
// delivery of Round SummaryRound, on the email channel when he has an
// email address and Options.Channels has email (the long text holds the
// per-department table), otherwise on the first channel he can be reached
// on. Render writes the text as of the moment it is sent. A summary more
// than an hour late is left out (logged). Contact-check surveys have no
// summary.
//
// Both are idempotent: a user who has a delivery of the round (or a summary
// delivery) gets no other, so a repeated call, a restart, or a second
// replica enqueues nothing twice. Each transaction that enqueues appends an
// audit entry (survey.remind, survey.summary; the actor is the system).
// Closed and cancelled surveys get neither.
//
// It returns what it enqueued; surveys where nothing was due or left to do
// are not listed. Store failures are returned, and retried by the next call.
func (s *Service) FollowUp(ctx context.Context) ([]FollowUp, error) {
	return s.followUp(ctx, s.now())
}

func (s *Service) followUp(ctx context.Context, now time.Time) ([]FollowUp, error) {
	s.fu.mu.Lock()
	defer s.fu.mu.Unlock()
	if s.fu.reminded == nil {
		s.fu.reminded = map[SurveyID]int{}
		s.fu.summarized = map[SurveyID]bool{}
	}
	if err := ctxErr(ctx, "follow-ups"); err != nil {
		return nil, err
	}
	svs, err := s.st.ListSurveys(ctx, &SurveyQuery{Status: Open})
	if err != nil {
		return nil, fmt.Errorf("anpi: follow-ups: list the open surveys: %w", err)
	}
	open := make(map[SurveyID]bool, len(svs))
	var out []FollowUp
	var errs []error
	for _, sv := range svs {
		open[sv.ID] = true
		if s.summaryDue(sv, now) && !s.fu.summarized[sv.ID] {
			if late := now.Sub(sv.StartedAt.Add(s.summary)); late > maxSummaryDelay {
				s.log.WarnContext(ctx, "anpi: summary left out: too late", "survey", sv.ID, "late", late)
				s.fu.summarized[sv.ID] = true
			} else if f, err := s.enqueueSummary(ctx, sv.ID, now); err != nil {
				errs = append(errs, err)
			} else {
				s.fu.summarized[sv.ID] = true
				if f.Queued+f.NoContact > 0 {
					out = append(out, f)
				}
			}
		}
		if k := reminderRound(sv, now); k > s.fu.reminded[sv.ID] {
			f, err := s.enqueueReminders(ctx, sv.ID, k, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s.fu.reminded[sv.ID] = k
			if f.Queued+f.NoContact+f.Waiting > 0 {
				out = append(out, f)
			}
		}
	}
	for id := range s.fu.reminded {
		if !open[id] {
			delete(s.fu.reminded, id)
		}
	}
	for id := range s.fu.summarized {
		if !open[id] {
			delete(s.fu.summarized, id)
		}
	}
	return out, joinErrors(errs)
}

// summaryDue reports whether sv's summary is due at now.
func (s *Service) summaryDue(sv *Survey, now time.Time) bool {
	return s.summary > 0 && len(sv.Admins) > 0 && sv.Kind != ContactCheckSurvey && !sv.StartedAt.IsZero() &&
		!now.Before(sv.StartedAt.Add(s.summary))
}

// reminderRound returns the reminder round of sv due at now: k when now is
// in [StartedAt + k×Interval, StartedAt + (k+1)×Interval) for 1 ≤ k ≤ Count
// and before the deadline; 0 when none is.
func reminderRound(sv *Survey, now time.Time) int {
	p := sv.Reminders
	if p.Count <= 0 || p.Interval <= 0 || sv.StartedAt.IsZero() || now.Before(sv.StartedAt) {
		return 0
	}
	if !sv.Deadline.IsZero() && !now.Before(sv.Deadline) {
		return 0
	}
	k := int64(now.Sub(sv.StartedAt) / p.Interval)
	if k < 1 || k > int64(p.Count) {
		return 0
	}
	return int(k)
}

// enqueueReminders enqueues round k of survey id in one transaction.
func (s *Service) enqueueReminders(ctx context.Context, id SurveyID, k int, now time.Time) (FollowUp, error) {
	var f FollowUp
	err := s.st.InTx(ctx, func(tx Tx) error {
		f = FollowUp{Survey: id, Round: k} // InTx may run fn again
		sv, err := tx.GetSurvey(ctx, id)
		if err != nil {
			return err
		}
		if sv.Status != Open || reminderRound(sv, now) != k {
			return nil // closed or changed since it was listed
		}
		recs, err := tx.Recipients(ctx, id)
		if err != nil {
			return err
		}
		resps, err := tx.Responses(ctx, id)
		if err != nil {
			return err
		}
		answered := make(map[UserID]bool, len(resps))
		for _, r := range resps {
			answered[r.UserID] = true
		}
		ds, err := tx.Deliveries(ctx, id)
		if err != nil {
			return err
		}
		type first struct {
			reminded, pending bool
			reached           *Delivery
		}
		by := map[UserID]*first{}
		for _, d := range ds {
			st := by[d.UserID]
			if st == nil {
				st = &first{}
				by[d.UserID] = st
			}
			switch {
			case d.Round == k:
				st.reminded = true
			case d.Round != 0:
			case !d.State.Final():
				st.pending = true
			case (d.State == Sent || d.State == Delivered) && (st.reached == nil || d.SentAt.After(st.reached.SentAt)):
				st.reached = d
			}
		}
		var out []*Delivery
		for _, r := range recs {
			st := by[r.UserID]
			if answered[r.UserID] || (st != nil && st.reminded) {
				continue
			}
			if st != nil && st.pending {
				f.Waiting++
				continue
			}
			u, err := tx.GetUser(ctx, r.UserID)
			if Code(err) == NotFound {
				continue // left the company since
			}
			if err != nil {
				return err
			}
			if u.Status != Active {
				continue
			}
			var d *Delivery
			if st != nil && st.reached != nil {
				d = &Delivery{SurveyID: id, UserID: u.ID, Channel: st.reached.Channel, ContactID: st.reached.ContactID,
					State: Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
			} else {
				contacts, err := tx.Contacts(ctx, u.ID)
				if err != nil {
					return err
				}
				d = s.firstDelivery(id, u, contacts, now)
			}
			d.Round = k
			d.ID = DeliveryIDFor(d.Key())
			if d.State == SkippedNoContact {
				f.NoContact++
			} else {
				f.Queued++
			}
			out = append(out, d)
		}
		if len(out) == 0 {
			return nil
		}
		if _, err := tx.EnqueueDeliveries(ctx, out); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: now, Action: "survey.remind", TargetKind: "survey", TargetID: string(id),
			Detail: fmt.Sprintf("reminder %d of %d: %d deliveries queued, %d without a contact, %d waiting for their first send; %d of %d recipients answered",
				k, sv.Reminders.Count, f.Queued, f.NoContact, f.Waiting, len(answered), len(recs))})
		return err
	})
	if err != nil {
		return FollowUp{}, fmt.Errorf("anpi: survey %s: reminder %d: %w", id, k, err)
	}
	s.enqueued(f.Queued)
	if f.Queued+f.NoContact > 0 {
		s.log.InfoContext(ctx, "anpi: reminders", "survey", id, "round", k, "queued", f.Queued, "noContact", f.NoContact, "waiting", f.Waiting)
	}
	return f, nil
}

// enqueueSummary enqueues the summary of survey id to its administrators in
// one transaction.
func (s *Service) enqueueSummary(ctx context.Context, id SurveyID, now time.Time) (FollowUp, error) {
	var f FollowUp
	err := s.st.InTx(ctx, func(tx Tx) error {
		f = FollowUp{Survey: id, Round: SummaryRound}
		sv, err := tx.GetSurvey(ctx, id)
		if err != nil {
			return err
		}
		if sv.Status != Open {
			return nil
		}
		ds, err := tx.Deliveries(ctx, id)
		if err != nil {
			return err
		}
		done := map[UserID]bool{}
		for _, d := range ds {
			if d.Round == SummaryRound {
				done[d.UserID] = true
			}
		}
		var out []*Delivery
		for _, a := range sv.Admins {
			if done[a] {
				continue
			}
			done[a] = true // an administrator listed twice gets one
			u, err := tx.GetUser(ctx, a)
			if Code(err) == NotFound {
				s.log.WarnContext(ctx, "anpi: summary: administrator is not in the directory", "survey", id, "user", a)
				continue
			}
			if err != nil {
				return err
			}
			if u.Status != Active {
				continue
			}
			contacts, err := tx.Contacts(ctx, u.ID)
			if err != nil {
				return err
			}
			d := s.summaryDelivery(id, u, contacts, now)
			if d.State == SkippedNoContact {
				f.NoContact++
			} else {
				f.Queued++
			}
			out = append(out, d)
		}
		if len(out) == 0 {
			return nil
		}
		if _, err := tx.EnqueueDeliveries(ctx, out); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: now, Action: "survey.summary", TargetKind: "survey", TargetID: string(id),
			Detail: fmt.Sprintf("summary to %d administrators queued, %d without a contact", f.Queued, f.NoContact)})
		return err
	})
	if err != nil {
		return FollowUp{}, fmt.Errorf("anpi: survey %s: summary: %w", id, err)
	}
	s.enqueued(f.Queued)
	if f.Queued+f.NoContact > 0 {
		s.log.InfoContext(ctx, "anpi: summary", "survey", id, "queued", f.Queued, "noContact", f.NoContact)
	}
	return f, nil
}

// summaryDelivery is the summary delivery to administrator u: by email when
// he has an address and the Service sends email (the table needs the long
// text), otherwise on the first channel he can be reached on.
func (s *Service) summaryDelivery(sv SurveyID, u *User, contacts []*Contact, now time.Time) *Delivery {
	d := s.firstDelivery(sv, u, contacts, now)
	if slices.Contains(s.channels, EmailChannel) {
		if cid, _, ok := pickContact(u, contacts, EmailChannel, ""); ok {
			d.Channel, d.ContactID, d.State = EmailChannel, cid, Queued
		}
	}
	d.Round = SummaryRound
	d.ID = DeliveryIDFor(d.Key())
	return d
}

// reminderLabel prefixes the texts of a reminder.
func reminderLabel(l Locale) string {
	if l == English {
		return "[Reminder] "
	}
	return "【再通知】"
}

// reminderTemplate returns t for a reminder: the subject, short and SMS
// texts prefixed with the reminder label, and the body opened with a line
// saying no answer came yet. Texts empty in a language stay empty, so they
// still fall back to Japanese.
func reminderTemplate(t *Template) *Template {
	c := *t
	label := func(x Text) Text {
		if x.Ja != "" {
			x.Ja = reminderLabel(Japanese) + x.Ja
		}
		if x.En != "" {
			x.En = reminderLabel(English) + x.En
		}
		return x
	}
	c.Subject, c.Short, c.SMS = label(t.Subject), label(t.Short), label(t.SMS)
	if c.Body.Ja != "" {
		c.Body.Ja = reminderLabel(Japanese) + "回答がまだ確認できていません（行き違いで回答済みの場合は、このメッセージは無視してください）。\n\n" + c.Body.Ja
	}
	if c.Body.En != "" {
		c.Body.En = reminderLabel(English) + "We have not received your answer yet (if you answered in the meantime, please ignore this message).\n\n" + c.Body.En
	}
	return &c
}
