package memstore

import (
	"context"
	"slices"

	"github.com/anpikit/anpi/anpi"
)

func (t *tx) userContactList(u anpi.UserID) []*anpi.Contact {
	ids := t.d.userContacts[u]
	out := make([]*anpi.Contact, 0, len(ids))
	for _, id := range ids {
		out = append(out, t.d.contacts[id])
	}
	return out
}

func (t *tx) PutContact(ctx context.Context, c *anpi.Contact) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if c == nil {
		return anpi.Errorf(anpi.InvalidArgument, "memstore: put contact: nil contact")
	}
	if err := c.Validate(); err != nil {
		return wrap("put contact", err)
	}
	if _, ok := t.d.users[c.UserID]; !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: put contact %s: user %s does not exist", c.ID, c.UserID)
	}
	old, replacing := t.d.contacts[c.ID]
	if replacing && old.UserID != c.UserID {
		return anpi.Errorf(anpi.AlreadyExists, "memstore: put contact %s: the id belongs to another user", c.ID)
	}
	if err := anpi.CheckContactLimits(t.userContactList(c.UserID), c); err != nil {
		return wrap("put contact", err)
	}
	n := c.Clone()
	if n.CreatedAt.IsZero() {
		if replacing {
			n.CreatedAt = old.CreatedAt
		} else {
			n.CreatedAt = t.now()
		}
	}
	put(t, t.d.contacts, n.ID, n)
	if !replacing {
		ids := slices.Clone(t.d.userContacts[n.UserID])
		i, _ := slices.BinarySearch(ids, n.ID)
		put(t, t.d.userContacts, n.UserID, slices.Insert(ids, i, n.ID))
	}
	return nil
}

func (t *tx) DeleteContact(ctx context.Context, id anpi.ContactID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	c, ok := t.d.contacts[id]
	if !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: delete contact %s: does not exist", id)
	}
	del(t, t.d.contacts, id)
	ids := slices.DeleteFunc(slices.Clone(t.d.userContacts[c.UserID]), func(x anpi.ContactID) bool { return x == id })
	if len(ids) == 0 {
		del(t, t.d.userContacts, c.UserID)
	} else {
		put(t, t.d.userContacts, c.UserID, ids)
	}
	return nil
}

func (t *tx) GetContact(ctx context.Context, id anpi.ContactID) (*anpi.Contact, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	c, ok := t.d.contacts[id]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: contact %s does not exist", id)
	}
	return c.Clone(), nil
}

func (t *tx) Contacts(ctx context.Context, user anpi.UserID) ([]*anpi.Contact, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if _, ok := t.d.users[user]; !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: contacts of user %s: user does not exist", user)
	}
	out := []*anpi.Contact{}
	for _, c := range t.userContactList(user) {
		out = append(out, c.Clone())
	}
	return out, nil
}

func (t *tx) ContactsOf(ctx context.Context, users []anpi.UserID) (map[anpi.UserID][]*anpi.Contact, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	out := make(map[anpi.UserID][]*anpi.Contact)
	for _, u := range users {
		if _, done := out[u]; done {
			continue
		}
		for _, c := range t.userContactList(u) {
			out[u] = append(out[u], c.Clone())
		}
	}
	return out, nil
}

func (t *tx) RecordContactCheck(ctx context.Context, id anpi.ContactID, check anpi.ContactCheck) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	c, ok := t.d.contacts[id]
	if !ok {
		return anpi.Errorf(anpi.NotFound, "memstore: record check of contact %s: does not exist", id)
	}
	n := c.Clone()
	n.Check = check
	put(t, t.d.contacts, id, n)
	return nil
}

func (t *tx) AdminUserView(ctx context.Context, user anpi.UserID) (*anpi.AdminUserView, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	u, ok := t.d.users[user]
	if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "memstore: admin view of user %s: user does not exist", user)
	}
	return anpi.NewAdminUserView(u, t.userContactList(user)), nil
}
