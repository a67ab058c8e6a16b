package anpi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"
)

// Onboarding: an administrator invites a user (Invite) and hands him the
// registration link, by mail or as a QR code on a printed sheet (package
// anpi/qrcode); the self-service page behind the link identifies him
// (RedeemInvitation) and registers his private contacts (RegisterContact),
// and links his LINE account (LINENonces, LinkLINE).
//
// Invitation links and LINE-link nonces are answer tokens (AnswerToken: the
// store keeps only their hash) of two long-lived surveys of kind
// ContactCheckSurvey that have no recipients and send nothing, so no store
// needs anything new and every replica sees the same tokens.

// InvitationPath is the path of registration links: BaseURL +
// InvitationPath + token.
const InvitationPath = "/r/"

// DefaultInvitationTTL is how long an invitation link works when
// Options.InvitationTTL is zero: two weeks, time for a printed sheet to
// reach its reader.
const DefaultInvitationTTL = 14 * 24 * time.Hour

// The surveys that hold the tokens of invitations and of LINE account
// linking. Their IDs do not start with contactCheckPrefix: their tokens
// never confirm a contact.
const (
	invitationSurvey SurveyID = "anpi-invitations"
	lineLinkSurvey   SurveyID = "anpi-line-link"
)

// tokenSurvey returns, in tx, the survey that holds tokens of one kind,
// creating it the first time.
func tokenSurvey(ctx context.Context, tx Tx, id SurveyID, title string, now time.Time) error {
	_, err := tx.GetSurvey(ctx, id)
	if Code(err) != NotFound {
		return err
	}
	return tx.CreateSurvey(ctx, &Survey{ID: id, Kind: ContactCheckSurvey, Title: title, Form: ContactCheckForm(),
		Targeting: Targeting{}, Status: Open, CreatedAt: now})
}

// Invitation is a registration link for one user.
type Invitation struct {
	UserID UserID
	// URL is the link: BaseURL + InvitationPath + a token of 192 random
	// bits (after its locator, see TokenHash), of which the store keeps
	// only the hash. Whoever holds it may
	// register contacts for the user until it expires: hand it to him
	// alone.
	URL       string
	ExpiresAt time.Time
}

// Invite issues a registration link for user, for actor (who needs
// ManageUsers rights over the user): in one transaction it revokes the
// user's earlier invitation links, stores the new token's hash, expiring
// after Options.InvitationTTL, and appends an audit entry (user.invite).
// Render it as a QR code for a printed sheet with package anpi/qrcode.
//
// Errors: NotFound for an unknown actor or user; PermissionDenied.
func (s *Service) Invite(ctx context.Context, actor, user UserID) (*Invitation, error) {
	now := s.now()
	text, h, err := s.newToken()
	if err != nil {
		return nil, err
	}
	inv := &Invitation{UserID: user, URL: s.base + InvitationPath + text, ExpiresAt: now.Add(s.cc.inviteTTL)}
	err = s.st.InTx(ctx, func(tx Tx) error {
		az, who, err := s.authorizer(ctx, tx, actor)
		if err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, user)
		if err != nil {
			return err
		}
		if err := az.Authorize(who, ManageUsers, TargetUser(u)); err != nil {
			return err
		}
		if err := tokenSurvey(ctx, tx, invitationSurvey, "招待 (invitations)", now); err != nil {
			return err
		}
		if _, err := tx.RevokeAnswerTokens(ctx, invitationSurvey, user, now); err != nil {
			return err
		}
		if err := tx.PutAnswerTokens(ctx, []*AnswerToken{{Hash: h, SurveyID: invitationSurvey, UserID: user, CreatedAt: now, ExpiresAt: inv.ExpiresAt}}); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: actor, Action: "user.invite", TargetKind: "user", TargetID: string(user),
			Detail: "registration link valid until " + inv.ExpiresAt.In(jst).Format("2006-01-02 15:04 MST")})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: invite user %s: %w", user, err)
	}
	return inv, nil
}

// Invitee is who an invitation link belongs to, for the self-service page.
type Invitee struct {
	User *User
	// Contacts are the status of his contacts, without addresses: the
	// link may be in someone else's hands (the administrator who printed
	// it), so the page shows what is registered, not where.
	Contacts  []ContactStatus
	ExpiresAt time.Time
}

// invitationIn looks an invitation token up in tx: NotFound (the same for
// every case) unless it is a usable invitation of an existing user.
func invitationIn(ctx context.Context, tx Tx, token string, now time.Time) (*AnswerToken, *User, error) {
	t, err := tokenIn(ctx, tx, token, now)
	if err != nil {
		return nil, nil, err
	}
	if t.SurveyID != invitationSurvey {
		return nil, nil, errUnknownToken()
	}
	u, err := tx.GetUser(ctx, t.UserID)
	if Code(err) == NotFound {
		return nil, nil, errUnknownToken()
	}
	return t, u, err
}

// RedeemInvitation returns whom an invitation link belongs to (the GET of
// the self-service page): the user and the status of his contacts. It
// records nothing, and the link keeps working until it expires or a new
// invitation replaces it, so the user can come back to add a contact. A
// token that is malformed, unknown, expired, revoked, not an invitation's,
// or whose user was deleted is NotFound, the same for every case.
func (s *Service) RedeemInvitation(ctx context.Context, token string) (*Invitee, error) {
	now := s.now()
	t, u, err := invitationIn(ctx, s.st, token, now)
	if err != nil {
		return nil, err
	}
	v, err := s.st.AdminUserView(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("anpi: redeem invitation: %w", err)
	}
	return &Invitee{User: u, Contacts: v.Contacts, ExpiresAt: t.ExpiresAt}, nil
}

// RegisterContact registers a contact for the user an invitation link
// belongs to (the POST of the self-service page); see RegisterOwnContact
// for the rules. The token is checked as by RedeemInvitation.
func (s *Service) RegisterContact(ctx context.Context, token string, c *Contact) (*Contact, error) {
	now := s.now()
	newID, err := s.newContactID()
	if err != nil {
		return nil, err
	}
	var out *Contact
	var asked bool
	err = s.st.InTx(ctx, func(tx Tx) error {
		_, u, err := invitationIn(ctx, tx, token, now)
		if err != nil {
			return err
		}
		var changed bool
		if out, changed, err = s.registerContact(ctx, tx, u.ID, c, newID, "invitation", now); err != nil || !changed {
			return err
		}
		asked, err = s.verifyContact(ctx, tx, out, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if asked {
		s.enqueued(1)
	}
	return out, nil
}

// RegisterOwnContact registers a contact for actor himself, signed in on
// a self-service page (EditOwnContacts: active users only). The contact
// is private (Scope empty or PrivateScope) or a family member's
// (FamilyScope); the work email is the administrators' to set, and a LINE
// contact comes from account linking (LinkLINE). An empty ID adds a
// contact with a fresh ID; the ID of one of his own private or family
// contacts replaces it (keeping its check state when the kind and address
// stay). The user ID is his (a different one is InvalidArgument). The
// contact must be valid (Contact.Validate) and within the limits
// (CheckContactLimits: FailedPrecondition, AlreadyExists for an address he
// has). It is stored unverified, and in the same transaction a
// confirmation link is queued to it (a private contact on a channel the
// Service has, new or with a new address): a delivery of the day's
// verification check, a contact check open for ContactVerifyWindow, so the
// user sees it verified as soon as he follows the link (audited as
// contact.verify). An audit entry (contact.register) records the contact
// without the address.
func (s *Service) RegisterOwnContact(ctx context.Context, actor UserID, c *Contact) (*Contact, error) {
	now := s.now()
	newID, err := s.newContactID()
	if err != nil {
		return nil, err
	}
	var out *Contact
	var asked bool
	err = s.st.InTx(ctx, func(tx Tx) error {
		az, who, err := s.authorizer(ctx, tx, actor)
		if err != nil {
			return err
		}
		if err := az.Authorize(who, EditOwnContacts, TargetUser(who.User)); err != nil {
			return err
		}
		var changed bool
		if out, changed, err = s.registerContact(ctx, tx, actor, c, newID, "self-service", now); err != nil || !changed {
			return err
		}
		asked, err = s.verifyContact(ctx, tx, out, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if asked {
		s.enqueued(1)
	}
	return out, nil
}

// newContactID returns a fresh contact ID from the Service's randomness.
func (s *Service) newContactID() (ContactID, error) {
	h, err := s.randomHex(12)
	if err != nil {
		return "", err
	}
	return ContactID("ct-" + h), nil
}

// registerContact stores c for user in tx; see RegisterOwnContact. changed
// reports whether the contact is new or has a new kind or address.
func (s *Service) registerContact(ctx context.Context, tx Tx, user UserID, c *Contact, newID ContactID, how string, now time.Time) (_ *Contact, changed bool, _ error) {
	if c == nil {
		return nil, false, Errorf(InvalidArgument, "anpi: register contact: nil contact")
	}
	n := c.Clone()
	what := "anpi: register contact"
	if n.UserID != "" && n.UserID != user {
		return nil, false, Errorf(InvalidArgument, "%s: the contact names user %s, not %s", what, n.UserID, user)
	}
	n.UserID = user
	if n.Scope == "" {
		n.Scope = PrivateScope
	}
	switch {
	case n.Scope != PrivateScope && n.Scope != FamilyScope:
		return nil, false, Errorf(InvalidArgument, "%s: scope %q: a user registers private or family contacts; administrators set the work email", what, n.Scope)
	case n.Kind == LINEContact:
		return nil, false, Errorf(InvalidArgument, "%s: a LINE contact comes from linking the LINE account, not from a form", what)
	}
	existing, err := tx.Contacts(ctx, user)
	if err != nil {
		return nil, false, err
	}
	action := "contact.register"
	n.Check, n.CreatedAt = ContactCheck{}, now
	if n.ID == "" {
		n.ID, changed = newID, true
	} else {
		i := slices.IndexFunc(existing, func(e *Contact) bool { return e.ID == n.ID })
		if i < 0 || existing[i].Scope == WorkScope {
			return nil, false, Errorf(NotFound, "%s: contact %s is not one of the user's own", what, n.ID)
		}
		old := existing[i]
		if old.Kind == n.Kind && old.Address == n.Address {
			n.Check = old.Check
		} else {
			changed = true
		}
		n.CreatedAt, action = old.CreatedAt, "contact.update"
	}
	if err := n.Validate(); err != nil {
		return nil, false, err
	}
	if err := CheckContactLimits(existing, n); err != nil {
		return nil, false, err
	}
	if err := tx.PutContact(ctx, n); err != nil {
		return nil, false, err
	}
	s.contactsChanged()
	if _, err := tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: user, Action: action, TargetKind: "contact", TargetID: string(n.ID),
		Detail: fmt.Sprintf("%s %s contact, via %s", n.Scope, n.Kind, how)}); err != nil {
		return nil, false, err
	}
	return n, changed, nil
}

// LINENonces is the NonceStore of LINE account linking (package
// channel/line: Linker.Begin puts a nonce, the webhook takes it on LINE's
// accountLink event) kept in the Service's store, so every replica shares
// it: a nonce is stored as the hash of an answer token of its user, good
// once and until it expires. Get it from Service.LINENonces; it implements
// line.NonceStore (Put, Take) without package anpi importing the adapter.
type LINENonces struct {
	s *Service
}

// LINENonces returns the NonceStore for LINE account linking over the
// Service's store.
func (s *Service) LINENonces() *LINENonces { return &LINENonces{s: s} }

// nonceHash is the stored hash of a LINE-link nonce, apart from the hashes
// of answer tokens (a nonce is no answer link).
func nonceHash(nonce string) TokenHash {
	return sha256.Sum256([]byte("anpi line link nonce\x00" + nonce))
}

// Put stores nonce for our user userID until expires. An empty nonce is
// InvalidArgument; an unknown user NotFound.
func (n *LINENonces) Put(ctx context.Context, nonce, userID string, expires time.Time) error {
	if nonce == "" || userID == "" {
		return Errorf(InvalidArgument, "anpi: line link: put nonce: empty nonce or user")
	}
	now := n.s.now()
	err := n.s.st.InTx(ctx, func(tx Tx) error {
		if _, err := tx.GetUser(ctx, UserID(userID)); err != nil {
			return err
		}
		if err := tokenSurvey(ctx, tx, lineLinkSurvey, "LINE連携 (LINE account links)", now); err != nil {
			return err
		}
		return tx.PutAnswerTokens(ctx, []*AnswerToken{{Hash: nonceHash(nonce), SurveyID: lineLinkSurvey, UserID: UserID(userID), CreatedAt: now, ExpiresAt: expires}})
	})
	if err != nil {
		return fmt.Errorf("anpi: line link: put nonce: %w", err)
	}
	return nil
}

// Take returns the user nonce was stored for and revokes it, in one
// transaction; ok is false for an unknown, expired or already taken nonce.
// Taking a nonce revokes the user's other pending nonces too (tokens are
// revoked per user): of two link attempts in flight, the first to finish
// wins.
func (n *LINENonces) Take(ctx context.Context, nonce string) (userID string, ok bool, err error) {
	now := n.s.now()
	err = n.s.st.InTx(ctx, func(tx Tx) error {
		t, err := tx.AnswerToken(ctx, nonceHash(nonce))
		if Code(err) == NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if t.SurveyID != lineLinkSurvey || !t.Usable(now) {
			return nil
		}
		k, err := tx.RevokeAnswerTokens(ctx, lineLinkSurvey, t.UserID, now)
		if err != nil {
			return err
		}
		userID, ok = string(t.UserID), k > 0 // 0: a concurrent Take revoked it first
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("anpi: line link: take nonce: %w", err)
	}
	if !ok {
		userID = ""
	}
	return userID, ok, nil
}

// LinkLINE registers lineUserID as user's LINE contact once LINE reports
// the account linked (line.Events.Linked): in one transaction, his private
// LINE contact is created (or its address replaced: a user has one), marked
// Verified at now with its errors cleared (linking proves he holds the
// account), and an audit entry (contact.link_line) records it without the
// LINE user ID. Linking again is harmless (LINE redelivers events). A
// malformed LINE user ID is InvalidArgument; an unknown user NotFound.
func (s *Service) LinkLINE(ctx context.Context, user UserID, lineUserID string) (ContactStatus, error) {
	now := s.now()
	var out ContactStatus
	var linked ContactID
	err := s.st.InTx(ctx, func(tx Tx) error {
		if _, err := tx.GetUser(ctx, user); err != nil {
			return err
		}
		existing, err := tx.Contacts(ctx, user)
		if err != nil {
			return err
		}
		c := &Contact{ID: ContactID(hashID("ct-line-", string(user))), UserID: user, Kind: LINEContact, Scope: PrivateScope, CreatedAt: now}
		if i := slices.IndexFunc(existing, func(e *Contact) bool { return e.Kind == LINEContact && e.Scope == PrivateScope }); i >= 0 {
			c = existing[i]
		}
		c.Address = lineUserID
		c.Check = ContactCheck{Verified: true, VerifiedAt: now, LastChecked: now}
		if err := c.Validate(); err != nil {
			return err
		}
		if err := CheckContactLimits(existing, c); err != nil {
			return err
		}
		if err := tx.PutContact(ctx, c); err != nil {
			return err
		}
		s.contactsChanged()
		out, linked = c.Status(), c.ID
		_, err = tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: user, Action: "contact.link_line", TargetKind: "contact", TargetID: string(c.ID),
			Detail: "LINE account linked"})
		return err
	})
	if err != nil {
		return ContactStatus{}, fmt.Errorf("anpi: link LINE for user %s: %w", user, err)
	}
	s.lineLinked(linked, lineUserID)
	return out, nil
}
