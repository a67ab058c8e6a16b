package anpi_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

func TestMaskAddress(t *testing.T) {
	for _, c := range []struct {
		kind     anpi.ContactKind
		in, want string
	}{
		{anpi.EmailContact, "taro@home.example", "t•••@home.example"},
		{anpi.EmailContact, "t@home.example", "t•••@home.example"},
		{anpi.EmailContact, "太郎@home.example", "太•••@home.example"},
		{anpi.EmailContact, "@home.example", "•••"},
		{anpi.PhoneContact, "+819011112222", "+81•••••2222"},
		{anpi.PhoneContact, "+8190", "•••••"},
		{anpi.FCMContact, "fcm-token-nobody", "••••"},
		{anpi.LINEContact, "U0123456789abcdef0123456789abcdef", "••••"},
	} {
		require.Equal(t, c.want, anpi.MaskAddress(c.kind, c.in), "%s %q", c.kind, c.in)
	}
}

// TestInvitationView shows a user his contacts, masked, and records nothing.
func TestInvitationView(t *testing.T) {
	e := newEnv(t)
	tok := e.invite("nobody")
	_, err := e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{Kind: anpi.PhoneContact, Address: "+819011112222"})
	require.NoError(t, err)
	_, err = e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{Kind: anpi.EmailContact, Scope: anpi.FamilyScope, Address: "hanako@family.example", Label: "妻"})
	require.NoError(t, err)
	before, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{})
	require.NoError(t, err)

	v, err := e.svc.InvitationView(e.ctx, tok)
	require.NoError(t, err)
	require.Equal(t, anpi.UserID("nobody"), v.User.ID)
	require.False(t, v.MayEditRegions, "the zero settings let nobody edit his regions")
	require.Len(t, v.Contacts, 2)
	require.Equal(t, anpi.EmailContact, v.Contacts[0].Kind, "emails first")
	require.Equal(t, "h•••@family.example", v.Contacts[0].Masked)
	require.Equal(t, "妻", v.Contacts[0].Label)
	require.Equal(t, "+81•••••2222", v.Contacts[1].Masked)
	require.False(t, v.Contacts[1].Verified)
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NotContains(t, string(b), "hanako")
	require.NotContains(t, string(b), "11112222")

	after, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{})
	require.NoError(t, err)
	require.Len(t, after, len(before), "a view records nothing")

	_, err = e.svc.InvitationView(e.ctx, "not-a-token")
	require.Equal(t, anpi.NotFound, anpi.Code(err))
}

// TestSetInvitationRegions edits one's own regions only when the settings
// allow it, audits the change, and changes nothing on bad input.
func TestSetInvitationRegions(t *testing.T) {
	e := newEnv(t)
	tok := e.invite("nobody")
	sendai := anpi.Region{Kind: anpi.QuakeArea, Code: "222"}

	_, err := e.svc.SetInvitationRegions(e.ctx, tok, []anpi.Region{sendai})
	require.Equal(t, anpi.PermissionDenied, anpi.Code(err), "the setting is off")
	u, err := e.st.GetUser(e.ctx, "nobody")
	require.NoError(t, err)
	require.NotContains(t, u.Regions, sendai)
	old := u.Regions

	require.NoError(t, e.st.PutSettings(e.ctx, anpi.Settings{UsersMayEditRegions: true}))
	v, err := e.svc.InvitationView(e.ctx, tok)
	require.NoError(t, err)
	require.True(t, v.MayEditRegions)

	_, err = e.svc.SetInvitationRegions(e.ctx, tok, []anpi.Region{sendai, {Kind: anpi.QuakeArea, Code: "22"}})
	require.Equal(t, anpi.InvalidArgument, anpi.Code(err))
	u, err = e.st.GetUser(e.ctx, "nobody")
	require.NoError(t, err)
	require.Equal(t, old, u.Regions, "nothing changed")

	got, err := e.svc.SetInvitationRegions(e.ctx, tok, []anpi.Region{sendai, sendai})
	require.NoError(t, err)
	require.Equal(t, []anpi.Region{sendai}, got.Regions, "duplicates dropped")
	u, err = e.st.GetUser(e.ctx, "nobody")
	require.NoError(t, err)
	require.Equal(t, []anpi.Region{sendai}, u.Regions)
	audit, err := e.st.ListAudit(e.ctx, &anpi.AuditQuery{TargetID: "nobody"})
	require.NoError(t, err)
	require.Equal(t, "user.regions", audit[len(audit)-1].Action)
	require.Equal(t, anpi.UserID("nobody"), audit[len(audit)-1].Actor)
	require.Contains(t, audit[len(audit)-1].Detail, "quake:222")

	_, err = e.svc.SetInvitationRegions(e.ctx, "not-a-token", nil)
	require.Equal(t, anpi.NotFound, anpi.Code(err))
}
