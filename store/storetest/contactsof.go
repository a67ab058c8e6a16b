package storetest

import (
	"fmt"
	"testing"

	"github.com/anpikit/anpi/anpi"
	"github.com/stretchr/testify/require"
)

// testContactsOf checks the bulk read of contacts: each user's contacts as
// Contacts lists them (sorted by ID, addresses included), no entry for a
// user without contacts or unknown, duplicates read once, more users than
// one query of a SQL store binds, and the same inside a transaction.
func testContactsOf(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	const n = 1200 // more than one chunk of bound parameters
	var users []anpi.UserID
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		for i := range n {
			u := newUser(fmt.Sprintf("u%04d", i), fmt.Sprintf("E%04d", i))
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			users = append(users, u.ID)
			if i%3 == 2 {
				continue // no contacts
			}
			if err := tx.PutContact(ctx, contact(fmt.Sprintf("c%04d-b", i), string(u.ID), anpi.EmailContact, anpi.PrivateScope, fmt.Sprintf("m%d@home.example.jp", i))); err != nil {
				return err
			}
			if i%3 == 0 {
				if err := tx.PutContact(ctx, contact(fmt.Sprintf("c%04d-a", i), string(u.ID), anpi.EmailContact, anpi.WorkScope, fmt.Sprintf("w%d@corp.example.jp", i))); err != nil {
					return err
				}
			}
		}
		return nil
	}))

	ask := append(append([]anpi.UserID{"ghost"}, users...), users[0], users[3])
	got, err := st.ContactsOf(ctx, ask)
	require.NoError(t, err)
	require.Len(t, got, n-n/3, "users without contacts, and unknown ones, have no entry")
	for _, i := range []int{0, 1, 2, 3, 600, n - 1} {
		want, err := st.Contacts(ctx, users[i])
		require.NoError(t, err)
		if len(want) == 0 {
			require.NotContains(t, got, users[i])
			continue
		}
		require.Equal(t, want, got[users[i]], "user %s: as Contacts lists them", users[i])
	}
	require.Len(t, got[users[0]], 2, "a user listed twice is read once")
	require.Equal(t, []anpi.ContactID{"c0000-a", "c0000-b"}, ids(got[users[0]], func(c *anpi.Contact) anpi.ContactID { return c.ID }))
	require.NotEmpty(t, got[users[1]][0].Address, "addresses included")

	none, err := st.ContactsOf(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, none)

	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		if err := tx.PutContact(ctx, contact("c0002-a", string(users[2]), anpi.LINEContact, anpi.PrivateScope, "U0123456789abcdef0123456789abcdef")); err != nil {
			return err
		}
		m, err := tx.ContactsOf(ctx, users[:3])
		if err != nil {
			return err
		}
		require.Len(t, m, 3, "a transaction reads its own writes")
		require.Len(t, m[users[2]], 1)
		return nil
	}))
}

// testGetUsers checks the bulk read of users: each as GetUser returns it,
// no entry for an unknown ID, duplicates read once, more IDs than one query
// of a SQL store binds, and the same inside a transaction.
func testGetUsers(t *testing.T, st anpi.Store) {
	ctx := t.Context()
	const n = 1100
	var ids []anpi.UserID
	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		for i := range n {
			u := newUser(fmt.Sprintf("u%04d", i), fmt.Sprintf("E%04d", i))
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		return nil
	}))
	got, err := st.GetUsers(ctx, append(append([]anpi.UserID{"ghost"}, ids...), ids[0]))
	require.NoError(t, err)
	require.Len(t, got, n, "unknown IDs have no entry")
	for _, i := range []int{0, 499, 500, n - 1} {
		want, err := st.GetUser(ctx, ids[i])
		require.NoError(t, err)
		require.Equal(t, want, got[ids[i]])
	}
	none, err := st.GetUsers(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, none)

	require.NoError(t, st.InTx(ctx, func(tx anpi.Tx) error {
		u := newUser("new", "E-new")
		if err := tx.CreateUser(ctx, u); err != nil {
			return err
		}
		m, err := tx.GetUsers(ctx, []anpi.UserID{"new", ids[1]})
		if err != nil {
			return err
		}
		require.Len(t, m, 2, "a transaction reads its own writes")
		require.Equal(t, "E-new", m["new"].EmployeeCode)
		return nil
	}))
}
