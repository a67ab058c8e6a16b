package anpi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestContactValidate(t *testing.T) {
	ok := []*Contact{
		{ID: "c1", UserID: "u1", Kind: EmailContact, Scope: PrivateScope, Address: "me@example.jp"},
		{ID: "c2", UserID: "u1", Kind: PhoneContact, Scope: PrivateScope, Address: "+819012345678"},
		{ID: "c3", UserID: "u1", Kind: LINEContact, Scope: PrivateScope, Address: "U" + strings.Repeat("ab", 16)},
		{ID: "c4", UserID: "u1", Kind: FCMContact, Scope: PrivateScope, Address: "token:abc"},
		{ID: "c5", UserID: "u1", Kind: PhoneContact, Scope: FamilyScope, Address: "+819012345679", Label: "妻"},
		{ID: "c6", UserID: "u1", Kind: EmailContact, Scope: WorkScope, Address: "work@example.jp"},
	}
	for _, c := range ok {
		require.NoError(t, c.Validate(), c.ID)
	}
	for _, tc := range []struct {
		c   Contact
		err string
	}{
		{Contact{ID: "x", UserID: "u1", Kind: "fax", Scope: PrivateScope, Address: "1"}, `unknown kind "fax"`},
		{Contact{ID: "x", UserID: "u1", Kind: EmailContact, Scope: "public", Address: "a@b.jp"}, `unknown scope "public"`},
		{Contact{ID: "x", UserID: "u1", Kind: EmailContact, Scope: PrivateScope, Address: "nope"}, "not an email address"},
		{Contact{ID: "x", UserID: "u1", Kind: PhoneContact, Scope: PrivateScope, Address: "090-1234-5678"}, "E.164"},
		{Contact{ID: "x", UserID: "u1", Kind: LINEContact, Scope: PrivateScope, Address: "U123"}, "LINE user ID"},
		{Contact{ID: "x", UserID: "u1", Kind: LINEContact, Scope: FamilyScope, Address: "U" + strings.Repeat("ab", 16)}, "family contact"},
		{Contact{ID: "x", UserID: "u1", Kind: PhoneContact, Scope: WorkScope, Address: "+819012345678"}, "work contact"},
		{Contact{ID: "x", UserID: "u1", Kind: EmailContact, Scope: PrivateScope, Address: ""}, "address is empty"},
		{Contact{ID: "", UserID: "u1", Kind: EmailContact, Scope: PrivateScope, Address: "a@b.jp"}, "contact id is required"},
	} {
		err := tc.c.Validate()
		require.ErrorContains(t, err, tc.err)
		require.Equal(t, InvalidArgument, Code(err))
	}
}

func TestContactLimits(t *testing.T) {
	var existing []*Contact
	add := func(c *Contact) error {
		err := CheckContactLimits(existing, c)
		if err == nil {
			existing = append(existing, c)
		}
		return err
	}
	for i := range MaxPrivateEmails {
		require.NoError(t, add(&Contact{ID: ContactID(fmt.Sprint("e", i)), UserID: "u1", Kind: EmailContact, Scope: PrivateScope, Address: fmt.Sprintf("p%d@example.jp", i)}))
	}
	err := add(&Contact{ID: "e9", UserID: "u1", Kind: EmailContact, Scope: PrivateScope, Address: "p9@example.jp"})
	require.Equal(t, FailedPrecondition, Code(err))
	require.ErrorContains(t, err, "limit 3")
	// Replacing an existing contact does not count it twice.
	require.NoError(t, CheckContactLimits(existing, &Contact{ID: "e0", UserID: "u1", Kind: EmailContact, Scope: PrivateScope, Address: "new@example.jp"}))
	// The same address twice is refused.
	require.Equal(t, AlreadyExists, Code(CheckContactLimits(existing, &Contact{ID: "z", UserID: "u1", Kind: EmailContact, Scope: FamilyScope, Address: "p1@example.jp"})))

	require.NoError(t, add(&Contact{ID: "l1", UserID: "u1", Kind: LINEContact, Scope: PrivateScope, Address: "U" + strings.Repeat("0", 32)}))
	require.Equal(t, FailedPrecondition, Code(add(&Contact{ID: "l2", UserID: "u1", Kind: LINEContact, Scope: PrivateScope, Address: "U" + strings.Repeat("1", 32)})))

	for i := range MaxFamilyContacts {
		require.NoError(t, add(&Contact{ID: ContactID(fmt.Sprint("f", i)), UserID: "u1", Kind: PhoneContact, Scope: FamilyScope, Address: fmt.Sprintf("+8190000000%02d", i)}))
	}
	require.Equal(t, FailedPrecondition, Code(add(&Contact{ID: "f9", UserID: "u1", Kind: EmailContact, Scope: FamilyScope, Address: "fam@example.jp"})))
}

func TestAdminViewHasNoPrivateAddress(t *testing.T) {
	u := validUser()
	private := &Contact{ID: "c1", UserID: u.ID, Kind: EmailContact, Scope: PrivateScope, Address: "hanako.private@example.net", Label: "個人用",
		Check: ContactCheck{LastError: "550 5.1.1 <hanako.private@example.net>: user unknown (hanako.private)"}}
	family := &Contact{ID: "c2", UserID: u.ID, Kind: PhoneContact, Scope: FamilyScope, Address: "+819099990000", Label: "母",
		Check: ContactCheck{Verified: true, LastError: "21211 invalid To +819099990000"}}
	v := NewAdminUserView(u, []*Contact{family, private})
	require.Len(t, v.Contacts, 2)
	require.True(t, v.HasPrivateContact())
	require.Equal(t, ContactID("c1"), v.Contacts[0].ID)
	require.True(t, v.Contacts[1].Verified)

	js, err := json.Marshal(v)
	require.NoError(t, err)
	for _, dump := range []string{string(js), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v)} {
		for _, secret := range []string{"hanako.private@example.net", "hanako.private", "+819099990000", "個人用", "母"} {
			require.NotContains(t, dump, secret)
		}
	}
	require.Contains(t, v.Contacts[0].LastError, "550 5.1.1")
	require.Contains(t, string(js), "taro@example.co.jp", "the work email is administrator data")
}

func TestAdminViewScrubsUnforeseenEchoes(t *testing.T) {
	u := validUser()
	phone := &Contact{ID: "p", UserID: u.ID, Kind: PhoneContact, Scope: PrivateScope, Address: "+819087654321",
		Check: ContactCheck{LastError: "21211 invalid 'To' number 090-8765-4321 (sent to other@example.org; token AAAAbbbbCCCCddddEEEEffff)"}}
	st := phone.Status()
	require.NotContains(t, st.LastError, "8765")
	require.NotContains(t, st.LastError, "other@example.org")
	require.NotContains(t, st.LastError, "AAAAbbbb")
	require.Contains(t, st.LastError, "21211 invalid 'To' number")

	bounce := &Contact{ID: "e", UserID: u.ID, Kind: EmailContact, Scope: PrivateScope, Address: "a@example.jp",
		Check: ContactCheck{LastError: "550 5.1.1 mailbox unavailable"}}
	require.Equal(t, "550 5.1.1 mailbox unavailable", bounce.Status().LastError, "short status codes survive")

	work := &Contact{ID: "w", UserID: u.ID, Kind: EmailContact, Scope: WorkScope, Address: "taro@example.co.jp",
		Check: ContactCheck{LastError: "550 5.1.1 <taro@example.co.jp> unknown"}}
	require.Contains(t, work.Status().LastError, "taro@example.co.jp", "the work address is administrator data")
}
