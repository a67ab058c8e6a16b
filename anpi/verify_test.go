package anpi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anpikit/anpi/anpi"
)

// TestRegisteredContactIsVerified: a contact registered from an invitation
// gets a confirmation link at once, to that address exactly; following it
// verifies the contact. A changed address gets a new link and the old link
// no longer confirms; an unchanged one is not asked again; a family
// member's contact is never asked.
func TestRegisteredContactIsVerified(t *testing.T) {
	e := newEnv(t)
	tok := e.invite("nobody")
	e.clock.Advance(time.Minute)

	c, err := e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{Kind: anpi.EmailContact, Address: "nobody@home.example"})
	require.NoError(t, err)
	require.False(t, c.Check.Verified)
	checks := e.contactChecks()
	require.Len(t, checks, 1, "the day's verification check")
	sv := checks[0]
	require.True(t, strings.HasPrefix(string(sv.ID), "contact-check-verify-"), sv.ID)
	require.Equal(t, anpi.ContactCheckSurvey, sv.Kind)
	require.Equal(t, e.clock.Now().Add(anpi.ContactVerifyWindow), sv.Deadline)
	require.Equal(t, []string{"nobody"}, e.recipients(sv.ID))
	ds := e.deliveries(sv.ID)
	require.Len(t, ds, 1)
	d := ds["nobody/email"]
	require.Equal(t, c.ID, d.ContactID)
	require.Equal(t, anpi.Queued, d.State)

	m, cid, err := e.svc.Render(e.ctx, d)
	require.NoError(t, err)
	require.Equal(t, c.ID, cid)
	require.Equal(t, "nobody@home.example", m.To)
	link := checkTokenOf(t, m.URL)

	// The family's phone is not asked; the same address again is not asked
	// again.
	_, err = e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{Kind: anpi.PhoneContact, Scope: anpi.FamilyScope, Address: "+819055556666"})
	require.NoError(t, err)
	_, err = e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{ID: c.ID, Kind: anpi.EmailContact, Address: "nobody@home.example", Label: "自宅"})
	require.NoError(t, err)
	require.Len(t, e.deliveries(sv.ID), 1)

	// Following the link verifies the contact.
	got, err := e.svc.ConfirmContact(e.ctx, link)
	require.NoError(t, err)
	require.Equal(t, c.ID, got.Contact.ID)
	require.True(t, e.contact(c.ID).Check.Verified)

	// A new address starts unverified; a phone registered the same day is
	// asked in the same check; the email's old link no longer confirms it
	// (it names the old address).
	c2, err := e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{ID: c.ID, Kind: anpi.EmailContact, Address: "nobody@new.example"})
	require.NoError(t, err)
	require.False(t, c2.Check.Verified)
	p, err := e.svc.RegisterContact(e.ctx, tok, &anpi.Contact{Kind: anpi.PhoneContact, Address: "+819077778888"})
	require.NoError(t, err)
	require.Len(t, e.contactChecks(), 1)
	ds = e.deliveries(sv.ID)
	require.Len(t, ds, 2)
	require.Equal(t, p.ID, ds["nobody/sms"].ContactID)
	_, err = e.svc.ConfirmContact(e.ctx, link)
	require.NoError(t, err, "the answer is recorded")
	require.False(t, e.contact(c.ID).Check.Verified, "but the old address's link does not verify the new address")

	// The next day's registration opens the next day's check.
	e.clock.Advance(24 * time.Hour)
	_, err = e.svc.RegisterOwnContact(e.ctx, "nobody", &anpi.Contact{ID: c.ID, Kind: anpi.EmailContact, Address: "nobody@third.example"})
	require.NoError(t, err)
	require.Len(t, e.contactChecks(), 2, "signed in, on the next day")
}
