package anpi

import (
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ContactID identifies a contact.
type ContactID string

// ContactKind is the kind of address a contact holds.
type ContactKind string

// The contact kinds.
const (
	EmailContact ContactKind = "email"
	FCMContact   ContactKind = "fcm"   // Firebase Cloud Messaging registration token (Android, iOS via FCM)
	APNsContact  ContactKind = "apns"  // Apple Push Notification service device token
	LINEContact  ContactKind = "line"  // LINE user ID (U + 32 hex digits), obtained by account linking
	PhoneContact ContactKind = "phone" // E.164 phone number, for SMS and voice calls
)

// Valid reports whether k is a known kind.
func (k ContactKind) Valid() bool {
	switch k {
	case EmailContact, FCMContact, APNsContact, LINEContact, PhoneContact:
		return true
	}
	return false
}

// ContactScope says who registered a contact and so who may see its address.
type ContactScope string

// The contact scopes.
const (
	// WorkScope: set by administrators (the work email); not private.
	WorkScope ContactScope = "work"
	// PrivateScope: registered by the user himself; only he sees the address.
	PrivateScope ContactScope = "private"
	// FamilyScope: a family member's address the user registered; private too.
	FamilyScope ContactScope = "family"
)

// Valid reports whether s is a known scope.
func (s ContactScope) Valid() bool { return s == WorkScope || s == PrivateScope || s == FamilyScope }

// Limits on the contacts of one user.
const (
	MaxPrivateEmails  = 3 // private email addresses per user
	MaxPrivatePerKind = 1 // private contacts of each other kind (app push, LINE, phone)
	MaxFamilyContacts = 8 // family contacts per user
	MaxAddressLen     = 512
	MaxContactLabel   = 40 // characters
)

// Contact is an address on one channel. The full value, address included,
// is for the owner and for delivery only; administrators get ContactStatus,
// which has no address at all.
type Contact struct {
	ID      ContactID    `json:"id"`
	UserID  UserID       `json:"userId"`
	Kind    ContactKind  `json:"kind"`
	Scope   ContactScope `json:"scope"`
	Address string       `json:"address"`
	// Label names a family member or a device ("妻", "iPhone"); private too.
	Label     string       `json:"label,omitempty"`
	Check     ContactCheck `json:"check"`
	CreatedAt time.Time    `json:"createdAt"`
}

// ContactCheck is what is known about whether a contact works.
type ContactCheck struct {
	Verified    bool      `json:"verified"`             // the owner proved he receives on it
	VerifiedAt  time.Time `json:"verifiedAt,omitzero"`  // when last proved
	LastChecked time.Time `json:"lastChecked,omitzero"` // last contact check or delivery
	LastError   string    `json:"lastError,omitempty"`  // last delivery error, if the last attempt failed
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"` // when it failed
	Broken      bool      `json:"broken,omitempty"`     // the provider said the address is gone
}

// Validate checks the contact's fields (not the per-user limits; see
// CheckContactLimits).
func (c *Contact) Validate() error {
	if err := checkID("contact id", string(c.ID)); err != nil {
		return err
	}
	if err := checkID("contact "+string(c.ID)+": user id", string(c.UserID)); err != nil {
		return err
	}
	if !c.Kind.Valid() {
		return Errorf(InvalidArgument, "anpi: contact %s: unknown kind %q", c.ID, c.Kind)
	}
	if !c.Scope.Valid() {
		return Errorf(InvalidArgument, "anpi: contact %s: unknown scope %q", c.ID, c.Scope)
	}
	if c.Address == "" || len(c.Address) > MaxAddressLen || strings.TrimSpace(c.Address) != c.Address {
		return Errorf(InvalidArgument, "anpi: contact %s: address is empty, too long or padded with spaces", c.ID)
	}
	if utf8.RuneCountInString(c.Label) > MaxContactLabel {
		return Errorf(InvalidArgument, "anpi: contact %s: label longer than %d characters", c.ID, MaxContactLabel)
	}
	switch c.Kind {
	case EmailContact:
		if err := checkEmail(c.Address); err != nil {
			return Errorf(InvalidArgument, "anpi: contact %s: %w", c.ID, err)
		}
	case PhoneContact:
		if !validE164(c.Address) {
			return Errorf(InvalidArgument, "anpi: contact %s: phone number must be E.164, like +819012345678", c.ID)
		}
	case LINEContact:
		if len(c.Address) != 33 || c.Address[0] != 'U' || strings.Trim(c.Address[1:], "0123456789abcdef") != "" {
			return Errorf(InvalidArgument, "anpi: contact %s: LINE user ID must be U followed by 32 hex digits", c.ID)
		}
	}
	if c.Scope == FamilyScope && c.Kind != EmailContact && c.Kind != PhoneContact {
		return Errorf(InvalidArgument, "anpi: contact %s: a family contact is an email or a phone number, not %s", c.ID, c.Kind)
	}
	if c.Scope == WorkScope && c.Kind != EmailContact {
		return Errorf(InvalidArgument, "anpi: contact %s: the work contact is an email address", c.ID)
	}
	return nil
}

func validE164(s string) bool {
	return len(s) >= 8 && len(s) <= 16 && s[0] == '+' && s[1] != '0' && strings.Trim(s[1:], "0123456789") == ""
}

// CheckContactLimits reports whether a user who has the contacts existing may
// add c (or replace the contact with c's ID): at most MaxPrivateEmails
// private emails, MaxPrivatePerKind of each other private kind, one work
// email and MaxFamilyContacts family contacts.
func CheckContactLimits(existing []*Contact, c *Contact) error {
	n := 0
	for _, e := range existing {
		if e.ID == c.ID {
			continue
		}
		if e.Kind == c.Kind && e.Address == c.Address {
			return Errorf(AlreadyExists, "anpi: contact %s: the user already has this %s address", c.ID, c.Kind)
		}
		if e.Scope == c.Scope && (c.Scope == FamilyScope || e.Kind == c.Kind) {
			n++
		}
	}
	limit := MaxPrivatePerKind
	switch {
	case c.Scope == FamilyScope:
		limit = MaxFamilyContacts
	case c.Scope == WorkScope:
		limit = 1
	case c.Kind == EmailContact:
		limit = MaxPrivateEmails
	}
	if n >= limit {
		return Errorf(FailedPrecondition, "anpi: contact %s: user %s already has %d %s %s contacts (limit %d)", c.ID, c.UserID, n, c.Scope, c.Kind, limit)
	}
	return nil
}

// Clone returns a copy of c.
func (c *Contact) Clone() *Contact { d := *c; return &d }

// Status returns what an administrator may know of the contact: never the
// address, and the last error with the address blanked out (providers echo
// it in bounce messages).
func (c *Contact) Status() ContactStatus {
	errText := c.Check.LastError
	if c.Scope != WorkScope && c.Address != "" {
		errText = redact(errText, c.Address)
		if at := strings.IndexByte(c.Address, '@'); at >= 4 { // a local part alone identifies a person too (shorter ones would blank ordinary words)
			errText = redact(errText, c.Address[:at])
		}
		if c.Kind == PhoneContact && strings.HasPrefix(c.Address, "+") { // providers echo numbers without the + or in national form
			digits := c.Address[1:]
			errText = redact(errText, digits)
			if rest, ok := strings.CutPrefix(digits, "81"); ok && rest != "" {
				errText = redact(errText, "0"+rest)
			}
		}
		errText = scrubIdentifiers(errText)
	}
	return ContactStatus{
		ID:          c.ID,
		Kind:        c.Kind,
		Scope:       c.Scope,
		Registered:  true,
		Verified:    c.Check.Verified,
		LastChecked: c.Check.LastChecked,
		LastError:   errText,
		LastErrorAt: c.Check.LastErrorAt,
		Broken:      c.Check.Broken,
	}
}

// redact replaces every occurrence of secret in s, ignoring case (mail
// servers echo addresses in any case), with "<redacted>".
func redact(s, secret string) string {
	if secret == "" || s == "" {
		return s
	}
	return regexp.MustCompile("(?i)"+regexp.QuoteMeta(secret)).ReplaceAllLiteralString(s, "<redacted>")
}

// scrubIdentifiers blanks anything in a provider message that looks like an
// address of any person: email addresses, phone numbers (seven digits or
// more, with or without separators) and long tokens (push tokens, LINE
// IDs). It is the safety net behind the exact redactions in Status, for
// echoes in forms nobody foresaw. Short codes such as "550 5.1.1" survive.
func scrubIdentifiers(s string) string {
	if s == "" {
		return s
	}
	for _, pattern := range []string{
		`[^\s<>()\[\]"',;:]+@[^\s<>()\[\]"',;:]+`, // email addresses
		`\+?\d(?:[\s\-().]*\d){6,}`,               // phone numbers
		`[A-Za-z0-9_\-:]{20,}`,                    // tokens and IDs
	} {
		s = regexp.MustCompile(pattern).ReplaceAllLiteralString(s, "<redacted>")
	}
	return s
}

// ContactStatus is an administrator's view of one contact (連絡網): whether it
// is registered and works. It has no address field, so no code path can leak
// a private address through it.
type ContactStatus struct {
	ID          ContactID    `json:"id"`
	Kind        ContactKind  `json:"kind"`
	Scope       ContactScope `json:"scope"`
	Registered  bool         `json:"registered"`
	Verified    bool         `json:"verified"`
	LastChecked time.Time    `json:"lastChecked,omitzero"`
	LastError   string       `json:"lastError,omitempty"`
	LastErrorAt time.Time    `json:"lastErrorAt,omitzero"`
	Broken      bool         `json:"broken,omitempty"`
}

// AdminUserView is what an administrator sees of a user: the directory
// record and, per contact, its status without the address.
type AdminUserView struct {
	User     User            `json:"user"`
	Contacts []ContactStatus `json:"contacts"`
}

// NewAdminUserView builds the administrator's view of u from its contacts.
func NewAdminUserView(u *User, contacts []*Contact) *AdminUserView {
	v := &AdminUserView{User: *u.Clone(), Contacts: make([]ContactStatus, 0, len(contacts))}
	for _, c := range contacts {
		v.Contacts = append(v.Contacts, c.Status())
	}
	slices.SortFunc(v.Contacts, func(a, b ContactStatus) int { return strings.Compare(string(a.ID), string(b.ID)) })
	return v
}

// HasPrivateContact reports whether the view shows at least one registered
// private contact (administrators chase users who have none).
func (v *AdminUserView) HasPrivateContact() bool {
	return slices.ContainsFunc(v.Contacts, func(s ContactStatus) bool { return s.Scope == PrivateScope && s.Registered })
}
