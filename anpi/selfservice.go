package anpi

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The self-service page behind an invitation link (package anpi/web, /r/)
// shows the user his own contacts. Invitee (RedeemInvitation) has only
// their statuses; the page also needs a hint of each address, so the user
// can tell his two private emails apart, without showing the address to
// whoever else holds the link (it may be forwarded or printed): the
// addresses are masked here, in the Service, so the page never receives
// them.

// OwnContact is one of a user's contacts as his self-service page shows
// it: its status, its label, and its address masked (MaskAddress).
type OwnContact struct {
	ContactStatus
	Label  string `json:"label,omitempty"`
	Masked string `json:"masked"`
}

// SelfServiceView is what the self-service page behind an invitation link
// shows: the user, his contacts (addresses masked), when the link expires,
// and whether he may edit his own regions (Settings.UsersMayEditRegions).
type SelfServiceView struct {
	User           *User
	Contacts       []OwnContact
	ExpiresAt      time.Time
	MayEditRegions bool
}

// InvitationView returns the self-service page's view for an invitation
// token (the GET of the page): the user, his contacts sorted by kind,
// scope and ID with addresses masked, and whether the settings let him
// edit his regions. It records nothing. Tokens are checked as by
// RedeemInvitation: NotFound, the same for every bad token.
func (s *Service) InvitationView(ctx context.Context, token string) (*SelfServiceView, error) {
	now := s.now()
	t, u, err := invitationIn(ctx, s.st, token, now)
	if err != nil {
		return nil, err
	}
	az, who, err := s.authorizer(ctx, s.st, u.ID)
	if err != nil {
		return nil, fmt.Errorf("anpi: invitation view: %w", err)
	}
	cs, err := s.st.Contacts(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("anpi: invitation view: %w", err)
	}
	v := &SelfServiceView{User: u, ExpiresAt: t.ExpiresAt,
		MayEditRegions: az.Authorize(who, EditOwnRegions, TargetUser(u)) == nil}
	for _, c := range cs {
		v.Contacts = append(v.Contacts, OwnContact{ContactStatus: c.Status(), Label: c.Label, Masked: MaskAddress(c.Kind, c.Address)})
	}
	slices.SortFunc(v.Contacts, func(a, b OwnContact) int {
		return cmp.Or(cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)), strings.Compare(string(a.Scope), string(b.Scope)),
			strings.Compare(string(a.ID), string(b.ID)))
	})
	return v, nil
}

// kindOrder is the order the page lists contact kinds in: the ones a
// person types first, then the ones apps and linking register.
func kindOrder(k ContactKind) int {
	switch k {
	case EmailContact:
		return 0
	case PhoneContact:
		return 1
	case LINEContact:
		return 2
	case FCMContact, APNsContact:
		return 3
	}
	return 4
}

// mask is the character that stands for hidden ones.
const mask = "•"

// MaskAddress returns a hint of an address that lets its owner recognise
// it without telling anyone else what it is: an email keeps the first
// character of its local part and its domain (t•••@home.example), a phone
// number its first three and last four characters (+81•••••2222); app
// tokens and LINE user IDs, which nobody recognises anyway, show nothing
// of themselves. The number of mask characters is fixed, so the hint does
// not give the length away either.
func MaskAddress(k ContactKind, address string) string {
	switch k {
	case EmailContact:
		at := strings.LastIndexByte(address, '@')
		if at < 1 {
			return mask + mask + mask
		}
		_, n := utf8.DecodeRuneInString(address)
		return address[:n] + mask + mask + mask + address[at:]
	case PhoneContact:
		if len(address) < 8 {
			return strings.Repeat(mask, 5)
		}
		return address[:3] + strings.Repeat(mask, 5) + address[len(address)-4:]
	}
	return strings.Repeat(mask, 4)
}

// SetInvitationRegions replaces the regions of the user an invitation link
// belongs to (the regions form of the self-service page). He needs
// EditOwnRegions, which Settings.UsersMayEditRegions grants (otherwise
// PermissionDenied, and suspended users may not either). Each region must
// be valid (Region.Validate); duplicates are dropped; more than MaxRegions
// is InvalidArgument. In one transaction the user record is updated and an
// audit entry (user.regions) records the new list. The token is checked as
// by RedeemInvitation. Nothing changes on error.
func (s *Service) SetInvitationRegions(ctx context.Context, token string, regions []Region) (*User, error) {
	now := s.now()
	var out *User
	err := s.st.InTx(ctx, func(tx Tx) error {
		_, u, err := invitationIn(ctx, tx, token, now)
		if err != nil {
			return err
		}
		az, who, err := s.authorizer(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if err := az.Authorize(who, EditOwnRegions, TargetUser(u)); err != nil {
			return err
		}
		n := u.Clone()
		n.Regions = nil
		for _, r := range regions {
			if !slices.Contains(n.Regions, r) {
				n.Regions = append(n.Regions, r)
			}
		}
		if len(n.Regions) > MaxRegions {
			return Errorf(InvalidArgument, "anpi: regions: %d regions, at most %d", len(n.Regions), MaxRegions)
		}
		n.UpdatedAt = now
		if err := n.Validate(); err != nil {
			return err
		}
		if err := tx.UpdateUser(ctx, n); err != nil {
			return err
		}
		names := make([]string, len(n.Regions))
		for i, r := range n.Regions {
			names[i] = r.String()
		}
		detail := "regions: " + strings.Join(names, " ")
		if len(names) == 0 {
			detail = "regions: none"
		}
		if _, err := tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: u.ID, Action: "user.regions", TargetKind: "user", TargetID: string(u.ID),
			Detail: detail + ", via invitation"}); err != nil {
			return err
		}
		out = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("anpi: set own regions: %w", err)
	}
	return out, nil
}
