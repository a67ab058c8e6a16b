package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

func contact(id, user string, kind anpi.ContactKind, scope anpi.ContactScope, addr string) *anpi.Contact {
	return &anpi.Contact{ID: anpi.ContactID(id), UserID: anpi.UserID(user), Kind: kind, Scope: scope, Address: addr, CreatedAt: t0()}
}

func testContacts(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	mustUser(t, st, newUser("u1", "E1"))
	mustUser(t, st, newUser("u2", "E2"))

	work := contact("w", "u1", anpi.EmailContact, anpi.WorkScope, "u1@corp.example.jp")
	require.NoError(t, st.PutContact(ctx, work))
	for i := 1; i <= anpi.MaxPrivateEmails; i++ {
		require.NoError(t, st.PutContact(ctx, contact(fmt.Sprintf("p%d", i), "u1", anpi.EmailContact, anpi.PrivateScope, fmt.Sprintf("me%d@home.example.jp", i))))
	}
	line := contact("line", "u1", anpi.LINEContact, anpi.PrivateScope, "U"+strings.Repeat("0123456789abcdef", 2))
	line.Label = "LINE"
	require.NoError(t, st.PutContact(ctx, line))
	require.NoError(t, st.PutContact(ctx, contact("fam", "u1", anpi.PhoneContact, anpi.FamilyScope, "+819012345678")))

	requireCode(t, anpi.FailedPrecondition, st.PutContact(ctx, contact("p4", "u1", anpi.EmailContact, anpi.PrivateScope, "me4@home.example.jp")), "a fourth private email")
	requireCode(t, anpi.FailedPrecondition, st.PutContact(ctx, contact("line2", "u1", anpi.LINEContact, anpi.PrivateScope, "U"+strings.Repeat("fedcba9876543210", 2))), "a second LINE")
	requireCode(t, anpi.FailedPrecondition, st.PutContact(ctx, contact("w2", "u1", anpi.EmailContact, anpi.WorkScope, "other@corp.example.jp")), "a second work email")
	requireCode(t, anpi.AlreadyExists, st.PutContact(ctx, contact("fam2", "u1", anpi.PhoneContact, anpi.FamilyScope, "+819012345678")), "the same family number twice")
	requireCode(t, anpi.NotFound, st.PutContact(ctx, contact("x", "ghost", anpi.EmailContact, anpi.PrivateScope, "g@example.jp")), "unknown user")
	requireCode(t, anpi.InvalidArgument, st.PutContact(ctx, contact("x", "u1", anpi.PhoneContact, anpi.PrivateScope, "090-1234-5678")), "not E.164")
	requireCode(t, anpi.InvalidArgument, st.PutContact(ctx, contact("x", "u1", anpi.EmailContact, anpi.PrivateScope, "not an address")), "not an email")
	_, err := st.GetContact(ctx, "p4")
	requireCode(t, anpi.NotFound, err, "refused contacts are not stored")

	// Other users have their own limits.
	require.NoError(t, st.PutContact(ctx, contact("u2p1", "u2", anpi.EmailContact, anpi.PrivateScope, "me1@home.example.jp")))

	// Replacing a contact does not count it twice.
	p2 := contact("p2", "u1", anpi.EmailContact, anpi.PrivateScope, "new2@home.example.jp")
	p2.Label = "携帯"
	require.NoError(t, st.PutContact(ctx, p2))
	got, err := st.GetContact(ctx, "p2")
	require.NoError(t, err)
	require.Equal(t, p2, got)
	got, err = st.GetContact(ctx, "line")
	require.NoError(t, err)
	require.Equal(t, line, got)

	list, err := st.Contacts(ctx, "u1")
	require.NoError(t, err)
	require.ElementsMatch(t, []anpi.ContactID{"w", "p1", "p2", "p3", "line", "fam"}, ids(list, func(c *anpi.Contact) anpi.ContactID { return c.ID }))
	for _, c := range list {
		require.NotEmpty(t, c.Address, "Contacts includes addresses")
	}

	check := anpi.ContactCheck{Verified: true, VerifiedAt: at(1), LastChecked: at(2), LastError: "mailbox full", LastErrorAt: at(2), Broken: true}
	require.NoError(t, st.RecordContactCheck(ctx, "p1", check))
	got, err = st.GetContact(ctx, "p1")
	require.NoError(t, err)
	require.Equal(t, check, got.Check)
	require.Equal(t, "me1@home.example.jp", got.Address, "a check changes only the check")
	requireCode(t, anpi.NotFound, st.RecordContactCheck(ctx, "ghost", check))

	require.NoError(t, st.DeleteContact(ctx, "p3"))
	_, err = st.GetContact(ctx, "p3")
	requireCode(t, anpi.NotFound, err)
	requireCode(t, anpi.NotFound, st.DeleteContact(ctx, "p3"), "delete twice")
	require.NoError(t, st.PutContact(ctx, contact("p4", "u1", anpi.EmailContact, anpi.PrivateScope, "me4@home.example.jp")), "a deleted contact frees its slot")
	list, err = st.Contacts(ctx, "u2")
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func testAdminViewPrivacy(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	u := newUser("u1", "E1")
	u.WorkEmail = "taro.yamada@corp.example.jp"
	mustUser(t, st, u)

	lineID := "U" + strings.Repeat("89abcdef01234567", 2)
	private := []*anpi.Contact{
		{ID: "pe", Kind: anpi.EmailContact, Scope: anpi.PrivateScope, Address: "hanako.secret@home.example.jp", Label: "私用アドレス"},
		{ID: "fam", Kind: anpi.PhoneContact, Scope: anpi.FamilyScope, Address: "+819087654321", Label: "妻の携帯"},
		{ID: "fe", Kind: anpi.EmailContact, Scope: anpi.FamilyScope, Address: "jiro.kazoku@family.example.jp", Label: "次郎"},
		{ID: "line", Kind: anpi.LINEContact, Scope: anpi.PrivateScope, Address: lineID, Label: "山田のLINE"},
		{ID: "fcm", Kind: anpi.FCMContact, Scope: anpi.PrivateScope, Address: "fcm-token-zq9x8w7v6u5t", Label: "Pixel 端末"},
	}
	work := &anpi.Contact{ID: "work", Kind: anpi.EmailContact, Scope: anpi.WorkScope, Address: u.WorkEmail}
	for _, c := range append(private, work) {
		c.UserID = u.ID
		c.CreatedAt = t0()
		require.NoError(t, st.PutContact(ctx, c))
		// Providers echo the address in bounce messages, in any case, and
		// phone numbers without the + or in national form.
		echo := fmt.Sprintf("550 5.1.1 <%s>: recipient rejected (%s)", c.Address, strings.ToUpper(c.Address))
		if c.Kind == anpi.PhoneContact {
			echo += " to " + strings.TrimPrefix(c.Address, "+") + " (0" + strings.TrimPrefix(c.Address, "+81") + ")"
		}
		require.NoError(t, st.RecordContactCheck(ctx, c.ID, anpi.ContactCheck{
			LastChecked: at(1), LastErrorAt: at(1), Broken: true, LastError: echo,
		}))
	}

	v, err := st.AdminUserView(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, u.ID, v.User.ID)
	require.Len(t, v.Contacts, len(private)+1)
	for _, cs := range v.Contacts {
		require.True(t, cs.Registered, "contact %s", cs.ID)
		require.True(t, cs.Broken, "contact %s: the check state is shown", cs.ID)
	}
	require.True(t, v.HasPrivateContact())

	js, err := json.Marshal(v)
	require.NoError(t, err)
	texts := map[string]string{"json": string(js), "%+v": fmt.Sprintf("%+v", v), "%#v": fmt.Sprintf("%#v", v)}
	for _, c := range v.Contacts {
		texts["%+v "+string(c.ID)] = fmt.Sprintf("%+v", c)
	}
	for how, text := range texts {
		// Positive control: the work email is the administrator's to see.
		if how == "json" {
			require.Contains(t, text, u.WorkEmail, "the view should still show the work email")
		}
		lower := strings.ToLower(text)
		for _, c := range private {
			require.NotContains(t, lower, strings.ToLower(c.Address), "%s of the admin view leaks a private address", how)
			if c.Kind == anpi.PhoneContact {
				require.NotContains(t, text, strings.TrimPrefix(c.Address, "+"), "%s of the admin view leaks a phone number", how)
				require.NotContains(t, text, "0"+strings.TrimPrefix(c.Address, "+81"), "%s of the admin view leaks a phone number in national form", how)
			}
			require.NotContains(t, text, c.Label, "%s of the admin view leaks a private label", how)
			if local, _, ok := strings.Cut(c.Address, "@"); ok {
				require.NotContains(t, lower, strings.ToLower(local), "%s of the admin view leaks a private address's local part", how)
			}
		}
	}

	_, err = st.AdminUserView(ctx, "ghost")
	requireCode(t, anpi.NotFound, err)
}
