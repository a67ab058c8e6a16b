package anpi

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// LINEBlocked is the LastError a LINE contact carries while its user has
// blocked the company's LINE official account (see LINEFollowChanged).
const LINEBlocked = "the user blocked the LINE official account (unfollow): LINE delivers nothing to him"

// lineIndexRebuild is the least time between two rebuilds of the index of
// LINE contacts that a miss causes: a LINE user who never linked his
// account misses every time, and a rebuild reads every user's contacts.
const lineIndexRebuild = time.Minute

// lineContacts maps LINE user IDs to the LINE contacts that hold them, for
// the follow and unfollow events of LINE's webhook, which name only the
// LINE user. It is built from every user's contacts on the first event,
// kept up to date by LinkLINE, and rebuilt on a miss at most every
// lineIndexRebuild (a link made by another replica).
type lineContacts struct {
	mu    sync.Mutex
	m     map[string][]ContactID // nil until built
	built time.Time
}

// LINEFollowChanged records that the LINE user lineUserID blocked the
// company's LINE official account (following false: LINE's unfollow event)
// or follows it again (true). LINE accepts a message to a user who blocked
// the account and delivers nothing, so a blocked account would swallow
// every safety check sent to it: his LINE contacts are marked broken, with
// LastError LINEBlocked, and messages go to his other channels; following
// again makes them usable again (it clears only a break this recorded). It
// returns how many contacts changed; none is not an error (a LINE user who
// never linked his account, or one linked by another replica less than
// lineIndexRebuild ago). Each change is audited (contact.line_blocked,
// contact.line_followed).
func (s *Service) LINEFollowChanged(ctx context.Context, lineUserID string, following bool) (int, error) {
	if lineUserID == "" {
		return 0, Errorf(InvalidArgument, "anpi: LINE follow change: the LINE user is empty")
	}
	ids, err := s.lineContactsOf(ctx, lineUserID)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	now := s.now()
	changed := 0
	err = s.st.InTx(ctx, func(tx Tx) error {
		changed = 0
		for _, id := range ids {
			c, err := tx.GetContact(ctx, id)
			if Code(err) == NotFound {
				continue // deleted since
			}
			if err != nil {
				return err
			}
			if c.Kind != LINEContact || c.Address != lineUserID {
				continue // relinked since
			}
			ck, action := c.Check, "contact.line_followed"
			switch {
			case !following && !(ck.Broken && ck.LastError == LINEBlocked):
				ck.Broken, ck.LastError, ck.LastErrorAt, action = true, LINEBlocked, now, "contact.line_blocked"
			case following && ck.Broken && ck.LastError == LINEBlocked:
				ck.Broken, ck.LastError, ck.LastErrorAt = false, "", time.Time{}
			default:
				continue
			}
			ck.LastChecked = now
			if err := tx.RecordContactCheck(ctx, id, ck); err != nil {
				return err
			}
			s.contactsChanged()
			if _, err := tx.AppendAudit(ctx, &AuditEntry{At: now, Actor: c.UserID, Action: action, TargetKind: "contact", TargetID: string(id),
				Detail: fmt.Sprintf("LINE user %s", LINEUserRef(lineUserID))}); err != nil {
				return err
			}
			changed++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("anpi: LINE follow change of %s: %w", LINEUserRef(lineUserID), err)
	}
	return changed, nil
}

// lineContactsOf returns the contacts that hold LINE user lineUserID, from
// the index, built or rebuilt as lineContacts says.
func (s *Service) lineContactsOf(ctx context.Context, lineUserID string) ([]ContactID, error) {
	x := &s.lineIx
	x.mu.Lock()
	ids, built, at := x.m[lineUserID], x.m != nil, x.built
	x.mu.Unlock()
	now := s.now()
	if len(ids) > 0 || (built && now.Sub(at) < lineIndexRebuild && !now.Before(at)) {
		return ids, nil
	}
	m, err := s.buildLINEIndex(ctx)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	x.m, x.built = m, now
	x.mu.Unlock()
	return m[lineUserID], nil
}

// buildLINEIndex reads every user's contacts and maps the LINE ones.
func (s *Service) buildLINEIndex(ctx context.Context) (map[string][]ContactID, error) {
	users, err := s.st.ListUsers(ctx, nil)
	if err != nil {
		return nil, err
	}
	ids := make([]UserID, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	contacts, err := s.st.ContactsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	m := map[string][]ContactID{}
	for _, cs := range contacts {
		for _, c := range cs {
			if c.Kind == LINEContact && c.Address != "" {
				m[c.Address] = append(m[c.Address], c.ID)
			}
		}
	}
	return m, nil
}

// lineLinked records in the index, when it is built, that contact id now
// holds LINE user lineUserID (LinkLINE).
func (s *Service) lineLinked(id ContactID, lineUserID string) {
	x := &s.lineIx
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.m == nil {
		return
	}
	for k, ids := range x.m { // a relink moves the contact to another LINE user
		for i, c := range ids {
			if c == id {
				x.m[k] = append(ids[:i:i], ids[i+1:]...)
				break
			}
		}
	}
	x.m[lineUserID] = append(x.m[lineUserID], id)
}
