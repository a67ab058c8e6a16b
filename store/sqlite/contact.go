package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/anpikit/anpi/anpi"
)

// contactData is the part of a contact kept in the data column: sealed as
// a whole for private and family contacts, since a bounce message in the
// check state may quote the address.
type contactData struct {
	Address   string            `json:"address"`
	Label     string            `json:"label,omitempty"`
	Check     anpi.ContactCheck `json:"check"`
	CreatedAt time.Time         `json:"createdAt"`
}

// sealedScope reports whether contacts of scope are sealed at rest.
func sealedScope(s anpi.ContactScope) bool { return s != anpi.WorkScope }

// sealContact encodes c's data column: sealed with the contact ID as
// additional data when c is private and the store has a Sealer.
func (s *Store) sealContact(op string, c *anpi.Contact) (data []byte, sealed bool, err error) {
	data, err = encode(op, contactData{Address: c.Address, Label: c.Label, Check: c.Check, CreatedAt: utc(c.CreatedAt)})
	if err != nil {
		return nil, false, err
	}
	if !sealedScope(c.Scope) {
		return data, false, nil
	}
	if s.sealer == nil {
		if !s.plain {
			return nil, false, anpi.Errorf(anpi.FailedPrecondition, "sqlite: %s: no Sealer to seal private contact %s", op, c.ID)
		}
		return data, false, nil
	}
	out, err := s.sealer.Seal(data, []byte(c.ID))
	if err != nil {
		return nil, false, anpi.Errorf(anpi.Code(err), "sqlite: %s: seal contact %s: %w", op, c.ID, err)
	}
	return out, true, nil
}

// openContact decodes a contact row.
func (s *Store) openContact(op, id, user, kind, scope string, sealed bool, data []byte) (*anpi.Contact, error) {
	if sealed {
		if s.sealer == nil {
			return nil, anpi.Errorf(anpi.FailedPrecondition, "sqlite: %s: contact %s is sealed and the store has no Sealer", op, id)
		}
		plain, err := s.sealer.Open(data, []byte(id))
		if err != nil {
			return nil, anpi.Errorf(anpi.FailedPrecondition, "sqlite: %s: open sealed contact %s: %w", op, id, err)
		}
		data = plain
	}
	var cd contactData
	if err := decode(op, data, &cd); err != nil {
		return nil, err
	}
	return &anpi.Contact{
		ID:        anpi.ContactID(id),
		UserID:    anpi.UserID(user),
		Kind:      anpi.ContactKind(kind),
		Scope:     anpi.ContactScope(scope),
		Address:   cd.Address,
		Label:     cd.Label,
		Check:     cd.Check,
		CreatedAt: cd.CreatedAt,
	}, nil
}

const contactCols = "id, user_id, kind, scope, sealed, data"

func (t *tx) contacts(ctx context.Context, op, where string, args ...any) ([]*anpi.Contact, error) {
	rows, err := t.q.QueryContext(ctx, "SELECT "+contactCols+" FROM contacts WHERE "+where+" ORDER BY id", args...)
	if err != nil {
		return nil, classify(op, err)
	}
	defer rows.Close()
	out := []*anpi.Contact{}
	for rows.Next() {
		var id, user, kind, scope string
		var sealed bool
		var data []byte
		if err := rows.Scan(&id, &user, &kind, &scope, &sealed, &data); err != nil {
			return nil, classify(op, err)
		}
		c, err := t.s.openContact(op, id, user, kind, scope, sealed, data)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}

func (t *tx) getContact(ctx context.Context, op string, id anpi.ContactID) (*anpi.Contact, error) {
	cs, err := t.contacts(ctx, op, "id = ?", string(id))
	if err != nil || len(cs) == 0 {
		return nil, err
	}
	return cs[0], nil
}

func (t *tx) putContactRow(ctx context.Context, op string, c *anpi.Contact) error {
	data, sealed, err := t.s.sealContact(op, c)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, op, "INSERT OR REPLACE INTO contacts ("+contactCols+") VALUES (?, ?, ?, ?, ?, ?)",
		string(c.ID), string(c.UserID), string(c.Kind), string(c.Scope), sealed, data)
	return err
}

func (t *tx) PutContact(ctx context.Context, c *anpi.Contact) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	if c == nil {
		return anpi.Errorf(anpi.InvalidArgument, "sqlite: put contact: nil contact")
	}
	if err := c.Validate(); err != nil {
		return wrap("put contact", err)
	}
	op := "put contact " + string(c.ID)
	if ok, err := t.userExists(ctx, op, c.UserID); err != nil {
		return err
	} else if !ok {
		return anpi.Errorf(anpi.NotFound, "sqlite: put contact %s: user %s does not exist", c.ID, c.UserID)
	}
	old, err := t.getContact(ctx, op, c.ID)
	if err != nil {
		return err
	}
	if old != nil && old.UserID != c.UserID {
		return anpi.Errorf(anpi.AlreadyExists, "sqlite: put contact %s: the id belongs to another user", c.ID)
	}
	existing, err := t.contacts(ctx, op, "user_id = ?", string(c.UserID))
	if err != nil {
		return err
	}
	if err := anpi.CheckContactLimits(existing, c); err != nil {
		return wrap("put contact", err)
	}
	n := c.Clone()
	n.CreatedAt = utc(n.CreatedAt)
	if n.CreatedAt.IsZero() {
		if old != nil {
			n.CreatedAt = old.CreatedAt
		} else {
			n.CreatedAt = t.now()
		}
	}
	return t.putContactRow(ctx, op, n)
}

func (t *tx) DeleteContact(ctx context.Context, id anpi.ContactID) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	res, err := t.exec(ctx, "delete contact", "DELETE FROM contacts WHERE id = ?", string(id))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return anpi.Errorf(anpi.NotFound, "sqlite: delete contact %s: does not exist", id)
	}
	return nil
}

func (t *tx) GetContact(ctx context.Context, id anpi.ContactID) (*anpi.Contact, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	c, err := t.getContact(ctx, "get contact", id)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: contact %s does not exist", id)
	}
	return c, nil
}

func (t *tx) Contacts(ctx context.Context, user anpi.UserID) ([]*anpi.Contact, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	if ok, err := t.userExists(ctx, "contacts", user); err != nil {
		return nil, err
	} else if !ok {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: contacts of user %s: user does not exist", user)
	}
	return t.contacts(ctx, "contacts of user "+string(user), "user_id = ?", string(user))
}

// inJSON is the condition that col is one of the values of a JSON array
// bound as one parameter: one statement (prepared once) whatever the
// number of values, where an IN list of placeholders made a statement, and
// a prepare, per length.
func inJSON(col string) string { return col + " IN (SELECT value FROM json_each(?))" }

// contactsOfChunk is how many user IDs one query of ContactsOf binds: well
// under SQLite's limit of bound parameters.
const contactsOfChunk = 500

func (t *tx) ContactsOf(ctx context.Context, users []anpi.UserID) (map[anpi.UserID][]*anpi.Contact, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	out := make(map[anpi.UserID][]*anpi.Contact)
	ids := make([]string, 0, len(users))
	seen := make(map[anpi.UserID]bool, len(users))
	for _, u := range users {
		if !seen[u] {
			seen[u] = true
			ids = append(ids, string(u))
		}
	}
	op := fmt.Sprintf("contacts of %d users", len(ids))
	for lo := 0; lo < len(ids); lo += contactsOfChunk {
		list, err := encode(op, ids[lo:min(lo+contactsOfChunk, len(ids))])
		if err != nil {
			return nil, err
		}
		cs, err := t.contacts(ctx, op, inJSON("user_id"), string(list))
		if err != nil {
			return nil, err
		}
		for _, c := range cs { // sorted by ID, so each user's are too
			out[c.UserID] = append(out[c.UserID], c)
		}
	}
	return out, nil
}

func (t *tx) RecordContactCheck(ctx context.Context, id anpi.ContactID, check anpi.ContactCheck) error {
	if err := t.beginWrite(ctx); err != nil {
		return err
	}
	op := "record check of contact " + string(id)
	c, err := t.getContact(ctx, op, id)
	if err != nil {
		return err
	}
	if c == nil {
		return anpi.Errorf(anpi.NotFound, "sqlite: record check of contact %s: does not exist", id)
	}
	c.Check = check
	return t.putContactRow(ctx, op, c)
}

func (t *tx) AdminUserView(ctx context.Context, user anpi.UserID) (*anpi.AdminUserView, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	u, err := t.getUser(ctx, "admin view", user)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, anpi.Errorf(anpi.NotFound, "sqlite: admin view of user %s: user does not exist", user)
	}
	cs, err := t.contacts(ctx, "admin view of user "+string(user), "user_id = ?", string(user))
	if err != nil {
		return nil, err
	}
	return anpi.NewAdminUserView(u, cs), nil
}

// RotateSealed re-seals, with the Sealer's current key, every private
// contact sealed with an older key (and seals private contacts stored in
// the clear before a Sealer was configured). It works in transactions of
// batch rows (default 500 when batch ≤ 0), so a large directory does not
// hold the writer for long, and returns how many contacts it re-sealed. It
// can be interrupted and run again.
func (s *Store) RotateSealed(ctx context.Context, batch int) (n int, err error) {
	if s.sealer == nil {
		return 0, anpi.Errorf(anpi.FailedPrecondition, "sqlite: rotate sealed contacts: the store has no Sealer")
	}
	if batch <= 0 {
		batch = 500
	}
	after := ""
	for {
		var done bool
		k := 0
		err := s.update(ctx, func(t *tx) error {
			rows, err := t.q.QueryContext(ctx, "SELECT "+contactCols+" FROM contacts WHERE id > ? AND scope <> ? ORDER BY id LIMIT ?", after, string(anpi.WorkScope), batch)
			if err != nil {
				return classify("rotate sealed contacts", err)
			}
			type row struct {
				id, user, kind, scope string
				sealed                bool
				data                  []byte
			}
			var rs []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.id, &r.user, &r.kind, &r.scope, &r.sealed, &r.data); err != nil {
					rows.Close()
					return classify("rotate sealed contacts", err)
				}
				rs = append(rs, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return classify("rotate sealed contacts", err)
			}
			done = len(rs) < batch
			k = 0
			for _, r := range rs {
				after = r.id
				if r.sealed && !s.sealer.Stale(r.data) {
					continue
				}
				c, err := s.openContact("rotate sealed contacts", r.id, r.user, r.kind, r.scope, r.sealed, r.data)
				if err != nil {
					return err
				}
				if err := t.putContactRow(ctx, "rotate sealed contacts", c); err != nil {
					return err
				}
				k++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
		n += k
		if done {
			return n, nil
		}
	}
}
