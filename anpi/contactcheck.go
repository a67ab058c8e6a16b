package anpi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/anpikit/anpi/channel"
)

// The contact check (連絡先の確認) proves that each contact still reaches its
// owner: every active user gets a message on each of his contacts with a
// confirmation link, and confirming records ContactCheck.Verified. A check
// is a survey of kind ContactCheckSurvey, so it has recipients, deliveries
// (one per contact), responses and a tally like any survey, but it is never
// a safety survey: it has no reminders, no summary, normal priority, its
// own form (ContactCheckForm) and its own text.

// ContactCheckPath is the path of a contact check's confirmation links:
// BaseURL + ContactCheckPath + token. The page behind it shows the contact
// check's form on GET (LookupToken, which records nothing: mail scanners
// open links) and calls ConfirmContact or AnswerByToken on POST.
const ContactCheckPath = "/c/"

// DefaultContactCheckAt is when in its period a periodic contact check
// starts when ContactCheckOptions.At is zero: 10 hours after the period's
// start, which is 10:00 Japan time on the 1st for monthly checks: nobody's
// phone rings at midnight.
const DefaultContactCheckAt = 10 * time.Hour

// MinContactCheckEvery is the shortest period of periodic contact checks.
const MinContactCheckEvery = time.Hour

// The contact check's form: one question, whose answer confirms the contact
// or reports that it reaches someone else.
const (
	ContactCheckFormID   FormID = "anpi-contact-check"
	ContactCheckQuestion        = "contact"  // the question's ID
	ContactCheckReceived        = "received" // "I got it: this contact is mine"
	ContactCheckWrong           = "wrong"    // "this is not for me": the contact reaches someone else
)

// contactCheckPrefix starts the ID of every contact-check survey.
const contactCheckPrefix = "contact-check-"

// contactRefLen is the length of the contact reference that ends a contact
// check's token (see checkToken).
const contactRefLen = 8

// ContactCheckForm returns the form of contact checks: "did this message
// reach you?", answered ContactCheckReceived or ContactCheckWrong. Each call
// returns a new copy.
func ContactCheckForm() *Form {
	return &Form{
		ID:   ContactCheckFormID,
		Name: Text{Ja: "連絡先の確認", En: "Contact check"},
		Questions: []Question{{
			ID: ContactCheckQuestion, Type: SingleChoice, Required: true,
			Label: Text{Ja: "この連絡先で安否確認を受け取れましたか", En: "Did this message reach you on this contact?"},
			Choices: []Choice{
				{Code: ContactCheckReceived, Label: Text{Ja: "受け取りました（本人です）", En: "Yes, it reached me"}},
				{Code: ContactCheckWrong, Label: Text{Ja: "心当たりがありません（本人ではありません）", En: "This is not for me"}},
			},
		}},
	}
}

// contactCheckTemplate is the text of a contact check. {event} is the
// kind of contact ("メールアドレス"), never the address.
func contactCheckTemplate() *Template {
	return &Template{
		ID:      "anpi-contact-check",
		Name:    "連絡先の確認",
		Subject: Text{Ja: "【連絡先の確認】安否確認の連絡先", En: "[Contact check] Your safety-check contact"},
		Body: Text{
			Ja: "{recipient} 様\n\n安否確認の連絡先として登録された{event}に、安否確認が届くかを確かめています。下のリンクを開いて「受け取りました」を選んでください。\n{url}\n\nお心当たりのない方は、リンクを開いて「心当たりがありません」を選んでください。以後この連絡先には送りません。\n",
			En: "Dear {recipient},\n\nWe are checking that safety checks reach you on the {event} registered for you. Please open the link and choose \"Yes, it reached me\":\n{url}\n\nIf this message is not for you, open the link and choose \"This is not for me\": nothing more will be sent here.\n",
		},
		Short: Text{Ja: "【連絡先の確認】この{event}に安否確認が届くかを確かめています。リンクを開いて確認してください。", En: "[Contact check] Do safety checks reach you on this {event}? Please open the link to confirm."},
		SMS:   Text{Ja: "連絡先の確認", En: "Contact check"}, // an SMS has room for little besides the link
	}
}

// contactLabel names a kind of contact in locale l, for the text of a
// contact check.
func contactLabel(k ContactKind, work bool, l Locale) string {
	en := l == English
	switch {
	case k == EmailContact && work && en:
		return "work email address"
	case k == EmailContact && work:
		return "会社のメールアドレス"
	case k == EmailContact && en:
		return "email address"
	case k == EmailContact:
		return "メールアドレス"
	case (k == FCMContact || k == APNsContact) && en:
		return "smartphone app"
	case k == FCMContact || k == APNsContact:
		return "スマートフォンアプリ"
	case k == LINEContact:
		return "LINE"
	case k == PhoneContact && en:
		return "mobile number"
	}
	return "携帯電話番号"
}

// checkChannel is the channel a contact of kind k is checked on: phone
// numbers by SMS (a call cannot carry the link).
func checkChannel(k ContactKind) Channel {
	switch k {
	case EmailContact:
		return EmailChannel
	case FCMContact:
		return FCMChannel
	case APNsContact:
		return APNsChannel
	case LINEContact:
		return LINEChannel
	case PhoneContact:
		return SMSChannel
	}
	return ""
}

// ContactCheckOptions schedules the periodic contact check. The zero value
// checks monthly, at 10:00 Japan time on the 1st, with links that work until
// the next check.
type ContactCheckOptions struct {
	// Every is the period of the checks: zero means monthly (calendar
	// months, Japan time). Other periods are counted from 1970-01-01 00:00
	// Japan time; at least MinContactCheckEvery.
	Every time.Duration
	// At is when in its period a check starts, from the period's start;
	// zero means DefaultContactCheckAt. It must be shorter than the period
	// (than 28 days for monthly checks).
	At time.Duration
	// Window is how long a check's links work; zero means until the next
	// check is due.
	Window time.Duration
}

// onboarding is the Service's configuration and state of contact checks
// and invitations.
type onboarding struct {
	on        bool          // periodic checks are scheduled
	every     time.Duration // 0: calendar months
	at        time.Duration
	window    time.Duration // 0: until the next check
	inviteTTL time.Duration
	// last is the ID of the latest period's check that Tick started or
	// found; Tick holds Service.mu when it reads or writes it.
	last SurveyID
}

// init resolves the options.
func (o *onboarding) init(cc *ContactCheckOptions, inviteTTL time.Duration) error {
	o.inviteTTL = inviteTTL
	switch {
	case inviteTTL == 0:
		o.inviteTTL = DefaultInvitationTTL
	case inviteTTL < 0:
		return Errorf(InvalidArgument, "anpi: new service: options: negative invitation TTL %s", inviteTTL)
	}
	if cc == nil {
		return nil
	}
	o.on, o.every, o.at, o.window = true, cc.Every, cc.At, cc.Window
	if o.at == 0 {
		o.at = DefaultContactCheckAt
	}
	limit := o.every
	if limit == 0 {
		limit = 28 * 24 * time.Hour
	}
	switch {
	case o.every < 0 || (o.every > 0 && o.every < MinContactCheckEvery):
		return Errorf(InvalidArgument, "anpi: new service: options: contact check: every %s: want zero (monthly) or at least %s", o.every, MinContactCheckEvery)
	case o.at < 0 || o.at >= limit:
		return Errorf(InvalidArgument, "anpi: new service: options: contact check: at %s: want 0 to %s", o.at, limit)
	case o.window < 0:
		return Errorf(InvalidArgument, "anpi: new service: options: contact check: negative window %s", o.window)
	}
	return nil
}

// period returns the start of the periodic check due at now (its period's
// start plus At) and the start of the next one.
func (o *onboarding) period(now time.Time) (start, next time.Time) {
	if o.every == 0 {
		y, m, _ := now.In(jst).Date()
		start = time.Date(y, m, 1, 0, 0, 0, 0, jst).Add(o.at)
		if now.Before(start) {
			m--
			start = time.Date(y, m, 1, 0, 0, 0, 0, jst).Add(o.at)
		}
		return start, time.Date(y, m+1, 1, 0, 0, 0, 0, jst).Add(o.at)
	}
	epoch := time.Date(1970, 1, 1, 0, 0, 0, 0, jst).Add(o.at)
	k := now.Sub(epoch) / o.every
	if now.Before(epoch.Add(k * o.every)) {
		k--
	}
	start = epoch.Add(k * o.every)
	return start, start.Add(o.every)
}

// manualWindow is how long the links of a check started by hand at now
// work: Window, or one period.
func (o *onboarding) manualDeadline(now time.Time) time.Time {
	switch {
	case o.window > 0:
		return now.Add(o.window)
	case o.every > 0:
		return now.Add(o.every)
	}
	return now.In(jst).AddDate(0, 1, 0)
}

// isContactCheck reports whether sv is a contact check (and not one of the
// surveys that hold invitation and LINE-link tokens).
func isContactCheck(sv *Survey) bool {
	return sv.Kind == ContactCheckSurvey && strings.HasPrefix(string(sv.ID), contactCheckPrefix)
}

// StartContactCheck starts a contact check now, for actor (who needs
// StartSend rights over the whole company): in one transaction, a survey of
// kind ContactCheckSurvey whose recipients are all the active users, one
// delivery per contact that can be checked, and an audit entry
// (contact_check.start). Tick starts the periodic ones by itself
// (Options.ContactCheck); this one is extra. Its links work for
// ContactCheckOptions.Window, or one period (a month by default).
//
// Checked are each user's private contacts and work-scope contacts that are
// not Broken, on the channel of their kind (phone numbers by SMS) when
// Options.Channels has it, and his work email (User.WorkEmail). Family
// contacts are not checked: no message goes to them yet. A user with
// nothing to check gets one SkippedNoContact delivery, for the record, and
// counts in Started.NoContact; Started.Queued counts the deliveries.
//
// Render gives each delivery a message of the contact-check text (never an
// address: only the kind of contact) with a link BaseURL + ContactCheckPath
// + token; the token (256 bits, 210 of them random, the rest naming the
// contact; stored only as a hash) expires with the check. A contact check
// does not fall back: a delivery whose contact is gone or broken, and the
// copies the dispatcher enqueues on other channels when a delivery fails,
// are NotFound (the dispatcher records them as failed without sending). A
// failed delivery's error lands on its contact (LastError, Broken for
// Unregistered) through the dispatcher, as for any delivery.
//
// Confirming (ConfirmContact, or AnswerByToken with the link's token and
// ContactCheckForm's answers) records the contact's check state.
func (s *Service) StartContactCheck(ctx context.Context, actor UserID) (*Started, error) {
	if actor == "" {
		return nil, Errorf(InvalidArgument, "anpi: start contact check: actor is required")
	}
	now := s.now()
	h, err := s.randomHex(4)
	if err != nil {
		return nil, err
	}
	id := SurveyID(contactCheckPrefix + now.In(jst).Format("20060102-150405") + "-" + h)
	return s.startContactCheck(ctx, actor, id, now, now, s.cc.manualDeadline(now))
}

// contactCheckTick starts the periodic check when it is due and was not
// started yet (by this Service, an earlier run or another replica: the
// survey's ID is derived from the period). A check more than a quarter of
// its period late (the Service did not run) is left out, so that a first
// start in mid-month does not message everyone at once. Tick calls it under
// s.mu.
func (s *Service) contactCheckTick(ctx context.Context, now time.Time) error {
	if !s.cc.on {
		return nil
	}
	start, next := s.cc.period(now)
	id := SurveyID(contactCheckPrefix + start.In(jst).Format("20060102-1504"))
	if s.cc.last == id {
		return nil
	}
	_, err := s.st.GetSurvey(ctx, id)
	switch {
	case err == nil:
		s.cc.last = id
		return nil
	case Code(err) != NotFound:
		return fmt.Errorf("anpi: periodic contact check %s: %w", id, err)
	}
	if late := now.Sub(start); late > next.Sub(start)/4 {
		s.log.InfoContext(ctx, "anpi: periodic contact check left out: too late; the next one is due", "survey", id, "late", late, "next", next)
		s.cc.last = id
		return nil
	}
	deadline := next
	if s.cc.window > 0 {
		deadline = start.Add(s.cc.window)
	}
	st, err := s.startContactCheck(ctx, "", id, start, now, deadline)
	if Code(err) == AlreadyExists { // another replica was first
		s.cc.last = id
		return nil
	}
	if err != nil {
		return err
	}
	s.cc.last = id
	s.log.InfoContext(ctx, "anpi: periodic contact check started", "survey", id, "users", st.Recipients, "deliveries", st.Queued, "without contacts", st.NoContact)
	return nil
}

// startContactCheck writes a contact check in one transaction; actor ""
// is the system (no permission check).
func (s *Service) startContactCheck(ctx context.Context, actor UserID, id SurveyID, day, now, deadline time.Time) (*Started, error) {
	var out *Started
	err := s.st.InTx(ctx, func(tx Tx) error {
		out = &Started{}
		var tree *DepartmentTree
		if actor != "" {
			az, who, err := s.authorizer(ctx, tx, actor)
			if err != nil {
				return err
			}
			if err := az.Authorize(who, StartSend, TargetCompany()); err != nil {
				return err
			}
			tree = az.Tree
		} else {
			var err error
			if tree, err = tx.Departments(ctx); err != nil {
				return err
			}
		}
		sv := &Survey{
			ID: id, Kind: ContactCheckSurvey, Title: "連絡先の確認 " + day.In(jst).Format("2006-01-02"), Form: ContactCheckForm(),
			Targeting: Targeting{Everyone: true}, Deadline: deadline, Status: Open, CreatedBy: actor, CreatedAt: now, StartedAt: now,
		}
		if err := tx.CreateSurvey(ctx, sv); err != nil {
			return err
		}
		users, err := tx.ListUsers(ctx, &UserQuery{Status: Active})
		if err != nil {
			return err
		}
		rs := make([]Recipient, 0, len(users))
		var ds []*Delivery
		for _, u := range users {
			contacts, err := tx.Contacts(ctx, u.ID)
			if err != nil {
				return err
			}
			rs = append(rs, NewRecipient(sv.ID, u, tree))
			mine := s.checkDeliveries(sv.ID, u, contacts, now)
			if len(mine) == 0 {
				d := &Delivery{SurveyID: sv.ID, UserID: u.ID, Channel: EmailChannel, State: SkippedNoContact, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
				if !slices.Contains(s.channels, EmailChannel) {
					d.Channel = s.channels[0]
				}
				d.ID = DeliveryIDFor(d.Key())
				mine = []*Delivery{d}
				out.NoContact++
			} else {
				out.Queued += len(mine)
			}
			ds = append(ds, mine...)
		}
		if out.Recipients, err = tx.AddRecipients(ctx, sv.ID, rs); err != nil {
			return err
		}
		if _, err := tx.EnqueueDeliveries(ctx, ds); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: actor, Action: "contact_check.start", TargetKind: "survey", TargetID: string(sv.ID),
			Detail: fmt.Sprintf("%d users, %d contacts to check, %d users with none", out.Recipients, out.Queued, out.NoContact)}); err != nil {
			return err
		}
		out.Survey = sv
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: start contact check %s: %w", id, err)
	}
	s.enqueued(out.Queued)
	return out, nil
}

// checkDeliveries are the deliveries of user u in contact check sv: one per
// private or work contact that is not broken, on its kind's channel, and
// one for his work email, when the Service has the channel.
func (s *Service) checkDeliveries(sv SurveyID, u *User, contacts []*Contact, now time.Time) []*Delivery {
	var ds []*Delivery
	add := func(ch Channel, c ContactID) {
		d := &Delivery{SurveyID: sv, UserID: u.ID, Channel: ch, ContactID: c, State: Queued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
		d.ID = DeliveryIDFor(d.Key())
		ds = append(ds, d)
	}
	workContact := false
	for _, c := range contacts {
		if c.UserID != u.ID || c.Check.Broken || (c.Scope != PrivateScope && c.Scope != WorkScope) {
			continue
		}
		ch := checkChannel(c.Kind)
		if !slices.Contains(s.channels, ch) {
			continue
		}
		workContact = workContact || (c.Scope == WorkScope && strings.EqualFold(c.Address, u.WorkEmail))
		add(ch, c.ID)
	}
	if u.WorkEmail != "" && !workContact && slices.Contains(s.channels, EmailChannel) {
		add(EmailChannel, "")
	}
	return ds
}

// contactRef is the reference to contact c (empty for the work email) of
// user u in contact check sv, at address addr ("" for the work email), that
// ends the check's token: 8 base64url characters of a hash, so the link
// names the contact without revealing its ID or address, and confirms it
// only while it has the address the link was sent to.
func contactRef(sv SurveyID, u UserID, c ContactID, addr string) string {
	h := sha256.Sum256([]byte("anpi contact check\x00" + string(sv) + "\x00" + string(u) + "\x00" + string(c) + "\x00" + addr))
	return base64.RawURLEncoding.EncodeToString(h[:6])
}

// checkToken returns a fresh token for contact c of user u at address addr
// in check sv and its hash: an answer token whose last contactRefLen
// characters are contactRef, so the token alone tells which contact it
// confirms (and cannot be altered to confirm another: the store has the
// hash of the whole). The other 35 characters carry 210 random bits.
func (s *Service) checkToken(sv SurveyID, u UserID, c ContactID, addr string) (string, TokenHash, error) {
	text, _, err := s.newToken()
	if err != nil {
		return "", TokenHash{}, err
	}
	text = text[:len(text)-contactRefLen] + contactRef(sv, u, c, addr)
	h, err := HashAnswerToken(text)
	return text, h, err
}

// renderContactCheck renders delivery d of contact check sv to u: to
// d.ContactID exactly (or, when it is empty, to the work email on the email
// channel), never to another contact.
func (s *Service) renderContactCheck(ctx context.Context, d *Delivery, sv *Survey, u *User, contacts []*Contact) (*channel.Message, ContactID, error) {
	if !isContactCheck(sv) {
		return nil, "", Errorf(FailedPrecondition, "anpi: render delivery %s: survey %s sends no messages", d.ID, sv.ID)
	}
	if d.Round != 0 {
		return nil, "", Errorf(NotFound, "anpi: render delivery %s: a contact check has no round %d", d.ID, d.Round)
	}
	now := s.now()
	if err := answerable(sv, now); err != nil {
		return nil, "", fmt.Errorf("anpi: render delivery %s: %w", d.ID, err)
	}
	var addr string
	var kind ContactKind
	work := d.ContactID == ""
	if work {
		if d.Channel != EmailChannel || u.WorkEmail == "" {
			return nil, "", Errorf(NotFound, "anpi: render delivery %s: a contact check is not sent to another channel than its contact's", d.ID)
		}
		addr, kind = u.WorkEmail, EmailContact
	} else {
		i := slices.IndexFunc(contacts, func(c *Contact) bool { return c.ID == d.ContactID })
		if i < 0 {
			return nil, "", Errorf(NotFound, "anpi: render delivery %s: contact %s of user %s is gone", d.ID, d.ContactID, u.ID)
		}
		c := contacts[i]
		if c.UserID != u.ID || checkChannel(c.Kind) != d.Channel || c.Check.Broken || (c.Scope != PrivateScope && c.Scope != WorkScope) {
			return nil, "", Errorf(NotFound, "anpi: render delivery %s: contact %s of user %s is broken or not checked on %s", d.ID, c.ID, u.ID, d.Channel)
		}
		addr, kind, work = c.Address, c.Kind, c.Scope == WorkScope
	}
	refAddr := addr
	if d.ContactID == "" {
		refAddr = "" // the work email: no contact to tie the link to
	}
	text, h, err := s.checkToken(sv.ID, u.ID, d.ContactID, refAddr)
	if err != nil {
		return nil, "", err
	}
	v := Values{Recipient: u.Name, Event: contactLabel(kind, work, u.Locale), URL: s.base + ContactCheckPath + text, Deadline: sv.Deadline}
	r, err := contactCheckTemplate().Render(u.Locale, StyleOf(d.Channel), v)
	if err != nil {
		return nil, "", fmt.Errorf("anpi: render delivery %s: %w", d.ID, err)
	}
	tok := &AnswerToken{Hash: h, SurveyID: sv.ID, UserID: u.ID, CreatedAt: now, ExpiresAt: sv.Deadline}
	if err := s.st.PutAnswerTokens(ctx, []*AnswerToken{tok}); err != nil {
		return nil, "", fmt.Errorf("anpi: render delivery %s: store the answer token: %w", d.ID, err)
	}
	return &channel.Message{
		To: addr, Subject: r.Subject, Text: r.Text, URL: v.URL, IdempotencyKey: d.IdempotencyKey(),
		Data: map[string]string{"survey": string(sv.ID), "delivery": string(d.ID), "kind": string(sv.Kind), "round": "0"},
	}, d.ContactID, nil
}

// ContactConfirmation is what confirming a contact check's link recorded.
type ContactConfirmation struct {
	SurveyID SurveyID
	UserID   UserID
	// Contact is the contact's status after the confirmation; nil for the
	// work email (User.WorkEmail), which has no check state of its own:
	// the response records that it was confirmed.
	Contact *ContactStatus
	// Response is the response recorded in the check's survey.
	Response *Response
}

// ConfirmContact confirms the contact a contact check's link was sent to
// (the POST of the page at ContactCheckPath): in one transaction it records
// the answer ContactCheckReceived in the check's survey and marks the
// contact Verified at now, its LastChecked now, its last error and Broken
// cleared (the message reached its owner). The token tells which contact:
// a link confirms only the contact it was sent to.
//
// A token that is malformed, unknown, expired, revoked or not a contact
// check's is NotFound, the same for every case; a check past its deadline
// is FailedPrecondition. Confirming again is harmless. AnswerByToken with
// the same token does the same for any answer of ContactCheckForm: the
// answer ContactCheckWrong ("this is not for me") marks the contact Broken
// and unverified, with a LastError saying so, so no safety check goes to
// it any more; answering ContactCheckReceived later undoes it.
func (s *Service) ConfirmContact(ctx context.Context, token string) (*ContactConfirmation, error) {
	now := s.now()
	id, err := s.newResponseID()
	if err != nil {
		return nil, err
	}
	var out *ContactConfirmation
	err = s.st.InTx(ctx, func(tx Tx) error {
		t, err := answerTokenIn(ctx, tx, token, now)
		if err != nil {
			return err
		}
		sv, err := tx.GetSurvey(ctx, t.SurveyID)
		if err != nil {
			return err
		}
		if !isContactCheck(sv) {
			return errUnknownToken()
		}
		answers := []Answer{{QuestionID: ContactCheckQuestion, Choices: []string{ContactCheckReceived}}}
		r, err := record(ctx, tx, id, sv.ID, t.UserID, answers, ViaWeb, now)
		if err != nil {
			return err
		}
		st, err := s.contactCheckAnswered(ctx, tx, t, token, r, now)
		if err != nil {
			return err
		}
		out = &ContactConfirmation{SurveyID: sv.ID, UserID: t.UserID, Contact: st, Response: r}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// contactCheckAnswered records, in tx, what answer r given with token t
// says of the contact t was sent to, when t is a contact check's: verified
// for ContactCheckReceived, broken for ContactCheckWrong. It returns the
// contact's new status, or nil when there is nothing to record (not a
// contact check, the work email, a contact deleted since). AnswerByToken
// calls it for every answer.
func (s *Service) contactCheckAnswered(ctx context.Context, tx Tx, t *AnswerToken, token string, r *Response, now time.Time) (*ContactStatus, error) {
	if !strings.HasPrefix(string(t.SurveyID), contactCheckPrefix) || len(token) < contactRefLen {
		return nil, nil
	}
	sv, err := tx.GetSurvey(ctx, t.SurveyID)
	if err != nil {
		return nil, err
	}
	ref := token[len(token)-contactRefLen:]
	if !isContactCheck(sv) || ref == contactRef(sv.ID, t.UserID, "", "") {
		return nil, nil
	}
	contacts, err := tx.Contacts(ctx, t.UserID)
	if Code(err) == NotFound {
		return nil, nil // the user was deleted since
	}
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(contacts, func(c *Contact) bool { return contactRef(sv.ID, t.UserID, c.ID, c.Address) == ref })
	if i < 0 {
		return nil, nil
	}
	c := contacts[i]
	switch {
	case r.Chose(ContactCheckQuestion, ContactCheckReceived):
		c.Check = ContactCheck{Verified: true, VerifiedAt: now, LastChecked: now}
	case r.Chose(ContactCheckQuestion, ContactCheckWrong):
		c.Check.Verified, c.Check.Broken, c.Check.LastChecked = false, true, now
		c.Check.LastError, c.Check.LastErrorAt = "the person the contact check reached says it is not for them", now
	default:
		return nil, nil
	}
	if err := tx.RecordContactCheck(ctx, c.ID, c.Check); err != nil {
		return nil, err
	}
	s.contactsChanged()
	st := c.Status()
	return &st, nil
}

// Failing reports whether the contact needs attention: the provider said
// it is gone (Broken), or its last delivery failed.
func (c ContactStatus) Failing() bool { return c.Broken || c.LastError != "" }

// BrokenContacts is the error list of the contact network (連絡網): the
// active users within actor's scope who have a failing contact
// (ContactStatus.Failing: broken, or its last delivery failed), by user
// ID, each with the status of all his contacts and never an address
// (invariant 4). The actor needs ViewContactStatus (Manager) rights: over
// the company, or over departments, and then sees their users only.
// PermissionDenied otherwise.
func (s *Service) BrokenContacts(ctx context.Context, actor UserID) ([]*AdminUserView, error) {
	return s.contactList(ctx, actor, "broken contacts", func(v *AdminUserView) bool {
		return slices.ContainsFunc(v.Contacts, ContactStatus.Failing)
	})
}

// UsersWithoutPrivateContact lists the active users within actor's scope
// who have no usable private contact (none registered, or only broken
// ones): the people administrators chase, with an invitation (Invite) for
// instance. Views and permissions as for BrokenContacts.
func (s *Service) UsersWithoutPrivateContact(ctx context.Context, actor UserID) ([]*AdminUserView, error) {
	return s.contactList(ctx, actor, "users without a private contact", func(v *AdminUserView) bool {
		return !slices.ContainsFunc(v.Contacts, func(c ContactStatus) bool { return c.Scope == PrivateScope && c.Registered && !c.Broken })
	})
}

// contactList returns the views of the active users within actor's
// ViewContactStatus scope that keep accepts.
func (s *Service) contactList(ctx context.Context, actor UserID, what string, keep func(*AdminUserView) bool) ([]*AdminUserView, error) {
	az, who, err := s.authorizer(ctx, s.st, actor)
	if err != nil {
		return nil, fmt.Errorf("anpi: %s: %w", what, err)
	}
	if err := mayViewSome(az, who, ViewContactStatus); err != nil {
		return nil, fmt.Errorf("anpi: %s: %w", what, err)
	}
	users, err := s.st.ListUsers(ctx, &UserQuery{Status: Active})
	if err != nil {
		return nil, fmt.Errorf("anpi: %s: %w", what, err)
	}
	out := []*AdminUserView{}
	for _, u := range users {
		if az.Authorize(who, ViewContactStatus, TargetUser(u)) != nil {
			continue
		}
		v, err := s.st.AdminUserView(ctx, u.ID)
		if Code(err) == NotFound {
			continue // deleted since
		}
		if err != nil {
			return nil, fmt.Errorf("anpi: %s: %w", what, err)
		}
		if keep(v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// mayViewSome returns nil when who may do a over the company or over at
// least one department, and the company-wide refusal otherwise.
func mayViewSome(az *Authorizer, who Actor, a Action) error {
	err := az.Authorize(who, a, TargetCompany())
	if err == nil {
		return nil
	}
	for _, g := range who.Grants {
		if g.Department != "" && az.Authorize(who, a, TargetDepartments(g.Department)) == nil {
			return nil
		}
	}
	return err
}
